/** `weir reply SUBJECT [body]`: a responder for `request`. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { eventually } from '../broker/semantics/harness.js';
import { withCli } from './cli-fixture.js';

test('weir reply answers requests with its body, or echoes, and stops after --count', () =>
  withCli(async ({ client, start, run }) => {
    await client.streams.create('rpc', { subjects: ['rpc.>'], fsync: 'never' });
    const subscribed = async () => (await client.subscriptions.list('rpc')).length === 1;
    const fixed = start(['reply', 'rpc.price', '9.5', '--count', '2']);
    await eventually(subscribed, undefined, 'the responder subscribed');
    const replies = await Promise.all([
      client.request('rpc.price', 'tea', { timeoutMs: 5000 }),
      client.request('rpc.price', 'coffee', { timeoutMs: 5000 }),
    ]);
    assert.deepEqual(
      replies.map((reply) => reply.text()),
      ['9.5', '9.5'],
    );
    const fixedResult = await fixed.done;
    assert.equal(fixedResult.code, 0, fixedResult.stderr);
    assert.match(fixedResult.stdout, /replied to tea/);

    await eventually(async () => !(await subscribed()), undefined, 'the responder left');
    const echo = start(['reply', 'rpc.echo', '--count', '1']);
    await eventually(subscribed, undefined, 'the echo responder subscribed');
    const echoed = await client.request('rpc.echo', 'hello', { timeoutMs: 5000 });
    assert.equal(echoed.text(), 'hello');
    assert.equal((await echo.done).code, 0);

    const nowhere = await run(['reply', 'nowhere.at.all', '--count', '1']);
    assert.equal(nowhere.code, 1);
    assert.match(nowhere.stderr, /STREAM_NOT_FOUND: no stream captures nowhere.at.all/);
  }));
