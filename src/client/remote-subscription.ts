/**
 * A subscription over the network, implementing api.ts `Subscription`. It outlives connections:
 * on each new connection the client subscribes again with the same options (a durable
 * subscription resumes where the server has it) and attaches the new consumer id here.
 *
 * Local buffer: messages the server delivered and the application has not taken yet. It never
 * holds more than `window` messages, because the server sends no more than the credit granted
 * (ConsumerAttachment checks) and credit is granted back only for messages taken. When the
 * consumer goes (connection lost, server ended it) the buffer is dropped: the broker hands
 * those messages back and delivers them again.
 *
 * Circuit breaker (SubscribeOptions.circuitBreaker, protocol/circuit-breaker.ts): it runs
 * here, on the SDK's clock (ConnectOptions.clock), fed by how the application settles what it
 * took. When it opens, the subscription grants no more credit, hands back (SETTLE release)
 * every buffered message and every one that arrives meanwhile, and reports the state to the
 * server (a release entry with token 0), whose consumer then stops filling; on half-open it
 * reports again (the server holds at most halfOpenCalls for it) and grants credit again.
 *
 * Concurrency: any number of receive() calls may wait at once (at most CONSUMER_RECEIVES_MAX);
 * messages go to them in call order.
 */
import {
  CLIENT_CONSUMER_CREDIT_MAX,
  CONSUMER_RECEIVES_MAX,
  IN_FLIGHT_DEFAULT,
  REQUEST_TIMEOUT_MS_MAX,
} from '../limits.js';
import type { DeliveredMessage } from '../protocol/frames.js';
import {
  CircuitBreaker,
  WeirError,
  checkCircuitBreaker,
  type CircuitBreakerState,
  type Message,
  type ReceiveOptions,
  type SubscribeOptions,
  type Subscription,
} from '../protocol/index.js';
import { checkIntegerIn, rejectWith, toArgumentsJson } from './argument-checks.js';
import type { ConsumerAttachment } from './consumer-attachment.js';
import { FifoQueue } from './fifo-queue.js';
import { RemoteMessage, type MessageResponder } from './remote-message.js';
import type { Clock } from '../util/index.js';

/** setTimeout takes at most this; a longer receive timeout waits without a timer. */
const TIMER_MS_MAX = 2 ** 31 - 1;

export interface SubscriptionHost extends MessageResponder {
  /** The subscription ended: stop re-creating it on new connections. */
  forget(subscription: RemoteSubscription): void;
  /** The clock the circuit breaker's cool-down runs on. */
  readonly clock: Clock;
}

interface Waiter {
  readonly resolve: (message: Message | null) => void;
  timer: ReturnType<typeof setTimeout> | null;
}

export class RemoteSubscription implements Subscription {
  readonly stream: string;
  readonly options: SubscribeOptions;
  /** The options as sent in every SUBSCRIBE. */
  readonly optionsJson: string;
  /** Credit granted with SUBSCRIBE: the most messages buffered here. */
  readonly window: number;
  readonly #acknowledges: boolean;
  readonly #host: SubscriptionHost;
  #name = '';
  #closed = false;
  #attachment: ConsumerAttachment | null = null;
  readonly #buffer = new FifoQueue<RemoteMessage>();
  readonly #waiters = new Set<Waiter>();
  #graceTimer: ReturnType<typeof setTimeout> | null = null;
  readonly #breaker: CircuitBreaker | null;

  constructor(host: SubscriptionHost, stream: string, options: SubscribeOptions) {
    this.#host = host;
    this.stream = stream;
    this.options = options;
    // The breaker is this consumer's, run here: the server hears only its state.
    const { circuitBreaker, ...serverOptions } = options;
    this.#breaker =
      circuitBreaker === undefined
        ? null
        : new CircuitBreaker(checkCircuitBreaker(circuitBreaker), host.clock, (state) =>
            this.#breakerChanged(state),
          );
    this.optionsJson = toArgumentsJson(serverOptions, 'the subscribe options');
    const maxInFlight =
      typeof options.maxInFlight === 'number' ? options.maxInFlight : IN_FLIGHT_DEFAULT;
    this.window = Math.max(1, Math.min(Math.floor(maxInFlight) || 1, CLIENT_CONSUMER_CREDIT_MAX));
    this.#acknowledges = options.ack !== 'none';
  }

