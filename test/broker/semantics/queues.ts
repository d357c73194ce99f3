/**
 * `client.queue(name)`: a work-queue stream with one shared durable subscription, built from
 * existing calls, the same embedded and over TCP.
 */
import assert from 'node:assert/strict';
import type { Message } from '../../../src/protocol/index.js';
import { describe, test } from 'node:test';
import {
  advanceUntil,
  eventually,
  expectNothing,
  receiveN,
  rejectsWith,
  withBroker,
  type HarnessFactory,
} from './harness.js';

export function queuesSuite(factory: HarnessFactory): void {
  describe('queues', () => {
    test('queue() creates a work-queue stream capturing name and name.> with one shared subscription, idempotently', () =>
      withBroker(factory, async ({ client }) => {
        const tasks = await client.queue('tasks', { fsync: 'never', maxDeliveries: 3 });
        assert.equal(tasks.name, 'tasks');
        const again = await client.queue('tasks');
        const stream = await client.streams.info('tasks');
        assert.equal(stream.config.retention, 'work-queue');
        assert.deepEqual(stream.config.subjects, ['tasks', 'tasks.>']);
        assert.deepEqual(stream.subscriptions, ['tasks']);
        const subscription = await client.subscriptions.info('tasks', 'tasks');
        assert.equal(subscription.durable, true);
        assert.equal(subscription.config.mode, 'shared');
        assert.equal(subscription.config.maxDeliveries, 3);
        // The same options again are not an error; different ones are.
        await client.queue('tasks', { fsync: 'never', maxDeliveries: 3 });
        await rejectsWith(client.queue('tasks', { partitions: 2 }), 'STREAM_EXISTS');
        await rejectsWith(
          client.queue('tasks', { fsync: 'never', maxDeliveries: 5 }),
          'SUBSCRIPTION_EXISTS',
        );
        // Only subscription options: the stream is taken as it is (fsync never here).
        await client.queue('tasks', { maxDeliveries: 3 });
        assert.equal((await again.info()).consumers, 0);
      }));

    test('a message published before any worker waits for one, and goes once acked', () =>
      withBroker(factory, async ({ client }) => {
        const tasks = await client.queue('jobs', { fsync: 'never' });
        const receipt = await tasks.publish({ job: 1 });
        assert.equal(receipt.stream, 'jobs');
        await client.publish('jobs.email', 'also mine');
        assert.equal((await tasks.info()).messages, 2);
        const worker = await tasks.consume();
        const [first, second] = await receiveN(worker, 2);
        assert.deepEqual(first!.json(), { job: 1 });
        assert.equal(second!.subject, 'jobs.email');
        assert.equal((await tasks.info()).inFlight, 2);
        await first!.ack();
        await second!.ack();
        await eventually(async () => (await tasks.info()).messages === 0, undefined, 'queue empty');
        const info = await tasks.info();
        assert.equal(info.pending, 0);
        assert.equal(info.inFlight, 0);
        assert.equal(info.consumers, 1);
        await worker.close();
      }));

    test('workers compete: each message goes to one of them; a nack comes back to the queue', () =>
      withBroker(factory, async ({ client, connect, clock }) => {
        const tasks = await client.queue('work', { fsync: 'never', backoff: [10] });
        const other = await (await connect()).queue('work');
        const one = await tasks.consume({ maxInFlight: 1 });
        const two = await other.consume({ maxInFlight: 1 });
        await tasks.publish('a');
        await tasks.publish('b');
        const [fromOne] = await receiveN(one, 1);
        const [fromTwo] = await receiveN(two, 1);
        assert.deepEqual([fromOne!.text(), fromTwo!.text()].sort(), ['a', 'b']);
        await fromOne!.nack();
        await fromTwo!.ack();
        let again: Message | null = null;
        await advanceUntil(clock, 10, async () => {
          again ??= await one.receive({ timeoutMs: 20 });
          again ??= await two.receive({ timeoutMs: 20 });
          return again !== null;
        });
        assert.equal(again!.text(), fromOne!.text());
        assert.equal(again!.deliveryCount, 2);
        await again!.ack();
        await expectNothing(one);
        await one.close();
        await two.close();
      }));

    test('queue() refuses a stream of that name that is not a queue; delete removes the queue', () =>
      withBroker(factory, async ({ client }) => {
        await client.streams.create('plain', { fsync: 'never' });
        await rejectsWith(client.queue('plain'), 'STREAM_EXISTS');
        const tasks = await client.queue('gone', { fsync: 'never' });
        await tasks.publish('x');
        await tasks.delete();
        await rejectsWith(client.streams.info('gone'), 'STREAM_NOT_FOUND');
        await rejectsWith(tasks.info(), 'STREAM_NOT_FOUND');
      }));
  });
}
