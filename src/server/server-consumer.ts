/**
 * One consumer on one connection: pumps messages from a broker Subscription to the socket as
 * long as the client has credit, and keeps the delivered-but-unsettled messages so SETTLE
 * entries can find them by (partition, offset) and check their delivery token.
 *
 * Tokens: each delivery gets the next number of this consumer's sequence (u32, never 0). A
 * redelivery of the same message (its lease expired, the broker handed it out again) replaces
 * the older delivery and its token, so a late settle of the older one carries a token that is
 * not current and is refused with MESSAGE_SETTLED, as the embedded broker refuses it.
 *
 * With ack `none` a delivery stays in `#unsettled` until its take, which settles it.
 *
 * Memory: `#unsettled` holds at most one delivery per message the broker has in flight to this
 * consumer (its maxInFlight); the outgoing batch holds at most DELIVER_BATCH_MESSAGES_MAX.
 */
import {
  parseProgressValue,
  type CircuitBreakerState,
  type JsonValue,
  type Message,
  type Subscription,
} from '../protocol/index.js';
import {
  BREAKER_REPORT_TOKEN,
  type DeliveredMessage,
  type SettleEntry,
  type EntryError,
} from '../protocol/frames.js';
import { toWeirError, WeirError } from '../util/index.js';

export interface ConsumerSink {
  /** Queues a delivery (with its token) for the socket; returns false when the socket's buffer is full. */
  deliver(consumerId: number, message: DeliveredMessage, token: number): boolean;
  /** Resolves when the socket can take more. */
  drained(): Promise<void>;
  /** The broker ended the consumer (not the client). */
  ended(consumerId: number, error: WeirError): void;
}

/** A broker Subscription; the in-process one also hands over a waiting delivery without a
 *  promise (Consumer.tryReceive). */
type PumpedSubscription = Subscription & {
  tryReceive?(): Message | null;
  /** Hand deliveries out without starting their leases (Consumer.deferTakes). */
  deferTakes?(): void;
  /** Start the lease of a delivery handed out so; false if it is no longer current. */
  take?(message: Message): boolean;
  /** Hand back a delivery handed out so and never taken, uncounted (Consumer.release). */
  release?(message: Message): boolean;
  /** The SDK's breaker state for this consumer (Consumer.reportBreaker). */
  reportBreaker?(state: CircuitBreakerState, halfOpenCalls: number): void;
};

const BREAKER_STATES: ReadonlySet<string> = new Set(['closed', 'open', 'half-open']);

/** Tokens are u32 on the wire; after the largest the sequence starts again at 1. */
const TOKEN_MAX = 0xffff_ffff;

/** A progress entry's value from its JSON text; INVALID_ARGUMENT when it is none. */
function progressValue(text: string | null): JsonValue {
  if (text === null) throw new WeirError('INVALID_ARGUMENT', 'a progress entry needs a value');
  try {
    return parseProgressValue(text);
  } catch {
    throw new WeirError('INVALID_ARGUMENT', 'the progress value is not JSON');
  }
}

/** The SETTLED entry for a settlement that failed with `error`. */
export function toEntryError(error: unknown): EntryError {
  const weirError = toWeirError(error);
  return { code: weirError.code, message: weirError.message };
}

export class ServerConsumer {
  readonly id: number;
  readonly subscription: PumpedSubscription;
  readonly #sink: ConsumerSink;
  readonly #acknowledges: boolean;
  #credit: number;
  /** Delivered, not settled: per partition, by offset (numbers: no key string per message). */
  readonly #unsettled: Map<number, Message>[] = [];
  /** The token of each unsettled delivery: per partition, by offset, beside `#unsettled`. */
  readonly #tokens: Map<number, number>[] = [];
  /** The token of the last delivery. */
  #lastToken = 0;
  #unsettledCount = 0;
  #pumping = false;
  #closed = false;
  #creditWaiter: (() => void) | null = null;

