/**
 * OpenTelemetry tracing, the same on both transports: one publish -> deliver -> ack makes the
 * spans publish, store, deliver and ack in one trace, each the child of the one before it
 * (deliver: of the publish, as the message's creation context), with the messaging semantic
 * conventions' attributes; a traceparent the application sets is carried unchanged, with
 * tracing on, off, or without @opentelemetry/api; a request's reply is in the request's trace.
 *
 * The runner installs an in-memory exporter as the global tracer provider before any broker
 * opens (installTracing); no W3C propagator is registered, so Weir's own W3C Trace Context
 * (trace-context.ts) carries the context, as it must for an application that has none.
 */
import assert from 'node:assert/strict';
import { beforeEach, describe, test } from 'node:test';
import { context, SpanKind, trace, type Span } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  SimpleSpanProcessor,
  type ReadableSpan,
} from '@opentelemetry/sdk-trace-base';
import type { Client, Message, Subscription } from '../../../src/protocol/index.js';
import type { OpenTelemetryLoader } from '../../../src/protocol/tracing.js';
import { receiveN, WAIT_MS } from './harness.js';

/** What a tracing harness is opened with: the broker's (and over TCP the SDK's) options. */
export interface TracingSetup {
  readonly tracing?: boolean;
  readonly openTelemetryLoader?: OpenTelemetryLoader;
}

export interface TracingHarness {
  readonly client: Client;
  /** Whether the broker behind `client` makes spans. */
  readonly brokerTraces: boolean;
  readonly close: () => Promise<void>;
}

export type TracingHarnessFactory = (setup: TracingSetup) => Promise<TracingHarness>;

/** Every span this process finishes (the global provider's only processor exports here). */
export const spanExporter = new InMemorySpanExporter();
const exporter = spanExporter;

/** Registers the in-memory exporter and an async context manager, once per process. */
export function installTracing(): void {
  if (
    trace.setGlobalTracerProvider(
      new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] }),
    )
  ) {
    context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  }
}

/** A loader that fails as `import('@opentelemetry/api')` does when it is not installed. */
export const missingApi: OpenTelemetryLoader = () =>
  Promise.reject(
    Object.assign(new Error("Cannot find package '@opentelemetry/api'"), {
      code: 'ERR_MODULE_NOT_FOUND',
    }),
  );

const USER_TRACEPARENT = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';
const USER_TRACESTATE = 'congo=t61rcWkgMzE';

async function withHarness(
  factory: TracingHarnessFactory,
  setup: TracingSetup,
  body: (harness: TracingHarness) => Promise<void>,
): Promise<void> {
  const harness = await factory(setup);
  try {
    await body(harness);
  } finally {
    await harness.close();
  }
}

