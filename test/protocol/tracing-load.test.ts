/**
 * When Weir traces (src/protocol/tracing.ts `Tracing.load`): by default only once an
 * application registered a tracer provider; `tracing: true` whenever the api loads; never
 * with `tracing: false` or without the api. This file's process starts with no provider.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { trace } from '@opentelemetry/api';
import { BasicTracerProvider } from '@opentelemetry/sdk-trace-base';
import { Broker } from '../../src/broker/index.js';
import { Tracing } from '../../src/protocol/tracing.js';

const missing = () => Promise.reject(new Error("Cannot find package '@opentelemetry/api'"));

test('no tracer provider registered: off by default, on with tracing: true, off with false or without the api', async () => {
  assert.equal(await Tracing.load(undefined), null);
  assert.notEqual(await Tracing.load(true), null);
  assert.equal(await Tracing.load(false), null);
  assert.equal(await Tracing.load(true, missing), null);
  const broker = await Broker.open({ storage: 'memory' });
  assert.equal(broker.tracing, false);
  await broker.close();
  const forced = await Broker.open({ storage: 'memory', tracing: true });
  assert.equal(forced.tracing, true);
  await forced.close();
});

test('once a provider is registered: on by default, still off with tracing: false', async () => {
  assert.ok(trace.setGlobalTracerProvider(new BasicTracerProvider()));
  assert.notEqual(await Tracing.load(undefined), null);
  assert.equal(await Tracing.load(false), null);
  assert.equal(await Tracing.load(undefined, missing), null);
  const broker = await Broker.open({ storage: 'memory' });
  assert.equal(broker.tracing, true);
  await broker.close();
});
