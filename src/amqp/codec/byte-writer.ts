/**
 * A growable big-endian writer for AMQP's domains. Every write checks its value's range and
 * throws RangeError for what the wire cannot carry (a caller's fault, never a peer's).
 * Not shared between callers: each encode call takes the module's scratch writer, fills it
 * synchronously and copies the result out.
 */
import { ENCODE_SCRATCH_BYTES_DEFAULT, SHORTSTR_BYTES_MAX } from './limits.js';

const UINT32_LIMIT = 2 ** 32;
const UTF8_BYTES_PER_CODE_UNIT_MAX = 3;

const encoder = new TextEncoder();

export function checkInteger(value: number, minimum: number, maximum: number, what: string): void {
  if (!Number.isInteger(value) || value < minimum || value > maximum) {
    throw new RangeError(`${what} must be an integer in [${minimum}, ${maximum}], got ${value}`);
  }
}

export class ByteWriter {
  #bytes: Uint8Array;
  #view: DataView;
  #length = 0;

  constructor(capacity: number) {
    this.#bytes = new Uint8Array(capacity);
    this.#view = new DataView(this.#bytes.buffer);
  }

  get length(): number {
    return this.#length;
  }

  /** Forgets what was written; drops a buffer that grew past the default size. */
  reset(): void {
    this.#length = 0;
    if (this.#bytes.length > ENCODE_SCRATCH_BYTES_DEFAULT) {
      this.#bytes = new Uint8Array(ENCODE_SCRATCH_BYTES_DEFAULT);
      this.#view = new DataView(this.#bytes.buffer);
    }
  }

  /** A copy of the bytes written, exactly sized. */
  copy(): Uint8Array {
    return this.#bytes.slice(0, this.#length);
  }

  #reserve(count: number): void {
    const needed = this.#length + count;
    if (needed <= this.#bytes.length) return;
    let capacity = this.#bytes.length * 2;
    while (capacity < needed) capacity *= 2;
    const bytes = new Uint8Array(capacity);
    bytes.set(this.#bytes.subarray(0, this.#length));
    this.#bytes = bytes;
    this.#view = new DataView(bytes.buffer);
  }

  octet(value: number, what = 'octet'): void {
    checkInteger(value, 0, 0xff, what);
    this.#reserve(1);
    this.#bytes[this.#length++] = value;
  }

  int8(value: number): void {
    this.#reserve(1);
    this.#view.setInt8(this.#length, value);
    this.#length += 1;
  }

  short(value: number, what = 'short'): void {
    checkInteger(value, 0, 0xffff, what);
    this.#reserve(2);
    this.#view.setUint16(this.#length, value);
    this.#length += 2;
  }

  long(value: number, what = 'long'): void {
    checkInteger(value, 0, UINT32_LIMIT - 1, what);
    this.#reserve(4);
    this.#view.setUint32(this.#length, value);
    this.#length += 4;
  }

  int32(value: number): void {
    this.#reserve(4);
    this.#view.setInt32(this.#length, value);
    this.#length += 4;
  }

  /** An unsigned 64-bit integer from a safe, non-negative number. */
  longlong(value: number, what = 'longlong'): void {
    checkInteger(value, 0, Number.MAX_SAFE_INTEGER, what);
    this.#reserve(8);
    this.#view.setUint32(this.#length, Math.floor(value / UINT32_LIMIT));
    this.#view.setUint32(this.#length + 4, value % UINT32_LIMIT);
    this.#length += 8;
  }

  int64(value: bigint): void {
    if (value < -(2n ** 63n) || value >= 2n ** 63n) {
      throw new RangeError(`a signed 64-bit integer cannot hold ${value}`);
    }
    this.#reserve(8);
    this.#view.setBigInt64(this.#length, value);
    this.#length += 8;
  }

  float64(value: number): void {
    this.#reserve(8);
    this.#view.setFloat64(this.#length, value);
    this.#length += 8;
  }

  /** A length octet and the UTF-8 bytes of `value`, at most 255 of them. */
  shortString(value: string, what = 'shortstr'): void {
    this.#reserve(1 + value.length * UTF8_BYTES_PER_CODE_UNIT_MAX);
    const start = this.#length + 1;
    const { written } = encoder.encodeInto(value, this.#bytes.subarray(start));
    if (written > SHORTSTR_BYTES_MAX) {
      throw new RangeError(`${what} is ${written} bytes of UTF-8, more than ${SHORTSTR_BYTES_MAX}`);
    }
    this.#bytes[this.#length] = written;
    this.#length = start + written;
  }

  /** A u32 length and the UTF-8 bytes of `value`. */
  longString(value: string): void {
    this.#reserve(4 + value.length * UTF8_BYTES_PER_CODE_UNIT_MAX);
    const start = this.#length + 4;
    const { written } = encoder.encodeInto(value, this.#bytes.subarray(start));
    this.#view.setUint32(this.#length, written);
    this.#length = start + written;
  }

  /** A u32 length and `value`. */
  longBytes(value: Uint8Array): void {
    this.long(value.length, 'a longstr length');
    this.bytes(value);
  }

  bytes(value: Uint8Array): void {
    this.#reserve(value.length);
    this.#bytes.set(value, this.#length);
    this.#length += value.length;
  }

  /** Writes `value` as a u32 at `position`, inside what was written already. */
  patchLong(position: number, value: number): void {
    checkInteger(value, 0, UINT32_LIMIT - 1, 'a patched length');
    this.#view.setUint32(position, value);
  }

  /** The octet at `position`, inside what was written already. */
  byteAt(position: number): number {
    return this.#bytes[position]!;
  }

  /** Writes `value` as an octet at `position`, inside what was written already. */
  patchOctet(position: number, value: number): void {
    this.#bytes[position] = value;
  }
}

const scratch = new ByteWriter(ENCODE_SCRATCH_BYTES_DEFAULT);
let scratchInUse = false;

/** Runs `write` on the shared scratch writer and returns a copy of what it wrote. */
export function encodeWith(write: (writer: ByteWriter) => void): Uint8Array {
  // Nested use (an encoder calling another encoder) gets a writer of its own.
  const writer = scratchInUse ? new ByteWriter(ENCODE_SCRATCH_BYTES_DEFAULT) : scratch;
  const owned = writer === scratch;
  if (owned) scratchInUse = true;
  try {
    write(writer);
    return writer.copy();
  } finally {
    writer.reset();
    if (owned) scratchInUse = false;
  }
}
