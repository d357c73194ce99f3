/**
 * Due-time buckets: a second, disposable copy of a partition's pending schedule records, laid
 * out by due window, so that a refill reads only the records due next. The schedule log is in
 * publish order; without buckets every refill scan decoded the whole pending schedule (a
 * million records, 3-9 s at 100% CPU while 25,000 messages a second were due: the cause of
 * the p99 lateness, docs/performance.md).
 *
 * Not durable, and not needed for correctness: the schedule log and the checkpoint stay the
 * only truth (scheduler.ts). Bucket files are never fsynced; open removes whatever a previous
 * run left (a crash leaves unsynced, torn or stale files), and the scheduler's recovery scan,
 * which reads the whole pending schedule anyway, fills them again. Any failure (a write or
 * read error, a checksum mismatch) turns the buckets off for good (`failure`): the scheduler
 * then refills by scanning the schedule log, as before.
 *
 * Windows. A record due at dueAt belongs to window floor(dueAt / windowMs). A *generation*
 * (from `reset`, at open and before each full scan of the schedule log) has a base window (the
 * clock's at the reset) and keeps windows [base, base + windowsMax); a record due later is not
 * bucketed ("far"), and neither is one that finds too many bytes being written: the buckets
 * then hold every pending record only for due times below `incompleteFromDueAt` (the
 * smallest dueAt not bucketed). A window can serve a refill if it is complete (its end is at
 * most incompleteFromDueAt), kept (not dropped), and the generation is built (its full scan
 * has ended; until then records below the scan's start offset may be missing).
 *
 * Files: `<directory>/<generation>-<window>.bucket`, appended by chunks, each:
 *   0   u32  entry bytes that follow (L)
 *   4   u32  CRC-32C of those L bytes
 *   8   entries: f64 schedule offset, then the record packed (schedule-record-packing.ts,
 *       whose header holds its dueAt and length)
 * A window's records are buffered in memory and written as one chunk once its buffer holds
 * SCHEDULE_BUCKET_WRITE_BYTES (every window's at once when all buffers hold
 * SCHEDULE_BUCKET_BUFFER_BYTES_MAX); a read writes the window's buffer first.
 *
 * Memory: the buffers (at most SCHEDULE_BUCKET_BUFFER_BYTES_MAX, plus one record), chunks being
 * written (past SCHEDULE_BUCKET_WRITING_BYTES_MAX a record is not bucketed: see "far"), one
 * chunk being read, and one small object per window (at most windowsMax).
 *
 * Concurrency: `add`, `reset`, `dropBelow` are synchronous; a window's writes run one at a
 * time (a promise chain); `read` writes the window's buffer, waits for its chain, then reads
 * the bytes written so far (records added later are past them, and the scheduler knows them
 * by offset: see scheduler.ts, refill from buckets).
 */
import * as path from 'node:path';
import {
  SCHEDULE_BUCKET_BUFFER_BYTES_MAX,
  SCHEDULE_BUCKET_WRITE_BYTES,
  SCHEDULE_BUCKET_WRITING_BYTES_MAX,
} from '../limits.js';
import type { FileSystem } from '../storage/index.js';
import { assert, crc32c, toWeirError, type WeirError } from '../util/index.js';
import { packedBound, packedDueAt, packedLength, packRecord } from './schedule-record-packing.js';
import type { ScheduleRecordSource } from './schedule-record-packing.js';

const CHUNK_HEADER_BYTES = 8;
const OFFSET_BYTES = 8;
const BUFFER_BYTES_FIRST = 16 * 1024;

/** Sees one bucketed record: its key, and where its packed bytes start in `chunk`. */
export type BucketVisitor = (dueAt: number, offset: number, chunk: Buffer, start: number) => void;

interface Window {
  readonly id: number;
  readonly file: string;
  /** Chunk being filled: its header's 8 bytes first, then entries up to `used`. */
  buffer: Buffer | null;
  used: number;
  /** Bytes of whole chunks written to the file. */
  fileBytes: number;
  /** The window's writes, in order (never rejects: a failure turns the buckets off). */
  writing: Promise<void>;
  /** Lowest schedule offset ever added (moved and purged ones included). */
  lowestOffset: number;
}

