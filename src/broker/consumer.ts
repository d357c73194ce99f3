/**
 * One consumer of a subscription: what `subscribe` returns. It holds at most `maxInFlight`
 * unsettled deliveries (its credit); the subscription hands it messages only while it has
 * credit, which is the backpressure: a consumer that does not read stops getting messages.
 * Deliveries wait in a buffer until `receive` / the iterator takes them; the lease starts at
 * the take (a buffered delivery holds none and goes back uncounted when the consumer leaves).
 * A delivery passed back meanwhile (seek) is skipped when taken.
 *
 * Concurrency: any number of receive() calls may wait at once (bounded); they are served in
 * call order.
 */
import {
  CircuitBreaker,
  type CircuitBreakerSettings,
  type CircuitBreakerState,
  type Message,
  type ReceiveOptions,
  type Subscription,
} from '../protocol/index.js';
import { CONSUMER_RECEIVES_MAX, REQUEST_TIMEOUT_MS_MAX } from '../limits.js';
import { WeirError, type Clock } from '../util/index.js';
import type { DeliveredMessage } from './delivery.js';
import type { Entry, EntryHolder } from './partition-cursor.js';
import { integerIn, rejection } from './option-checks.js';
import type { Tracing } from '../protocol/tracing.js';

/** What a consumer needs from its subscription. */
export interface ConsumerHost {
  /** Takes the consumer out of the subscription, handing its unsettled deliveries back. */
  removeConsumer(consumer: Consumer): void;
  /** Called as a delivery is handed to user code; false if it is no longer current. */
  take(message: DeliveredMessage): boolean;
  /**
   * Hands back deliveries user code never took, uncounted (their delivery count as before
   * they were delivered), for other consumers; returns how many went back.
   */
  handBack(messages: readonly DeliveredMessage[]): number;
  /** The consumer may take more again (its breaker half-opened or closed). */
  resumed(consumer: Consumer): void;
}

interface Receiver {
  readonly resolve: (message: Message | null) => void;
  timer: NodeJS.Timeout | null;
}

export class Consumer implements Subscription, EntryHolder {
  readonly id: number;
  readonly stream: string;
  readonly name: string;
  readonly maxInFlight: number;
  /** Deliveries this consumer holds unsettled (buffered or taken). */
  inFlight = 0;
  readonly entries = new Set<Entry>();
  readonly #host: ConsumerHost;
  #buffer: DeliveredMessage[] = [];
  #head = 0;
  readonly #receivers: Receiver[] = [];
  #closed = false;
  #defersTakes = false;
  readonly #onClose: (consumer: Consumer) => void;
  readonly #delivered: ((message: DeliveredMessage) => void) | null;
  /** Its own circuit breaker (embedded), or null. */
  readonly #breaker: CircuitBreaker | null;
  /** The state a remote consumer's breaker reported (the SDK runs it), or null. */
  #reportedBreaker: CircuitBreakerState | null = null;
  /** The most deliveries it may hold now (its breaker's say), or null: maxInFlight. */
  #limit: number | null = null;
  /** Deliver spans, made as user code takes a message; null: none (one check per take). */
  readonly #tracing: Tracing | null;

