/**
 * Slow and hostile peers cost a bounded amount and harm only their own connection: a frame
 * announced larger than PRE_HELLO_FRAME_BYTES_MAX before HELLO is refused from its length
 * alone; a peer that sends requests and never reads its replies is disconnected once its
 * unread output passes CONNECTION_PENDING_BYTES_MAX.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FRAME_HEADER_BYTES, OPCODES, writeFrameHeader } from '../../src/protocol/frame.js';
import { CONNECTION_PENDING_BYTES_MAX, PRE_HELLO_FRAME_BYTES_MAX } from '../../src/limits.js';
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

const METHOD_NAME_BYTES = 256 * 1024;
const TIME_LIMIT_MS = 30_000;

test('a peer that sends requests and never reads is cut off past CONNECTION_PENDING_BYTES_MAX, with a slow_consumer log line', async () => {
  const events: { event: string; fields: Record<string, unknown> }[] = [];
  const server = await startTestServer({
    logger: (_level, event, fields = {}) => events.push({ event, fields }),
  });
  const raw = await RawClient.connect(server.port);
  try {
    await raw.hello('never-reads');
    raw.socket.pause(); // from here on nothing is read: replies pile up in the server
    // Each unknown-method ERROR echoes the 256 KiB name: bytes the peer asked for.
    const name = 'm'.repeat(METHOD_NAME_BYTES);
    const frame = encodeFrame(OPCODES.CALL, 9, (writer) => writer.string(name).string('[]'));
    const callsMax = Math.ceil((2 * CONNECTION_PENDING_BYTES_MAX) / METHOD_NAME_BYTES);
    const deadline = Date.now() + TIME_LIMIT_MS;
    let sent = 0;
    while (server.server.connectionCount > 0 && sent < callsMax && Date.now() < deadline) {
      let writable = true;
      for (let index = 0; index < 16; index++) writable = raw.socket.write(frame);
      sent += 16;
      // Send no faster than the server reads (it reads; it is the replies nobody reads).
      if (!writable) {
        await new Promise<void>((resolve) => {
          raw.socket.once('drain', resolve);
          raw.socket.once('close', resolve);
        });
      }
      await new Promise((resolve) => setImmediate(resolve));
    }
    for (let tries = 0; tries < 200 && server.server.connectionCount > 0; tries++) {
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    assert.equal(server.server.connectionCount, 0, `still connected after ${sent} calls`);
    const line = events.find((entry) => entry.event === 'slow_consumer');
    assert.ok(line, 'a slow_consumer log line');
    assert.ok(Number(line.fields['unreadBytes']) > CONNECTION_PENDING_BYTES_MAX);
    assert.ok(
      sent * METHOD_NAME_BYTES > CONNECTION_PENDING_BYTES_MAX,
      'cut off only once its unread replies passed the limit',
    );

    const healthy = await RawClient.connect(server.port);
    await healthy.hello('healthy');
    healthy.send(
      encodeFrame(OPCODES.CALL, 3, (writer) => writer.string('streams.list').string('[]')),
    );
    assert.equal((await healthy.waitFor((reply) => reply.requestId === 3)).opcode, OPCODES.RESULT);
    healthy.close();
  } finally {
    raw.close();
    await server.close();
  }
});
