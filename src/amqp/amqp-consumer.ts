/**
 * One basic.consume: pumps messages from the queue's Weir subscription (a consumer of its
 * shared subscription, maxInFlight = the prefetch) to the channel while the channel allows
 * (flow on, the channel's global prefetch not reached, the socket not congested). A message
 * is taken (its lease starts) only as it is written: one the channel holds back stays in the
 * broker consumer's buffer and goes back uncounted if the consumer is cancelled.
 *
 * noAck: a message is acked as it is written (AMQP's "automatic acknowledgement").
 *
 * basic.cancel stops the pump at once, but the broker consumer stays until the channel has
 * settled every message this consumer delivered (`unacked` back to 0): in AMQP a cancelled
 * consumer's deliveries can still be acked, and closing the broker consumer would hand them
 * to another consumer meanwhile.
 */
import type { Message, Subscription } from '../protocol/index.js';
import type { ConsumerHandle } from './amqp-gateway.js';
import type { QueueState } from './topology.js';

/** What a consumer needs from its channel. */
export interface ConsumerChannel {
  /** Whether the channel takes another delivery now. */
  deliveryAllowed(consumer: AmqpConsumer): boolean;
  /** Resolves when deliveryAllowed may have changed. */
  deliveryChanged(): Promise<void>;
  /** Writes basic.deliver + content for `message`. */
  deliver(consumer: AmqpConsumer, message: Message): void;
  /** Whether `queue` is still in the topology (not being deleted). */
  queueExists(queue: QueueState): boolean;
  /** The broker or the gateway ended the consumer: the channel sends basic.cancel. */
  cancelledByServer(consumer: AmqpConsumer): void;
}

type PumpedSubscription = Subscription & { tryReceive?(): Message | null };

export class AmqpConsumer implements ConsumerHandle {
  readonly tag: string;
  readonly queue: QueueState;
  readonly noAck: boolean;
  readonly exclusive: boolean;
  /** Deliveries the broker consumer may have unsettled (the prefetch, or the cap). */
  readonly maxInFlight: number;
  readonly #subscription: PumpedSubscription;
  readonly #channel: ConsumerChannel;
  #cancelled = false;
  #closed: Promise<void> | null = null;
  #started = false;
  /** Deliveries of this consumer the channel holds unsettled. */
  unacked = 0;

  constructor(
    tag: string,
    queue: QueueState,
    noAck: boolean,
    exclusive: boolean,
    maxInFlight: number,
    subscription: Subscription,
    channel: ConsumerChannel,
  ) {
    this.tag = tag;
    this.queue = queue;
    this.noAck = noAck;
    this.exclusive = exclusive;
    this.maxInFlight = maxInFlight;
    this.#subscription = subscription;
    this.#channel = channel;
  }

  get cancelled(): boolean {
    return this.#cancelled;
  }

  start(): void {
    if (this.#started) return;
    this.#started = true;
    void this.#run();
  }

  async #run(): Promise<void> {
    const subscription = this.#subscription;
    while (!this.#cancelled) {
      if (!this.#channel.deliveryAllowed(this)) {
        await this.#channel.deliveryChanged();
        continue;
      }
      const message = subscription.tryReceive?.() ?? (await subscription.receive());
      if (this.#cancelled) {
        // Taken while cancelling: it goes back with the subscription's close (counted as a
        // delivery, since it was taken; AMQP marks such a message redelivered).
        if (message !== null) void message.nack({ delayMs: 0 }).catch(() => undefined);
        break;
      }
      if (message === null) {
        // The subscription ended under us (its stream was deleted, the broker closes). When
        // the gateway is deleting the queue, it sends basic.cancel itself once that is done.
        this.#cancelled = true;
        if (this.#channel.queueExists(this.queue)) this.#channel.cancelledByServer(this);
        break;
      }
      this.#channel.deliver(this, message);
      if (this.noAck) void message.ack().catch(() => undefined);
    }
  }

  /** The gateway deleted the queue. */
  cancelledByServer(): void {
    this.#cancelled = true;
    void this.close();
    this.#channel.cancelledByServer(this);
  }

  /** Stops delivering; the broker consumer closes once its deliveries are settled. */
  cancel(): void {
    this.#cancelled = true;
    if (this.unacked === 0) void this.close();
  }

  /** The channel settled one of this consumer's deliveries. */
  settled(): void {
    this.unacked--;
    if (this.#cancelled && this.unacked === 0) void this.close();
  }

  /** Closes the broker consumer: what is unsettled goes back to the queue. */
  close(): Promise<void> {
    this.#cancelled = true;
    this.#closed ??= this.#subscription.close().catch(() => undefined);
    return this.#closed;
  }
}
