/** `weir sub`: where it starts, --start times, and ls / info / rm / seek. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { eventually } from '../broker/semantics/harness.js';
import { withCli } from './cli-fixture.js';

test('weir sub STREAM without --subscription starts at latest, like nats sub', () =>
  withCli(async ({ client, start }) => {
    await client.streams.create('events', { fsync: 'never' });
    await client.publish('events', 'old');
    const running = start(['sub', 'events', '--count', '1']);
    // Wait for its ephemeral subscription before publishing what it must see.
    await eventually(
      async () => (await client.subscriptions.list('events')).length === 1,
      undefined,
      'the CLI subscribed',
    );
    await client.publish('events', 'new');
    const result = await running.done;
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /: new$/m);
    assert.doesNotMatch(result.stdout, /old/);
  }));

test('weir sub --start takes an ISO 8601 time; garbage exits 2 naming --start', () =>
  withCli(async ({ client, run }) => {
    await client.streams.create('events', { fsync: 'never' });
    await client.publish('events', 'first');
    const fromTime = await run([
      'sub',
      'events',
      '--start',
      '2000-01-01T00:00:00Z',
      '--count',
      '1',
    ]);
    assert.equal(fromTime.code, 0, fromTime.stderr);
    assert.match(fromTime.stdout, /\[events\/0@0\] events \(delivery 1\): first/);
    const future = new Date(Date.now() + 3_600_000).toISOString();
    const fromFuture = await run(['sub', 'events', '--start', future, '--timeout-ms', '200']);
    assert.equal(fromFuture.code, 0, fromFuture.stderr);
    assert.equal(fromFuture.stdout, '');
    const garbage = await run(['sub', 'events', '--start', 'yesterday']);
    assert.equal(garbage.code, 2);
    assert.match(garbage.stderr, /INVALID_ARGUMENT: --start must be/);
  }));

test('weir sub ls / info show lag, pending, in flight and delayed; seek and rm act', () =>
  withCli(async ({ client, run }) => {
    await client.streams.create('orders', { fsync: 'never', partitions: 2 });
    const consumer = await client.subscribe('orders', { subscription: 'billing' });
    for (let index = 0; index < 4; index++)
      await client.publish('orders', `o${index}`, { key: `k${index}` });
    const held = await consumer.receive({ timeoutMs: 5000 });
    assert.ok(held);
    const list = await run(['sub', 'ls', 'orders']);
    assert.equal(list.code, 0, list.stderr);
    assert.match(
      list.stdout,
      /^billing +durable +shared +1 consumers {2}lag 4 {2}pending 4 {2}in flight \d+ {2}delayed 0$/m,
    );
    const info = await run(['sub', 'info', 'orders', 'billing']);
    assert.equal(info.code, 0, info.stderr);
    assert.match(info.stdout, /^lag +4$/m);
    assert.match(info.stdout, /^in flight +[1-9]\d*$/m);
    assert.match(info.stdout, /^delayed +0$/m);
    // One line per partition: partition, ack floor, end, lag; the lags add up to 4.
    const rows = [...info.stdout.matchAll(/^ +(\d) +(\d+) +(\d+) +(\d+)$/gm)];
    assert.equal(rows.length, 2);
    assert.equal(
      rows.reduce((sum, row) => sum + Number(row[4]), 0),
      4,
    );
    const json = await run(['sub', 'info', 'orders', 'billing', '--json']);
    assert.equal((JSON.parse(json.stdout) as { name: string }).name, 'billing');
    await held.ack();
    await consumer.close();

    const seek = await run(['sub', 'seek', 'orders', 'billing', '--start', 'latest']);
    assert.equal(seek.code, 0, seek.stderr);
    assert.equal((await client.subscriptions.info('orders', 'billing')).pending, 0);
    const badSeek = await run(['sub', 'seek', 'orders', 'billing', '--start', 'soon']);
    assert.equal(badSeek.code, 2);
    assert.match(badSeek.stderr, /--start/);

    const removed = await run(['sub', 'rm', 'orders', 'billing']);
    assert.equal(removed.code, 0, removed.stderr);
    assert.deepEqual((await client.streams.info('orders')).subscriptions, []);
    const missing = await run(['sub', 'info', 'orders', 'billing']);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /SUBSCRIPTION_NOT_FOUND/);
  }));

test('weir sub --where / --header-filter subscribe with a header filter policy; sub info shows it', () =>
  withCli(async ({ client, run }) => {
    await client.streams.create('orders', { fsync: 'never' });
    await client.publish('orders', 'cheap', { headers: { kind: 'created', price: '20' } });
    await client.publish('orders', 'cancelled', {
      headers: { kind: 'created', price: '150', status: 'cancelled' },
    });
    await client.publish('orders', 'shipped', { headers: { kind: 'shipped', price: '150' } });
    // anything-but needs the header: without a status, 'big' would not match status!=cancelled.
    await client.publish('orders', 'big', {
      headers: { kind: 'updated', price: '150', status: 'new' },
    });
    const result = await run([
      'sub',
      'orders',
      '--subscription',
      'big',
      '--where',
      'kind in created,updated',
      '--where',
      'price>=100',
      '--where',
      'price<200',
      '--where',
      'status!=cancelled',
      '--count',
      '1',
    ]);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /\[orders\/0@3\] orders \(delivery 1\): big$/m);
    const info = await client.subscriptions.info('orders', 'big');
    assert.deepEqual(info.config.headerFilter, {
      kind: ['created', 'updated'],
      price: [{ numeric: ['>=', 100, '<', 200] }],
      status: [{ 'anything-but': ['cancelled'] }],
    });
    const shown = await run(['sub', 'info', 'orders', 'big']);
    assert.equal(shown.code, 0, shown.stderr);
    assert.match(
      shown.stdout,
      /^header filter {2}\(kind=created or kind=updated\) and price>=100 and price<200 and status not in cancelled$/m,
    );

    const json = await run([
      'sub',
      'orders',
      '--subscription',
      'json',
      '--header-filter',
      '{"kind":[{"prefix":"ship"}]}',
      '--count',
      '1',
    ]);
    assert.equal(json.code, 0, json.stderr);
    assert.match(json.stdout, /: shipped$/m);

    // Refused by the CLI's parser, and by the broker (the same INVALID_ARGUMENT, exit 2).
    const bad = await run(['sub', 'orders', '--where', 'price>=cheap']);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /INVALID_ARGUMENT: --where "price>=cheap": >= needs a finite decimal/);
    const badJson = await run([
      'sub',
      'orders',
      '--header-filter',
      '{"price":[{"numeric":[">",5,"<",1]}]}',
    ]);
    assert.equal(badJson.code, 2);
    assert.match(
      badJson.stderr,
      /INVALID_ARGUMENT: headerFilter\.price\[0\]\.numeric is an empty range/,
    );
  }));

test('weir sub add creates a durable subscription with a header filter without consuming', () =>
  withCli(async ({ client, run }) => {
    await client.streams.create('orders', { fsync: 'never' });
    await client.publish('orders', 'no', { headers: { kind: 'deleted' } });
    await client.publish('orders', 'yes', { headers: { kind: 'created', sku: 'AB-1' } });
    const args = ['sub', 'add', 'orders', 'picked', '--where', 'kind in created,updated'];
    const added = await run([...args, '--where', 'sku^=AB-']);
    assert.equal(added.code, 0, added.stderr);
    assert.match(added.stdout, /^picked +durable +shared +0 consumers/m);
    const info = await client.subscriptions.info('orders', 'picked');
    assert.deepEqual(info.config.headerFilter, {
      kind: ['created', 'updated'],
      sku: [{ prefix: 'AB-' }],
    });
    assert.equal(info.delivered, 0);

    const again = await run([...args, '--where', 'sku^=AB-']);
    assert.equal(again.code, 0, again.stderr);
    const other = await run(args);
    assert.equal(other.code, 1);
    assert.match(other.stderr, /SUBSCRIPTION_EXISTS/);

    const consumer = await client.subscribe('orders', { subscription: 'picked' });
    const message = await consumer.receive({ timeoutMs: 5000 });
    assert.equal(message?.text(), 'yes');
    assert.equal(message.deliveryCount, 1, 'sub add delivered nothing');
    await message.ack();
    assert.equal(await consumer.receive({ timeoutMs: 150 }), null);
    await consumer.close();
  }));

test('weir sub add --fair-by and --rate-limit create them; sub info shows them; a bad value exits 2', () =>
  withCli(async ({ client, run }) => {
    await client.streams.create('jobs', { fsync: 'never' });
    const add = await run([
      'sub',
      'add',
      'jobs',
      'fair',
      '--fair-by',
      'header:tenant',
      '--rate-limit',
      '50/s,by=key,burst=5',
    ]);
    assert.equal(add.code, 0, add.stderr);
    const stored = await client.subscriptions.info('jobs', 'fair');
    assert.deepEqual(stored.config.fairBy, { header: 'tenant' });
    assert.deepEqual(stored.config.rateLimit, { perSecond: 50, by: 'key', burst: 5 });
    const info = await run(['sub', 'info', 'jobs', 'fair']);
    assert.equal(info.code, 0, info.stderr);
    assert.match(info.stdout, /^fair by +header tenant$/m);
    assert.match(info.stdout, /^rate limit +50\/s per key, burst 5$/m);
    const plain = await run(['sub', 'add', 'jobs', 'plain', '--rate-limit', '2']);
    assert.equal(plain.code, 0, plain.stderr);
    assert.deepEqual((await client.subscriptions.info('jobs', 'plain')).config.rateLimit, {
      perSecond: 2,
      by: null,
      burst: 1,
    });
    const badGroup = await run(['sub', 'add', 'jobs', 'bad', '--fair-by', 'tenant']);
    assert.equal(badGroup.code, 2);
    assert.match(badGroup.stderr, /--fair-by must be key or header:NAME/);
    const badRate = await run(['sub', 'add', 'jobs', 'bad', '--rate-limit', 'fast']);
    assert.equal(badRate.code, 2);
    assert.match(badRate.stderr, /--rate-limit must start with a rate/);
  }));
