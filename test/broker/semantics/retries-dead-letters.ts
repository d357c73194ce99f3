/** nack with delay, backoff, term, maxDeliveries, dead letters: headers, list, redrive (and where to). */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { DEAD_LETTER_HEADERS } from '../../../src/protocol/index.js';
import {
  eventually,
  expectNothing,
  receiveN,
  rejectsWith,
  withBroker,
  type HarnessFactory,
} from './harness.js';

export function retriesDeadLettersSuite(factory: HarnessFactory): void {
  describe('retries and dead letters', () => {
    test('nack with a delay offers the message again only after it', () =>
      withBroker(factory, async ({ client, clock }) => {
        await client.streams.create('tasks', { subjects: ['tasks'] });
        const subscription = await client.subscribe('tasks', { subscription: 'w' });
        await client.publish('tasks', 'retry me');
        const [first] = await receiveN(subscription, 1);
        await first!.nack({ delayMs: 300 });
        clock.advance(299);
        await expectNothing(subscription);
        clock.advance(1);
        const [second] = await receiveN(subscription, 1);
        assert.equal(second!.deliveryCount, 2);
        await second!.ack();
      }));

    test('the backoff spaces the attempts (a list of delays)', () =>
      withBroker(factory, async ({ client, clock }) => {
        await client.streams.create('tasks', { subjects: ['tasks'] });
        const subscription = await client.subscribe('tasks', {
          subscription: 'w',
          backoff: [100, 300],
        });
        await client.publish('tasks', 'flaky');
        const [first] = await receiveN(subscription, 1);
        await first!.nack();
        clock.advance(99);
        await expectNothing(subscription);
        clock.advance(1);
        const [second] = await receiveN(subscription, 1);
        assert.equal(second!.deliveryCount, 2);
        await second!.nack();
        clock.advance(299);
        await expectNothing(subscription);
        clock.advance(1);
        const [third] = await receiveN(subscription, 1);
        assert.equal(third!.deliveryCount, 3);
        await third!.ack();
      }));

    test('a delayed retry does not count against maxInFlight', () =>
      withBroker(factory, async ({ client }) => {
        await client.streams.create('tasks', { subjects: ['tasks'] });
        const subscription = await client.subscribe('tasks', { subscription: 'w', maxInFlight: 1 });
        await client.publish('tasks', 'a');
        await client.publish('tasks', 'b');
        const [a] = await receiveN(subscription, 1);
        await a!.nack({ delayMs: 10_000 });
        const [b] = await receiveN(subscription, 1, 1000);
        assert.equal(b!.text(), 'b');
        await b!.ack();
        const info = await client.subscriptions.info('tasks', 'w');
        assert.equal(info.delayed, 1);
        assert.equal(info.inFlight, 0);
      }));

    test('after maxDeliveries the message is dead-lettered with headers that say why', () =>
      withBroker(factory, async ({ client }) => {
        await client.streams.create('orders', { subjects: ['orders.>'] });
        await client.streams.create('dead', { subjects: ['dead.>'] });
        const subscription = await client.subscribe('orders', {
          subscription: 'billing',
          maxDeliveries: 2,
          deadLetter: 'dead.orders',
          backoff: [0],
        });
        const receipt = await client.publish('orders.eu.created', 'poison', {
          key: 'k1',
          headers: { trace: 't-1' },
        });
        for (let attempt = 1; attempt <= 2; attempt++) {
          const [message] = await receiveN(subscription, 1);
          assert.equal(message!.deliveryCount, attempt);
          await message!.nack();
        }
        await expectNothing(subscription);
        const deadReader = await client.subscribe('dead', { subscription: 'inspect' });
        const [dead] = await receiveN(deadReader, 1);
        assert.equal(dead!.subject, 'dead.orders');
        assert.equal(dead!.text(), 'poison');
        assert.equal(dead!.key, 'k1');
        assert.equal(dead!.headers.trace, 't-1');
        assert.equal(dead!.headers[DEAD_LETTER_HEADERS.reason], 'max-deliveries');
        assert.equal(dead!.headers[DEAD_LETTER_HEADERS.deliveries], '2');
        assert.equal(dead!.headers[DEAD_LETTER_HEADERS.error], 'nacked');
        assert.equal(dead!.headers[DEAD_LETTER_HEADERS.originStream], 'orders');
        assert.equal(dead!.headers[DEAD_LETTER_HEADERS.originSubject], 'orders.eu.created');
        assert.equal(dead!.headers[DEAD_LETTER_HEADERS.originPartition], String(receipt.partition));
        assert.equal(dead!.headers[DEAD_LETTER_HEADERS.originOffset], String(receipt.offset));
        const info = await client.subscriptions.info('orders', 'billing');
        assert.equal(info.deadLettered, 1);
        assert.equal(info.pending, 0);
      }));

    test('term(reason) dead-letters at once with reason terminated and the error text', () =>
      withBroker(factory, async ({ client }) => {
        await client.streams.create('orders', { subjects: ['orders.>'] });
        await client.streams.create('dead', { subjects: ['dead.>'] });
        const subscription = await client.subscribe('orders', {
          subscription: 'b',
          deadLetter: 'dead.orders',
        });
        await client.publish('orders.x', 'bad input');
        const [message] = await receiveN(subscription, 1);
        await message!.term('schema mismatch: field "total" missing');
        const [dead] = await client.deadLetters.list('dead.orders');
        assert.ok(dead);
        assert.equal(dead.reason, 'terminated');
        assert.equal(dead.error, 'schema mismatch: field "total" missing');
        assert.equal(dead.deliveries, 1);
        assert.equal(dead.origin.stream, 'orders');
        assert.equal(Buffer.from(dead.body).toString(), 'bad input');
        await expectNothing(subscription);
      }));

    test('dead letters can be listed and re-driven to their origin at a bounded rate', () =>
      withBroker(factory, async ({ client, clock }) => {
        await client.streams.create('orders', { subjects: ['orders.>'] });
        await client.streams.create('dead', { subjects: ['dead.>'] });
        const subscription = await client.subscribe('orders', {
          subscription: 'b',
          deadLetter: 'dead.orders',
        });
        for (let index = 0; index < 6; index++)
          await client.publish('orders.x', `o${index}`, { headers: { n: String(index) } });
        for (const message of await receiveN(subscription, 6)) await message.term('later');
        await eventually(async () => (await client.deadLetters.list('dead.orders')).length === 6);
        const listed = await client.deadLetters.list('dead.orders', { limit: 4 });
        assert.equal(listed.length, 4);
        // 5 at 20/s: one at once, then one every 50 ms of the broker's clock.
        const redriving = client.deadLetters.redrive('dead.orders', {
          limit: 5,
          ratePerSecond: 20,
        });
        const back = await receiveN(subscription, 1);
        await expectNothing(subscription); // the clock has not moved: the pace holds the rest
        for (let index = 1; index < 5; index++) {
          clock.advance(50);
          back.push(...(await receiveN(subscription, 1)));
        }
        assert.equal((await redriving).redriven, 5);
        assert.deepEqual(
          back.map((message) => [message.subject, message.text(), message.headers]),
          [0, 1, 2, 3, 4].map((index) => ['orders.x', `o${index}`, { n: String(index) }]),
        );
        for (const message of back) await message.ack();
        const left = await client.deadLetters.list('dead.orders');
        assert.deepEqual(
          left.map((dead) => Buffer.from(dead.body).toString()),
          ['o5'],
        );
        assert.equal((await client.deadLetters.redrive('dead.orders')).redriven, 1);
        assert.equal((await client.deadLetters.list('dead.orders')).length, 0);
      }));

    test('redrive returns a dead letter to the subscription it died in only (of the durable ones), in its partition, as it was', () =>
      withBroker(factory, async ({ client }) => {
        await client.streams.create('orders', { subjects: ['orders.>'], partitions: 3 });
        await client.streams.create('dead', { subjects: ['dead.>'] });
        const billing = await client.subscribe('orders', {
          subscription: 'billing',
          deadLetter: 'dead.orders',
        });
        const audit = await client.subscribe('orders', { subscription: 'audit' });
        await client.publish('orders.eu', 'warm-up'); // the next keyless one goes elsewhere
        const receipt = await client.publish('orders.eu.created', 'poison', {
          headers: { trace: 't-1' },
          priority: 3,
          correlationId: 'c-1',
        });
        for (const message of await receiveN(audit, 2)) await message.ack();
        const taken = await receiveN(billing, 2);
        await taken.find((message) => message.text() === 'warm-up')!.ack();
        await taken.find((message) => message.text() === 'poison')!.term('later');
        await eventually(async () => (await client.deadLetters.list('dead.orders')).length === 1);
        const [dead] = await client.deadLetters.list('dead.orders');
        assert.equal(dead!.origin.subscription, 'billing');
        assert.equal(dead!.origin.partition, receipt.partition);
        const tap = await client.subscribe('orders', {}); // ephemeral: sees the stream as stored

        assert.deepEqual(await client.deadLetters.redrive('dead.orders'), {
          redriven: 1,
          skipped: 0,
        });
        const [back] = await receiveN(billing, 1);
        assert.equal(back!.text(), 'poison');
        assert.equal(back!.subject, 'orders.eu.created');
        assert.deepEqual(back!.headers, { trace: 't-1' });
        assert.equal(back!.priority, 3);
        assert.equal(back!.correlationId, 'c-1');
        assert.equal(back!.partition, receipt.partition, 'keyless: its original partition');
        assert.equal(back!.deliveryCount, 1);
        await back!.ack();
        assert.equal((await receiveN(tap, 1))[0]!.text(), 'poison');
        await tap.close();
        await expectNothing(audit);
        await eventually(
          async () => (await client.subscriptions.info('orders', 'audit')).pending === 0,
          2000,
          'audit passed over the re-driven copy',
        );
        assert.equal((await client.deadLetters.list('dead.orders')).length, 0);
      }));

    test("redrive to: 'stream' reaches every subscription of the origin stream, to: 'subject' every stream capturing the subject", () =>
      withBroker(factory, async ({ client }) => {
        await client.streams.create('orders', { subjects: ['orders.>'] });
        await client.streams.create('archive', { subjects: ['orders.>'] });
        await client.streams.create('dead', { subjects: ['dead.>'] });
        const billing = await client.subscribe('orders', {
          subscription: 'billing',
          deadLetter: 'dead.orders',
        });
        const audit = await client.subscribe('orders', { subscription: 'audit' });
        const archive = await client.subscribe('archive', { subscription: 'keeper' });
        for (const body of ['o0', 'o1']) await client.publish('orders.x', body, { key: 'k' });
        for (const message of await receiveN(audit, 2)) await message.ack();
        for (const message of await receiveN(archive, 2)) await message.ack();
        for (const message of await receiveN(billing, 2)) await message.term('later');
        await eventually(async () => (await client.deadLetters.list('dead.orders')).length === 2);

        const toStream = await client.deadLetters.redrive('dead.orders', {
          to: 'stream',
          limit: 1,
        });
        assert.equal(toStream.redriven, 1);
        for (const subscription of [billing, audit]) {
          const [message] = await receiveN(subscription, 1);
          assert.equal(message!.text(), 'o0');
          assert.equal(message!.key, 'k');
          await message!.ack();
        }
        await expectNothing(archive);

        const toSubject = await client.deadLetters.redrive('dead.orders', { to: 'subject' });
        assert.equal(toSubject.redriven, 1);
        for (const subscription of [billing, audit, archive]) {
          const [message] = await receiveN(subscription, 1);
          assert.equal(message!.text(), 'o1');
          assert.equal(message!.key, 'k');
          assert.equal(message!.headers[DEAD_LETTER_HEADERS.reason], undefined);
          await message!.ack();
        }
        await rejectsWith(
          client.deadLetters.redrive('dead.orders', { to: 'queue' as 'stream' }),
          'INVALID_ARGUMENT',
          /to/,
        );
      }));

    test('a dead letter whose subscription is gone stays in place (skipped) until re-driven elsewhere', () =>
      withBroker(factory, async ({ client }) => {
        await client.streams.create('orders', { subjects: ['orders.>'] });
        await client.streams.create('dead', { subjects: ['dead.>'] });
        const billing = await client.subscribe('orders', {
          subscription: 'billing',
          deadLetter: 'dead.orders',
        });
        const audit = await client.subscribe('orders', { subscription: 'audit' });
        await client.publish('orders.x', 'orphan');
        await (await receiveN(audit, 1))[0]!.ack();
        await (await receiveN(billing, 1))[0]!.term('later');
        await eventually(async () => (await client.deadLetters.list('dead.orders')).length === 1);
        await billing.close();
        await client.subscriptions.delete('orders', 'billing');

        assert.deepEqual(await client.deadLetters.redrive('dead.orders'), {
          redriven: 0,
          skipped: 1,
        });
        assert.equal((await client.deadLetters.list('dead.orders')).length, 1, 'still there');
        await expectNothing(audit);
        assert.deepEqual(await client.deadLetters.redrive('dead.orders', { to: 'stream' }), {
          redriven: 1,
          skipped: 0,
        });
        assert.equal((await receiveN(audit, 1))[0]!.text(), 'orphan');
      }));

    test('a dead letter written before Weir named its subscription is re-driven to its whole origin stream', () =>
      withBroker(factory, async ({ client }) => {
        await client.streams.create('orders', { subjects: ['orders.>'] });
        await client.streams.create('dead', { subjects: ['dead.>'] });
        const billing = await client.subscribe('orders', { subscription: 'billing' });
        const audit = await client.subscribe('orders', { subscription: 'audit' });
        // What an older broker wrote: the dead-letter headers without weir-origin-subscription.
        await client.publish('dead.orders', 'old', {
          headers: {
            trace: 't-9',
            [DEAD_LETTER_HEADERS.reason]: 'terminated',
            [DEAD_LETTER_HEADERS.deliveries]: '1',
            [DEAD_LETTER_HEADERS.originStream]: 'orders',
            [DEAD_LETTER_HEADERS.originSubject]: 'orders.x',
            [DEAD_LETTER_HEADERS.originPartition]: '0',
            [DEAD_LETTER_HEADERS.originOffset]: '0',
          },
        });
        const [dead] = await client.deadLetters.list('dead.orders');
        assert.equal(dead!.origin.subscription, null);
        assert.deepEqual(await client.deadLetters.redrive('dead.orders'), {
          redriven: 1,
          skipped: 0,
        });
        for (const subscription of [billing, audit]) {
          const [message] = await receiveN(subscription, 1);
          assert.equal(message!.text(), 'old');
          assert.deepEqual(message!.headers, { trace: 't-9' });
          await message!.ack();
        }
      }));

    test('messages retention drops before the subscription settled them are dead-lettered (overflow) when it asks', () =>
      withBroker(factory, async ({ client }) => {
        await client.streams.create('capped', { subjects: ['capped'], maxMessages: 3 });
        await client.streams.create('dead', { subjects: ['dead.>'] });
        const options = {
          subscription: 'keeper',
          deadLetter: 'dead.capped',
          deadLetterOverflow: true,
        };
        // The subscription exists, with no consumer, while the stream overflows.
        await (await client.subscribe('capped', options)).close();
        await (await client.subscribe('capped', { subscription: 'lossy' })).close();
        for (let index = 0; index < 5; index++) await client.publish('capped', `m${index}`);
        const keeper = await client.subscribe('capped', options);
        const kept = await receiveN(keeper, 3);
        assert.deepEqual(
          kept.map((message) => message.text()),
          ['m2', 'm3', 'm4'],
        );
        for (const message of kept) await message.ack();
        const dead = await client.subscribe('dead', { subscription: 'inspect' });
        const letters = await receiveN(dead, 2);
        assert.deepEqual(
          letters.map((letter) => [letter.text(), letter.headers[DEAD_LETTER_HEADERS.reason]]),
          [
            ['m0', 'overflow'],
            ['m1', 'overflow'],
          ],
        );
        assert.deepEqual(
          letters.map((letter) => letter.headers[DEAD_LETTER_HEADERS.originOffset]),
          ['0', '1'],
        );
        for (const letter of letters) await letter.ack();
        // Without the option the dropped messages are only counted.
        const lossy = await client.subscribe('capped', { subscription: 'lossy' });
        assert.deepEqual(
          (await receiveN(lossy, 3)).map((message) => message.text()),
          ['m2', 'm3', 'm4'],
        );
        await expectNothing(dead);
        await eventually(
          async () => (await client.subscriptions.info('capped', 'keeper')).deadLettered === 2,
          2000,
          'keeper counts two dead letters',
        );
      }));

    test('chosen dead letters can be re-driven or deleted by position; deleted ones are gone from list and redrive', () =>
      withBroker(factory, async ({ client }) => {
        await client.streams.create('orders', { subjects: ['orders.>'] });
        await client.streams.create('dead', { subjects: ['dead.>'] });
        const subscription = await client.subscribe('orders', {
          subscription: 'b',
          deadLetter: 'dead.orders',
        });
        for (let index = 0; index < 4; index++) await client.publish('orders.x', `o${index}`);
        for (const message of await receiveN(subscription, 4)) await message.term('later');
        await eventually(async () => (await client.deadLetters.list('dead.orders')).length === 4);
        const [first, second, third] = await client.deadLetters.list('dead.orders');
        const position = (dead: typeof first) => ({
          stream: dead!.stream,
          partition: dead!.partition,
          offset: dead!.offset,
        });
        const { deleted } = await client.deadLetters.delete('dead.orders', {
          only: [position(first), position(third)],
        });
        assert.equal(deleted, 2);
        assert.deepEqual(
          (await client.deadLetters.list('dead.orders')).map((dead) =>
            Buffer.from(dead.body).toString(),
          ),
          ['o1', 'o3'],
        );
        const { redriven } = await client.deadLetters.redrive('dead.orders', {
          only: [position(second)],
        });
        assert.equal(redriven, 1);
        const [back] = await receiveN(subscription, 1);
        assert.equal(back!.text(), 'o1');
        await back!.ack();
        assert.equal((await client.deadLetters.delete('dead.orders')).deleted, 1);
        assert.equal((await client.deadLetters.list('dead.orders')).length, 0);
        assert.equal((await client.deadLetters.redrive('dead.orders')).redriven, 0);
        await expectNothing(subscription);
      }));
  });
}
