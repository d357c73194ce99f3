/**
 * Tracing over TCP: the tracing suite (test/broker/semantics/tracing.ts) through the network
 * SDK to an in-process WeirServer on port 0. The SDK makes the publish, deliver and settle
 * spans; the broker behind the server makes the store span from the traceparent the PUBLISH
 * frame's headers carried; the server's own clients make none (ClientIdentity.tracing).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Broker } from '../../src/broker/index.js';
import { connect } from '../../src/client/index.js';
import { silentLogger, WeirServer } from '../../src/server/index.js';
import { installTracing, tracingSuite } from '../broker/semantics/tracing.js';

installTracing();

tracingSuite(async (setup) => {
  const broker = await Broker.open({ storage: 'memory', ...setup });
  const server = await WeirServer.listen({
    connectClient: (identity) => broker.connect(identity),
    port: 0,
    logger: silentLogger,
  });
  try {
    const client = await connect(`weir://127.0.0.1:${server.address().port}`, setup);
    return {
      client,
      brokerTraces: broker.tracing,
      close: async () => {
        await client.close();
        await server.close();
        await broker.close();
      },
    };
  } catch (error) {
    await server.close();
    await broker.close();
    throw error;
  }
});

test('the SDK checks its tracing options, naming the field', async () => {
  const broker = await Broker.open({ storage: 'memory' });
  const server = await WeirServer.listen({
    connectClient: (identity) => broker.connect(identity),
    port: 0,
    logger: silentLogger,
  });
  try {
    const url = `weir://127.0.0.1:${server.address().port}`;
    await assert.rejects(
      connect(url, { tracing: 'on' as unknown as boolean }),
      (error: { code?: string; message: string }) =>
        error.code === 'INVALID_ARGUMENT' && /tracing/.test(error.message),
    );
    await assert.rejects(
      connect(url, { openTelemetryLoader: {} as unknown as () => Promise<unknown> }),
      (error: { code?: string; message: string }) =>
        error.code === 'INVALID_ARGUMENT' && /openTelemetryLoader/.test(error.message),
    );
  } finally {
    await server.close();
    await broker.close();
  }
});
