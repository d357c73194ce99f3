import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CLIENT_CLOSE_SETTLES_WAIT_MS_MAX } from '../../src/limits.js';
import { OPCODES } from '../../src/protocol/frame.js';
import type { Message } from '../../src/client/index.js';
import type { RemoteMessage } from '../../src/client/remote-message.js';
import { TEST_TIMEOUT_MS, delay, withClient } from './client-fixture.js';

const options = { timeout: TEST_TIMEOUT_MS };

test(
  'a subscription receives what was published, in order, with every field',
  options,
  async () => {
    await withClient(async (fake, client) => {
      fake.addStream('orders');
      await client.publish(
        'orders',
        { n: 1 },
        { key: 'k1', headers: { h: 'v' }, id: 'a', priority: 3 },
      );
      await client.publish('orders', 'two');
      const subscription = await client.subscribe('orders', { subscription: 'workers' });
      assert.equal(subscription.name, 'workers');
      assert.equal(subscription.stream, 'orders');
      const first = (await subscription.receive({ timeoutMs: 2000 }))!;
      assert.deepEqual(first.json(), { n: 1 });
      assert.equal(first.key, 'k1');
      assert.deepEqual(first.headers, { h: 'v' });
      assert.equal(first.id, 'a');
      assert.equal(first.priority, 3);
      assert.equal(first.stream, 'orders');
      assert.equal(first.offset, 0);
      assert.equal(first.deliveryCount, 1);
      const second = (await subscription.receive({ timeoutMs: 2000 }))!;
      assert.equal(second.text(), 'two');
      assert.equal(second.key, null);
      assert.deepEqual(fake.subscribes[0], {
        stream: 'orders',
        options: { subscription: 'workers' },
        credit: 1000,
      });
    });
  },
);

test(
  'credit: the window goes with SUBSCRIBE, and taking half of it grants that half back',
  options,
  async () => {
    await withClient(async (fake, client) => {
      fake.addStream('orders');
      await Promise.all(
        Array.from({ length: 30 }, (_, index) => client.publish('orders', String(index))),
      );
      const subscription = await client.subscribe('orders', { subscription: 'w', maxInFlight: 10 });
      assert.equal(fake.subscribes[0]!.credit, 10);
      const texts: string[] = [];
      for (let index = 0; index < 4; index++)
        texts.push((await subscription.receive({ timeoutMs: 2000 }))!.text());
      await delay(20);
      assert.equal(
        fake.framesOf(OPCODES.CREDIT).length,
        0,
        'no top-up before half the window was taken',
      );
      texts.push((await subscription.receive({ timeoutMs: 2000 }))!.text());
      await fake.waitFor(() => fake.framesOf(OPCODES.CREDIT).length === 1, 'a CREDIT frame');
      assert.equal(fake.framesOf(OPCODES.CREDIT)[0]!.count, 5);
      for (let index = 5; index < 30; index++)
        texts.push((await subscription.receive({ timeoutMs: 2000 }))!.text());
      assert.deepEqual(
        texts,
        Array.from({ length: 30 }, (_, index) => String(index)),
      );
    });
  },
);

test(
  'acks made in one tick go out in one SETTLE frame and resolve on SETTLED; acking twice is fine',
  options,
  async () => {
    await withClient(async (fake, client) => {
      fake.addStream('orders');
      await Promise.all(Array.from({ length: 10 }, () => client.publish('orders', 'x')));
      const subscription = await client.subscribe('orders', { subscription: 'w' });
      const messages: Message[] = [];
      for (let index = 0; index < 10; index++)
        messages.push((await subscription.receive({ timeoutMs: 2000 }))!);
      await Promise.all(messages.map((message) => message.ack()));
      assert.deepEqual(
        fake.framesOf(OPCODES.SETTLE).map((frame) => frame.count),
        [10],
      );
      assert.deepEqual(
        fake.settles.map((entry) => [entry.kind, entry.offset]),
        messages.map((_, index) => ['ack', index]),
      );
      await messages[0]!.ack();
      assert.equal(fake.framesOf(OPCODES.SETTLE).length, 1);
      // Each message the application received was reported as taken, ahead of its ack.
      assert.deepEqual(
        fake.takes.map((entry) => [entry.offset, entry.token]),
        messages.map((message) => [message.offset, (message as RemoteMessage).deliveryToken]),
      );
    });
  },
);

