/** Start positions and seek / replay by offset and by time. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { expectNothing, receiveN, withBroker, type HarnessFactory } from './harness.js';

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
  });
}