  constructor(options: {
    id: number;
    stream: string;
    name: string;
    maxInFlight: number;
    host: ConsumerHost;
    onClose: (consumer: Consumer) => void;
    /** Told of each delivery as it is pushed (reply grants of a restricted client). */
    delivered?: ((message: DeliveredMessage) => void) | null;
    /** A circuit breaker for this consumer, run on `clock`. */
    circuitBreaker?: CircuitBreakerSettings | null;
    clock?: Clock;
    /** Deliver and settle spans (null: none; the server's consumers leave them to the SDK). */
    tracing?: Tracing | null;
  }) {
    this.id = options.id;
    this.stream = options.stream;
    this.name = options.name;
    this.maxInFlight = options.maxInFlight;
    this.#host = options.host;
    this.#onClose = options.onClose;
    this.#delivered = options.delivered ?? null;
    const settings = options.circuitBreaker ?? null;
    this.#breaker =
      settings === null || options.clock === undefined
        ? null
        : new CircuitBreaker(settings, options.clock, (state) => this.#breakerChanged(state));
    this.#tracing = options.tracing ?? null;
  }

  get credit(): number {
    if (this.#closed) return 0;
    const most = this.#limit === null ? this.maxInFlight : Math.min(this.maxInFlight, this.#limit);
    return Math.max(0, most - this.inFlight);
  }

  /** Its circuit breaker's state (its own, or what its remote consumer reported); null: none. */
  get breakerState(): CircuitBreakerState | null {
    return this.#breaker?.state ?? this.#reportedBreaker;
  }

  /** A delivery it held was settled: `success` an ack, else a nack, term or lease expiry. */
  outcome(success: boolean): void {
    this.#breaker?.record(success);
  }

  /**
   * What the remote consumer's breaker (the SDK's) is now, with the deliveries it may hold in
   * half-open: the server passes it on so that this side stops filling and hands back alike.
   */
  reportBreaker(state: CircuitBreakerState, halfOpenCalls: number): void {
    if (this.#breaker !== null || this.#closed) return;
    this.#reportedBreaker = state;
    this.#apply(state, state === 'half-open' ? Math.max(1, halfOpenCalls) : null);
  }

  #breakerChanged(state: CircuitBreakerState): void {
    if (this.#closed) return;
    this.#apply(state, this.#breaker!.limit);
  }

  #apply(state: CircuitBreakerState, halfOpenLimit: number | null): void {
    if (state === 'open') {
      this.#limit = 0;
      // What waits in the buffer was never taken: back to the others, uncounted.
      const waiting = this.#buffer.slice(this.#head).filter((message) => message.current);
      this.#buffer = [];
      this.#head = 0;
      this.#host.handBack(waiting);
      return;
    }
    this.#limit = state === 'half-open' ? halfOpenLimit : null;
    this.#host.resumed(this);
  }

  /** Hands back one delivery handed out under deferTakes and never taken (SETTLE release). */
  release(message: Message): boolean {
    const delivered = message as DeliveredMessage;
    if (this.#closed || !this.entries.has(delivered.entry) || delivered.entry.taken) return false;
    if (!delivered.current) return false;
    return this.#host.handBack([delivered]) === 1;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Called by the subscription with a new delivery (only while the consumer has credit). */
  push(message: DeliveredMessage): void {
    if (this.#delivered !== null) this.#delivered(message);
    while (this.#receivers.length > 0) {
      const receiver = this.#receivers.shift()!;
      if (receiver.timer) clearTimeout(receiver.timer);
      if (this.#takeOrCheck(message)) {
        receiver.resolve(message);
        return;
      }
      // Not current any more (cannot happen synchronously after a delivery, but be safe).
      this.#receivers.unshift(receiver);
      return;
    }
    this.#buffer.push(message);
    // Stale deliveries (leases that passed back) would otherwise pile up in an unread buffer.
    if (this.#buffer.length - this.#head > 2 * this.maxInFlight) this.#compact();
  }

  #compact(): void {
    this.#buffer = this.#buffer.slice(this.#head).filter((message) => message.current);
    this.#head = 0;
  }

  #next(): Message | null {
    while (this.#head < this.#buffer.length) {
      const message = this.#buffer[this.#head]!;
      this.#buffer[this.#head++] = undefined as unknown as DeliveredMessage;
      if (this.#head === this.#buffer.length) {
        this.#buffer.length = 0;
        this.#head = 0;
      } else if (this.#head >= 1024 && this.#head * 2 >= this.#buffer.length) {
        this.#buffer = this.#buffer.slice(this.#head);
        this.#head = 0;
      }
      if (this.#takeOrCheck(message)) return message;
    }
    return null;
  }

  #takeOrCheck(message: DeliveredMessage): boolean {
    if (this.#defersTakes) return message.current;
    if (!this.#host.take(message)) return false;
    // Handed to user code: the deliver span, parent of the message's settles and replies.
    if (this.#tracing !== null) message.trace = this.#tracing.deliver(message, this.name);
    return true;
  }

  /**
   * From now on receive / tryReceive hand deliveries out without taking them (no lease
   * starts); the caller takes each with `take` when its own user code receives it. The TCP
   * server does this: the SDK buffers deliveries and says when the application took one.
   */
  deferTakes(): void {
    this.#defersTakes = true;
  }

  /** Takes a delivery handed out under deferTakes (its lease starts); false if not current. */
  take(message: Message): boolean {
    const delivered = message as DeliveredMessage;
    if (this.#closed || !this.entries.has(delivered.entry)) return false;
    return this.#host.take(delivered);
  }

  /** A delivery already waiting, without a promise; null when none waits (or closed). */
  tryReceive(): Message | null {
    return this.#closed ? null : this.#next();
  }

  receive(options?: ReceiveOptions): Promise<Message | null> {
    // Checked first, and refused as a rejection: the same whether a message waits or not, and
    // the same as over the network.
    let timeoutMs: number | null;
    try {
      timeoutMs =
        options?.timeoutMs === undefined
          ? null
          : integerIn(options.timeoutMs, 'timeoutMs', 0, REQUEST_TIMEOUT_MS_MAX);
    } catch (error) {
      return rejection(error);
    }
    if (this.#closed) return Promise.resolve(null);
    const message = this.#next();
    if (message) return Promise.resolve(message);
    if (timeoutMs === 0) return Promise.resolve(null);
    if (this.#receivers.length >= CONSUMER_RECEIVES_MAX) {
      return Promise.reject(
        new WeirError('LIMIT_EXCEEDED', `more than ${CONSUMER_RECEIVES_MAX} receive() calls wait`),
      );
    }
    return new Promise((resolve) => {
      const receiver: Receiver = { resolve, timer: null };
      if (timeoutMs !== null) {
        receiver.timer = setTimeout(() => {
          const index = this.#receivers.indexOf(receiver);
          if (index >= 0) this.#receivers.splice(index, 1);
          resolve(null);
        }, timeoutMs);
      }
      this.#receivers.push(receiver);
    });
  }

  [Symbol.asyncIterator](): AsyncIterator<Message> {
    return {
      next: async (): Promise<IteratorResult<Message>> => {
        const message = await this.receive();
        return message ? { value: message, done: false } : { value: undefined, done: true };
      },
      return: async (): Promise<IteratorResult<Message>> => {
        await this.close();
        return { value: undefined, done: true };
      },
    };
  }

  /** Hands unsettled deliveries back to the subscription and ends the iteration. */
  close(): Promise<void> {
    if (this.#closed) return Promise.resolve();
    this.#closed = true; // no credit from here on: nothing is delivered to it again
    this.#host.removeConsumer(this);
    this.#finish();
    return Promise.resolve();
  }

  /** Ends the consumer without handing anything back (its subscription is going away). */
  end(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#finish();
  }

  #finish(): void {
    this.#breaker?.stop();
    this.#buffer = [];
    this.#head = 0;
    for (const receiver of this.#receivers.splice(0)) {
      if (receiver.timer) clearTimeout(receiver.timer);
      receiver.resolve(null);
    }
    this.#onClose(this);
  }
}
