/** Subject routing: streams capture by pattern, fan-out, subscription subject and header filters. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  HEADER_FILTER_NAMES_MAX,
  HEADER_FILTER_STRING_BYTES_MAX,
  HEADER_FILTER_VALUES_PER_NAME_MAX,
} from '../../../src/limits.js';
import type { Client, HeaderFilter, Headers } from '../../../src/protocol/index.js';
import {
  expectNothing,
  receiveN,
  rejectsWith,
  withBroker,
  type HarnessFactory,
} from './harness.js';

/**
 * Subscribes `name` (a stream of its own) with `policy`, publishes one message per case (body:
 * its index) and checks that exactly the cases marked true are delivered, in order.
 */
async function expectRouted(
  client: Client,
  name: string,
  policy: HeaderFilter,
  cases: readonly (readonly [Headers | undefined, boolean])[],
): Promise<void> {
  await client.streams.create(name, { subjects: [name] });
  const subscription = await client.subscribe(name, { subscription: name, headerFilter: policy });
  for (const [index, [headers]] of cases.entries()) {
    await client.publish(name, String(index), headers === undefined ? {} : { headers });
  }
  const expected = cases.flatMap(([, wanted], index) => (wanted ? [String(index)] : []));
  const got = await receiveN(subscription, expected.length);
  for (const message of got) await message.ack();
  assert.deepEqual(
    got.map((message) => message.text()),
    expected,
    `${name}: delivered cases of ${JSON.stringify(policy)}`,
  );
  await expectNothing(subscription);
  await subscription.close();
}

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

  describe('header filter policies', () => {
    test('a plain string is an exact match (the original form), and is stored unchanged', () =>
      withBroker(factory, async ({ client }) => {
        await expectRouted(client, 'exact', { region: 'eu', kind: ['created'] }, [
          [{ region: 'eu', kind: 'created' }, true],
          [{ region: 'EU', kind: 'created' }, false], // case matters
          [{ region: 'eu ', kind: 'created' }, false],
          [{ region: 'eu' }, false],
          [{ kind: 'created' }, false],
          [undefined, false],
        ]);
        const info = await client.subscriptions.info('exact', 'exact');
        assert.deepEqual(info.config.headerFilter, { kind: ['created'], region: 'eu' });
      }));

    test('a list of values matches any of them (OR within a name)', () =>
      withBroker(factory, async ({ client }) => {
        await expectRouted(client, 'any-of', { kind: ['created', 'updated'] }, [
          [{ kind: 'created' }, true],
          [{ kind: 'deleted' }, false],
          [{ kind: 'updated' }, true],
          [{ kind: '' }, false],
          [{ other: 'created' }, false],
        ]);
      }));

    test('every name must match (AND across names)', () =>
      withBroker(factory, async ({ client }) => {
        await expectRouted(
          client,
          'and',
          { region: ['eu', 'us'], sku: [{ prefix: 'AB-' }], price: [{ numeric: ['>', 0] }] },
          [
            [{ region: 'eu', sku: 'AB-1', price: '3' }, true],
            [{ region: 'jp', sku: 'AB-1', price: '3' }, false],
            [{ region: 'us', sku: 'XY-1', price: '3' }, false],
            [{ region: 'us', sku: 'AB-2', price: '0' }, false],
            [{ region: 'us', sku: 'AB-2' }, false],
            [{ region: 'us', sku: 'AB-2', price: '0.5', extra: 'x' }, true],
          ],
        );
      }));

    test('prefix matches values that start with it', () =>
      withBroker(factory, async ({ client }) => {
        await expectRouted(client, 'prefix', { sku: [{ prefix: 'AB-' }] }, [
          [{ sku: 'AB-123' }, true],
          [{ sku: 'AB-' }, true],
          [{ sku: 'ab-123' }, false],
          [{ sku: 'XAB-1' }, false],
          [{ sku: 'AB' }, false],
          [undefined, false],
        ]);
      }));

    test('exists: true matches a present header, exists: false an absent one', () =>
      withBroker(factory, async ({ client }) => {
        await expectRouted(
          client,
          'exists',
          { trace: [{ exists: true }], debug: [{ exists: false }] },
          [
            [{ trace: 't1' }, true],
            [{ trace: '' }, true], // present, even empty
            [{ trace: 't2', debug: 'on' }, false],
            [{ trace: 't3', debug: '' }, false],
            [{ debug: 'on' }, false],
            [undefined, false],
          ],
        );
        // Unlike SNS, exists: false also matches a message without any header.
        await expectRouted(client, 'absent', { debug: [{ exists: false }] }, [
          [undefined, true],
          [{ debug: 'on' }, false],
          [{ other: 'x' }, true],
        ]);
      }));

    test('anything-but matches a present header that is none of the values; an absent one does not match', () =>
      withBroker(factory, async ({ client }) => {
        await expectRouted(
          client,
          'but-list',
          { status: [{ 'anything-but': ['cancelled', 'failed'] }] },
          [
            [{ status: 'paid' }, true],
            [{ status: 'cancelled' }, false],
            [{ status: 'failed' }, false],
            [{ status: '' }, true],
            [undefined, false], // as in SNS: anything-but needs the header
            [{ other: 'paid' }, false],
          ],
        );
        await expectRouted(client, 'but-one', { status: [{ 'anything-but': 'x' }] }, [
          [{ status: 'x' }, false],
          [{ status: 'y' }, true],
          [{ status: 'xx' }, true],
        ]);
        await expectRouted(
          client,
          'but-prefix',
          { env: [{ 'anything-but': { prefix: 'test-' } }] },
          [
            [{ env: 'test-1' }, false],
            [{ env: 'prod' }, true],
            [{ env: 'test' }, true],
            [{}, false],
          ],
        );
      }));

    test('numeric ranges include or exclude their edges as the operators say', () =>
      withBroker(factory, async ({ client }) => {
        await expectRouted(client, 'range', { price: [{ numeric: ['>=', 100, '<', 200] }] }, [
          [{ price: '99.999' }, false],
          [{ price: '100' }, true],
          [{ price: '100.0' }, true],
          [{ price: '1e2' }, true],
          [{ price: '199.999' }, true],
          [{ price: '200' }, false],
          [{ price: '-150' }, false],
        ]);
        await expectRouted(client, 'equal', { size: [{ numeric: ['=', 5] }] }, [
          [{ size: '5' }, true],
          [{ size: '5.00' }, true],
          [{ size: '+5' }, true],
          [{ size: '5.01' }, false],
          [{ size: '4' }, false],
        ]);
        await expectRouted(
          client,
          'open',
          { low: [{ numeric: ['>', 0] }], high: [{ numeric: ['<=', 10] }] },
          [
            [{ low: '0', high: '1' }, false],
            [{ low: '0.001', high: '10' }, true],
            [{ low: '1', high: '10.001' }, false],
            [{ low: '1', high: '-1000' }, true],
          ],
        );
      }));

    test('a header that is not a finite decimal number never matches a numeric condition', () =>
      withBroker(factory, async ({ client }) => {
        await expectRouted(client, 'not-number', { n: [{ numeric: ['>', -1e300] }] }, [
          [{ n: '1' }, true],
          [{ n: 'abc' }, false],
          [{ n: '' }, false],
          [{ n: ' 1' }, false],
          [{ n: '0x10' }, false],
          [{ n: 'Infinity' }, false],
          [{ n: '1e400' }, false],
          [{ n: 'NaN' }, false],
          [{ n: '1,5' }, false],
          [{ n: '.5' }, true],
          [undefined, false],
        ]);
      }));

    test('one name may mix conditions of every kind: any one holding matches', () =>
      withBroker(factory, async ({ client }) => {
        await expectRouted(
          client,
          'mixed',
          { tag: ['a', { prefix: 'b' }, { numeric: ['>=', 10, '<=', 20] }] },
          [
            [{ tag: 'a' }, true],
            [{ tag: 'bee' }, true],
            [{ tag: '15' }, true],
            [{ tag: '21' }, false],
            [{ tag: 'c' }, false],
            [{ tag: 'ab' }, false],
          ],
        );
      }));

    test('invalid policies are refused with INVALID_ARGUMENT naming the bad part', () =>
      withBroker(factory, async ({ client }) => {
        await client.streams.create('bad', { subjects: ['bad'] });
        const refused: [unknown, RegExp][] = [
          ['eu', /headerFilter must be an object/],
          [{ kind: 5 }, /headerFilter\.kind must be/],
          [{ kind: [] }, /headerFilter\.kind must list at least one condition/],
          [{ kind: [1] }, /headerFilter\.kind\[0\] must be a string/],
          [{ kind: ['a', null] }, /headerFilter\.kind\[1\] must be/],
          [{ sku: [{ prefix: '' }] }, /headerFilter\.sku\[0\]\.prefix must be a non-empty string/],
          [
            { sku: [{ prefix: 'a', exists: true }] },
            /headerFilter\.sku\[0\] must hold exactly one/,
          ],
          [{ sku: [{ contains: 'a' }] }, /headerFilter\.sku\[0\] must hold exactly one/],
          [
            { trace: [{ exists: 'yes' }] },
            /headerFilter\.trace\[0\]\.exists must be true or false/,
          ],
          [
            { status: [{ 'anything-but': [] }] },
            /headerFilter\.status\[0\]\.anything-but must list/,
          ],
          [
            { status: [{ 'anything-but': ['a', 2] }] },
            /headerFilter\.status\[0\]\.anything-but\[1\] must be a string/,
          ],
          [
            { status: [{ 'anything-but': { suffix: 'x' } }] },
            /headerFilter\.status\[0\]\.anything-but must be \{ prefix/,
          ],
          [
            { price: [{ numeric: ['>=', '100'] }] },
            /headerFilter\.price\[0\]\.numeric\[1\] must be a finite number/,
          ],
          [{ price: [{ numeric: ['>', 1, '<'] }] }, /headerFilter\.price\[0\]\.numeric must be/],
          [{ price: [{ numeric: ['<', 1, '>', 0] }] }, /headerFilter\.price\[0\]\.numeric must be/],
          [{ price: [{ numeric: ['=', 1, '<', 2] }] }, /headerFilter\.price\[0\]\.numeric must be/],
          [
            { price: [{ numeric: ['>', 5, '<', 5] }] },
            /headerFilter\.price\[0\]\.numeric is an empty range/,
          ],
          [{ price: [{ numeric: ['~', 5] }] }, /headerFilter\.price\[0\]\.numeric must be/],
          [{ price: [{ numeric: 5 }] }, /headerFilter\.price\[0\]\.numeric must be/],
          [{ '': 'x' }, /headerFilter has a bad header name/],
          [
            { long: 'x'.repeat(HEADER_FILTER_STRING_BYTES_MAX + 1) },
            /headerFilter\.long is longer than/,
          ],
          [
            Object.fromEntries(
              Array.from({ length: HEADER_FILTER_NAMES_MAX + 1 }, (_, index) => [`h${index}`, 'x']),
            ),
            /headerFilter tests more than/,
          ],
          [
            {
              many: Array.from(
                { length: HEADER_FILTER_VALUES_PER_NAME_MAX + 1 },
                (_, index) => `v${index}`,
              ),
            },
            /headerFilter\.many holds more than/,
          ],
        ];
        for (const [policy, message] of refused) {
          await rejectsWith(
            client.subscribe('bad', { subscription: 'bad', headerFilter: policy as HeaderFilter }),
            'INVALID_ARGUMENT',
            message,
          );
        }
        // Nothing refused was created.
        assert.deepEqual(await client.subscriptions.list('bad'), []);
      }));

    test('a durable subscription keeps its policy across a restart', (context) =>
      withBroker(factory, async ({ client, restart }) => {
        if (!restart) return context.skip('this broker cannot restart');
        const policy: HeaderFilter = {
          status: [{ 'anything-but': ['cancelled'] }],
          price: [{ numeric: ['>=', 100, '<', 200] }],
          region: 'eu',
        };
        await client.streams.create('orders', { subjects: ['orders'] });
        const before = await client.subscribe('orders', {
          subscription: 'big',
          headerFilter: policy,
        });
        await before.close();
        const reopened = await restart();
        const info = await reopened.subscriptions.info('orders', 'big');
        assert.deepEqual(info.config.headerFilter, {
          price: [{ numeric: ['>=', 100, '<', 200] }],
          region: 'eu',
          status: [{ 'anything-but': ['cancelled'] }],
        });
        // The same policy with its names in another order is the same configuration.
        const again = await reopened.subscribe('orders', {
          subscription: 'big',
          headerFilter: { region: 'eu', price: policy.price!, status: policy.status! },
        });
        await rejectsWith(
          reopened.subscribe('orders', { subscription: 'big', headerFilter: { region: 'us' } }),
          'SUBSCRIPTION_EXISTS',
        );
        await reopened.publish('orders', 'cheap', { headers: { region: 'eu', price: '5' } });
        await reopened.publish('orders', 'fits', {
          headers: { region: 'eu', price: '150', status: 'new' },
        });
        await reopened.publish('orders', 'gone', {
          headers: { region: 'eu', price: '150', status: 'cancelled' },
        });
        const [message] = await receiveN(again, 1);
        assert.equal(message!.text(), 'fits');
        await message!.ack();
        await expectNothing(again);
      }));
  });
}
