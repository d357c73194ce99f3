/**
 * A segment: one `.log` file of record batches (layout in record-batch.ts) and its sparse
 * index (segment-index.ts), named after its base offset: `00000000000000000042.log` and
 * `00000000000000000042.index`.
 *
 * Concurrency: the owning log writes to a segment from one flush at a time, and `size` only
 * grows after a write is confirmed, so readers (any number, concurrently) only ever read the
 * confirmed prefix `[0, size)`.
 */
import * as path from 'node:path';
import { assert, WeirError } from '../util/index.js';
import { BATCH_BYTES_MAX, INDEX_INTERVAL_BYTES, RECOVERY_CHUNK_BYTES } from '../limits.js';
import type { FileHandle, FileSystem } from './file-system.js';
import {
  BATCH_HEADER_BYTES,
  checkBatch,
  readBatchHeader,
  type BatchHeader,
} from './record-batch.js';
import { SegmentIndex } from './segment-index.js';

const OFFSET_DIGITS = 20;

export function segmentName(baseOffset: number, extension: '.log' | '.index'): string {
  return String(baseOffset).padStart(OFFSET_DIGITS, '0') + extension;
}

/** Base offset from a `.log` file name, or null if the name is not a segment's. */
export function parseSegmentName(name: string): number | null {
  const match = /^(\d{20})\.log$/.exec(name);
  if (!match) return null;
  const value = Number(match[1]);
  return Number.isSafeInteger(value) ? value : null;
}

export class Segment {
  readonly baseOffset: number;
  readonly logPath: string;
  readonly indexPath: string;
  readonly index: SegmentIndex;
  readonly #fileSystem: FileSystem;
  readonly #handle: FileHandle;
  /** Confirmed bytes: everything below is valid batches. */
  size = 0;
  recordCount = 0;
  firstTimestamp = 0;
  maxTimestamp = 0;
  /** Wall-clock time of the first append, for rolling by age (0: empty). */
  createdAtMs = 0;
  #bytesSinceIndexEntry = 0;
  #readsInFlight = 0;
  #deleted = false;
  #closed = false;

  private constructor(
    fileSystem: FileSystem,
    directory: string,
    baseOffset: number,
    handle: FileHandle,
    index: SegmentIndex,
  ) {
    this.#fileSystem = fileSystem;
    this.baseOffset = baseOffset;
    this.logPath = path.join(directory, segmentName(baseOffset, '.log'));
    this.indexPath = path.join(directory, segmentName(baseOffset, '.index'));
    this.#handle = handle;
    this.index = index;
  }

  get nextOffset(): number {
    return this.baseOffset + this.recordCount;
  }

  /** Creates a new, empty segment file. The caller syncs the directory. */
  static async create(
    fileSystem: FileSystem,
    directory: string,
    baseOffset: number,
  ): Promise<Segment> {
    const handle = await fileSystem.open(path.join(directory, segmentName(baseOffset, '.log')));
    await handle.truncate(0);
    return new Segment(fileSystem, directory, baseOffset, handle, new SegmentIndex());
  }

  /**
   * Opens an existing segment and recovers it: loads its index file if valid, scans the
   * batches the index does not cover, and truncates the file at the first invalid batch.
   * Returns the segment and the number of bytes cut off (0 for a clean segment).
   */
  static async open(
    fileSystem: FileSystem,
    directory: string,
    baseOffset: number,
  ): Promise<{ segment: Segment; truncatedBytes: number }> {
    const handle = await fileSystem.open(path.join(directory, segmentName(baseOffset, '.log')));
    const fileBytes = await handle.size();
    const indexBytes = await fileSystem.readFile(
      path.join(directory, segmentName(baseOffset, '.index')),
    );
    const loaded = indexBytes ? SegmentIndex.decode(indexBytes, baseOffset, fileBytes) : null;
    const segment = new Segment(
      fileSystem,
      directory,
      baseOffset,
      handle,
      loaded?.index ?? new SegmentIndex(),
    );
    if (loaded) {
      segment.size = loaded.state.coveredBytes;
      segment.recordCount = loaded.state.recordCount;
      segment.firstTimestamp = loaded.state.firstTimestamp;
      segment.maxTimestamp = loaded.state.maxTimestamp;
      segment.createdAtMs = loaded.state.firstTimestamp;
      segment.#bytesSinceIndexEntry = segment.size - Math.max(0, segment.index.lastPosition());
    }
    await segment.#scan(fileBytes);
    const truncatedBytes = fileBytes - segment.size;
    if (truncatedBytes > 0) {
      await handle.truncate(segment.size);
      await handle.sync();
    }
    return { segment, truncatedBytes };
  }

