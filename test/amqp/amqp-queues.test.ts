/**
 * Queue lifecycles and arguments (amqp-gateway.ts, queue-arguments.ts) over amqplib: durable,
 * exclusive, auto-delete, server-named, passive declares and counts, purge and delete, TTLs,
 * max-length overflow, priorities, x-expires and single active consumer.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Channel, ChannelModel, ConsumeMessage } from 'amqplib';
import { AMQP_EXPIRY_CHECK_MS } from '../../src/limits.js';
import { type AmqpFixture, collect, WAIT_MS, waitUntil, within, withAmqp } from './amqp-harness.js';

/** Whether `queue` exists, asked on a fresh channel (a 404 closes the channel it is asked on). */
async function queueExists(connection: ChannelModel, queue: string): Promise<boolean> {
  const channel = await connection.createChannel();
  try {
    await channel.checkQueue(queue);
    await channel.close();
    return true;
  } catch (error) {
    if ((error as { code?: number }).code === 404 || /404/.test(String(error))) return false;
    throw error;
  }
}

async function publishConfirmed(
  fixture: AmqpFixture,
  queue: string,
  bodies: readonly string[],
  options: { expiration?: string; priority?: number }[] = [],
): Promise<void> {
  const connection = await fixture.connect();
  const channel = await connection.createConfirmChannel();
  bodies.forEach((body, index) =>
    channel.sendToQueue(queue, Buffer.from(body), options[index] ?? {}),
  );
  await within('publish confirms', channel.waitForConfirms());
  await connection.close();
}

async function drain(channel: Channel, queue: string): Promise<string[]> {
  const bodies: string[] = [];
  for (let count = 0; count < 100; count++) {
    const message = await channel.get(queue, { noAck: true });
    if (message === false) return bodies;
    bodies.push(message.content.toString());
  }
  assert.fail(`more than 100 messages in ${queue}`);
}

/**
 * Reads `queue` with basic.get until it is empty, within `timeoutMs`: a message in `expiring`
 * goes back (nack, requeue) and is asked for again, since it must expire; any other is kept
 * unacked (so get does not see it again) and returned.
 */
async function readUntilExpired(
  channel: Channel,
  queue: string,
  expiring: ReadonlySet<string>,
  timeoutMs = WAIT_MS,
): Promise<string[]> {
  const kept: string[] = [];
  await waitUntil(
    `every message in ${expiring.size > 0 ? [...expiring].join(', ') : 'nothing'} to expire from ${queue}`,
    async () => {
      const message = await channel.get(queue, { noAck: false });
      if (message === false) return true;
      const body = message.content.toString();
      if (expiring.has(body)) channel.nack(message, false, true);
      else kept.push(body);
      return false;
    },
    timeoutMs,
  );
  return kept;
}

test('durable: declare-ok names the queue; redeclaring it not durable is refused with 406', async () => {
  await withAmqp(async (fixture) => {
    const connection = await fixture.connect();
    const channel = await connection.createChannel();
    const declared = await channel.assertQueue('kept', { durable: true });
    assert.deepEqual(declared, { queue: 'kept', messageCount: 0, consumerCount: 0 });
    assert.deepEqual(await channel.assertQueue('kept', { durable: true }), declared);
    await assert.rejects(channel.assertQueue('kept', { durable: false }), /406/);
  });
});

test('exclusive: another connection gets 405 RESOURCE_LOCKED; the queue goes when its connection closes', async () => {
  await withAmqp(async (fixture) => {
    const owner = await fixture.connect();
    const ownerChannel = await owner.createChannel();
    await ownerChannel.assertQueue('mine', { exclusive: true });
    const other = await fixture.connect();
    const otherChannel = await other.createChannel();
    await assert.rejects(otherChannel.assertQueue('mine', { exclusive: true }), /405/);
    const third = await other.createChannel();
    await assert.rejects(third.checkQueue('mine'), /405/);
    const fourth = await other.createChannel();
    await assert.rejects(fourth.get('mine'), /405/);
    // Its own connection uses it freely.
    ownerChannel.sendToQueue('mine', Buffer.from('x'));
    await owner.close();
    await waitUntil('the exclusive queue to go', async () => !(await queueExists(other, 'mine')));
  });
});

