/**
 * The consumers of one network client: which subscriptions exist (and are re-created on every
 * new connection), which consumer id on the current connection belongs to which subscription,
 * and the routing of DELIVER and CONSUMER_CLOSED by consumer id.
 *
 * Memory: at most CONNECTION_CONSUMERS_MAX subscriptions, open or being opened (then
 * LIMIT_EXCEEDED), so a new connection can re-subscribe all of them at once within its request
 * slots (limits.ts asserts it).
 */
import {
  CLIENT_CALL_WAIT_MS_MAX,
  CONNECTION_CONSUMERS_MAX,
  HEARTBEAT_MISSES_MAX,
} from '../limits.js';
import { Reader, type Writer } from '../protocol/codec.js';
import { OPCODES } from '../protocol/frame.js';
import { readDeliveredMessage, type DeliveredMessage } from '../protocol/frames.js';
import { WeirError, errorCodeFromNumber } from '../protocol/index.js';
import { assert } from '../util/index.js';
import type { Connection, ReplyHandler } from './connection.js';
import { ConsumerAttachment } from './consumer-attachment.js';
import type { ControlOperation } from './control-queue.js';
import { startFrame } from './frame-writer.js';
import type { RemoteSubscription } from './remote-subscription.js';

interface Consumer {
  readonly attachment: ConsumerAttachment;
  readonly subscription: RemoteSubscription;
}

export class ConsumerRegistry {
  readonly #scheduleFlush: () => void;
  readonly #waitError: (what: string) => WeirError;
  /** The current connection's consumers, by consumer id. */
  readonly #consumers = new Map<number, Consumer>();
  /** Subscriptions to re-create on a new connection. */
  readonly #subscriptions = new Set<RemoteSubscription>();
  #opening = 0;

  constructor(scheduleFlush: () => void, waitError: (what: string) => WeirError) {
    this.#scheduleFlush = scheduleFlush;
    this.#waitError = waitError;
  }

  /** The SUBSCRIBE of a new subscription; `settled` gets null once it is attached, or why not. */
  subscribeOperation(
    subscription: RemoteSubscription,
    settled: (error: WeirError | null) => void,
  ): ControlOperation {
    if (this.#subscriptions.size + this.#opening >= CONNECTION_CONSUMERS_MAX) {
      throw new WeirError(
        'LIMIT_EXCEEDED',
        `a client holds at most ${CONNECTION_CONSUMERS_MAX} subscriptions`,
      );
    }
    this.#opening++;
    let done = false;
    const finish = (error: WeirError | null): void => {
      if (done) return;
      done = true;
      this.#opening--;
      settled(error);
    };
    let sentOn: Connection | null = null;
    return {
      opcode: OPCODES.SUBSCRIBE,
      waitMs: CLIENT_CALL_WAIT_MS_MAX,
      expired: () => this.#waitError(`subscribe to ${subscription.stream}`),
      write: (writer, connection) => {
        sentOn = connection;
        writeSubscribe(writer, subscription);
        return true;
      },
      handler: this.#subscribeHandler(subscription, () => sentOn!, finish),
    };
  }

  /** A new connection: subscribe every subscription again, as it was. */
  resubscribeAll(connection: Connection): void {
    assert(this.#consumers.size === 0, 'a new connection starts without consumers');
    for (const subscription of this.#subscriptions) {
      const writer = startFrame();
      writeSubscribe(writer, subscription);
      const handler = this.#subscribeHandler(
        subscription,
        () => connection,
        (error) => {
          // CLOSED: the next connection tries again. Anything else (stream deleted, ...) is final.
          if (error && error.code !== 'CLOSED') subscription.end();
        },
      );
      connection.request(OPCODES.SUBSCRIBE, 0, writer, handler);
    }
  }

  forget(subscription: RemoteSubscription): void {
    this.#subscriptions.delete(subscription);
  }

