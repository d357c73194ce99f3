/**
 * An idle connection is cheap and a closed one leaves nothing behind: a connection holds an
 * output slab only while it has frames to write (idle ones held CONNECTION_OUTPUT_SLAB_BYTES
 * each, 64 KiB x 3,000 = 190 MiB), and once closed no Connection is referenced by the server.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { CONNECTION_OUTPUT_SLAB_BYTES } from '../../src/limits.js';
import { OPCODES } from '../../src/protocol/frame.js';
import { encodeFrame, RawClient } from '../helpers/raw-client.js';
import { startTestServer, type TestServer } from './in-process-server.js';

const CONNECTIONS = 200;
const WAIT_STEPS_MAX = 500;

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

async function collect(): Promise<void> {
  for (let round = 0; round < 3; round++) {
    await new Promise((resolve) => setImmediate(resolve));
    gc();
  }
}

async function untilNoConnections(server: TestServer): Promise<void> {
  for (let step = 0; step < WAIT_STEPS_MAX && server.server.connectionCount > 0; step++)
    await new Promise((resolve) => setTimeout(resolve, 10));
  assert.equal(server.server.connectionCount, 0, 'every connection was torn down');
}

/** A WeakRef to the server's only connection, made in a frame of its own (no strong ref kept). */
function weakConnection(server: TestServer): WeakRef<object> {
  const connections = server.server.connections();
  assert.equal(connections.length, 1);
  return new WeakRef(connections[0]!);
}

test(`${CONNECTIONS} idle connections hold no output slab, and closed ones are collected`, async () => {
  const server = await startTestServer();
  const clients: RawClient[] = [];
  try {
    await collect();
    const before = process.memoryUsage().arrayBuffers;
    for (let index = 0; index < CONNECTIONS; index++) {
      const client = await RawClient.connect(server.port);
      await client.hello(`idle-${index}`);
      // One round trip each, so every connection has written frames and gone idle again.
      client.send(
        encodeFrame(OPCODES.CALL, 2, (writer) => writer.string('streams.list').string('[]')),
      );
      await client.waitFor((frame) => frame.requestId === 2);
      clients.push(client);
    }
    await collect();
    const heldBytes = process.memoryUsage().arrayBuffers - before;
    assert.ok(
      heldBytes < (CONNECTIONS * CONNECTION_OUTPUT_SLAB_BYTES) / 8,
      `${CONNECTIONS} idle connections hold ${heldBytes} bytes of buffers`,
    );
    for (const client of clients.splice(0)) client.close();
    await untilNoConnections(server);

    const client = await RawClient.connect(server.port);
    await client.hello('last');
    const connection = weakConnection(server);
    client.close();
    await untilNoConnections(server);
    await collect();
    assert.equal(connection.deref(), undefined, 'the closed Connection was garbage-collected');
  } finally {
    for (const client of clients) client.close();
    await server.close();
  }
});
