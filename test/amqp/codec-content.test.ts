/**
 * Content: basic properties round-trip and have the documented flag layout; content frames split
 * a body at exactly frameMax - 8 payload bytes and decode back to the same message.
 * Replay a failure with WEIR_SEED=<seed>.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  AmqpFrameError,
  BASIC_CLASS_ID,
  FRAME_MIN_SIZE,
  FrameDecoder,
  REPLY_CODES,
  decodeProperties,
  encodeContentFrames,
  encodeProperties,
  type BasicProperties,
  type Frame,
} from '../../src/amqp/codec/index.js';

const SEED = Number(process.env['WEIR_SEED'] ?? Date.now() % 2 ** 31);
const bytes = (...values: number[]): Uint8Array => Uint8Array.from(values);

function isSyntaxError(error: unknown): boolean {
  assert.ok(error instanceof AmqpFrameError, `expected an AmqpFrameError, got ${String(error)}`);
  assert.equal(error.replyCode, REPLY_CODES.syntaxError, error.message);
  return true;
}

const shortString = fc
  .string({ unit: 'binary', maxLength: 60 })
  .filter((value) => Buffer.byteLength(value) <= 255);
const propertiesArbitrary: fc.Arbitrary<BasicProperties> = fc.record(
  {
    contentType: shortString,
    contentEncoding: shortString,
    headers: fc.dictionary(
      shortString,
      fc.oneof(fc.string({ unit: 'binary' }), fc.integer(), fc.boolean()),
      { maxKeys: 4, noNullPrototype: true },
    ),
    deliveryMode: fc.integer({ min: 0, max: 255 }),
    priority: fc.integer({ min: 0, max: 255 }),
    correlationId: shortString,
    replyTo: shortString,
    expiration: shortString,
    messageId: shortString,
    timestamp: fc.maxSafeNat(),
    type: shortString,
    userId: shortString,
    appId: shortString,
    clusterId: shortString,
  },
  { requiredKeys: [], noNullPrototype: true },
);

test(`generated properties round-trip, absent ones staying absent (seed ${SEED})`, () => {
  fc.assert(
    fc.property(propertiesArbitrary, (properties) => {
      const decoded = decodeProperties(encodeProperties(properties));
      assert.deepEqual(decoded, properties);
    }),
    { seed: SEED, numRuns: 1000 },
  );
});

test('property flags: bit 15 contentType, bit 12 deliveryMode, bit 6 timestamp, bit 2 clusterId', () => {
  assert.deepEqual(encodeProperties({}), bytes(0, 0));
  assert.deepEqual(
    encodeProperties({ contentType: 'a', deliveryMode: 2 }),
    bytes(0x90, 0x00, 1, 0x61, 2),
  );
  assert.deepEqual(
    encodeProperties({ timestamp: new Date(1_000_999), clusterId: '' }),
    bytes(0x00, 0x44, 0, 0, 0, 0, 0, 0, 0x03, 0xe8, 0),
  );
  assert.deepEqual(decodeProperties(bytes(0x00, 0x40, 0, 0, 0, 0, 0, 0, 0x03, 0xe8)), {
    timestamp: 1000,
  });
  assert.deepEqual(decodeProperties(bytes(0x20, 0, 0, 0, 0, 0)), { headers: {} });
});

test('a continuation flag, the unused bit 1, truncation and trailing bytes fail with 502', () => {
  assert.throws(() => decodeProperties(bytes(0x80, 0x01, 0)), isSyntaxError);
  assert.throws(() => decodeProperties(bytes(0x00, 0x02)), isSyntaxError);
  assert.throws(() => decodeProperties(bytes(0x80)), isSyntaxError);
  assert.throws(() => decodeProperties(bytes(0x80, 0x00, 5, 0x61)), isSyntaxError);
  assert.throws(() => decodeProperties(bytes(0x10, 0x00, 2, 9)), isSyntaxError);
  const encoded = encodeProperties({ contentType: 'text/plain', headers: { a: 1 }, priority: 3 });
  for (let cut = 0; cut < encoded.length; cut++) {
    assert.throws(() => decodeProperties(encoded.subarray(0, cut)), isSyntaxError, `cut at ${cut}`);
  }
});

function decodeAll(stream: Uint8Array, frameMax: number): Frame[] {
  return new FrameDecoder({ frameMax }).push(stream);
}

test('a body of 3 × (frameMax - 8) + 1 bytes goes in 4 body frames, the last of 1 byte', () => {
  const frameMax = FRAME_MIN_SIZE;
  const body = Uint8Array.from({ length: 3 * (frameMax - 8) + 1 }, (_, index) => index % 251);
  const propertyBytes = encodeProperties({ contentType: 'application/octet-stream' });
  const stream = encodeContentFrames(9, BASIC_CLASS_ID, body.length, propertyBytes, body, frameMax);
  const frames = decodeAll(stream, frameMax);
  assert.equal(frames.length, 5);
  const [header, ...bodies] = frames;
  assert.ok(header?.type === 'header');
  assert.equal(header.channel, 9);
  assert.equal(header.classId, BASIC_CLASS_ID);
  assert.equal(header.bodySize, body.length);
  assert.deepEqual(header.propertyBytes, propertyBytes);
  assert.deepEqual(header.properties, { contentType: 'application/octet-stream' });
  assert.deepEqual(
    bodies.map((frame) => (frame.type === 'body' ? frame.payload.length : -1)),
    [frameMax - 8, frameMax - 8, frameMax - 8, 1],
  );
  const joined = Buffer.concat(
    bodies.map((frame) => (frame.type === 'body' ? frame.payload : bytes())),
  );
  assert.deepEqual(new Uint8Array(joined), body);
  assert.equal(stream.length, 8 + 12 + propertyBytes.length + body.length + 4 * 8);
});

test('a body of exactly frameMax - 8 bytes is one body frame of frameMax bytes; an empty body none', () => {
  const frameMax = FRAME_MIN_SIZE * 2;
  const body = new Uint8Array(frameMax - 8).fill(7);
  const stream = encodeContentFrames(1, BASIC_CLASS_ID, body.length, bytes(0, 0), body, frameMax);
  const frames = decodeAll(stream, frameMax);
  assert.deepEqual(
    frames.map((frame) => frame.type),
    ['header', 'body'],
  );
  assert.equal(stream.length - (8 + 12 + 2), frameMax);
  const empty = encodeContentFrames(1, BASIC_CLASS_ID, 0, bytes(0, 0), bytes(), frameMax);
  assert.deepEqual(
    empty,
    bytes(2, 0, 1, 0, 0, 0, 14, 0, 60, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xce),
  );
});

test(`generated messages split at a generated frameMax decode to the same body (seed ${SEED})`, () => {
  fc.assert(
    fc.property(
      propertiesArbitrary,
      fc.integer({ min: 0, max: 20_000 }),
      fc.integer({ min: FRAME_MIN_SIZE, max: FRAME_MIN_SIZE * 3 }),
      (properties, bodySize, frameMax) => {
        const body = new Uint8Array(bodySize).map((_, index) => index & 0xff);
        const propertyBytes = encodeProperties(properties);
        const frames = decodeAll(
          encodeContentFrames(0, BASIC_CLASS_ID, bodySize, propertyBytes, body, frameMax),
          frameMax,
        );
        assert.equal(frames.length, 1 + Math.ceil(bodySize / (frameMax - 8)));
        const [header, ...bodies] = frames;
        assert.ok(header?.type === 'header');
        assert.deepEqual(header.properties, properties);
        assert.equal(header.bodySize, bodySize);
        let at = 0;
        for (const frame of bodies) {
          assert.ok(frame.type === 'body');
          assert.ok(frame.payload.length <= frameMax - 8 && frame.payload.length > 0);
          assert.deepEqual(frame.payload, body.subarray(at, at + frame.payload.length));
          at += frame.payload.length;
        }
        assert.equal(at, bodySize);
      },
    ),
    { seed: SEED, numRuns: 200 },
  );
});

test('content frames refuse a bodySize that is not the body, a small frameMax, a header over frameMax', () => {
  assert.throws(
    () => encodeContentFrames(1, BASIC_CLASS_ID, 3, bytes(0, 0), bytes(1), FRAME_MIN_SIZE),
    RangeError,
  );
  assert.throws(
    () => encodeContentFrames(1, BASIC_CLASS_ID, 0, bytes(0, 0), bytes(), FRAME_MIN_SIZE - 1),
    RangeError,
  );
  const large = encodeProperties({ headers: { big: 'x'.repeat(FRAME_MIN_SIZE) } });
  assert.throws(
    () => encodeContentFrames(1, BASIC_CLASS_ID, 0, large, bytes(), FRAME_MIN_SIZE),
    RangeError,
  );
  assert.throws(() => encodeProperties({ priority: 256 }), RangeError);
  assert.throws(() => encodeProperties({ messageId: 'é'.repeat(128) }), RangeError);
});
