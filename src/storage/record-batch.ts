/**
 * Record batches: the unit the log writes, checksums, indexes and reads.
 *
 * Byte layout (all integers little-endian; u64 values are < 2^53 and stored as lo u32, hi u32):
 *
 *   batch header, BATCH_HEADER_BYTES = 40
 *   0   u32  batchLength      bytes of the whole batch, header included
 *   4   u32  crc              CRC-32C of bytes [8, batchLength)
 *   8   u8   magic            BATCH_MAGIC (1)
 *   9   u8   flags            0; reserved (compression, transactions)
 *   10  u16  reserved         0
 *   12  u32  recordCount      >= 1
 *   16  u64  baseOffset       offset of the first record; record i has baseOffset + i
 *   24  u64  firstTimestamp   timestamp of the first record (ms since the epoch)
 *   32  u64  maxTimestamp     largest record timestamp in the batch
 *
 *   then recordCount records, each:
 *   0   u32  recordLength     bytes after this field
 *   4   u64  timestamp
 *   12  i32  keyLength        -1: no key
 *       ...  key bytes
 *       u16  headerCount      (0xFFFF: headers absent, null)
 *       per header: u16 nameLength, name (UTF-8), u32 valueLength, value (UTF-8)
 *       u32  bodyLength
 *       ...  body bytes
 *
 * Recovery rule: a batch is valid when its length fits the bytes that follow, its magic and
 * CRC match, and its records parse to exactly batchLength bytes. The first invalid batch of a
 * segment ends that segment: it and everything after it is a torn or corrupt tail.
 */
import { assert, crc32c, setOwnProperty, Utf8Cache, WeirError } from '../util/index.js';
import {
  BATCH_BYTES_MAX,
  BATCH_RECORDS_MAX,
  RECORD_BYTES_MAX,
  RECORD_HEADERS_MAX,
} from '../limits.js';
import type { RecordHeaders, RecordInput, StoredRecord } from './record.js';

export const BATCH_HEADER_BYTES = 40;
export const BATCH_MAGIC = 1;
const RECORD_FIXED_BYTES = 4 + 8 + 4 + 2 + 4;
const HEADERS_ABSENT = 0xffff;
const TWO_32 = 2 ** 32;

export interface BatchHeader {
  readonly batchLength: number;
  readonly crc: number;
  readonly recordCount: number;
  readonly baseOffset: number;
  readonly firstTimestamp: number;
  readonly maxTimestamp: number;
}

function readU64(view: DataView, position: number): number {
  return view.getUint32(position, true) + view.getUint32(position + 4, true) * TWO_32;
}

function writeU64(view: DataView, position: number, value: number): void {
  view.setUint32(position, value % TWO_32, true);
  view.setUint32(position + 4, Math.floor(value / TWO_32), true);
}

const headerText = new Utf8Cache();

/** The longest header name: its length is a u16 on disk. */
const HEADER_NAME_BYTES_MAX = 0xffff;

/**
 * Bytes of the headers' entries (the u16 count is in RECORD_FIXED_BYTES). Checks what the
 * layout can hold, so a bad record is refused at `append` and never reaches a batch.
 */
function headersBytes(headers: RecordHeaders | null | undefined): number {
  if (!headers) return 0;
  let bytes = 0;
  let count = 0;
  for (const name in headers) {
    const value = headers[name];
    if (typeof value !== 'string') {
      throw new WeirError('INVALID_ARGUMENT', `header "${name}" must have a string value`);
    }
    const nameBytes = Buffer.byteLength(name);
    if (nameBytes > HEADER_NAME_BYTES_MAX) {
      throw new WeirError(
        'INVALID_ARGUMENT',
        `header name of ${nameBytes} bytes exceeds ${HEADER_NAME_BYTES_MAX}`,
      );
    }
    bytes += 2 + nameBytes + 4 + Buffer.byteLength(value);
    count++;
  }
  if (count > RECORD_HEADERS_MAX) {
    throw new WeirError('INVALID_ARGUMENT', `${count} headers exceed ${RECORD_HEADERS_MAX}`);
  }
  return bytes;
}

