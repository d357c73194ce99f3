/**
 * Frames: how bytes on a Weir connection are cut into messages.
 *
 * Frame layout (little-endian):
 *   0   u32  length      bytes after this field: 6 + payload bytes; at most FRAME_BYTES_MAX
 *   4   u8   opcode      OPCODES below
 *   5   u8   flags       per opcode (0 unless said otherwise)
 *   6   u32  requestId   chosen by the client for a request, echoed by its reply; 0 for frames
 *                        that are not requests or replies (DELIVER, PING, a connection ERROR)
 *   10  ...  payload
 *
 * A peer that sends a frame longer than the limit, an unknown opcode or a payload that does
 * not parse gets an ERROR frame (requestId 0, PROTOCOL_ERROR) and the connection closes.
 */
import { WeirError } from '../util/index.js';

export const FRAME_HEADER_BYTES = 10;
/**
 * 2: DELIVER gives each message a deliveryToken, and SETTLE entries carry it back (frames.ts).
 * 3: SETTLE kind take: a lease starts when the application receives the message.
 * 4: deliveries of an ack `none` subscription are taken too: the take settles them, so one
 *    the application never took goes back with its consumer (a version 3 SDK sends no take
 *    for them, and its ack `none` deliveries would never settle).
 * 5: authentication: HELLO's credentials carry none, a token or a SCRAM client-first; SCRAM
 *    adds AUTH_CHALLENGE and AUTH_PROOF; HELLO_OK ends with the server's SCRAM signature.
 * 6: transactions (TX_COMMIT, TX_RESULT); SETTLE kinds release (circuit breaker; token 0: the
 *    breaker's state report) and progress; REPLY flags bit 0 marks a progress message of a
 *    request (a version 5 SDK would take it for the reply); CALL methods schedules.* and
 *    subscriptions.progress*; subscribe options fairBy and rateLimit (docs/protocol.md,
 *    "Protocol 6: ..."). Still 6 with the cluster: the CALL method cluster.status, the stream
 *    fields replicas / minInSync (JSON) and the codes NOT_LEADER / NOT_ENOUGH_REPLICAS change no
 *    frame an older peer would misread (an older server answers the call "unknown method").
 */
export const PROTOCOL_VERSION = 6;

/**
 * Every opcode: who sends it, what it carries, the reply, the error codes it can return.
 * Payload layouts are in frames.ts and docs/protocol.md.
 */
