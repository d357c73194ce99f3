/**
 * Delay and schedule, TTL (never delivered expired, dead-lettered on request), priority; a
 * stream's ttlMs and maxAgeMs expire messages like a per-message ttl.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  DELAY_MS_MAX,
  EXPIRY_SWEEP_MS,
  RETENTION_INTERVAL_MS,
  SEGMENT_BYTES_MIN,
} from '../../../src/limits.js';
import { DEAD_LETTER_HEADERS } from '../../../src/protocol/index.js';
import {
  advanceUntil,
  expectNothing,
  receiveN,
  rejectsWith,
  WAIT_MS,
  withBroker,
  type HarnessFactory,
} from './harness.js';

export function delayTtlPrioritySuite(factory: HarnessFactory): void {
  describe('delay, ttl and priority', () => {
    test('delayMs and deliverAt hold a message back until its time, others pass it', () =>
      withBroker(factory, async ({ client, clock }) => {
        await client.streams.create('jobs', { subjects: ['jobs'] });
        const subscription = await client.subscribe('jobs', { subscription: 'w' });
        const publishedAt = clock.now();
        await client.publish('jobs', 'later', { delayMs: 300 });
        await client.publish('jobs', 'scheduled', { deliverAt: publishedAt + 500 });
        await client.publish('jobs', 'now');
        const [now] = await receiveN(subscription, 1);
        assert.equal(now!.text(), 'now');
        clock.advance(299);
        await expectNothing(subscription);
        clock.advance(1);
        const [later] = await receiveN(subscription, 1);
        assert.equal(later!.text(), 'later');
        clock.advance(199);
        await expectNothing(subscription);
        clock.advance(1);
        const [scheduled] = await receiveN(subscription, 1);
        assert.equal(scheduled!.text(), 'scheduled');
        for (const message of [now, later, scheduled]) await message!.ack();
      }));

    test('an expired message is never delivered', () =>
      withBroker(factory, async ({ client, clock }) => {
        await client.streams.create('quotes', { subjects: ['quotes'] });
        await client.publish('quotes', 'stale', { ttlMs: 50 });
        await client.publish('quotes', 'fresh', { ttlMs: 60_000 });
        clock.advance(50);
        const subscription = await client.subscribe('quotes', { subscription: 'w' });
        const [message] = await receiveN(subscription, 1);
        assert.equal(message!.text(), 'fresh');
        await expectNothing(subscription);
        const info = await client.subscriptions.info('quotes', 'w');
        assert.equal(info.expired, 1);
      }));

    test('a message that expires while it waits for a retry is not delivered again', () =>
      withBroker(factory, async ({ client, clock }) => {
        await client.streams.create('quotes', { subjects: ['quotes'] });
        const subscription = await client.subscribe('quotes', { subscription: 'w' });
        await client.publish('quotes', 'short', { ttlMs: 200 });
        const [message] = await receiveN(subscription, 1);
        await message!.nack({ delayMs: 300 });
        clock.advance(300); // the retry falls due; the message expired 100 ms before
        await expectNothing(subscription);
        assert.equal((await client.subscriptions.info('quotes', 'w')).expired, 1);
      }));

    test('expired messages are dead-lettered with reason expired when the subscription asks', () =>
      withBroker(factory, async ({ client, clock }) => {
        await client.streams.create('quotes', { subjects: ['quotes'] });
        await client.streams.create('dead', { subjects: ['dead.>'] });
        await client.publish('quotes', 'stale', { ttlMs: 30 });
        clock.advance(30);
        const subscription = await client.subscribe('quotes', {
          subscription: 'w',
          deadLetter: 'dead.quotes',
          deadLetterExpired: true,
        });
        await expectNothing(subscription);
        const reader = await client.subscribe('dead', { subscription: 'r' });
        const [dead] = await receiveN(reader, 1);
        assert.equal(dead!.headers[DEAD_LETTER_HEADERS.reason], 'expired');
        assert.equal(dead!.text(), 'stale');
      }));

    test('with deadLetterExpired and no consumer, messages past the stream ttlMs are dead-lettered at the head (a delay queue)', () =>
      withBroker(factory, async ({ client, clock }) => {
        await client.streams.create('retry', { subjects: ['retry'], ttlMs: 1000 });
        await client.streams.create('dead', { subjects: ['dead.>'] });
        const options = {
          subscription: 'w',
          deadLetter: 'dead.retry',
          deadLetterExpired: true,
        } as const;
        await (await client.subscribe('retry', options)).close(); // no consumer from here on
        await client.publish('retry', 'first');
        clock.advance(500);
        await client.publish('retry', 'second');
        const reader = await client.subscribe('dead', { subscription: 'r' });
        clock.advance(500 + EXPIRY_SWEEP_MS); // 'first' is past its ttl, 'second' is not
        const [first] = await receiveN(reader, 1);
        assert.equal(first!.text(), 'first');
        assert.equal(first!.headers[DEAD_LETTER_HEADERS.reason], 'expired');
        await first!.ack();
        await expectNothing(reader);
        clock.advance(500 + EXPIRY_SWEEP_MS);
        const [second] = await receiveN(reader, 1);
        assert.equal(second!.text(), 'second');
        assert.equal((await client.subscriptions.info('retry', 'w')).expired, 2);
      }));

    test('with a stream ttlMs and no consumer, an expired message leaves the pending count (no dead-letter target)', () =>
      withBroker(factory, async ({ client, clock }) => {
        await client.streams.create('quotes', { subjects: ['quotes'], ttlMs: 1000 });
        await (await client.subscribe('quotes', { subscription: 'w' })).close();
        await client.publish('quotes', 'stale');
        assert.equal((await client.subscriptions.info('quotes', 'w')).pending, 1);
        clock.advance(1000);
        await advanceUntil(
          clock,
          EXPIRY_SWEEP_MS,
          async () => (await client.subscriptions.info('quotes', 'w')).pending === 0,
          'the expired message to leave the count',
          20,
        );
        assert.equal((await client.subscriptions.info('quotes', 'w')).expired, 1);
      }));

    test('higher priority first among what is ready', () =>
      withBroker(factory, async ({ client }) => {
        await client.streams.create('jobs', { subjects: ['jobs'] });
        for (const [body, priority] of [
          ['low', 0],
          ['high', 9],
          ['mid', 5],
          ['low2', 0],
          ['high2', 9],
        ] as const) {
          await client.publish('jobs', body, { priority });
        }
        const subscription = await client.subscribe('jobs', { subscription: 'w', maxInFlight: 1 });
        const order: string[] = [];
        for (let index = 0; index < 5; index++) {
          const [message] = await receiveN(subscription, 1);
          order.push(message!.text());
          assert.equal(
            message!.priority,
            { low: 0, low2: 0, mid: 5, high: 9, high2: 9 }[message!.text()],
          );
          await message!.ack();
        }
        assert.deepEqual(order, ['high', 'high2', 'mid', 'low', 'low2']);
      }));
  });

  describe('stream ttl and max age expiry', () => {
    test("a stream's ttlMs expires a message without its own ttl, in that stream only", () =>
      withBroker(factory, async ({ client, clock }) => {
        const created = await client.streams.create('quotes', {
          subjects: ['quotes'],
          ttlMs: 100,
        });
        assert.equal(created.config.ttlMs, 100);
        assert.equal(
          (await client.streams.create('archive', { subjects: ['quotes'] })).config.ttlMs,
          null,
        );
        await client.publish('quotes', 'stale');
        clock.advance(99);
        await client.publish('quotes', 'fresh');
        clock.advance(1); // 'stale' is 100 ms old: expired; 'fresh' has 99 ms to go
        const subscription = await client.subscribe('quotes', { subscription: 'w' });
        const [message] = await receiveN(subscription, 1);
        assert.equal(message!.text(), 'fresh');
        await expectNothing(subscription);
        assert.equal((await client.subscriptions.info('quotes', 'w')).expired, 1);
        // The same publish, stored in a stream without a ttl, does not expire there.
        const archive = await client.subscribe('archive', { subscription: 'a' });
        const kept = await receiveN(archive, 2);
        assert.deepEqual(
          kept.map((item) => item.text()),
          ['stale', 'fresh'],
        );
      }));

    test("a per-message ttlMs shorter than the stream's wins", () =>
      withBroker(factory, async ({ client, clock }) => {
        await client.streams.create('quotes', { subjects: ['quotes'], ttlMs: 60_000 });
        await client.publish('quotes', 'short', { ttlMs: 50 });
        await client.publish('quotes', 'plain');
        clock.advance(50);
        const subscription = await client.subscribe('quotes', { subscription: 'w' });
        const [message] = await receiveN(subscription, 1);
        assert.equal(message!.text(), 'plain');
        await expectNothing(subscription);
        assert.equal((await client.subscriptions.info('quotes', 'w')).expired, 1);
      }));

    test('a message past maxAgeMs is dead-lettered with reason expired when the subscription asks', () =>
      withBroker(factory, async ({ client, clock }) => {
        await client.streams.create('fresh', { subjects: ['fresh'], maxAgeMs: 100 });
        await client.streams.create('dead', { subjects: ['dead.>'] });
        await client.publish('fresh', 'old');
        clock.advance(101);
        await client.publish('fresh', 'new');
        const subscription = await client.subscribe('fresh', {
          subscription: 'w',
          deadLetter: 'dead.fresh',
          deadLetterExpired: true,
        });
        const [message] = await receiveN(subscription, 1);
        assert.equal(message!.text(), 'new');
        await expectNothing(subscription);
        const reader = await client.subscribe('dead', { subscription: 'r' });
        const [dead] = await receiveN(reader, 1);
        assert.equal(dead!.text(), 'old');
        assert.equal(dead!.headers[DEAD_LETTER_HEADERS.reason], 'expired');
        const info = await client.subscriptions.info('fresh', 'w');
        assert.equal(info.expired, 1);
        assert.equal(info.deadLettered, 1);
        assert.equal(info.dropped, 0);
      }));

    test('without deadLetterExpired a message past maxAgeMs is counted expired, not delivered', () =>
      withBroker(factory, async ({ client, clock }) => {
        await client.streams.create('fresh', { subjects: ['fresh'], maxAgeMs: 100 });
        await client.publish('fresh', 'old');
        clock.advance(101);
        await client.publish('fresh', 'new');
        const subscription = await client.subscribe('fresh', { subscription: 'w' });
        const [message] = await receiveN(subscription, 1);
        assert.equal(message!.text(), 'new');
        await message!.nack({ delayMs: 200 }); // due again once it is past maxAgeMs
        clock.advance(200);
        await expectNothing(subscription);
        const info = await client.subscriptions.info('fresh', 'w');
        assert.equal(info.expired, 2);
        assert.equal(info.dropped, 0);
      }));

    test('a lagging subscription dead-letters what age retention deletes before it read it', () =>
      withBroker(factory, async ({ client, clock }) => {
        await client.streams.create('fresh', {
          subjects: ['fresh'],
          maxAgeMs: 1000,
          segmentBytes: SEGMENT_BYTES_MIN,
        });
        await client.streams.create('dead', { subjects: ['dead.>'] });
        const options = {
          subscription: 'lagging',
          deadLetter: 'dead.fresh',
          deadLetterExpired: true,
        } as const;
        await (await client.subscribe('fresh', options)).close(); // no consumer from here on
        const count = 40; // of 500 bytes: several 4 KiB segments
        for (let index = 0; index < count; index++) {
          await client.publish('fresh', new Uint8Array(500), { headers: { n: String(index) } });
        }
        const bytesBefore = (await client.streams.info('fresh')).bytes;
        clock.advance(1001);
        await advanceUntil(
          clock,
          RETENTION_INTERVAL_MS,
          async () => {
            const info = await client.streams.info('fresh');
            return info.partitions[0]!.startOffset === count && info.bytes < bytesBefore;
          },
          'age retention deletes segments',
          10_000, // a pass publishes its dead letters (fsyncs) while steps go by
        );
        const reader = await client.subscribe('dead', { subscription: 'r' });
        const dead = await receiveN(reader, count);
        for (const letter of dead) {
          assert.equal(letter.headers[DEAD_LETTER_HEADERS.reason], 'expired');
        }
        await client.publish('fresh', 'new');
        const again = await client.subscribe('fresh', options);
        const [message] = await receiveN(again, 1);
        assert.equal(message!.text(), 'new');
        const info = await client.subscriptions.info('fresh', 'lagging');
        assert.equal(info.expired, count);
        assert.equal(info.dropped, 0);
      }));
  });

  describe('scheduler', () => {
    test('a message delayed by a year does not block the 100,500 published after it', () =>
      withBroker(factory, async ({ client }) => {
        await client.streams.create('later', { subjects: ['later'], storage: 'memory' });
        const receipt = await client.publish('later', 'next year', { delayMs: DELAY_MS_MAX - 1 });
        const subscription = await client.subscribe('later', {
          subscription: 'w',
          mode: 'shared',
          maxInFlight: 2000,
        });
        const total = 100_500;
        const batch = 500;
        const deadline = Date.now() + 240_000;
        let published = 0;
        let received = 0;
        const entries = Array.from({ length: batch }, () => ({ subject: 'later', body: 'x' }));
        while (received < total) {
          assert.ok(Date.now() < deadline, `only ${received} of ${total} delivered in time`);
          if (published < total && published - received < 10_000) {
            const receipts = await client.publishBatch(entries);
            for (const outcome of receipts) {
              if (outcome instanceof Error) throw outcome;
            }
            published += batch;
          }
          for (;;) {
            const message = await subscription.receive({
              timeoutMs: published === total ? WAIT_MS : 1,
            });
            if (message === null) {
              assert.ok(published < total, `only ${received} of ${total} delivered`);
              break;
            }
            assert.equal(message.text(), 'x');
            await message.ack();
            received++;
            if (received === published) break;
          }
        }
        assert.equal(received, total);
        assert.equal(receipt.scheduled, true);
        const info = await client.streams.info('later');
        assert.equal(info.scheduled, 1);
        assert.equal(info.messages, total);
      }));

    test('delayed messages enter in due order, not publish order', () =>
      withBroker(factory, async ({ client, clock }) => {
        await client.streams.create('jobs', { subjects: ['jobs'] });
        for (const delayMs of [500, 100, 400, 200, 300, 250]) {
          await client.publish('jobs', `d${delayMs}`, { delayMs });
        }
        const subscription = await client.subscribe('jobs', {
          subscription: 'w',
          mode: 'exclusive',
        });
        clock.advance(99);
        await expectNothing(subscription);
        clock.advance(401); // all due at once
        const messages = await receiveN(subscription, 6);
        assert.deepEqual(
          messages.map((message) => message.text()),
          ['d100', 'd200', 'd250', 'd300', 'd400', 'd500'],
        );
        for (const message of messages) await message.ack();
      }));

    test('a delayed publish is confirmed as scheduled, a duplicate of it too', () =>
      withBroker(factory, async ({ client, clock }) => {
        await client.streams.create('jobs', { subjects: ['jobs'] });
        const now = await client.publish('jobs', 'now');
        assert.equal(now.scheduled, false);
        assert.equal(now.streams[0]!.scheduled, false);
        const later = await client.publish('jobs', 'later', {
          deliverAt: clock.now() + 60_000,
          id: 'job-1',
        });
        assert.equal(later.scheduled, true);
        assert.equal(later.offset, -1);
        assert.equal(later.duplicate, false);
        assert.deepEqual(later.streams, [
          {
            stream: 'jobs',
            partition: later.partition,
            offset: -1,
            duplicate: false,
            scheduled: true,
          },
        ]);
        const again = await client.publish('jobs', 'later', { delayMs: 60_000, id: 'job-1' });
        assert.equal(again.duplicate, true);
        assert.equal(again.scheduled, true);
        assert.equal(again.offset, -1);
        const info = await client.streams.info('jobs');
        assert.equal(info.scheduled, 1);
        assert.equal(info.messages, 1);
        assert.equal(info.partitions[later.partition]!.scheduled, 1);
      }));

    test('a delayed message waits out a restart and is delivered once, when due', (context) =>
      withBroker(factory, async ({ client, clock, restart }) => {
        if (!restart) return context.skip('this broker cannot restart');
        await client.streams.create('jobs', { subjects: ['jobs'], storage: 'file' });
        await client.publish('jobs', 'soon', { delayMs: 1000 });
        await client.publish('jobs', 'later', { delayMs: 2000, id: 'later-1' });
        const subscription = await client.subscribe('jobs', { subscription: 'w' });
        clock.advance(1000);
        const [soon] = await receiveN(subscription, 1);
        assert.equal(soon!.text(), 'soon');
        await soon!.ack();
        const reopened = await restart();
        assert.equal((await reopened.streams.info('jobs')).scheduled, 1);
        // The dedup window knows the scheduled one after the restart too.
        const again1 = await reopened.publish('jobs', 'later', { delayMs: 1000, id: 'later-1' });
        assert.equal(again1.duplicate, true);
        assert.equal(again1.scheduled, true);
        const again = await reopened.subscribe('jobs', { subscription: 'w' });
        await expectNothing(again);
        clock.advance(1000);
        const [later] = await receiveN(again, 1);
        assert.equal(later!.text(), 'later');
        await later!.ack();
        await expectNothing(again);
        assert.equal((await reopened.streams.info('jobs')).scheduled, 0);
      }));

    test('purge drops scheduled messages, and they stay dropped after a restart', (context) =>
      withBroker(factory, async ({ client, clock, restart }) => {
        await client.streams.create('jobs', { subjects: ['jobs'], storage: 'file' });
        for (let index = 0; index < 3; index++) {
          await client.publish('jobs', `purged${index}`, { delayMs: 1000 });
        }
        await client.streams.purge('jobs');
        assert.equal((await client.streams.info('jobs')).scheduled, 0);
        await client.publish('jobs', 'kept', { delayMs: 1000 });
        let current = client;
        if (restart) current = await restart();
        else context.diagnostic('no restart: purge checked in memory only');
        assert.equal((await current.streams.info('jobs')).scheduled, 1);
        const subscription = await current.subscribe('jobs', { subscription: 'w' });
        clock.advance(1000);
        const [kept] = await receiveN(subscription, 1);
        assert.equal(kept!.text(), 'kept');
        await expectNothing(subscription);
      }));

    test('scheduled messages count against maxMessages under reject-new', () =>
      withBroker(factory, async ({ client }) => {
        await client.streams.create('small', {
          subjects: ['small'],
          maxMessages: 2,
          overflow: 'reject-new',
        });
        await client.publish('small', 'a', { delayMs: 1000 });
        await client.publish('small', 'b');
        await rejectsWith(client.publish('small', 'c', { delayMs: 1000 }), 'STREAM_FULL');
      }));
  });
}