/** Bytes a record takes inside a batch; throws MESSAGE_TOO_LARGE past RECORD_BYTES_MAX. */
export function recordBytes(record: RecordInput): number {
  const bytes =
    RECORD_FIXED_BYTES +
    (record.key?.length ?? 0) +
    headersBytes(record.headers) +
    record.body.length;
  if (bytes > RECORD_BYTES_MAX) {
    throw new WeirError(
      'MESSAGE_TOO_LARGE',
      `record of ${bytes} bytes exceeds ${RECORD_BYTES_MAX}`,
    );
  }
  return bytes;
}

/**
 * Encodes `records` (offsets baseOffset..) into `target` at `position`; returns the end.
 * `sizes[i]` must be recordBytes(records[i]) and timestamps must be filled in.
 */
export function encodeBatch(
  target: Buffer,
  position: number,
  baseOffset: number,
  records: readonly RecordInput[],
  timestamps: readonly number[],
  sizes: readonly number[],
  from: number,
  to: number,
): number {
  const count = to - from;
  assert(count >= 1 && count <= BATCH_RECORDS_MAX, 'batch record count in range');
  const view = new DataView(target.buffer, target.byteOffset, target.byteLength);
  let cursor = position + BATCH_HEADER_BYTES;
  let maxTimestamp = 0;
  for (let i = from; i < to; i++) {
    const record = records[i]!;
    const timestamp = timestamps[i]!;
    if (timestamp > maxTimestamp) maxTimestamp = timestamp;
    const start = cursor;
    cursor += 4;
    writeU64(view, cursor, timestamp);
    cursor += 8;
    const key = record.key;
    if (key) {
      view.setInt32(cursor, key.length, true);
      target.set(key, cursor + 4);
      cursor += 4 + key.length;
    } else {
      view.setInt32(cursor, -1, true);
      cursor += 4;
    }
    const headers = record.headers;
    if (headers) {
      const countPosition = cursor;
      let headerCount = 0;
      cursor += 2;
      for (const name in headers) {
        const nameLength = target.write(name, cursor + 2, 'utf8');
        view.setUint16(cursor, nameLength, true);
        cursor += 2 + nameLength;
        const valueLength = target.write(headers[name]!, cursor + 4, 'utf8');
        view.setUint32(cursor, valueLength, true);
        cursor += 4 + valueLength;
        headerCount++;
      }
      assert(headerCount <= RECORD_HEADERS_MAX, 'header count checked by recordBytes');
      view.setUint16(countPosition, headerCount, true);
    } else {
      view.setUint16(cursor, HEADERS_ABSENT, true);
      cursor += 2;
    }
    view.setUint32(cursor, record.body.length, true);
    target.set(record.body, cursor + 4);
    cursor += 4 + record.body.length;
    assert(cursor - start === sizes[i], 'record encoded to its computed size');
    view.setUint32(start, cursor - start - 4, true);
  }
  const batchLength = cursor - position;
  assert(batchLength <= BATCH_BYTES_MAX, 'batch within BATCH_BYTES_MAX');
  view.setUint32(position, batchLength, true);
  view.setUint8(position + 8, BATCH_MAGIC);
  view.setUint8(position + 9, 0);
  view.setUint16(position + 10, 0, true);
  view.setUint32(position + 12, count, true);
  writeU64(view, position + 16, baseOffset);
  writeU64(view, position + 24, timestamps[from]!);
  writeU64(view, position + 32, maxTimestamp);
  view.setUint32(position + 4, crc32c(target, 0, position + 8, position + batchLength), true);
  return cursor;
}

/**
 * Reads and checks a batch header at `position` of `bytes` (which holds `available` bytes from
 * there on). Returns null if the header is not valid or the batch does not fit the bytes.
 * The CRC is not checked here: `checkBatch` does that once the whole batch is at hand.
 */