export const OPCODES = {
  /** client → server, first frame: version, client name, credentials (none, token, SCRAM client-first). Reply HELLO_OK, or AUTH_CHALLENGE for SCRAM; errors PROTOCOL_ERROR (version), NOT_AUTHORIZED, LIMIT_EXCEEDED (connections), NOT_LEADER (a cluster's follower). */
  HELLO: 1,
  /** server → client: server version, heartbeat interval, limits, and the SCRAM server signature (null unless SCRAM). */
  HELLO_OK: 2,
  /** either way: heartbeat; the peer answers PONG with the same requestId. */
  PING: 3,
  PONG: 4,
  /** server → client: a request failed (requestId set) or the connection is being closed (requestId 0). */
  ERROR: 5,
  /** client → server: a management call (streams, subscriptions, dead letters, schedules, users, cluster.status) as JSON. Reply RESULT; errors per method. */
  CALL: 6,
  /** server → client: a CALL's JSON result. */
  RESULT: 7,
  /** client → server: a batch of publishes; flags bit 0 = no confirm. Reply PUBLISH_RESULT (unless no confirm); per-message NO_ROUTE, MESSAGE_TOO_LARGE, STREAM_FULL, INVALID_ARGUMENT, STORAGE_FAILED, DISK_FULL. */
  PUBLISH: 8,
  /** server → client: one receipt or error per message of the PUBLISH, in order. */
  PUBLISH_RESULT: 9,
  /** client → server: open a consumer on a subscription (options as JSON). Reply SUBSCRIBED; errors STREAM_NOT_FOUND, INVALID_ARGUMENT, SUBSCRIPTION_EXISTS, CONSUMER_EXCLUSIVE, LIMIT_EXCEEDED. */
  SUBSCRIBE: 10,
  /** server → client: the consumer id the server delivers with, and the subscription's name. */
  SUBSCRIBED: 11,
  /** client → server: more credit (messages the client can take) for a consumer. No reply. */
  CREDIT: 12,
  /** server → client: a batch of messages for one consumer, each with its delivery token. No reply (settle with SETTLE). */
  DELIVER: 13,
  /** client → server: a batch of ack / nack / term / extend, each naming a delivery by partition, offset and token. Reply SETTLED once durable; per-entry MESSAGE_SETTLED (not the current delivery), CLOSED, INVALID_ARGUMENT, STORAGE_FAILED. */
  SETTLE: 14,
  /** server → client: one status per SETTLE entry, in order. */
  SETTLED: 15,
  /** client → server: close a consumer (its leases are handed back). Reply RESULT. */
  UNSUBSCRIBE: 16,
  /** server → client: the server ended a consumer (stream deleted, broker closing). */
  CONSUMER_CLOSED: 17,
  /** client → server: publish with a reply inbox and wait. Reply DELIVER-shaped REPLY; errors TIMEOUT, NO_ROUTE, … */
  REQUEST: 18,
  /** server → client: the reply to a REQUEST (one message); flags bit 0 (protocol 6): a progress message, the request waits on. */
  REPLY: 19,
  /** server → client, answers a SCRAM HELLO (same requestId): the full nonce, the salt and the scrypt cost. */
  AUTH_CHALLENGE: 20,
  /** client → server, after AUTH_CHALLENGE: the SCRAM client proof. Reply HELLO_OK (with the server signature); errors NOT_AUTHORIZED (then the server closes). */
  AUTH_PROOF: 21,
  /** client → server (protocol 6): one transaction's publishes and acks, committed atomically. Reply TX_RESULT; errors (in TX_RESULT) TRANSACTION_ABORTED naming the entry, INVALID_ARGUMENT, LIMIT_EXCEEDED, CLOSED, STORAGE_FAILED, DISK_FULL. */
  TX_COMMIT: 22,
  /** server → client (protocol 6): the committed transaction's receipts, or the one error that refused it. */
  TX_RESULT: 23,
} as const;

export type Opcode = (typeof OPCODES)[keyof typeof OPCODES];
const KNOWN_OPCODES = new Set<number>(Object.values(OPCODES));

export const FLAG_NO_CONFIRM = 1;
/** REPLY flags bit 0 (protocol 6): a progress message of the request (Message.progress), not its reply. */
export const FLAG_REPLY_PROGRESS = 1;

export interface Frame {
  readonly opcode: Opcode;
  readonly flags: number;
  readonly requestId: number;
  /** A view into the received bytes: valid until the handler returns (copy to keep). */
  readonly payload: Uint8Array;
}

/** Writes a frame header in front of a payload written at FRAME_HEADER_BYTES. */
export function writeFrameHeader(
  target: Uint8Array,
  opcode: Opcode,
  flags: number,
  requestId: number,
  totalBytes: number,
): void {
  const view = new DataView(target.buffer, target.byteOffset, FRAME_HEADER_BYTES);
  view.setUint32(0, totalBytes - 4, true);
  view.setUint8(4, opcode);
  view.setUint8(5, flags);
  view.setUint32(6, requestId, true);
}

/**
 * Cuts a byte stream into frames. Feed it chunks as they arrive; it calls `onFrame` for each
 * whole frame, in order, with payloads that are views into the chunk when a frame arrived in
 * one piece (no copy) and into a reassembly buffer otherwise. Throws PROTOCOL_ERROR on an
 * oversized frame or an unknown opcode; after a throw the decoder must not be used again.
 */
