/**
 * One server consumer (a consumer id on one connection): what a subscription is while it is
 * attached. It keeps the credit books (the server never sends more than granted; the
 * application's takes are granted back in halves of the window), gathers settle entries into
 * SETTLE frames, and sends UNSUBSCRIBE when its subscription closes.
 *
 * It ends with its connection, its UNSUBSCRIBE, or the server's CONSUMER_CLOSED. From then on
 * settling one of its messages fails with CLOSED: the broker hands those messages back and
 * delivers them again, to this subscription's next consumer or another.
 *
 * Memory: at most CLIENT_SETTLES_QUEUED_MAX settle entries wait for the next flush, plus one
 * take per delivery of the credit window (CLIENT_CONSUMER_CREDIT_MAX).
 */
import {
  CLIENT_SETTLES_QUEUED_MAX,
  DEAD_LETTER_ERROR_BYTES_MAX,
  SETTLE_BATCH_ENTRIES_MAX,
} from '../limits.js';
import { Reader } from '../protocol/codec.js';
import { OPCODES } from '../protocol/frame.js';
import {
  BREAKER_REPORT_TOKEN,
  readEntryError,
  writeSettleEntry,
  type SettleEntry,
  type SettleKind,
} from '../protocol/frames.js';
import { WeirError, type CircuitBreakerState } from '../protocol/index.js';
import type { Connection } from './connection.js';
import { FifoQueue } from './fifo-queue.js';
import { startFrame } from './frame-writer.js';
import type { MessageSettler, RemoteMessage } from './remote-message.js';

interface PendingSettle {
  readonly entry: SettleEntry;
  readonly resolve: () => void;
  readonly reject: (error: WeirError) => void;
}

export interface AttachmentEvents {
  /** Something was queued: flush soon (once per tick). */
  scheduleFlush(): void;
  /** The attachment ended (once). */
  ended(attachment: ConsumerAttachment): void;
}

export class ConsumerAttachment implements MessageSettler {
  readonly connection: Connection;
  readonly consumerId: number;
  readonly #window: number;
  readonly #events: AttachmentEvents;
  /** Messages the server may still send: credit granted minus messages received. */
  #credit: number;
  /** Messages the application took (or the SDK handed back) since the last CREDIT. */
  #taken = 0;
  /** The subscription's circuit breaker is open: no credit is granted back. */
  #paused = false;
  readonly #settles = new FifoQueue<PendingSettle>();
  #live = true;
  #closing = false;
  #unsubscribeSent = false;
  /** SETTLE frames sent and not answered yet: close() waits for them. */
  #settlesInFlight = 0;
  #settlesAnswered: (() => void) | null = null;
  readonly #ended: Promise<void>;
  #resolveEnded: () => void = () => undefined;

  /** `window`: the initial credit sent with SUBSCRIBE. */
  constructor(
    connection: Connection,
    consumerId: number,
    window: number,
    events: AttachmentEvents,
  ) {
    this.connection = connection;
    this.consumerId = consumerId;
    this.#window = window;
    this.#credit = window;
    this.#events = events;
    this.#ended = new Promise((resolve) => (this.#resolveEnded = resolve));
  }

  get live(): boolean {
    return this.#live;
  }

  /** Books a DELIVER of `count` messages; more than the credit is the server breaking the protocol. */
  received(count: number): void {
    if (count > this.#credit) {
      throw new WeirError(
        'PROTOCOL_ERROR',
        `DELIVER of ${count} messages with ${this.#credit} credit left`,
      );
    }
    this.#credit -= count;
  }

