/**
 * `weir serve --amqp-port` (docs/amqp.md): the AMQP listener starts beside the Weir port, an
 * amqplib client declares a durable queue and publishes with a confirm, Weir's own SDK sees
 * the message in the queue's stream, and the declared queue is still there after a restart
 * on the same data directory.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import amqp from 'amqplib';
import { connect } from '../../src/client/index.js';
import { join } from 'node:path';
import { withCertificates } from '../helpers/certificates.js';
import { withTemporaryDirectory } from '../helpers/temporary-directory.js';
import { servedUrl, startServe, type ServeProcess } from './weir-process.js';

const AMQP_LINE = /weir AMQP 0-9-1 on (amqp:\/\/\S+)/;

async function startWithAmqp(directory: string): Promise<{ serve: ServeProcess; amqpUrl: string }> {
  const serve = startServe([
    ...['--data-dir', directory, '--port', '0', '--no-http', '--amqp-port', '0'],
  ]);
  await serve.waitFor(/listening on weir:\/\//);
  await serve.waitFor(AMQP_LINE);
  return { serve, amqpUrl: AMQP_LINE.exec(serve.stdout())![1]! };
}

test('weir serve --amqp-port 0: amqplib publishes with a confirm, the SDK reads it, the queue survives a restart', async () => {
  await withTemporaryDirectory(async (directory) => {
    const first = await startWithAmqp(directory);
    try {
      const connection = await amqp.connect(first.amqpUrl);
      try {
        const channel = await connection.createConfirmChannel();
        await channel.assertQueue('tasks', { durable: true });
        channel.sendToQueue('tasks', Buffer.from('resize 42'), {
          persistent: true,
          headers: { tenant: 'acme' },
        });
        await channel.waitForConfirms();
      } finally {
        await connection.close();
      }
      const client = await connect(servedUrl(first.serve));
      try {
        const subscription = await client.subscribe('tasks', { subscription: 'tasks' });
        const message = await subscription.receive({ timeoutMs: 10_000 });
        assert.ok(message, 'the SDK receives what amqplib published');
        assert.equal(message.text(), 'resize 42');
        assert.equal(message.subject, 'tasks');
        assert.equal(message.headers['tenant'], 'acme');
        assert.equal(message.headers['amqp-routing-key'], 'tasks');
        await message.nack({ delayMs: 0 }); // leave it for the AMQP consumer after the restart
        await subscription.close();
      } finally {
        await client.close();
      }
    } finally {
      assert.equal(await first.serve.stop(), 0);
    }
    const second = await startWithAmqp(directory);
    try {
      const connection = await amqp.connect(second.amqpUrl);
      try {
        const channel = await connection.createChannel();
        const declared = await channel.checkQueue('tasks');
        assert.equal(declared.queue, 'tasks');
        const got = await channel.get('tasks', { noAck: true });
        assert.ok(got !== false, 'the message is there after the restart');
        assert.equal(got.content.toString(), 'resize 42');
        assert.equal(got.fields.redelivered, true);
      } finally {
        await connection.close();
      }
    } finally {
      assert.equal(await second.serve.stop(), 0);
    }
  });
});

const HTTP_LINE = /weir console and HTTP API on (http:\/\/\S+)/;

test('weir serve --amqp-port 0: an AMQP connection and its consumer are in /api/consumers (the console), beside Weir ones', async () => {
  await withTemporaryDirectory(async (directory) => {
    const serve = startServe([
      ...['--data-dir', directory, '--port', '0', '--http-port', '0', '--amqp-port', '0'],
    ]);
    try {
      await serve.waitFor(HTTP_LINE);
      await serve.waitFor(AMQP_LINE);
      const httpUrl = HTTP_LINE.exec(serve.stdout())![1]!;
      const amqpUrl = AMQP_LINE.exec(serve.stdout())![1]!;
      const connection = await amqp.connect(amqpUrl, {
        clientProperties: { connection_name: 'billing-worker' },
      });
      try {
        const channel = await connection.createChannel();
        await channel.assertQueue('invoices', { durable: true });
        await channel.prefetch(10);
        await channel.consume('invoices', () => undefined, { consumerTag: 'invoice-consumer' });
        const response = await fetch(`${httpUrl}/api/consumers`);
        assert.equal(response.status, 200);
        const { connections } = (await response.json()) as {
          connections: {
            protocol?: string;
            clientName: string;
            remote: string;
            consumerCount: number;
            consumers: { tag?: string; stream: string; subscription: string; credit: number }[];
          }[];
        };
        const listed = connections.filter((entry) => entry.protocol === 'amqp');
        assert.equal(listed.length, 1);
        assert.equal(listed[0]!.clientName, 'billing-worker');
        assert.match(listed[0]!.remote, /^127\.0\.0\.1:\d+$/);
        assert.equal(listed[0]!.consumerCount, 1);
        assert.deepEqual(
          listed[0]!.consumers.map(({ tag, stream, subscription, credit }) => ({
            tag,
            stream,
            subscription,
            credit,
          })),
          [{ tag: 'invoice-consumer', stream: 'invoices', subscription: 'invoices', credit: 10 }],
        );
      } finally {
        await connection.close();
      }
    } finally {
      assert.equal(await serve.stop(), 0);
    }
  });
});

test('weir serve --tls-cert/--tls-key --amqp-port 0: the AMQP port speaks amqps too', async (context) => {
  await withCertificates(context, async (certificates, directory) => {
    const serve = startServe([
      ...['--data-dir', join(directory, 'data'), '--port', '0', '--no-http', '--amqp-port', '0'],
      ...['--tls-cert', join(directory, 'server.crt'), '--tls-key', join(directory, 'server.key')],
    ]);
    try {
      const line = /weir AMQP 0-9-1 on (amqps:\/\/\S+)/;
      await serve.waitFor(line);
      const connection = await amqp.connect(line.exec(serve.stdout())![1]!, {
        ca: [certificates.caCert],
      });
      try {
        const channel = await connection.createChannel();
        assert.equal((await channel.assertQueue('tls-queue')).queue, 'tls-queue');
      } finally {
        await connection.close();
      }
    } finally {
      assert.equal(await serve.stop(), 0);
    }
  });
});
