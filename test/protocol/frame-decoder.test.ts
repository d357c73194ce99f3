import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  FrameDecoder,
  FRAME_HEADER_BYTES,
  OPCODES,
  writeFrameHeader,
  type Frame,
} from '../../src/protocol/frame.js';
import { Reader, Writer } from '../../src/protocol/codec.js';
import {
  readDeliveredMessage,
  readPublishEntry,
  readSettleEntry,
  writeDeliveredMessage,
  writePublishEntry,
  writeSettleEntry,
  type DeliveredMessage,
} from '../../src/protocol/frames.js';
import { isWeirError } from '../../src/util/index.js';

const MAX_FRAME_BYTES = 64 * 1024;
const SEED = Number(process.env.WEIR_SEED ?? Date.now() % 2 ** 31);

function frame(opcode: number, requestId: number, payload: Uint8Array): Uint8Array {
  const bytes = new Uint8Array(FRAME_HEADER_BYTES + payload.length);
  bytes.set(payload, FRAME_HEADER_BYTES);
  writeFrameHeader(bytes, opcode as 1, 0, requestId, bytes.length);
  return bytes;
}

function split(bytes: Uint8Array, cuts: number[]): Uint8Array[] {
  const positions = [...new Set(cuts.map((cut) => cut % (bytes.length + 1)))].sort((a, b) => a - b);
  const chunks: Uint8Array[] = [];
  let previous = 0;
  for (const position of positions) {
    chunks.push(bytes.subarray(previous, position));
    previous = position;
  }
  chunks.push(bytes.subarray(previous));
  return chunks;
}

test('the decoder yields the same frames whatever the chunk boundaries', () => {
  fc.assert(
    fc.property(
      fc.array(fc.record({ requestId: fc.nat(), payload: fc.uint8Array({ maxLength: 300 }) }), {
        minLength: 1,
        maxLength: 20,
      }),
      fc.array(fc.nat(), { maxLength: 40 }),
      (frames, cuts) => {
        const stream = Buffer.concat(
          frames.map((f) => frame(OPCODES.PUBLISH, f.requestId, f.payload)),
        );
        const seen: { requestId: number; payload: Uint8Array }[] = [];
        const decoder = new FrameDecoder(MAX_FRAME_BYTES, (received: Frame) => {
          seen.push({ requestId: received.requestId, payload: Uint8Array.from(received.payload) });
        });
        for (const chunk of split(stream, cuts)) decoder.push(chunk);
        assert.equal(seen.length, frames.length);
        frames.forEach((f, i) => {
          assert.equal(seen[i]!.requestId, f.requestId);
          assert.deepEqual(seen[i]!.payload, f.payload);
        });
        assert.equal(decoder.bufferedBytes, 0);
      },
    ),
    { seed: SEED, numRuns: 300 },
  );
});

test('random bytes either decode as frames or fail with PROTOCOL_ERROR, never anything else', () => {
  fc.assert(
    fc.property(
      fc.uint8Array({ minLength: 1, maxLength: 2000 }),
      fc.array(fc.nat(), { maxLength: 10 }),
      (bytes, cuts) => {
        const decoder = new FrameDecoder(MAX_FRAME_BYTES, () => undefined);
        try {
          for (const chunk of split(bytes, cuts)) decoder.push(chunk);
        } catch (error) {
          assert.ok(isWeirError(error, 'PROTOCOL_ERROR'), `unexpected ${String(error)}`);
        }
      },
    ),
    { seed: SEED, numRuns: 500 },
  );
});

test('an oversized frame is refused from its length field, before it is buffered', () => {
  const decoder = new FrameDecoder(MAX_FRAME_BYTES, () => assert.fail('no frame expected'));
  const header = new Uint8Array(FRAME_HEADER_BYTES);
  writeFrameHeader(header, OPCODES.PUBLISH, 0, 1, MAX_FRAME_BYTES + 1);
  assert.throws(
    () => decoder.push(header),
    (error) => isWeirError(error, 'PROTOCOL_ERROR'),
  );
});

