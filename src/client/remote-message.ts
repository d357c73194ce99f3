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
  type Body,
  type Headers,
  type Message,
  type NackOptions,
  type PublishOptions,
  type PublishReceipt,
  type RespondOptions,
} from '../protocol/index.js';

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
  taken(): void {
    if (this.#settler === null) return;
    // A failure (the consumer closed, the delivery passed back) leaves nothing to do here:
    // the message's own settles report it.
    this.#settler.settle(this, 'take', Number.NaN, null).catch(() => undefined);
  }

  ack(): Promise<void> {
    this.#acked ??= this.#settle('ack', null, () => Number.NaN);
    return this.#acked;
  }

  nack(options?: NackOptions): Promise<void> {
    const delayMs: unknown = options?.delayMs;
    return this.#settle('nack', null, () =>
      delayMs === undefined ? Number.NaN : checkIntegerIn(delayMs, 'delayMs', 0, LEASE_MS_MAX),
    );
  }

  term(reason?: string): Promise<void> {
    const given: unknown = reason;
    if (given !== undefined && typeof given !== 'string') {
      return this.#settle('term', null, () => {
        throw new WeirError('INVALID_ARGUMENT', 'reason must be a string');
      });
    }
    return this.#settle('term', reason ?? null, () => Number.NaN);
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
    await this.#responder.publish(this.replyTo, body, {
      ...(this.correlationId !== null ? { correlationId: this.correlationId } : {}),
      ...(options?.headers ? { headers: options.headers } : {}),
    });
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
    let entryValue: number;
    try {
      entryValue = value();
    } catch (error) {
      // The embedded broker finds the delivery settled before it looks at the argument.
      if (this.#finished) return Promise.reject(this.#settledError());
      return rejectWith(error);
    }
    const settled = this.#settler.settle(this, kind, entryValue, reason);
    if (kind === 'extend') return settled;
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
