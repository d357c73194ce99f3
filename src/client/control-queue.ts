/**
 * Calls, subscribes and requests waiting for a connection (while the client reconnects) or for
 * a free request slot. Each waits at most its `waitMs`, then fails with its `expired()` error;
 * at most CLIENT_CALL_QUEUE_MAX wait at once (then LIMIT_EXCEEDED). Once written to a
 * connection, an operation's outcome is its handler's (reply, ERROR, or CLOSED with the
 * connection): it is never sent twice.
 */
import { CLIENT_CALL_QUEUE_MAX } from '../limits.js';
import type { Writer } from '../protocol/codec.js';
import type { Opcode } from '../protocol/frame.js';
import { WeirError } from '../protocol/index.js';
import type { Connection, ReplyHandler } from './connection.js';
import { FifoQueue } from './fifo-queue.js';
import { startFrame } from './frame-writer.js';

export interface ControlOperation {
  readonly opcode: Opcode;
  /** Writes the payload for `connection`; false: nothing needs sending any more (settled itself). */
  write(writer: Writer, connection: Connection): boolean;
  readonly handler: ReplyHandler;
  /** How long it may wait before it is written. */
  readonly waitMs: number;
  /** The error it fails with after waiting `waitMs`. */
  expired(): WeirError;
}

interface Waiting {
  readonly operation: ControlOperation;
  timer: ReturnType<typeof setTimeout> | null;
  done: boolean;
}

export class ControlQueue {
  readonly #queue = new FifoQueue<Waiting>();

  enqueue(operation: ControlOperation): void {
    // Expired entries stay until they reach the head; drop those there first.
    while (this.#queue.peek()?.done) this.#queue.shift();
    if (this.#queue.length >= CLIENT_CALL_QUEUE_MAX) {
      operation.handler.fail(
        new WeirError(
          'LIMIT_EXCEEDED',
          `${CLIENT_CALL_QUEUE_MAX} calls are already waiting to be sent`,
        ),
      );
      return;
    }
    const waiting: Waiting = { operation, timer: null, done: false };
    waiting.timer = setTimeout(() => {
      waiting.done = true;
      operation.handler.fail(operation.expired());
    }, operation.waitMs);
    this.#queue.push(waiting);
  }

  /** Writes waiting operations in order while the connection has request slots and room. */
  flush(connection: Connection): void {
    while (
      this.#queue.length > 0 &&
      connection.isOpen &&
      connection.hasRequestSlot &&
      !connection.blocked
    ) {
      const waiting = this.#queue.shift()!;
      if (waiting.done) continue;
      this.#settle(waiting);
      const writer = startFrame();
      if (waiting.operation.write(writer, connection)) {
        connection.request(waiting.operation.opcode, 0, writer, waiting.operation.handler);
      }
    }
  }

  failAll(error: WeirError): void {
    for (const waiting of this.#queue.takeAll()) {
      if (waiting.done) continue;
      this.#settle(waiting);
      waiting.operation.handler.fail(error);
    }
  }

  #settle(waiting: Waiting): void {
    waiting.done = true;
    if (waiting.timer) clearTimeout(waiting.timer);
    waiting.timer = null;
  }
}
