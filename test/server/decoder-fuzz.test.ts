/**
 * Fuzzing the server's decoder over real sockets: seeded random bytes, valid frame sequences
 * split at random chunk boundaries, and valid frames with random bytes spliced in, each on
 * its own connection, while a well-behaved SDK client publishes and consumes throughout.
 * The server stays up, every fuzzed connection either works or is closed with an ERROR,
 * and the healthy client never notices. Bounded in count and time.
 *
 * Replay a failure with the seed it prints: WEIR_SEED=<seed>.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from '../../src/client/index.js';
import { OPCODES, PROTOCOL_VERSION } from '../../src/protocol/frame.js';
import { writePublishEntry, writeSettleEntry } from '../../src/protocol/frames.js';
import { encodeFrame, RawClient } from '../helpers/raw-client.js';
import { startTestServer } from './in-process-server.js';

const SEED = Number(process.env.WEIR_SEED ?? Date.now() % 2 ** 31);
const CASES = 120;
const TIME_LIMIT_MS = 20_000;

function random(seed: number): () => number {
  let state = seed >>> 0 || 1;
  return () => {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    return (state >>> 0) / 2 ** 32;
  };
}

function validFrames(next: () => number): Uint8Array[] {
  const hello = encodeFrame(OPCODES.HELLO, 1, (writer) =>
    writer.u16(PROTOCOL_VERSION).string('fuzz').bytes(null),
  );
  const frames = [hello];
  const count = 1 + Math.floor(next() * 6);
  for (let i = 0; i < count; i++) {
    const requestId = 2 + i;
    switch (Math.floor(next() * 5)) {
      case 0:
        frames.push(encodeFrame(OPCODES.PING, requestId));
        break;
      case 1:
        frames.push(
          encodeFrame(OPCODES.PUBLISH, requestId, (writer) => {
            writer.u32(2);
            writePublishEntry(writer, 'fuzz.a', new Uint8Array(Math.floor(next() * 64)), {
              key: 'k',
            });
            writePublishEntry(writer, 'fuzz.b', new Uint8Array(3), {});
          }),
        );
        break;
      case 2:
        frames.push(
          encodeFrame(OPCODES.CALL, requestId, (writer) =>
            writer.string('streams.list').string('[]'),
          ),
        );
        break;
      case 3:
        frames.push(
          encodeFrame(OPCODES.SUBSCRIBE, requestId, (writer) =>
            writer.string('fuzz').string('{}').u32(10),
          ),
        );
        break;
      default:
        frames.push(
          encodeFrame(OPCODES.SETTLE, requestId, (writer) => {
            writer.u32(1).u32(1);
            writeSettleEntry(writer, {
              kind: 'ack',
              partition: 0,
              offset: Math.floor(next() * 10),
              token: Math.floor(next() * 10),
              value: Number.NaN,
              reason: null,
            });
          }),
        );
    }
  }
  return frames;
}

function concat(parts: Uint8Array[]): Uint8Array {
  return Uint8Array.from(Buffer.concat(parts));
}

function randomBytes(next: () => number, length: number): Uint8Array {
  return Uint8Array.from({ length }, () => Math.floor(next() * 256));
}

test(`the server survives ${CASES} fuzzed connections and a healthy client is unaffected (seed ${SEED})`, async () => {
  const next = random(SEED);
  const server = await startTestServer();
  const healthy = await connect(server.url, { name: 'healthy', reconnect: false });
  try {
    await healthy.streams.create('fuzz', { subjects: ['fuzz.>'] });
    await healthy.streams.create('ok', { subjects: ['ok'] });
    const subscription = await healthy.subscribe('ok', { subscription: 'steady' });
    let healthyRounds = 0;
    let fuzzing = true;
    const steady = (async () => {
      while (fuzzing) {
        await healthy.publish('ok', `round ${healthyRounds}`);
        const message = await subscription.receive({ timeoutMs: 5000 });
        assert.equal(message?.text(), `round ${healthyRounds}`);
        await message.ack();
        healthyRounds++;
      }
    })();
    const started = Date.now();
    let closedWithError = 0;
    for (let index = 0; index < CASES && Date.now() - started < TIME_LIMIT_MS; index++) {
      let bytes: Uint8Array;
      const kind = index % 3;
      if (kind === 0) bytes = randomBytes(next, 1 + Math.floor(next() * 400));
      else {
        bytes = concat(validFrames(next));
        if (kind === 2) {
          // Splice random bytes into a valid sequence.
          const at = Math.floor(next() * bytes.length);
          bytes = concat([
            bytes.subarray(0, at),
            randomBytes(next, 1 + Math.floor(next() * 20)),
            bytes.subarray(at),
          ]);
        }
      }
      const raw = await RawClient.connect(server.port);
      // Random chunk boundaries, written with pauses so they arrive as separate reads.
      let position = 0;
      while (position < bytes.length) {
        const size = 1 + Math.floor(next() * Math.min(64, bytes.length - position));
        raw.send(bytes.subarray(position, position + size));
        position += size;
        if (next() < 0.3) await new Promise((resolve) => setImmediate(resolve));
      }
      await new Promise((resolve) => setTimeout(resolve, 5));
      if (raw.closed && raw.frames.some((frame) => frame.opcode === OPCODES.ERROR))
        closedWithError++;
      raw.close();
    }
    fuzzing = false;
    await steady;
    assert.ok(healthyRounds > 0, 'the healthy client made progress during the fuzzing');
    assert.ok(closedWithError > 0, 'some fuzzed connections were refused with an ERROR frame');
    // The server still accepts and serves new clients.
    const after = await connect(server.url, { name: 'after', reconnect: false });
    assert.ok((await after.streams.list()).length >= 2);
    await after.close();
    await subscription.close();
  } finally {
    await healthy.close();
    await server.close();
  }
});
