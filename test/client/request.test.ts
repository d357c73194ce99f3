import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from '../../src/client/index.js';
import { TEST_TIMEOUT_MS, withClient } from './client-fixture.js';

const options = { timeout: TEST_TIMEOUT_MS };

test('request gets the reply a responder sent with msg.respond', options, async () => {
  await withClient(async (fake, responder) => {
    fake.addStream('rpc', 'rpc.');
    const subscription = await responder.subscribe('rpc', { subscription: 'servers' });
    const serving = (async () => {
      const message = (await subscription.receive({ timeoutMs: 5000 }))!;
      assert.ok(message.replyTo);
      await message.respond(`echo:${message.text()}`, { headers: { served: 'yes' } });
      await message.ack();
    })();
    const requester = await connect(fake.url);
    try {
      const reply = await requester.request('rpc.echo', 'hi', { timeoutMs: 5000 });
      assert.equal(reply.text(), 'echo:hi');
      assert.deepEqual(reply.headers, { served: 'yes' });
      assert.equal(reply.stream, '');
      assert.equal(reply.partition, -1);
      assert.equal(reply.offset, -1);
      assert.ok(reply.correlationId);
      await reply.ack(); // nothing to settle: resolves
      await serving;
    } finally {
      await requester.close();
    }
  });
});

test(
  'a request nobody answers rejects with TIMEOUT; one no stream captures with NO_ROUTE',
  options,
  async () => {
    await withClient(async (fake, client) => {
      fake.addStream('rpc', 'rpc.');
      await assert.rejects(client.request('rpc.nobody', 'x', { timeoutMs: 50 }), {
        code: 'TIMEOUT',
      });
      await assert.rejects(client.request('elsewhere', 'x'), { code: 'NO_ROUTE' });
      await assert.rejects(client.request('rpc.x', 'x', { timeoutMs: -1 }), {
        code: 'INVALID_ARGUMENT',
      });
    });
  },
);

test('respond on a message without replyTo is INVALID_ARGUMENT', options, async () => {
  await withClient(async (fake, client) => {
    fake.addStream('orders');
    await client.publish('orders', 'x');
    const subscription = await client.subscribe('orders', { subscription: 'w' });
    const message = (await subscription.receive({ timeoutMs: 2000 }))!;
    await assert.rejects(message.respond('nobody asked'), { code: 'INVALID_ARGUMENT' });
  });
});
