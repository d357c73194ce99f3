/**
 * The incremental frame decoder: the same frames whatever the chunk boundaries; random bytes,
 * and valid streams with bytes flipped or cut, only ever give frames or an AmqpFrameError with
 * a spec reply code; an oversized frame is refused from its 7-byte header; frames never refer
 * to the caller's chunk. Replay a failure with WEIR_SEED=<seed>.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  AMQP_PROTOCOL_HEADER,
  AmqpFrameError,
  BASIC_CLASS_ID,
  FRAME_END,
  FRAME_MIN_SIZE,
  FrameDecoder,
  HEARTBEAT_FRAME,
  REPLY_CODES,
  checkProtocolHeader,
  encodeContentFrames,
  encodeMethodFrame,
  encodeProperties,
  type Frame,
} from '../../src/amqp/codec/index.js';

const SEED = Number(process.env['WEIR_SEED'] ?? Date.now() % 2 ** 31);
const FRAME_MAX = FRAME_MIN_SIZE * 4;
const REPLY_CODE_VALUES: ReadonlySet<number> = new Set(Object.values(REPLY_CODES));
const bytes = (...values: number[]): Uint8Array => Uint8Array.from(values);

function split(stream: Uint8Array, cuts: readonly number[]): Uint8Array[] {
  const positions = [...new Set(cuts.map((cut) => cut % (stream.length + 1)))].sort(
    (a, b) => a - b,
  );
  const chunks: Uint8Array[] = [];
  let previous = 0;
  for (const position of positions) {
    chunks.push(stream.subarray(previous, position));
    previous = position;
  }
  chunks.push(stream.subarray(previous));
  return chunks;
}

function isFault(replyCode: number): (error: unknown) => boolean {
  return (error) => {
    assert.ok(error instanceof AmqpFrameError, `expected an AmqpFrameError, got ${String(error)}`);
    assert.equal(error.replyCode, replyCode, error.message);
    return true;
  };
}

/** Feeds `chunks`; returns the frames, or the AmqpFrameError it threw (anything else fails). */
function feed(decoder: FrameDecoder, chunks: readonly Uint8Array[]): Frame[] | AmqpFrameError {
  const frames: Frame[] = [];
  for (const chunk of chunks) {
    try {
      frames.push(...decoder.push(chunk));
    } catch (error) {
      assert.ok(error instanceof AmqpFrameError, `push threw ${String(error)}`);
      assert.ok(REPLY_CODE_VALUES.has(error.replyCode), `reply code ${error.replyCode}`);
      assert.ok(Buffer.byteLength(error.replyText) <= 255);
      // A failed decoder keeps failing, with the same error.
      assert.throws(
        () => decoder.push(bytes(1)),
        (again) => again === error,
      );
      return error;
    }
  }
  return frames;
}

const shortString = fc.string({ maxLength: 30 });
/** One part of a valid stream: a method, a whole message (publish, header, bodies) or a heartbeat. */
const partArbitrary: fc.Arbitrary<Uint8Array> = fc.oneof(
  fc
    .record({
      channel: fc.integer({ min: 1, max: 0xffff }),
      tag: fc.maxSafeNat(),
      multiple: fc.boolean(),
    })
    .map(({ channel, tag, multiple }) =>
      encodeMethodFrame(channel, 'basic.ack', { deliveryTag: tag, multiple }),
    ),
  fc
    .record({ queue: shortString, durable: fc.boolean(), length: fc.integer() })
    .map(({ queue, durable, length }) =>
      encodeMethodFrame(1, 'queue.declare', {
        ticket: 0,
        queue,
        passive: false,
        durable,
        exclusive: false,
        autoDelete: false,
        nowait: false,
        arguments: { 'x-max-length': length, nested: { list: [queue, durable] } },
      }),
    ),
  fc
    .record({
      channel: fc.integer({ min: 1, max: 3 }),
      routingKey: shortString,
      contentType: fc.option(shortString, { nil: undefined }),
      body: fc.uint8Array({ maxLength: FRAME_MAX * 2 }),
    })
    .map(({ channel, routingKey, contentType, body }) =>
      Buffer.concat([
        encodeMethodFrame(channel, 'basic.publish', {
          ticket: 0,
          exchange: 'amq.direct',
          routingKey,
          mandatory: true,
          immediate: false,
        }),
        encodeContentFrames(
          channel,
          BASIC_CLASS_ID,
          body.length,
          encodeProperties(contentType === undefined ? { deliveryMode: 2 } : { contentType }),
          body,
          FRAME_MAX,
        ),
      ]),
    ),
  fc.constant(HEARTBEAT_FRAME),
);
const streamArbitrary = fc
  .array(partArbitrary, { minLength: 1, maxLength: 8 })
  .map((parts) => new Uint8Array(Buffer.concat(parts)));