test('a raised limit applies to the next length prefix, even later in the same chunk', () => {
  const frames: Frame[] = [];
  const decoder = new FrameDecoder(FRAME_HEADER_BYTES + 4, (frame) => {
    frames.push(frame);
    decoder.maxFrameBytes = MAX_FRAME_BYTES; // as a server does on HELLO
  });
  const small = new Uint8Array(FRAME_HEADER_BYTES + 4);
  writeFrameHeader(small, OPCODES.HELLO, 0, 1, small.length);
  const large = new Uint8Array(FRAME_HEADER_BYTES + 100);
  writeFrameHeader(large, OPCODES.CALL, 0, 2, large.length);
  const chunk = new Uint8Array(small.length + large.length);
  chunk.set(small);
  chunk.set(large, small.length);
  decoder.push(chunk);
  assert.deepEqual(
    frames.map((frame) => frame.requestId),
    [1, 2],
  );
  const strict = new FrameDecoder(FRAME_HEADER_BYTES + 4, () => undefined);
  assert.throws(
    () => strict.push(large),
    (error) => isWeirError(error, 'PROTOCOL_ERROR'),
  );
});

test('an unknown opcode is refused', () => {
  const decoder = new FrameDecoder(MAX_FRAME_BYTES, () => assert.fail('no frame expected'));
  assert.throws(
    () => decoder.push(frame(250, 1, new Uint8Array(3))),
    (error) => isWeirError(error, 'PROTOCOL_ERROR'),
  );
});

test('publish entries, delivered messages and settle entries round-trip', () => {
  const writer = new Writer(8);
  const body = new TextEncoder().encode('héllo');
  writePublishEntry(writer, 'orders.eu.created', body, {
    key: 'customer-7',
    headers: { a: '1', ünï: 'cödé' },
    id: 'id-1',
    delayMs: 250,
    ttlMs: 1000,
    priority: 9,
    replyTo: '_INBOX.x',
    correlationId: 'c-1',
  });
  const message: DeliveredMessage = {
    subject: 's',
    key: null,
    headers: {},
    body: new Uint8Array([1, 2, 3]),
    partition: 2,
    offset: 2 ** 40 + 5,
    id: null,
    deliveryCount: 3,
    timestamp: 1_700_000_000_123,
    priority: 0,
    replyTo: null,
    correlationId: 'c',
  };
  writeDeliveredMessage(writer, message);
  writeSettleEntry(writer, {
    kind: 'nack',
    partition: 1,
    offset: 42,
    token: 0xffff_fffe,
    value: Number.NaN,
    reason: null,
  });
  const reader = new Reader(writer.finish());
  const entry = readPublishEntry(reader);
  assert.equal(entry.subject, 'orders.eu.created');
  assert.deepEqual(entry.body, body);
  assert.deepEqual(entry.options, {
    key: 'customer-7',
    headers: { a: '1', ünï: 'cödé' },
    id: 'id-1',
    delayMs: 250,
    ttlMs: 1000,
    priority: 9,
    replyTo: '_INBOX.x',
    correlationId: 'c-1',
  });
  const delivered = readDeliveredMessage(reader);
  assert.deepEqual({ ...delivered, body: Uint8Array.from(delivered.body) }, message);
  const settle = readSettleEntry(reader);
  assert.equal(settle.kind, 'nack');
  assert.equal(settle.offset, 42);
  assert.equal(settle.token, 0xffff_fffe);
  assert.ok(Number.isNaN(settle.value));
  reader.done();
});

test('a truncated payload fails with PROTOCOL_ERROR', () => {
  const writer = new Writer();
  writePublishEntry(writer, 'a.b', new Uint8Array(10), { id: 'x' });
  const bytes = writer.finish();
  for (let cut = 0; cut < bytes.length; cut++) {
    assert.throws(
      () => readPublishEntry(new Reader(bytes, 0, cut)),
      (error) => isWeirError(error, 'PROTOCOL_ERROR'),
      `cut at ${cut}`,
    );
  }
});