/** The finished span of that name (exactly one), waiting a bounded time for it to end. */
async function spanNamed(name: string): Promise<ReadableSpan> {
  const deadline = Date.now() + WAIT_MS;
  for (;;) {
    const found = exporter.getFinishedSpans().filter((span) => span.name === name);
    if (found.length > 0 || Date.now() > deadline) {
      assert.equal(
        found.length,
        1,
        `one span "${name}" (finished: ${exporter
          .getFinishedSpans()
          .map((span) => span.name)
          .join(', ')})`,
      );
      return found[0]!;
    }
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

function assertChildOf(child: ReadableSpan, parent: ReadableSpan): void {
  assert.equal(child.spanContext().traceId, parent.spanContext().traceId, `${child.name}: trace`);
  assert.equal(
    child.parentSpanContext?.spanId,
    parent.spanContext().spanId,
    `${child.name} is a child of ${parent.name}`,
  );
}

function traceparentOf(span: ReadableSpan | Span): string {
  const { traceId, spanId } = span.spanContext();
  return `00-${traceId}-${spanId}-01`;
}

/** Runs `operation` inside an active application span, which is ended after it. */
async function inAppSpan<T>(name: string, operation: () => Promise<T>): Promise<T> {
  return trace.getTracer('app').startActiveSpan(name, async (span) => {
    try {
      return await operation();
    } finally {
      span.end();
    }
  });
}

async function receiveOne(subscription: Subscription): Promise<Message> {
  const [message] = await receiveN(subscription, 1);
  return message!;
}

export function tracingSuite(factory: TracingHarnessFactory): void {
  describe('tracing with OpenTelemetry', () => {
    beforeEach(() => exporter.reset());

    test('publish -> deliver -> ack: publish, store, deliver and ack spans in one trace, each the child of the one before, with the messaging attributes', () =>
      withHarness(factory, {}, async ({ client, brokerTraces }) => {
        assert.equal(brokerTraces, true);
        await client.streams.create('orders', { subjects: ['orders.>'], partitions: 2 });
        const subscription = await client.subscribe('orders', { subscription: 'billing' });
        const receipt = await inAppSpan('checkout', () =>
          client.publish('orders.created', 'hello', { key: 'k1' }),
        );
        const message = await receiveOne(subscription);
        await message.ack();

        const app = await spanNamed('checkout');
        const publish = await spanNamed('publish orders.created');
        const store = await spanNamed('store orders');
        const deliver = await spanNamed('deliver orders');
        const ack = await spanNamed('ack orders');
        // The parent chain, span by span.
        assertChildOf(publish, app);
        assertChildOf(store, publish);
        assertChildOf(deliver, publish);
        assertChildOf(ack, deliver);
        // The deliver span also links to the creation context, as the conventions require.
        assert.deepEqual(
          deliver.links.map((link) => link.context.spanId),
          [publish.spanContext().spanId],
        );
        // What the message carried is the publish span's context.
        assert.equal(message.headers.traceparent, traceparentOf(publish));
        assert.deepEqual(message.traceContext(), { traceparent: traceparentOf(deliver) });

        assert.equal(publish.kind, SpanKind.PRODUCER);
        assert.equal(store.kind, SpanKind.INTERNAL);
        assert.equal(deliver.kind, SpanKind.CONSUMER);
        assert.equal(ack.kind, SpanKind.CLIENT);
        const id = `orders/${receipt.partition}/${receipt.offset}`;
        const position = {
          'messaging.destination.partition.id': String(receipt.partition),
          'messaging.weir.message.offset': receipt.offset,
          'messaging.message.id': id,
        };
        assert.deepEqual(publish.attributes, {
          'messaging.system': 'weir',
          'messaging.operation.type': 'send',
          'messaging.operation.name': 'publish',
          'messaging.destination.name': 'orders.created',
          'messaging.message.body.size': 5,
          ...position,
        });
        assert.deepEqual(store.attributes, {
          'messaging.system': 'weir',
          'messaging.operation.type': 'send',
          'messaging.operation.name': 'store',
          'messaging.destination.name': 'orders',
          'messaging.message.body.size': 5,
          ...position,
        });
        assert.deepEqual(deliver.attributes, {
          'messaging.system': 'weir',
          'messaging.operation.type': 'receive',
          'messaging.operation.name': 'deliver',
          'messaging.destination.name': 'orders',
          'messaging.consumer.group.name': 'billing',
          'messaging.message.body.size': 5,
          'messaging.weir.message.delivery_count': 1,
          ...position,
        });
        assert.deepEqual(ack.attributes, {
          'messaging.system': 'weir',
          'messaging.operation.type': 'settle',
          'messaging.operation.name': 'ack',
          'messaging.destination.name': 'orders',
          'messaging.consumer.group.name': 'billing',
          ...position,
        });
        // The store span ends when the record is durable, before the publish is confirmed.
        assert.ok(store.ended && publish.ended);
        const endOf = (span: ReadableSpan) => span.endTime[0] * 1e9 + span.endTime[1];
        assert.ok(endOf(store) <= endOf(publish), 'store ends before the publish span');
        await subscription.close();
      }));

    test('nack and term are settle spans under their own deliveries; a producer id is the message id', () =>
      withHarness(factory, {}, async ({ client }) => {
        await client.streams.create('jobs');
        const subscription = await client.subscribe('jobs', { subscription: 'workers' });
        await client.publish('jobs', { n: 1 }, { id: 'job-1' });
        const first = await receiveOne(subscription);
        await first.nack({ delayMs: 0 });
        const second = await receiveOne(subscription);
        assert.equal(second.deliveryCount, 2);
        await second.term('broken');
        const nack = await spanNamed('nack jobs');
        const term = await spanNamed('term jobs');
        const delivers = exporter.getFinishedSpans().filter((span) => span.name === 'deliver jobs');
        assert.equal(delivers.length, 2);
        const [deliverOne, deliverTwo] = delivers.sort(
          (a, b) =>
            (a.attributes['messaging.weir.message.delivery_count'] as number) -
            (b.attributes['messaging.weir.message.delivery_count'] as number),
        );
        assertChildOf(nack, deliverOne!);
        assertChildOf(term, deliverTwo!);
        const publish = await spanNamed('publish jobs');
        assert.equal(publish.attributes['messaging.message.id'], 'job-1');
        assert.equal(term.attributes['messaging.message.id'], 'job-1');
        assert.equal(deliverTwo!.attributes['messaging.weir.message.delivery_count'], 2);
        assertChildOf(deliverOne!, publish);
        assertChildOf(deliverTwo!, publish);
        await subscription.close();
      }));

    test("an application's own traceparent is kept as it is, and the broker's spans follow it", () =>
      withHarness(factory, {}, async ({ client }) => {
        await client.streams.create('events');
        const subscription = await client.subscribe('events', { subscription: 'audit' });
        await inAppSpan('app', () =>
          client.publish('events', 'x', {
            headers: { traceparent: USER_TRACEPARENT, tracestate: USER_TRACESTATE },
          }),
        );
        const message = await receiveOne(subscription);
        assert.equal(message.headers.traceparent, USER_TRACEPARENT);
        assert.equal(message.headers.tracestate, USER_TRACESTATE);
        const store = await spanNamed('store events');
        assert.equal(store.spanContext().traceId, '4bf92f3577b34da6a3ce929d0e0e4736');
        assert.equal(store.parentSpanContext?.spanId, '00f067aa0ba902b7');
        assert.equal(store.spanContext().traceState?.get('congo'), 't61rcWkgMzE');
        const deliver = await spanNamed('deliver events');
        assert.equal(deliver.parentSpanContext?.spanId, '00f067aa0ba902b7');
        await message.ack();
        await subscription.close();
      }));

    test('a request and its reply are in one trace: the reply is a child of the responder’s deliver span', () =>
      withHarness(factory, {}, async ({ client }) => {
        await client.streams.create('rpc', { subjects: ['rpc.>'] });
        const responder = await client.subscribe('rpc', { subscription: 'responders' });
        const answering = (async () => {
          const request = await receiveOne(responder);
          await request.respond(`re: ${request.text()}`);
          await request.ack();
        })();
        const reply = await inAppSpan('caller', () =>
          client.request('rpc.echo', 'ping', { timeoutMs: WAIT_MS }),
        );
        await answering;
        assert.equal(reply.text(), 're: ping');
        const caller = await spanNamed('caller');
        const request = await spanNamed('request rpc.echo');
        const deliver = await spanNamed('deliver rpc');
        const respond = await spanNamed('respond (temporary)');
        assertChildOf(request, caller);
        assertChildOf(deliver, request);
        assertChildOf(respond, deliver);
        assert.equal(respond.kind, SpanKind.PRODUCER);
        assert.equal(respond.attributes['messaging.destination.temporary'], true);
        assert.equal(reply.headers.traceparent, traceparentOf(respond));
        assert.equal(reply.traceContext()?.traceparent, traceparentOf(respond));
        await responder.close();
      }));

    for (const [what, setup] of [
      ['tracing: false', { tracing: false }],
      ['@opentelemetry/api absent', { openTelemetryLoader: missingApi }],
    ] as const) {
      test(`${what}: no span is made, a user traceparent is carried unchanged and none is added`, () =>
        withHarness(factory, setup, async ({ client, brokerTraces }) => {
          assert.equal(brokerTraces, false);
          await client.streams.create('plain');
          const subscription = await client.subscribe('plain', { subscription: 'readers' });
          await inAppSpan('app', async () => {
            await client.publish('plain', 'with', {
              headers: { traceparent: USER_TRACEPARENT, tracestate: USER_TRACESTATE },
            });
            await client.publish('plain', 'without');
          });
          const [withContext, withoutContext] = await receiveN(subscription, 2);
          assert.equal(withContext!.headers.traceparent, USER_TRACEPARENT);
          assert.equal(withContext!.headers.tracestate, USER_TRACESTATE);
          assert.deepEqual(withContext!.traceContext(), {
            traceparent: USER_TRACEPARENT,
            tracestate: USER_TRACESTATE,
          });
          assert.deepEqual(withoutContext!.headers, {});
          assert.equal(withoutContext!.traceContext(), null);
          await withContext!.ack();
          await withoutContext!.ack();
          const reply = client.request('plain', 'q', { timeoutMs: WAIT_MS });
          const request = await receiveOne(subscription);
          assert.equal(request.headers.traceparent, undefined);
          await request.respond('a');
          await request.ack();
          assert.equal((await reply).headers.traceparent, undefined);
          // Only the application's own span was exported.
          assert.deepEqual(
            exporter.getFinishedSpans().map((span) => span.name),
            ['app'],
          );
          await subscription.close();
        }));
    }
  });
}
