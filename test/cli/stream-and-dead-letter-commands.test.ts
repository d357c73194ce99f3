/** `weir stream info` (human by default, --json), `weir dlq rm` and `weir dlq redrive --to`. */
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

test('weir dlq redrive sends a dead letter back to its subscription only, or with --to stream to every one', () =>
  withCli(async ({ client, run }) => {
    await client.streams.create('jobs', { fsync: 'never' });
    await client.streams.create('dead', { fsync: 'never' });
    const workers = await client.subscribe('jobs', { subscription: 'workers', deadLetter: 'dead' });
    const audit = await client.subscribe('jobs', { subscription: 'audit' });
    for (const body of ['a', 'b']) await client.publish('jobs', body);
    for (let index = 0; index < 2; index++) {
      await (await audit.receive({ timeoutMs: 5000 }))!.ack();
      await (await workers.receive({ timeoutMs: 5000 }))!.term('broken');
    }
    await workers.close();
    assert.equal((await client.deadLetters.list('dead')).length, 2);

    const bad = await run(['dlq', 'redrive', 'dead', '--to', 'queue']);
    assert.notEqual(bad.code, 0);
    assert.match(bad.stderr, /subscription, stream, subject/);
    const own = await run(['dlq', 'redrive', 'dead', '--limit', '1']);
    assert.equal(own.code, 0, own.stderr);
    assert.equal(own.stdout, 're-drove 1 dead letter(s) from dead\n');
    assert.equal(await audit.receive({ timeoutMs: 200 }), null, 'only workers gets it back');
    const all = await run(['dlq', 'redrive', 'dead', '--to', 'stream']);
    assert.equal(all.code, 0, all.stderr);
    assert.equal(all.stdout, 're-drove 1 dead letter(s) from dead\n');
    assert.equal((await audit.receive({ timeoutMs: 5000 }))?.text(), 'b');
    await audit.close();

    const gone = await client.subscribe('jobs', { subscription: 'gone', deadLetter: 'dead' });
    await client.publish('jobs', 'c');
    let message = await gone.receive({ timeoutMs: 5000 });
    while (message !== null && message.text() !== 'c') {
      await message.ack();
      message = await gone.receive({ timeoutMs: 5000 });
    }
    await message!.term('broken');
    await gone.close();
    await client.subscriptions.delete('jobs', 'gone');
    const skipped = await run(['dlq', 'redrive', 'dead']);
    assert.equal(skipped.code, 0, skipped.stderr);
    assert.match(skipped.stdout, /^re-drove 0 dead letter\(s\) from dead\nleft 1 in place: /);
    assert.equal((await client.deadLetters.list('dead')).length, 1);
  }));
