/**
 * Deliveries and their settlement (amqp-channel.ts, amqp-consumer.ts) over amqplib: ack, nack,
 * reject, recover, prefetch, basic.get, cancel, redelivery when a channel or connection
 * closes, server-sent cancel, exclusive consumers, channel.flow, tx, and direct reply-to.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Channel, ConsumeMessage, Message } from 'amqplib';
import { type AmqpFixture, collect, WAIT_MS, waitUntil, within, withAmqp } from './amqp-harness.js';

/** amqplib's method id: class-id << 16 | method-id. */
const method = (classId: number, methodId: number): number => classId * 65536 + methodId;
const TX_SELECT = [method(90, 10), method(90, 11)] as const;
const TX_COMMIT = [method(90, 20), method(90, 21)] as const;
const TX_ROLLBACK = [method(90, 30), method(90, 31)] as const;
const CHANNEL_FLOW = [method(20, 20), method(20, 21)] as const;

/** amqplib's untyped RPC (for tx and channel.flow, which its promise API lacks). */
function rpc(
  channel: Channel,
  [request, reply]: readonly [number, number],
  fields: object = {},
): Promise<unknown> {
  return (channel as unknown as { rpc(m: number, f: object, e: number): Promise<unknown> }).rpc(
    request,
    fields,
    reply,
  );
}

async function publishConfirmed(
  fixture: AmqpFixture,
  queue: string,
  bodies: readonly string[],
): Promise<void> {
  const connection = await fixture.connect();
  const channel = await connection.createConfirmChannel();
  for (const body of bodies) channel.sendToQueue(queue, Buffer.from(body));
  await within('publish confirms', channel.waitForConfirms());
  await connection.close();
}

/** A consumer recording its deliveries; `until(n)` waits for the nth. */
async function consumer(
  channel: Channel,
  queue: string,
  options: {
    noAck?: boolean;
    exclusive?: boolean;
    onMessage?: (message: ConsumeMessage) => void;
  } = {},
): Promise<{
  tag: string;
  messages: ConsumeMessage[];
  cancelled: () => boolean;
  until(count: number): Promise<void>;
}> {
  const messages: ConsumeMessage[] = [];
  let cancelledByServer = false;
  let wake = (): void => undefined;
  const { consumerTag } = await channel.consume(
    queue,
    (message) => {
      if (message === null) cancelledByServer = true;
      else {
        messages.push(message);
        options.onMessage?.(message);
      }
      wake();
    },
    { noAck: options.noAck ?? false, exclusive: options.exclusive ?? false },
  );
  return {
    tag: consumerTag,
    messages,
    cancelled: () => cancelledByServer,
    until: (count) =>
      within(
        `${count} deliveries on ${queue}`,
        new Promise<void>((resolve) => {
          wake = () => {
            if (messages.length >= count) resolve();
          };
          wake();
        }),
      ),
  };
}

const bodies = (messages: readonly (ConsumeMessage | Message)[]): string[] =>
  messages.map((message) => message.content.toString());

/** Whether the queue has a message now (basic.get, then back with nack-requeue). */
async function isEmpty(fixture: AmqpFixture, queue: string): Promise<boolean> {
  const connection = await fixture.connect();
  const channel = await connection.createChannel();
  const message = await channel.get(queue, { noAck: true });
  await connection.close();
  return message === false;
}

test('ack: an acked message is gone for good (not redelivered after the channel closes)', async () => {
  await withAmqp(async (fixture) => {
    const connection = await fixture.connect();
    const channel = await connection.createChannel();
    await channel.assertQueue('acked');
    await publishConfirmed(fixture, 'acked', ['one']);
    const reader = await consumer(channel, 'acked');
    await reader.until(1);
    channel.ack(reader.messages[0]!);
    await channel.close();
    assert.equal(await isEmpty(fixture, 'acked'), true);
  });
});

test('ack multiple acks every delivery up to the tag; the later one comes back after close', async () => {
  await withAmqp(async (fixture) => {
    const connection = await fixture.connect();
    const channel = await connection.createChannel();
    await channel.assertQueue('multi');
    await publishConfirmed(fixture, 'multi', ['1', '2', '3', '4']);
    const reader = await consumer(channel, 'multi');
    await reader.until(4);
    channel.ack(reader.messages[2]!, true); // 1, 2, 3
    await channel.close();
    const again = await connection.createChannel();
    const rest = await consumer(again, 'multi', { noAck: true });
    await rest.until(1);
    assert.deepEqual(bodies(rest.messages), ['4']);
    assert.equal(rest.messages[0]!.fields.redelivered, true);
  });
});

