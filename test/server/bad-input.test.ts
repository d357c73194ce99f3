/**
 * Bad input gets its typed error and harms nothing: malformed, oversized and out-of-order
 * frames close only their own connection (ERROR PROTOCOL_ERROR first); unknown streams, bad
 * names, oversized messages and one connection too many get their codes; and all the while
 * a well-behaved SDK client keeps publishing and consuming.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from '../../src/client/index.js';
import type { Writer } from '../../src/protocol/codec.js';
import {
  FRAME_HEADER_BYTES,
  OPCODES,
  PROTOCOL_VERSION,
  writeFrameHeader,
} from '../../src/protocol/frame.js';
import { FRAME_BYTES_MAX } from '../../src/limits.js';
import type { Client } from '../../src/protocol/index.js';
import { encodeFrame, errorOf, RawClient } from '../helpers/raw-client.js';
import { startTestServer, type TestServer } from './in-process-server.js';

async function rejectsWithCode(promise: Promise<unknown>, code: string): Promise<void> {
  await assert.rejects(promise, (error: unknown) => {
    assert.equal((error as { code?: string }).code, code, String(error));
    return true;
  });
}

/** A healthy client's round trip: publish one message and receive it. */
async function roundTrip(client: Client, stream: string, text: string): Promise<void> {
  await client.publish(`${stream}.x`, text);
  const subscription = await client.subscribe(stream, { start: 'latest' });
  await client.publish(`${stream}.x`, text);
  const message = await subscription.receive({ timeoutMs: 2000 });
  assert.equal(message?.text(), text);
  await subscription.close();
}

async function withServer(
  body: (server: TestServer, healthy: Client) => Promise<void>,
  maxConnections?: number,
): Promise<void> {
  const server = await startTestServer(maxConnections === undefined ? {} : { maxConnections });
  const healthy = await connect(server.url, { name: 'healthy', reconnect: false });
  try {
    await healthy.streams.create('ok', { subjects: ['ok.>'] });
    await body(server, healthy);
    await roundTrip(healthy, 'ok', 'still serving');
  } finally {
    await healthy.close();
    await server.close();
  }
}

test('a frame before HELLO gets ERROR PROTOCOL_ERROR and the connection closes', () =>
  withServer(async (server) => {
    const raw = await RawClient.connect(server.port);
    raw.send(encodeFrame(OPCODES.CALL, 7, (writer) => writer.string('streams.list').string('[]')));
    const error = await raw.waitFor((frame) => frame.opcode === OPCODES.ERROR);
    assert.equal(errorOf(error).code, 'PROTOCOL_ERROR');
    await raw.waitClosed();
  }));

test('an oversized frame is refused from its length alone, before any of it is buffered', () =>
  withServer(async (server) => {
    const raw = await RawClient.connect(server.port);
    await raw.hello();
    const header = new Uint8Array(FRAME_HEADER_BYTES);
    writeFrameHeader(header, OPCODES.PUBLISH, 0, 2, FRAME_BYTES_MAX + 1);
    raw.send(header);
    assert.equal(
      errorOf(await raw.waitFor((frame) => frame.opcode === OPCODES.ERROR)).code,
      'PROTOCOL_ERROR',
    );
    await raw.waitClosed();
  }));

test('an unknown opcode, a truncated payload, a server-only opcode and a second HELLO each close their connection', () =>
  withServer(async (server) => {
    const bad: Uint8Array[] = [
      (() => {
        const frame = encodeFrame(OPCODES.PING, 3);
        frame[4] = 200;
        return frame;
      })(),
      encodeFrame(OPCODES.PUBLISH, 3, (writer) => writer.u32(5).string('ok.x')),
      encodeFrame(OPCODES.DELIVER, 3, (writer) => writer.u32(1).u32(0)),
      encodeFrame(OPCODES.HELLO, 3, (writer) =>
        writer.u16(PROTOCOL_VERSION).string('again').bytes(null),
      ),
    ];
    for (const frame of bad) {
      const raw = await RawClient.connect(server.port);
      await raw.hello();
      raw.send(frame);
      assert.equal(
        errorOf(await raw.waitFor((received) => received.opcode === OPCODES.ERROR)).code,
        'PROTOCOL_ERROR',
      );
      await raw.waitClosed();
    }
  }));

test('a client speaking another protocol version is refused with PROTOCOL_ERROR', () =>
  withServer(async (server) => {
    const raw = await RawClient.connect(server.port);
    raw.send(
      encodeFrame(OPCODES.HELLO, 1, (writer) =>
        writer
          .u16(PROTOCOL_VERSION + 1)
          .string('future')
          .bytes(null),
      ),
    );
    const error = errorOf(await raw.waitFor((frame) => frame.opcode === OPCODES.ERROR));
    assert.equal(error.code, 'PROTOCOL_ERROR');
    assert.match(error.message, /version/);
  }));

test('unknown streams, bad names, bad options and oversized messages get their codes', () =>
  withServer(async (_server, healthy) => {
    await rejectsWithCode(healthy.streams.info('missing'), 'STREAM_NOT_FOUND');
    await rejectsWithCode(healthy.subscribe('missing', { subscription: 's' }), 'STREAM_NOT_FOUND');
    await rejectsWithCode(healthy.streams.create('bad name!'), 'INVALID_ARGUMENT');
    await rejectsWithCode(healthy.streams.create('p', { partitions: -1 }), 'INVALID_ARGUMENT');
    await rejectsWithCode(healthy.publish('no.route', 'x'), 'NO_ROUTE');
    await rejectsWithCode(healthy.publish('bad..subject', 'x'), 'INVALID_ARGUMENT');
    await healthy.streams.create('small', { subjects: ['small'], maxMessageBytes: 1024 });
    await rejectsWithCode(healthy.publish('small', new Uint8Array(4096)), 'MESSAGE_TOO_LARGE');
    // The per-message errors of one batch do not spoil the others.
    const results = await Promise.allSettled([
      healthy.publish('small', 'fits'),
      healthy.publish('small', new Uint8Array(4096)),
      healthy.publish('small', 'fits too'),
    ]);
    assert.deepEqual(
      results.map((result) => result.status),
      ['fulfilled', 'rejected', 'fulfilled'],
    );
  }));

test('one connection past the limit is refused with LIMIT_EXCEEDED; the others keep working', () =>
  withServer(async (server, healthy) => {
    const second = await connect(server.url, { name: 'second', reconnect: false });
    await rejectsWithCode(
      connect(server.url, { name: 'third', reconnect: false }),
      'LIMIT_EXCEEDED',
    );
    await roundTrip(second, 'ok', 'second still works');
    await second.close();
    await roundTrip(healthy, 'ok', 'first still works');
  }, 2));

test('the CALL method name is checked: an unknown one is INVALID_ARGUMENT and the connection stays', () =>
  withServer(async (server) => {
    const raw = await RawClient.connect(server.port);
    await raw.hello();
    raw.send(
      encodeFrame(OPCODES.CALL, 9, (writer: Writer) =>
        writer.string('streams.explode').string('[]'),
      ),
    );
    const error = errorOf(await raw.waitFor((frame) => frame.requestId === 9));
    assert.equal(error.code, 'INVALID_ARGUMENT');
    raw.send(encodeFrame(OPCODES.PING, 10));
    await raw.waitFor((frame) => frame.opcode === OPCODES.PONG && frame.requestId === 10);
    raw.close();
  }));
