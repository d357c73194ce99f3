/**
 * Malformed and out-of-order input after a good handshake (raw socket): each closes only its
 * own connection, with connection.close carrying the spec's reply code, and the broker goes on
 * serving a well-behaved amqplib connection. A property test sends random frame streams.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  encodeContentFrames,
  encodeMethodFrame,
  encodeProperties,
  FRAME_END,
  type MethodArguments,
  type MethodName,
} from '../../src/amqp/codec/index.js';
import { AMQP_BODY_BYTES_MAX, AMQP_CLOSE_TIMEOUT_MS, AMQP_FRAME_MAX } from '../../src/limits.js';
import { assertReplayable, replayFromEnvironment } from '../helpers/replayable-property.js';
import {
  argumentsOf,
  type AmqpFixture,
  type RawAmqp,
  WAIT_MS,
  waitUntil,
  withAmqp,
  within,
} from './amqp-harness.js';

/** The reply codes of the spec (constants), 200 excluded: a server's close for a fault. */
const SPEC_FAULT_CODES: ReadonlySet<number> = new Set([
  311, 312, 313, 320, 402, 403, 404, 405, 406, 501, 502, 503, 504, 505, 506, 530, 540,
]);

/** A frame of any type, channel and payload; `end` replaces the frame-end octet. */
function rawFrame(type: number, channel: number, payload: Uint8Array, end = FRAME_END): Buffer {
  const frame = Buffer.alloc(7 + payload.length + 1);
  frame.writeUInt8(type, 0);
  frame.writeUInt16BE(channel, 1);
  frame.writeUInt32BE(payload.length, 3);
  frame.set(payload, 7);
  frame.writeUInt8(end, 7 + payload.length);
  return frame;
}

/** A content header frame (class 60 unless told) with no properties. */
function contentHeader(channel: number, bodySize: number, classId = 60): Buffer {
  const payload = Buffer.alloc(12 + 2);
  payload.writeUInt16BE(classId, 0);
  payload.writeUInt16BE(0, 2);
  payload.writeUInt32BE(Math.floor(bodySize / 2 ** 32), 4);
  payload.writeUInt32BE(bodySize % 2 ** 32, 8);
  payload.writeUInt16BE(0, 12); // property flags: none
  return rawFrame(2, channel, payload);
}

const PUBLISH: MethodArguments['basic.publish'] = {
  ticket: 0,
  exchange: '',
  routingKey: 'nowhere',
  mandatory: false,
  immediate: false,
};

/** A raw connection past the handshake, with channel 1 open. */
async function openRaw(fixture: AmqpFixture): Promise<RawAmqp> {
  const raw = await fixture.raw();
  await raw.handshake();
  await raw.openChannel(1);
  return raw;
}

/** A second, well-behaved connection publishes and consumes one message. */
async function brokerStillServes(fixture: AmqpFixture, queue: string): Promise<void> {
  const connection = await fixture.connect();
  const channel = await connection.createConfirmChannel();
  await channel.assertQueue(queue, { durable: false });
  channel.sendToQueue(queue, Buffer.from('still here'));
  await within('the publish confirm', channel.waitForConfirms());
  const received = await within(
    'the delivery',
    new Promise<string>((resolve) => {
      void channel.consume(queue, (message) => {
        if (message === null) return;
        channel.ack(message);
        resolve(message.content.toString());
      });
    }),
  );
  assert.equal(received, 'still here');
  await connection.close();
}

/**
 * Sends `bytes` on a fresh raw connection; expects connection.close with `code`, answers it
 * with close-ok, and (unless `waitClosed` is false) waits for the socket to end.
 *
 * After a fault the frame decoder finds (501, 502, 540) the decoder stays failed, so the
 * server cannot read our close-ok and ends the socket only after AMQP_CLOSE_TIMEOUT_MS (3 s):
 * tests of those faults that do not need the socket's end pass `waitClosed: false`.
 */