export function readBatchHeader(
  bytes: Uint8Array,
  position: number,
  available: number,
): BatchHeader | null {
  if (available < BATCH_HEADER_BYTES) return null;
  const view = new DataView(bytes.buffer, bytes.byteOffset + position, BATCH_HEADER_BYTES);
  const batchLength = view.getUint32(0, true);
  if (batchLength < BATCH_HEADER_BYTES + RECORD_FIXED_BYTES || batchLength > BATCH_BYTES_MAX)
    return null;
  if (
    view.getUint8(8) !== BATCH_MAGIC ||
    view.getUint8(9) !== 0 ||
    view.getUint16(10, true) !== 0
  ) {
    return null;
  }
  const recordCount = view.getUint32(12, true);
  if (recordCount < 1 || recordCount > BATCH_RECORDS_MAX) return null;
  return {
    batchLength,
    crc: view.getUint32(4, true),
    recordCount,
    baseOffset: readU64(view, 16),
    firstTimestamp: readU64(view, 24),
    maxTimestamp: readU64(view, 32),
  };
}

/** True when the whole batch at `position` (header already read) matches its CRC. */
export function checkBatch(bytes: Uint8Array, position: number, header: BatchHeader): boolean {
  return crc32c(bytes, 0, position + 8, position + header.batchLength) === header.crc;
}

/**
 * Decodes the records of a checked batch, skipping those below `fromOffset` (stepped over by
 * their length, not parsed) and stopping once `into` holds `intoMax` records. Throws
 * CORRUPT_DATA if the records decoded do not parse, or a batch decoded to its end does not
 * end exactly at the batch's length (a bug or a CRC collision: never served).
 */
export function decodeBatch(
  bytes: Uint8Array,
  position: number,
  header: BatchHeader,
  fromOffset: number,
  into: StoredRecord[],
  intoMax = Infinity,
): void {
  const end = position + header.batchLength;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let cursor = position + BATCH_HEADER_BYTES;
  const corrupt = (why: string) =>
    new WeirError('CORRUPT_DATA', `batch at offset ${header.baseOffset}: ${why}`);
  for (let i = 0; i < header.recordCount; i++) {
    if (cursor + RECORD_FIXED_BYTES > end) throw corrupt('record runs past the batch');
    const recordEnd = cursor + 4 + view.getUint32(cursor, true);
    if (recordEnd > end) throw corrupt('record length runs past the batch');
    if (header.baseOffset + i < fromOffset) {
      cursor = recordEnd;
      continue;
    }
    if (into.length >= intoMax) return;
    const timestamp = readU64(view, cursor + 4);
    const keyLength = view.getInt32(cursor + 12, true);
    cursor += 16;
    let key: Uint8Array | null = null;
    if (keyLength >= 0) {
      if (cursor + keyLength > recordEnd) throw corrupt('key runs past the record');
      key = bytes.subarray(cursor, cursor + keyLength);
      cursor += keyLength;
    }
    const headerCount = view.getUint16(cursor, true);
    cursor += 2;
    let headers: Record<string, string> | null = null;
    if (headerCount !== HEADERS_ABSENT) {
      headers = {};
      for (let h = 0; h < headerCount; h++) {
        if (cursor + 2 > recordEnd) throw corrupt('header runs past the record');
        const nameLength = view.getUint16(cursor, true);
        const name = headerText.decode(bytes, cursor + 2, cursor + 2 + nameLength);
        cursor += 2 + nameLength;
        if (cursor + 4 > recordEnd) throw corrupt('header runs past the record');
        const valueLength = view.getUint32(cursor, true);
        if (cursor + 4 + valueLength > recordEnd) throw corrupt('header runs past the record');
        const value = headerText.decode(bytes, cursor + 4, cursor + 4 + valueLength);
        setOwnProperty(headers, name, value);
        cursor += 4 + valueLength;
      }
    }
    if (cursor + 4 > recordEnd) throw corrupt('body length runs past the record');
    const bodyLength = view.getUint32(cursor, true);
    cursor += 4;
    if (cursor + bodyLength !== recordEnd) throw corrupt('record fields do not add up');
    const offset = header.baseOffset + i;
    into.push({ offset, timestamp, key, headers, body: bytes.subarray(cursor, recordEnd) });
    cursor = recordEnd;
  }
  if (cursor !== end) throw corrupt('records do not fill the batch');
}
