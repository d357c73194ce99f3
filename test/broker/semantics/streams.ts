/** The streams API: create (idempotent), info, list, update, delete, purge; options validated. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  expectNothing,
  receiveN,
  rejectsWith,
  withBroker,
  type HarnessFactory,
} from './harness.js';

export function streamsSuite(factory: HarnessFactory): void {
  describe('streams', () => {
    test('creating the same stream again is a no-op; a different config is STREAM_EXISTS', () =>
      withBroker(factory, async ({ client }) => {
        const info = await client.streams.create('orders', {
          subjects: ['orders.>'],
          partitions: 2,
        });
        assert.equal(info.config.partitions, 2);
        assert.equal(info.config.fsync, 'always');
        assert.equal(info.config.dedupWindowMs, 120_000);
        const again = await client.streams.create('orders', {
          partitions: 2,
          subjects: ['orders.>'],
          fsync: 'always',
        });
        assert.deepEqual(again.config, info.config);
        await rejectsWith(
          client.streams.create('orders', { subjects: ['orders.>'], partitions: 3 }),
          'STREAM_EXISTS',
        );
      }));

    test('bad names and options are INVALID_ARGUMENT naming the field', () =>
      withBroker(factory, async ({ client }) => {
        await rejectsWith(client.streams.create('a.b'), 'INVALID_ARGUMENT', /stream name/);
        await rejectsWith(client.streams.create('_sys'), 'INVALID_ARGUMENT', /stream name/);
        await rejectsWith(
          client.streams.create('s', { partitions: 0 }),
          'INVALID_ARGUMENT',
          /partitions/,
        );
        await rejectsWith(
          client.streams.create('s', { fsync: 'sometimes' as never }),
          'INVALID_ARGUMENT',
          /fsync/,
        );
        await rejectsWith(
          client.streams.create('s', { maxMessages: -1 }),
          'INVALID_ARGUMENT',
          /maxMessages/,
        );
        await rejectsWith(
          client.streams.create('s', { partition: 2 } as never),
          'INVALID_ARGUMENT',
          /partition/,
        );
        await client.streams.create('s');
        await rejectsWith(
          client.subscribe('s', { mode: 'round-robin' as never }),
          'INVALID_ARGUMENT',
          /mode/,
        );
        await rejectsWith(client.subscribe('s', { leaseMs: 0 }), 'INVALID_ARGUMENT', /leaseMs/);
        await rejectsWith(
          client.publish('s', 'x', { priority: 10 }),
          'INVALID_ARGUMENT',
          /priority/,
        );
        await rejectsWith(client.publish('s', 'x', { ttl: 5 } as never), 'INVALID_ARGUMENT', /ttl/);
        await rejectsWith(
          client.publish('s', 'x', { headers: { ':subject': 'y' } }),
          'INVALID_ARGUMENT',
          /headers/,
        );
      }));

    test('info, list and delete; a deleted stream is STREAM_NOT_FOUND and its consumers end', () =>
      withBroker(factory, async ({ client }) => {
        await client.streams.create('one', { subjects: ['one'] });
        await client.streams.create('two', { subjects: ['two'], storage: 'memory' });
        await client.publish('one', 'x');
        assert.deepEqual(
          (await client.streams.list()).map((info) => info.name),
          ['one', 'two'],
        );
        const subscription = await client.subscribe('one', { subscription: 'reader' });
        assert.deepEqual((await client.streams.info('one')).subscriptions, ['reader']);
        await client.streams.delete('one');
        assert.equal(await subscription.receive({ timeoutMs: 1000 }), null);
        await rejectsWith(client.streams.info('one'), 'STREAM_NOT_FOUND');
        await rejectsWith(client.subscribe('one'), 'STREAM_NOT_FOUND');
        await rejectsWith(client.publish('one', 'x'), 'NO_ROUTE');
        await client.streams.create('one', { subjects: ['one'] });
        assert.equal((await client.streams.info('one')).messages, 0);
      }));

    test('subscriptions: info and list; delete ends its consumers and forgets its position', () =>
      withBroker(factory, async ({ client }) => {
        await client.streams.create('jobs', { subjects: ['jobs'] });
        for (let index = 0; index < 3; index++) await client.publish('jobs', `j${index}`);
        const subscription = await client.subscribe('jobs', { subscription: 'w', maxInFlight: 2 });
        const [first] = await receiveN(subscription, 2);
        await first!.ack();
        const info = await client.subscriptions.info('jobs', 'w');
        assert.equal(info.durable, true);
        assert.equal(info.consumers, 1);
        assert.equal(info.inFlight, 2, 'the third took the place of the acked one');
        assert.equal(info.acked, 1);
        assert.deepEqual(info.partitions[0], {
          partition: 0,
          ackFloor: 1,
          durableAckFloor: 1,
          endOffset: 3,
          floorClamped: 0,
        });
        assert.deepEqual(
          (await client.subscriptions.list('jobs')).map((item) => item.name),
          ['w'],
        );
        await client.subscriptions.delete('jobs', 'w');
        assert.equal(await subscription.receive({ timeoutMs: 1000 }), null);
        await rejectsWith(client.subscriptions.info('jobs', 'w'), 'SUBSCRIPTION_NOT_FOUND');
        const again = await client.subscribe('jobs', { subscription: 'w' });
        assert.equal((await receiveN(again, 3))[0]!.text(), 'j0', 'a new subscription starts over');
      }));

    test('purge removes every message; subscriptions continue with what comes next', () =>
      withBroker(factory, async ({ client }) => {
        await client.streams.create('logs', { subjects: ['logs'], partitions: 2 });
        const subscription = await client.subscribe('logs', {
          subscription: 'reader',
          maxInFlight: 1,
        });
        for (let index = 0; index < 10; index++) await client.publish('logs', `old${index}`);
        const [first] = await receiveN(subscription, 1);
        await client.streams.purge('logs');
        assert.equal((await client.streams.info('logs')).messages, 0);
        await first!.ack();
        await client.publish('logs', 'new');
        const [next] = await receiveN(subscription, 1);
        assert.equal(next!.text(), 'new');
      }));

    test('update: a lower maxMessages applies at once, null clears it', () =>
      withBroker(factory, async ({ client }) => {
        await client.streams.create('recent', { subjects: ['recent'] });
        for (let index = 0; index < 10; index++) await client.publish('recent', `r${index}`);
        const updated = await client.streams.update('recent', { maxMessages: 3 });
        assert.equal(updated.config.maxMessages, 3);
        assert.equal(updated.messages, 3);
        assert.equal(updated.dropped, 7);
        await client.publish('recent', 'r10');
        assert.equal((await client.streams.info('recent')).messages, 3);
        const subscription = await client.subscribe('recent', { subscription: 'w' });
        assert.deepEqual(
          (await receiveN(subscription, 3)).map((message) => message.text()),
          ['r8', 'r9', 'r10'],
        );
        await expectNothing(subscription);
        const cleared = await client.streams.update('recent', { maxMessages: null });
        assert.equal(cleared.config.maxMessages, null);
        for (let index = 11; index < 16; index++) await client.publish('recent', `r${index}`);
        assert.equal((await client.streams.info('recent')).messages, 8);
      }));

    test('update: new subjects route at once, to consumers that stay connected', () =>
      withBroker(factory, async ({ client }) => {
        await client.streams.create('orders', { subjects: ['orders.eu'] });
        await client.streams.create('all', { subjects: ['orders.>'] });
        const subscription = await client.subscribe('orders', { subscription: 'w' });
        await rejectsWith(
          client.streams.update('orders', { subjects: [] }),
          'INVALID_ARGUMENT',
          /subjects/,
        );
        await rejectsWith(
          client.streams.update('orders', { subjects: ['orders.us', 'orders.us'] }),
          'INVALID_ARGUMENT',
          /subjects/,
        );
        const before = await client.publish('orders.us', 'us0');
        assert.deepEqual(
          before.streams.map((stored) => stored.stream),
          ['all'],
        );
        const updated = await client.streams.update('orders', {
          subjects: ['orders.eu', 'orders.us'],
        });
        assert.deepEqual(updated.config.subjects, ['orders.eu', 'orders.us']);
        const after = await client.publish('orders.us', 'us1');
        // The stream keeps its place in creation order.
        assert.deepEqual(
          after.streams.map((stored) => stored.stream),
          ['orders', 'all'],
        );
        const [message] = await receiveN(subscription, 1);
        assert.equal(message!.text(), 'us1');
        await client.streams.update('orders', { subjects: ['orders.us'] });
        await client.publish('orders.eu', 'eu0');
        await expectNothing(subscription);
      }));

    test('update: a new ttlMs or maxAgeMs applies at once to an open subscription', () =>
      withBroker(factory, async ({ client, clock }) => {
        await client.streams.create('quotes', { subjects: ['quotes'] });
        const subscription = await client.subscribe('quotes', {
          subscription: 'w',
          maxInFlight: 1,
        });
        for (let index = 0; index < 3; index++) await client.publish('quotes', `q${index}`);
        const [first] = await receiveN(subscription, 1);
        clock.advance(1000);
        await client.streams.update('quotes', { ttlMs: 500 });
        await first!.ack(); // q1 and q2 wait behind it, 1000 ms old: past the new ttl
        await expectNothing(subscription);
        assert.equal((await client.subscriptions.info('quotes', 'w')).expired, 2);
        await client.streams.update('quotes', { ttlMs: null, maxAgeMs: 2000 });
        await client.publish('quotes', 'q3');
        await client.publish('quotes', 'q4');
        const [third] = await receiveN(subscription, 1);
        assert.equal(third!.text(), 'q3');
        clock.advance(2001);
        await third!.ack();
        await expectNothing(subscription);
        assert.equal((await client.subscriptions.info('quotes', 'w')).expired, 3);
      }));

    test('update refuses what is fixed at creation, naming the field; changes nothing then', () =>
      withBroker(factory, async ({ client }) => {
        await client.streams.create('fixed', { subjects: ['fixed'], maxMessages: 5 });
        await rejectsWith(
          client.streams.update('fixed', { partitions: 2 } as never),
          'INVALID_ARGUMENT',
          /partitions/,
        );
        for (const field of ['storage', 'retention', 'fsync', 'segmentBytes']) {
          await rejectsWith(
            client.streams.update('fixed', { [field]: 'x', maxMessages: 1 }),
            'INVALID_ARGUMENT',
            new RegExp(field),
          );
        }
        await rejectsWith(
          client.streams.update('fixed', { maxMessages: 0 }),
          'INVALID_ARGUMENT',
          /maxMessages/,
        );
        await rejectsWith(
          client.streams.update('fixed', { ttlMs: -5 }),
          'INVALID_ARGUMENT',
          /ttlMs/,
        );
        await rejectsWith(client.streams.update('nope', { maxMessages: 1 }), 'STREAM_NOT_FOUND');
        assert.equal((await client.streams.info('fixed')).config.maxMessages, 5);
      }));

    test('update survives a restart (file stream)', (context) =>
      withBroker(factory, async ({ client, restart }) => {
        if (!restart) return context.skip('this broker cannot restart');
        await client.streams.create('kept', { subjects: ['kept'], storage: 'file' });
        const updated = await client.streams.update('kept', {
          subjects: ['kept', 'kept.>'],
          maxAgeMs: 60_000,
          maxBytes: 1_000_000,
          overflow: 'reject-new',
          dedupWindowMs: 5_000,
          maxMessageBytes: 4096,
          ttlMs: 30_000,
        });
        const reopened = await restart();
        const info = await reopened.streams.info('kept');
        assert.deepEqual(info.config, updated.config);
        assert.equal(info.config.ttlMs, 30_000);
        await reopened.publish('kept.deep', 'routed by the new subjects');
        await rejectsWith(reopened.publish('kept', new Uint8Array(5000)), 'MESSAGE_TOO_LARGE');
      }));
  });
}