test('auto-delete: the queue stays until its last consumer cancels, then goes', async () => {
  await withAmqp(async (fixture) => {
    const connection = await fixture.connect();
    const channel = await connection.createChannel();
    await channel.assertQueue('passing', { autoDelete: true, durable: false });
    const first = await channel.consume('passing', () => undefined);
    const second = await channel.consume('passing', () => undefined);
    await channel.cancel(first.consumerTag);
    assert.equal(await queueExists(connection, 'passing'), true, 'one consumer is left');
    await channel.cancel(second.consumerTag);
    await waitUntil(
      'the auto-delete queue to go',
      async () => !(await queueExists(connection, 'passing')),
    );
  });
});

test("server-named queues: declare '' gets a fresh 'amq.gen-…' name each time", async () => {
  await withAmqp(async (fixture) => {
    const connection = await fixture.connect();
    const channel = await connection.createChannel();
    const first = await channel.assertQueue('', { exclusive: true });
    const second = await channel.assertQueue('', { exclusive: true });
    assert.match(first.queue, /^amq\.gen-/);
    assert.notEqual(first.queue, second.queue);
    channel.sendToQueue(first.queue, Buffer.from('to a generated name'));
    await waitUntil(
      'the message in the generated queue',
      async () => (await channel.checkQueue(first.queue)).messageCount === 1,
    );
    // A client may not pick an amq. name itself.
    await assert.rejects(channel.assertQueue('amq.mine'), /403/);
  });
});

test('a passive declare of a missing queue closes the channel with 404 NOT_FOUND', async () => {
  await withAmqp(async (fixture) => {
    const connection = await fixture.connect();
    const channel = await connection.createChannel();
    await assert.rejects(
      channel.checkQueue('never-declared'),
      (error: Error & { code?: number }) => {
        assert.equal(error.code, 404);
        assert.match(error.message, /NOT_FOUND - no queue 'never-declared'/);
        return true;
      },
    );
  });
});

test('declare-ok counts the ready messages and the consumers', async () => {
  await withAmqp(async (fixture) => {
    const connection = await fixture.connect();
    const channel = await connection.createChannel();
    await channel.assertQueue('counted');
    await publishConfirmed(fixture, 'counted', ['a', 'b', 'c']);
    assert.deepEqual(await channel.assertQueue('counted'), {
      queue: 'counted',
      messageCount: 3,
      consumerCount: 0,
    });
    const consuming = await connection.createChannel();
    await consuming.prefetch(1);
    const delivered = collect<ConsumeMessage>('one delivery', 1, (push) => {
      void consuming.consume('counted', (message) => message && push(message));
    });
    await delivered;
    const counts = await channel.checkQueue('counted');
    assert.equal(counts.consumerCount, 1);
    assert.equal(counts.messageCount, 2, 'the unacked one is not ready');
  });
});

test('purge drops the ready messages and says how many; delete says how many were left', async () => {
  await withAmqp(async (fixture) => {
    const connection = await fixture.connect();
    const channel = await connection.createChannel();
    await channel.assertQueue('purged');
    await publishConfirmed(fixture, 'purged', ['1', '2', '3', '4']);
    assert.deepEqual(await channel.purgeQueue('purged'), { messageCount: 4 });
    assert.deepEqual(await drain(channel, 'purged'), []);
    await publishConfirmed(fixture, 'purged', ['5', '6']);
    assert.deepEqual(await channel.deleteQueue('purged'), { messageCount: 2 });
    assert.equal(await queueExists(connection, 'purged'), false);
    // Deleting a missing queue is fine (RabbitMQ answers delete-ok 0).
    assert.deepEqual(await channel.deleteQueue('purged'), { messageCount: 0 });
  });
});

