/**
 * TX_COMMIT / TX_RESULT as the wire carries them (protocol 6), spoken by a raw socket: a
 * commit is answered with its receipts, a refused one with one TRANSACTION_ABORTED naming the
 * entry (the connection stays up), and a truncated frame closes only its connection.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Reader } from '../../src/protocol/codec.js';
import { OPCODES } from '../../src/protocol/frame.js';
import { writePublishEntry } from '../../src/protocol/frames.js';
import {
  readTransactionResult,
  writeTransactionAck,
} from '../../src/protocol/transaction-frames.js';
import { WeirError } from '../../src/util/index.js';
import { encodeFrame, errorOf, RawClient } from '../helpers/raw-client.js';
import { startTestServer } from './in-process-server.js';

const encoder = new TextEncoder();

function resultOf(payload: Uint8Array): ReturnType<typeof readTransactionResult> {
  const reader = new Reader(payload);
  const result = readTransactionResult(reader);
  reader.done();
  return result;
}

test('TX_COMMIT gets TX_RESULT: receipts, or one TRANSACTION_ABORTED naming the entry', async () => {
  const server = await startTestServer();
  try {
    await server.broker.connect().streams.create('out', { subjects: ['out.>'] });
    const raw = await RawClient.connect(server.port);
    await raw.hello();
    raw.send(
      encodeFrame(OPCODES.TX_COMMIT, 11, (writer) => {
        writer.u32(2);
        writePublishEntry(writer, 'out.a', encoder.encode('a'), {});
        writePublishEntry(writer, 'out.b', encoder.encode('b'), { key: 'k' });
        writer.u32(0);
      }),
    );
    const committed = await raw.waitFor((frame) => frame.requestId === 11);
    assert.equal(committed.opcode, OPCODES.TX_RESULT);
    const receipts = resultOf(committed.payload);
    assert.ok(Array.isArray(receipts));
    assert.deepEqual(
      receipts.map((receipt) => [receipt.stream, receipt.offset]),
      [
        ['out', 0],
        ['out', 1],
      ],
    );
    // An ack of a consumer this connection does not have: refused as a whole.
    raw.send(
      encodeFrame(OPCODES.TX_COMMIT, 12, (writer) => {
        writer.u32(1);
        writePublishEntry(writer, 'out.c', encoder.encode('c'), {});
        writer.u32(1);
        writeTransactionAck(writer, { consumerId: 99, partition: 0, offset: 0, token: 1 });
      }),
    );
    const refused = resultOf((await raw.waitFor((frame) => frame.requestId === 12)).payload);
    assert.ok(refused instanceof WeirError);
    assert.equal(refused.code, 'TRANSACTION_ABORTED');
    assert.match(refused.message, /ack 0 \(consumer 99 0\/0\): MESSAGE_SETTLED/);
    raw.send(
      encodeFrame(OPCODES.TX_COMMIT, 13, (writer) => {
        writer.u32(1);
        writePublishEntry(writer, 'nowhere', encoder.encode('x'), {});
        writer.u32(0);
      }),
    );
    const unrouted = resultOf((await raw.waitFor((frame) => frame.requestId === 13)).payload);
    assert.ok(unrouted instanceof WeirError);
    assert.match(unrouted.message, /publish 0 \(nowhere\): NO_ROUTE/);
    assert.equal((await server.broker.connect().streams.info('out')).messages, 2);
    // Still up.
    raw.send(encodeFrame(OPCODES.PING, 14));
    assert.equal((await raw.waitFor((frame) => frame.requestId === 14)).opcode, OPCODES.PONG);
    raw.close();
  } finally {
    await server.close();
  }
});

test('a truncated TX_COMMIT closes its connection with PROTOCOL_ERROR and stores nothing', async () => {
  const server = await startTestServer();
  try {
    await server.broker.connect().streams.create('out', { subjects: ['out.>'] });
    const raw = await RawClient.connect(server.port);
    await raw.hello();
    raw.send(
      encodeFrame(OPCODES.TX_COMMIT, 3, (writer) => {
        writer.u32(1);
        writePublishEntry(writer, 'out.a', encoder.encode('a'), {});
        writer.u32(2); // two acks announced, none follows
      }),
    );
    const error = await raw.waitFor((frame) => frame.opcode === OPCODES.ERROR);
    assert.equal(errorOf(error).code, 'PROTOCOL_ERROR');
    await raw.waitClosed();
    assert.equal((await server.broker.connect().streams.info('out')).messages, 0);
  } finally {
    await server.close();
  }
});
