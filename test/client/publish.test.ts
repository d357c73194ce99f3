import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FLAG_NO_CONFIRM, OPCODES } from '../../src/protocol/frame.js';
import {
  CLIENT_PUBLISHES_IN_FLIGHT_MAX,
  CLIENT_PUBLISH_QUEUE_MAX,
  PUBLISH_BATCH_MESSAGES_MAX,
} from '../../src/limits.js';
import { TEST_TIMEOUT_MS, delay, withClient } from './client-fixture.js';

const options = { timeout: TEST_TIMEOUT_MS };
const decoder = new TextDecoder();

test(
  'publishes made in one tick go out in one PUBLISH frame, each with its own receipt',
  options,
  async () => {
    await withClient(async (fake, client) => {
      fake.addStream('orders');
      const receipts = await Promise.all(
        Array.from({ length: 100 }, (_, index) => client.publish('orders', `m${index}`)),
      );
      assert.deepEqual(
        receipts.map((receipt) => receipt.offset),
        Array.from({ length: 100 }, (_, index) => index),
      );
      assert.deepEqual(receipts[3], {
        stream: 'orders',
        partition: 0,
        offset: 3,
        duplicate: false,
        scheduled: false,
        streams: [
          { stream: 'orders', partition: 0, offset: 3, duplicate: false, scheduled: false },
        ],
      });
      assert.deepEqual(
        fake.framesOf(OPCODES.PUBLISH).map((frame) => frame.count),
        [100],
      );
    });
  },
);

test(
  'a tick with more than PUBLISH_BATCH_MESSAGES_MAX publishes is split into full frames, in order',
  options,
  async () => {
    await withClient(async (fake, client) => {
      fake.addStream('orders');
      const count = PUBLISH_BATCH_MESSAGES_MAX * 2 + 7;
      await Promise.all(
        Array.from({ length: count }, (_, index) => client.publish('orders', String(index))),
      );
      assert.deepEqual(
        fake.framesOf(OPCODES.PUBLISH).map((frame) => frame.count),
        [PUBLISH_BATCH_MESSAGES_MAX, PUBLISH_BATCH_MESSAGES_MAX, 7],
      );
      assert.deepEqual(
        fake.stored('orders').map((entry) => decoder.decode(entry.body)),
        Array.from({ length: count }, (_, index) => String(index)),
      );
    });
  },
);

test('a per-message error rejects that publish only', options, async () => {
  await withClient(async (fake, client) => {
    fake.addStream('orders', 'orders.');
    const [first, second, third] = await Promise.allSettled([
      client.publish('orders.a', 'a'),
      client.publish('nowhere', 'b'),
      client.publish('orders.c', 'c'),
    ]);
    assert.equal(first.status === 'fulfilled' && first.value.offset, 0);
    assert.equal(
      second.status === 'rejected' && (second.reason as { code: string }).code,
      'NO_ROUTE',
    );
    assert.equal(third.status === 'fulfilled' && third.value.offset, 1);
    assert.equal(fake.framesOf(OPCODES.PUBLISH).length, 1);
  });
});

test(
  'bodies: bytes as they are, strings as UTF-8, other values as JSON; options travel',
  options,
  async () => {
    await withClient(async (fake, client) => {
      fake.addStream('orders');
      await Promise.all([
        client.publish('orders', new Uint8Array([1, 2, 3])),
        client.publish('orders', 'héllo'),
        client.publish(
          'orders',
          { a: [1, null] },
          { key: 'k', headers: { h: 'v' }, id: 'id-1', priority: 5 },
        ),
      ]);
      const stored = fake.stored('orders');
      assert.deepEqual([...stored[0]!.body], [1, 2, 3]);
      assert.equal(decoder.decode(stored[1]!.body), 'héllo');
      assert.equal(decoder.decode(stored[2]!.body), '{"a":[1,null]}');
      assert.deepEqual(stored[2]!.options, {
        key: 'k',
        headers: { h: 'v' },
        id: 'id-1',
        priority: 5,
      });
    });
  },
);

