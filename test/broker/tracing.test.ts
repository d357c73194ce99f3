/**
 * Tracing embedded: the tracing suite (test/broker/semantics/tracing.ts) over an in-process
 * client, and what only the embedded broker has (its options, a client that makes no spans of
 * its own, as the server's are).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Broker } from '../../src/broker/index.js';
import { installTracing, missingApi, spanExporter, tracingSuite } from './semantics/tracing.js';

installTracing();

tracingSuite(async (setup) => {
  const broker = await Broker.open({ storage: 'memory', ...setup });
  return { client: broker.connect(), brokerTraces: broker.tracing, close: () => broker.close() };
});

test('tracing options are checked, naming the field', async () => {
  await assert.rejects(
    Broker.open({ storage: 'memory', tracing: 'yes' as unknown as boolean }),
    (error: { code?: string; message: string }) =>
      error.code === 'INVALID_ARGUMENT' && /tracing/.test(error.message),
  );
  await assert.rejects(
    Broker.open({
      storage: 'memory',
      openTelemetryLoader: 42 as unknown as () => Promise<unknown>,
    }),
    (error: { code?: string; message: string }) =>
      error.code === 'INVALID_ARGUMENT' && /openTelemetryLoader/.test(error.message),
  );
  const broker = await Broker.open({ storage: 'memory' });
  try {
    assert.throws(
      () => broker.connect({ tracing: 1 as unknown as boolean }),
      (error: { code?: string; message: string }) =>
        error.code === 'INVALID_ARGUMENT' && /tracing/.test(error.message),
    );
  } finally {
    await broker.close();
  }
});

test('a loader that gives something other than the api leaves the broker untraced', async () => {
  const broker = await Broker.open({
    storage: 'memory',
    openTelemetryLoader: () => Promise.resolve({ trace: {} }),
  });
  try {
    assert.equal(broker.tracing, false);
    await broker.connect().streams.create('s');
    await broker.connect().publish('s', 'x');
  } finally {
    await broker.close();
  }
  const absent = await Broker.open({ storage: 'memory', openTelemetryLoader: missingApi });
  assert.equal(absent.tracing, false);
  await absent.close();
});

test("connect({ tracing: false }): the client makes no publish, deliver or settle span; the broker's store span still is made", async () => {
  spanExporter.reset();
  const exporter = () => spanExporter.getFinishedSpans();
  const broker = await Broker.open({ storage: 'memory' });
  try {
    const client = broker.connect({ tracing: false });
    await client.streams.create('quiet');
    const subscription = await client.subscribe('quiet', { subscription: 'q' });
    await client.publish('quiet', 'x');
    const message = await subscription.receive({ timeoutMs: 10_000 });
    assert.ok(message);
    await message.ack();
    assert.equal(message.headers.traceparent, undefined);
    assert.deepEqual(
      exporter().map((span) => span.name),
      ['store quiet'],
    );
    // A message without a trace context starts a trace of its own at the broker.
    assert.equal(exporter()[0]!.parentSpanContext, undefined);
    await subscription.close();
  } finally {
    await broker.close();
  }
});