test(`the decoder yields the same frames whatever the chunk boundaries (seed ${SEED})`, () => {
  fc.assert(
    fc.property(streamArbitrary, fc.array(fc.nat(), { maxLength: 40 }), (stream, cuts) => {
      const whole = new FrameDecoder({ frameMax: FRAME_MAX });
      const expected = whole.push(stream);
      assert.ok(expected.length > 0);
      const decoder = new FrameDecoder({ frameMax: FRAME_MAX });
      const frames = feed(decoder, split(stream, cuts));
      assert.ok(Array.isArray(frames));
      assert.deepEqual(frames, expected);
      assert.equal(decoder.bufferedBytes, 0);
      // Byte by byte, too, for short streams.
      if (stream.length < 600) {
        const byByte = new FrameDecoder({ frameMax: FRAME_MAX });
        const one = feed(
          byByte,
          Array.from(stream, (octet) => bytes(octet)),
        );
        assert.deepEqual(one, expected);
      }
    }),
    { seed: SEED, numRuns: 300 },
  );
});

test(`random bytes give frames or an AmqpFrameError with a spec reply code, nothing else (seed ${SEED})`, () => {
  const frameStart = fc.constantFrom(
    bytes(),
    bytes(1, 0, 1),
    bytes(2, 0, 1),
    bytes(3, 0, 1),
    bytes(8, 0, 0),
  );
  fc.assert(
    fc.property(
      frameStart,
      fc.uint8Array({ minLength: 1, maxLength: 2000 }),
      fc.array(fc.nat(), { maxLength: 10 }),
      (start, random, cuts) => {
        const stream = new Uint8Array(Buffer.concat([start, random]));
        feed(new FrameDecoder({ frameMax: FRAME_MAX }), split(stream, cuts));
      },
    ),
    { seed: SEED, numRuns: 2000 },
  );
});

test(`valid streams with bytes flipped or cut short give frames or an AmqpFrameError (seed ${SEED})`, () => {
  fc.assert(
    fc.property(
      streamArbitrary,
      fc.array(fc.record({ at: fc.nat(), value: fc.integer({ min: 0, max: 255 }) }), {
        maxLength: 4,
      }),
      fc.nat(),
      fc.array(fc.nat(), { maxLength: 20 }),
      (stream, flips, keep, cuts) => {
        const mutated = stream.slice(0, stream.length - (keep % Math.min(stream.length, 64)));
        for (const { at, value } of flips) {
          if (mutated.length > 0) mutated[at % mutated.length] = value;
        }
        const result = feed(new FrameDecoder({ frameMax: FRAME_MAX }), split(mutated, cuts));
        if (Array.isArray(result)) {
          for (const frame of result)
            assert.ok(['method', 'header', 'body', 'heartbeat'].includes(frame.type));
        }
      },
    ),
    { seed: SEED, numRuns: 1000 },
  );
});

test('a frame over frameMax is refused with 501 from its 7-byte header, before its payload arrives', () => {
  const decoder = new FrameDecoder({ frameMax: FRAME_MIN_SIZE });
  // A body frame declaring 4 GiB - 1 bytes: refused at once, nothing allocated for it.
  assert.throws(
    () => decoder.push(bytes(3, 0, 1, 0xff, 0xff, 0xff, 0xff)),
    isFault(REPLY_CODES.frameError),
  );
  // Declared one byte over, its header split over two chunks.
  const split = new FrameDecoder({ frameMax: FRAME_MIN_SIZE });
  const size = FRAME_MIN_SIZE - 8 + 1;
  assert.deepEqual(split.push(bytes(3, 0, 1)), []);
  assert.throws(
    () =>
      split.push(
        bytes((size >>> 24) & 0xff, (size >>> 16) & 0xff, (size >>> 8) & 0xff, size & 0xff),
      ),
    (error) => {
      isFault(REPLY_CODES.frameError)(error);
      assert.equal((error as AmqpFrameError).channel, 1);
      return true;
    },
  );
  // Exactly frameMax is accepted.
  const body = new Uint8Array(FRAME_MIN_SIZE - 8);
  const frames = new FrameDecoder({ frameMax: FRAME_MIN_SIZE }).push(
    encodeContentFrames(1, BASIC_CLASS_ID, body.length, bytes(0, 0), body, FRAME_MIN_SIZE),
  );
  assert.equal(frames.length, 2);
});