export class ScheduleBuckets {
  readonly #fileSystem: FileSystem;
  readonly #directory: string;
  readonly #windowMs: number;
  readonly #windowsMax: number;
  #windows = new Map<number, Window>();
  #generation = 0;
  #baseWindow = 0;
  /** Windows below this were dropped (their records are in the index, or moved). */
  #firstWindow = -Infinity;
  #lastWindow = -Infinity;
  #built = false;
  #incompleteFromDueAt = Infinity;
  #incompleteLowOffset = Infinity;
  #bufferedBytes = 0;
  #writingBytes = 0;
  #failure: WeirError | null = null;
  /** Unlinks and the like, awaited by close. */
  #background = new Set<Promise<void>>();
  /** Chunk writes in flight (each a step of its window's chain). */
  #writes = new Set<Promise<void>>();

  private constructor(
    fileSystem: FileSystem,
    directory: string,
    windowMs: number,
    windowsMax: number,
  ) {
    assert(windowMs >= 1 && windowsMax >= 1, 'buckets have windows');
    this.#fileSystem = fileSystem;
    this.#directory = directory;
    this.#windowMs = windowMs;
    this.#windowsMax = windowsMax;
  }

  /** Removes what a previous run left in `directory` and starts empty (not built: see reset). */
  static async open(
    fileSystem: FileSystem,
    directory: string,
    windowMs: number,
    windowsMax: number,
    now: number,
  ): Promise<ScheduleBuckets> {
    const buckets = new ScheduleBuckets(fileSystem, directory, windowMs, windowsMax);
    try {
      await fileSystem.removeDirectory(directory);
      await fileSystem.mkdir(directory);
    } catch (error) {
      buckets.#fail(error);
    }
    buckets.reset(now);
    return buckets;
  }

  get failure(): WeirError | null {
    return this.#failure;
  }

  get generation(): number {
    return this.#generation;
  }

  /** Bytes held in memory for writes (buffers and chunks being written). */
  get memoryBytes(): number {
    return this.#bufferedBytes + this.#writingBytes;
  }

