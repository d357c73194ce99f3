/** `weir queue add | ls | rm`: the same queue `client.queue` makes. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { withCli } from './cli-fixture.js';

test('weir queue add makes a queue that client.queue opens; ls lists only queues; rm deletes it', () =>
  withCli(async ({ client, run }) => {
    const added = await run(['queue', 'add', 'tasks', '--fsync', 'never', '--max-deliveries', '3']);
    assert.equal(added.code, 0, added.stderr);
    assert.match(added.stdout, /^tasks +0 msgs/);
    const again = await run(['queue', 'add', 'tasks', '--fsync', 'never', '--max-deliveries', '3']);
    assert.equal(again.code, 0, again.stderr);
    const stream = await client.streams.info('tasks');
    assert.equal(stream.config.retention, 'work-queue');
    assert.deepEqual(stream.config.subjects, ['tasks', 'tasks.>']);
    const subscription = await client.subscriptions.info('tasks', 'tasks');
    assert.equal(subscription.config.maxDeliveries, 3);
    const tasks = await client.queue('tasks');
    await tasks.publish('job');
    await client.streams.create('plain', { fsync: 'never' });

    const listed = await run(['queue', 'ls']);
    assert.equal(listed.code, 0, listed.stderr);
    assert.match(listed.stdout, /^tasks +1 msgs {2}0 in flight {2}0 delayed {2}0 consumers/m);
    assert.doesNotMatch(listed.stdout, /plain/);
    const json = JSON.parse((await run(['queue', 'ls', '--json'])).stdout) as {
      name: string;
      messages: number;
    }[];
    assert.deepEqual(
      json.map((queue) => [queue.name, queue.messages]),
      [['tasks', 1]],
    );

    const notQueue = await run(['queue', 'rm', 'plain']);
    assert.equal(notQueue.code, 2);
    assert.match(notQueue.stderr, /not a queue/);
    const removed = await run(['queue', 'rm', 'tasks']);
    assert.equal(removed.code, 0, removed.stderr);
    assert.deepEqual(
      (await client.streams.list()).map((info) => info.name),
      ['plain'],
    );
    assert.equal((await run(['queue', 'ls'])).stdout, 'no queues\n');
  }));