test('a raised frameMax applies to the next frame header; a frameMax below frame-min-size is refused', () => {
  const body = new Uint8Array(FRAME_MIN_SIZE * 2);
  const stream = encodeContentFrames(
    1,
    BASIC_CLASS_ID,
    body.length,
    bytes(0, 0),
    body,
    FRAME_MIN_SIZE * 4,
  );
  const decoder = new FrameDecoder({ frameMax: FRAME_MIN_SIZE });
  assert.throws(
    () => new FrameDecoder({ frameMax: FRAME_MIN_SIZE }).push(stream),
    isFault(REPLY_CODES.frameError),
  );
  decoder.frameMax = FRAME_MIN_SIZE * 4;
  assert.equal(decoder.frameMax, FRAME_MIN_SIZE * 4);
  assert.equal(decoder.push(stream).length, 2);
  assert.throws(() => {
    decoder.frameMax = FRAME_MIN_SIZE - 1;
  }, RangeError);
  assert.throws(() => new FrameDecoder({ frameMax: 0 }), RangeError);
});

test('bad frame structure fails with 501: frame-end, unknown type, heartbeat off channel 0 or with payload', () => {
  const frame = encodeMethodFrame(1, 'tx.select', {});
  const badEnd = frame.slice();
  badEnd[badEnd.length - 1] = 0;
  assert.throws(
    () => new FrameDecoder({ frameMax: FRAME_MAX }).push(badEnd),
    isFault(REPLY_CODES.frameError),
  );
  // The same, with the frame-end arriving in a later chunk than the rest.
  const later = new FrameDecoder({ frameMax: FRAME_MAX });
  assert.deepEqual(later.push(badEnd.subarray(0, -1)), []);
  assert.throws(() => later.push(badEnd.subarray(-1)), isFault(REPLY_CODES.frameError));
  for (const type of [0, 4, 9, 0xce, 0xff]) {
    assert.throws(
      () =>
        new FrameDecoder({ frameMax: FRAME_MAX }).push(bytes(type, 0, 0, 0, 0, 0, 0, FRAME_END)),
      isFault(REPLY_CODES.frameError),
      `type ${type}`,
    );
  }
  assert.throws(
    () => new FrameDecoder({ frameMax: FRAME_MAX }).push(bytes(8, 0, 1, 0, 0, 0, 0, FRAME_END)),
    isFault(REPLY_CODES.frameError),
  );
  assert.throws(
    () => new FrameDecoder({ frameMax: FRAME_MAX }).push(bytes(8, 0, 0, 0, 0, 0, 1, 0, FRAME_END)),
    isFault(REPLY_CODES.frameError),
  );
  assert.deepEqual(new FrameDecoder({ frameMax: FRAME_MAX }).push(HEARTBEAT_FRAME), [
    { type: 'heartbeat' },
  ]);
});

test('content headers: a short one fails with 502, a body-size over 2^53 - 1 with 502, a class other than basic with 505', () => {
  const header = (payload: number[]): Uint8Array =>
    bytes(2, 0, 1, 0, 0, 0, payload.length, ...payload, FRAME_END);
  assert.throws(
    () =>
      new FrameDecoder({ frameMax: FRAME_MAX }).push(
        header([0, 60, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0]),
      ),
    isFault(REPLY_CODES.syntaxError),
  );
  assert.throws(
    () =>
      new FrameDecoder({ frameMax: FRAME_MAX }).push(
        header([0, 60, 0, 0, 0, 0x20, 0, 0, 0, 0, 0, 0, 0, 0]),
      ),
    isFault(REPLY_CODES.syntaxError),
  );
  assert.throws(
    () =>
      new FrameDecoder({ frameMax: FRAME_MAX }).push(
        header([0, 50, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0]),
      ),
    isFault(REPLY_CODES.unexpectedFrame),
  );
  const [decoded] = new FrameDecoder({ frameMax: FRAME_MAX }).push(
    header([0, 60, 0, 0, 0, 0x1f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x10, 0, 2]),
  );
  assert.deepEqual(decoded, {
    type: 'header',
    channel: 1,
    classId: 60,
    bodySize: Number.MAX_SAFE_INTEGER,
    propertyBytes: bytes(0x10, 0, 2),
    properties: { deliveryMode: 2 },
  });
});

