/**
 * The replication wire format: a pure codec (no sockets, no files), shared by the leader's
 * ReplicationServer and the follower's Replica.
 *
 * Frame (every integer big-endian):
 *
 *   length u32   bytes after this field: 1 .. REPLICATION_FRAME_BYTES_MAX (else: malformed)
 *   type   u8    one of FRAME below
 *   body         by type:
 *
 *   HELLO              S→R  version u8 | epoch u64 | nonce [NONCE_BYTES] | nodeId str
 *   JOIN               R→S  version u8 | epoch u64 | appliedEpoch u64 | appliedSeq u64 |
 *                           flags u8 (bit 0: exact) | proof bytes8 | nodeId str
 *   START              S→R  mode u8 (0 continue, 1 snapshot) | seq u64
 *   OP                 S→R  seq u64 | kind u8 | by kind:
 *                             mkdir, open, sync, syncDirectory, unlink, removeDirectory: path str
 *                             write:    path str | position u64 | bytes (the rest of the frame)
 *                             truncate: path str | length u64
 *                             rename:   from str | to str
 *   ACK                R→S  seq u64
 *   SNAPSHOT_DIRECTORY S→R  path str
 *   SNAPSHOT_FILE      S→R  path str | position u64 | bytes (the rest of the frame)
 *   SNAPSHOT_END       S→R  seq u64
 *
 *   u64   = two u32 (high, low), a safe integer (else: malformed)
 *   str   = length u16 | UTF-8, at most REPLICATION_PATH_BYTES_MAX bytes
 *   bytes8 = length u8 | bytes
 *
 * The conversation: the leader sends HELLO (its epoch, a fresh nonce); the replica answers
 * JOIN (the epoch it expects, what it has applied, whether its files are exactly the result of
 * ops up to appliedSeq — false after a crash — and HMAC-SHA256(secret, nonce) when there is a
 * secret). The leader checks proof and epoch and answers START: continue (OP frames from
 * seq + 1 follow) or snapshot (SNAPSHOT_DIRECTORY / SNAPSHOT_FILE frames, then SNAPSHOT_END
 * at seq, then OP frames from seq + 1). The replica sends ACK seq once every op up to seq is
 * applied and every sync op up to seq has fsynced what it names.
 *
 * Paths are relative to the data directory, '/'-separated, '' for the directory itself; a
 * decoded path is checked: not absolute, no '.' or '..' segment, no NUL, no backslash.
 * Recovery rule: any frame that does not decode is a protocol error; the connection is
 * closed (the replica reconnects and the handshake decides again where it resumes).
 */
import {
  REPLICATION_FRAME_BYTES_MAX,
  REPLICATION_PATH_BYTES_MAX,
  REPLICATION_WRITE_BYTES_MAX,
} from '../limits.js';
import { WeirError, assert } from '../util/index.js';

export const REPLICATION_PROTOCOL_VERSION = 1;
export const NONCE_BYTES = 32;
const LENGTH_BYTES = 4;
const PROOF_BYTES_MAX = 64;
const TWO_TO_32 = 2 ** 32;

export const FRAME = {
  hello: 1,
  join: 2,
  start: 3,
  op: 4,
  ack: 5,
  snapshotDirectory: 6,
  snapshotFile: 7,
  snapshotEnd: 8,
} as const;

export const OP_KIND = {
  mkdir: 1,
  open: 2,
  write: 3,
  truncate: 4,
  sync: 5,
  syncDirectory: 6,
  unlink: 7,
  rename: 8,
  removeDirectory: 9,
} as const;

export type Op =
  | {
      kind: 'mkdir' | 'open' | 'sync' | 'syncDirectory' | 'unlink' | 'removeDirectory';
      path: string;
    }
  | { kind: 'write'; path: string; position: number; bytes: Uint8Array }
  | { kind: 'truncate'; path: string; length: number }
  | { kind: 'rename'; from: string; to: string };

export type Frame =
  | { type: 'hello'; version: number; epoch: number; nonce: Uint8Array; nodeId: string }
  | {
      type: 'join';
      version: number;
      epoch: number;
      appliedEpoch: number;
      appliedSeq: number;
      exact: boolean;
      proof: Uint8Array;
      nodeId: string;
    }
  | { type: 'start'; mode: 'continue' | 'snapshot'; seq: number }
  | { type: 'op'; seq: number; op: Op }
  | { type: 'ack'; seq: number }
  | { type: 'snapshotDirectory'; path: string }
  | { type: 'snapshotFile'; path: string; position: number; bytes: Uint8Array }
  | { type: 'snapshotEnd'; seq: number };