  windowOf(dueAt: number): number {
    return Math.floor(dueAt / this.#windowMs);
  }

  windowStart(window: number): number {
    return window * this.#windowMs;
  }

  get lastWindow(): number {
    return this.#lastWindow;
  }

  get incompleteFromDueAt(): number {
    return this.#built ? this.#incompleteFromDueAt : -Infinity;
  }

  /** Whether every pending record due in `window` is in its bucket (so a refill may read it). */
  canServe(window: number): boolean {
    return (
      this.#failure === null &&
      this.#built &&
      window >= this.#firstWindow &&
      window < this.#baseWindow + this.#windowsMax &&
      this.windowStart(window + 1) <= this.#incompleteFromDueAt
    );
  }

  /**
   * A new generation: forgets every window (their files go in the background) and takes
   * records again from now on; not built until `built()` (the scan that fills it has ended).
   */
  reset(now: number): void {
    this.#discardWindows();
    this.#generation++;
    this.#baseWindow = this.windowOf(now);
    this.#firstWindow = -Infinity;
    this.#lastWindow = -Infinity;
    this.#incompleteFromDueAt = Infinity;
    this.#incompleteLowOffset = Infinity;
    this.#built = false;
  }

  /** The scan after the last reset has bucketed every record pending below its start. */
  built(): void {
    this.#built = true;
  }

  /**
   * Buckets a record (synchronous: the record is packed into its window's buffer); returns
   * false if it is not bucketed (far, too much being written, or the buckets failed): its due
   * time then bounds what the buckets can serve.
   */
  add(dueAt: number, offset: number, source: ScheduleRecordSource): boolean {
    if (this.#failure !== null) return false;
    const id = this.windowOf(dueAt);
    // Below the dropped windows: below the index's horizon (the caller's index holds it).
    if (id < this.#firstWindow) return true;
    if (
      id >= this.#baseWindow + this.#windowsMax ||
      this.#writingBytes > SCHEDULE_BUCKET_WRITING_BYTES_MAX
    ) {
      this.markIncomplete(dueAt, offset);
      return false;
    }
    let window = this.#windows.get(id);
    if (window === undefined) {
      window = {
        id,
        file: path.join(this.#directory, `${this.#generation}-${id}.bucket`),
        buffer: null,
        used: CHUNK_HEADER_BYTES,
        fileBytes: 0,
        writing: Promise.resolve(),
        lowestOffset: offset,
      };
      this.#windows.set(id, window);
      this.#lastWindow = Math.max(this.#lastWindow, id);
    }
    const bound = OFFSET_BYTES + packedBound(source);
    let buffer = window.buffer;
    if (buffer === null || window.used + bound > buffer.length) {
      const grown = Buffer.allocUnsafe(
        Math.max(BUFFER_BYTES_FIRST, 2 * (buffer?.length ?? 0), window.used + bound),
      );
      if (buffer !== null) buffer.copy(grown, 0, 0, window.used);
      buffer = grown;
      window.buffer = grown;
    }
    const start = window.used;
    buffer.writeDoubleLE(offset, start);
    const length = packRecord(buffer, start + OFFSET_BYTES, dueAt, source);
    window.used += OFFSET_BYTES + length;
    window.lowestOffset = Math.min(window.lowestOffset, offset);
    this.#bufferedBytes += OFFSET_BYTES + length;
    if (window.used >= SCHEDULE_BUCKET_WRITE_BYTES) this.#write(window);
    if (this.#bufferedBytes > SCHEDULE_BUCKET_BUFFER_BYTES_MAX)
      for (const each of this.#windows.values()) this.#write(each);
    return true;
  }

  /** A pending record not bucketed (the caller could not add it): bounds what can serve. */
  markIncomplete(dueAt: number, offset: number): void {
    this.#incompleteFromDueAt = Math.min(this.#incompleteFromDueAt, dueAt);
    this.#incompleteLowOffset = Math.min(this.#incompleteLowOffset, offset);
  }

  /** Lowest offset of a record in windows >= `window` or not bucketed (for truncation). */
  lowestOffsetFrom(window: number): number {
    let lowest = this.#incompleteLowOffset;
    for (const each of this.#windows.values())
      if (each.id >= window) lowest = Math.min(lowest, each.lowestOffset);
    return lowest;
  }

  /** Resolves once the chunks being written are below half their limit (a scan that adds many). */
  async drain(): Promise<void> {
    while (this.#failure === null && this.#writingBytes > SCHEDULE_BUCKET_WRITING_BYTES_MAX / 2) {
      await Promise.race([...this.#writes]);
    }
  }

  /**
   * Visits every record of `window` written or buffered when called, in the order added.
   * Throws if the buckets failed (before or during the read).
   */
  async read(id: number, visit: BucketVisitor): Promise<void> {
    if (this.#failure !== null) throw this.#failure;
    const window = this.#windows.get(id);
    if (window === undefined) return;
    this.#write(window);
    await window.writing;
    const failed = this.failure; // a write may have failed meanwhile
    if (failed !== null) throw failed;
    const end = window.fileBytes;
    if (end === 0) return;
    const handle = await this.#fileSystem.open(window.file);
    try {
      const header = Buffer.allocUnsafe(CHUNK_HEADER_BYTES);
      let position = 0;
      while (position < end) {
        await readFully(handle.read.bind(handle), header, position);
        const length = header.readUInt32LE(0);
        const crc = header.readUInt32LE(4);
        assert(
          position + CHUNK_HEADER_BYTES + length <= end,
          'a bucket chunk lies within the file',
        );
        const chunk = Buffer.allocUnsafe(length);
        await readFully(handle.read.bind(handle), chunk, position + CHUNK_HEADER_BYTES);
        if (crc32c(chunk) !== crc) throw new Error(`bucket ${window.file}: checksum mismatch`);
        let at = 0;
        while (at < length) {
          const offset = chunk.readDoubleLE(at);
          const start = at + OFFSET_BYTES;
          visit(packedDueAt(chunk, start), offset, chunk, start);
          at = start + packedLength(chunk, start);
        }
        assert(at === length, 'bucket entries fill their chunk');
        position += CHUNK_HEADER_BYTES + length;
      }
    } catch (error) {
      this.#fail(error);
      throw this.#failure ?? toWeirError(error);
    } finally {
      await handle.close().catch(() => undefined);
    }
  }

  /** Drops the windows below `id` (every record due there is in the index or moved). */
  dropBelow(id: number): void {
    if (id <= this.#firstWindow) return;
    this.#firstWindow = id;
    for (const window of this.#windows.values()) if (window.id < id) this.#discard(window);
  }

  /** Waits for writes and unlinks in flight, then removes the directory. */
  async close(): Promise<void> {
    this.#discardWindows();
    while (this.#background.size > 0 || this.#writes.size > 0)
      await Promise.all([...this.#background, ...this.#writes]);
    await this.#fileSystem.removeDirectory(this.#directory).catch(() => undefined);
  }

  /** Queues the window's buffer as one chunk on its write chain. */
  #write(window: Window): void {
    const buffer = window.buffer;
    if (buffer === null || window.used === CHUNK_HEADER_BYTES) return;
    const used = window.used;
    window.buffer = null;
    window.used = CHUNK_HEADER_BYTES;
    this.#bufferedBytes -= used - CHUNK_HEADER_BYTES;
    if (this.#failure !== null) return;
    buffer.writeUInt32LE(used - CHUNK_HEADER_BYTES, 0);
    buffer.writeUInt32LE(crc32c(buffer, 0, CHUNK_HEADER_BYTES, used), 4);
    this.#writingBytes += used;
    const step = window.writing.then(async () => {
      try {
        if (this.#failure !== null) return;
        const handle = await this.#fileSystem.open(window.file);
        try {
          let written = 0;
          while (written < used) {
            const count = await handle.write(
              buffer,
              written,
              used - written,
              window.fileBytes + written,
            );
            assert(count > 0, 'a write makes progress');
            written += count;
          }
        } finally {
          await handle.close();
        }
        window.fileBytes += used;
      } catch (error) {
        this.#fail(error);
      } finally {
        this.#writingBytes -= used;
        this.#writes.delete(step);
      }
    });
    this.#writes.add(step);
    window.writing = step;
  }

  #discard(window: Window): void {
    this.#windows.delete(window.id);
    if (window.buffer !== null) this.#bufferedBytes -= window.used - CHUNK_HEADER_BYTES;
    window.buffer = null;
    const unlinked = window.writing
      .then(() => (window.fileBytes > 0 ? this.#fileSystem.unlink(window.file) : undefined))
      .catch(() => undefined) // a file left behind is removed at the next open
      .finally(() => this.#background.delete(unlinked));
    this.#background.add(unlinked);
  }

  #discardWindows(): void {
    for (const window of [...this.#windows.values()]) this.#discard(window);
  }

  #fail(error: unknown): void {
    if (this.#failure !== null) return;
    this.#failure = toWeirError(error);
    // Nothing more is buffered; what is written goes at close (or at the next open).
    for (const window of this.#windows.values()) {
      if (window.buffer !== null) this.#bufferedBytes -= window.used - CHUNK_HEADER_BYTES;
      window.buffer = null;
      window.used = CHUNK_HEADER_BYTES;
    }
  }
}

async function readFully(
  read: (buffer: Uint8Array, offset: number, length: number, position: number) => Promise<number>,
  into: Buffer,
  position: number,
): Promise<void> {
  let done = 0;
  while (done < into.length) {
    const count = await read(into, done, into.length - done, position + done);
    if (count === 0) throw new Error('a bucket file ended early');
    done += count;
  }
}