test(
  'nack, term and extend carry their delay, reason and lease; a refused settle rejects with its code',
  options,
  async () => {
    await withClient(async (fake, client) => {
      fake.addStream('orders');
      await Promise.all(['a', 'b', 'c'].map((body) => client.publish('orders', body)));
      const subscription = await client.subscribe('orders', { subscription: 'w' });
      const [a, b, c] = [
        (await subscription.receive({ timeoutMs: 2000 }))!,
        (await subscription.receive({ timeoutMs: 2000 }))!,
        (await subscription.receive({ timeoutMs: 2000 }))!,
      ];
      await Promise.all([
        c.extend(),
        c.extend(5000),
        a.nack({ delayMs: 250 }),
        b.term('bad input'),
      ]);
      const byKind = new Map(fake.settles.map((entry) => [`${entry.kind}:${entry.value}`, entry]));
      assert.ok(byKind.has('extend:NaN'));
      assert.ok(byKind.has('extend:5000'));
      assert.equal(byKind.get('nack:250')?.offset, 0);
      assert.equal(fake.settles.find((entry) => entry.kind === 'term')?.reason, 'bad input');
      await assert.rejects(b.ack(), { code: 'MESSAGE_SETTLED' });
      // The nacked message comes again.
      const again = (await subscription.receive({ timeoutMs: 2000 }))!;
      assert.equal(again.text(), 'a');
      assert.equal(again.deliveryCount, 2);
    });
  },
);

test(
  'with ack none, ack resolves at once, nack is MESSAGE_SETTLED (as embedded), nothing is sent',
  options,
  async () => {
    await withClient(async (fake, client) => {
      fake.addStream('orders');
      await client.publish('orders', 'x');
      const subscription = await client.subscribe('orders', { subscription: 'w', ack: 'none' });
      const message = (await subscription.receive({ timeoutMs: 2000 }))!;
      await message.ack();
      await assert.rejects(message.nack(), { code: 'MESSAGE_SETTLED' });
      await delay(20);
      assert.equal(fake.framesOf(OPCODES.SETTLE).length, 0);
    });
  },
);

test(
  'receive times out with null; close() sends UNSUBSCRIBE, ends iteration, and settling then fails with MESSAGE_SETTLED (as embedded)',
  options,
  async () => {
    await withClient(async (fake, client) => {
      fake.addStream('orders');
      await client.publish('orders', 'x');
      const subscription = await client.subscribe('orders', { subscription: 'w' });
      const message = (await subscription.receive({ timeoutMs: 2000 }))!;
      assert.equal(await subscription.receive({ timeoutMs: 20 }), null);
      const waiting = subscription.receive();
      await subscription.close();
      assert.equal(await waiting, null);
      assert.equal(subscription.closed, true);
      assert.equal(fake.framesOf(OPCODES.UNSUBSCRIBE).length, 1);
      assert.equal(await subscription.receive(), null);
      for await (const yielded of subscription)
        assert.fail(`a closed subscription yielded ${yielded.text()}`);
      await assert.rejects(message.ack(), { code: 'MESSAGE_SETTLED' });
    });
  },
);

test('leaving a for-await loop closes the subscription', options, async () => {
  await withClient(async (fake, client) => {
    fake.addStream('orders');
    await Promise.all(['a', 'b', 'c'].map((body) => client.publish('orders', body)));
    const subscription = await client.subscribe('orders', { subscription: 'w' });
    for await (const message of subscription) {
      await message.ack();
      break;
    }
    assert.equal(subscription.closed, true);
    await fake.waitFor(() => fake.framesOf(OPCODES.UNSUBSCRIBE).length === 1, 'UNSUBSCRIBE');
    // The ack went out before the UNSUBSCRIBE.
    const order = fake.frames.filter(
      (frame) => frame.opcode === OPCODES.SETTLE || frame.opcode === OPCODES.UNSUBSCRIBE,
    );
    assert.deepEqual(
      order.map((frame) => frame.opcode),
      [OPCODES.SETTLE, OPCODES.UNSUBSCRIBE],
    );
  });
});

test('CONSUMER_CLOSED with a code other than CLOSED ends the subscription', options, async () => {
  await withClient(async (fake, client) => {
    fake.addStream('orders');
    const subscription = await client.subscribe('orders', { subscription: 'w' });
    const waiting = subscription.receive();
    await delay(10);
    fake.endConsumers('orders', 'STREAM_NOT_FOUND', 'the stream was deleted');
    assert.equal(await waiting, null);
    assert.equal(subscription.closed, true);
  });
});

test(
  'subscribing to a stream the server does not have rejects with its code',
  options,
  async () => {
    await withClient(async (_fake, client) => {
      await assert.rejects(client.subscribe('missing'), { code: 'STREAM_NOT_FOUND' });
      await assert.rejects(client.subscribe(7 as unknown as string), { code: 'INVALID_ARGUMENT' });
    });
  },
);