async function expectConnectionClose(
  fixture: AmqpFixture,
  bytes: Uint8Array,
  code: number,
  options: { waitClosed?: boolean } = {},
): Promise<MethodArguments['connection.close']> {
  const raw = await openRaw(fixture);
  const after = raw.frames.length;
  raw.write(bytes);
  const close = argumentsOf(
    await raw.expect('connection.close', { channel: 0, after }),
    'connection.close',
  );
  assert.equal(close.replyCode, code, `reply ${close.replyCode} ${close.replyText}`);
  // Only that connection closes: the socket ends (at the latest after AMQP_CLOSE_TIMEOUT_MS).
  raw.send(0, 'connection.close-ok', {});
  if (options.waitClosed !== false) await raw.waitClosed(AMQP_CLOSE_TIMEOUT_MS + WAIT_MS);
  return close;
}

test('random bytes after the handshake: connection.close 501 FRAME_ERROR, and the broker serves another connection', async () => {
  await withAmqp(async (fixture) => {
    // 0x09 is no frame type.
    const close = await expectConnectionClose(
      fixture,
      Buffer.from([0x09, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0xff, 0xce, 0x33]),
      501,
    );
    assert.match(close.replyText, /^FRAME_ERROR/);
    await brokerStillServes(fixture, 'after-random-bytes');
  });
});

test('a frame declaring a size over the negotiated frame_max: 501, refused from its header alone', async () => {
  await withAmqp(async (fixture) => {
    const header = Buffer.alloc(7);
    header.writeUInt8(3, 0);
    header.writeUInt16BE(1, 1);
    header.writeUInt32BE(AMQP_FRAME_MAX, 3); // payload alone = frame_max: the whole frame is over
    await expectConnectionClose(fixture, header, 501, { waitClosed: false });
    await brokerStillServes(fixture, 'after-oversized-frame');
  });
});

test('a frame over a smaller frame_max the client asked for in tune-ok: 501', async () => {
  await withAmqp(async (fixture) => {
    const raw = await fixture.raw();
    await raw.handshake({ frameMax: 4096 });
    await raw.openChannel(1);
    const after = raw.frames.length;
    // A method frame of 5000 bytes: fine under the server's frame_max, not under this one.
    raw.send(1, 'queue.declare', {
      ticket: 0,
      queue: 'q',
      passive: false,
      durable: false,
      exclusive: false,
      autoDelete: false,
      nowait: false,
      arguments: { padding: 'x'.repeat(5000) },
    });
    const close = argumentsOf(await raw.expect('connection.close', { after }), 'connection.close');
    assert.equal(close.replyCode, 501);
    assert.equal(raw.find('queue.declare-ok'), undefined);
  });
});

test('a bad frame-end octet: 501, and the method in that frame is not run', async () => {
  await withAmqp(async (fixture) => {
    const good = encodeMethodFrame(1, 'queue.declare', {
      ticket: 0,
      queue: 'bad-frame-end',
      passive: false,
      durable: false,
      exclusive: false,
      autoDelete: false,
      nowait: false,
      arguments: {},
    });
    const bad = Buffer.from(good);
    bad[bad.length - 1] = 0x00;
    await expectConnectionClose(fixture, bad, 501, { waitClosed: false });
    const connection = await fixture.connect();
    const channel = await connection.createChannel();
    await assert.rejects(channel.checkQueue('bad-frame-end'), /404/);
    await brokerStillServes(fixture, 'after-bad-frame-end');
  });
});

test('a method on a channel never opened: 504 CHANNEL_ERROR naming the method', async () => {
  await withAmqp(async (fixture) => {
    const close = await expectConnectionClose(
      fixture,
      encodeMethodFrame(7, 'basic.qos', { prefetchSize: 0, prefetchCount: 1, global: false }),
      504,
    );
    assert.deepEqual([close.classId, close.methodId], [60, 10]);
    await brokerStillServes(fixture, 'after-unopened-channel');
  });
});

test('channel.open twice on one channel: 504', async () => {
  await withAmqp(async (fixture) => {
    await expectConnectionClose(
      fixture,
      encodeMethodFrame(1, 'channel.open', { outOfBand: '' }),
      504,
    );
  });
});

test('a content header without basic.publish: 505 UNEXPECTED_FRAME', async () => {
  await withAmqp(async (fixture) => {
    const close = await expectConnectionClose(fixture, contentHeader(1, 3), 505);
    assert.match(close.replyText, /^UNEXPECTED_FRAME/);
    await brokerStillServes(fixture, 'after-content-without-publish');
  });
});

