/**
 * OpenTelemetry spans of Weir, made by the broker (store) and by both clients, the embedded one
 * and the network SDK (publish, deliver, settle), following the messaging semantic
 * conventions (docs/concepts.md, "Tracing with OpenTelemetry"):
 *
 *   publish <subject>   PRODUCER  send     the app's publish (request, respond too); its
 *                                          context is what the message's traceparent carries
 *   store <stream>      INTERNAL  send     the broker, child of the message's traceparent;
 *                                          ends when the record is durable
 *   deliver <stream>    CONSUMER  receive  the message handed to the application (receive()
 *                                          or the iterator); child of the message's context,
 *                                          and linked to it as the conventions ask
 *   ack|nack|term <stream> CLIENT settle   child of the deliver span; ends once recorded
 *
 * `@opentelemetry/api` is an optional peer dependency: it is loaded once, with a dynamic
 * import that may fail (`Tracing.load`), and the broker and the clients hold a
 * `Tracing | null`. Null (the api absent, `tracing: false`, or no tracer provider registered
 * when the broker opened / the client connected) costs the hot path one null check and
 * nothing else. The api's global propagator injects and extracts when it knows
 * `traceparent`; without one, this file writes and reads W3C Trace Context itself
 * (trace-context.ts), so a registered provider without a propagator still links the spans.
 *
 * Nothing here throws into a publish or a settle: the api does not throw, and a span only
 * records what the operation did.
 */
import type * as OpenTelemetry from '@opentelemetry/api';
import type { Attributes, Context, Span, SpanContext } from '@opentelemetry/api';
import type { Headers, Message, PublishOptions, PublishReceipt, TraceContext } from './api.js';
import {
  formatTraceParent,
  parseTraceParent,
  TRACEPARENT_HEADER,
  TRACESTATE_HEADER,
} from './trace-context.js';

export type OpenTelemetryApi = typeof OpenTelemetry;

/** Resolves with the `@opentelemetry/api` module, or rejects when it is not installed. */
export type OpenTelemetryLoader = () => Promise<unknown>;

/** The default loader: the package as this process resolves it. */
export const importOpenTelemetryApi: OpenTelemetryLoader = () => import('@opentelemetry/api');

/** The instrumentation scope name of Weir's spans. */
export const TRACER_NAME = 'weir';

/** Attribute names: the messaging semantic conventions', and Weir's own under messaging.weir. */
export const MESSAGING_ATTRIBUTES = {
  system: 'messaging.system',
  operationType: 'messaging.operation.type',
  operationName: 'messaging.operation.name',
  destinationName: 'messaging.destination.name',
  destinationTemporary: 'messaging.destination.temporary',
  partitionId: 'messaging.destination.partition.id',
  consumerGroupName: 'messaging.consumer.group.name',
  messageId: 'messaging.message.id',
  conversationId: 'messaging.message.conversation_id',
  bodySize: 'messaging.message.body.size',
  errorType: 'error.type',
  offset: 'messaging.weir.message.offset',
  deliveryCount: 'messaging.weir.message.delivery_count',
  duplicate: 'messaging.weir.duplicate',
} as const;

const SYSTEM = 'weir';
/** Replies go to inboxes (`_INBOX.<random>`): one span name for all, not one per inbox. */
const INBOX_PREFIX = '_INBOX.';
const TEMPORARY_DESTINATION = '(temporary)';

/** A settlement that makes a span (extend moves a lease; it settles nothing). */
export type SettleOperation = 'ack' | 'nack' | 'term';

/** A deliver span made for a message: its settles and its replies are its children. */
export interface DeliverTrace {
  readonly tracing: Tracing;
  readonly spanContext: SpanContext;
  /** The subscription (consumer group) it was delivered in. */
  readonly subscription: string;
}

/** The message fields a deliver or settle span reads. */
export type TracedMessage = Pick<
  Message,
  'stream' | 'partition' | 'offset' | 'id' | 'headers' | 'body' | 'deliveryCount' | 'correlationId'
>;

/**
 * The api module if `loaded` is one (a namespace import, or one under `default` as a bundler
 * may hand it over), else null.
 */
function apiOf(loaded: unknown): OpenTelemetryApi | null {
  for (const candidate of [loaded, (loaded as { default?: unknown } | null)?.default]) {
    const api = candidate as Partial<OpenTelemetryApi> | null | undefined;
    if (
      typeof api === 'object' &&
      api !== null &&
      typeof api.trace?.getTracer === 'function' &&
      typeof api.context?.active === 'function' &&
      typeof api.propagation?.inject === 'function' &&
      typeof api.createTraceState === 'function'
    ) {
      return api;
    }
  }
  return null;
}

