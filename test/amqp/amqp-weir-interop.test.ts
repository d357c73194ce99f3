/**
 * AMQP and Weir's own SDK on one broker (message-mapping.ts): what an AMQP client publishes a
 * Weir consumer receives with its AMQP address in headers, what Weir publishes an AMQP
 * consumer receives with properties made from the Weir message, queue names that are not
 * stream names, and the durable topology across a restart on the same data directory.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import amqp from 'amqplib';
import type { ConsumeMessage } from 'amqplib';
import { Broker } from '../../src/broker/index.js';
import { streamNameFor } from '../../src/amqp/message-mapping.js';
import { withTemporaryDirectory } from '../helpers/temporary-directory.js';
import { CHEAP_COST, collect, startServer, within, withAmqp } from './amqp-harness.js';

test('an AMQP publish to queue jobs reaches a Weir subscriber with amqp-exchange, amqp-routing-key and the string headers', async () => {
  await withAmqp(async (fixture) => {
    const connection = await fixture.connect();
    const channel = await connection.createConfirmChannel();
    await channel.assertQueue('jobs');
    await channel.assertExchange('work', 'direct', { durable: false });
    await channel.bindQueue('jobs', 'work', 'resize');
    channel.publish('work', 'resize', Buffer.from('image-1'), {
      headers: { tenant: 'acme', attempt: 3 },
      correlationId: 'corr-7',
    });
    await within('the confirm', channel.waitForConfirms());
    const weir = fixture.broker.connect();
    const subscription = await weir.subscribe('jobs', { subscription: 'jobs' });
    const message = await subscription.receive({ timeoutMs: 5_000 });
    assert.ok(message, 'the Weir subscriber received it');
    assert.equal(Buffer.from(message.body).toString(), 'image-1');
    assert.equal(message.subject, 'jobs.resize');
    assert.equal(message.headers['amqp-exchange'], 'work');
    assert.equal(message.headers['amqp-routing-key'], 'resize');
    assert.equal(message.headers['tenant'], 'acme', 'string headers are copied');
    assert.equal(message.headers['attempt'], undefined, 'other types stay in amqp-properties');
    assert.equal(message.correlationId, 'corr-7');
    await message.ack();
    await subscription.close();
    await weir.close();
  });
});

test('a Weir publish to jobs reaches an AMQP consumer: routing key = subject, headers from Weir headers, correlationId', async () => {
  await withAmqp(async (fixture) => {
    const connection = await fixture.connect();
    const channel = await connection.createChannel();
    await channel.assertQueue('jobs');
    const weir = fixture.broker.connect();
    await weir.publish('jobs', 'from weir', {
      headers: { tenant: 'acme' },
      correlationId: 'corr-9',
    });
    const [message] = await collect<ConsumeMessage>('the delivery', 1, (push) => {
      void channel.consume('jobs', (delivered) => delivered && push(delivered), { noAck: true });
    });
    assert.equal(message!.content.toString(), 'from weir');
    assert.equal(message!.fields.exchange, '');
    assert.equal(message!.fields.routingKey, 'jobs');
    assert.equal(message!.properties.headers?.['tenant'], 'acme');
    assert.equal(message!.properties.correlationId, 'corr-9');
    await weir.close();
  });
});

test('a Weir queue (client.queue) is found by a passive AMQP declare and its jobs reach an AMQP consumer', async () => {
  await withAmqp(async (fixture) => {
    const weir = fixture.broker.connect();
    const orders = await weir.queue('orders');
    await orders.publish('order-1', { headers: { region: 'eu' } });
    const connection = await fixture.connect();
    const channel = await connection.createChannel();
    const declared = await channel.checkQueue('orders');
    assert.equal(declared.queue, 'orders');
    assert.equal(declared.messageCount, 1);
    const [message] = await collect<ConsumeMessage>('the delivery', 1, (push) => {
      void channel.consume('orders', (delivered) => delivered && push(delivered));
    });
    assert.equal(message!.content.toString(), 'order-1');
    assert.equal(message!.properties.headers?.['region'], 'eu');
    channel.ack(message!);
    await weir.close();
  });
});

test('a queue name that is not a Weir stream name (orders.eu) maps to a sanitized stream, and messages go through it', async () => {
  await withAmqp(async (fixture) => {
    const stream = streamNameFor('orders.eu');
    assert.match(stream, /^orders-eu-[0-9a-f]{8}$/);
    const connection = await fixture.connect();
    const channel = await connection.createConfirmChannel();
    await channel.assertQueue('orders.eu');
    channel.sendToQueue('orders.eu', Buffer.from('eu order'));
    await within('the confirm', channel.waitForConfirms());
    const weir = fixture.broker.connect();
    const info = await weir.streams.info(stream);
    assert.equal(info.config.retention, 'work-queue');
    assert.equal(info.messages, 1);
    const message = await channel.get('orders.eu', { noAck: true });
    assert.ok(message !== false);
    assert.equal(message.content.toString(), 'eu order');
    assert.equal(message.fields.routingKey, 'orders.eu');
    await weir.close();
  });
});

test('the durable topology and a confirmed message survive closing the server and broker and opening both on the same data dir', async () => {
  await withTemporaryDirectory(async (dataDir) => {
    {
      const broker = await Broker.open({ dataDir, passwordCost: CHEAP_COST });
      const server = await startServer(broker, dataDir);
      try {
        const connection = await amqp.connect(`amqp://127.0.0.1:${server.address().port}`);
        connection.on('error', () => undefined);
        const channel = await connection.createConfirmChannel();
        await channel.assertExchange('events', 'topic', { durable: true });
        await channel.assertQueue('audit', { durable: true });
        await channel.bindQueue('audit', 'events', 'user.#');
        await channel.assertQueue('scratch', { durable: false });
        channel.publish('events', 'user.created', Buffer.from('before restart'), {
          persistent: true,
        });
        await within('the confirm', channel.waitForConfirms());
        await connection.close();
      } finally {
        await server.close();
        await broker.close();
      }
    }
    const broker = await Broker.open({ dataDir, passwordCost: CHEAP_COST });
    const server = await startServer(broker, dataDir);
    try {
      const connection = await amqp.connect(`amqp://127.0.0.1:${server.address().port}`);
      connection.on('error', () => undefined);
      try {
        const channel = await connection.createConfirmChannel();
        channel.on('error', () => undefined);
        await channel.checkExchange('events');
        const declared = await channel.checkQueue('audit');
        assert.equal(declared.messageCount, 1);
        const message = await channel.get('audit', { noAck: false });
        assert.ok(message !== false, 'the confirmed message is there');
        assert.equal(message.content.toString(), 'before restart');
        assert.equal(message.fields.exchange, 'events');
        assert.equal(message.fields.routingKey, 'user.created');
        channel.ack(message);
        // The binding survived: a new publish through the exchange reaches the queue.
        channel.publish('events', 'user.deleted', Buffer.from('after restart'));
        await within('the confirm', channel.waitForConfirms());
        const again = await channel.get('audit', { noAck: true });
        assert.ok(again !== false, 'the binding routes after the restart');
        assert.equal(again.content.toString(), 'after restart');
        const other = await connection.createChannel();
        other.on('error', () => undefined);
        await assert.rejects(other.checkQueue('scratch'), /404/, 'a non-durable queue is gone');
      } finally {
        await connection.close().catch(() => undefined);
      }
    } finally {
      await server.close();
      await broker.close();
    }
  });
});
