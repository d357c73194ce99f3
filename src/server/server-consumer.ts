/**
 * One consumer on one connection: pumps messages from a broker Subscription to the socket as
 * long as the client has credit, and keeps the delivered-but-unsettled messages so SETTLE
 * entries can find them by (partition, offset).
 *
 * Memory: `#unsettled` holds at most the subscription's maxInFlight messages (the broker does
 * not hand out more); the outgoing batch holds at most DELIVER_BATCH_MESSAGES_MAX.
 */
import type { Message, Subscription } from '../protocol/index.js';
import { type DeliveredMessage, type SettleEntry, type EntryError } from '../protocol/frames.js';
import { WeirError, isWeirError } from '../util/index.js';

export interface ConsumerSink {
  /** Queues a delivery for the socket; returns false when the socket's buffer is full. */
  deliver(consumerId: number, message: DeliveredMessage): boolean;
  /** Resolves when the socket can take more. */
  drained(): Promise<void>;
  /** The broker ended the consumer (not the client). */
  ended(consumerId: number, error: WeirError): void;
}

function unsettledKey(partition: number, offset: number): string {
  return `${partition}:${offset}`;
}

export class ServerConsumer {
  readonly id: number;
  readonly subscription: Subscription;
  readonly #sink: ConsumerSink;
  readonly #acknowledges: boolean;
  #credit: number;
  #unsettled = new Map<string, Message>();
  #pumping = false;
  #closed = false;
  #creditWaiter: (() => void) | null = null;

  constructor(
    id: number,
    subscription: Subscription,
    credit: number,
    acknowledges: boolean,
    sink: ConsumerSink,
  ) {
    this.id = id;
    this.subscription = subscription;
    this.#credit = credit;
    this.#acknowledges = acknowledges;
    this.#sink = sink;
  }

  get unsettled(): number {
    return this.#unsettled.size;
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
        this.#sink.ended(
          this.id,
          isWeirError(error) ? error : new WeirError('INTERNAL', String(error)),
        );
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
      const message = await this.subscription.receive();
      if (message === null) {
        if (!this.#closed)
          this.#sink.ended(this.id, new WeirError('CLOSED', 'the subscription ended'));
        return;
      }
      if (this.#closed) return; // closing hands it back with the subscription
      this.#credit--;
      if (this.#acknowledges)
        this.#unsettled.set(unsettledKey(message.partition, message.offset), message);
      const writable = this.#sink.deliver(this.id, message);
      if (!writable) await this.#sink.drained();
    }
  }

  /** Applies one settle entry; resolves once the broker recorded it durably. */
  async settle(entry: SettleEntry): Promise<EntryError> {
    const key = unsettledKey(entry.partition, entry.offset);
    const message = this.#unsettled.get(key);
    if (!message) {
      return {
        code: 'MESSAGE_SETTLED',
        message: `no unsettled delivery at ${key} on this consumer`,
      };
    }
    try {
      switch (entry.kind) {
        case 'ack':
          this.#unsettled.delete(key);
          await message.ack();
          break;
        case 'nack':
          this.#unsettled.delete(key);
          await message.nack(Number.isNaN(entry.value) ? {} : { delayMs: entry.value });
          break;
        case 'term':
          this.#unsettled.delete(key);
          await message.term(entry.reason ?? undefined);
          break;
        case 'extend':
          await message.extend(Number.isNaN(entry.value) ? undefined : entry.value);
          break;
      }
      return null;
    } catch (error) {
      const weirError = isWeirError(error) ? error : new WeirError('INTERNAL', String(error));
      return { code: weirError.code, message: weirError.message };
    }
  }

  /** Stops pumping and closes the broker subscription, which hands unsettled leases back. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#unsettled.clear();
    const waiter = this.#creditWaiter;
    this.#creditWaiter = null;
    waiter?.();
    await this.subscription.close();
  }
}
