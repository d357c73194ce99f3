import { test } from 'node:test';
import assert from 'node:assert/strict';
import { OPCODES } from '../../src/protocol/frame.js';
import { TEST_TIMEOUT_MS, delay, settlesWithin, withClient } from './client-fixture.js';

const options = { timeout: TEST_TIMEOUT_MS };

test(
  'publishes in flight when the connection drops reject with CLOSED; the client reconnects and carries on',
  options,
  async () => {
    await withClient(async (fake, client) => {
      fake.addStream('orders');
      fake.holdPublishes = true;
      const inFlight = [client.publish('orders', 'a'), client.publish('orders', 'b')];
      await fake.waitFor(() => fake.framesOf(OPCODES.PUBLISH).length === 1, 'the PUBLISH');
      fake.holdPublishes = false;
      fake.dropConnections();
      for (const publish of inFlight) {
        await assert.rejects(publish, (error: Error & { code?: string; retriable?: boolean }) => {
          assert.equal(error.code, 'CLOSED');
          assert.equal(error.retriable, true);
          assert.match(error.message, /may or may not have been stored/);
          return true;
        });
      }
      const receipt = await client.publish('orders', 'c');
      assert.equal(receipt.offset, 0);
      assert.equal(fake.hellos.length, 2);
    });
  },
);

test(
  'publishes, calls and subscribes made while disconnected wait and go through after the reconnect',
  options,
  async () => {
    await withClient(async (fake, client) => {
      fake.addStream('orders');
      fake.refuseConnections = true;
      fake.dropConnections();
      await fake.waitFor(() => fake.refused >= 1, 'a refused reconnect attempt');
      const publishes = [
        client.publish('orders', 'a'),
        client.publish('orders', 'b', { confirm: false }),
      ];
      const call = client.streams.list();
      const subscribing = client.subscribe('orders', { subscription: 'w' });
      assert.equal(
        await settlesWithin(Promise.race([...publishes, call, subscribing]), 100),
        false,
      );
      fake.refuseConnections = false;
      const [receipt] = await Promise.all(publishes);
      assert.equal(receipt!.offset, 0);
      assert.deepEqual(await call, [{ name: 'orders' }]);
      const subscription = await subscribing;
      assert.equal((await subscription.receive({ timeoutMs: 2000 }))?.text(), 'a');
    });
  },
);

test(
  'subscriptions are re-created on the new connection; what was not settled comes again',
  options,
  async () => {
    await withClient(async (fake, client) => {
      fake.addStream('orders');
      await Promise.all(['a', 'b'].map((body) => client.publish('orders', body)));
      const subscriptionOptions = { subscription: 'w', maxInFlight: 5 };
      const subscription = await client.subscribe('orders', subscriptionOptions);
      const first = (await subscription.receive({ timeoutMs: 2000 }))!;
      assert.equal(first.text(), 'a');
      const waiting = subscription.receive({ timeoutMs: 5000 });
      // 'b' is in the local buffer or with the waiting receive; drop before anything is acked.
      fake.dropConnections();
      await fake.waitFor(() => fake.subscribes.length === 2, 'the second SUBSCRIBE');
      assert.deepEqual(fake.subscribes[1], {
        stream: 'orders',
        options: subscriptionOptions,
        credit: 5,
      });
      await assert.rejects(first.ack(), { code: 'MESSAGE_SETTLED' });
      const seen = [(await waiting)!, (await subscription.receive({ timeoutMs: 2000 }))!];
      const third = await subscription.receive({ timeoutMs: 2000 });
      if (third) seen.push(third);
      const again = seen.find((message) => message.text() === 'a' && message.deliveryCount === 2);
      assert.ok(
        again,
        `'a' is delivered again: ${seen.map((m) => `${m.text()}#${m.deliveryCount}`).join(', ')}`,
      );
      await again.ack();
      assert.equal(subscription.closed, false);
    });
  },
);

test(
  'CONSUMER_CLOSED with CLOSED followed by the connection going away re-creates the consumer',
  options,
  async () => {
    await withClient(async (fake, client) => {
      fake.addStream('orders');
      const subscription = await client.subscribe('orders', { subscription: 'w' });
      fake.endConsumers('orders', 'CLOSED', 'the broker is closing');
      await delay(20);
      fake.dropConnections();
      await fake.waitFor(() => fake.subscribes.length === 2, 'the consumer to be re-created');
      await client.publish('orders', 'after');
      assert.equal((await subscription.receive({ timeoutMs: 2000 }))?.text(), 'after');
    });
  },
);

test(
  'with reconnect off, a dropped connection closes the client and fails everything with CLOSED',
  options,
  async () => {
    await withClient(
      async (fake, client) => {
        fake.addStream('orders');
        const subscription = await client.subscribe('orders', { subscription: 'w' });
        const waiting = subscription.receive();
        fake.dropConnections();
        assert.equal(await waiting, null);
        assert.equal(client.closed, true);
        assert.equal(subscription.closed, true);
        await assert.rejects(client.publish('orders', 'x'), { code: 'CLOSED' });
        await assert.rejects(client.streams.list(), { code: 'CLOSED' });
        await delay(50);
        assert.equal(fake.hellos.length, 1);
      },
      { connect: { reconnect: false } },
    );
  },
);

test(
  'close() fails pending publishes and requests with CLOSED and ends subscriptions',
  options,
  async () => {
    await withClient(async (fake, client) => {
      fake.addStream('orders');
      fake.addStream('rpc', 'rpc.');
      const subscription = await client.subscribe('orders', { subscription: 'w' });
      fake.holdPublishes = true;
      // assert.rejects is attached now: the promises reject during close().
      const publish = assert.rejects(client.publish('orders', 'held'), { code: 'CLOSED' });
      const request = assert.rejects(client.request('rpc.x', 'x', { timeoutMs: 60_000 }), {
        code: 'CLOSED',
      });
      const waiting = subscription.receive();
      await fake.waitFor(() => fake.framesOf(OPCODES.REQUEST).length === 1, 'the REQUEST');
      await client.close();
      await publish;
      await request;
      assert.equal(await waiting, null);
      assert.equal(subscription.closed, true);
    });
  },
);