  /** Sends every consumer's queued settles (and UNSUBSCRIBEs). */
  flush(): void {
    for (const { attachment } of this.#consumers.values()) attachment.flush();
  }

  /** DELIVER: u32 consumerId, u32 count, count × (u32 token, delivered message); `bytes` belong to the SDK. */
  deliver(bytes: Uint8Array): void {
    const reader = new Reader(bytes);
    const consumerId = reader.u32();
    const count = reader.u32();
    const consumer = this.#consumers.get(consumerId);
    // Unknown: the frame crossed our UNSUBSCRIBE, and the server takes its messages back.
    if (!consumer) return;
    consumer.attachment.received(count); // bounds `count` by the credit before reading
    const messages: DeliveredMessage[] = [];
    const tokens: number[] = [];
    for (let index = 0; index < count; index++) {
      tokens.push(reader.u32());
      messages.push(readDeliveredMessage(reader));
    }
    reader.done();
    consumer.subscription.push(consumer.attachment, messages, tokens);
  }

  /** CONSUMER_CLOSED: u32 consumerId, u16 code number, string message. */
  consumerClosed(payload: Uint8Array, connection: Connection): void {
    const reader = new Reader(payload);
    const consumerId = reader.u32();
    const error = new WeirError(errorCodeFromNumber(reader.u16()), reader.text());
    reader.done();
    const consumer = this.#consumers.get(consumerId);
    if (!consumer) return;
    consumer.attachment.end(
      new WeirError('CLOSED', `the server ended the consumer: ${error.message}`, { cause: error }),
    );
    const graceMs = connection.heartbeatMs * HEARTBEAT_MISSES_MAX;
    consumer.subscription.serverClosed(consumer.attachment, error, graceMs);
  }

  /** The connection is gone: its consumers end; subscriptions wait for the next connection. */
  connectionLost(error: WeirError): void {
    const consumers = [...this.#consumers.values()];
    this.#consumers.clear();
    for (const { attachment, subscription } of consumers) {
      attachment.end(error);
      subscription.detached(attachment);
    }
  }

  /**
   * The client closes with its connection still up: each subscription closes as close() would
   * close it, so its queued takes and settles reach the server ahead of its UNSUBSCRIBE and the
   * broker hands back only what the application never took, as embedded.
   */
  async closeAll(): Promise<void> {
    await Promise.all([...this.#subscriptions].map((subscription) => subscription.close()));
  }

  /** The client closes: every subscription ends. */
  endAll(): void {
    for (const subscription of [...this.#subscriptions]) subscription.end();
  }

  #subscribeHandler(
    subscription: RemoteSubscription,
    connectionOf: () => Connection,
    settled: (error: WeirError | null) => void,
  ): ReplyHandler {
    return {
      expects: OPCODES.SUBSCRIBED,
      reply: (payload) => {
        const reader = new Reader(payload);
        const consumerId = reader.u32();
        const name = reader.text();
        reader.done();
        if (this.#consumers.has(consumerId)) {
          throw new WeirError('PROTOCOL_ERROR', `SUBSCRIBED reuses consumer id ${consumerId}`);
        }
        // Registered before the next frame is decoded: DELIVERs may follow in the same chunk.
        const attachment = new ConsumerAttachment(connectionOf(), consumerId, subscription.window, {
          scheduleFlush: this.#scheduleFlush,
          ended: (ended) => {
            if (this.#consumers.get(consumerId)?.attachment === ended)
              this.#consumers.delete(consumerId);
          },
        });
        this.#consumers.set(consumerId, { attachment, subscription });
        if (subscription.closed) {
          void attachment.close(); // closed while subscribing: hand the consumer straight back
        } else {
          subscription.attach(attachment, name);
          this.#subscriptions.add(subscription);
        }
        settled(null);
      },
      fail: (error) => settled(error),
    };
  }
}

/** SUBSCRIBE: string stream, string optionsJson, u32 initialCredit. */
function writeSubscribe(writer: Writer, subscription: RemoteSubscription): void {
  writer.string(subscription.stream).string(subscription.optionsJson).u32(subscription.window);
}