  constructor(
    id: number,
    subscription: PumpedSubscription,
    credit: number,
    acknowledges: boolean,
    sink: ConsumerSink,
  ) {
    this.id = id;
    this.subscription = subscription;
    this.#credit = credit;
    this.#acknowledges = acknowledges;
    this.#sink = sink;
    // The lease starts when the SDK hands the message to the application (a SETTLE take),
    // not as DELIVER is written: a message in the SDK's buffer holds no lease. With ack
    // `none` the take is what settles it, so one the application never took goes back with
    // the consumer, as embedded, instead of being lost in the SDK's buffer.
    subscription.deferTakes?.();
  }

  get unsettled(): number {
    return this.#unsettledCount;
  }

  /** Deliveries the client still allows before it grants more. */
  get credit(): number {
    return this.#credit;
  }

  start(): void {
    if (this.#pumping) return;
    this.#pumping = true;
    this.#pump().catch((error: unknown) => {
      if (!this.#closed) {
        this.#sink.ended(this.id, toWeirError(error));
      }
    });
  }

  addCredit(credit: number): void {
    this.#credit += credit;
    const waiter = this.#creditWaiter;
    this.#creditWaiter = null;
    waiter?.();
  }

  async #pump(): Promise<void> {
    while (!this.#closed) {
      if (this.#credit <= 0) {
        await new Promise<void>((resolve) => (this.#creditWaiter = resolve));
        continue;
      }
      const message = this.subscription.tryReceive?.() ?? (await this.subscription.receive());
      if (message === null) {
        if (!this.#closed)
          this.#sink.ended(this.id, new WeirError('CLOSED', 'the subscription ended'));
        return;
      }
      if (this.#closed) return; // closing hands it back with the subscription
      this.#credit--;
      const token = (this.#lastToken = this.#lastToken === TOKEN_MAX ? 1 : this.#lastToken + 1);
      const unsettled = (this.#unsettled[message.partition] ??= new Map());
      const sizeBefore = unsettled.size;
      unsettled.set(message.offset, message); // a redelivery replaces the older delivery
      (this.#tokens[message.partition] ??= new Map()).set(message.offset, token);
      this.#unsettledCount += unsettled.size - sizeBefore;
      const writable = this.#sink.deliver(this.id, message, token);
      if (!writable) await this.#sink.drained();
    }
  }

  /**
   * Applies one settle entry: an error (or null: nothing to wait for), or the promise of the
   * broker recording it durably, which rejects with the error. Acks of one batch share the
   * journal's promise, so the caller waits for each distinct promise once.
   */
  settle(entry: SettleEntry): EntryError | Promise<void> {
    if (entry.kind === 'release' && entry.token === BREAKER_REPORT_TOKEN)
      return this.#breakerReport(entry);
    const unsettled = this.#unsettled[entry.partition];
    const message = unsettled?.get(entry.offset);
    if (!message) {
      return {
        code: 'MESSAGE_SETTLED',
        message: `no unsettled delivery at ${entry.partition}:${entry.offset} on this consumer`,
      };
    }
    const tokens = this.#tokens[entry.partition]!;
    if (tokens.get(entry.offset) !== entry.token) {
      return {
        code: 'MESSAGE_SETTLED',
        message: `message ${entry.partition}/${entry.offset} was delivered again since delivery ${entry.token}`,
      };
    }
    if (!this.#acknowledges) return this.#takeUnacknowledged(entry, message);
    try {
      if (entry.kind === 'take') {
        if (this.subscription.take === undefined || this.subscription.take(message)) return null;
        return {
          code: 'MESSAGE_SETTLED',
          message: `message ${entry.partition}/${entry.offset} was settled or passed back`,
        };
      }
      if (entry.kind === 'extend')
        return message.extend(Number.isNaN(entry.value) ? undefined : entry.value);
      if (entry.kind === 'progress') return message.progress(progressValue(entry.reason));
      if (entry.kind === 'release') {
        if (this.subscription.release === undefined || !this.subscription.release(message)) {
          return {
            code: 'MESSAGE_SETTLED',
            message: `message ${entry.partition}/${entry.offset} was taken or passed back`,
          };
        }
        unsettled!.delete(entry.offset);
        tokens.delete(entry.offset);
        this.#unsettledCount--;
        return null;
      }
      unsettled!.delete(entry.offset);
      tokens.delete(entry.offset);
      this.#unsettledCount--;
      switch (entry.kind) {
        case 'ack':
          return message.ack();
        case 'nack':
          return message.nack(Number.isNaN(entry.value) ? {} : { delayMs: entry.value });
        case 'term':
          return message.term(entry.reason ?? undefined);
      }
    } catch (error) {
      return toEntryError(error);
    }
  }

  /** A `release` entry with token 0: the SDK's breaker changed state. */
  #breakerReport(entry: SettleEntry): EntryError | null {
    const state = entry.reason;
    if (state === null || !BREAKER_STATES.has(state)) {
      return { code: 'INVALID_ARGUMENT', message: `unknown breaker state ${String(state)}` };
    }
    const halfOpenCalls = Number.isSafeInteger(entry.value) && entry.value > 0 ? entry.value : 1;
    this.subscription.reportBreaker?.(state as CircuitBreakerState, halfOpenCalls);
    return null;
  }

  /**
   * The delivery a TX_COMMIT ack entry names, if it is this consumer's current one (the
   * transaction then checks it is still in flight); otherwise the MESSAGE_SETTLED why not.
   */
  transactionMessage(entry: {
    readonly partition: number;
    readonly offset: number;
    readonly token: number;
  }): Message | WeirError {
    const message = this.#unsettled[entry.partition]?.get(entry.offset);
    if (!message || this.#closed) {
      return new WeirError(
        'MESSAGE_SETTLED',
        `no unsettled delivery at ${entry.partition}:${entry.offset} on this consumer`,
      );
    }
    if (this.#tokens[entry.partition]!.get(entry.offset) !== entry.token) {
      return new WeirError(
        'MESSAGE_SETTLED',
        `message ${entry.partition}/${entry.offset} was delivered again since delivery ${entry.token}`,
      );
    }
    if (!this.#acknowledges) {
      return new WeirError(
        'MESSAGE_SETTLED',
        `message ${entry.partition}/${entry.offset} is settled as it is taken (ack: 'none')`,
      );
    }
    return message;
  }

  /** A committed transaction acked the delivery: it is settled, nothing more settles it here. */
  settledByTransaction(partition: number, offset: number, token: number): void {
    const tokens = this.#tokens[partition];
    if (tokens?.get(offset) !== token) return; // delivered again meanwhile
    tokens.delete(offset);
    this.#unsettled[partition]!.delete(offset);
    this.#unsettledCount--;
  }

  /**
   * ack `none`: the take settles the delivery (the broker counts it acked as it reaches the
   * application); anything else was settled by that take, as embedded says.
   */
  #takeUnacknowledged(entry: SettleEntry, message: Message): EntryError | null {
    if (entry.kind !== 'take') {
      return {
        code: 'MESSAGE_SETTLED',
        message: `message ${entry.partition}/${entry.offset} is settled as it is taken (ack: 'none')`,
      };
    }
    this.#unsettled[entry.partition]!.delete(entry.offset);
    this.#tokens[entry.partition]!.delete(entry.offset);
    this.#unsettledCount--;
    if (this.subscription.take === undefined || this.subscription.take(message)) return null;
    return {
      code: 'MESSAGE_SETTLED',
      message: `message ${entry.partition}/${entry.offset} was passed back before it was taken`,
    };
  }

  /** Stops pumping and closes the broker subscription, which hands unsettled leases back. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#unsettled.length = 0;
    this.#tokens.length = 0;
    this.#unsettledCount = 0;
    const waiter = this.#creditWaiter;
    this.#creditWaiter = null;
    waiter?.();
    await this.subscription.close();
  }
}
