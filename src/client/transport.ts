/**
 * What the SDK needs from a byte pipe to a Weir server. The frame logic (connection.ts) is
 * written against this interface only, so a WebSocket transport for browsers can sit next to
 * the TCP one (tcp-transport.ts) without touching it.
 *
 * Concurrency: a transport calls its handlers from the event loop, one at a time, never from
 * inside `write`, `end` or `destroy`.
 */

export interface TransportAddress {
  readonly host: string;
  readonly port: number;
  /** The address as the user wrote it, for messages ("weir://127.0.0.1:7420"). */
  readonly url: string;
}

export interface TransportHandlers {
  /**
   * Bytes from the server. The chunk belongs to the receiver from then on: the transport
   * never writes into its memory again, so views into it may be kept (message bodies are).
   */
  data(chunk: Uint8Array): void;
  /** The transport can take more after a `write` returned false. */
  drain(): void;
  /** The pipe is gone; called once. `error` says why, null for an orderly close. */
  closed(error: Error | null): void;
}

export interface Transport {
  /**
   * Queues bytes for the server. Writes made in the same tick may be sent together. Returns
   * false once the transport holds more than it wants to: wait for `drain` before writing more
   * of what can wait. The caller must not modify `bytes` afterwards.
   */
  write(bytes: Uint8Array): boolean;
  /** Sends what is queued, then closes; `closed` follows. */
  end(): void;
  /** Closes at once, dropping what is queued; `closed` follows. */
  destroy(): void;
}

/**
 * Opens a transport. Rejects with WeirError CLOSED and a message naming the address and the
 * cause ("cannot reach weir://127.0.0.1:7420: ECONNREFUSED") when it cannot, or when
 * `timeoutMs` passes first.
 */
export type TransportConnector = (
  address: TransportAddress,
  handlers: TransportHandlers,
  timeoutMs: number,
) => Promise<Transport>;