test('nack with requeue: the message comes back with redelivered true', async () => {
  await withAmqp(async (fixture) => {
    const connection = await fixture.connect();
    const channel = await connection.createChannel();
    await channel.assertQueue('nacked');
    await publishConfirmed(fixture, 'nacked', ['again']);
    let first = true;
    const reader = await consumer(channel, 'nacked', {
      onMessage: (message) => {
        if (first) channel.nack(message, false, true);
        else channel.ack(message);
        first = false;
      },
    });
    await reader.until(2);
    assert.deepEqual(bodies(reader.messages), ['again', 'again']);
    assert.deepEqual(
      reader.messages.map((message) => message.fields.redelivered),
      [false, true],
    );
  });
});

test('reject without requeue: the message is gone', async () => {
  await withAmqp(async (fixture) => {
    const connection = await fixture.connect();
    const channel = await connection.createChannel();
    await channel.assertQueue('rejected');
    await publishConfirmed(fixture, 'rejected', ['bad']);
    const reader = await consumer(channel, 'rejected');
    await reader.until(1);
    channel.reject(reader.messages[0]!, false);
    await channel.close();
    assert.equal(await isEmpty(fixture, 'rejected'), true);
  });
});

test('basic.recover: every unacked delivery of the channel comes again, redelivered', async () => {
  await withAmqp(async (fixture) => {
    const connection = await fixture.connect();
    const channel = await connection.createChannel();
    await channel.assertQueue('recovered');
    await publishConfirmed(fixture, 'recovered', ['a', 'b']);
    const reader = await consumer(channel, 'recovered');
    await reader.until(2);
    await channel.recover();
    await reader.until(4);
    assert.deepEqual(bodies(reader.messages.slice(2)).sort(), ['a', 'b']);
    assert.ok(reader.messages.slice(2).every((message) => message.fields.redelivered));
  });
});

test('prefetch N: a consumer never holds more than N unacked deliveries', async () => {
  await withAmqp(async (fixture) => {
    const connection = await fixture.connect();
    const channel = await connection.createChannel();
    await channel.assertQueue('prefetched');
    await publishConfirmed(fixture, 'prefetched', ['1', '2', '3', '4', '5', '6']);
    await channel.prefetch(2);
    const held: ConsumeMessage[] = [];
    let heldMax = 0;
    let done = false;
    // Holds what it gets; acks the oldest only once it holds 2, so a broken prefetch shows.
    const reader = await consumer(channel, 'prefetched', {
      onMessage: (message) => {
        held.push(message);
        heldMax = Math.max(heldMax, held.length);
        // Later, not at once: a server ignoring the prefetch has sent more meanwhile.
        if (held.length >= 2)
          setImmediate(() => {
            if (!done) channel.ack(held.shift()!);
          });
      },
    });
    await reader.until(6);
    done = true;
    assert.equal(heldMax, 2);
    assert.deepEqual(bodies(reader.messages), ['1', '2', '3', '4', '5', '6']);
  });
});

test('global prefetch: two consumers of one channel together hold at most N unacked', async () => {
  await withAmqp(async (fixture) => {
    const connection = await fixture.connect();
    const channel = await connection.createChannel();
    await channel.assertQueue('shared-a');
    await channel.assertQueue('shared-b');
    await publishConfirmed(fixture, 'shared-a', ['a1', 'a2', 'a3', 'a4']);
    await publishConfirmed(fixture, 'shared-b', ['b1', 'b2', 'b3', 'b4']);
    await channel.prefetch(3, true);
    const held: ConsumeMessage[] = [];
    let heldMax = 0;
    let done = false;
    const onMessage = (message: ConsumeMessage): void => {
      held.push(message);
      heldMax = Math.max(heldMax, held.length);
      // Later, not at once: a server ignoring the prefetch has sent more meanwhile.
      if (held.length >= 3)
        setImmediate(() => {
          if (!done) channel.ack(held.shift()!);
        });
    };
    const a = await consumer(channel, 'shared-a', { onMessage });
    const b = await consumer(channel, 'shared-b', { onMessage });
    await waitUntil('all eight deliveries', () => a.messages.length + b.messages.length === 8);
    done = true;
    assert.equal(heldMax, 3);
  });
});

