/**
 * The publish path of the SDK. Publishes wait in a bounded queue (CLIENT_PUBLISH_QUEUE_MAX,
 * then LIMIT_EXCEEDED) and leave it once per tick, in order, as PUBLISH frames of at most
 * PUBLISH_BATCH_MESSAGES_MAX messages and the connection's frame limit. At most
 * CLIENT_PUBLISHES_IN_FLIGHT_MAX confirmed publishes wait for their receipt at once (the window).
 *
 * Every promise settles:
 * - confirmed: with the receipt or the server's per-message error from PUBLISH_RESULT;
 * - in flight when the connection drops: CLOSED (retriable; the message may or may not be
 *   stored: publish with an `id` to make a retry safe);
 * - queued while there is no connection: sent after the reconnect, or CLOSED once it waited
 *   CLIENT_PUBLISH_WAIT_MS_MAX without a connection;
 * - `confirm: false`: resolved with UNCONFIRMED_RECEIPT once handed to the connection's
 *   transport; the server sends no reply.
 *
 * Copies: a body is copied once, into the PUBLISH frame (so a frame goes out in one write).
 */
import {
  CLIENT_PUBLISHES_IN_FLIGHT_MAX,
  CLIENT_PUBLISH_QUEUE_MAX,
  CLIENT_PUBLISH_WAIT_MS_MAX,
  FRAME_BYTES_MAX,
  PUBLISH_BATCH_MESSAGES_MAX,
} from '../limits.js';
import { Reader } from '../protocol/codec.js';
import { FLAG_NO_CONFIRM, FRAME_HEADER_BYTES, OPCODES } from '../protocol/frame.js';
import { readReceiptOrError, writePublishEntry } from '../protocol/frames.js';
import {
  UNCONFIRMED_RECEIPT,
  WeirError,
  type PublishOptions,
  type PublishReceipt,
} from '../protocol/index.js';
import { assert } from '../util/index.js';
import type { Connection } from './connection.js';
import { FifoQueue } from './fifo-queue.js';
import { startFrame } from './frame-writer.js';

/** A PUBLISH frame starts this big and grows as entries are written. */
const BATCH_FRAME_BYTES_INITIAL = 16 * 1024;

interface QueuedPublish {
  readonly subject: string;
  readonly body: Uint8Array;
  readonly options: PublishOptions;
  readonly confirm: boolean;
  readonly enqueuedAt: number;
  readonly resolve: (receipt: PublishReceipt) => void;
  readonly reject: (error: WeirError) => void;
}

export class Publisher {
  readonly #url: string;
  readonly #queue = new FifoQueue<QueuedPublish>();
  /** Confirmed publishes sent on the current connection and waiting for PUBLISH_RESULT. */
  #inFlight = 0;
  /** When the connection was lost; null while connected. */
  #disconnectedAt: number | null;
  #sweepTimer: ReturnType<typeof setTimeout> | null = null;

  constructor(url: string) {
    this.#url = url;
    this.#disconnectedAt = Date.now();
  }

  get queued(): number {
    return this.#queue.length;
  }

