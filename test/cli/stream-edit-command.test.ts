/** `weir stream edit`: changes a live stream through streams.update and prints its new state. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { withCli } from './cli-fixture.js';

test('weir stream edit changes limits, ttl and subjects; none clears a limit', () =>
  withCli(async ({ client, run }) => {
    await client.streams.create('orders', { subjects: ['orders.eu'], fsync: 'never' });
    for (let index = 0; index < 4; index++) await client.publish('orders.eu', `o${index}`);
    const edited = await run([
      'stream',
      'edit',
      'orders',
      '--subjects',
      'orders.eu,orders.us',
      '--max-messages',
      '2',
      '--max-age-ms',
      '60000',
      '--ttl-ms',
      '5000',
      '--overflow',
      'reject-new',
    ]);
    assert.equal(edited.code, 0, edited.stderr);
    assert.match(edited.stdout, /^subjects +orders\.eu, orders\.us$/m);
    assert.match(
      edited.stdout,
      /^limits +max age 60000 ms, max bytes none, max messages 2, overflow reject-new$/m,
    );
    assert.match(edited.stdout, /ttl 5000 ms/);
    assert.match(edited.stdout, /^stored +2 messages, /m);
    const config = (await client.streams.info('orders')).config;
    assert.equal(config.maxMessages, 2);
    assert.equal(config.ttlMs, 5000);

    const cleared = await run(['stream', 'edit', 'orders', '--max-messages', 'none', '--json']);
    assert.equal(cleared.code, 0, cleared.stderr);
    assert.equal(
      (JSON.parse(cleared.stdout) as { config: { maxMessages: unknown } }).config.maxMessages,
      null,
    );
  }));

test('weir stream edit refuses a bad value and an empty edit', () =>
  withCli(async ({ client, run }) => {
    await client.streams.create('orders', { fsync: 'never' });
    const bad = await run(['stream', 'edit', 'orders', '--max-bytes', 'lots']);
    assert.notEqual(bad.code, 0);
    assert.match(bad.stderr, /max-bytes must be an integer ≥ 1, or none/);
    const fixed = await run(['stream', 'edit', 'orders', '--partitions', '2']);
    assert.notEqual(fixed.code, 0, 'partitions cannot be edited');
    const empty = await run(['stream', 'edit', 'orders']);
    assert.equal(empty.code, 2, 'bad usage');
    assert.match(empty.stderr, /INVALID_ARGUMENT: nothing to change/);
    const missing = await run(['stream', 'edit', 'nope', '--max-messages', '1']);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /STREAM_NOT_FOUND/);
  }));