/** Whether an application registered a tracer provider (the global proxy has a delegate). */
function providerRegistered(api: OpenTelemetryApi): boolean {
  const provider = api.trace.getTracerProvider();
  if (provider instanceof api.ProxyTracerProvider) {
    return provider.getDelegateTracer(TRACER_NAME) !== undefined;
  }
  return true;
}

/** The W3C trace context of a span (what `msg.traceContext()` gives for a deliver span). */
export function traceContextOfSpan(spanContext: SpanContext): TraceContext {
  const traceparent = formatTraceParent(spanContext);
  const tracestate = spanContext.traceState?.serialize();
  return tracestate ? { traceparent, tracestate } : { traceparent };
}

/** UTF-8 size of a body without encoding it; null for a JSON value (not encoded twice). */
export function bodySizeOf(body: unknown): number | null {
  if (body instanceof Uint8Array) return body.length;
  if (typeof body !== 'string') return null;
  let size = 0;
  for (let index = 0; index < body.length; index++) {
    const code = body.charCodeAt(index);
    if (code < 0x80) size += 1;
    else if (code < 0x800) size += 2;
    else if (code >= 0xd800 && code <= 0xdbff && index + 1 < body.length) {
      size += 4; // a surrogate pair: one 4-byte code point
      index++;
    } else size += 3;
  }
  return size;
}

function isInbox(subject: string): boolean {
  return subject.startsWith(INBOX_PREFIX);
}

export class Tracing {
  readonly #api: OpenTelemetryApi;
  readonly #tracer: OpenTelemetry.Tracer;

  private constructor(api: OpenTelemetryApi) {
    this.#api = api;
    this.#tracer = api.trace.getTracer(TRACER_NAME);
  }

  /**
   * The tracing a broker or client uses, or null for none. `setting` false: none; true: on
   * whenever the api loads (spans go to whichever provider is registered, now or later);
   * undefined (the default): on when the api loads and a tracer provider is registered.
   */
  static async load(
    setting: boolean | undefined,
    loader: OpenTelemetryLoader = importOpenTelemetryApi,
  ): Promise<Tracing | null> {
    if (setting === false) return null;
    let api: OpenTelemetryApi | null;
    try {
      api = apiOf(await loader());
    } catch {
      return null; // not installed: Weir runs without tracing
    }
    if (api === null) return null;
    if (setting === undefined && !providerRegistered(api)) return null;
    return new Tracing(api);
  }

  // ---- producer side ---------------------------------------------------------------------

  /**
   * Starts a PRODUCER span for a publish to `subject` (operation `publish`, `request` or
   * `respond`) as a child of `parent` (a deliver span, for a reply) or of the active context,
   * and returns it with the options to publish with: the span's context injected into the
   * headers, unless the application gave its own `traceparent` (kept as it is) or headers
   * that are not an object (left for the codec to refuse, as without tracing).
   */
  startPublish(
    operation: 'publish' | 'request' | 'respond',
    subject: string,
    options: PublishOptions | undefined,
    bodySize: number | null,
    parent: DeliverTrace | null = null,
  ): { span: Span; options: PublishOptions | undefined } {
    const api = this.#api;
    const temporary = typeof subject === 'string' && isInbox(subject);
    const destination = temporary ? TEMPORARY_DESTINATION : String(subject);
    const attributes: Attributes = {
      [MESSAGING_ATTRIBUTES.system]: SYSTEM,
      [MESSAGING_ATTRIBUTES.operationType]: 'send',
      [MESSAGING_ATTRIBUTES.operationName]: operation,
      [MESSAGING_ATTRIBUTES.destinationName]: destination,
    };
    if (temporary) attributes[MESSAGING_ATTRIBUTES.destinationTemporary] = true;
    if (typeof options?.id === 'string') attributes[MESSAGING_ATTRIBUTES.messageId] = options.id;
    if (typeof options?.correlationId === 'string') {
      attributes[MESSAGING_ATTRIBUTES.conversationId] = options.correlationId;
    }
    if (bodySize !== null) attributes[MESSAGING_ATTRIBUTES.bodySize] = bodySize;
    const parentContext =
      parent === null
        ? api.context.active()
        : api.trace.setSpanContext(api.ROOT_CONTEXT, parent.spanContext);
    const span = this.#tracer.startSpan(
      `${operation} ${destination}`,
      { kind: api.SpanKind.PRODUCER, attributes },
      parentContext,
    );
    return { span, options: this.#inject(api.trace.setSpan(parentContext, span), options) };
  }

