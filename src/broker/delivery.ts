/**
 * A message as a consumer gets it: the stored message plus where it came from and how many
 * times it was delivered, and the settlement calls. Settlement goes back to the subscription
 * with the delivery's token, so a consumer whose lease passed to another consumer cannot
 * settle the other's delivery (MESSAGE_SETTLED).
 */
import type {
  Body,
  Headers,
  JsonValue,
  Message,
  NackOptions,
  RespondOptions,
  TraceContext,
} from '../protocol/index.js';
import { traceContextOf } from '../protocol/trace-context.js';
import { bodySizeOf, traceContextOfSpan, type DeliverTrace } from '../protocol/tracing.js';
import type { WeirError } from '../util/index.js';
import { decodeText, type StoredMessage } from './message-codec.js';
import type { Entry } from './partition-cursor.js';
import { isInboxSubject } from './subject.js';

/** What a subscription offers its deliveries (implemented by SubscriptionGroup). */
export interface DeliveryActions {
  readonly stream: string;
  ack(entry: Entry, token: number): Promise<void>;
  nack(entry: Entry, token: number, options: NackOptions | undefined): Promise<void>;
  term(entry: Entry, token: number, reason: string | undefined): Promise<void>;
  extend(entry: Entry, token: number, ms: number | undefined): Promise<void>;
  respond(message: StoredMessage, body: Body, options: RespondOptions | undefined): Promise<void>;
  /** Records progress, extends the lease; `send` (or the broker) sends it to replyTo. */
  progress(
    entry: Entry,
    token: number,
    value: unknown,
    send: ((body: Body, headers: Record<string, string>) => Promise<void>) | null,
  ): Promise<void>;
  // Transactions (transactions.ts; SubscriptionGroup documents each).
  readonly name: string;
  readonly durable: boolean;
  transactionRefusal(
    entry: Entry,
    token: number,
    holders: ReadonlySet<unknown> | null,
  ): WeirError | null;
  holdForTransaction(entry: Entry): void;
  releaseFromTransaction(entry: Entry): void;
  settleForTransaction(entry: Entry | null, partition: number, offset: number): Promise<void>;
}

/** Sends a reply to `message.replyTo` (as DeliveryActions.respond does). */
export type Responder = (
  message: StoredMessage,
  body: Body,
  options: RespondOptions | undefined,
) => Promise<void>;

export function parseJson<T>(body: Uint8Array): T {
  return JSON.parse(decodeText(body)) as T;
}

export class DeliveredMessage implements Message {
  readonly #actions: DeliveryActions;
  readonly entry: Entry;
  readonly token: number;
  readonly deliveryCount: number;
  /**
   * Set by the consumer this delivery is pushed to when its client's permissions are
   * restricted: the reply then goes through that client's checks (its publish permissions,
   * its reply grants) instead of straight to the broker core.
   */
  responder: Responder | null = null;
  /** The deliver span made when user code took it (tracing.ts); null: not traced. */
  trace: DeliverTrace | null = null;

  constructor(actions: DeliveryActions, entry: Entry, token: number) {
    this.#actions = actions;
    this.entry = entry;
    this.token = token;
    this.deliveryCount = entry.deliveryCount;
  }

  /** The subscription it came from (transactions ack through it). */
  get subscription(): DeliveryActions {
    return this.#actions;
  }

  /** Whether this delivery still holds its lease (not settled, not handed to another consumer). */
  get current(): boolean {
    return this.entry.state === 'in-flight' && this.entry.token === this.token;
  }

  get subject(): string {
    return this.entry.message.subject;
  }
  get key(): string | null {
    return this.entry.message.key;
  }
  get headers(): Headers {
    return this.entry.message.headers;
  }
  get body(): Uint8Array {
    return this.entry.message.body;
  }
  get stream(): string {
    return this.#actions.stream;
  }
  get partition(): number {
    return this.entry.partition;
  }
  get offset(): number {
    return this.entry.offset;
  }
  get id(): string | null {
    return this.entry.message.id;
  }
  get timestamp(): number {
    return this.entry.message.timestamp;
  }
  get priority(): number {
    return this.entry.message.priority;
  }
  get replyTo(): string | null {
    return this.entry.message.replyTo;
  }
  get correlationId(): string | null {
    return this.entry.message.correlationId;
  }

  text(): string {
    return decodeText(this.body);
  }

  json<T = unknown>(): T {
    return parseJson<T>(this.body);
  }

  ack(): Promise<void> {
    if (this.trace !== null) {
      return this.trace.tracing.settle('ack', this.trace, this, () =>
        this.#actions.ack(this.entry, this.token),
      );
    }
    return this.#actions.ack(this.entry, this.token);
  }

  nack(options?: NackOptions): Promise<void> {
    if (this.trace !== null) {
      return this.trace.tracing.settle('nack', this.trace, this, () =>
        this.#actions.nack(this.entry, this.token, options),
      );
    }
    return this.#actions.nack(this.entry, this.token, options);
  }

  term(reason?: string): Promise<void> {
    if (this.trace !== null) {
      return this.trace.tracing.settle('term', this.trace, this, () =>
        this.#actions.term(this.entry, this.token, reason),
      );
    }
    return this.#actions.term(this.entry, this.token, reason);
  }

  extend(ms?: number): Promise<void> {
    return this.#actions.extend(this.entry, this.token, ms);
  }

  respond(body: Body, options?: RespondOptions): Promise<void> {
    if (this.trace !== null) return this.#tracedRespond(this.trace, body, options);
    return this.#reply(body, options);
  }

  #reply(body: Body, options: RespondOptions | undefined): Promise<void> {
    if (this.responder !== null) return this.responder(this.entry.message, body, options);
    return this.#actions.respond(this.entry.message, body, options);
  }

  progress(value: JsonValue): Promise<void> {
    // To an inbox, progress goes as the broker's own (it uses up no reply grant: the reply
    // does); to another replyTo through a restricted client's checks, as a reply would.
    const responder = this.responder;
    const replyTo = this.entry.message.replyTo;
    const send =
      responder === null || replyTo === null || isInboxSubject(replyTo)
        ? null
        : (body: Body, headers: Record<string, string>) =>
            responder(this.entry.message, body, { headers });
    return this.#actions.progress(this.entry, this.token, value, send);
  }

  /** The reply in a publish span, a child of the deliver span: it stays in the request's trace. */
  #tracedRespond(
    trace: DeliverTrace,
    body: Body,
    options: RespondOptions | undefined,
  ): Promise<void> {
    const { tracing } = trace;
    const started = tracing.startPublish(
      'respond',
      this.replyTo ?? '',
      {
        ...(options?.headers === undefined ? {} : { headers: options.headers }),
        ...(this.correlationId === null ? {} : { correlationId: this.correlationId }),
      },
      bodySizeOf(body),
      trace,
    );
    const headers = started.options?.headers;
    return tracing.traced(
      started.span,
      this.#reply(body, headers === undefined ? options : { ...options, headers }),
      (span) => tracing.endPublish(span, null, null),
    );
  }

  traceContext(): TraceContext | null {
    if (this.trace !== null) return traceContextOfSpan(this.trace.spanContext);
    return traceContextOf(this.headers);
  }
}
