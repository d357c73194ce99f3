/**
 * A message received over the network (DELIVER or REPLY), implementing api.ts `Message`.
 *
 * `body` is a view into the bytes the frame arrived in, not a copy: the transport hands over
 * each chunk for good, and a frame the decoder had to reassemble is copied once by the client
 * before its messages are read (network-client.ts). A kept message therefore keeps its chunk
 * (at most a socket read or one frame) alive; the credit window bounds how many are kept.
 *
 * Settling goes through a MessageSettler (the consumer the message came on), which batches
 * entries into SETTLE frames; a reply has no settler, and a delivery of an ack `none`
 * subscription sends only its take (which settles it on the server).
 */
import { LEASE_MS_MAX } from '../limits.js';
import type { DeliveredMessage, SettleKind } from '../protocol/frames.js';
import { checkIntegerIn, rejectWith } from './argument-checks.js';
import {
  WeirError,
  progressValueText,
  type Body,
  type Headers,
  type JsonValue,
  type Message,
  type NackOptions,
  type PublishOptions,
  type PublishReceipt,
  type RespondOptions,
  type TraceContext,
} from '../protocol/index.js';
import { traceContextOf } from '../protocol/trace-context.js';
import {
  bodySizeOf,
  traceContextOfSpan,
  type DeliverTrace,
  type Tracing,
} from '../protocol/tracing.js';

const decoder = new TextDecoder();

export interface MessageSettler {
  /** Queues one settle entry; resolves once the server recorded it (SETTLED). */
  settle(
    message: RemoteMessage,
    kind: SettleKind,
    value: number,
    reason: string | null,
  ): Promise<void>;
}

export interface MessageResponder {
  publish(subject: string, body: Body, options?: PublishOptions): Promise<PublishReceipt>;
  /** publish() without a publish span of its own (a traced reply makes its own). */
  publishUntraced(subject: string, body: Body, options?: PublishOptions): Promise<PublishReceipt>;
  /** The client's deliver, settle and reply spans; null: none. */
  readonly tracing: Tracing | null;
}

export class RemoteMessage implements Message {
  readonly subject: string;
  readonly key: string | null;
  readonly headers: Headers;
  readonly body: Uint8Array;
  readonly stream: string;
  readonly partition: number;
  readonly offset: number;
  readonly id: string | null;
  readonly deliveryCount: number;
  readonly timestamp: number;
  readonly priority: number;
  readonly replyTo: string | null;
  readonly correlationId: string | null;
  /** The server's token for this delivery (DELIVER gives it, every SETTLE entry carries it back). */
  readonly deliveryToken: number;
  readonly #settler: MessageSettler | null;
  /** False for ack `none`: the take settles it, and nothing else may. */
  readonly #acknowledges: boolean;
  readonly #responder: MessageResponder;
  /** The first ack: acking twice is not an error, the second ack gets the first's outcome. */
  #acked: Promise<void> | null = null;
  /** An ack, nack or term of this delivery was recorded: nothing more can settle it. */
  #finished = false;
  /** Told how the delivery ended (the subscription's circuit breaker), once; or null. */
  #observer: ((success: boolean) => void) | null = null;
  /** The deliver span made when the application took it; null: not traced. */
  #trace: DeliverTrace | null = null;

  /** `stream` null: a reply, which has no place in a stream ('' / -1 / -1) and token 0. */
  constructor(
    delivered: DeliveredMessage,
    deliveryToken: number,
    stream: string | null,
    settler: MessageSettler | null,
    responder: MessageResponder,
    acknowledges = true,
  ) {
    this.subject = delivered.subject;
    this.key = delivered.key;
    this.headers = delivered.headers;
    this.body = delivered.body;
    this.stream = stream ?? '';
    this.partition = stream === null ? -1 : delivered.partition;
    this.offset = stream === null ? -1 : delivered.offset;
    this.id = delivered.id;
    this.deliveryCount = delivered.deliveryCount;
    this.timestamp = delivered.timestamp;
    this.priority = delivered.priority;
    this.replyTo = delivered.replyTo;
    this.correlationId = delivered.correlationId;
    this.deliveryToken = deliveryToken;
    this.#settler = settler;
    this.#acknowledges = acknowledges;
    this.#responder = responder;
  }