  /**
   * Ends a publish span with what the broker said (its first stream's position; none for an
   * unconfirmed publish). `id`: the producer's, which stays the span's message id.
   */
  endPublish(span: Span, receipt: PublishReceipt | null, id: unknown): void {
    if (receipt !== null && receipt.partition >= 0) {
      this.#setPosition(span, receipt, typeof id === 'string' ? id : null);
    }
    span.end();
  }

  #inject(context: Context, options: PublishOptions | undefined): PublishOptions | undefined {
    const given: unknown = options?.headers;
    if (given !== undefined && (typeof given !== 'object' || given === null)) return options;
    const headers: Record<string, string> = { ...(given as Headers | undefined) };
    if (headers[TRACEPARENT_HEADER] !== undefined) return options; // the application's own
    this.#api.propagation.inject(context, headers);
    if (headers[TRACEPARENT_HEADER] === undefined) {
      // No propagator that writes traceparent is registered: W3C Trace Context by hand.
      const spanContext = this.#api.trace.getSpanContext(context);
      if (spanContext === undefined || !this.#api.isSpanContextValid(spanContext)) return options;
      const { traceparent, tracestate } = traceContextOfSpan(spanContext);
      headers[TRACEPARENT_HEADER] = traceparent;
      if (tracestate !== undefined && headers[TRACESTATE_HEADER] === undefined) {
        headers[TRACESTATE_HEADER] = tracestate;
      }
    }
    return { ...options, headers };
  }

  // ---- broker side -----------------------------------------------------------------------

  /**
   * Starts the INTERNAL store span of a publish the broker took, a child of the context its
   * headers carry (a new trace when they carry none). `endStore` names it after the stream.
   */
  startStore(subject: string, headers: Headers, id: string | null, bodySize: number): Span {
    const attributes: Attributes = {
      [MESSAGING_ATTRIBUTES.system]: SYSTEM,
      [MESSAGING_ATTRIBUTES.operationType]: 'send',
      [MESSAGING_ATTRIBUTES.operationName]: 'store',
      [MESSAGING_ATTRIBUTES.destinationName]: subject,
      [MESSAGING_ATTRIBUTES.bodySize]: bodySize,
    };
    if (id !== null) attributes[MESSAGING_ATTRIBUTES.messageId] = id;
    return this.#tracer.startSpan(
      `store ${subject}`,
      { kind: this.#api.SpanKind.INTERNAL, attributes },
      this.#extract(headers),
    );
  }

  /** Ends a store span once the record is durable, where it was stored. */
  endStore(span: Span, receipt: PublishReceipt, id: string | null): void {
    if (receipt.stream !== '') {
      span.updateName(`store ${receipt.stream}`);
      span.setAttribute(MESSAGING_ATTRIBUTES.destinationName, receipt.stream);
    }
    if (receipt.partition >= 0) this.#setPosition(span, receipt, id);
    if (receipt.duplicate) span.setAttribute(MESSAGING_ATTRIBUTES.duplicate, true);
    span.end();
  }

  /** Ends any span with the error its operation failed with. */
  fail(span: Span, error: unknown): void {
    const code = (error as { code?: unknown } | null)?.code;
    span.setAttribute(MESSAGING_ATTRIBUTES.errorType, typeof code === 'string' ? code : 'Error');
    if (error instanceof Error) span.recordException(error);
    span.setStatus({
      code: this.#api.SpanStatusCode.ERROR,
      message: error instanceof Error ? error.message : String(error),
    });
    span.end();
  }

  /** `promise`, with `span` ended as it settles (by `onResult`, or failed with its error). */
  traced<T>(
    span: Span,
    promise: Promise<T>,
    onResult: (span: Span, result: T) => void,
  ): Promise<T> {
    return promise.then(
      (result) => {
        onResult(span, result);
        return result;
      },
      (error: unknown) => {
        this.fail(span, error);
        throw error;
      },
    );
  }

  // ---- consumer side ---------------------------------------------------------------------

