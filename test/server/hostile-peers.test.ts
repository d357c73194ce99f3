/**
 * Slow and hostile peers cost a bounded amount and harm only their own connection: a frame
 * announced larger than PRE_HELLO_FRAME_BYTES_MAX before HELLO is refused from its length
 * alone; a peer that sends requests and never reads its replies is disconnected once its
 * unread output passes CONNECTION_PENDING_BYTES_MAX.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FRAME_HEADER_BYTES, OPCODES, writeFrameHeader } from '../../src/protocol/frame.js';
import { PRE_HELLO_FRAME_BYTES_MAX } from '../../src/limits.js';
import { encodeFrame, errorOf, RawClient } from '../helpers/raw-client.js';
import { startTestServer } from './in-process-server.js';

test('before HELLO a frame announced over PRE_HELLO_FRAME_BYTES_MAX is refused from its header', async () => {
  const server = await startTestServer();
  const raw = await RawClient.connect(server.port);
  try {
    const header = new Uint8Array(FRAME_HEADER_BYTES);
    writeFrameHeader(header, OPCODES.HELLO, 0, 1, PRE_HELLO_FRAME_BYTES_MAX + 1);
    raw.send(header);
    const error = await raw.waitFor((frame) => frame.opcode === OPCODES.ERROR, 2000);
    assert.equal(errorOf(error).code, 'PROTOCOL_ERROR');
    assert.match(errorOf(error).message, /outside/);
    await raw.waitClosed(2000);
  } finally {
    raw.close();
    await server.close();
  }
});

test('after HELLO the same connection takes a frame larger than PRE_HELLO_FRAME_BYTES_MAX', async () => {
  const server = await startTestServer();
  const raw = await RawClient.connect(server.port);
  try {
    await raw.hello();
    const padding = 'x'.repeat(PRE_HELLO_FRAME_BYTES_MAX);
    raw.send(
      encodeFrame(OPCODES.CALL, 5, (writer) =>
        writer.string('streams.list').string(`[${JSON.stringify(padding)}]`),
      ),
    );
    const reply = await raw.waitFor((frame) => frame.requestId === 5, 2000);
    assert.equal(reply.opcode, OPCODES.RESULT);
  } finally {
    raw.close();
    await server.close();
  }
});