test('an ephemeral subscription gets the name the server chose', options, async () => {
  await withClient(async (fake, client) => {
    fake.addStream('orders');
    const subscription = await client.subscribe('orders');
    assert.match(subscription.name, /^ephemeral-\d+$/);
    await client.publish('orders', 'live');
    assert.equal((await subscription.receive({ timeoutMs: 2000 }))?.text(), 'live');
  });
});

test(
  'messages of frames reassembled from many chunks keep their bodies intact',
  options,
  async () => {
    await withClient(async (fake, client) => {
      fake.addStream('orders');
      const large = Uint8Array.from({ length: 300 * 1024 }, (_, index) => index % 251);
      await Promise.all([
        client.publish('orders', large),
        client.publish('orders', 'small'),
        client.publish('orders', large),
      ]);
      const subscription = await client.subscribe('orders', { subscription: 'w' });
      const received: Message[] = [];
      for (let index = 0; index < 3; index++)
        received.push((await subscription.receive({ timeoutMs: 2000 }))!);
      // More traffic after the first frames, then check the kept bodies again.
      await Promise.all(
        Array.from({ length: 20 }, () =>
          client.publish('orders', new Uint8Array(70 * 1024).fill(7)),
        ),
      );
      for (let index = 0; index < 20; index++) await subscription.receive({ timeoutMs: 2000 });
      assert.deepEqual(received[0]!.body, large);
      assert.equal(received[1]!.text(), 'small');
      assert.deepEqual(received[2]!.body, large);
    });
  },
);

test('close() resolves only once the acks made before it are recorded', options, async () => {
  await withClient(async (fake, client) => {
    fake.addStream('orders');
    await client.publish('orders', 'x');
    const subscription = await client.subscribe('orders', { subscription: 'w' });
    const message = (await subscription.receive({ timeoutMs: 2000 }))!;
    fake.settleDelayMs = 100;
    let acked = false;
    const ack = message.ack().then(() => (acked = true));
    await subscription.close();
    assert.equal(acked, true, 'the ack was answered before close() resolved');
    await ack;
    assert.deepEqual(
      fake.frames
        .filter((frame) => frame.opcode === OPCODES.SETTLE || frame.opcode === OPCODES.UNSUBSCRIBE)
        .map((frame) => frame.opcode),
      [OPCODES.SETTLE, OPCODES.UNSUBSCRIBE],
    );
  });
});

test(
  'client.close() sends the takes and acks queued before it, then UNSUBSCRIBE',
  options,
  async () => {
    await withClient(async (fake, client) => {
      fake.addStream('orders');
      await client.publish('orders', 'x');
      await client.publish('orders', 'y');
      const subscription = await client.subscribe('orders', { subscription: 'w' });
      const message = (await subscription.receive({ timeoutMs: 2000 }))!;
      await delay(50); // the take of the first goes out on its own
      const takesBefore = fake.takes.length;
      const second = (await subscription.receive({ timeoutMs: 2000 }))!;
      fake.settleDelayMs = 100;
      let acked = false;
      const ack = message.ack().then(() => (acked = true));
      await client.close(); // the take of the second and the ack are still queued
      assert.equal(acked, true, 'the ack was answered before close() resolved');
      await ack;
      assert.equal(fake.takes.length, takesBefore + 1, 'the take of the second went out');
      assert.equal(fake.takes.at(-1)!.offset, second.offset);
      assert.deepEqual(
        fake.frames
          .filter(
            (frame) => frame.opcode === OPCODES.SETTLE || frame.opcode === OPCODES.UNSUBSCRIBE,
          )
          .map((frame) => frame.opcode),
        [OPCODES.SETTLE, OPCODES.UNSUBSCRIBE],
      );
    });
  },
);

test(
  'client.close() against a server that stopped answering ends within its bound',
  options,
  async () => {
    await withClient(async (fake, client) => {
      fake.addStream('orders');
      await client.publish('orders', 'x');
      const subscription = await client.subscribe('orders', { subscription: 'w' });
      const message = (await subscription.receive({ timeoutMs: 2000 }))!;
      fake.mute = true;
      const ack = message.ack().catch((error: { code?: string }) => error.code);
      const startedAt = Date.now();
      await client.close();
      const tookMs = Date.now() - startedAt;
      assert.ok(tookMs <= CLIENT_CLOSE_SETTLES_WAIT_MS_MAX + 2000, `close() took ${tookMs} ms`);
      assert.equal(await ack, 'CLOSED');
    });
  },
);
