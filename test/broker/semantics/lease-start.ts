/**
 * When a lease starts and what a leaving consumer hands back: a lease runs from when the
 * application receives a message, not from when it enters the prefetch buffer; a message the
 * application never received goes back at once, uncounted; one it received and did not settle
 * goes back after the backoff delay, counted (dead-lettered at maxDeliveries).
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  eventually,
  expectNothing,
  publishMany,
  receiveN,
  withBroker,
  type HarnessFactory,
} from './harness.js';

export function leaseStartSuite(factory: HarnessFactory): void {
  describe('lease start and leaving consumers', () => {
    test('buffered messages hold no lease: only the one the app took is redelivered', () =>
      withBroker(factory, async ({ client, clock }) => {
        await client.streams.create('tasks', { subjects: ['tasks'] });
        await client.streams.create('dead', { subjects: ['dead.>'] });
        const subscription = await client.subscribe('tasks', {
          subscription: 'w',
          maxInFlight: 100,
          leaseMs: 1000,
          maxDeliveries: 2,
          deadLetter: 'dead.tasks',
          backoff: [0],
        });
        await publishMany(client, 'tasks', 100);
        const [taken] = await receiveN(subscription, 1);
        assert.equal(taken!.deliveryCount, 1);
        // Every message reached the consumer's buffer (embedded) or the SDK's (TCP).
        await eventually(
          async () => (await client.subscriptions.info('tasks', 'w')).inFlight === 100,
          undefined,
          'all 100 in flight',
        );
        for (let step = 0; step < 50; step++) {
          clock.advance(100);
          await new Promise((resolve) => setImmediate(resolve));
        }
        const rest = await receiveN(subscription, 100);
        const again = rest.filter((message) => message.offset === taken!.offset);
        assert.equal(again.length, 1, 'the taken one came back once, after its lease');
        assert.equal(again[0]!.deliveryCount, 2);
        const others = rest.filter((message) => message.offset !== taken!.offset);
        assert.equal(others.length, 99);
        for (const message of others) assert.equal(message.deliveryCount, 1, message.text());
        const info = await client.subscriptions.info('tasks', 'w');
        assert.equal(info.deadLettered, 0);
        assert.equal(info.redelivered, 1);
        assert.equal((await client.deadLetters.list('dead.tasks')).length, 0);
        for (const message of rest) await message.ack();
      }));

    test('a consumer that closes holding untaken messages: another gets them at once, count 1', () =>
      withBroker(factory, async ({ client, clock, connect }) => {
        await client.streams.create('tasks', { subjects: ['tasks'] });
        const leaving = await client.subscribe('tasks', {
          subscription: 'w',
          maxInFlight: 10,
          backoff: [1000],
        });
        await publishMany(client, 'tasks', 5);
        await eventually(
          async () => (await client.subscriptions.info('tasks', 'w')).inFlight === 5,
          undefined,
          'all 5 in flight',
        );
        await leaving.close();
        const other = await connect();
        const staying = await other.subscribe('tasks', { subscription: 'w' });
        const messages = await receiveN(staying, 5); // no clock advance: at once
        for (const message of messages) assert.equal(message.deliveryCount, 1, message.text());
        const info = await client.subscriptions.info('tasks', 'w');
        assert.equal(info.redelivered, 0);
        assert.equal(info.delayed, 0);
        for (const message of messages) await message.ack();
        clock.advance(1000);
        await expectNothing(staying);
      }));

    test('a consumer that leaves holding a taken message: it comes back after the backoff, counted', () =>
      withBroker(factory, async ({ client, clock, connect }) => {
        await client.streams.create('tasks', { subjects: ['tasks'] });
        const crashing = await connect();
        const leaving = await crashing.subscribe('tasks', {
          subscription: 'w',
          backoff: [1000],
          leaseMs: 60_000,
        });
        await client.publish('tasks', 'poison');
        const [first] = await receiveN(leaving, 1);
        assert.equal(first!.deliveryCount, 1);
        // Over TCP the take travels ahead of this settle: once it is answered the broker knows
        // the application took the message (a take still queued when the client dies is lost,
        // and the message goes back uncounted, as one never received).
        await first!.extend(60_000);
        await crashing.close(); // the worker goes away with the message unsettled
        const staying = await client.subscribe('tasks', { subscription: 'w' });
        await eventually(
          async () => (await client.subscriptions.info('tasks', 'w')).consumers === 1,
          undefined,
          'the crashed consumer is gone',
        );
        await expectNothing(staying);
        clock.advance(999);
        await expectNothing(staying);
        clock.advance(1);
        const [again] = await receiveN(staying, 1);
        assert.equal(again!.text(), 'poison');
        assert.equal(again!.deliveryCount, 2);
        await again!.ack();
      }));

    test('a consumer that leaves holding a taken message at maxDeliveries: it is dead-lettered', () =>
      withBroker(factory, async ({ client, clock, connect }) => {
        await client.streams.create('tasks', { subjects: ['tasks'] });
        await client.streams.create('dead', { subjects: ['dead.>'] });
        const crashing = await connect();
        const leaving = await crashing.subscribe('tasks', {
          subscription: 'w',
          backoff: [1000],
          maxDeliveries: 1,
          deadLetter: 'dead.tasks',
        });
        await client.publish('tasks', 'poison');
        const [first] = await receiveN(leaving, 1);
        assert.equal(first!.deliveryCount, 1);
        // Over TCP the take travels ahead of this settle: once it is answered the broker knows
        // the application took the message (a take still queued when the client dies is lost,
        // and the message goes back uncounted, as one never received).
        await first!.extend(60_000);
        await crashing.close();
        const staying = await client.subscribe('tasks', { subscription: 'w' });
        clock.advance(1000);
        await eventually(
          async () => (await client.deadLetters.list('dead.tasks')).length === 1,
          undefined,
          'dead-lettered',
        );
        const [dead] = await client.deadLetters.list('dead.tasks');
        assert.equal(dead!.reason, 'max-deliveries');
        assert.equal(dead!.error, 'consumer left');
        assert.equal(dead!.deliveries, 1);
        await expectNothing(staying);
      }));
  });
}