test('a content body without a content header (after basic.publish): 505', async () => {
  await withAmqp(async (fixture) => {
    const bytes = Buffer.concat([
      encodeMethodFrame(1, 'basic.publish', PUBLISH),
      rawFrame(3, 1, Buffer.from('body')),
    ]);
    await expectConnectionClose(fixture, bytes, 505);
  });
});

test('a method where content for basic.publish is due: 505', async () => {
  await withAmqp(async (fixture) => {
    const bytes = Buffer.concat([
      encodeMethodFrame(1, 'basic.publish', PUBLISH),
      encodeMethodFrame(1, 'basic.qos', { prefetchSize: 0, prefetchCount: 1, global: false }),
    ]);
    await expectConnectionClose(fixture, bytes, 505);
  });
});

test('content on channel 0: 505 (it is not a channel)', async () => {
  await withAmqp(async (fixture) => {
    await expectConnectionClose(fixture, contentHeader(0, 1), 505);
  });
});

test('a body longer than its content header said: 501 and nothing is stored', async () => {
  await withAmqp(async (fixture) => {
    const connection = await fixture.connect();
    const channel = await connection.createChannel();
    await channel.assertQueue('too-long');
    const bytes = Buffer.concat([
      encodeMethodFrame(1, 'basic.publish', { ...PUBLISH, routingKey: 'too-long' }),
      contentHeader(1, 2),
      rawFrame(3, 1, Buffer.from('three')),
    ]);
    await expectConnectionClose(fixture, bytes, 501);
    assert.equal((await channel.checkQueue('too-long')).messageCount, 0);
  });
});

test('a content header of a class other than basic: 505', async () => {
  await withAmqp(async (fixture) => {
    const bytes = Buffer.concat([
      encodeMethodFrame(1, 'basic.publish', PUBLISH),
      contentHeader(1, 1, 50),
    ]);
    await expectConnectionClose(fixture, bytes, 505, { waitClosed: false });
  });
});

test('an unknown class and method id: 540 NOT_IMPLEMENTED', async () => {
  await withAmqp(async (fixture) => {
    const payload = Buffer.from([0x00, 0x63, 0x00, 0x63]);
    await expectConnectionClose(fixture, rawFrame(1, 1, payload), 540, { waitClosed: false });
  });
});

test('a truncated method payload: 502 SYNTAX_ERROR', async () => {
  await withAmqp(async (fixture) => {
    const full = encodeMethodFrame(1, 'basic.qos', {
      prefetchSize: 0,
      prefetchCount: 1,
      global: false,
    });
    const payload = full.subarray(7, full.length - 3); // one argument octet and a half missing
    await expectConnectionClose(fixture, rawFrame(1, 1, payload), 502, { waitClosed: false });
  });
});

test('a heartbeat on a channel other than 0: 501', async () => {
  await withAmqp(async (fixture) => {
    await expectConnectionClose(fixture, rawFrame(8, 1, new Uint8Array(0)), 501, {
      waitClosed: false,
    });
  });
});

test('a soft error closes only the channel: channel.close 404, and channel 2 of the same connection goes on', async () => {
  await withAmqp(async (fixture) => {
    const raw = await openRaw(fixture);
    await raw.openChannel(2);
    raw.send(1, 'basic.get', { ticket: 0, queue: 'missing', noAck: true });
    const close = argumentsOf(await raw.expect('channel.close', { channel: 1 }), 'channel.close');
    assert.equal(close.replyCode, 404);
    assert.deepEqual([close.classId, close.methodId], [60, 70]);
    raw.send(1, 'channel.close-ok', {});
    const after = raw.frames.length;
    raw.send(2, 'basic.qos', { prefetchSize: 0, prefetchCount: 5, global: false });
    await raw.expect('basic.qos-ok', { channel: 2, after });
    assert.equal(raw.find('connection.close'), undefined);
  });
});

// ---- property: random frame streams ------------------------------------------------------

const QUEUE_NAMES = ['fuzz-a', 'fuzz-b', ''];

