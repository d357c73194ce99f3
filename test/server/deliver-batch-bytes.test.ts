/**
 * DELIVER batches are cut by bytes as well as by count: a consumer whose backlog is many large
 * messages gets them in frames the peer accepts (each at most FRAME_BYTES_MAX), instead of one
 * oversized frame whose send threw from a timer and ended the server's process.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from '../../src/client/index.js';
import { OPCODES } from '../../src/protocol/frame.js';
import { Reader, type Writer } from '../../src/protocol/codec.js';
import { DELIVER_BATCH_BYTES_MAX, FRAME_BYTES_MAX } from '../../src/limits.js';
import { encodeFrame, RawClient } from '../helpers/raw-client.js';
import { startTestServer } from './in-process-server.js';

const BODY_BYTES = 1_000_000;
const RECEIVE_TIMEOUT_MS = 10_000;

async function deliverAll(messages: number, partitions: number): Promise<void> {
  const server = await startTestServer();
  const client = await connect(server.url, { name: 'large-consumer', reconnect: false });
  try {
    await client.streams.create('large', { subjects: ['large.>'], storage: 'memory', partitions });
    const body = new Uint8Array(BODY_BYTES).fill(7);
    for (let index = 0; index < messages; index++) {
      await client.publish(`large.${index}`, body, { key: `key-${index}` });
    }
    const subscription = await client.subscribe('large', {
      subscription: 'reader',
      start: 'earliest',
    });
    let received = 0;
    for (let index = 0; index < messages; index++) {
      const message = await subscription.receive({ timeoutMs: RECEIVE_TIMEOUT_MS });
      assert.ok(message, `message ${index} of ${messages} arrived`);
      assert.equal(message.body.length, BODY_BYTES);
      await message.ack();
      received++;
    }
    assert.equal(received, messages);
    await subscription.close();
    assert.equal(server.server.connectionCount, 1, 'the connection survived');
  } finally {
    await client.close();
    await server.close();
  }
}

test('40 x 1 MB on a memory stream reach one consumer in frames under FRAME_BYTES_MAX', () =>
  deliverAll(40, 1));

test('200 x 1 MB over 64 partitions reach one consumer', () => deliverAll(200, 64));

test('every DELIVER frame of a 40 MB backlog stays within DELIVER_BATCH_BYTES_MAX plus one message', async () => {
  const server = await startTestServer();
  const client = await connect(server.url, { name: 'producer', reconnect: false });
  const raw = await RawClient.connect(server.port);
  try {
    await client.streams.create('large', { subjects: ['large.>'], storage: 'memory' });
    const body = new Uint8Array(BODY_BYTES).fill(1);
    for (let index = 0; index < 40; index++) await client.publish(`large.${index}`, body);
    await raw.hello();
    raw.send(
      encodeFrame(OPCODES.SUBSCRIBE, 2, (writer: Writer) =>
        writer.string('large').string('{"start":"earliest","ack":"none"}').u32(1000),
      ),
    );
    await raw.waitFor((frame) => frame.opcode === OPCODES.SUBSCRIBED);
    let delivered = 0;
    let frames = 0;
    while (delivered < 40 && frames < 40) {
      const frame = await raw.waitFor((candidate) => candidate.opcode === OPCODES.DELIVER);
      frames++;
      assert.ok(frame.payload.length <= FRAME_BYTES_MAX);
      assert.ok(
        frame.payload.length < DELIVER_BATCH_BYTES_MAX + 2 * BODY_BYTES,
        `a DELIVER payload of ${frame.payload.length} bytes`,
      );
      const reader = new Reader(frame.payload);
      reader.u32();
      delivered += reader.u32();
    }
    assert.equal(delivered, 40);
    assert.ok(frames > 1, 'the batch was cut into several frames');
  } finally {
    raw.close();
    await client.close();
    await server.close();
  }
});