  /** The application took one message: grant it back once half the window was taken. */
  taken(): void {
    this.#taken++;
    if (this.#paused || this.#taken * 2 < this.#window) return;
    this.#grant();
  }

  /**
   * The circuit breaker opened (`paused`) or half-opened / closed: while paused no credit goes
   * back, so the server sends nothing more; on resume what was taken or handed back meanwhile
   * is granted at once.
   */
  setPaused(paused: boolean): void {
    this.#paused = paused;
    if (!paused && this.#taken > 0) this.#grant();
  }

  /**
   * Tells the server the breaker's state (a SETTLE `release` entry with token 0), queued
   * behind this consumer's takes and settles so that the server sees them in order.
   */
  reportBreaker(state: CircuitBreakerState, halfOpenCalls: number): void {
    if (!this.#live || this.#closing) return;
    this.#settles.push({
      entry: {
        kind: 'release',
        partition: 0,
        offset: 0,
        token: BREAKER_REPORT_TOKEN,
        value: halfOpenCalls,
        reason: state,
      },
      resolve: () => undefined,
      reject: () => undefined,
    });
    this.#events.scheduleFlush();
  }

  #grant(): void {
    if (!this.#live || this.#closing) return;
    const writer = startFrame();
    writer.u32(this.consumerId).u32(this.#taken);
    this.connection.send(OPCODES.CREDIT, 0, writer);
    this.#credit += this.#taken;
    this.#taken = 0;
  }

  settle(
    message: RemoteMessage,
    kind: SettleKind,
    value: number,
    reason: string | null,
  ): Promise<void> {
    if (!this.#live || this.#closing) {
      return Promise.reject(
        // The same code the embedded broker gives: the lease went back with the consumer.
        new WeirError(
          'MESSAGE_SETTLED',
          'the consumer this message came on is closed; the broker delivers it again',
        ),
      );
    }
    // A take is at most one per delivery, so takes are bounded by the credit window and are
    // never refused: a refused take would leave its message without a lease on the server.
    if (
      kind !== 'take' &&
      kind !== 'release' &&
      this.#settles.length >= CLIENT_SETTLES_QUEUED_MAX
    ) {
      return Promise.reject(
        new WeirError('LIMIT_EXCEEDED', `${CLIENT_SETTLES_QUEUED_MAX} settles are already queued`),
      );
    }
    return new Promise<void>((resolve, reject) => {
      this.#settles.push({
        entry: {
          kind,
          partition: message.partition,
          offset: message.offset,
          token: message.deliveryToken,
          value,
          // The broker keeps this much of a term's reason; cutting it here keeps SETTLE frames
          // bounded. A progress value was checked against PROGRESS_VALUE_BYTES_MAX.
          reason:
            reason === null || kind !== 'term'
              ? reason
              : reason.slice(0, DEAD_LETTER_ERROR_BYTES_MAX),
        },
        resolve,
        reject,
      });
      this.#events.scheduleFlush();
    });
  }

  /** Sends the queued settles, then UNSUBSCRIBE once closing; stops when no request slot is free. */
  flush(): void {
    const connection = this.connection;
    while (
      this.#live &&
      this.#settles.length > 0 &&
      connection.isOpen &&
      connection.hasRequestSlot
    ) {
      const batch: PendingSettle[] = [];
      while (batch.length < SETTLE_BATCH_ENTRIES_MAX && this.#settles.length > 0)
        batch.push(this.#settles.shift()!);
      this.#sendSettles(batch);
    }
    const canUnsubscribe =
      this.#settles.length === 0 && connection.isOpen && connection.hasRequestSlot;
    if (this.#live && this.#closing && !this.#unsubscribeSent && canUnsubscribe) {
      this.#unsubscribeSent = true;
      const writer = startFrame();
      writer.u32(this.consumerId);
      const closed = new WeirError('CLOSED', 'the subscription was closed');
      connection.request(OPCODES.UNSUBSCRIBE, 0, writer, {
        expects: OPCODES.RESULT,
        reply: (payload) => {
          const reader = new Reader(payload);
          reader.text();
          reader.done();
          this.end(closed);
        },
        // Whatever went wrong, the consumer is gone or goes with the connection.
        fail: () => this.end(closed),
      });
    }
  }

  /**
   * Sends UNSUBSCRIBE after the queued settles; resolves once it is answered (or the connection
   * ended) and every settle sent has its answer, so acks made before close() are recorded.
   */
  async close(): Promise<void> {
    this.#closing = true;
    this.#events.scheduleFlush();
    await this.#ended;
    if (this.#settlesInFlight > 0) {
      await new Promise<void>((resolve) => (this.#settlesAnswered = resolve));
    }
  }

  /** Ends the attachment: queued settles fail with `error`. */
  end(error: WeirError): void {
    if (!this.#live) return;
    this.#live = false;
    for (const pending of this.#settles.takeAll()) pending.reject(error);
    this.#resolveEnded();
    this.#events.ended(this);
  }

  #sendSettles(batch: PendingSettle[]): void {
    const writer = startFrame(64 + batch.length * 32);
    writer.u32(this.consumerId).u32(batch.length);
    for (const pending of batch) writeSettleEntry(writer, pending.entry);
    this.#settlesInFlight++;
    let answered = false;
    const release = (): void => {
      if (answered) return;
      answered = true;
      this.#settlesInFlight--;
      if (this.#settlesInFlight === 0) this.#settlesAnswered?.();
    };
    this.connection.request(OPCODES.SETTLE, 0, writer, {
      expects: OPCODES.SETTLED,
      reply: (payload) => {
        const reader = new Reader(payload);
        const count = reader.u32();
        if (count !== batch.length) {
          throw new WeirError(
            'PROTOCOL_ERROR',
            `SETTLED has ${count} statuses for ${batch.length} entries`,
          );
        }
        const outcomes = batch.map(() => readEntryError(reader));
        reader.done();
        release();
        outcomes.forEach((outcome, index) => {
          if (outcome === null) batch[index]!.resolve();
          else batch[index]!.reject(new WeirError(outcome.code, outcome.message));
        });
      },
      fail: (error) => {
        release();
        for (const pending of batch) pending.reject(error);
      },
    });
  }
}
