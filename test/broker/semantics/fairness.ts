/**
 * Per-key fairness and rate limits: `fairBy` round-robins ready messages across groups (key or
 * header) over the whole backlog, not only what is read ahead, keeping order within a group and
 * priority first; `rateLimit` holds deliveries to perSecond (+ burst) per subscription or per
 * group in driven time, without losing a message or spending a delivery count.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { Client, Message, PublishInput, Subscription } from '../../../src/protocol/index.js';
import { receiveN, rejectsWith, withBroker, type HarnessFactory } from './harness.js';

/** Batches of the publish-batch call (well under its entry limit). */
const BATCH = 2_000;

async function publishAll(client: Client, entries: readonly PublishInput[]): Promise<void> {
  for (let start = 0; start < entries.length; start += BATCH) {
    const results = await client.publishBatch(entries.slice(start, start + BATCH));
    for (const result of results) assert.ok(!(result instanceof Error), (result as Error).message);
  }
}

/** `count` messages of key `key`, bodies `${key}${i}`. */
function ofKey(key: string, count: number, subject = 'jobs'): PublishInput[] {
  return Array.from({ length: count }, (_, index) => ({
    subject,
    body: `${key}${index}`,
    options: { key },
  }));
}

/** Receives `count` messages, acking each, and returns their bodies in delivery order. */
async function takeBodies(subscription: Subscription, count: number): Promise<string[]> {
  const bodies: string[] = [];
  for (let index = 0; index < count; index++) {
    const [message] = await receiveN(subscription, 1, 30_000);
    bodies.push(message!.text());
    await message!.ack();
  }
  return bodies;
}

async function memoryStream(client: Client): Promise<void> {
  await client.streams.create('jobs', { subjects: ['jobs'], storage: 'memory', partitions: 1 });
}