function malformed(message: string): WeirError {
  return new WeirError('PROTOCOL_ERROR', `replication: ${message}`);
}

/** True if `relative` is a path the codec accepts (see the header). */
export function validPath(relative: string): boolean {
  if (relative === '') return true;
  if (relative.includes('\0') || relative.includes('\\') || relative.startsWith('/')) return false;
  return relative
    .split('/')
    .every((segment) => segment !== '' && segment !== '.' && segment !== '..');
}

/** Appends fields to a growing buffer; `finish` prefixes the length. */
class Writer {
  #buffer: Buffer;
  #length = LENGTH_BYTES;

  constructor(capacity: number) {
    this.#buffer = Buffer.allocUnsafe(LENGTH_BYTES + capacity);
  }

  #room(count: number): void {
    if (this.#length + count <= this.#buffer.length) return;
    const grown = Buffer.allocUnsafe(Math.max(this.#buffer.length * 2, this.#length + count));
    this.#buffer.copy(grown, 0, 0, this.#length);
    this.#buffer = grown;
  }

  u8(value: number): this {
    this.#room(1);
    this.#buffer.writeUInt8(value, this.#length);
    this.#length += 1;
    return this;
  }

  u64(value: number): this {
    assert(Number.isSafeInteger(value) && value >= 0, `u64 field is a safe integer: ${value}`);
    this.#room(8);
    this.#buffer.writeUInt32BE(Math.floor(value / TWO_TO_32), this.#length);
    this.#buffer.writeUInt32BE(value % TWO_TO_32, this.#length + 4);
    this.#length += 8;
    return this;
  }

  text(value: string): this {
    const bytes = Buffer.from(value, 'utf8');
    assert(bytes.length <= REPLICATION_PATH_BYTES_MAX, `a string field fits: ${bytes.length}`);
    this.#room(2 + bytes.length);
    this.#buffer.writeUInt16BE(bytes.length, this.#length);
    bytes.copy(this.#buffer, this.#length + 2);
    this.#length += 2 + bytes.length;
    return this;
  }

  bytes8(value: Uint8Array): this {
    assert(value.length <= PROOF_BYTES_MAX, 'a short byte field fits');
    this.u8(value.length);
    return this.raw(value);
  }

  raw(value: Uint8Array): this {
    this.#room(value.length);
    this.#buffer.set(value, this.#length);
    this.#length += value.length;
    return this;
  }

  finish(): Buffer {
    const size = this.#length - LENGTH_BYTES;
    assert(size > 0 && size <= REPLICATION_FRAME_BYTES_MAX, `a frame fits: ${size} bytes`);
    this.#buffer.writeUInt32BE(size, 0);
    return this.#buffer.subarray(0, this.#length);
  }
}

/** Reads fields from one frame's body; any overrun or bad value is a protocol error. */
class Reader {
  readonly #buffer: Buffer;
  #position: number;

  constructor(buffer: Buffer, position: number) {
    this.#buffer = buffer;
    this.#position = position;
  }

  #need(count: number): void {
    if (this.#position + count > this.#buffer.length) throw malformed('frame ends inside a field');
  }

  u8(): number {
    this.#need(1);
    return this.#buffer.readUInt8(this.#position++);
  }

  u64(): number {
    this.#need(8);
    const high = this.#buffer.readUInt32BE(this.#position);
    const low = this.#buffer.readUInt32BE(this.#position + 4);
    this.#position += 8;
    const value = high * TWO_TO_32 + low;
    if (!Number.isSafeInteger(value)) throw malformed('integer field is past 2^53');
    return value;
  }

  text(): string {
    this.#need(2);
    const length = this.#buffer.readUInt16BE(this.#position);
    this.#position += 2;
    if (length > REPLICATION_PATH_BYTES_MAX) throw malformed('string field too long');
    this.#need(length);
    const bytes = this.#buffer.subarray(this.#position, this.#position + length);
    this.#position += length;
    const value = bytes.toString('utf8');
    if (Buffer.byteLength(value, 'utf8') !== length) throw malformed('string field is not UTF-8');
    return value;
  }

  path(): string {
    const value = this.text();
    if (!validPath(value)) throw malformed(`bad path ${JSON.stringify(value)}`);
    return value;
  }

  bytes8(): Uint8Array {
    const length = this.u8();
    if (length > PROOF_BYTES_MAX) throw malformed('byte field too long');
    this.#need(length);
    const bytes = this.#buffer.subarray(this.#position, this.#position + length);
    this.#position += length;
    return bytes;
  }

  fixed(length: number): Uint8Array {
    this.#need(length);
    const bytes = this.#buffer.subarray(this.#position, this.#position + length);
    this.#position += length;
    return bytes;
  }

  rest(): Uint8Array {
    const bytes = this.#buffer.subarray(this.#position);
    this.#position = this.#buffer.length;
    return bytes;
  }

  end(): void {
    if (this.#position !== this.#buffer.length) throw malformed('frame has trailing bytes');
  }
}

const OP_KIND_NAMES = Object.fromEntries(
  Object.entries(OP_KIND).map(([name, number]) => [number, name]),
) as Record<number, Op['kind'] | undefined>;

/** The encoded frame (length prefix included) for one op. */
export function encodeOp(seq: number, op: Op): Buffer {
  const writer = new Writer(op.kind === 'write' ? op.bytes.length + 64 + op.path.length : 64);
  writer.u8(FRAME.op).u64(seq).u8(OP_KIND[op.kind]);
  switch (op.kind) {
    case 'write':
      assert(op.bytes.length <= REPLICATION_WRITE_BYTES_MAX, 'a write op is split to fit');
      return writer.text(op.path).u64(op.position).raw(op.bytes).finish();
    case 'truncate':
      return writer.text(op.path).u64(op.length).finish();
    case 'rename':
      return writer.text(op.from).text(op.to).finish();
    default:
      return writer.text(op.path).finish();
  }
}

export function encodeFrame(frame: Exclude<Frame, { type: 'op' }>): Buffer {
  const writer = new Writer(64);
  switch (frame.type) {
    case 'hello':
      assert(frame.nonce.length === NONCE_BYTES, 'a nonce has NONCE_BYTES');
      return writer
        .u8(FRAME.hello)
        .u8(frame.version)
        .u64(frame.epoch)
        .raw(frame.nonce)
        .text(frame.nodeId)
        .finish();
    case 'join':
      return writer
        .u8(FRAME.join)
        .u8(frame.version)
        .u64(frame.epoch)
        .u64(frame.appliedEpoch)
        .u64(frame.appliedSeq)
        .u8(frame.exact ? 1 : 0)
        .bytes8(frame.proof)
        .text(frame.nodeId)
        .finish();
    case 'start':
      return writer
        .u8(FRAME.start)
        .u8(frame.mode === 'continue' ? 0 : 1)
        .u64(frame.seq)
        .finish();
    case 'ack':
      return writer.u8(FRAME.ack).u64(frame.seq).finish();
    case 'snapshotDirectory':
      return writer.u8(FRAME.snapshotDirectory).text(frame.path).finish();
    case 'snapshotFile':
      return writer
        .u8(FRAME.snapshotFile)
        .text(frame.path)
        .u64(frame.position)
        .raw(frame.bytes)
        .finish();
    case 'snapshotEnd':
      return writer.u8(FRAME.snapshotEnd).u64(frame.seq).finish();
  }
}

function decodeOp(reader: Reader): Op {
  const kind = OP_KIND_NAMES[reader.u8()];
  switch (kind) {
    case undefined:
      throw malformed('unknown op kind');
    case 'write': {
      const path = reader.path();
      const position = reader.u64();
      return { kind, path, position, bytes: reader.rest() };
    }
    case 'truncate': {
      const path = reader.path();
      const length = reader.u64();
      reader.end();
      return { kind, path, length };
    }
    case 'rename': {
      const from = reader.path();
      const to = reader.path();
      reader.end();
      return { kind, from, to };
    }
    default: {
      const path = reader.path();
      reader.end();
      return { kind, path };
    }
  }
}

/**
 * One frame's fields from its bytes (type byte first, no length prefix). Byte fields are views
 * into `body`: copy them to keep them past the buffer's reuse. Throws PROTOCOL_ERROR.
 */
export function decodeFrame(body: Buffer): Frame {
  const reader = new Reader(body, 0);
  const type = reader.u8();
  let frame: Frame;
  switch (type) {
    case FRAME.hello: {
      const version = reader.u8();
      const epoch = reader.u64();
      const nonce = reader.fixed(NONCE_BYTES);
      frame = { type: 'hello', version, epoch, nonce, nodeId: reader.text() };
      break;
    }
    case FRAME.join: {
      const version = reader.u8();
      const epoch = reader.u64();
      const appliedEpoch = reader.u64();
      const appliedSeq = reader.u64();
      const flags = reader.u8();
      if ((flags & ~1) !== 0) throw malformed('unknown join flags');
      const proof = reader.bytes8();
      const nodeId = reader.text();
      frame = {
        type: 'join',
        version,
        epoch,
        appliedEpoch,
        appliedSeq,
        exact: flags === 1,
        proof,
        nodeId,
      };
      break;
    }
    case FRAME.start: {
      const mode = reader.u8();
      if (mode > 1) throw malformed('unknown start mode');
      frame = { type: 'start', mode: mode === 0 ? 'continue' : 'snapshot', seq: reader.u64() };
      break;
    }
    case FRAME.op: {
      const seq = reader.u64();
      return { type: 'op', seq, op: decodeOp(reader) };
    }
    case FRAME.ack:
      frame = { type: 'ack', seq: reader.u64() };
      break;
    case FRAME.snapshotDirectory:
      frame = { type: 'snapshotDirectory', path: reader.path() };
      break;
    case FRAME.snapshotFile: {
      const path = reader.path();
      const position = reader.u64();
      return { type: 'snapshotFile', path, position, bytes: reader.rest() };
    }
    case FRAME.snapshotEnd:
      frame = { type: 'snapshotEnd', seq: reader.u64() };
      break;
    default:
      throw malformed(`unknown frame type ${type}`);
  }
  reader.end();
  return frame;
}

/**
 * Splits a byte stream into frame bodies. `push` returns the bodies completed by a chunk
 * (views into an internal copy: valid until the next push) and throws PROTOCOL_ERROR on a
 * length of 0 or past the maximum; after a throw the decoder must not be used again.
 */
export class FrameDecoder {
  readonly #frameBytesMax: number;
  /** Received bytes not yet returned, as the chunks they came in (joined only when needed). */
  #chunks: Buffer[] = [];
  #bufferedBytes = 0;
  /** Bytes the frame at the head needs (prefix included), once its length is known; else 0. */
  #needBytes = 0;

  constructor(frameBytesMax = REPLICATION_FRAME_BYTES_MAX) {
    this.#frameBytesMax = frameBytesMax;
  }

  /** Bytes received and not yet returned as a frame. */
  get bufferedBytes(): number {
    return this.#bufferedBytes;
  }

  push(chunk: Buffer): Buffer[] {
    this.#chunks.push(chunk);
    this.#bufferedBytes += chunk.length;
    if (this.#bufferedBytes < Math.max(LENGTH_BYTES, this.#needBytes)) return [];
    const buffer = this.#chunks.length === 1 ? chunk : Buffer.concat(this.#chunks);
    const frames: Buffer[] = [];
    let position = 0;
    this.#needBytes = 0;
    while (buffer.length - position >= LENGTH_BYTES) {
      const size = buffer.readUInt32BE(position);
      if (size === 0 || size > this.#frameBytesMax) {
        throw malformed(`frame length ${size} is outside 1..${this.#frameBytesMax}`);
      }
      if (buffer.length - position - LENGTH_BYTES < size) {
        this.#needBytes = LENGTH_BYTES + size;
        break;
      }
      frames.push(buffer.subarray(position + LENGTH_BYTES, position + LENGTH_BYTES + size));
      position += LENGTH_BYTES + size;
    }
    const rest = buffer.subarray(position);
    this.#chunks = rest.length === 0 ? [] : [rest];
    this.#bufferedBytes = rest.length;
    return frames;
  }
}

/** Byte position of an OP frame's seq (after the length prefix and the type byte). */
const OP_SEQ_POSITION = LENGTH_BYTES + 1;

/**
 * Sets the seq of an encoded OP frame. The leader encodes an op (copying the caller's bytes)
 * as soon as its local call is done, and numbers it only when its turn in call order comes.
 */
export function setOpSeq(frame: Buffer, seq: number): void {
  assert(frame.readUInt8(LENGTH_BYTES) === FRAME.op, 'only an OP frame has a seq');
  assert(Number.isSafeInteger(seq) && seq >= 0, 'a seq is a safe integer');
  frame.writeUInt32BE(Math.floor(seq / TWO_TO_32), OP_SEQ_POSITION);
  frame.writeUInt32BE(seq % TWO_TO_32, OP_SEQ_POSITION + 4);
}

/**
 * Names the leader never ships and a replica never takes from the wire, at the top of the
 * data directory: the data-dir lock files (LOCK, LOCK.*: src/broker/data-dir-lock.ts, each
 * node's own) and the replica's state (`.replica`) and staging (`.replica.*`).
 */
export function neverShipped(relative: string): boolean {
  const top = relative.split('/', 1)[0] ?? '';
  return (
    top === 'LOCK' || top.startsWith('LOCK.') || top === '.replica' || top.startsWith('.replica.')
  );
}
