/** Ack policy and leases: ack is final, leases expire and redeliver, extend, backpressure. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { BACKOFF_INITIAL_MS_DEFAULT } from '../../../src/limits.js';
import {
  eventually,
  expectNothing,
  receiveN,
  rejectsWith,
  withBroker,
  type HarnessFactory,
} from './harness.js';

export function acksLeasesSuite(factory: HarnessFactory): void {
  describe('acks and leases', () => {
    test('an acked message is never delivered again; an unacked one is after its lease', () =>
      withBroker(factory, async ({ client, clock }) => {
        await client.streams.create('tasks', { subjects: ['tasks'] });
        const subscription = await client.subscribe('tasks', { subscription: 'w', leaseMs: 100 });
        await client.publish('tasks', 'acked');
        await client.publish('tasks', 'dropped');
        const [acked, dropped] = await receiveN(subscription, 2);
        await acked!.ack();
        assert.equal(dropped!.deliveryCount, 1);
        clock.advance(99);
        await expectNothing(subscription, 50); // the lease still holds
        // The lease of `dropped` expires: it comes back after the default backoff's first delay.
        clock.advance(1);
        clock.advance(BACKOFF_INITIAL_MS_DEFAULT);
        const [again] = await receiveN(subscription, 1);
        assert.equal(again!.text(), 'dropped');
        assert.equal(again!.deliveryCount, 2);
        assert.equal(again!.offset, dropped!.offset);
        await again!.ack();
        clock.advance(10 * (100 + BACKOFF_INITIAL_MS_DEFAULT)); // many leases and backoffs
        await expectNothing(subscription);
        const info = await client.subscriptions.info('tasks', 'w');
        assert.equal(info.acked, 2);
        assert.equal(info.redelivered, 1);
        assert.equal(info.pending, 0);
      }));

    test('a settlement of a delivery whose lease passed to another consumer is MESSAGE_SETTLED', () =>
      withBroker(factory, async ({ client, connect }) => {
        await client.streams.create('tasks', { subjects: ['tasks'] });
        const slow = await client.subscribe('tasks', {
          subscription: 'w',
          leaseMs: 50,
          backoff: [0],
        });
        await client.publish('tasks', 'job');
        const [first] = await receiveN(slow, 1);
        await slow.close(); // hands the lease back at once
        const other = await connect();
        const fast = await other.subscribe('tasks', { subscription: 'w' });
        const [second] = await receiveN(fast, 1);
        assert.equal(second!.deliveryCount, 2);
        await rejectsWith(first!.ack(), 'MESSAGE_SETTLED');
        await rejectsWith(first!.nack(), 'MESSAGE_SETTLED');
        await second!.ack();
        await second!.ack(); // acking twice is not an error
      }));

    test('extend keeps a long job alive past its lease', () =>
      withBroker(factory, async ({ client, clock }) => {
        await client.streams.create('tasks', { subjects: ['tasks'] });
        const subscription = await client.subscribe('tasks', {
          subscription: 'w',
          leaseMs: 150,
          backoff: [0],
        });
        await client.publish('tasks', 'long job');
        const [message] = await receiveN(subscription, 1);
        for (let step = 0; step < 4; step++) {
          clock.advance(80);
          await message!.extend(150);
        }
        clock.advance(140);
        // 460 ms in, past three leases of 150 ms: still ours, never redelivered.
        await expectNothing(subscription);
        await message!.ack();
        assert.equal((await client.subscriptions.info('tasks', 'w')).redelivered, 0);
      }));

    test("ack: 'none' is at-most-once: nothing is redelivered", () =>
      withBroker(factory, async ({ client, clock }) => {
        await client.streams.create('metrics', { subjects: ['metrics'] });
        const subscription = await client.subscribe('metrics', {
          subscription: 'm',
          ack: 'none',
          leaseMs: 50,
        });
        for (let index = 0; index < 3; index++) await client.publish('metrics', `v${index}`);
        const messages = await receiveN(subscription, 3);
        assert.deepEqual(
          messages.map((message) => message.text()),
          ['v0', 'v1', 'v2'],
        );
        clock.advance(10 * (50 + BACKOFF_INITIAL_MS_DEFAULT)); // many leases and backoffs
        await expectNothing(subscription);
        assert.equal((await client.subscriptions.info('metrics', 'm')).pending, 0);
      }));

    test("ack: 'none' has no lease: a delivery a consumer has not taken yet stays with it", () =>
      withBroker(factory, async ({ client, connect, clock }) => {
        await client.streams.create('metrics', { subjects: ['metrics'], fsync: 'never' });
        const first = await client.subscribe('metrics', {
          subscription: 'm',
          ack: 'none',
          leaseMs: 50,
          maxInFlight: 1,
        });
        await client.publish('metrics', 'only');
        await eventually(
          async () => (await client.subscriptions.info('metrics', 'm')).delivered === 1,
          undefined,
          'the delivery went out to `first`',
        );
        clock.advance(200); // four leases of 50 ms go by while the message waits, not taken
        const other = await connect();
        const second = await other.subscribe('metrics', { subscription: 'm', ack: 'none' });
        clock.advance(200);
        await expectNothing(second);
        const [message] = await receiveN(first, 1);
        assert.equal(message!.text(), 'only');
        assert.equal(message!.deliveryCount, 1);
        assert.equal((await client.subscriptions.info('metrics', 'm')).redelivered, 0);
      }));

    test('maxInFlight bounds unsettled deliveries per consumer (backpressure)', () =>
      withBroker(factory, async ({ client }) => {
        await client.streams.create('tasks', { subjects: ['tasks'], fsync: 'never' });
        const subscription = await client.subscribe('tasks', { subscription: 'w', maxInFlight: 3 });
        for (let index = 0; index < 10; index++) await client.publish('tasks', `t${index}`);
        const first = await receiveN(subscription, 3);
        await expectNothing(subscription);
        assert.equal((await client.subscriptions.info('tasks', 'w')).inFlight, 3);
        await first[0]!.ack();
        const [next] = await receiveN(subscription, 1);
        assert.equal(next!.text(), 't3');
        await expectNothing(subscription);
      }));

    test('closing a consumer, or its client, hands its taken leases back after the backoff', () =>
      withBroker(factory, async ({ client, clock, connect }) => {
        await client.streams.create('tasks', { subjects: ['tasks'] });
        const other = await connect();
        const leaving = await other.subscribe('tasks', { subscription: 'w' });
        for (let index = 0; index < 3; index++) await client.publish('tasks', `t${index}`);
        const taken = await receiveN(leaving, 3);
        // Answered once the broker applied the takes (over TCP they go ahead of these settles):
        // a take the broker never heard of would send the message back uncounted.
        await Promise.all(taken.map((message) => message.extend()));
        await other.close();
        assert.equal(await leaving.receive({ timeoutMs: 10 }), null);
        const staying = await client.subscribe('tasks', { subscription: 'w' });
        // Taken and unsettled: they failed as a nack would, so the backoff applies.
        clock.advance(BACKOFF_INITIAL_MS_DEFAULT);
        const again = await receiveN(staying, 3, 1000);
        assert.deepEqual(
          again.map((message) => [message.text(), message.deliveryCount]),
          [
            ['t0', 2],
            ['t1', 2],
            ['t2', 2],
          ],
        );
      }));

    test('the iterator yields messages and ends when the consumer closes', () =>
      withBroker(factory, async ({ client }) => {
        await client.streams.create('tasks', { subjects: ['tasks'] });
        const subscription = await client.subscribe('tasks', { subscription: 'w' });
        for (let index = 0; index < 3; index++) await client.publish('tasks', `t${index}`);
        const seen: string[] = [];
        for await (const message of subscription) {
          seen.push(message.text());
          await message.ack();
          if (seen.length === 3) break;
        }
        assert.deepEqual(seen, ['t0', 't1', 't2']);
        assert.equal(subscription.closed, true);
      }));
  });
}