test('delete ifUnused with a consumer, and ifEmpty with messages, are refused with 406 and keep the queue', async () => {
  await withAmqp(async (fixture) => {
    const connection = await fixture.connect();
    const channel = await connection.createChannel();
    await channel.assertQueue('guarded');
    await publishConfirmed(fixture, 'guarded', ['m']);
    const attempt = await connection.createChannel();
    await assert.rejects(attempt.deleteQueue('guarded', { ifEmpty: true }), /406/);
    const consumer = await connection.createChannel();
    await consumer.consume('guarded', () => undefined, { noAck: true });
    const second = await connection.createChannel();
    await assert.rejects(second.deleteQueue('guarded', { ifUnused: true }), /406/);
    assert.equal(await queueExists(connection, 'guarded'), true);
  });
});

test('x-message-ttl: a message not consumed within the TTL is gone', async () => {
  await withAmqp(async (fixture) => {
    const connection = await fixture.connect();
    const channel = await connection.createChannel();
    await channel.assertQueue('short-lived', { arguments: { 'x-message-ttl': 200 } });
    await publishConfirmed(fixture, 'short-lived', ['fleeting']);
    assert.deepEqual(await readUntilExpired(channel, 'short-lived', new Set(['fleeting'])), []);
  });
});

test('declare-ok messageCount drops a message once its TTL is over, with no consumer', async () => {
  await withAmqp(async (fixture) => {
    const connection = await fixture.connect();
    const channel = await connection.createChannel();
    await channel.assertQueue('counted-ttl', { arguments: { 'x-message-ttl': 100 } });
    await publishConfirmed(fixture, 'counted-ttl', ['fleeting']);
    await waitUntil(
      'the expired message to leave the count',
      async () => (await channel.checkQueue('counted-ttl')).messageCount === 0,
    );
  });
});

test('x-message-ttl: a message consumed within the TTL is delivered', async () => {
  await withAmqp(async (fixture) => {
    const connection = await fixture.connect();
    const channel = await connection.createChannel();
    await channel.assertQueue('long-enough', { arguments: { 'x-message-ttl': 60_000 } });
    await publishConfirmed(fixture, 'long-enough', ['kept']);
    assert.deepEqual(await drain(channel, 'long-enough'), ['kept']);
  });
});

test('per-message expiration: the expiring message is gone, the other stays', async () => {
  await withAmqp(async (fixture) => {
    const connection = await fixture.connect();
    const channel = await connection.createChannel();
    await channel.assertQueue('mixed-expiry');
    await publishConfirmed(
      fixture,
      'mixed-expiry',
      ['expires', 'stays'],
      [{ expiration: '150' }, {}],
    );
    assert.deepEqual(await readUntilExpired(channel, 'mixed-expiry', new Set(['expires'])), [
      'stays',
    ]);
  });
});

test('x-max-length with drop-head: the oldest messages are dropped', async () => {
  await withAmqp(async (fixture) => {
    const connection = await fixture.connect();
    const channel = await connection.createChannel();
    await channel.assertQueue('bounded', {
      arguments: { 'x-max-length': 2, 'x-overflow': 'drop-head' },
    });
    await publishConfirmed(fixture, 'bounded', ['1', '2', '3', '4']);
    assert.deepEqual(await drain(channel, 'bounded'), ['3', '4']);
  });
});

test('x-max-length with reject-publish: the publish over the limit is nacked on a confirm channel', async () => {
  await withAmqp(async (fixture) => {
    const connection = await fixture.connect();
    const channel = await connection.createConfirmChannel();
    await channel.assertQueue('full', {
      arguments: { 'x-max-length': 1, 'x-overflow': 'reject-publish' },
    });
    const confirm = (body: string): Promise<boolean> =>
      new Promise((resolve) => {
        channel.sendToQueue('full', Buffer.from(body), {}, (error) =>
          resolve(error === null || error === undefined),
        );
      });
    assert.equal(await within('first confirm', confirm('first')), true, 'acked');
    assert.equal(await within('second confirm', confirm('second')), false, 'nacked');
    const reader = await connection.createChannel();
    assert.deepEqual(await drain(reader, 'full'), ['first']);
  });
});

