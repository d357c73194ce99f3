/**
 * How a schedule record is packed into a byte buffer, with no object per record: the record
 * cache's slabs (schedule-record-cache.ts) and the due-time buckets' files (schedule-buckets.ts)
 * hold records this way. A packed record, little-endian:
 *   0   f64  dueAt
 *   8   u32  bytes of the packed record (this header included)
 *   12  i32  key length (-1: no key)
 *   16  u32  body length
 *   20  u16  header count (0xFFFF: headers absent, null)
 *   22  per header: u16 name length, name (UTF-8), u32 value length, value (UTF-8)
 *       then the key bytes, then the body bytes
 *
 * Concurrency: pure functions over the caller's buffers.
 */
import type { RecordHeaders, StoredRecord } from '../storage/index.js';
import { assert, setOwnProperty, Utf8Cache } from '../util/index.js';

/** What a packed record holds: enough to build its move (message-codec.ts movedRecord). */
export interface ScheduleRecordSource {
  readonly key?: Uint8Array | null | undefined;
  readonly headers?: RecordHeaders | null | undefined;
  readonly body: Uint8Array;
}

export const PACKED_FIXED_BYTES = 22;
const HEADERS_ABSENT = 0xffff;

const headerText = new Utf8Cache();

/**
 * An upper bound of the record's packed size (UTF-8 takes at most 3 bytes a UTF-16 code unit;
 * the real size is known once written).
 */
export function packedBound(source: ScheduleRecordSource): number {
  let bound = PACKED_FIXED_BYTES + (source.key?.length ?? 0) + source.body.length;
  const headers = source.headers ?? null;
  if (headers !== null)
    for (const name in headers) bound += 6 + 3 * (name.length + headers[name]!.length);
  return bound;
}

/**
 * Packs the record at `start` of `bytes` (which has at least packedBound(source) bytes there);
 * returns its packed length.
 */
export function packRecord(
  bytes: Buffer,
  start: number,
  dueAt: number,
  source: ScheduleRecordSource,
): number {
  const key = source.key ?? null;
  const headers = source.headers ?? null;
  let at = start + PACKED_FIXED_BYTES;
  let headerCount = HEADERS_ABSENT;
  if (headers !== null) {
    headerCount = 0;
    for (const name in headers) {
      const nameLength = bytes.write(name, at + 2, 'utf8');
      bytes.writeUInt16LE(nameLength, at);
      at += 2 + nameLength;
      const valueLength = bytes.write(headers[name]!, at + 4, 'utf8');
      bytes.writeUInt32LE(valueLength, at);
      at += 4 + valueLength;
      headerCount++;
    }
  }
  if (key !== null) {
    bytes.set(key, at);
    at += key.length;
  }
  bytes.set(source.body, at);
  at += source.body.length;
  const length = at - start;
  bytes.writeDoubleLE(dueAt, start);
  bytes.writeUInt32LE(length, start + 8);
  bytes.writeInt32LE(key === null ? -1 : key.length, start + 12);
  bytes.writeUInt32LE(source.body.length, start + 16);
  bytes.writeUInt16LE(headerCount, start + 20);
  return length;
}

export function packedDueAt(bytes: Buffer, start: number): number {
  return bytes.readDoubleLE(start);
}

export function packedLength(bytes: Buffer, start: number): number {
  return bytes.readUInt32LE(start + 8);
}

/**
 * `bytes[start, end)` in a buffer of its own: small ones come from Node's shared pool, so a
 * record on its way to the partition log does not keep a whole slab or read chunk alive.
 */
function copyOut(bytes: Buffer, start: number, end: number): Buffer {
  const copy = Buffer.allocUnsafe(end - start);
  bytes.copy(copy, 0, start, end);
  return copy;
}

/** The record packed at `start` of `bytes`; key and body are copies. */
export function unpackRecord(bytes: Buffer, start: number, offset: number): StoredRecord {
  const length = bytes.readUInt32LE(start + 8);
  assert(
    length >= PACKED_FIXED_BYTES && start + length <= bytes.length,
    'a packed record lies within its buffer',
  );
  const keyLength = bytes.readInt32LE(start + 12);
  const bodyLength = bytes.readUInt32LE(start + 16);
  const headerCount = bytes.readUInt16LE(start + 20);
  let at = start + PACKED_FIXED_BYTES;
  let headers: Record<string, string> | null = null;
  if (headerCount !== HEADERS_ABSENT) {
    headers = {};
    for (let index = 0; index < headerCount; index++) {
      const nameLength = bytes.readUInt16LE(at);
      const name = headerText.decode(bytes, at + 2, at + 2 + nameLength);
      at += 2 + nameLength;
      const valueLength = bytes.readUInt32LE(at);
      const value = bytes.toString('utf8', at + 4, at + 4 + valueLength);
      at += 4 + valueLength;
      setOwnProperty(headers, name, value);
    }
  }
  let key: Uint8Array | null = null;
  if (keyLength >= 0) {
    key = copyOut(bytes, at, at + keyLength);
    at += keyLength;
  }
  const body = copyOut(bytes, at, at + bodyLength);
  assert(at + bodyLength === start + length, 'a packed record ends where its length says');
  return { offset, timestamp: 0, key, headers, body };
}