  /**
   * The deliver span of a message handed to the application: a CONSUMER span of operation
   * type `receive`, a child of the message's creation context (one message, so the
   * conventions allow the parent) and linked to it (what they require). It ends at once: it
   * marks the hand-over; the settle that follows is its child.
   */
  deliver(message: TracedMessage, subscription: string): DeliverTrace {
    const api = this.#api;
    const parent = this.#extract(message.headers);
    const creation = api.trace.getSpanContext(parent);
    const attributes = this.#consumerAttributes('receive', 'deliver', message, subscription);
    attributes[MESSAGING_ATTRIBUTES.bodySize] = message.body.length;
    attributes[MESSAGING_ATTRIBUTES.deliveryCount] = message.deliveryCount;
    if (message.correlationId !== null) {
      attributes[MESSAGING_ATTRIBUTES.conversationId] = message.correlationId;
    }
    const span = this.#tracer.startSpan(
      `deliver ${message.stream}`,
      {
        kind: api.SpanKind.CONSUMER,
        attributes,
        links: creation === undefined ? [] : [{ context: creation }],
      },
      parent,
    );
    span.end();
    return { tracing: this, spanContext: span.spanContext(), subscription };
  }

  /** `settle()` inside a CLIENT settle span, a child of the message's deliver span. */
  settle(
    operation: SettleOperation,
    trace: DeliverTrace,
    message: TracedMessage,
    settle: () => Promise<void>,
  ): Promise<void> {
    const api = this.#api;
    const span = this.#tracer.startSpan(
      `${operation} ${message.stream}`,
      {
        kind: api.SpanKind.CLIENT,
        attributes: this.#consumerAttributes('settle', operation, message, trace.subscription),
      },
      api.trace.setSpanContext(api.ROOT_CONTEXT, trace.spanContext),
    );
    let settled: Promise<void>;
    try {
      settled = settle();
    } catch (error) {
      this.fail(span, error);
      throw error;
    }
    return this.traced(span, settled, (ended) => ended.end());
  }

  #consumerAttributes(
    type: string,
    name: string,
    message: TracedMessage,
    subscription: string,
  ): Attributes {
    const attributes: Attributes = {
      [MESSAGING_ATTRIBUTES.system]: SYSTEM,
      [MESSAGING_ATTRIBUTES.operationType]: type,
      [MESSAGING_ATTRIBUTES.operationName]: name,
      [MESSAGING_ATTRIBUTES.destinationName]: message.stream,
      [MESSAGING_ATTRIBUTES.consumerGroupName]: subscription,
      [MESSAGING_ATTRIBUTES.partitionId]: String(message.partition),
      [MESSAGING_ATTRIBUTES.offset]: message.offset,
    };
    attributes[MESSAGING_ATTRIBUTES.messageId] =
      message.id ?? `${message.stream}/${message.partition}/${message.offset}`;
    return attributes;
  }

  /**
   * Where a message was stored: partition, offset, and its id (the producer's, or else
   * stream/partition/offset, which names one stored message as the consumer spans do).
   */
  #setPosition(span: Span, receipt: PublishReceipt, id: string | null): void {
    span.setAttribute(MESSAGING_ATTRIBUTES.partitionId, String(receipt.partition));
    if (receipt.offset >= 0) {
      span.setAttribute(MESSAGING_ATTRIBUTES.offset, receipt.offset);
      if (id === null) {
        span.setAttribute(
          MESSAGING_ATTRIBUTES.messageId,
          `${receipt.stream}/${receipt.partition}/${receipt.offset}`,
        );
      }
    }
  }

  /**
   * The context a message's headers carry: through the registered propagator, or else read
   * as W3C Trace Context here; the root context (a new trace) when they carry none.
   */
  #extract(headers: Headers): Context {
    const api = this.#api;
    const extracted = api.propagation.extract(api.ROOT_CONTEXT, headers);
    if (api.trace.getSpanContext(extracted) !== undefined) return extracted;
    const parent = parseTraceParent(headers[TRACEPARENT_HEADER]);
    if (parent === null) return api.ROOT_CONTEXT;
    const tracestate = headers[TRACESTATE_HEADER];
    const spanContext: SpanContext = {
      traceId: parent.traceId,
      spanId: parent.spanId,
      traceFlags: parent.traceFlags,
      isRemote: true,
    };
    if (tracestate !== undefined) spanContext.traceState = api.createTraceState(tracestate);
    return api.trace.setSpanContext(extracted, spanContext);
  }
}
