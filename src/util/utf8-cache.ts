/**
 * UTF-8 decoding of short strings through a small direct-mapped cache: a broker decodes the
 * same header names and subjects for every message, and a TextDecoder call (a native call and
 * a subarray each) costs more than hashing and comparing a few bytes. Strings longer than
 * UTF8_CACHE_BYTES_MAX are decoded directly. Memory: UTF8_CACHE_SLOTS entries of at most
 * UTF8_CACHE_BYTES_MAX bytes per cache. Decoding is TextDecoder's (replacement characters for
 * invalid input), cached or not.
 */
const UTF8_CACHE_SLOTS = 256; // a power of two
const UTF8_CACHE_BYTES_MAX = 64;

const decoder = new TextDecoder();

export class Utf8Cache {
  readonly #keys: (Uint8Array | null)[] = new Array<Uint8Array | null>(UTF8_CACHE_SLOTS).fill(null);
  readonly #values: string[] = new Array<string>(UTF8_CACHE_SLOTS).fill('');

  /** The string of `bytes[start, end)`. */
  decode(bytes: Uint8Array, start: number, end: number): string {
    const length = end - start;
    if (length === 0) return '';
    if (length > UTF8_CACHE_BYTES_MAX) return decoder.decode(bytes.subarray(start, end));
    let hash = length;
    for (let at = start; at < end; at++) hash = (Math.imul(hash, 31) + bytes[at]!) | 0;
    const slot = (hash ^ (hash >>> 16)) & (UTF8_CACHE_SLOTS - 1);
    const key = this.#keys[slot]!;
    if (key !== null && key.length === length) {
      let at = 0;
      while (at < length && key[at] === bytes[start + at]) at++;
      if (at === length) return this.#values[slot]!;
    }
    const value = decoder.decode(bytes.subarray(start, end));
    this.#keys[slot] = bytes.slice(start, end);
    this.#values[slot] = value;
    return value;
  }
}