function methodFrame(channel: number, name: MethodName, args: unknown): Uint8Array {
  return encodeMethodFrame(channel, name, args as MethodArguments[typeof name]);
}

/** One frame: mostly well-formed methods and content in any order, some plain garbage. */
const frameArbitrary: fc.Arbitrary<Uint8Array> = fc.oneof(
  {
    weight: 3,
    arbitrary: fc
      .constantFrom(1, 2)
      .map((channel) => methodFrame(channel, 'channel.open', { outOfBand: '' })),
  },
  {
    weight: 3,
    arbitrary: fc
      .tuple(fc.constantFrom(1, 2), fc.constantFrom(...QUEUE_NAMES), fc.boolean(), fc.boolean())
      .map(([channel, queue, passive, exclusive]) =>
        methodFrame(channel, 'queue.declare', {
          ticket: 0,
          queue,
          passive,
          durable: false,
          exclusive,
          autoDelete: false,
          nowait: false,
          arguments: {},
        }),
      ),
  },
  {
    weight: 3,
    arbitrary: fc
      .tuple(
        fc.constantFrom(1, 2),
        fc.constantFrom('', 'amq.fanout', 'nope'),
        fc.constantFrom(...QUEUE_NAMES),
        fc.boolean(),
      )
      .map(([channel, exchange, routingKey, mandatory]) =>
        methodFrame(channel, 'basic.publish', {
          ticket: 0,
          exchange,
          routingKey,
          mandatory,
          immediate: false,
        }),
      ),
  },
  {
    weight: 3,
    arbitrary: fc
      .tuple(fc.constantFrom(1, 2), fc.uint8Array({ maxLength: 16 }))
      .map(([channel, body]) =>
        Buffer.from(
          encodeContentFrames(channel, 60, body.length, encodeProperties({}), body, 4096),
        ),
      ),
  },
  {
    weight: 2,
    arbitrary: fc
      .tuple(fc.constantFrom(1, 2), fc.constantFrom(...QUEUE_NAMES), fc.boolean())
      .map(([channel, queue, noAck]) =>
        methodFrame(channel, 'basic.consume', {
          ticket: 0,
          queue,
          consumerTag: '',
          noLocal: false,
          noAck,
          exclusive: false,
          nowait: false,
          arguments: {},
        }),
      ),
  },
  {
    weight: 2,
    arbitrary: fc
      .tuple(fc.constantFrom(1, 2), fc.integer({ min: 0, max: 5 }), fc.boolean())
      .map(([channel, deliveryTag, multiple]) =>
        methodFrame(channel, 'basic.ack', { deliveryTag, multiple }),
      ),
  },
  {
    weight: 2,
    arbitrary: fc
      .tuple(fc.constantFrom(1, 2), fc.constantFrom(...QUEUE_NAMES))
      .map(([channel, queue]) =>
        methodFrame(channel, 'basic.get', { ticket: 0, queue, noAck: false }),
      ),
  },
  {
    weight: 1,
    arbitrary: fc
      .constantFrom<[MethodName, unknown]>(
        ['confirm.select', { nowait: false }],
        ['tx.select', {}],
        ['tx.commit', {}],
        ['tx.rollback', {}],
        ['basic.recover', { requeue: true }],
        ['channel.flow', { active: false }],
        ['channel.close', { replyCode: 200, replyText: '', classId: 0, methodId: 0 }],
        ['channel.close-ok', {}],
      )
      .chain(([name, args]) =>
        fc.constantFrom(1, 2).map((channel) => methodFrame(channel, name, args)),
      ),
  },
  {
    weight: 1,
    arbitrary: fc
      .tuple(
        fc.integer({ min: 0, max: 10 }),
        fc.integer({ min: 0, max: 3 }),
        fc.uint8Array({ maxLength: 24 }),
        fc.integer({ min: 0, max: 255 }),
      )
      .map(([type, channel, payload, end]) => rawFrame(type, channel, payload, end)),
  },
  { weight: 1, arbitrary: fc.uint8Array({ minLength: 1, maxLength: 32 }) },
);