test('frames never refer to the caller chunk: overwriting it after push changes nothing', () => {
  const body = Uint8Array.from({ length: 300 }, (_, index) => index & 0xff);
  const message = Buffer.concat([
    encodeMethodFrame(1, 'connection.secure-ok', { response: bytes(1, 2, 3) }),
    encodeContentFrames(
      1,
      BASIC_CLASS_ID,
      body.length,
      encodeProperties({ messageId: 'm' }),
      body,
      FRAME_MAX,
    ),
  ]);
  for (const cut of [0, 10, message.length - 100]) {
    const chunk = Buffer.from(message); // a Buffer, as a socket gives: its slice() is a view
    const decoder = new FrameDecoder({ frameMax: FRAME_MAX });
    const frames = [...decoder.push(chunk.subarray(0, cut)), ...decoder.push(chunk.subarray(cut))];
    const expected = structuredClone(frames);
    chunk.fill(0);
    assert.deepEqual(frames, expected, `cut at ${cut}`);
    const [method, header, bodyFrame] = frames;
    assert.ok(method?.type === 'method' && method.method.name === 'connection.secure-ok');
    assert.equal(Object.getPrototypeOf(method.method.args.response), Uint8Array.prototype);
    assert.ok(header?.type === 'header');
    assert.deepEqual(header.properties, { messageId: 'm' });
    assert.ok(bodyFrame?.type === 'body');
    assert.deepEqual(bodyFrame.payload, body);
    assert.equal(Object.getPrototypeOf(bodyFrame.payload), Uint8Array.prototype);
  }
});

test('checkProtocolHeader: AMQP 0-9-1 is ok, a matching prefix incomplete, anything else wrong', () => {
  assert.deepEqual(AMQP_PROTOCOL_HEADER, bytes(0x41, 0x4d, 0x51, 0x50, 0, 0, 9, 1));
  assert.equal(checkProtocolHeader(AMQP_PROTOCOL_HEADER), 'ok');
  assert.equal(checkProtocolHeader(bytes(0x41, 0x4d, 0x51, 0x50, 0, 0, 9, 1, 1, 0, 0)), 'ok');
  assert.equal(checkProtocolHeader(bytes()), 'incomplete');
  assert.equal(checkProtocolHeader(bytes(0x41, 0x4d, 0x51)), 'incomplete');
  assert.equal(checkProtocolHeader(bytes(0x41, 0x4d, 0x51, 0x50, 1, 1, 0, 9)), 'wrong'); // 0-9 (old)
  assert.equal(checkProtocolHeader(bytes(0x41, 0x4d, 0x51, 0x50, 0, 1, 0, 0)), 'wrong'); // 1-0
  assert.equal(checkProtocolHeader(new TextEncoder().encode('GET / HTTP/1.1')), 'wrong');
  assert.equal(checkProtocolHeader(bytes(0x42)), 'wrong');
});

test('10,000 publishes of 4 KiB (method, header, body frames) packed 16 to a chunk decode to 30,000 frames', () => {
  const body = new Uint8Array(4096).fill(1);
  const publish = Buffer.concat([
    encodeMethodFrame(1, 'basic.publish', {
      ticket: 0,
      exchange: 'amq.direct',
      routingKey: 'orders.eu',
      mandatory: false,
      immediate: false,
    }),
    encodeContentFrames(
      1,
      BASIC_CLASS_ID,
      body.length,
      encodeProperties({
        contentType: 'application/json',
        deliveryMode: 2,
        headers: { attempt: 1 },
      }),
      body,
      131_072,
    ),
  ]);
  const chunk = new Uint8Array(Buffer.concat(Array.from({ length: 16 }, () => publish)));
  const decoder = new FrameDecoder({ frameMax: 131_072 });
  let frameCount = 0;
  for (let round = 0; round < 10_000 / 16; round++) frameCount += decoder.push(chunk).length;
  assert.equal(frameCount, 30_000);
});
