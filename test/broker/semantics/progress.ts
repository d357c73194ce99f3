/**
 * Job progress (Message.progress): it extends the lease as extend() does, the last value is
 * readable by id or position through subscriptions.progress (and for a while after the ack),
 * a request's onProgress sees the values in order before the reply, and a bad value is
 * INVALID_ARGUMENT.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { JsonValue, ProgressInfo } from '../../../src/protocol/index.js';
import {
  eventually,
  expectNothing,
  receiveN,
  rejectsWith,
  withBroker,
  type HarnessFactory,
} from './harness.js';

const LEASE_MS = 1_000;
/** PROGRESS_KEPT_MS_AFTER_SETTLE */
const KEPT_MS = 60_000;

export function progressSuite(factory: HarnessFactory): void {
  describe('job progress', () => {
    test('progress extends the lease: past the original lease it is not redelivered', () =>
      withBroker(factory, async ({ client, clock }) => {
        await client.streams.create('jobs', { subjects: ['jobs.>'], fsync: 'never' });
        await client.publish('jobs.run', { n: 1 });
        const worker = await client.subscribe('jobs', {
          subscription: 'workers',
          leaseMs: LEASE_MS,
        });
        const [message] = await receiveN(worker, 1);
        clock.advance(800);
        await message!.progress(0.5);
        clock.advance(800); // 1600 ms after the take: past the lease it had before the progress
        const info = await client.subscriptions.info('jobs', 'workers');
        assert.equal(info.inFlight, 1, 'still held by the worker');
        assert.equal(info.delayed, 0);
        assert.equal(info.redelivered, 0);
        const other = await client.subscribe('jobs', { subscription: 'workers' });
        await expectNothing(other);
        // Without more progress the extended lease runs out in turn.
        clock.advance(LEASE_MS);
        await eventually(
          async () => (await client.subscriptions.info('jobs', 'workers')).redelivered === 1,
          undefined,
          'redelivered once the lease was not extended',
        );
      }));

    test('the last progress is read by id and by position, and kept a while after the ack', () =>
      withBroker(factory, async ({ client, clock }) => {
        await client.streams.create('jobs', { subjects: ['jobs.>'], fsync: 'never' });
        const receipt = await client.publish('jobs.run', { n: 1 }, { id: 'job-1' });
        const worker = await client.subscribe('jobs', { subscription: 'workers' });
        const [message] = await receiveN(worker, 1);
        assert.equal(await client.subscriptions.progress('jobs', 'workers', { id: 'job-1' }), null);
        await message!.progress({ step: 1, of: 3 });
        clock.advance(10);
        await message!.progress({ step: 2, of: 3 });
        const byId = await client.subscriptions.progress('jobs', 'workers', { id: 'job-1' });
        assert.deepEqual(byId, {
          partition: receipt.partition,
          offset: receipt.offset,
          id: 'job-1',
          value: { step: 2, of: 3 },
          updatedAtMs: clock.now(),
          deliveryCount: 1,
          state: 'in-flight',
        });
        const byPosition = await client.subscriptions.progress('jobs', 'workers', {
          partition: receipt.partition,
          offset: receipt.offset,
        });
        assert.deepEqual(byPosition, byId);
        const listed = await client.subscriptions.progressList('jobs', 'workers');
        assert.deepEqual(listed, [byId]);
        assert.equal(await client.subscriptions.progress('jobs', 'workers', { id: 'other' }), null);
        await message!.ack();
        const settled = await client.subscriptions.progress('jobs', 'workers', { id: 'job-1' });
        assert.equal(settled?.state, 'settled');
        assert.deepEqual(settled?.value, { step: 2, of: 3 });
        clock.advance(KEPT_MS);
        assert.equal(await client.subscriptions.progress('jobs', 'workers', { id: 'job-1' }), null);
        await rejectsWith(
          client.subscriptions.progress('jobs', 'workers', {} as never),
          'INVALID_ARGUMENT',
          /selector/,
        );
      }));

    test("a request's onProgress sees the values in order before the reply", () =>
      withBroker(factory, async ({ client, connect }) => {
        await client.streams.create('rpc', { subjects: ['rpc.>'], fsync: 'never' });
        const server = await connect();
        const requests = await server.subscribe('rpc', { subscription: 'workers' });
        let offset = -1;
        const serving = (async () => {
          const [message] = await receiveN(requests, 1);
          offset = message!.offset;
          for (const value of [0.25, 0.5, { done: 0.75 }]) await message!.progress(value);
          await message!.respond({ result: 42 });
          await message!.ack();
        })();
        const seen: { value: JsonValue; info: ProgressInfo }[] = [];
        let seenAtReply = -1;
        const reply = await client
          .request(
            'rpc.work',
            { job: 1 },
            {
              timeoutMs: 10_000,
              onProgress: (value, info) => seen.push({ value, info }),
            },
          )
          .then((message) => {
            seenAtReply = seen.length;
            return message;
          });
        await serving;
        assert.deepEqual(reply.json(), { result: 42 });
        assert.equal(seenAtReply, 3, 'every progress came before the reply');
        assert.deepEqual(
          seen.map((event) => event.value),
          [0.25, 0.5, { done: 0.75 }],
        );
        for (const { info } of seen) {
          assert.deepEqual(info, { stream: 'rpc', partition: 0, offset, deliveryCount: 1 });
        }
      }));

    test('a bad value is INVALID_ARGUMENT and leaves the delivery as it was', () =>
      withBroker(factory, async ({ client }) => {
        await client.streams.create('jobs', { subjects: ['jobs.>'], fsync: 'never' });
        await client.publish('jobs.run', { n: 1 });
        const worker = await client.subscribe('jobs', { subscription: 'workers' });
        const [message] = await receiveN(worker, 1);
        for (const bad of [undefined, Number.NaN, Infinity, () => 1, 'x'.repeat(5000), [1n]]) {
          await rejectsWith(message!.progress(bad as never), 'INVALID_ARGUMENT', /progress value/);
        }
        assert.deepEqual(await client.subscriptions.progressList('jobs', 'workers'), []);
        await message!.ack();
        await rejectsWith(message!.progress(1), 'MESSAGE_SETTLED');
      }));
  });
}