test('random frame streams: the server never crashes, and always answers or closes with a spec reply code', async () => {
  const replay = replayFromEnvironment(100);
  console.log(`amqp random frame streams: WEIR_SEED=${replay.seed} WEIR_RUNS=${replay.numRuns}`);
  await withAmqp(async (fixture) => {
    let runs = 0;
    await assertReplayable(
      'random AMQP frame streams',
      fc.asyncProperty(
        fc.array(frameArbitrary, { minLength: 1, maxLength: 12 }),
        fc.integer({ min: 1, max: 64 }),
        async (frames, chunkBytes) => {
          runs++;
          const raw = await fixture.raw();
          try {
            await raw.handshake();
            const after = raw.frames.length;
            // The stream, split at chunkBytes, then a clean close of our own.
            const bytes = Buffer.concat([
              ...frames,
              encodeMethodFrame(0, 'connection.close', {
                replyCode: 200,
                replyText: 'bye',
                classId: 0,
                methodId: 0,
              }),
            ]);
            for (let offset = 0; offset < bytes.length; offset += chunkBytes) {
              raw.write(bytes.subarray(offset, offset + chunkBytes));
            }
            await raw.waitFor(
              'close-ok to our close, or a connection.close, or the socket closing',
              () =>
                raw.closed ||
                raw.find('connection.close-ok') !== undefined ||
                raw.frames
                  .slice(after)
                  .some(
                    (frame) => frame.type === 'method' && frame.method.name === 'connection.close',
                  ),
            );
            assert.equal(raw.decodeError, null, 'every frame the server sent decodes');
            for (const frame of raw.frames.slice(after)) {
              if (frame.type !== 'method') continue;
              if (
                frame.method.name === 'connection.close' ||
                frame.method.name === 'channel.close'
              ) {
                const { replyCode, replyText } = frame.method.args;
                assert.ok(
                  SPEC_FAULT_CODES.has(replyCode),
                  `${frame.method.name} ${replyCode} ${replyText}`,
                );
              }
            }
          } finally {
            raw.destroy();
          }
        },
      ),
      replay,
      12_000,
    );
    assert.ok(runs > 0);
    await brokerStillServes(fixture, 'after-fuzz');
  });
});

test('a body over AMQP_BODY_BYTES_MAX from amqplib: channel.close 406, its body frames are dropped, and the connection goes on', async () => {
  await withAmqp(async (fixture) => {
    const connection = await fixture.connect();
    const connectionErrors: Error[] = [];
    connection.on('error', (error: Error) => connectionErrors.push(error));
    const channel = await connection.createChannel();
    await channel.assertQueue('big', { durable: false });
    const channelError = new Promise<Error & { code?: number }>((resolve) =>
      channel.once('error', resolve),
    );
    channel.sendToQueue('big', Buffer.alloc(AMQP_BODY_BYTES_MAX + 1, 1));
    const error = await within('the channel error', channelError);
    assert.equal(error.code, 406);
    assert.match(error.message, /larger than max size/);
    const other = await connection.createChannel();
    const state = await other.checkQueue('big');
    assert.equal(state.messageCount, 0);
    other.sendToQueue('big', Buffer.from('small'));
    let got: string | null = null;
    await waitUntil('the small message', async () => {
      const message = await other.get('big', { noAck: true });
      if (message !== false) got = message.content.toString();
      return got !== null;
    });
    assert.equal(got, 'small');
    assert.deepEqual(connectionErrors, []);
    await connection.close();
  });
});

test("a channel reopened before its close-ok (amqplib queues that close-ok behind the channel's frames): the open stands for it, the late close-ok is dropped", async () => {
  await withAmqp(async (fixture) => {
    const raw = await openRaw(fixture);
    raw.send(1, 'basic.get', { ticket: 0, queue: 'missing', noAck: true });
    await raw.expect('channel.close', { channel: 1 });
    let after = raw.frames.length;
    raw.send(1, 'channel.open', { outOfBand: '' });
    await raw.expect('channel.open-ok', { channel: 1, after });
    raw.send(1, 'channel.close-ok', {});
    after = raw.frames.length;
    raw.send(1, 'basic.qos', { prefetchSize: 0, prefetchCount: 5, global: false });
    await raw.expect('basic.qos-ok', { channel: 1, after });
    assert.equal(raw.find('connection.close'), undefined);
  });
});
