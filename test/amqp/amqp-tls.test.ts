/**
 * amqps: with `tls` the AMQP port speaks TLS (weir serve --tls-cert/--tls-key turn it on for
 * the AMQP port too, so passwords never cross in the clear there either). amqplib reaches it
 * with `amqps://` and the CA; a plain AMQP client gets no AMQP server (its bytes fail the TLS
 * handshake); with `ca`, a client without a certificate is refused.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { withCertificates } from '../helpers/certificates.js';
import { withAmqp } from './amqp-harness.js';

test('amqps: amqplib publishes and gets over TLS with the CA; plain AMQP to the TLS port fails', async (context) => {
  await withCertificates(context, async (certificates) => {
    await withAmqp(
      async (fixture) => {
        assert.equal(fixture.server.secure, true);
        const connection = await fixture.connect(
          { protocol: 'amqps' },
          { ca: [certificates.caCert] },
        );
        const channel = await connection.createConfirmChannel();
        await channel.assertQueue('secret', { durable: false });
        channel.sendToQueue('secret', Buffer.from('over tls'));
        await channel.waitForConfirms();
        const got = await channel.get('secret', { noAck: true });
        assert.ok(got !== false);
        assert.equal(got.content.toString(), 'over tls');
        await assert.rejects(fixture.connect({}, {}));
      },
      { server: { tls: { cert: certificates.serverCert, key: certificates.serverKey } } },
    );
  });
});

test('amqps with a CA for clients: a client without a certificate is refused, one the CA signed gets in', async (context) => {
  await withCertificates(context, async (certificates) => {
    await withAmqp(
      async (fixture) => {
        await assert.rejects(fixture.connect({ protocol: 'amqps' }, { ca: [certificates.caCert] }));
        const connection = await fixture.connect(
          { protocol: 'amqps' },
          {
            ca: [certificates.caCert],
            cert: certificates.clientCert,
            key: certificates.clientKey,
          },
        );
        const channel = await connection.createChannel();
        assert.equal((await channel.assertQueue('mutual', { durable: false })).queue, 'mutual');
      },
      {
        server: {
          tls: {
            cert: certificates.serverCert,
            key: certificates.serverKey,
            ca: certificates.caCert,
          },
        },
      },
    );
  });
});