  enqueue(subject: string, body: Uint8Array, options: PublishOptions): Promise<PublishReceipt> {
    if (this.#queue.length >= CLIENT_PUBLISH_QUEUE_MAX) {
      return Promise.reject(
        new WeirError(
          'LIMIT_EXCEEDED',
          `${CLIENT_PUBLISH_QUEUE_MAX} publishes are already waiting to be sent; await some first`,
        ),
      );
    }
    if (body.length > FRAME_BYTES_MAX) {
      return Promise.reject(
        new WeirError('MESSAGE_TOO_LARGE', `a body of ${body.length} bytes does not fit a frame`),
      );
    }
    return new Promise<PublishReceipt>((resolve, reject) => {
      this.#queue.push({
        subject,
        body,
        options,
        confirm: options.confirm !== false,
        enqueuedAt: Date.now(),
        resolve,
        reject,
      });
      this.#armSweep();
    });
  }

  connected(): void {
    this.#disconnectedAt = null;
    if (this.#sweepTimer) clearTimeout(this.#sweepTimer);
    this.#sweepTimer = null;
  }

  disconnected(): void {
    // The connection failed every in-flight batch (each one decremented the window) before this.
    assert(this.#inFlight === 0, 'no publish stays in flight without a connection');
    this.#disconnectedAt = Date.now();
    this.#armSweep();
  }

  /** Rejects every queued publish (client closed). In-flight ones fail with their connection. */
  failAll(error: WeirError): void {
    if (this.#sweepTimer) clearTimeout(this.#sweepTimer);
    this.#sweepTimer = null;
    for (const publish of this.#queue.takeAll()) publish.reject(error);
  }

  /** Sends what the window and the transport allow, in queue order. */
  flush(connection: Connection): void {
    while (this.#queue.length > 0 && connection.isOpen && !connection.blocked) {
      const head = this.#queue.peek()!;
      if (!head.confirm) {
        this.#sendBatch(connection, false, PUBLISH_BATCH_MESSAGES_MAX);
        continue;
      }
      const room = CLIENT_PUBLISHES_IN_FLIGHT_MAX - this.#inFlight;
      if (room <= 0 || !connection.hasRequestSlot) return; // a PUBLISH_RESULT calls flush again
      this.#sendBatch(connection, true, Math.min(room, PUBLISH_BATCH_MESSAGES_MAX));
    }
  }

  /** Takes up to `limit` queued publishes of the same `confirm` kind into one PUBLISH frame. */
  #sendBatch(connection: Connection, confirm: boolean, limit: number): void {
    const writer = startFrame(BATCH_FRAME_BYTES_INITIAL);
    writer.u32(0); // count, patched below
    const batch: QueuedPublish[] = [];
    while (batch.length < limit) {
      const next = this.#queue.peek();
      if (!next || next.confirm !== confirm) break;
      const before = writer.position;
      writePublishEntry(writer, next.subject, next.body, next.options);
      if (writer.position > connection.maxFrameBytes) {
        writer.position = before; // drop the entry from this frame
        if (batch.length > 0) break; // it starts the next frame
        this.#queue.shift();
        next.reject(
          new WeirError(
            'MESSAGE_TOO_LARGE',
            `a message of ${next.body.length} bytes does not fit the server's frame limit of ${connection.maxFrameBytes} bytes`,
          ),
        );
        continue;
      }
      this.#queue.shift();
      batch.push(next);
    }
    if (batch.length === 0) return;
    writer.patchU32(FRAME_HEADER_BYTES, batch.length);
    if (!confirm) {
      connection.send(OPCODES.PUBLISH, FLAG_NO_CONFIRM, writer);
      for (const publish of batch) publish.resolve(UNCONFIRMED_RECEIPT);
      return;
    }
    this.#inFlight += batch.length;
    let answered = false;
    const release = (): void => {
      if (answered) return;
      answered = true;
      this.#inFlight -= batch.length;
    };
    connection.request(OPCODES.PUBLISH, 0, writer, {
      expects: OPCODES.PUBLISH_RESULT,
      reply: (payload) => {
        // Read every outcome before settling any: a malformed reply fails the whole batch.
        const reader = new Reader(payload);
        const count = reader.u32();
        if (count !== batch.length) {
          throw new WeirError(
            'PROTOCOL_ERROR',
            `PUBLISH_RESULT has ${count} outcomes for ${batch.length} messages`,
          );
        }
        const outcomes = batch.map(() => readReceiptOrError(reader));
        reader.done();
        release();
        outcomes.forEach((outcome, index) => {
          if (outcome instanceof WeirError) batch[index]!.reject(outcome);
          else batch[index]!.resolve(outcome);
        });
      },
      fail: (error) => {
        release();
        const failure =
          error.code === 'CLOSED'
            ? new WeirError(
                'CLOSED',
                `${error.message}; the publish may or may not have been stored`,
                {
                  cause: error,
                },
              )
            : error;
        for (const publish of batch) publish.reject(failure);
      },
    });
  }

  /** While disconnected, a timer fails the publishes that waited CLIENT_PUBLISH_WAIT_MS_MAX. */
  #armSweep(): void {
    const head = this.#queue.peek();
    if (this.#disconnectedAt === null || this.#sweepTimer !== null || !head) return;
    const deadline = Math.max(head.enqueuedAt, this.#disconnectedAt) + CLIENT_PUBLISH_WAIT_MS_MAX;
    this.#sweepTimer = setTimeout(
      () => {
        this.#sweepTimer = null;
        this.#sweep();
      },
      Math.max(0, deadline - Date.now()),
    );
  }

  #sweep(): void {
    const disconnectedAt = this.#disconnectedAt;
    if (disconnectedAt === null) return;
    const now = Date.now();
    // Deadlines grow along the queue (enqueue times do), so expired publishes are at its head.
    for (;;) {
      const head = this.#queue.peek();
      if (!head || Math.max(head.enqueuedAt, disconnectedAt) + CLIENT_PUBLISH_WAIT_MS_MAX > now)
        break;
      this.#queue.shift();
      head.reject(
        new WeirError(
          'CLOSED',
          `no connection to ${this.#url} for ${CLIENT_PUBLISH_WAIT_MS_MAX} ms; the message was not sent`,
        ),
      );
    }
    this.#armSweep();
  }
}