test('x-max-priority: a higher-priority message published after lower ones is delivered first', async () => {
  await withAmqp(async (fixture) => {
    const connection = await fixture.connect();
    const channel = await connection.createChannel();
    await channel.assertQueue('ranked', { arguments: { 'x-max-priority': 10 } });
    await publishConfirmed(
      fixture,
      'ranked',
      ['low-1', 'low-2', 'high', 'middle'],
      [{ priority: 1 }, { priority: 1 }, { priority: 8 }, { priority: 4 }],
    );
    const messages = await collect<ConsumeMessage>('four deliveries', 4, (push) => {
      void channel.consume('ranked', (message) => message && push(message), { noAck: true });
    });
    assert.deepEqual(
      messages.map((message) => message.content.toString()),
      ['high', 'middle', 'low-1', 'low-2'],
    );
  });
});

test('x-expires: a queue unused for that long is deleted', async () => {
  await withAmqp(async (fixture) => {
    const connection = await fixture.connect();
    const channel = await connection.createChannel();
    await channel.assertQueue('ephemeral', { arguments: { 'x-expires': 300 } });
    const declaredMs = Date.now();
    await waitUntil(
      'the unused queue to expire',
      async () => !(await queueExists(connection, 'ephemeral')),
      AMQP_EXPIRY_CHECK_MS * 3 + WAIT_MS,
    );
    assert.ok(Date.now() - declaredMs >= 300, 'not before x-expires');
  });
});

test('x-expires: a queue with a consumer is not deleted', async () => {
  await withAmqp(async (fixture) => {
    const connection = await fixture.connect();
    const channel = await connection.createChannel();
    await channel.assertQueue('watched', { arguments: { 'x-expires': 100 } });
    await channel.consume('watched', () => undefined, { noAck: true });
    // Wait past two expiry checks, measured by a second queue that does expire.
    await channel.assertQueue('marker', { arguments: { 'x-expires': 100 } });
    await waitUntil(
      'the marker queue to expire',
      async () => !(await queueExists(connection, 'marker')),
      AMQP_EXPIRY_CHECK_MS * 3 + WAIT_MS,
    );
    assert.equal(await queueExists(connection, 'watched'), true);
  });
});

test('x-single-active-consumer: the second consumer gets nothing while the first is active, then takes over', async () => {
  await withAmqp(async (fixture) => {
    const connection = await fixture.connect();
    const setup = await connection.createChannel();
    await setup.assertQueue('single', { arguments: { 'x-single-active-consumer': true } });
    const firstChannel = await connection.createChannel();
    const secondChannel = await connection.createChannel();
    const byConsumer: Record<string, string[]> = { first: [], second: [] };
    let wake = (): void => undefined;
    const record = (who: 'first' | 'second') => (message: ConsumeMessage | null) => {
      if (message === null) return;
      byConsumer[who]!.push(message.content.toString());
      wake();
    };
    await firstChannel.consume('single', record('first'), { noAck: true });
    await secondChannel.consume('single', record('second'), { noAck: true });
    const total = (): number => byConsumer['first']!.length + byConsumer['second']!.length;
    const reached = (count: number): Promise<void> =>
      within(
        `${count} deliveries`,
        new Promise<void>((resolve) => {
          wake = () => {
            if (total() >= count) resolve();
          };
          wake();
        }),
      );
    await publishConfirmed(fixture, 'single', ['1', '2', '3', '4']);
    await reached(4);
    assert.deepEqual(byConsumer, { first: ['1', '2', '3', '4'], second: [] });
    await firstChannel.close();
    await publishConfirmed(fixture, 'single', ['5']);
    await reached(5);
    assert.deepEqual(byConsumer['second'], ['5']);
  });
});

test('an x- argument of the wrong type is refused with 406', async () => {
  await withAmqp(async (fixture) => {
    const connection = await fixture.connect();
    const channel = await connection.createChannel();
    await assert.rejects(
      channel.assertQueue('bad-args', { arguments: { 'x-max-length': 'ten' } }),
      /406/,
    );
  });
});