  /** The durable name, or the server-generated one of an ephemeral subscription (new per connection). */
  get name(): string {
    return this.#name;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** The circuit breaker's state, or null without one. */
  get breakerState(): CircuitBreakerState | null {
    return this.#breaker?.state ?? null;
  }

  #breakerChanged(state: CircuitBreakerState): void {
    const attachment = this.#attachment;
    if (this.#closed || attachment === null) return;
    this.#tellServer(attachment, state);
    if (state === 'open') {
      for (const message of this.#buffer.takeAll()) this.#handBack(attachment, message);
    }
  }

  #tellServer(attachment: ConsumerAttachment, state: CircuitBreakerState): void {
    // The report goes first: the server's consumer stops filling before the hand-backs come.
    attachment.reportBreaker(state, this.#breaker!.settings.halfOpenCalls);
    attachment.setPaused(state === 'open');
  }

  /** A delivery the application never took goes back uncounted; its credit comes back later. */
  #handBack(attachment: ConsumerAttachment, message: RemoteMessage): void {
    message.release();
    attachment.taken();
  }

  /** A new server consumer (after SUBSCRIBED). */
  attach(attachment: ConsumerAttachment, name: string): void {
    if (this.#graceTimer) clearTimeout(this.#graceTimer);
    this.#graceTimer = null;
    this.#attachment = attachment;
    this.#name = name;
    // The server shows the consumer's breaker from the start (and again after a reconnect).
    if (this.#breaker !== null) this.#tellServer(attachment, this.#breaker.state);
  }

  /** Messages of one DELIVER to `attachment`, with their delivery tokens. */
  push(
    attachment: ConsumerAttachment,
    delivered: readonly DeliveredMessage[],
    tokens: readonly number[],
  ): void {
    // Closing: the server takes these back with UNSUBSCRIBE.
    if (attachment !== this.#attachment || this.#closed) return;
    const breaker = this.#breaker;
    for (let index = 0; index < delivered.length; index++) {
      const message = new RemoteMessage(
        delivered[index]!,
        tokens[index]!,
        this.stream,
        attachment,
        this.#host,
        this.#acknowledges,
      );
      if (breaker !== null) {
        if (breaker.state === 'open') {
          // Sent before the server heard the breaker opened: straight back.
          this.#handBack(attachment, message);
          continue;
        }
        message.observe((success) => breaker.record(success));
      }
      const waiter = this.#firstWaiter();
      if (waiter) {
        attachment.taken();
        message.taken(this.#name);
        waiter.resolve(message);
      } else {
        this.#buffer.push(message);
      }
    }
  }

  /** The consumer is gone with its connection: drop what it buffered (redelivered later). */
  detached(attachment: ConsumerAttachment): void {
    if (attachment !== this.#attachment) return;
    this.#attachment = null;
    this.#buffer.takeAll();
  }

  /**
   * The server ended the consumer. CLOSED may mean the server is going away (then the
   * connection drops and the next one re-creates the consumer); if the connection is still up
   * after `graceMs`, the end is for good. Any other code (stream or subscription deleted) ends
   * the subscription now.
   */
  serverClosed(attachment: ConsumerAttachment, error: WeirError, graceMs: number): void {
    if (attachment !== this.#attachment) return;
    this.detached(attachment);
    if (error.code !== 'CLOSED') {
      this.end();
      return;
    }
    this.#graceTimer = setTimeout(() => {
      this.#graceTimer = null;
      if (this.#attachment === null && attachment.connection.isOpen) this.end();
    }, graceMs);
    this.#graceTimer.unref();
  }

  receive(options?: ReceiveOptions): Promise<Message | null> {
    const timeoutMs = options?.timeoutMs;
    try {
      if (timeoutMs !== undefined)
        checkIntegerIn(timeoutMs, 'timeoutMs', 0, REQUEST_TIMEOUT_MS_MAX);
    } catch (error) {
      return rejectWith(error);
    }
    const message = this.#buffer.shift();
    if (message) {
      this.#attachment?.taken();
      message.taken(this.#name);
      return Promise.resolve(message);
    }
    if (this.#closed || timeoutMs === 0) return Promise.resolve(null);
    if (this.#waiters.size >= CONSUMER_RECEIVES_MAX) {
      return Promise.reject(
        new WeirError(
          'LIMIT_EXCEEDED',
          `${CONSUMER_RECEIVES_MAX} receive() calls are already waiting`,
        ),
      );
    }
    return new Promise<Message | null>((resolve) => {
      const waiter: Waiter = { resolve, timer: null };
      if (timeoutMs !== undefined && timeoutMs <= TIMER_MS_MAX) {
        waiter.timer = setTimeout(() => {
          this.#waiters.delete(waiter);
          resolve(null);
        }, timeoutMs);
      }
      this.#waiters.add(waiter);
    });
  }

  [Symbol.asyncIterator](): AsyncIterator<Message> {
    return {
      next: async (): Promise<IteratorResult<Message>> => {
        const message = await this.receive();
        return message ? { value: message, done: false } : { value: undefined, done: true };
      },
      // Leaving a for-await loop closes the subscription, handing unsettled messages back.
      return: async (): Promise<IteratorResult<Message>> => {
        await this.close();
        return { value: undefined, done: true };
      },
    };
  }

  /** Ends the subscription and closes its consumer on the server (after its queued settles). */
  async close(): Promise<void> {
    if (this.#closed) return;
    const attachment = this.#attachment;
    this.end();
    if (attachment?.live) await attachment.close();
  }

  /** Ends it here: waiting receives get null, buffered messages are dropped. */
  end(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#breaker?.stop();
    if (this.#graceTimer) clearTimeout(this.#graceTimer);
    this.#graceTimer = null;
    this.#attachment = null;
    this.#buffer.takeAll();
    for (const waiter of this.#waiters) {
      if (waiter.timer) clearTimeout(waiter.timer);
      waiter.resolve(null);
    }
    this.#waiters.clear();
    this.#host.forget(this);
  }

  #firstWaiter(): Waiter | undefined {
    for (const waiter of this.#waiters) {
      this.#waiters.delete(waiter);
      if (waiter.timer) clearTimeout(waiter.timer);
      return waiter;
    }
    return undefined;
  }
}