export class FrameDecoder {
  #maxFrameBytes: number;
  readonly #onFrame: (frame: Frame) => void;
  #pending: Uint8Array | null = null;
  #pendingLength = 0;

  constructor(maxFrameBytes: number, onFrame: (frame: Frame) => void) {
    this.#maxFrameBytes = maxFrameBytes;
    this.#onFrame = onFrame;
  }

  /**
   * The largest frame accepted from now on, header included (a server starts small and raises
   * it after HELLO). Applies to every length prefix read after the call, even in the chunk
   * being decoded.
   */
  set maxFrameBytes(bytes: number) {
    this.#maxFrameBytes = bytes;
  }

  /** Bytes held while waiting for the rest of a frame. */
  get bufferedBytes(): number {
    return this.#pendingLength;
  }

  push(chunk: Uint8Array): void {
    let bytes = chunk;
    if (this.#pending) {
      // Append to the reassembly buffer; only what completes the frame (or header) is copied.
      const needed = this.#needed(this.#pending, this.#pendingLength);
      const take = Math.min(needed - this.#pendingLength, chunk.length);
      if (this.#pendingLength + take > this.#pending.length) {
        const grown = new Uint8Array(Math.max(needed, this.#pending.length * 2));
        grown.set(this.#pending.subarray(0, this.#pendingLength));
        this.#pending = grown;
      }
      this.#pending.set(chunk.subarray(0, take), this.#pendingLength);
      this.#pendingLength += take;
      bytes = chunk.subarray(take);
      const nowNeeded = this.#needed(this.#pending, this.#pendingLength);
      if (this.#pendingLength < nowNeeded) {
        if (bytes.length > 0) {
          this.push(bytes); // header completed: now the length is known
        }
        return;
      }
      const frame = this.#pending.subarray(0, this.#pendingLength);
      this.#pending = null;
      this.#pendingLength = 0;
      this.#emit(frame, 0);
    }
    let position = 0;
    while (bytes.length - position >= 4) {
      const length = this.#length(bytes, position);
      if (bytes.length - position < 4 + length) break;
      this.#emit(bytes, position);
      position += 4 + length;
    }
    if (position < bytes.length) {
      const rest = bytes.subarray(position);
      const capacity = rest.length >= 4 ? 4 + this.#length(rest, 0) : Math.max(64, rest.length);
      this.#pending = new Uint8Array(capacity);
      this.#pending.set(rest);
      this.#pendingLength = rest.length;
    }
  }

  /** Bytes of the whole frame in `bytes[0, have)`, or 4 while its length is not known yet. */
  #needed(bytes: Uint8Array, have: number): number {
    return have < 4 ? 4 : 4 + this.#length(bytes, 0);
  }

  #length(bytes: Uint8Array, position: number): number {
    const length =
      (bytes[position]! |
        (bytes[position + 1]! << 8) |
        (bytes[position + 2]! << 16) |
        (bytes[position + 3]! << 24)) >>>
      0;
    if (length < FRAME_HEADER_BYTES - 4 || length + 4 > this.#maxFrameBytes) {
      throw new WeirError(
        'PROTOCOL_ERROR',
        `frame of ${length + 4} bytes is outside [${FRAME_HEADER_BYTES}, ${this.#maxFrameBytes}]`,
      );
    }
    return length;
  }

  #emit(bytes: Uint8Array, position: number): void {
    const length = this.#length(bytes, position);
    const opcode = bytes[position + 4]!;
    if (!KNOWN_OPCODES.has(opcode))
      throw new WeirError('PROTOCOL_ERROR', `unknown opcode ${opcode}`);
    const requestId =
      (bytes[position + 6]! |
        (bytes[position + 7]! << 8) |
        (bytes[position + 8]! << 16) |
        (bytes[position + 9]! << 24)) >>>
      0;
    this.#onFrame({
      opcode: opcode as Opcode,
      flags: bytes[position + 5]!,
      requestId,
      payload: bytes.subarray(position + FRAME_HEADER_BYTES, position + 4 + length),
    });
  }
}
