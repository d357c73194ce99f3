/**
 * A segment's sparse offset index and time index, in typed arrays.
 *
 * One entry per INDEX_INTERVAL_BYTES of batches, taken at a batch start: (offset relative to
 * the segment's base, byte position of the batch, largest timestamp before that batch). The
 * arrays grow by doubling up to INDEX_ENTRIES_MAX, so a segment's index costs 16 bytes per
 * 4 KiB of log (64 MiB segment: 256 KiB at most) and usually far less.
 *
 * Index file layout (`<base>.index`, little-endian), written when a segment is sealed or the
 * log closes:
 *   0   u32 magic INDEX_MAGIC ('WIX1')
 *   4   u32 crc   CRC-32C of bytes [8, end)
 *   8   u64 baseOffset
 *   16  u32 coveredBytes   log bytes validated when the index was written
 *   20  u32 recordCount    records in those bytes
 *   24  u32 entryCount
 *   28  u32 reserved
 *   32  u64 firstTimestamp (0: no records)
 *   40  u64 maxTimestamp
 *   48  entryCount × { u32 relativeOffset, u32 position, f64 timestampBefore }
 *
 * Recovery rule: an index file whose magic, CRC or base offset is wrong, or whose coveredBytes
 * exceeds the log file, is ignored and rebuilt by scanning the log; a valid one lets the scan
 * start at coveredBytes instead of 0.
 */
import { assert, crc32c } from '../util/index.js';
import { INDEX_ENTRIES_MAX } from '../limits.js';

export const INDEX_MAGIC = 0x31584957; // 'WIX1'
export const INDEX_HEADER_BYTES = 48;
const ENTRY_BYTES = 16;
const TWO_32 = 2 ** 32;

export interface IndexFileState {
  readonly coveredBytes: number;
  readonly recordCount: number;
  readonly firstTimestamp: number;
  readonly maxTimestamp: number;
}

export class SegmentIndex {
  #offsets = new Uint32Array(16);
  #positions = new Uint32Array(16);
  #timestamps = new Float64Array(16);
  #count = 0;

  get count(): number {
    return this.#count;
  }

  lastPosition(): number {
    return this.#count === 0 ? -1 : this.#positions[this.#count - 1]!;
  }