export function fairnessSuite(factory: HarnessFactory): void {
  describe('fairness over the whole backlog', () => {
    test("tenant B's first message is served within the first 3 behind 6,000 of tenant A's (without fairBy: #6,001)", () =>
      withBroker(factory, async ({ client }) => {
        await memoryStream(client);
        await publishAll(client, [...ofKey('A', 6_000), ...ofKey('B', 1)]);
        // Without fairBy: offset order, B is the 6,001st delivery.
        const plain = await client.subscribe('jobs', { subscription: 'plain', ack: 'none' });
        const plainOrder = (await receiveN(plain, 6_001, 60_000)).map((message) => message.text());
        assert.equal(plainOrder.indexOf('B0') + 1, 6_001);
        await plain.close();
        // With fairBy 'key': among the first few.
        const fair = await client.subscribe('jobs', { subscription: 'fair', fairBy: 'key' });
        const first = await takeBodies(fair, 3);
        assert.ok(first.includes('B0'), `B0 not among the first 3: ${first.join(',')}`);
        // Then A's, in order.
        const rest = first.filter((body) => body !== 'B0');
        assert.deepEqual(rest, ['A0', 'A1'].slice(0, rest.length));
        const info = await client.subscriptions.info('jobs', 'fair');
        assert.deepEqual(info.config.fairBy, 'key');
      }));

    test("a backlog that fits the read-ahead: B behind 600 and behind 2,000 of A's is among the first 3", () =>
      withBroker(factory, async ({ client }) => {
        await memoryStream(client);
        // Smaller than READY_RECORDS_MAX but larger than one read: the first read's 512 A's must
        // not go out before the reads that bring B.
        for (const [count, name] of [
          [600, 'fair600'],
          [2_000, 'fair2000'],
        ] as const) {
          await client.streams.purge('jobs');
          await publishAll(client, [...ofKey('A', count), ...ofKey('B', 1)]);
          const fair = await client.subscribe('jobs', { subscription: name, fairBy: 'key' });
          const first = await takeBodies(fair, 3);
          assert.ok(
            first.includes('B0'),
            `behind ${count}: B0 not among the first 3: ${first.join(',')}`,
          );
          await fair.close();
        }
      }));

    test('three tenants interleave round-robin, each in its own order', () =>
      withBroker(factory, async ({ client }) => {
        await memoryStream(client);
        // More of each than the read-ahead holds: B's and C's are found past it.
        await publishAll(client, [
          ...ofKey('A', 2_500),
          ...ofKey('B', 2_500),
          ...ofKey('C', 2_500),
        ]);
        const fair = await client.subscribe('jobs', { subscription: 'fair', fairBy: 'key' });
        const order = await takeBodies(fair, 60);
        const expected: string[] = [];
        for (let round = 0; round < 20; round++)
          expected.push(`A${round}`, `B${round}`, `C${round}`);
        assert.deepEqual(order, expected);
      }));

    test('by header: a header value is a group, messages without the header form one group', () =>
      withBroker(factory, async ({ client }) => {
        await memoryStream(client);
        const entries: PublishInput[] = [];
        for (let index = 0; index < 3_000; index++)
          entries.push({
            subject: 'jobs',
            body: `a${index}`,
            options: { headers: { tenant: 'a' } },
          });
        entries.push({ subject: 'jobs', body: 'none0' });
        entries.push({ subject: 'jobs', body: 'c0', options: { headers: { tenant: 'c' } } });
        entries.push({ subject: 'jobs', body: 'none1', options: { headers: { other: 'x' } } });
        await publishAll(client, entries);
        const fair = await client.subscribe('jobs', {
          subscription: 'fair',
          fairBy: { header: 'tenant' },
        });
        const order = await takeBodies(fair, 6);
        // Round 0: a0, none0, c0; round 1: a1, none1 (the same group as none0); then a2.
        assert.deepEqual(order, ['a0', 'none0', 'c0', 'a1', 'none1', 'a2']);
        const info = await client.subscriptions.info('jobs', 'fair');
        assert.deepEqual(info.config.fairBy, { header: 'tenant' });
      }));

    test('priority still wins over fairness; fairness orders equal priorities', () =>
      withBroker(factory, async ({ client }) => {
        await memoryStream(client);
        await publishAll(client, [
          ...ofKey('A', 3_000),
          ...ofKey('B', 2),
          { subject: 'jobs', body: 'urgent', options: { key: 'A', priority: 5 } },
        ]);
        const fair = await client.subscribe('jobs', { subscription: 'fair', fairBy: 'key' });
        const order = await takeBodies(fair, 5);
        assert.deepEqual(order, ['urgent', 'A0', 'B0', 'A1', 'B1']);
      }));

    test('shared consumers: every message exactly once, fairness across the backlog', () =>
      withBroker(factory, async ({ client, connect }) => {
        await memoryStream(client);
        await publishAll(client, [...ofKey('A', 3_000), ...ofKey('B', 3)]);
        const other = await connect();
        const first = await client.subscribe('jobs', {
          subscription: 'fair',
          fairBy: 'key',
          maxInFlight: 4,
        });
        const second = await other.subscribe('jobs', {
          subscription: 'fair',
          fairBy: 'key',
          maxInFlight: 4,
        });
        const seen = new Set<string>();
        const drain = async (subscription: Subscription, count: number): Promise<Message[]> => {
          const messages = await receiveN(subscription, count, 30_000);
          for (const message of messages) {
            assert.ok(!seen.has(message.text()), `${message.text()} delivered twice`);
            seen.add(message.text());
            await message.ack();
          }
          return messages;
        };
        await Promise.all([drain(first, 4), drain(second, 4)]);
        // In the first 8 deliveries: B0..B2 (round-robin against A's 3,000).
        for (const body of ['B0', 'B1', 'B2']) assert.ok(seen.has(body), `${body} not early`);
      }));

    test('modes: key-shared takes fairBy key only; failover takes both', () =>
      withBroker(factory, async ({ client }) => {
        await memoryStream(client);
        await rejectsWith(
          client.subscribe('jobs', {
            subscription: 'k',
            mode: 'key-shared',
            fairBy: { header: 'tenant' },
          }),
          'INVALID_ARGUMENT',
          /fairBy/,
        );
        await publishAll(client, [...ofKey('A', 3_000), ...ofKey('B', 1)]);
        const keyShared = await client.subscribe('jobs', {
          subscription: 'k',
          mode: 'key-shared',
          fairBy: 'key',
        });
        assert.ok((await takeBodies(keyShared, 3)).includes('B0'));
        await keyShared.close();
        const failover = await client.subscribe('jobs', {
          subscription: 'f',
          mode: 'failover',
          fairBy: { header: 'tenant' },
        });
        assert.deepEqual(await takeBodies(failover, 2), ['A0', 'A1']); // one group: offset order
      }));

    test('a queue takes fairBy: its workers get the tenants in turn', () =>
      withBroker(factory, async ({ client }) => {
        const queue = await client.queue('tasks', { fairBy: 'key', storage: 'memory' });
        await publishAll(client, [...ofKey('A', 3_000, 'tasks'), ...ofKey('B', 1, 'tasks')]);
        const worker = await queue.consume();
        assert.ok((await takeBodies(worker, 3)).includes('B0'));
      }));

    test('a durable subscription keeps fairBy and rateLimit; a different value is refused', () =>
      withBroker(factory, async ({ client }) => {
        await memoryStream(client);
        const subscription = await client.subscribe('jobs', {
          subscription: 'fair',
          fairBy: 'key',
          rateLimit: { perSecond: 20, by: { header: 'tenant' } },
        });
        await subscription.close();
        const info = await client.subscriptions.info('jobs', 'fair');
        assert.deepEqual(info.config.fairBy, 'key');
        assert.deepEqual(info.config.rateLimit, {
          perSecond: 20,
          by: { header: 'tenant' },
          burst: 2,
        });
        // The same values (burst given as its default) agree; options not given are as stored.
        const again = await client.subscribe('jobs', {
          subscription: 'fair',
          rateLimit: { perSecond: 20, by: { header: 'tenant' }, burst: 2 },
        });
        await again.close();
        await rejectsWith(
          client.subscribe('jobs', { subscription: 'fair', fairBy: { header: 'tenant' } }),
          'SUBSCRIPTION_EXISTS',
          /fairBy/,
        );
        await rejectsWith(
          client.subscribe('jobs', { subscription: 'fair', rateLimit: { perSecond: 21 } }),
          'SUBSCRIPTION_EXISTS',
          /rateLimit/,
        );
      }));
  });

  describe('rate limits', () => {
    test('per subscription: never more than burst + perSecond x time, none lost, each delivered once', () =>
      withBroker(factory, async ({ client, clock }) => {
        await memoryStream(client);
        const total = 30;
        await publishAll(client, ofKey('A', total));
        const perSecond = 10;
        const burst = 5;
        const subscription = await client.subscribe('jobs', {
          subscription: 'limited',
          rateLimit: { perSecond, burst },
        });
        const received: Message[] = [];
        received.push(...(await receiveN(subscription, burst)));
        for (const message of received) await message.ack();
        const stepMs = 100; // one token per step
        for (let step = 1; received.length < total; step++) {
          assert.ok(step <= 100, 'all delivered within 100 steps');
          const info = await client.subscriptions.info('jobs', 'limited');
          const bound = burst + Math.floor((perSecond * (step - 1) * stepMs) / 1000);
          assert.ok(info.delivered <= bound, `${info.delivered} delivered, limit ${bound}`);
          assert.equal(info.delivered, received.length, 'nothing more went out before time moved');
          clock.advance(stepMs);
          const [message] = await receiveN(subscription, 1);
          await message!.ack();
          received.push(message!);
        }
        assert.deepEqual(
          received.map((message) => message.text()),
          Array.from({ length: total }, (_, index) => `A${index}`),
        );
        for (const message of received) assert.equal(message.deliveryCount, 1);
        const info = await client.subscriptions.info('jobs', 'limited');
        assert.equal(info.delivered, total);
        assert.equal(info.redelivered, 0);
      }));

    test('per key: each key gets its own bucket; a busy key does not hold back another', () =>
      withBroker(factory, async ({ client, clock }) => {
        await memoryStream(client);
        await publishAll(client, [...ofKey('A', 20), ...ofKey('B', 4)]);
        const subscription = await client.subscribe('jobs', {
          subscription: 'limited',
          rateLimit: { perSecond: 2, burst: 1, by: 'key' },
        });
        const received: Message[] = [];
        const drain = async (): Promise<void> => {
          const info = await client.subscriptions.info('jobs', 'limited');
          const messages = await receiveN(subscription, info.delivered - received.length);
          for (const message of messages) await message.ack();
          received.push(...messages);
        };
        const perKey = (key: string): number =>
          received.filter((message) => message.key === key).length;
        await receiveN(subscription, 2).then(async (messages) => {
          for (const message of messages) await message.ack();
          received.push(...messages);
        });
        for (let step = 1; step <= 6; step++) {
          await drain();
          const elapsedMs = (step - 1) * 500;
          const bound = 1 + Math.floor((2 * elapsedMs) / 1000);
          assert.ok(perKey('A') <= bound, `A: ${perKey('A')} > ${bound} at ${elapsedMs} ms`);
          assert.ok(perKey('B') <= bound, `B: ${perKey('B')} > ${bound} at ${elapsedMs} ms`);
          assert.equal(perKey('A'), bound, 'A gets its full rate');
          assert.equal(perKey('B'), Math.min(4, bound), 'B is not held back by A');
          clock.advance(500);
          await receiveN(subscription, 1).then(async ([message]) => {
            await message!.ack();
            received.push(message!);
          });
        }
        for (const message of received) assert.equal(message.deliveryCount, 1);
        assert.deepEqual(
          received.filter((message) => message.key === 'B').map((message) => message.text()),
          ['B0', 'B1', 'B2', 'B3'],
        );
      }));

    test('a redelivery counts against the limit and waits, it is not spent', () =>
      withBroker(factory, async ({ client, clock }) => {
        await memoryStream(client);
        await publishAll(client, ofKey('A', 2));
        const subscription = await client.subscribe('jobs', {
          subscription: 'limited',
          rateLimit: { perSecond: 1, burst: 1 },
          backoff: [0],
        });
        const [first] = await receiveN(subscription, 1);
        assert.equal(first!.text(), 'A0');
        await first!.nack();
        let info = await client.subscriptions.info('jobs', 'limited');
        assert.equal(info.delivered, 1, 'the redelivery waits for a token');
        clock.advance(1_000);
        const [again] = await receiveN(subscription, 1);
        assert.equal(again!.text(), 'A0');
        assert.equal(again!.deliveryCount, 2);
        await again!.ack();
        info = await client.subscriptions.info('jobs', 'limited');
        assert.equal(info.delivered, 2);
        clock.advance(1_000);
        const [next] = await receiveN(subscription, 1);
        assert.equal(next!.text(), 'A1');
        assert.equal(next!.deliveryCount, 1);
        await next!.ack();
      }));
  });

  describe('bad fairness and rate-limit options', () => {
    test('are refused with INVALID_ARGUMENT naming the field', () =>
      withBroker(factory, async ({ client }) => {
        await memoryStream(client);
        const cases: [Record<string, unknown>, RegExp][] = [
          [{ fairBy: 'tenant' }, /^fairBy /],
          [{ fairBy: { header: '' } }, /fairBy\.header/],
          [{ fairBy: { header: ':subject' } }, /fairBy\.header/],
          [{ fairBy: { key: true } }, /fairBy\.key/],
          [{ rateLimit: 5 }, /^rateLimit /],
          [{ rateLimit: {} }, /rateLimit\.perSecond/],
          [{ rateLimit: { perSecond: 0 } }, /rateLimit\.perSecond/],
          [{ rateLimit: { perSecond: -1 } }, /rateLimit\.perSecond/],
          [{ rateLimit: { perSecond: 'fast' } }, /rateLimit\.perSecond/],
          [{ rateLimit: { perSecond: 5, burst: 0 } }, /rateLimit\.burst/],
          [{ rateLimit: { perSecond: 5, burst: 1.5 } }, /rateLimit\.burst/],
          [{ rateLimit: { perSecond: 5, by: 'tenant' } }, /rateLimit\.by/],
          [{ rateLimit: { perSecond: 5, every: 1 } }, /rateLimit\.every/],
        ];
        for (const [options, message] of cases) {
          await rejectsWith(
            client.subscribe('jobs', { subscription: 'bad', ...options }),
            'INVALID_ARGUMENT',
            message,
          );
        }
        await rejectsWith(client.subscriptions.info('jobs', 'bad'), 'SUBSCRIPTION_NOT_FOUND');
      }));
  });
}