test('basic.get with noAck takes the message; without, it comes back (redelivered) unless acked', async () => {
  await withAmqp(async (fixture) => {
    const connection = await fixture.connect();
    const channel = await connection.createChannel();
    await channel.assertQueue('got');
    await publishConfirmed(fixture, 'got', ['taken', 'held']);
    const taken = await channel.get('got', { noAck: true });
    assert.ok(taken !== false);
    assert.equal(taken.content.toString(), 'taken');
    const held = await channel.get('got', { noAck: false });
    assert.ok(held !== false);
    assert.equal(held.content.toString(), 'held');
    assert.equal(held.fields.redelivered, false);
    await channel.close();
    const again = await connection.createChannel();
    const back = await again.get('got', { noAck: false });
    assert.ok(back !== false, 'the unacked get came back');
    assert.equal(back.content.toString(), 'held');
    assert.equal(back.fields.redelivered, true);
    again.ack(back);
    assert.equal(await again.get('got'), false);
  });
});

test('cancel: no more deliveries to it; its unacked delivery can still be acked and is not redelivered', async () => {
  await withAmqp(async (fixture) => {
    const connection = await fixture.connect();
    const channel = await connection.createChannel();
    await channel.assertQueue('cancelled');
    await channel.prefetch(1);
    await publishConfirmed(fixture, 'cancelled', ['first']);
    const reader = await consumer(channel, 'cancelled');
    await reader.until(1);
    await channel.cancel(reader.tag);
    await publishConfirmed(fixture, 'cancelled', ['second']);
    const other = await connection.createChannel();
    const next = await consumer(other, 'cancelled', { noAck: true });
    await next.until(1);
    assert.deepEqual(bodies(next.messages), ['second'], 'the held one is not handed on');
    channel.ack(reader.messages[0]!);
    // A round trip on the channel: the ack was taken without a channel error.
    await channel.checkQueue('cancelled');
    await channel.close();
    await other.close();
    assert.equal(await isEmpty(fixture, 'cancelled'), true, 'first was acked after cancel');
    assert.equal(reader.messages.length, 1);
  });
});

for (const closing of ['channel', 'connection'] as const) {
  test(`unacked deliveries go back, redelivered, when the ${closing} closes`, async () => {
    await withAmqp(async (fixture) => {
      const holder = await fixture.connect();
      const channel = await holder.createChannel();
      await channel.assertQueue('returned');
      await publishConfirmed(fixture, 'returned', ['x', 'y']);
      const reader = await consumer(channel, 'returned');
      await reader.until(2);
      if (closing === 'channel') await channel.close();
      else await holder.close();
      const connection = await fixture.connect();
      const again = await connection.createChannel();
      const next = await consumer(again, 'returned', { noAck: true });
      await next.until(2);
      assert.deepEqual(bodies(next.messages).sort(), ['x', 'y']);
      assert.ok(next.messages.every((message) => message.fields.redelivered));
    });
  });
}

test('deleting the queue sends basic.cancel to its consumers (amqplib calls back with null)', async () => {
  await withAmqp(async (fixture) => {
    const connection = await fixture.connect();
    const channel = await connection.createChannel();
    await channel.assertQueue('doomed');
    const reader = await consumer(channel, 'doomed');
    const admin = await connection.createChannel();
    await admin.deleteQueue('doomed');
    await waitUntil('the server cancel', () => reader.cancelled());
  });
});

test('an exclusive consumer keeps others off: a second consume gets 403', async () => {
  await withAmqp(async (fixture) => {
    const connection = await fixture.connect();
    const channel = await connection.createChannel();
    await channel.assertQueue('solo');
    await consumer(channel, 'solo', { exclusive: true });
    const other = await connection.createChannel();
    await assert.rejects(
      other.consume('solo', () => undefined),
      /403/,
    );
    // And an exclusive consume on a queue with a consumer is refused too.
    await channel.assertQueue('busy');
    await consumer(channel, 'busy');
    const third = await connection.createChannel();
    await assert.rejects(
      third.consume('busy', () => undefined, { exclusive: true }),
      /403/,
    );
  });
});

test('channel.flow off stops deliveries; on resumes them', async () => {
  await withAmqp(async (fixture) => {
    const connection = await fixture.connect();
    const channel = await connection.createChannel();
    await channel.assertQueue('flowing');
    await rpc(channel, CHANNEL_FLOW, { active: false });
    const reader = await consumer(channel, 'flowing', { noAck: true });
    await publishConfirmed(fixture, 'flowing', ['held back']);
    // Round trips on the same channel: a delivery would have had its turn to be written.
    for (let turn = 0; turn < 5; turn++) await channel.checkQueue('flowing');
    assert.equal(reader.messages.length, 0, 'nothing delivered while flow is off');
    await rpc(channel, CHANNEL_FLOW, { active: true });
    await reader.until(1);
    assert.deepEqual(bodies(reader.messages), ['held back']);
  });
});