  add(relativeOffset: number, position: number, timestampBefore: number): void {
    if (this.#count > 0) {
      assert(relativeOffset > this.#offsets[this.#count - 1]!, 'index offsets increase');
      assert(position > this.#positions[this.#count - 1]!, 'index positions increase');
    }
    if (this.#count === INDEX_ENTRIES_MAX) return; // segment larger than SEGMENT_BYTES_MAX: sparser
    if (this.#count === this.#offsets.length) this.#grow();
    this.#offsets[this.#count] = relativeOffset;
    this.#positions[this.#count] = position;
    this.#timestamps[this.#count] = timestampBefore;
    this.#count++;
  }

  #grow(): void {
    const capacity = Math.min(this.#offsets.length * 2, INDEX_ENTRIES_MAX);
    const offsets = new Uint32Array(capacity);
    offsets.set(this.#offsets);
    const positions = new Uint32Array(capacity);
    positions.set(this.#positions);
    const timestamps = new Float64Array(capacity);
    timestamps.set(this.#timestamps);
    this.#offsets = offsets;
    this.#positions = positions;
    this.#timestamps = timestamps;
  }

  /** Byte position of the last indexed batch that starts at or before `relativeOffset` (0 if none). */
  positionFor(relativeOffset: number): number {
    let low = 0;
    let high = this.#count - 1;
    let found = 0;
    while (low <= high) {
      const middle = (low + high) >>> 1;
      if (this.#offsets[middle]! <= relativeOffset) {
        found = this.#positions[middle]!;
        low = middle + 1;
      } else {
        high = middle - 1;
      }
    }
    return found;
  }

  /** Relative offset of the last indexed batch before which every timestamp is < `timestamp`. */
  offsetForTime(timestamp: number): number {
    let low = 0;
    let high = this.#count - 1;
    let found = 0;
    while (low <= high) {
      const middle = (low + high) >>> 1;
      if (this.#timestamps[middle]! < timestamp) {
        found = this.#offsets[middle]!;
        low = middle + 1;
      } else {
        high = middle - 1;
      }
    }
    return found;
  }

  /** Drops entries at or past `position` (after a tail truncation). */
  truncateAt(position: number): void {
    while (this.#count > 0 && this.#positions[this.#count - 1]! >= position) this.#count--;
  }

  bytes(): number {
    return this.#offsets.byteLength + this.#positions.byteLength + this.#timestamps.byteLength;
  }

  encode(baseOffset: number, state: IndexFileState): Buffer {
    const buffer = Buffer.alloc(INDEX_HEADER_BYTES + this.#count * ENTRY_BYTES);
    buffer.writeUInt32LE(INDEX_MAGIC, 0);
    buffer.writeUInt32LE(baseOffset % TWO_32, 8);
    buffer.writeUInt32LE(Math.floor(baseOffset / TWO_32), 12);
    buffer.writeUInt32LE(state.coveredBytes, 16);
    buffer.writeUInt32LE(state.recordCount, 20);
    buffer.writeUInt32LE(this.#count, 24);
    buffer.writeUInt32LE(state.firstTimestamp % TWO_32, 32);
    buffer.writeUInt32LE(Math.floor(state.firstTimestamp / TWO_32), 36);
    buffer.writeUInt32LE(state.maxTimestamp % TWO_32, 40);
    buffer.writeUInt32LE(Math.floor(state.maxTimestamp / TWO_32), 44);
    for (let i = 0; i < this.#count; i++) {
      const at = INDEX_HEADER_BYTES + i * ENTRY_BYTES;
      buffer.writeUInt32LE(this.#offsets[i]!, at);
      buffer.writeUInt32LE(this.#positions[i]!, at + 4);
      buffer.writeDoubleLE(this.#timestamps[i]!, at + 8);
    }
    buffer.writeUInt32LE(crc32c(buffer, 0, 8), 4);
    return buffer;
  }

  /** Loads an index file; null when it is not a valid index of this segment. */
  static decode(
    bytes: Uint8Array,
    baseOffset: number,
    logBytes: number,
  ): { index: SegmentIndex; state: IndexFileState } | null {
    if (bytes.length < INDEX_HEADER_BYTES) return null;
    const buffer = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length);
    if (buffer.readUInt32LE(0) !== INDEX_MAGIC) return null;
    if (buffer.readUInt32LE(4) !== crc32c(buffer, 0, 8)) return null;
    const base = buffer.readUInt32LE(8) + buffer.readUInt32LE(12) * TWO_32;
    const coveredBytes = buffer.readUInt32LE(16);
    const recordCount = buffer.readUInt32LE(20);
    const entryCount = buffer.readUInt32LE(24);
    if (base !== baseOffset || coveredBytes > logBytes) return null;
    if (buffer.length !== INDEX_HEADER_BYTES + entryCount * ENTRY_BYTES) return null;
    if (entryCount > INDEX_ENTRIES_MAX) return null;
    const index = new SegmentIndex();
    for (let i = 0; i < entryCount; i++) {
      const at = INDEX_HEADER_BYTES + i * ENTRY_BYTES;
      const relativeOffset = buffer.readUInt32LE(at);
      const position = buffer.readUInt32LE(at + 4);
      if (position >= coveredBytes || relativeOffset >= recordCount) return null;
      if (
        i > 0 &&
        (relativeOffset <= index.#offsets[i - 1]! || position <= index.#positions[i - 1]!)
      ) {
        return null;
      }
      index.add(relativeOffset, position, buffer.readDoubleLE(at + 8));
    }
    const state: IndexFileState = {
      coveredBytes,
      recordCount,
      firstTimestamp: buffer.readUInt32LE(32) + buffer.readUInt32LE(36) * TWO_32,
      maxTimestamp: buffer.readUInt32LE(40) + buffer.readUInt32LE(44) * TWO_32,
    };
    return { index, state };
  }
}