  /** Validates batches from `size` to the end of the file, indexing them. */
  async #scan(fileBytes: number): Promise<void> {
    let chunk = Buffer.allocUnsafe(
      Math.min(RECOVERY_CHUNK_BYTES, Math.max(fileBytes - this.size, 0)),
    );
    while (this.size < fileBytes) {
      const want = Math.min(chunk.length, fileBytes - this.size);
      const got = await this.#readFully(chunk, want, this.size);
      let position = 0;
      let progressed = false;
      while (position < got) {
        const header = readBatchHeader(chunk, position, got - position);
        if (!header) {
          // Either a torn/corrupt header, or a header cut by the chunk's end.
          if (got - position < BATCH_HEADER_BYTES && this.size - position + got < fileBytes) break;
          return;
        }
        if (position + header.batchLength > got) {
          if (this.size + header.batchLength > fileBytes) return; // torn tail (this.size is at `position`)
          if (position === 0)
            chunk = Buffer.allocUnsafe(Math.min(header.batchLength, BATCH_BYTES_MAX));
          break;
        }
        if (!this.#acceptable(header) || !checkBatch(chunk, position, header)) return;
        this.#note(header, this.size);
        this.size += header.batchLength;
        position += header.batchLength;
        progressed = true;
      }
      if (!progressed && chunk.length < BATCH_HEADER_BYTES) return;
    }
  }

  #acceptable(header: BatchHeader): boolean {
    return header.baseOffset === this.nextOffset && header.maxTimestamp >= 0;
  }

  /** Records a batch at `position` in the index and the segment's statistics. */
  #note(header: BatchHeader, position: number): void {
    if (this.recordCount === 0) {
      this.firstTimestamp = header.firstTimestamp;
      if (this.createdAtMs === 0) this.createdAtMs = header.firstTimestamp;
    }
    if (this.index.count === 0 || this.#bytesSinceIndexEntry >= INDEX_INTERVAL_BYTES) {
      this.index.add(header.baseOffset - this.baseOffset, position, this.maxTimestamp);
      this.#bytesSinceIndexEntry = 0;
    }
    this.#bytesSinceIndexEntry += header.batchLength;
    this.recordCount += header.recordCount;
    if (header.maxTimestamp > this.maxTimestamp) this.maxTimestamp = header.maxTimestamp;
  }

  /** Writes all of `buffer[0, length)` at the end of the confirmed bytes (loops over short writes). */
  async write(buffer: Buffer, length: number): Promise<void> {
    let written = 0;
    while (written < length) {
      const count = await this.#handle.write(
        buffer,
        written,
        length - written,
        this.size + written,
      );
      if (count <= 0) throw Object.assign(new Error('write made no progress'), { code: 'EIO' });
      written += count;
    }
  }

  sync(): Promise<void> {
    return this.#handle.sync();
  }

  /** After a write is durable: its batches (`length` bytes in all) become part of the segment. */
  confirm(batches: readonly BatchHeader[], length: number): void {
    let position = 0;
    for (const header of batches) {
      this.#note(header, this.size + position);
      position += header.batchLength;
    }
    assert(position === length, 'confirmed batches fill the write');
    this.size += length;
  }

  /** Reads `length` bytes at `position` of the confirmed bytes into `buffer`. */
  async read(buffer: Buffer, length: number, position: number): Promise<number> {
    assert(position + length <= this.size, 'reads stay within confirmed bytes');
    if (this.#deleted) {
      // Retention removed the segment between the reader's lookup and this read.
      throw new WeirError('OFFSET_OUT_OF_RANGE', `${this.logPath} was removed by retention`);
    }
    this.#readsInFlight++;
    try {
      return await this.#readFully(buffer, length, position);
    } catch (error) {
      throw new WeirError('STORAGE_FAILED', `reading ${this.logPath} failed: ${String(error)}`, {
        cause: error,
      });
    } finally {
      this.#readsInFlight--;
      if (this.#readsInFlight === 0 && this.#deleted) await this.#closeHandle();
    }
  }

  async #readFully(buffer: Buffer, length: number, position: number): Promise<number> {
    let done = 0;
    while (done < length) {
      const count = await this.#handle.read(buffer, done, length - done, position + done);
      if (count === 0) break;
      done += count;
    }
    return done;
  }

  /** Persists the index so that the next open need not scan this segment. */
  async writeIndex(): Promise<void> {
    const handle = await this.#fileSystem.open(this.indexPath);
    try {
      const bytes = this.index.encode(this.baseOffset, {
        coveredBytes: this.size,
        recordCount: this.recordCount,
        firstTimestamp: this.firstTimestamp,
        maxTimestamp: this.maxTimestamp,
      });
      await handle.truncate(0);
      let written = 0;
      while (written < bytes.length) {
        written += await handle.write(bytes, written, bytes.length - written, written);
      }
    } finally {
      await handle.close();
    }
  }

  /** Removes the segment's files; its handle closes once reads in flight finish. */
  async delete(): Promise<void> {
    this.#deleted = true;
    await this.#fileSystem.unlink(this.logPath);
    await this.#fileSystem.unlink(this.indexPath).catch(() => undefined);
    if (this.#readsInFlight === 0) await this.#closeHandle();
  }

  async close(): Promise<void> {
    if (this.#readsInFlight === 0) await this.#closeHandle();
    else this.#deleted = true;
  }

  async #closeHandle(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#handle.close();
  }
}