  /** The consumer it came on (a transaction's ack names it); null for a reply. */
  get settler(): MessageSettler | null {
    return this.#settler;
  }

  /** Whether a settlement of it can still be sent (not ack `none`, not settled yet). */
  get settleable(): boolean {
    return this.#settler !== null && this.#acknowledges && !this.#finished;
  }

  /** A committed transaction acked it: a later ack resolves, as embedded; nothing else settles it. */
  settledByTransaction(): void {
    this.#acked ??= Promise.resolve();
    this.#finished = true;
  }

  text(): string {
    return decoder.decode(this.body);
  }

  json<T = unknown>(): T {
    return JSON.parse(this.text()) as T;
  }

  /**
   * The application received it: tells the server (batched with the settles, not waited on)
   * so that its lease starts now, not when it reached the SDK's buffer. With ack `none` the
   * take is what settles it on the server: one still in the SDK's buffer goes back when the
   * consumer leaves, as embedded.
   */
  taken(subscription: string): void {
    if (this.#settler === null) return;
    const tracing = this.#responder.tracing;
    if (tracing !== null) this.#trace = tracing.deliver(this, subscription);
    // A failure (the consumer closed, the delivery passed back) leaves nothing to do here:
    // the message's own settles report it.
    this.#settler.settle(this, 'take', Number.NaN, null).catch(() => undefined);
  }

  /**
   * `observer` hears how this delivery ends, once: an ack that is recorded is a success; a
   * nack, a term, or an ack refused with MESSAGE_SETTLED (the lease ran out: the broker gave
   * the message to another) is a failure.
   */
  observe(observer: (success: boolean) => void): void {
    this.#observer = observer;
  }

  #observed(success: boolean): void {
    const observer = this.#observer;
    this.#observer = null;
    observer?.(success);
  }

