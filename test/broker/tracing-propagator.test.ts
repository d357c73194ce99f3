/**
 * With a propagator registered (the NodeSDK registers W3C Trace Context and baggage), Weir
 * injects and extracts through it: whatever it writes travels in the headers, and what it
 * reads is the parent of the broker's and the consumer's spans. The propagator here writes
 * the span context under its own header, not traceparent, and reads only that: the spans
 * link only if Weir used it both ways (Weir adds traceparent beside it, as its contract says).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  propagation,
  trace,
  type Context,
  type TextMapGetter,
  type TextMapPropagator,
  type TextMapSetter,
} from '@opentelemetry/api';
import { Broker } from '../../src/broker/index.js';
import { installTracing, spanExporter } from './semantics/tracing.js';

const HEADER = 'x-test-trace';

/** `x-test-trace: <trace id>:<span id>`. */
const testPropagator: TextMapPropagator = {
  inject(context: Context, carrier: unknown, setter: TextMapSetter): void {
    const spanContext = trace.getSpanContext(context);
    if (spanContext) setter.set(carrier, HEADER, `${spanContext.traceId}:${spanContext.spanId}`);
  },
  extract(context: Context, carrier: unknown, getter: TextMapGetter): Context {
    const value = getter.get(carrier, HEADER);
    if (typeof value !== 'string') return context;
    const [traceId, spanId] = value.split(':');
    return trace.setSpanContext(context, {
      traceId: traceId!,
      spanId: spanId!,
      traceFlags: 1,
      isRemote: true,
    });
  },
  fields: () => [HEADER],
};

installTracing();
assert.ok(propagation.setGlobalPropagator(testPropagator));

test('a registered propagator carries the context: its header travels, and the spans link through it', async () => {
  spanExporter.reset();
  const broker = await Broker.open({ storage: 'memory' });
  try {
    const client = broker.connect();
    await client.streams.create('p');
    const subscription = await client.subscribe('p', { subscription: 's' });
    await client.publish('p', 'x');
    const message = await subscription.receive({ timeoutMs: 10_000 });
    assert.ok(message);
    await message.ack();
    const spans = new Map(spanExporter.getFinishedSpans().map((span) => [span.name, span]));
    const publish = spans.get('publish p')!;
    const { traceId, spanId } = publish.spanContext();
    assert.equal(message.headers[HEADER], `${traceId}:${spanId}`);
    // The propagator wrote no traceparent: Weir adds it, a message always carries W3C context.
    assert.equal(message.headers.traceparent, `00-${traceId}-${spanId}-01`);
    assert.equal(spans.get('store p')!.parentSpanContext?.spanId, spanId);
    assert.equal(spans.get('deliver p')!.parentSpanContext?.spanId, spanId);
    const deliver = spans.get('deliver p')!;
    assert.equal(spans.get('ack p')!.parentSpanContext?.spanId, deliver.spanContext().spanId);
    assert.equal(new Set([...spans.values()].map((span) => span.spanContext().traceId)).size, 1);
    await subscription.close();
  } finally {
    await broker.close();
  }
});
