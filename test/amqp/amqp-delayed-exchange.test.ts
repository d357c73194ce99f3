/**
 * The delayed-message exchange, as RabbitMQ's plugin offers it: `exchange.declare` of type
 * `x-delayed-message` with `x-delayed-type` routes as that type, and a message published to
 * it with an `x-delay` header (ms) reaches its queues only after the delay (Weir's own
 * delayMs: durable, any horizon). Bad declarations and bad delays are 406.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ConfirmChannel } from 'amqplib';
import { withTemporaryDirectory } from '../helpers/temporary-directory.js';
import { collect, startAmqp, WAIT_MS, within, withAmqp } from './amqp-harness.js';

const LONG_DELAY_MS = 60 * 60_000; // never due within a test
const SHORT_DELAY_MS = 200;

async function declareDelayed(
  channel: ConfirmChannel,
  name: string,
  durable = false,
): Promise<void> {
  await channel.assertExchange(name, 'x-delayed-message', {
    durable,
    arguments: { 'x-delayed-type': 'direct' },
  });
}

test('x-delayed-message: routes as its x-delayed-type; x-delay holds a message back that long, none goes at once', async () => {
  await withAmqp(async (fixture) => {
    const connection = await fixture.connect();
    const channel = await connection.createConfirmChannel();
    await declareDelayed(channel, 'later');
    await channel.assertQueue('jobs', { durable: false });
    await channel.bindQueue('jobs', 'later', 'job');
    const started = Date.now();
    channel.publish('later', 'job', Buffer.from('in an hour'), {
      headers: { 'x-delay': LONG_DELAY_MS },
    });
    channel.publish('later', 'job', Buffer.from('soon'), {
      headers: { 'x-delay': SHORT_DELAY_MS },
    });
    channel.publish('later', 'job', Buffer.from('now'));
    channel.publish('later', 'other-key', Buffer.from('unrouted'), { headers: { 'x-delay': 1 } });
    await channel.waitForConfirms();
    const received = await collect<{ body: string; at: number }>(
      'the deliveries of now and soon',
      2,
      (push) =>
        void channel.consume(
          'jobs',
          (message) => {
            if (message === null) return;
            channel.ack(message);
            push({ body: message.content.toString(), at: Date.now() });
          },
          { noAck: false },
        ),
      WAIT_MS,
    );
    assert.deepEqual(
      received.map((entry) => entry.body),
      ['now', 'soon'],
    );
    assert.ok(received[1]!.at - started >= SHORT_DELAY_MS, 'the delayed one waited its delay');
    // The hour-long one is still held back: not ready in the queue.
    const state = await channel.checkQueue('jobs');
    assert.equal(state.messageCount, 0);
  });
});

test('x-delayed-message: without a valid x-delayed-type the declare is 406; a plain redeclare of it is inequivalent', async () => {
  await withAmqp(async (fixture) => {
    const connection = await fixture.connect();
    const missing = await connection.createChannel();
    await assert.rejects(missing.assertExchange('no-type', 'x-delayed-message'), /406/);
    const bogus = await connection.createChannel();
    await assert.rejects(
      bogus.assertExchange('bogus-type', 'x-delayed-message', {
        arguments: { 'x-delayed-type': 'bogus' },
      }),
      /406/,
    );
    const channel = await connection.createConfirmChannel();
    await declareDelayed(channel, 'kept');
    await declareDelayed(channel, 'kept'); // the same again is fine
    await assert.rejects(channel.assertExchange('kept', 'direct', { durable: false }), /406.*type/);
  });
});

test('x-delayed-message: an x-delay that is not an integer closes the channel with 406, and nothing is stored', async () => {
  await withAmqp(async (fixture) => {
    const connection = await fixture.connect();
    const setup = await connection.createConfirmChannel();
    await declareDelayed(setup, 'strict');
    await setup.assertQueue('strict-jobs', { durable: false });
    await setup.bindQueue('strict-jobs', 'strict', 'job');
    const channel = await connection.createChannel();
    const closed = new Promise<Error>((resolve) => channel.once('error', resolve));
    channel.publish('strict', 'job', Buffer.from('bad'), { headers: { 'x-delay': 'soon' } });
    assert.match(String(await within('the channel error', closed)), /406/);
    assert.equal((await setup.checkQueue('strict-jobs')).messageCount, 0);
  });
});

test('x-delayed-message: a durable delayed exchange is still delayed after a restart', async () => {
  await withTemporaryDirectory(async (dataDir) => {
    const first = await startAmqp({ broker: { dataDir } });
    try {
      const connection = await first.connect();
      const channel = await connection.createConfirmChannel();
      await declareDelayed(channel, 'durable-later', true);
      await channel.assertQueue('durable-jobs', { durable: true });
      await channel.bindQueue('durable-jobs', 'durable-later', 'job');
    } finally {
      await first.close();
    }
    const second = await startAmqp({ broker: { dataDir } });
    try {
      const connection = await second.connect();
      const channel = await connection.createConfirmChannel();
      await declareDelayed(channel, 'durable-later', true); // equivalent: still x-delayed-message
      channel.publish('durable-later', 'job', Buffer.from('held'), {
        headers: { 'x-delay': LONG_DELAY_MS },
      });
      channel.publish('durable-later', 'job', Buffer.from('free'));
      await channel.waitForConfirms();
      const got = await channel.get('durable-jobs', { noAck: true });
      assert.ok(got !== false);
      assert.equal(got.content.toString(), 'free');
      assert.equal(await channel.get('durable-jobs', { noAck: true }), false);
    } finally {
      await second.close();
    }
  });
});
