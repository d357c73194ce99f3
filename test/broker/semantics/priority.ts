/**
 * Priority over the whole backlog: a message of a higher priority is delivered before every
 * ready message of a lower one, however far behind them it was stored (priority lanes), and
 * order within a priority level is kept.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { Client, PublishInput } from '../../../src/protocol/index.js';
import { receiveN, withBroker, type HarnessFactory } from './harness.js';

/** Batches of the publish-batch call (well under its entry limit). */
const BATCH = 5_000;

/** Publishes `count` priority-0 messages `${prefix}${i}` to `subject` in batches. */
async function publishBacklog(
  client: Client,
  subject: string,
  count: number,
  prefix = 'b',
): Promise<void> {
  for (let start = 0; start < count; start += BATCH) {
    const entries: PublishInput[] = [];
    for (let index = start; index < Math.min(count, start + BATCH); index++)
      entries.push({ subject, body: `${prefix}${index}` });
    const results = await client.publishBatch(entries);
    for (const result of results) assert.ok(!(result instanceof Error), (result as Error).message);
  }
}

export function prioritySuite(factory: HarnessFactory): void {
  describe('priority over the whole backlog', () => {
    test('a priority-9 message behind 250,000 priority-0 ones is delivered next', () =>
      withBroker(factory, async ({ client }) => {
        await client.streams.create('jobs', { subjects: ['jobs'], storage: 'memory' });
        await publishBacklog(client, 'jobs', 250_000);
        await client.publish('jobs', 'urgent', { priority: 9 });
        const worker = await client.subscribe('jobs', { subscription: 'w', maxInFlight: 1 });
        const [first] = await receiveN(worker, 1, 30_000);
        assert.equal(first!.text(), 'urgent');
        assert.equal(first!.priority, 9);
        assert.equal(first!.offset, 250_000);
        await first!.ack();
        const [next] = await receiveN(worker, 1);
        assert.equal(next!.text(), 'b0'); // then the backlog, in order
      }));

    test('levels in order, and order within a level, across the backlog and what is read ahead', () =>
      withBroker(factory, async ({ client }) => {
        await client.streams.create('jobs', { subjects: ['jobs'], storage: 'memory' });
        await client.publish('jobs', 'p5-early', { priority: 5 }); // read ahead with the backlog
        await publishBacklog(client, 'jobs', 120_000);
        for (const [body, priority] of [
          ['p5-a', 5],
          ['p9-a', 9],
          ['p1-a', 1],
          ['p5-b', 5],
          ['p9-b', 9],
        ] as const) {
          await client.publish('jobs', body, { priority });
        }
        const worker = await client.subscribe('jobs', { subscription: 'w', maxInFlight: 1 });
        const order: string[] = [];
        for (let index = 0; index < 7; index++) {
          const [message] = await receiveN(worker, 1, 30_000);
          order.push(message!.text());
          await message!.ack();
        }
        assert.deepEqual(order, ['p9-a', 'p9-b', 'p5-early', 'p5-a', 'p5-b', 'p1-a', 'b0']);
      }));

    test('more priority messages ahead of the backlog than a lane holds at once all come first', () =>
      withBroker(factory, async ({ client }) => {
        await client.streams.create('jobs', { subjects: ['jobs'], storage: 'memory' });
        await publishBacklog(client, 'jobs', 110_000);
        const urgent = 5_000; // more than LANE_OUTSTANDING_MAX: lane floors must move
        const entries: PublishInput[] = [];
        for (let index = 0; index < urgent; index++)
          entries.push({ subject: 'jobs', body: `u${index}`, options: { priority: 7 } });
        await client.publishBatch(entries);
        const worker = await client.subscribe('jobs', { subscription: 'w', maxInFlight: 100 });
        for (let index = 0; index < urgent; index++) {
          const [message] = await receiveN(worker, 1, 30_000);
          assert.equal(message!.text(), `u${index}`);
          await message!.ack();
        }
        const [next] = await receiveN(worker, 1);
        assert.equal(next!.text(), 'b0');
        const info = await client.subscriptions.info('jobs', 'w');
        assert.equal(info.acked, urgent);
      }));

    test('a filtered subscription skips priority messages it does not want', () =>
      withBroker(factory, async ({ client }) => {
        await client.streams.create('jobs', { subjects: ['jobs.>'], storage: 'memory' });
        await publishBacklog(client, 'jobs.a', 110_000);
        await client.publish('jobs.b', 'other', { priority: 9 });
        await client.publish('jobs.a', 'mine', { priority: 3 });
        const worker = await client.subscribe('jobs', {
          subscription: 'w',
          filter: 'jobs.a',
          maxInFlight: 1,
        });
        const [first] = await receiveN(worker, 1, 30_000);
        assert.equal(first!.text(), 'mine');
        await first!.ack();
        const [next] = await receiveN(worker, 1);
        assert.equal(next!.text(), 'b0');
      }));

    test('a seek back delivers the priority messages again', () =>
      withBroker(factory, async ({ client }) => {
        await client.streams.create('jobs', { subjects: ['jobs'], storage: 'memory' });
        await publishBacklog(client, 'jobs', 110_000);
        await client.publish('jobs', 'urgent', { priority: 9 });
        const worker = await client.subscribe('jobs', { subscription: 'w', maxInFlight: 1 });
        const [first] = await receiveN(worker, 1, 30_000);
        assert.equal(first!.text(), 'urgent');
        await first!.ack();
        await worker.close();
        await client.subscriptions.seek('jobs', 'w', { offset: 0 });
        const reader = await client.subscribe('jobs', { subscription: 'w', maxInFlight: 1 });
        const [again] = await receiveN(reader, 1, 30_000);
        assert.equal(again!.text(), 'urgent');
        await again!.ack();
      }));

    test('acks of priority messages taken ahead of the floor survive a restart', (context) =>
      withBroker(factory, async ({ client, restart }) => {
        if (!restart) return context.skip('this broker cannot restart');
        await client.streams.create('jobs', {
          subjects: ['jobs'],
          storage: 'file',
          fsync: 'never',
        });
        await publishBacklog(client, 'jobs', 105_000);
        const urgent = 3_000;
        const entries: PublishInput[] = [];
        for (let index = 0; index < urgent; index++)
          entries.push({ subject: 'jobs', body: `u${index}`, options: { priority: 9 } });
        await client.publishBatch(entries);
        await client.publish('jobs', 'late', { priority: 9 });
        const worker = await client.subscribe('jobs', { subscription: 'w', maxInFlight: 50 });
        for (let index = 0; index < urgent; index++) {
          const [message] = await receiveN(worker, 1, 30_000);
          assert.equal(message!.text(), `u${index}`);
          await message!.ack();
        }
        await worker.close();
        const reopened = await restart();
        const again = await reopened.subscribe('jobs', { subscription: 'w', maxInFlight: 1 });
        const [first] = await receiveN(again, 1, 30_000);
        assert.equal(first!.text(), 'late', 'the acked priority messages stay acked');
        await first!.ack();
        const [next] = await receiveN(again, 1);
        assert.equal(next!.text(), 'b0');
        await next!.ack();
        await again.close();
        const info = await reopened.subscriptions.info('jobs', 'w');
        assert.equal(info.pending, 105_000 - 1);
      }));
  });
}