test('acking an unknown delivery tag closes the channel with 406 PRECONDITION_FAILED', async () => {
  await withAmqp(async (fixture) => {
    const connection = await fixture.connect();
    const channel = await connection.createChannel();
    const failed = within(
      'the channel error',
      new Promise<Error>((resolve) => channel.once('error', resolve)),
    );
    channel.ack({ fields: { deliveryTag: 99 } } as unknown as Message);
    const error = (await failed) as Error & { code?: number };
    assert.equal(error.code, 406);
    assert.match(error.message, /unknown delivery tag 99/);
  });
});

test('tx: publishes are invisible until commit, and gone after rollback', async () => {
  await withAmqp(async (fixture) => {
    const connection = await fixture.connect();
    const channel = await connection.createChannel();
    await channel.assertQueue('tx-queue');
    await rpc(channel, TX_SELECT);
    channel.sendToQueue('tx-queue', Buffer.from('committed-1'));
    channel.sendToQueue('tx-queue', Buffer.from('committed-2'));
    const observer = await (await fixture.connect()).createChannel();
    assert.equal(await observer.get('tx-queue', { noAck: true }), false, 'not before commit');
    await rpc(channel, TX_COMMIT);
    channel.sendToQueue('tx-queue', Buffer.from('rolled-back'));
    await rpc(channel, TX_ROLLBACK);
    await rpc(channel, TX_COMMIT); // an empty commit changes nothing
    const got: string[] = [];
    for (let count = 0; count < 5; count++) {
      const message = await observer.get('tx-queue', { noAck: true });
      if (message === false) break;
      got.push(message.content.toString());
    }
    assert.deepEqual(got, ['committed-1', 'committed-2']);
  });
});

test('tx: an ack takes effect at commit, not before', async () => {
  await withAmqp(async (fixture) => {
    const connection = await fixture.connect();
    const channel = await connection.createChannel();
    await channel.assertQueue('tx-acks');
    await publishConfirmed(fixture, 'tx-acks', ['m']);
    await rpc(channel, TX_SELECT);
    const message = await channel.get('tx-acks', { noAck: false });
    assert.ok(message !== false);
    channel.ack(message);
    await channel.checkQueue('tx-acks'); // the ack was read
    const weir = fixture.broker.connect();
    assert.equal(
      (await weir.subscriptions.info('tx-acks', 'tx-acks')).acked,
      0,
      'not acked before commit',
    );
    await rpc(channel, TX_COMMIT);
    assert.equal((await weir.subscriptions.info('tx-acks', 'tx-acks')).acked, 1, 'acked at commit');
    await channel.close();
    assert.equal(await isEmpty(fixture, 'tx-acks'), true);
    await weir.close();
  });
});

test('direct reply-to: an RPC round trip between two connections through amq.rabbitmq.reply-to', async () => {
  await withAmqp(async (fixture) => {
    const serverConnection = await fixture.connect();
    const serverChannel = await serverConnection.createChannel();
    await serverChannel.assertQueue('rpc-requests');
    await serverChannel.consume('rpc-requests', (request) => {
      if (request === null) return;
      serverChannel.sendToQueue(
        request.properties.replyTo as string,
        Buffer.from(`echo:${request.content.toString()}`),
        {
          correlationId: request.properties.correlationId as string,
        },
      );
      serverChannel.ack(request);
    });
    const clientConnection = await fixture.connect();
    const clientChannel = await clientConnection.createChannel();
    const replies = collect<ConsumeMessage>('the reply', 1, (push) => {
      void clientChannel.consume('amq.rabbitmq.reply-to', (message) => message && push(message), {
        noAck: true,
      });
    });
    // Consume-ok first, then publish (a publish naming the reply-to needs the consumer).
    await clientChannel.checkQueue('rpc-requests');
    clientChannel.sendToQueue('rpc-requests', Buffer.from('ping'), {
      replyTo: 'amq.rabbitmq.reply-to',
      correlationId: 'call-1',
    });
    const [reply] = await replies;
    assert.equal(reply!.content.toString(), 'echo:ping');
    assert.equal(reply!.properties.correlationId, 'call-1');
    assert.match(reply!.fields.routingKey, /^amq\.rabbitmq\.reply-to\./);
  });
});

test('direct reply-to without the reply consumer: the publish closes the channel with 406', async () => {
  await withAmqp(async (fixture) => {
    const connection = await fixture.connect();
    const channel = await connection.createChannel();
    const failed = within(
      'the channel error',
      new Promise<Error>((resolve) => channel.once('error', resolve)),
      WAIT_MS,
    );
    channel.sendToQueue('anything', Buffer.from('x'), { replyTo: 'amq.rabbitmq.reply-to' });
    assert.equal(((await failed) as Error & { code?: number }).code, 406);
  });
});