  ack(): Promise<void> {
    if (this.#acked === null) {
      this.#acked =
        this.#trace === null
          ? this.#settle('ack', null, () => Number.NaN)
          : this.#traced(this.#trace, 'ack', () => this.#settle('ack', null, () => Number.NaN));
      if (this.#observer !== null) {
        this.#acked.then(
          () => this.#observed(true),
          (error: unknown) => {
            if (error instanceof WeirError && error.code === 'MESSAGE_SETTLED')
              this.#observed(false);
          },
        );
      }
    }
    return this.#acked;
  }

  nack(options?: NackOptions): Promise<void> {
    const delayMs: unknown = options?.delayMs;
    const value = () =>
      delayMs === undefined ? Number.NaN : checkIntegerIn(delayMs, 'delayMs', 0, LEASE_MS_MAX);
    const settled =
      this.#trace === null
        ? this.#settle('nack', null, value)
        : this.#traced(this.#trace, 'nack', () => this.#settle('nack', null, value));
    if (this.#observer !== null && !this.#finished) this.#observed(false);
    return settled;
  }

  /** Records progress and extends the lease (SETTLE kind 7); resolves once the server has it. */
  progress(value: JsonValue): Promise<void> {
    if (this.#settler === null && this.partition < 0) {
      return Promise.reject(new WeirError('INVALID_ARGUMENT', 'a reply has no progress to report'));
    }
    let text: string;
    try {
      text = progressValueText(value);
    } catch (error) {
      return rejectWith(error);
    }
    return this.#settle('progress', text, () => Number.NaN);
  }

  /**
   * Hands the delivery back untaken (SETTLE kind 6, release): its circuit breaker opened
   * before the application received it. Nobody waits on it.
   */
  release(): void {
    if (this.#settler === null || !this.#acknowledges) return;
    this.#settler.settle(this, 'release', Number.NaN, null).catch(() => undefined);
  }

  term(reason?: string): Promise<void> {
    const given: unknown = reason;
    if (given !== undefined && typeof given !== 'string') {
      return this.#settle('term', null, () => {
        throw new WeirError('INVALID_ARGUMENT', 'reason must be a string');
      });
    }
    if (this.#trace === null) return this.#settle('term', reason ?? null, () => Number.NaN);
    return this.#traced(this.#trace, 'term', () =>
      this.#settle('term', reason ?? null, () => Number.NaN),
    );
  }

  /** A settle inside a settle span, a child of the delivery's deliver span. */
  #traced(
    trace: DeliverTrace,
    operation: 'ack' | 'nack' | 'term',
    settle: () => Promise<void>,
  ): Promise<void> {
    return trace.tracing.settle(operation, trace, this, settle);
  }

  traceContext(): TraceContext | null {
    if (this.#trace !== null) return traceContextOfSpan(this.#trace.spanContext);
    return traceContextOf(this.headers);
  }

  extend(ms?: number): Promise<void> {
    const given: unknown = ms;
    return this.#settle('extend', null, () =>
      given === undefined ? Number.NaN : checkIntegerIn(given, 'ms', 1, LEASE_MS_MAX),
    );
  }

  async respond(body: Body, options?: RespondOptions): Promise<void> {
    if (this.replyTo === null) {
      throw new WeirError('INVALID_ARGUMENT', 'the message has no replyTo to respond to');
    }
    const replyOptions: PublishOptions = {
      ...(this.correlationId !== null ? { correlationId: this.correlationId } : {}),
      ...(options?.headers ? { headers: options.headers } : {}),
    };
    const trace = this.#trace;
    if (trace === null) {
      await this.#responder.publish(this.replyTo, body, replyOptions);
      return;
    }
    // The reply's publish span is a child of the deliver span: it stays in the request's
    // trace. The client's publish is told not to make a second one.
    const { tracing } = trace;
    const started = tracing.startPublish(
      'respond',
      this.replyTo,
      replyOptions,
      bodySizeOf(body),
      trace,
    );
    await tracing.traced(
      started.span,
      this.#responder.publishUntraced(this.replyTo, body, started.options),
      (span) => tracing.endPublish(span, null, null),
    );
  }

  /**
   * `value` gives the entry's value, or throws INVALID_ARGUMENT for what the caller gave: NaN
   * on the wire means "the subscription's default", so a NaN (or a string) the caller passed is
   * refused here with the embedded broker's message instead of being sent as that. Checked
   * after the MESSAGE_SETTLED of an ack `none` delivery, as embedded checks it after the
   * delivery is found current.
   */
  #settle(kind: SettleKind, reason: string | null, value: () => number): Promise<void> {
    if (this.#settler === null || !this.#acknowledges) {
      // A reply (partition -1) was never stored: settling it does nothing. A delivery of an
      // `ack: 'none'` subscription was settled when the application took it: ack is a no-op,
      // nack / term / extend are MESSAGE_SETTLED, as embedded.
      if (kind === 'ack' || this.partition < 0) return Promise.resolve();
      return Promise.reject(this.#settledError());
    }
    if (kind === 'term' && this.#observer !== null && !this.#finished) this.#observed(false);
    let entryValue: number;
    try {
      entryValue = value();
    } catch (error) {
      // The embedded broker finds the delivery settled before it looks at the argument.
      if (this.#finished) return Promise.reject(this.#settledError());
      return rejectWith(error);
    }
    const settled = this.#settler.settle(this, kind, entryValue, reason);
    if (kind === 'extend' || kind === 'progress') return settled;
    return settled.then(() => {
      this.#finished = true;
    });
  }

  #settledError(): WeirError {
    return new WeirError(
      'MESSAGE_SETTLED',
      this.#acknowledges
        ? `message ${this.partition}/${this.offset} was already settled`
        : `message ${this.partition}/${this.offset} was settled when taken (ack: 'none')`,
    );
  }
}