test(
  'confirm: false goes in FLAG_NO_CONFIRM frames, gets no reply and resolves once written',
  options,
  async () => {
    await withClient(async (fake, client) => {
      fake.addStream('orders');
      const receipts = await Promise.all([
        client.publish('orders', 'a', { confirm: false }),
        client.publish('orders', 'b', { confirm: false }),
        client.publish('orders', 'c'),
        client.publish('orders', 'd', { confirm: false }),
      ]);
      const unconfirmed = {
        stream: '',
        partition: -1,
        offset: -1,
        duplicate: false,
        scheduled: false,
        streams: [],
      };
      assert.deepEqual(receipts[0], unconfirmed);
      assert.deepEqual(receipts[3], unconfirmed);
      assert.equal(receipts[2].offset, 2);
      // Order is kept: one frame per run of the same kind.
      assert.deepEqual(
        fake.framesOf(OPCODES.PUBLISH).map((frame) => [frame.flags & FLAG_NO_CONFIRM, frame.count]),
        [
          [1, 2],
          [0, 1],
          [1, 1],
        ],
      );
      await fake.waitFor(() => fake.stored('orders').length === 4, 'the stored messages');
      assert.deepEqual(
        fake.stored('orders').map((entry) => decoder.decode(entry.body)),
        ['a', 'b', 'c', 'd'],
      );
    });
  },
);

test(
  'at most CLIENT_PUBLISHES_IN_FLIGHT_MAX publishes wait for a receipt; close() rejects the rest with CLOSED',
  options,
  async () => {
    await withClient(async (fake, client) => {
      fake.addStream('orders');
      fake.holdPublishes = true;
      const total = CLIENT_PUBLISHES_IN_FLIGHT_MAX + 500;
      // allSettled is attached now: the promises reject during close().
      const publishes = Promise.allSettled(
        Array.from({ length: total }, () => client.publish('orders', 'x')),
      );
      const sent = (): number =>
        fake.framesOf(OPCODES.PUBLISH).reduce((sum, frame) => sum + frame.count, 0);
      await fake.waitFor(() => sent() === CLIENT_PUBLISHES_IN_FLIGHT_MAX, 'a full window');
      await delay(50);
      assert.equal(sent(), CLIENT_PUBLISHES_IN_FLIGHT_MAX);
      await client.close();
      const outcomes = await publishes;
      assert.ok(
        outcomes.every(
          (outcome) =>
            outcome.status === 'rejected' && (outcome.reason as { code: string }).code === 'CLOSED',
        ),
      );
    });
  },
);

test(
  'past CLIENT_PUBLISH_QUEUE_MAX queued publishes, a publish rejects with LIMIT_EXCEEDED',
  options,
  async () => {
    await withClient(async (fake, client) => {
      fake.addStream('orders');
      const publishes = Array.from({ length: CLIENT_PUBLISH_QUEUE_MAX }, () =>
        client.publish('orders', 'x', { confirm: false }),
      );
      await assert.rejects(client.publish('orders', 'one too many'), { code: 'LIMIT_EXCEEDED' });
      await Promise.all(publishes);
    });
  },
);

test('wrong argument types are INVALID_ARGUMENT and nothing is sent', options, async () => {
  await withClient(async (fake, client) => {
    const loose = client as unknown as { publish(...args: unknown[]): Promise<unknown> };
    await assert.rejects(loose.publish(42, 'x'), { code: 'INVALID_ARGUMENT' });
    await assert.rejects(loose.publish('orders', undefined), { code: 'INVALID_ARGUMENT' });
    await assert.rejects(loose.publish('orders', 'x', { priority: 'high' }), {
      code: 'INVALID_ARGUMENT',
    });
    await assert.rejects(loose.publish('orders', 'x', { headers: { a: 1 } }), {
      code: 'INVALID_ARGUMENT',
    });
    await delay(10);
    assert.equal(fake.framesOf(OPCODES.PUBLISH).length, 0);
  });
});

test(
  'when the server stops reading, publishes wait in the queue instead of piling up in the socket',
  options,
  async () => {
    await withClient(async (fake, client) => {
      fake.addStream('orders');
      fake.pauseReading(true);
      const body = new Uint8Array(64 * 1024);
      const total = 400; // 25 MiB: more than loopback socket buffers hold
      let written = 0;
      const publishes: Promise<unknown>[] = [];
      for (let index = 0; index < total; index++) {
        publishes.push(client.publish('orders', body, { confirm: false }).then(() => written++));
        await new Promise((resolve) => setImmediate(resolve)); // one flush each
      }
      await delay(200);
      const writtenWhilePaused = written;
      assert.ok(writtenWhilePaused < total, `all ${total} were written to a socket nobody reads`);
      fake.pauseReading(false);
      await Promise.all(publishes);
      await fake.waitFor(() => fake.stored('orders').length === total, 'every message stored');
    });
  },
);
