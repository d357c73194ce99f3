/** Delay and schedule, TTL (never delivered expired, dead-lettered on request), priority. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { DEAD_LETTER_HEADERS } from '../../../src/protocol/index.js';
import { expectNothing, receiveN, withBroker, type HarnessFactory } from './harness.js';

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
}
