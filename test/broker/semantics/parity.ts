/**
 * Transport parity: what differed between the embedded client and the network SDK, each case
 * checked on both (test/broker/embedded.parity.test.ts, test/server/tcp.parity.test.ts).
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { isWeirError, type PublishOptions } from '../../../src/protocol/index.js';
import {
  eventually,
  expectNothing,
  publishMany,
  receiveN,
  rejectsWith,
  WAIT_MS,
  withBroker,
  type HarnessFactory,
} from './harness.js';

export function paritySuite(factory: HarnessFactory): void {
  describe('transport parity', () => {
    test("nack, term and extend of an ack: 'none' delivery are MESSAGE_SETTLED; ack is a no-op", () =>
      withBroker(factory, async ({ client }) => {
        await client.streams.create('metrics', { subjects: ['metrics'], fsync: 'never' });
        const subscription = await client.subscribe('metrics', {
          subscription: 'm',
          ack: 'none',
        });
        await client.publish('metrics', 'v');
        const message = await subscription.receive({ timeoutMs: WAIT_MS });
        assert.ok(message);
        await rejectsWith(message.nack(), 'MESSAGE_SETTLED');
        await rejectsWith(message.term('no'), 'MESSAGE_SETTLED');
        await rejectsWith(message.extend(1000), 'MESSAGE_SETTLED');
        await message.ack();
        await subscription.close();
      }));

    test('timeoutMs is not a publish option: INVALID_ARGUMENT, nothing stored', () =>
      withBroker(factory, async ({ client }) => {
        await client.streams.create('events', { subjects: ['events.>'], fsync: 'never' });
        const options = { timeoutMs: 1000 } as unknown as PublishOptions;
        await rejectsWith(client.publish('events.a', 'x', options), 'INVALID_ARGUMENT');
        assert.equal((await client.streams.info('events')).messages, 0);
      }));

    test('publishBatch resolves with each entry’s receipt or error, in order', () =>
      withBroker(factory, async ({ client }) => {
        await client.streams.create('events', { subjects: ['events.>'], fsync: 'never' });
        const outcomes = await client.publishBatch([
          { subject: 'events.a', body: 'one' },
          { subject: 'nowhere', body: 'lost' },
          { subject: 'events.b', body: 'two', options: { key: 'k' } },
          { subject: 'events.c', body: 'three', options: { confirm: false } },
        ]);
        assert.equal(outcomes.length, 4);
        const [first, refused, second, unconfirmed] = outcomes;
        assert.ok(first && !isWeirError(first));
        assert.equal(first.stream, 'events');
        assert.ok(isWeirError(refused));
        assert.equal(refused.code, 'NO_ROUTE');
        assert.ok(second && !isWeirError(second));
        assert.equal(second.stream, 'events');
        assert.ok(second.offset > first.offset || second.partition !== first.partition);
        assert.ok(unconfirmed && !isWeirError(unconfirmed));
        assert.equal(unconfirmed.stream, '');
        assert.deepEqual(await client.publishBatch([]), []);
      }));

    test("closing an ack: 'none' consumer hands back what the application never took", () =>
      withBroker(factory, async ({ client, connect }) => {
        await client.streams.create('metrics', { subjects: ['metrics'], fsync: 'never' });
        const leaving = await client.subscribe('metrics', {
          subscription: 'm',
          ack: 'none',
          maxInFlight: 10,
        });
        await publishMany(client, 'metrics', 5);
        const [taken] = await receiveN(leaving, 1);
        assert.equal(taken!.text(), 'm0');
        // The other four wait in the consumer's buffer (embedded) or the SDK's (TCP), unsettled.
        await eventually(
          async () => (await client.subscriptions.info('metrics', 'm')).inFlight === 4,
          undefined,
          'four buffered, unsettled',
        );
        await leaving.close();
        const other = await connect();
        const staying = await other.subscribe('metrics', { subscription: 'm', ack: 'none' });
        const rest = await receiveN(staying, 4);
        assert.deepEqual(
          rest.map((message) => message.text()),
          ['m1', 'm2', 'm3', 'm4'],
        );
        for (const message of rest) assert.equal(message.deliveryCount, 1, message.text());
        await expectNothing(staying);
        const info = await client.subscriptions.info('metrics', 'm');
        assert.equal(info.acked, 5);
        assert.equal(info.inFlight, 0);
        assert.equal(info.redelivered, 0);
      }));

    test("client.close() right after receive: an ack: 'none' message taken is not delivered again", () =>
      withBroker(factory, async ({ client, connect }) => {
        await client.streams.create('metrics', { subjects: ['metrics'], fsync: 'never' });
        const closing = await connect();
        const leaving = await closing.subscribe('metrics', {
          subscription: 'm',
          ack: 'none',
          maxInFlight: 10,
        });
        await publishMany(client, 'metrics', 3);
        await eventually(
          async () => (await client.subscriptions.info('metrics', 'm')).inFlight === 3,
          undefined,
          'three buffered',
        );
        const [taken] = await receiveN(leaving, 1);
        assert.equal(taken!.text(), 'm0');
        await closing.close(); // no tick between: over TCP the take is still queued in the SDK
        const staying = await client.subscribe('metrics', { subscription: 'm', ack: 'none' });
        const rest = await receiveN(staying, 2);
        assert.deepEqual(
          rest.map((message) => message.text()),
          ['m1', 'm2'],
        );
        await expectNothing(staying);
      }));

    test('client.close() right after receive and ack: the ack is recorded, the taken one counts', () =>
      withBroker(factory, async ({ client, clock, connect }) => {
        await client.streams.create('tasks', { subjects: ['tasks'] });
        const closing = await connect();
        const leaving = await closing.subscribe('tasks', {
          subscription: 'w',
          maxInFlight: 10,
          backoff: [1000],
        });
        await publishMany(client, 'tasks', 3);
        const [acked, kept] = await receiveN(leaving, 2);
        assert.equal(acked!.text(), 'm0');
        assert.equal(kept!.text(), 'm1');
        const ack = acked!.ack(); // not awaited: still queued in the SDK over TCP
        await closing.close();
        await ack;
        const staying = await client.subscribe('tasks', { subscription: 'w' });
        // The one never taken comes back at once, uncounted.
        const [untaken] = await receiveN(staying, 1);
        assert.equal(untaken!.text(), 'm2');
        assert.equal(untaken!.deliveryCount, 1);
        await untaken!.ack();
        await expectNothing(staying);
        // The one taken and not settled failed as a nack would: back after the backoff.
        clock.advance(1000);
        const [again] = await receiveN(staying, 1);
        assert.equal(again!.text(), 'm1');
        assert.equal(again!.deliveryCount, 2);
        await again!.ack();
        await expectNothing(staying);
      }));
  });
}
