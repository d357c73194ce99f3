import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { connect } from '../../src/client/index.js';
import {
  OPCODES,
  FRAME_HEADER_BYTES,
  PROTOCOL_VERSION,
  writeFrameHeader,
} from '../../src/protocol/frame.js';
import { HEARTBEAT_MISSES_MAX } from '../../src/limits.js';
import { FakeServer } from './fake-server.js';
import { TEST_TIMEOUT_MS, withClient } from './client-fixture.js';

const options = { timeout: TEST_TIMEOUT_MS };

test(
  'connect sends HELLO with the protocol version and client name, and resolves on HELLO_OK',
  options,
  async () => {
    await withClient(async (fake, client) => {
      assert.deepEqual(fake.hellos, [{ version: PROTOCOL_VERSION, name: 'sdk-test' }]);
      assert.equal(client.closed, false);
      await client.close();
      assert.equal(client.closed, true);
      await assert.rejects(client.publish('orders', 'x'), { code: 'CLOSED' });
    });
  },
);

test(
  'an unreachable server rejects with CLOSED naming the address and the cause',
  options,
  async () => {
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as { port: number }).port;
    await new Promise<void>((resolve) => server.close(() => resolve()));
    await assert.rejects(
      connect(`weir://127.0.0.1:${port}`),
      (error: Error & { code?: string }) => {
        assert.equal(error.code, 'CLOSED');
        assert.equal(error.message, `cannot reach weir://127.0.0.1:${port}: ECONNREFUSED`);
        return true;
      },
    );
  },
);

test('a bad address or option is INVALID_ARGUMENT before anything is sent', options, async () => {
  for (const url of [
    'http://127.0.0.1:1',
    'weir://',
    'not a url',
    'weir://h:99999',
    'weir://h:1/path',
  ]) {
    await assert.rejects(connect(url), { code: 'INVALID_ARGUMENT' }, url);
  }
  await assert.rejects(connect(42 as unknown as string), { code: 'INVALID_ARGUMENT' });
  await assert.rejects(connect('weir://127.0.0.1:1', { reconnect: 'yes' as unknown as boolean }), {
    code: 'INVALID_ARGUMENT',
  });
  await assert.rejects(connect('weir://127.0.0.1:1', { connectTimeoutMs: -1 }), {
    code: 'INVALID_ARGUMENT',
  });
});

test('a refused handshake rejects connect with the server error code', options, async () => {
  const fake = await FakeServer.start();
  fake.helloError = 'NOT_AUTHORIZED';
  try {
    await assert.rejects(connect(fake.url), { code: 'NOT_AUTHORIZED' });
  } finally {
    await fake.stop();
  }
});

test(
  'a server speaking another protocol version is refused with PROTOCOL_ERROR',
  options,
  async () => {
    const fake = await FakeServer.start();
    fake.protocolVersion = PROTOCOL_VERSION + 1;
    try {
      await assert.rejects(connect(fake.url), {
        code: 'PROTOCOL_ERROR',
        message: `the server speaks protocol ${PROTOCOL_VERSION + 1}, not ${PROTOCOL_VERSION}`,
      });
      await fake.waitFor(() => fake.errors.length === 1, 'the client ERROR frame');
    } finally {
      await fake.stop();
    }
  },
);

test(
  'a malformed server frame gets ERROR PROTOCOL_ERROR, closes the connection, fails what was in flight with CLOSED',
  options,
  async () => {
    await withClient(async (fake, client) => {
      fake.addStream('orders');
      fake.holdPublishes = true;
      const publish = client.publish('orders', 'x');
      await fake.waitFor(() => fake.framesOf(OPCODES.PUBLISH).length === 1, 'the PUBLISH');
      const bad = new Uint8Array(FRAME_HEADER_BYTES);
      writeFrameHeader(bad, 99 as typeof OPCODES.PING, 0, 0, bad.length);
      fake.sendRaw(bad);
      await assert.rejects(publish, (error: Error & { code?: string }) => {
        assert.equal(error.code, 'CLOSED');
        assert.match(error.message, /malformed frame: unknown opcode 99/);
        return true;
      });
      await fake.waitFor(() => fake.errors.length === 1, 'the client ERROR frame');
      assert.equal(fake.errors[0]!.code, 'PROTOCOL_ERROR');
      await fake.waitFor(() => fake.closedConnections === 1, 'the connection to close');
      // The client reconnects by itself and carries on.
      fake.holdPublishes = false;
      const receipt = await client.publish('orders', 'y');
      assert.equal(receipt.stream, 'orders');
      assert.equal(fake.hellos.length, 2);
    });
  },
);

test(
  'the client PINGs, and a server silent for HEARTBEAT_MISSES_MAX intervals is presumed dead',
  options,
  async () => {
    const heartbeatMs = 40;
    await withClient(
      async (fake, client) => {
        fake.addStream('orders');
        await fake.waitFor(() => fake.framesOf(OPCODES.PING).length >= 2, 'client PINGs');
        fake.mute = true;
        const mutedAt = Date.now();
        await fake.waitFor(
          () => fake.closedConnections === 1,
          'the client to give up on the connection',
        );
        const silentMs = Date.now() - mutedAt;
        assert.ok(
          silentMs >= heartbeatMs * (HEARTBEAT_MISSES_MAX - 1),
          `gave up after ${silentMs} ms`,
        );
        fake.mute = false;
        const receipt = await client.publish('orders', 'after');
        assert.equal(receipt.offset, 0);
      },
      { heartbeatMs, connect: { connectTimeoutMs: 200 } },
    );
  },
);

test(
  'a malformed reply fails its request with CLOSED and the connection closes with PROTOCOL_ERROR',
  options,
  async () => {
    await withClient(async (fake, client) => {
      fake.addStream('orders');
      fake.malformedPublishResults = true;
      await assert.rejects(
        Promise.all([client.publish('orders', 'a'), client.publish('orders', 'b')]),
        {
          code: 'CLOSED',
        },
      );
      await fake.waitFor(() => fake.errors.length === 1, 'the client ERROR frame');
      assert.equal(fake.errors[0]!.code, 'PROTOCOL_ERROR');
      assert.match(fake.errors[0]!.message, /PUBLISH_RESULT has 3 outcomes for 2 messages/);
      fake.malformedPublishResults = false;
      assert.equal((await client.publish('orders', 'c')).stream, 'orders');
    });
  },
);
