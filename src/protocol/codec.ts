/**
 * Hand-written binary encoding for the hot frames: a growable writer and a bounds-checked
 * reader over Uint8Array/DataView (no Node-only API: the protocol layer must run in a browser
 * behind a WebSocket too). Integers are little-endian; a `u64` is a number below 2^53 written
 * as low u32, high u32. Strings are UTF-8 with a u32 length (`string`) or a u16 one
 * (`shortString`); `null` strings and byte arrays use length 0xFFFFFFFF.
 *
 * A reader that runs past its frame throws WeirError PROTOCOL_ERROR: malformed input is the
 * peer's fault, never an assertion.
 */
import { Utf8Cache, WeirError } from '../util/index.js';

const TWO_32 = 2 ** 32;
const NULL_LENGTH = 0xffffffff;
const encoder = new TextEncoder();
const text = new Utf8Cache();

export class Writer {
  #bytes: Uint8Array;
  #view: DataView;
  position = 0;

  constructor(capacity = 256) {
    this.#bytes = new Uint8Array(capacity);
    this.#view = new DataView(this.#bytes.buffer);
  }

  #ensure(extra: number): void {
    const needed = this.position + extra;
    if (needed <= this.#bytes.length) return;
    let capacity = this.#bytes.length * 2;
    while (capacity < needed) capacity *= 2;
    const grown = new Uint8Array(capacity);
    grown.set(this.#bytes.subarray(0, this.position));
    this.#bytes = grown;
    this.#view = new DataView(grown.buffer);
  }

  u8(value: number): this {
    this.#ensure(1);
    this.#view.setUint8(this.position, value);
    this.position += 1;
    return this;
  }

  u16(value: number): this {
    this.#ensure(2);
    this.#view.setUint16(this.position, value, true);
    this.position += 2;
    return this;
  }

  u32(value: number): this {
    this.#ensure(4);
    this.#view.setUint32(this.position, value, true);
    this.position += 4;
    return this;
  }

  u64(value: number): this {
    this.#ensure(8);
    this.#view.setUint32(this.position, value % TWO_32, true);
    this.#view.setUint32(this.position + 4, Math.floor(value / TWO_32), true);
    this.position += 8;
    return this;
  }

  /** A signed 64-bit value as a float64 (integers up to 2^53 exactly); for times and deltas. */
  f64(value: number): this {
    this.#ensure(8);
    this.#view.setFloat64(this.position, value, true);
    this.position += 8;
    return this;
  }

  bytes(value: Uint8Array | null): this {
    if (value === null) return this.u32(NULL_LENGTH);
    this.u32(value.length);
    this.#ensure(value.length);
    this.#bytes.set(value, this.position);
    this.position += value.length;
    return this;
  }

  string(value: string | null): this {
    if (value === null) return this.u32(NULL_LENGTH);
    // UTF-8 takes at most 3 bytes per UTF-16 unit.
    this.#ensure(4 + value.length * 3);
    const { written } = encoder.encodeInto(value, this.#bytes.subarray(this.position + 4));
    this.#view.setUint32(this.position, written, true);
    this.position += 4 + written;
    return this;
  }

  /** Patches a u32 written earlier (frame lengths, counts known only at the end). */
  patchU32(position: number, value: number): void {
    this.#view.setUint32(position, value, true);
  }

  /** The bytes written so far (a view: copy it if the writer is reused). */
  finish(): Uint8Array {
    return this.#bytes.subarray(0, this.position);
  }

  reset(): void {
    this.position = 0;
  }

  /** Bytes `[start, end)` written so far, as a view (valid until the writer is written again). */
  view(start: number, end: number): Uint8Array {
    return this.#bytes.subarray(start, end);
  }

  /** Room before the writer has to grow. */
  get capacity(): number {
    return this.#bytes.length;
  }

  /** Starts over in a fresh buffer of `capacity` bytes. */
  renew(capacity: number): void {
    this.#bytes = new Uint8Array(capacity);
    this.#view = new DataView(this.#bytes.buffer);
    this.position = 0;
  }
}

export class Reader {
  readonly #bytes: Uint8Array;
  readonly #view: DataView;
  position: number;
  readonly end: number;

  constructor(bytes: Uint8Array, start = 0, end = bytes.length) {
    this.#bytes = bytes;
    this.#view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.position = start;
    this.end = end;
  }

  #need(count: number): void {
    if (this.position + count > this.end) {
      throw new WeirError(
        'PROTOCOL_ERROR',
        `frame ends early: needed ${count} more bytes at ${this.position}`,
      );
    }
  }

  get remaining(): number {
    return this.end - this.position;
  }

  u8(): number {
    this.#need(1);
    return this.#view.getUint8(this.position++);
  }

  u16(): number {
    this.#need(2);
    const value = this.#view.getUint16(this.position, true);
    this.position += 2;
    return value;
  }

  u32(): number {
    this.#need(4);
    const value = this.#view.getUint32(this.position, true);
    this.position += 4;
    return value;
  }

  u64(): number {
    this.#need(8);
    const high = this.#view.getUint32(this.position + 4, true);
    if (high >= 2 ** 21) throw new WeirError('PROTOCOL_ERROR', 'u64 above 2^53');
    const value = this.#view.getUint32(this.position, true) + high * TWO_32;
    this.position += 8;
    return value;
  }

  f64(): number {
    this.#need(8);
    const value = this.#view.getFloat64(this.position, true);
    this.position += 8;
    return value;
  }

  /** A view into the frame (no copy): valid as long as the frame's bytes are. */
  bytes(): Uint8Array | null {
    const length = this.u32();
    if (length === NULL_LENGTH) return null;
    this.#need(length);
    const value = this.#bytes.subarray(this.position, this.position + length);
    this.position += length;
    return value;
  }

  string(): string | null {
    const length = this.u32();
    if (length === NULL_LENGTH) return null;
    this.#need(length);
    const value = text.decode(this.#bytes, this.position, this.position + length);
    this.position += length;
    return value;
  }

  /** A string that must be present. */
  text(): string {
    const value = this.string();
    if (value === null) throw new WeirError('PROTOCOL_ERROR', 'a required string is null');
    return value;
  }

  /** Throws unless the whole frame was read: trailing bytes mean the peer and we disagree. */
  done(): void {
    if (this.position !== this.end) {
      throw new WeirError(
        'PROTOCOL_ERROR',
        `${this.end - this.position} unexpected bytes at the end of a frame`,
      );
    }
  }
}
