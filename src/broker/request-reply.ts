/**
 * Request-reply: each client has an inbox subject `_INBOX.<random>`. `request` publishes
 * with replyTo = the inbox and a fresh correlationId, and waits (with a timeout) for the
 * reply that carries it. Replies to an inbox are handed over in memory, never stored; a reply
 * that comes after its request gave up is dropped.
 *
 * Both the inbox's random part and each correlation id come from the crypto generator, so
 * that no one can guess where to send a forged reply (issue 13: the inbox used to be the
 * client id and the correlation id a counter). A client that is not admin can publish to an
 * inbox only as the reply to a request it was delivered (reply-grants.ts), which the random
 * names back up: a forged reply would need both the grant and the names.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import {
  progressOf,
  type Body,
  type Headers,
  type JsonValue,
  type Message,
  type ProgressInfo,
  type TraceContext,
} from '../protocol/index.js';
import { traceContextOf } from '../protocol/trace-context.js';
import { CLIENT_REQUESTS_PENDING_MAX, INBOX_RANDOM_BYTES } from '../limits.js';
import { assert, WeirError, type Clock, type Timer } from '../util/index.js';
import { parseJson } from './delivery.js';
import {
  decodeMessage,
  decodeText,
  type EncodedMessage,
  type StoredMessage,
} from './message-codec.js';
import { INBOX_PREFIX } from './subject.js';

/** A reply as the requester gets it: settling it does nothing (it was never stored). */
class ReplyMessage implements Message {
  readonly #message: StoredMessage;

  constructor(message: StoredMessage) {
    this.#message = message;
  }

  get subject(): string {
    return this.#message.subject;
  }
  get key(): string | null {
    return this.#message.key;
  }
  get headers(): Headers {
    return this.#message.headers;
  }
  get body(): Uint8Array {
    return this.#message.body;
  }
  get id(): string | null {
    return this.#message.id;
  }
  get timestamp(): number {
    return this.#message.timestamp;
  }
  get priority(): number {
    return this.#message.priority;
  }
  get replyTo(): string | null {
    return this.#message.replyTo;
  }
  get correlationId(): string | null {
    return this.#message.correlationId;
  }
  readonly stream = '';
  readonly partition = -1;
  readonly offset = -1;
  readonly deliveryCount = 1;

  text(): string {
    return decodeText(this.body);
  }
  json<T = unknown>(): T {
    return parseJson<T>(this.body);
  }
  ack(): Promise<void> {
    return Promise.resolve();
  }
  nack(): Promise<void> {
    return Promise.resolve();
  }
  term(): Promise<void> {
    return Promise.resolve();
  }
  traceContext(): TraceContext | null {
    return traceContextOf(this.headers);
  }
  extend(): Promise<void> {
    return Promise.resolve();
  }
  respond(_body: Body): Promise<void> {
    return Promise.reject(new WeirError('INVALID_ARGUMENT', 'a reply cannot be answered'));
  }
  progress(): Promise<void> {
    return Promise.reject(new WeirError('INVALID_ARGUMENT', 'a reply has no progress to report'));
  }
}

/** The progress callback of a request (RequestOptions.onProgress). */
export type ProgressListener = (value: JsonValue, info: ProgressInfo) => void;

interface Pending {
  readonly resolve: (message: Message) => void;
  readonly reject: (error: Error) => void;
  readonly timer: Timer;
  readonly onProgress: ProgressListener | null;
}

export class Inbox {
  readonly subject: string;
  readonly #pending = new Map<string, Pending>();
  readonly #clock: Clock;
  #closed = false;

  constructor(clock: Clock) {
    this.subject = INBOX_PREFIX + randomBytes(INBOX_RANDOM_BYTES).toString('hex');
    this.#clock = clock;
  }

  /** Registers a request; `send` publishes it with the given correlationId. */
  request(
    timeoutMs: number,
    send: (correlationId: string) => Promise<unknown>,
    onProgress: ProgressListener | null = null,
  ): Promise<Message> {
    if (this.#closed) return Promise.reject(new WeirError('CLOSED', 'the client is closed'));
    if (this.#pending.size >= CLIENT_REQUESTS_PENDING_MAX) {
      return Promise.reject(
        new WeirError(
          'LIMIT_EXCEEDED',
          `more than ${CLIENT_REQUESTS_PENDING_MAX} requests wait for replies`,
        ),
      );
    }
    // 122 random bits (a version 4 UUID): a repeat among the pending is as unlikely as a guess.
    const correlationId = randomUUID();
    assert(!this.#pending.has(correlationId), 'correlation ids are unique among the pending');
    const reply = new Promise<Message>((resolve, reject) => {
      const timer = this.#clock.setTimer(timeoutMs, () => {
        this.#pending.delete(correlationId);
        reject(new WeirError('TIMEOUT', `no reply within ${timeoutMs} ms`));
      });
      this.#pending.set(correlationId, { resolve, reject, timer, onProgress });
    });
    // The reply may time out (or the inbox close) before `send` settles: the rejection is
    // observed here at once, so it is never unhandled, and reaches the caller through the
    // chain below. (It used to be observed only after `send`, and a 1 ms timeout on a
    // durable publish crashed the process with an unhandled rejection.)
    reply.catch(() => undefined);
    return send(correlationId).then(
      () => reply,
      (error: unknown) => {
        this.#settle(correlationId);
        throw error;
      },
    );
  }

  /** Hands a reply over; false if nobody waits for it (late, or unknown correlationId). */
  deliver(message: EncodedMessage, now: number): boolean {
    const record = message.record;
    const stored = decodeMessage(
      {
        offset: -1,
        timestamp: now,
        key: record.key ?? null,
        headers: record.headers ?? null,
        body: record.body,
      },
      false,
    );
    if (stored.correlationId === null) return false;
    // Progress (msg.progress of the request) goes to the listener; the request waits on.
    const progress = progressOf(stored.headers, stored.body);
    if (progress !== null) {
      const waiting = this.#pending.get(stored.correlationId);
      if (!waiting) return false;
      if (waiting.onProgress !== null) {
        try {
          waiting.onProgress(progress.value, progress.info);
        } catch {
          // The requester's callback failing is its own affair; the request waits on.
        }
      }
      return true;
    }
    const pending = this.#settle(stored.correlationId);
    if (!pending) return false;
    pending.resolve(new ReplyMessage(stored));
    return true;
  }

  #settle(correlationId: string): Pending | undefined {
    const pending = this.#pending.get(correlationId);
    if (!pending) return undefined;
    pending.timer.cancel();
    this.#pending.delete(correlationId);
    return pending;
  }

  /** Fails every waiting request with CLOSED. */
  close(): void {
    this.#closed = true;
    for (const [correlationId, pending] of [...this.#pending]) {
      this.#settle(correlationId);
      pending.reject(new WeirError('CLOSED', 'the client closed while the request waited'));
    }
  }
}
