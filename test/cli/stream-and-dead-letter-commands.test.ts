/** `weir stream info` (human by default, --json) and `weir dlq rm`. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { withCli } from './cli-fixture.js';

test('weir stream info prints a human summary with a row per partition; --json the StreamInfo', () =>
  withCli(async ({ client, run }) => {
    await client.streams.create('orders', {
      subjects: ['orders.>'],
      partitions: 2,
      fsync: 'never',
      maxMessages: 100,
    });
    await client.publish('orders.eu', 'x', { key: 'a' });
    const human = await run(['stream', 'info', 'orders']);
    assert.equal(human.code, 0, human.stderr);
    assert.match(human.stdout, /^stream +orders$/m);
    assert.match(human.stdout, /^subjects +orders\.>$/m);
    assert.match(
      human.stdout,
      /^limits +max age none, max bytes none, max messages 100, overflow drop-oldest$/m,
    );
    assert.match(human.stdout, /^stored +1 messages, /m);
    assert.equal([...human.stdout.matchAll(/^ +[01] +0 +[01] +[01] +\d+ B$/gm)].length, 2);
    const json = await run(['stream', 'info', 'orders', '--json']);
    assert.equal(json.code, 0, json.stderr);
    assert.deepEqual(
      JSON.parse(json.stdout),
      JSON.parse(JSON.stringify(await client.streams.info('orders'))),
    );
  }));

test('weir dlq rm deletes dead letters without re-driving them', () =>
  withCli(async ({ client, run }) => {
    await client.streams.create('jobs', { fsync: 'never' });
    await client.streams.create('dead', { fsync: 'never' });
    const consumer = await client.subscribe('jobs', {
      subscription: 'workers',
      deadLetter: 'dead',
    });
    await client.publish('jobs', 'a');
    await client.publish('jobs', 'b');
    for (let index = 0; index < 2; index++) {
      const message = await consumer.receive({ timeoutMs: 5000 });
      assert.ok(message);
      await message.term('broken');
    }
    await consumer.close();
    assert.equal((await client.deadLetters.list('dead')).length, 2);
    const one = await run(['dlq', 'rm', 'dead', '--limit', '1']);
    assert.equal(one.code, 0, one.stderr);
    assert.equal(one.stdout, 'deleted 1 dead letter(s) from dead\n');
    const rest = await run(['dlq', 'rm', 'dead', '--reason', 'terminated']);
    assert.equal(rest.stdout, 'deleted 1 dead letter(s) from dead\n');
    assert.deepEqual(await client.deadLetters.list('dead'), []);
  }));
