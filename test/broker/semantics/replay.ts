/** Start positions and seek / replay by offset and by time. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  expectNothing,
  receiveN,
  rejectsWith,
  withBroker,
  type HarnessFactory,
} from './harness.js';

export function replaySuite(factory: HarnessFactory): void {
  describe('replay', () => {
    test('start: earliest, latest, an offset, a time', () =>
      withBroker(factory, async ({ client, clock }) => {
        await client.streams.create('log', { subjects: ['log'] });
        for (let index = 0; index < 3; index++) await client.publish('log', `old${index}`);
        clock.advance(20);
        const middle = clock.now();
        clock.advance(5);
        await client.publish('log', 'mid');
        const earliest = await client.subscribe('log', { subscription: 'e', start: 'earliest' });
        const latest = await client.subscribe('log', { subscription: 'l', start: 'latest' });
        const fromOffset = await client.subscribe('log', {
          subscription: 'o',
          start: { offset: 2 },
        });
        const fromTime = await client.subscribe('log', {
          subscription: 't',
          start: { timeMs: middle },
        });
        await client.publish('log', 'new');
        const texts = async (subscription: typeof earliest, count: number): Promise<string[]> =>
          (await receiveN(subscription, count)).map((message) => message.text());
        assert.deepEqual(await texts(earliest, 5), ['old0', 'old1', 'old2', 'mid', 'new']);
        assert.deepEqual(await texts(latest, 1), ['new']);
        assert.deepEqual(await texts(fromOffset, 3), ['old2', 'mid', 'new']);
        assert.deepEqual(await texts(fromTime, 2), ['mid', 'new']);
        await expectNothing(latest);
      }));

    test('seek back by offset replays acked messages; seek by time too', () =>
      withBroker(factory, async ({ client, clock }) => {
        await client.streams.create('log', { subjects: ['log'] });
        for (let index = 0; index < 3; index++) await client.publish('log', `a${index}`);
        clock.advance(20);
        const middle = clock.now();
        clock.advance(5);
        for (let index = 0; index < 2; index++) await client.publish('log', `b${index}`);
        const subscription = await client.subscribe('log', { subscription: 'r' });
        for (const message of await receiveN(subscription, 5)) await message.ack();
        await expectNothing(subscription);
        await client.subscriptions.seek('log', 'r', { offset: 1 });
        const replayed = await receiveN(subscription, 4);
        assert.deepEqual(
          replayed.map((message) => message.text()),
          ['a1', 'a2', 'b0', 'b1'],
        );
        for (const message of replayed) await message.ack();
        await client.subscriptions.seek('log', 'r', { timeMs: middle });
        const byTime = await receiveN(subscription, 2);
        assert.deepEqual(
          byTime.map((message) => message.text()),
          ['b0', 'b1'],
        );
        await client.subscriptions.seek('log', 'r', 'latest');
        await expectNothing(subscription);
      }));

    test('start: { offset } past the end is OFFSET_OUT_OF_RANGE; the end itself means the next message', () =>
      withBroker(factory, async ({ client }) => {
        await client.streams.create('log', { subjects: ['log'] });
        for (let index = 0; index < 3; index++) await client.publish('log', `old${index}`);
        await rejectsWith(
          client.subscribe('log', { subscription: 'far', start: { offset: 4 } }),
          'OFFSET_OUT_OF_RANGE',
        );
        await rejectsWith(
          client.subscribe('log', { start: { offset: 100 } }),
          'OFFSET_OUT_OF_RANGE',
        );
        await rejectsWith(
          client.subscribe('log', { subscription: 'far', start: { offset: 4, partition: 0 } }),
          'OFFSET_OUT_OF_RANGE',
        );
        // Nothing was created by the refusals.
        assert.deepEqual(
          (await client.subscriptions.list('log')).map((info) => info.name),
          [],
        );
        const atEnd = await client.subscribe('log', { subscription: 'end', start: { offset: 3 } });
        await expectNothing(atEnd);
        await client.publish('log', 'next');
        const [next] = await receiveN(atEnd, 1);
        assert.equal(next!.text(), 'next');
        assert.equal(next!.offset, 3);
      }));

    test('seek to an offset past the end is OFFSET_OUT_OF_RANGE and moves nothing; to the end is allowed', () =>
      withBroker(factory, async ({ client }) => {
        await client.streams.create('log', { subjects: ['log'] });
        for (let index = 0; index < 3; index++) await client.publish('log', `m${index}`);
        const subscription = await client.subscribe('log', { subscription: 'r' });
        const [first] = await receiveN(subscription, 1);
        await first!.ack();
        await rejectsWith(
          client.subscriptions.seek('log', 'r', { offset: 4 }),
          'OFFSET_OUT_OF_RANGE',
        );
        await rejectsWith(
          client.subscriptions.seek('log', 'r', { offset: 4, partition: 0 }),
          'OFFSET_OUT_OF_RANGE',
        );
        const rest = await receiveN(subscription, 2);
        assert.deepEqual(
          rest.map((message) => message.text()),
          ['m1', 'm2'],
        );
        for (const message of rest) await message.ack();
        await client.subscriptions.seek('log', 'r', { offset: 0 });
        const replayed = await receiveN(subscription, 3);
        for (const message of replayed) await message.ack();
        await client.subscriptions.seek('log', 'r', { offset: 3 });
        await expectNothing(subscription);
        await client.publish('log', 'next');
        const [next] = await receiveN(subscription, 1);
        assert.equal(next!.text(), 'next');
        await next!.ack();
      }));

    test('an offset below what retention kept starts at the earliest message kept (start and seek)', () =>
      withBroker(factory, async ({ client }) => {
        await client.streams.create('recent', { subjects: ['recent'], maxMessages: 3 });
        for (let index = 0; index < 6; index++) await client.publish('recent', `r${index}`);
        const texts = (messages: { text(): string }[]): string[] =>
          messages.map((message) => message.text());
        const fromZero = await client.subscribe('recent', {
          subscription: 'z',
          start: { offset: 0 },
        });
        const started = await receiveN(fromZero, 3);
        assert.deepEqual(texts(started), ['r3', 'r4', 'r5']);
        for (const message of started) await message.ack();
        await expectNothing(fromZero);
        await client.subscriptions.seek('recent', 'z', { offset: 1 });
        const replayed = await receiveN(fromZero, 3);
        assert.deepEqual(texts(replayed), ['r3', 'r4', 'r5']);
        for (const message of replayed) await message.ack();
      }));
  });
}
