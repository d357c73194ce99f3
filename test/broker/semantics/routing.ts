/** Subject routing: streams capture by pattern, fan-out, subscription subject and header filters. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  expectNothing,
  receiveN,
  rejectsWith,
  withBroker,
  type HarnessFactory,
} from './harness.js';

export function routingSuite(factory: HarnessFactory): void {
  describe('subject routing', () => {
    test('a publish is stored in every stream whose patterns match, with * and >', () =>
      withBroker(factory, async ({ client }) => {
        await client.streams.create('all-orders', { subjects: ['orders.>'] });
        await client.streams.create('created', { subjects: ['orders.*.created'] });
        await client.streams.create('eu', { subjects: ['orders.eu.*', 'invoices.eu'] });
        await client.publish('orders.eu.created', 'a');
        await client.publish('orders.us.created', 'b');
        await client.publish('orders.eu.shipped', 'c');
        await client.publish('orders.eu.created.late', 'd'); // only `>` takes more tokens
        assert.equal((await client.streams.info('all-orders')).messages, 4);
        assert.equal((await client.streams.info('created')).messages, 2);
        assert.equal((await client.streams.info('eu')).messages, 2);
      }));

    test('a subject no stream captures is refused with NO_ROUTE', () =>
      withBroker(factory, async ({ client }) => {
        await client.streams.create('orders', { subjects: ['orders.>'] });
        await rejectsWith(client.publish('orders', 'x'), 'NO_ROUTE'); // `>` needs one more token
        await rejectsWith(client.publish('payments.done', 'x'), 'NO_ROUTE');
      }));

    test('the receipt names the first stream that captured and lists every one', () =>
      withBroker(factory, async ({ client }) => {
        await client.streams.create('first', { subjects: ['a.>'] });
        await client.streams.create('second', { subjects: ['a.b'], partitions: 2 });
        await client.publish('a.c', 'only first');
        const receipt = await client.publish('a.b', 'both');
        assert.equal(receipt.stream, 'first');
        assert.equal(receipt.offset, 1);
        assert.equal(receipt.duplicate, false);
        assert.deepEqual(
          receipt.streams.map((item) => item.stream),
          ['first', 'second'],
        );
        assert.equal(receipt.streams[0]!.offset, 1);
        assert.equal(receipt.streams[1]!.offset, 0);
      }));

    test('invalid subjects and patterns are refused with INVALID_ARGUMENT', () =>
      withBroker(factory, async ({ client }) => {
        await client.streams.create('s', { subjects: ['s.>'] });
        for (const subject of ['', 's..x', 's.*', 's.>', 's. x', '.s']) {
          await rejectsWith(client.publish(subject, 'x'), 'INVALID_ARGUMENT');
        }
        for (const pattern of ['a.>.b', 'a.b*', '', 'a..b', '_INBOX.>']) {
          await rejectsWith(
            client.streams.create('bad', { subjects: [pattern] }),
            'INVALID_ARGUMENT',
            /subjects\[0\]/,
          );
        }
      }));

    test('fan-out: each subscription of a stream gets every message', () =>
      withBroker(factory, async ({ client }) => {
        await client.streams.create('events', { subjects: ['events.>'] });
        const audit = await client.subscribe('events', { subscription: 'audit' });
        const mail = await client.subscribe('events', { subscription: 'mail' });
        for (let index = 0; index < 5; index++) await client.publish('events.x', `e${index}`);
        for (const subscription of [audit, mail]) {
          const messages = await receiveN(subscription, 5);
          assert.deepEqual(
            messages.map((message) => message.text()),
            ['e0', 'e1', 'e2', 'e3', 'e4'],
          );
          for (const message of messages) await message.ack();
        }
      }));

    test('a subscription filter delivers only the matching subjects', () =>
      withBroker(factory, async ({ client }) => {
        await client.streams.create('orders', { subjects: ['orders.>'] });
        const created = await client.subscribe('orders', {
          subscription: 'created',
          filter: 'orders.*.created',
        });
        const euOrUs = await client.subscribe('orders', {
          subscription: 'eu-us',
          filter: ['orders.eu.>', 'orders.us.>'],
        });
        await client.publish('orders.eu.created', '1');
        await client.publish('orders.eu.paid', '2');
        await client.publish('orders.jp.created', '3');
        await client.publish('orders.us.paid', '4');
        const got = await receiveN(created, 2);
        assert.deepEqual(
          got.map((message) => message.subject),
          ['orders.eu.created', 'orders.jp.created'],
        );
        await expectNothing(created);
        const got2 = await receiveN(euOrUs, 3);
        assert.deepEqual(
          got2.map((message) => message.text()),
          ['1', '2', '4'],
        );
        await expectNothing(euOrUs);
      }));

    test('a header filter routes by content', () =>
      withBroker(factory, async ({ client }) => {
        await client.streams.create('jobs', { subjects: ['jobs'] });
        const gpu = await client.subscribe('jobs', {
          subscription: 'gpu',
          headerFilter: { kind: 'gpu' },
        });
        await client.publish('jobs', 'a', { headers: { kind: 'cpu' } });
        await client.publish('jobs', 'b', { headers: { kind: 'gpu', size: 'l' } });
        await client.publish('jobs', 'c');
        const [message] = await receiveN(gpu, 1);
        assert.equal(message!.text(), 'b');
        assert.deepEqual(message!.headers, { kind: 'gpu', size: 'l' });
        await message!.ack();
        await expectNothing(gpu);
      }));

    test('publish with confirm: false resolves with an unconfirmed receipt and is still stored', () =>
      withBroker(factory, async ({ client }) => {
        await client.streams.create('metrics', { subjects: ['metrics.>'] });
        const listener = await client.subscribe('metrics', { subscription: 'all' });
        const receipt = await client.publish('metrics.cpu', '42', { confirm: false });
        assert.deepEqual(
          { stream: receipt.stream, offset: receipt.offset, streams: receipt.streams.length },
          { stream: '', offset: -1, streams: 0 },
        );
        const [message] = await receiveN(listener, 1);
        assert.equal(message!.text(), '42');
        await message!.ack();
        // A fire-and-forget publish that fails is dropped, not thrown.
        await client.publish('no.route', 'x', { confirm: false });
      }));
  });
}
