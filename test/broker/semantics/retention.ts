/** Retention: limits (count, bytes, age; drop-oldest / reject-new), work-queue, size limit. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { RETENTION_INTERVAL_MS } from '../../../src/limits.js';
import {
  advanceUntil,
  expectNothing,
  receiveN,
  rejectsWith,
  withBroker,
  type HarnessFactory,
} from './harness.js';

export function retentionSuite(factory: HarnessFactory): void {
  describe('retention', () => {
    test('maxMessages with drop-oldest keeps the newest, counting what it drops', () =>
      withBroker(factory, async ({ client }) => {
        await client.streams.create('recent', { subjects: ['recent'], maxMessages: 5 });
        for (let index = 0; index < 12; index++) await client.publish('recent', `r${index}`);
        const info = await client.streams.info('recent');
        assert.equal(info.messages, 5);
        assert.equal(info.dropped, 7);
        const subscription = await client.subscribe('recent', { subscription: 'w' });
        const messages = await receiveN(subscription, 5);
        assert.deepEqual(
          messages.map((message) => message.text()),
          ['r7', 'r8', 'r9', 'r10', 'r11'],
        );
        await expectNothing(subscription);
      }));

    test('maxMessages with reject-new refuses with STREAM_FULL until messages go', () =>
      withBroker(factory, async ({ client }) => {
        await client.streams.create('bounded', {
          subjects: ['bounded'],
          maxMessages: 3,
          overflow: 'reject-new',
          retention: 'work-queue',
        });
        for (let index = 0; index < 3; index++) await client.publish('bounded', `b${index}`);
        await rejectsWith(client.publish('bounded', 'one too many'), 'STREAM_FULL');
        assert.equal((await client.streams.info('bounded')).rejected, 1);
        const subscription = await client.subscribe('bounded', { subscription: 'w' });
        const [first] = await receiveN(subscription, 1);
        await first!.ack();
        await client.publish('bounded', 'fits now');
      }));

    test('maxBytes with reject-new refuses with STREAM_FULL', () =>
      withBroker(factory, async ({ client }) => {
        await client.streams.create('small', {
          subjects: ['small'],
          maxBytes: 4096,
          overflow: 'reject-new',
        });
        const body = new Uint8Array(1000);
        let stored = 0;
        let refused = false;
        for (let index = 0; index < 10 && !refused; index++) {
          try {
            await client.publish('small', body);
            stored++;
          } catch (error) {
            assert.equal((error as { code?: string }).code, 'STREAM_FULL');
            refused = true;
          }
        }
        assert.ok(refused, 'the stream filled up');
        assert.ok(stored >= 2 && stored <= 4, `stored ${stored} KB-sized messages in 4 KiB`);
      }));

    test('messages older than maxAgeMs are not delivered', () =>
      withBroker(factory, async ({ client, clock }) => {
        await client.streams.create('fresh', { subjects: ['fresh'], maxAgeMs: 100 });
        await client.publish('fresh', 'old');
        clock.advance(101);
        await client.publish('fresh', 'new');
        const subscription = await client.subscribe('fresh', { subscription: 'w' });
        const [message] = await receiveN(subscription, 1);
        assert.equal(message!.text(), 'new');
        await expectNothing(subscription);
      }));

    test('a message larger than maxMessageBytes is refused with MESSAGE_TOO_LARGE', () =>
      withBroker(factory, async ({ client }) => {
        await client.streams.create('tiny', { subjects: ['tiny'], maxMessageBytes: 100 });
        await client.publish('tiny', new Uint8Array(90));
        await rejectsWith(client.publish('tiny', new Uint8Array(101)), 'MESSAGE_TOO_LARGE');
        assert.equal((await client.streams.info('tiny')).messages, 1);
      }));

    test('work-queue: an ephemeral listener neither holds messages nor makes the backlog go', () =>
      withBroker(factory, async ({ client, clock }) => {
        await client.streams.create('tasks', { subjects: ['tasks'], retention: 'work-queue' });
        for (let index = 0; index < 3; index++) await client.publish('tasks', `t${index}`);
        const listener = await client.subscribe('tasks', { start: 'latest' });
        await client.publish('tasks', 't3');
        const [heard] = await receiveN(listener, 1);
        assert.equal(heard!.text(), 't3');
        clock.advance(2 * RETENTION_INTERVAL_MS); // retention passes: the listener holds nothing
        assert.equal((await client.streams.info('tasks')).messages, 4);
        const worker = await client.subscribe('tasks', { subscription: 'w' });
        const all = await receiveN(worker, 4);
        assert.deepEqual(
          all.map((message) => message.text()),
          ['t0', 't1', 't2', 't3'],
        );
        for (const message of all) await message.ack();
        await advanceUntil(
          clock,
          RETENTION_INTERVAL_MS,
          async () => (await client.streams.info('tasks')).messages === 0,
          'the settled messages go',
        );
      }));

    test('work-queue: a message goes once every subscription has settled it', () =>
      withBroker(factory, async ({ client, clock }) => {
        await client.streams.create('tasks', { subjects: ['tasks'], retention: 'work-queue' });
        const a = await client.subscribe('tasks', { subscription: 'a' });
        const b = await client.subscribe('tasks', { subscription: 'b' });
        for (let index = 0; index < 4; index++) await client.publish('tasks', `t${index}`);
        for (const message of await receiveN(a, 4)) await message.ack();
        clock.advance(2 * RETENTION_INTERVAL_MS);
        assert.equal((await client.streams.info('tasks')).messages, 4, 'b has not settled them');
        const fromB = await receiveN(b, 4);
        await fromB[0]!.ack();
        await fromB[1]!.ack();
        await advanceUntil(
          clock,
          RETENTION_INTERVAL_MS,
          async () => (await client.streams.info('tasks')).messages === 2,
          'the settled messages go',
        );
        await fromB[2]!.ack();
        await fromB[3]!.ack();
        await advanceUntil(
          clock,
          RETENTION_INTERVAL_MS,
          async () => (await client.streams.info('tasks')).messages === 0,
          'the settled messages go',
        );
      }));
  });
}
