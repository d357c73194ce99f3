/**
 * A bounds-checked big-endian reader over one frame's payload. Reading past `end`, or a value
 * the codec cannot represent, throws AmqpFrameError 502 (syntax-error) naming the fault's place.
 * Strings decode as UTF-8 (invalid sequences become U+FFFD, as TextDecoder does); byte fields
 * are copied, so nothing returned refers to the input.
 */
import { Utf8Cache } from '../../util/index.js';
import { REPLY_CODES } from './constants.js';
import { AmqpFrameError, type FaultPlace } from './errors.js';

const UINT32_LIMIT = 2 ** 32;
/** The high word of a longlong that is still a safe integer is below this. */
const SAFE_HIGH_WORD_LIMIT = 2 ** 21;

const strings = new Utf8Cache();

export class ByteReader {
  readonly bytes: Uint8Array;
  position: number;
  readonly end: number;
  place: FaultPlace;
  #view: DataView | null = null;

  constructor(bytes: Uint8Array, start: number, end: number, place: FaultPlace) {
    this.bytes = bytes;
    this.position = start;
    this.end = end;
    this.place = place;
  }

  get remaining(): number {
    return this.end - this.position;
  }

  fail(message: string): never {
    throw new AmqpFrameError(REPLY_CODES.syntaxError, message, this.place);
  }

  #need(count: number, what: string): void {
    if (this.position + count > this.end) {
      this.fail(`${what} truncated: needs ${count} bytes, ${this.end - this.position} left`);
    }
  }

  #dataView(): DataView {
    this.#view ??= new DataView(this.bytes.buffer, this.bytes.byteOffset, this.bytes.byteLength);
    return this.#view;
  }

  octet(what = 'octet'): number {
    this.#need(1, what);
    return this.bytes[this.position++]!;
  }

  short(what = 'short'): number {
    this.#need(2, what);
    const at = this.position;
    this.position += 2;
    return (this.bytes[at]! << 8) | this.bytes[at + 1]!;
  }

  long(what = 'long'): number {
    this.#need(4, what);
    const at = this.position;
    this.position += 4;
    const bytes = this.bytes;
    return (
      bytes[at]! * 0x100_0000 + ((bytes[at + 1]! << 16) | (bytes[at + 2]! << 8) | bytes[at + 3]!)
    );
  }

  /** An unsigned 64-bit integer; above Number.MAX_SAFE_INTEGER is a syntax error. */
  longlong(what = 'longlong'): number {
    this.#need(8, what);
    const high = this.long(what);
    const low = this.long(what);
    if (high >= SAFE_HIGH_WORD_LIMIT) this.fail(`${what} is above 2^53 - 1`);
    return high * UINT32_LIMIT + low;
  }

  int8(what: string): number {
    this.#need(1, what);
    return this.#dataView().getInt8(this.position++);
  }

  int16(what: string): number {
    this.#need(2, what);
    const value = this.#dataView().getInt16(this.position);
    this.position += 2;
    return value;
  }

  int32(what: string): number {
    this.#need(4, what);
    const value = this.#dataView().getInt32(this.position);
    this.position += 4;
    return value;
  }

  /** A signed 64-bit integer: a number when safe, else a bigint. */
  int64(what: string): number | bigint {
    this.#need(8, what);
    const value = this.#dataView().getBigInt64(this.position);
    this.position += 8;
    return value >= BigInt(Number.MIN_SAFE_INTEGER) && value <= BigInt(Number.MAX_SAFE_INTEGER)
      ? Number(value)
      : value;
  }

  float32(what: string): number {
    this.#need(4, what);
    const value = this.#dataView().getFloat32(this.position);
    this.position += 4;
    return value;
  }

  float64(what: string): number {
    this.#need(8, what);
    const value = this.#dataView().getFloat64(this.position);
    this.position += 8;
    return value;
  }

  shortString(what = 'shortstr'): string {
    const length = this.octet(what);
    this.#need(length, what);
    const start = this.position;
    this.position += length;
    return strings.decode(this.bytes, start, this.position);
  }

  longString(what = 'longstr'): string {
    const length = this.long(what);
    this.#need(length, what);
    const start = this.position;
    this.position += length;
    return strings.decode(this.bytes, start, this.position);
  }

  /** A longstr's bytes, copied. */
  longBytes(what = 'longstr'): Uint8Array {
    const length = this.long(what);
    return this.copy(length, what);
  }

  /** The next `length` bytes, copied. */
  copy(length: number, what: string): Uint8Array {
    this.#need(length, what);
    const copy = new Uint8Array(length);
    copy.set(this.bytes.subarray(this.position, this.position + length));
    this.position += length;
    return copy;
  }
}
