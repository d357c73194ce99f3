/**
 * A partition log: an append-only sequence of records, numbered by offset from 0, stored as a
 * directory of segments (segment.ts). This file owns group commit, reads, recovery of the
 * whole directory, retention and failure handling.
 *
 * Durability: `append` resolves only once its records are durable under the fsync policy:
 * 'always' — written and fdatasync'ed (the file's directory is synced when a segment is
 * created); 'interval' — written (in the page cache: survives a process crash) and synced by
 * a timer every fsyncIntervalMs; 'never' — written, synced only at close.
 * Readers see only confirmed records: offsets below `committedOffset`.
 *
 * Concurrency: any number of appends and reads may be in flight. Appends queue and are
 * written by one flush at a time (one write + one fsync for everything queued: group commit).
 * Flushes, rolls, retention and close run one at a time through `#lane`.
 *
 * Failure: if a write or fsync fails, the log refuses every later append with DISK_FULL
 * (ENOSPC) or STORAGE_FAILED (anything else); it never writes over a file in an unknown state.
 * Reads of confirmed records keep working.
 */
import * as diagnosticsChannel from 'node:diagnostics_channel';
import * as path from 'node:path';
import { assert, isWeirError, WeirError } from '../util/index.js';
import {
  APPEND_PENDING_BYTES_MAX,
  BATCH_BYTES_TARGET,
  BATCH_RECORDS_MAX,
  DURABLE_WAITERS_COMPACT_AT,
  FSYNC_INTERVAL_MS_DEFAULT,
  FSYNC_INTERVAL_MS_MAX,
  LOST_RANGES_MAX,
  READ_BYTES_DEFAULT,
  READ_BYTES_MAX,
  READ_CHUNK_BYTES_MIN,
  READ_RETRIES_MAX,
  SEGMENT_AGE_MS_DEFAULT,
  SEGMENT_BYTES_DEFAULT,
  SEGMENT_BYTES_MAX,
  SEGMENT_BYTES_MIN,
  TAIL_CACHE_BYTES_DEFAULT,
  TAIL_CACHE_BYTES_MAX,
  WRITE_BYTES_MAX,
} from '../limits.js';
import { nodeFileSystem, type FileSystem } from './file-system.js';
import { MemoryFileSystem } from './memory-file-system.js';
import type { RecordInput, StoredRecord } from './record.js';
import {
  BATCH_HEADER_BYTES,
  checkBatch,
  decodeBatch,
  encodeBatch,
  readBatchHeader,
  recordBytes,
  type BatchHeader,
} from './record-batch.js';
import { parseSegmentName, Segment, segmentName } from './segment.js';
import { readStartMarker, writeStartMarker } from './start-marker.js';
import { TailCache } from './tail-cache.js';
import { CONFIRM_SAMPLE_EVERY, storageTelemetry, type LogKind } from './telemetry.js';
import { Lane } from '../util/index.js';

/**
 * Recovery found offsets missing at open: one message per lost range, `{ directory,
 * startOffset, endOffset }` (nats-server's LostStreamData). Only at open, never on a hot path.
 */
export const lostRangeChannel = diagnosticsChannel.channel('weir:storage:lost-range');

/**
 * A log stopped taking appends because a write or sync failed: `{ directory, code, message }`,
 * once per log (its first failure; closing is not a failure).
 */
export const storageFailureChannel = diagnosticsChannel.channel('weir:storage:failure');

/** Offsets [startOffset, endOffset) recovery found missing from a log. */
export interface LostRange {
  readonly startOffset: number;
  readonly endOffset: number;
}

/** Written records at the front of the queue are spliced off once there are this many. */
const QUEUE_COMPACT_AT = 1024;

export type FsyncPolicy = 'always' | 'interval' | 'never';

export interface LogOptions {
  readonly directory: string;
  readonly fileSystem?: FileSystem;
  readonly fsync?: FsyncPolicy;
  readonly fsyncIntervalMs?: number;
  readonly segmentBytes?: number;
  readonly segmentAgeMs?: number;
  readonly tailCacheBytes?: number;
  readonly clock?: () => number;
  /** For telemetry: a stream partition (default) or a subscription journal. */
  readonly kind?: LogKind;
  /**
   * Records one batch holds at most (default BATCH_RECORDS_MAX). A log read by single offsets
   * in random order (a stream's schedule) keeps batches small: a read decodes a whole batch.
   */
  readonly batchRecordsMax?: number;
  /** A disk read reads at least this much (default READ_CHUNK_BYTES_MIN); less for single-record reads. */
  readonly readChunkBytesMin?: number;
}

export interface RetentionLimits {
  readonly maxAgeMs?: number;
  readonly maxBytes?: number;
  readonly maxRecords?: number;
}

export interface RetentionResult {
  readonly segmentsDeleted: number;
  readonly recordsDeleted: number;
  readonly bytesDeleted: number;
}

export interface LogStats {
  readonly startOffset: number;
  readonly endOffset: number;
  readonly committedOffset: number;
  readonly segmentCount: number;
  readonly bytes: number;
  readonly tailCacheBytes: number;
  readonly indexBytes: number;
  /** Bytes cut off torn or corrupt tails when the log was opened. */
  readonly recoveredTruncatedBytes: number;
  /** Slots of the durable-waiter list, resolved ones not yet compacted away included. */
  readonly durableWaiterSlots: number;
  /** Durable waiters not yet resolved (appends, durable() calls, telemetry samples). */
  readonly durableWaitersOutstanding: number;
  /** Offsets recovery found missing between segments at open (see `lostRanges`). */
  readonly lostOffsets: number;
}

/**
 * Something waiting for the committed offset to reach `end`: an append(), a durable() call, or
 * (no callbacks) an append sampled for the telemetry's confirm latency.
 */
interface DurableWaiter {
  readonly end: number;
  readonly resolve: (() => void) | null;
  readonly reject: ((error: unknown) => void) | null;
  /** performance.now() at append when sampled for telemetry, else 0. */
  readonly startedAt: number;
}

function checkRange(name: string, value: number, min: number, max: number): number {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new WeirError(
      'INVALID_ARGUMENT',
      `${name} must be an integer in [${min}, ${max}], got ${value}`,
    );
  }
  return value;
}

/** Maps an I/O error to the typed error the log refuses appends with from then on. */
function storageError(error: unknown): WeirError {
  if (error instanceof WeirError) return error;
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  if (code === 'ENOSPC' || code === 'EDQUOT') {
    return new WeirError('DISK_FULL', 'disk full: the log refuses appends', { cause: error });
  }
  return new WeirError(
    'STORAGE_FAILED',
    `storage failed (${code ?? 'unknown'}): the log refuses appends`,
    {
      cause: error,
    },
  );
}

export class PartitionLog {
  readonly directory: string;
  readonly #fileSystem: FileSystem;
  readonly #fsync: FsyncPolicy;
  readonly #segmentBytes: number;
  readonly #segmentAgeMs: number;
  readonly #clock: () => number;
  readonly #kind: LogKind;
  readonly #batchRecordsMax: number;
  readonly #readChunkBytesMin: number;
  readonly #cache: TailCache;
  readonly #lane = new Lane();
  #segments: Segment[];
  #endOffset: number;
  #committedOffset: number;
  /**
   * Records queued and not yet written, from #queuedHead on, with their sizes and timestamps
   * in parallel arrays: the record at index i has offset #committedOffset + (i - #queuedHead).
   * An append adds to these arrays and allocates nothing of its own.
   */
  #queued: RecordInput[] = [];
  #queuedSizes: number[] = [];
  #queuedTimestamps: number[] = [];
  #queuedHead = 0;
  /** Record bytes queued and not yet written. */
  #pendingBytes = 0;
  /** Batch ends (indices into #queued) of the write being planned; reused. */
  readonly #cuts: number[] = [];
  /**
   * Waiters in order of `end`, from #durableHead on; the slots below it are resolved and are
   * dropped once there are DURABLE_WAITERS_COMPACT_AT of them and they outnumber the rest (so
   * the list stays bounded under steady load, where it is never empty, at amortised O(1)).
   */
  #durableWaiters: DurableWaiter[] = [];
  #durableHead = 0;
  #flushScheduled = false;
  #failure: WeirError | null = null;
  #closed = false;
  #dirty = false;
  /** Under fsync 'never': segments were created or deleted since the directory was synced. */
  #directoryDirty = false;
  #syncTimer: NodeJS.Timeout | null = null;
  #listeners = new Set<(committedOffset: number) => void>();
  #recoveredTruncatedBytes: number;
  /**
   * The persisted logical start (start-marker.ts): readers see nothing below it, even where
   * segments below it are still on disk. 0 when none was set.
   */
  #logicalStart: number;
  readonly #lostRanges: readonly LostRange[];
  readonly #lostOffsets: number;

  private constructor(
    options: LogOptions,
    fileSystem: FileSystem,
    segments: Segment[],
    recoveredTruncatedBytes: number,
    logicalStart: number,
  ) {
    const lost = lostBetween(segments, logicalStart);
    this.directory = options.directory;
    this.#fileSystem = fileSystem;
    this.#fsync = options.fsync ?? 'always';
    this.#segmentBytes = options.segmentBytes ?? SEGMENT_BYTES_DEFAULT;
    this.#segmentAgeMs = options.segmentAgeMs ?? SEGMENT_AGE_MS_DEFAULT;
    this.#clock = options.clock ?? Date.now;
    this.#kind = options.kind ?? 'stream';
    this.#batchRecordsMax = options.batchRecordsMax ?? BATCH_RECORDS_MAX;
    this.#readChunkBytesMin = options.readChunkBytesMin ?? READ_CHUNK_BYTES_MIN;
    this.#cache = new TailCache(options.tailCacheBytes ?? TAIL_CACHE_BYTES_DEFAULT);
    this.#segments = segments;
    this.#endOffset = this.#active.nextOffset;
    this.#committedOffset = this.#endOffset;
    this.#recoveredTruncatedBytes = recoveredTruncatedBytes;
    this.#logicalStart = logicalStart;
    this.#lostRanges = lost.ranges;
    this.#lostOffsets = lost.offsets;
    if (lostRangeChannel.hasSubscribers) {
      for (const range of lost.ranges) {
        lostRangeChannel.publish({ directory: options.directory, ...range });
      }
    }
    if (this.#fsync === 'interval') {
      const interval = options.fsyncIntervalMs ?? FSYNC_INTERVAL_MS_DEFAULT;
      this.#syncTimer = setInterval(() => this.#intervalSync(), interval);
      this.#syncTimer.unref();
    }
  }

  /** Opens the log in `options.directory`, creating it, or recovering what is there. */
  static async open(options: LogOptions): Promise<PartitionLog> {
    const fileSystem = options.fileSystem ?? nodeFileSystem;
    if (!['always', 'interval', 'never', undefined].includes(options.fsync)) {
      throw new WeirError('INVALID_ARGUMENT', `fsync must be always, interval or never`);
    }
    checkRange(
      'segmentBytes',
      options.segmentBytes ?? SEGMENT_BYTES_DEFAULT,
      SEGMENT_BYTES_MIN,
      SEGMENT_BYTES_MAX,
    );
    checkRange(
      'segmentAgeMs',
      options.segmentAgeMs ?? SEGMENT_AGE_MS_DEFAULT,
      1,
      Number.MAX_SAFE_INTEGER,
    );
    checkRange('tailCacheBytes', options.tailCacheBytes ?? 0, 0, TAIL_CACHE_BYTES_MAX);
    checkRange(
      'readChunkBytesMin',
      options.readChunkBytesMin ?? READ_CHUNK_BYTES_MIN,
      BATCH_HEADER_BYTES,
      READ_CHUNK_BYTES_MIN,
    );
    checkRange(
      'batchRecordsMax',
      options.batchRecordsMax ?? BATCH_RECORDS_MAX,
      1,
      BATCH_RECORDS_MAX,
    );
    checkRange(
      'fsyncIntervalMs',
      options.fsyncIntervalMs ?? FSYNC_INTERVAL_MS_DEFAULT,
      1,
      FSYNC_INTERVAL_MS_MAX,
    );
    await fileSystem.mkdir(options.directory);
    const names = await fileSystem.readdir(options.directory);
    const bases = names
      .map(parseSegmentName)
      .filter((base): base is number => base !== null)
      .sort((a, b) => a - b);
    const segments: Segment[] = [];
    let truncated = 0;
    for (const base of bases) {
      const previous = segments[segments.length - 1];
      if (previous && base < previous.nextOffset) {
        // Overlaps the previous segment (which recovered further than this one was named for):
        // not a state Weir writes; keep the earlier, contiguous data.
        await fileSystem.unlink(path.join(options.directory, segmentName(base, '.log')));
        continue;
      }
      const { segment, truncatedBytes } = await Segment.open(fileSystem, options.directory, base);
      truncated += truncatedBytes;
      segments.push(segment);
    }
    for (const name of names) {
      if (name.endsWith('.index') && !bases.some((base) => name === segmentName(base, '.index'))) {
        await fileSystem.unlink(path.join(options.directory, name)); // orphan index
      }
    }
    const logicalStart = (await readStartMarker(fileSystem, options.directory)) ?? 0;
    const recoveredEnd = segments[segments.length - 1]?.nextOffset ?? 0;
    if (segments.length === 0 || logicalStart > recoveredEnd) {
      // The marker lies past what was recovered (records below it were lost after it was
      // written): new records start at the marker, so that none of them is hidden below it.
      segments.push(await Segment.create(fileSystem, options.directory, logicalStart));
      await fileSystem.syncDirectory(options.directory);
    }
    return new PartitionLog(options, fileSystem, segments, truncated, logicalStart);
  }

  get #active(): Segment {
    return this.#segments[this.#segments.length - 1]!;
  }

  /** First offset readers may see: the first segment's base, or the logical start past it. */
  get startOffset(): number {
    return Math.max(this.#segments[0]!.baseOffset, this.#logicalStart);
  }

  get endOffset(): number {
    return this.#endOffset;
  }

  get committedOffset(): number {
    return this.#committedOffset;
  }

  get failure(): WeirError | null {
    return this.#failure;
  }

  /**
   * Offset ranges recovery found missing at open, oldest first: a sealed segment cut short (a
   * corrupt or torn batch inside it) or a segment file missing between two others. Readers
   * skip them. The first LOST_RANGES_MAX; `stats().lostOffsets` counts every lost offset.
   */
  get lostRanges(): readonly LostRange[] {
    return this.#lostRanges;
  }

  /** Bytes appended and not yet written: callers may use it to slow producers down. */
  get pendingBytes(): number {
    return this.#pendingBytes;
  }

  append(input: RecordInput | readonly RecordInput[]): Promise<number> {
    try {
      const baseOffset = this.#enqueue(input);
      const end = this.#endOffset;
      return new Promise<number>((resolve, reject) => {
        // The newest end there is: the waiters stay in order of `end`.
        this.#durableWaiters.push({
          end,
          resolve: () => resolve(baseOffset),
          reject,
          startedAt: 0,
        });
      });
    } catch (error) {
      return Promise.reject(error instanceof Error ? error : new Error(String(error)));
    }
  }

  /**
   * Queues records like append() but returns the offset of the first one at once and makes no
   * promise: for callers that append many records and wait once, with durable(). Throws (the
   * errors append() rejects with) instead of rejecting.
   */
  enqueue(input: RecordInput | readonly RecordInput[]): number {
    return this.#enqueue(input);
  }

  /**
   * Resolves once every offset below `end` is durable under the fsync policy; rejects with the
   * log's failure (STORAGE_FAILED, DISK_FULL, CLOSED) if that comes first.
   */
  durable(end: number): Promise<void> {
    if (end <= this.#committedOffset) return Promise.resolve();
    if (this.#failure) return Promise.reject(this.#failure);
    if (!(end <= this.#endOffset)) {
      return Promise.reject(
        new WeirError(
          'INVALID_ARGUMENT',
          `durable(${end}) is past the log's end ${this.#endOffset}`,
        ),
      );
    }
    if (this.#closed) return Promise.reject(new WeirError('CLOSED', 'the log is closed'));
    return new Promise<void>((resolve, reject) => {
      const waiters = this.#durableWaiters;
      let at = waiters.length;
      while (at > this.#durableHead && waiters[at - 1]!.end > end) at--;
      waiters.splice(at, 0, { end, resolve, reject, startedAt: 0 });
    });
  }

  #enqueue(input: RecordInput | readonly RecordInput[]): number {
    if (this.#closed) throw new WeirError('CLOSED', 'the log is closed');
    if (this.#failure) throw this.#failure;
    const many = Array.isArray(input);
    const count = many ? input.length : 1;
    if (count === 0) throw new WeirError('INVALID_ARGUMENT', 'append needs at least one record');
    const queued = this.#queued;
    const sizes = this.#queuedSizes;
    const timestamps = this.#queuedTimestamps;
    const mark = queued.length;
    let bytes = 0;
    const now = this.#clock();
    try {
      for (let i = 0; i < count; i++) {
        const record = many ? (input as readonly RecordInput[])[i]! : (input as RecordInput);
        const size = recordBytes(record);
        const timestamp = record.timestamp ?? now;
        if (!Number.isSafeInteger(timestamp) || timestamp < 0) {
          throw new WeirError(
            'INVALID_ARGUMENT',
            `timestamp must be a non-negative integer, got ${timestamp}`,
          );
        }
        bytes += size;
        queued.push(record);
        sizes.push(size);
        timestamps.push(timestamp);
      }
      if (this.#pendingBytes + bytes > APPEND_PENDING_BYTES_MAX && this.#pendingBytes > 0) {
        throw new WeirError(
          'LIMIT_EXCEEDED',
          `more than ${APPEND_PENDING_BYTES_MAX} bytes wait to be written`,
        );
      }
    } catch (error) {
      // All or nothing: a rejected append leaves no record behind.
      queued.length = mark;
      sizes.length = mark;
      timestamps.length = mark;
      throw error;
    }
    const baseOffset = this.#endOffset;
    this.#endOffset += count;
    this.#pendingBytes += bytes;
    if (this.#sampleAppend()) {
      const end = this.#endOffset;
      this.#durableWaiters.push({ end, resolve: null, reject: null, startedAt: performance.now() });
    }
    this.#scheduleFlush();
    return baseOffset;
  }

  /** Whether this append is timed for the telemetry's confirm latency (streams only). */
  #sampleAppend(): boolean {
    return (
      storageTelemetry.sink !== null &&
      this.#kind === 'stream' &&
      ++storageTelemetry.appends % CONFIRM_SAMPLE_EVERY === 0
    );
  }

  #scheduleFlush(): void {
    if (this.#flushScheduled) return;
    this.#flushScheduled = true;
    // A microtask: appends made in the same tick (or resolved together) join one write.
    queueMicrotask(() => {
      // A flush that throws is a bug (I/O errors are handled inside): refuse appends from then on.
      this.#lane
        .run(() => this.#flush())
        .catch((error: unknown) => this.#fail(storageError(error)));
    });
  }

  /** Writes everything queued, one group commit at a time. Runs inside the lane. */
  async #flush(): Promise<void> {
    this.#flushScheduled = false;
    while (this.#queuedHead < this.#queued.length && !this.#failure) {
      await this.#flushOnce();
    }
  }

  async #flushOnce(): Promise<void> {
    let active = this.#active;
    if (active.recordCount > 0 && this.#clock() - active.createdAtMs >= this.#segmentAgeMs) {
      active = await this.#roll();
    }
    const room = Math.max(this.#segmentBytes - active.size, 0);
    const planned = this.#plan(Math.min(room, WRITE_BYTES_MAX), active.size === 0);
    const cuts = this.#cuts;
    if (cuts.length === 0) {
      await this.#roll(); // not even one record fits this segment: the next one takes it
      return;
    }
    const buffer = Buffer.allocUnsafe(planned);
    const headers: BatchHeader[] = [];
    const head = this.#queuedHead;
    const baseOffset = this.#committedOffset;
    let position = 0;
    let from = head;
    for (const to of cuts) {
      const end = encodeBatch(
        buffer,
        position,
        baseOffset + (from - head),
        this.#queued,
        this.#queuedTimestamps,
        this.#queuedSizes,
        from,
        to,
      );
      const header = readBatchHeader(buffer, position, end - position);
      assert(
        header !== null && header.batchLength === end - position,
        'an encoded batch reads back',
      );
      headers.push(header);
      position = end;
      from = to;
    }
    assert(position === planned, 'encoded bytes match the plan');
    const written = from;
    const recordBytesWritten = planned - headers.length * BATCH_HEADER_BYTES;
    const writeStarted = performance.now();
    let syncMs = 0;
    try {
      await active.write(buffer, planned);
      if (this.#fsync === 'always') {
        const syncStarted = performance.now();
        await active.sync();
        syncMs = performance.now() - syncStarted;
      } else {
        this.#dirty = true;
      }
    } catch (error) {
      this.#fail(storageError(error));
      return;
    }
    const telemetry = storageTelemetry.sink;
    if (telemetry !== null) {
      const writeMs = performance.now() - writeStarted - syncMs;
      telemetry.flushed(this.#kind, writeMs, this.#fsync === 'always' ? syncMs : null);
    }
    if (active.createdAtMs === 0) active.createdAtMs = this.#clock();
    active.confirm(headers, planned);
    for (let i = 0, at = 0; i < headers.length; i++) {
      const header = headers[i]!;
      this.#cache.add({ header, bytes: buffer.subarray(at, at + header.batchLength) });
      at += header.batchLength;
    }
    // Appends made during the write were added after `written`: nothing before it moved.
    this.#committedOffset = baseOffset + (written - head);
    this.#pendingBytes -= recordBytesWritten;
    this.#dequeue(written);
    this.#resolveDurable();
    this.#notify();
  }

  /**
   * Plans one write: the queued records, in offset order, cut into batches of about
   * BATCH_BYTES_TARGET, up to `limitBytes` in all (at least one record when the segment is
   * empty, whatever its size). Leaves the batch ends in #cuts; returns the bytes.
   */
  #plan(limitBytes: number, takeOne: boolean): number {
    const cuts = this.#cuts;
    cuts.length = 0;
    const sizes = this.#queuedSizes;
    let bytes = 0;
    let open = false;
    let batchBytes = 0;
    let batchRecords = 0;
    let last = this.#queuedHead;
    for (let i = this.#queuedHead; i < sizes.length; i++) {
      const size = sizes[i]!;
      const full =
        open && (batchBytes + size > BATCH_BYTES_TARGET || batchRecords >= this.#batchRecordsMax);
      const grows = !open || full ? BATCH_HEADER_BYTES + size : size;
      if (bytes + grows > limitBytes && (bytes > 0 || !takeOne)) break;
      if (full) cuts.push(i);
      if (!open || full) {
        open = true;
        batchBytes = BATCH_HEADER_BYTES;
        batchRecords = 0;
      }
      batchBytes += size;
      batchRecords++;
      bytes += grows;
      last = i + 1;
    }
    if (open) cuts.push(last);
    return bytes;
  }

  /** Drops the written records (below index `written`) from the queue. */
  #dequeue(written: number): void {
    const queued = this.#queued;
    if (written === queued.length) {
      queued.length = 0;
      this.#queuedSizes.length = 0;
      this.#queuedTimestamps.length = 0;
      this.#queuedHead = 0;
      return;
    }
    for (let i = this.#queuedHead; i < written; i++)
      queued[i] = undefined as unknown as RecordInput;
    this.#queuedHead = written;
    if (written > QUEUE_COMPACT_AT && written * 2 > queued.length) {
      queued.splice(0, written);
      this.#queuedSizes.splice(0, written);
      this.#queuedTimestamps.splice(0, written);
      this.#queuedHead = 0;
    }
  }

  /** Tells the listeners; a listener that throws is reported, it does not fail the log. */
  #notify(): void {
    for (const listener of this.#listeners) {
      try {
        listener(this.#committedOffset);
      } catch (error) {
        process.emitWarning(`weir: an onCommit listener threw: ${String(error)}`);
      }
    }
  }

  /** Seals the active segment and starts a new one at the next offset. Runs inside the lane. */
  async #roll(): Promise<Segment> {
    const sealed = this.#active;
    if (this.#fsync !== 'always' && this.#dirty) {
      await sealed.sync();
      this.#dirty = false;
    }
    await sealed.writeIndex();
    const segment = await Segment.create(this.#fileSystem, this.directory, sealed.nextOffset);
    if (this.#fsync !== 'never') await this.#fileSystem.syncDirectory(this.directory);
    else this.#directoryDirty = true;
    this.#segments.push(segment);
    return segment;
  }

  #resolveDurable(): void {
    const waiters = this.#durableWaiters;
    while (this.#durableHead < waiters.length) {
      const waiter = waiters[this.#durableHead]!;
      if (waiter.end > this.#committedOffset) break;
      this.#durableHead++;
      if (waiter.startedAt !== 0) {
        storageTelemetry.sink?.confirmed(performance.now() - waiter.startedAt);
      }
      waiter.resolve?.();
    }
    const head = this.#durableHead;
    if (head === waiters.length) {
      this.#durableWaiters = [];
      this.#durableHead = 0;
    } else if (head >= DURABLE_WAITERS_COMPACT_AT && head * 2 > waiters.length) {
      // Fewer waiters outstanding than resolved: moving them costs less than what was resolved.
      waiters.splice(0, head);
      this.#durableHead = 0;
    }
  }

  #fail(error: WeirError): void {
    if (!this.#failure) {
      this.#failure = error;
      if (error.code !== 'CLOSED' && storageFailureChannel.hasSubscribers) {
        storageFailureChannel.publish({
          directory: this.directory,
          code: error.code,
          message: error.message,
        });
      }
    }
    this.#queued = [];
    this.#queuedSizes = [];
    this.#queuedTimestamps = [];
    this.#queuedHead = 0;
    this.#pendingBytes = 0;
    for (let i = this.#durableHead; i < this.#durableWaiters.length; i++)
      this.#durableWaiters[i]!.reject?.(this.#failure);
    this.#durableWaiters = [];
    this.#durableHead = 0;
  }

  #intervalSync(): void {
    if (!this.#dirty || this.#failure || this.#closed) return;
    void this.#lane
      .run(async () => {
        if (!this.#dirty) return;
        this.#dirty = false;
        await this.#active.sync();
      })
      .catch((error: unknown) => this.#fail(storageError(error)));
  }

  read(
    offset: number,
    options: { maxBytes?: number; maxRecords?: number } = {},
  ): Promise<StoredRecord[]> {
    if (this.#closed) return Promise.reject(new WeirError('CLOSED', 'the log is closed'));
    const maxBytes = Math.min(options.maxBytes ?? READ_BYTES_DEFAULT, READ_BYTES_MAX);
    const maxRecords = options.maxRecords ?? Infinity;
    if (!(maxRecords >= 1) || !(maxBytes >= 1)) {
      return Promise.reject(
        new WeirError('INVALID_ARGUMENT', 'maxBytes and maxRecords must be at least 1'),
      );
    }
    const from = Math.max(offset, this.startOffset);
    const end = this.#committedOffset;
    if (from >= end) return Promise.resolve([]);
    const cached = this.#readCache(from, end, maxBytes, maxRecords);
    if (cached) return Promise.resolve(cached);
    return this.#readDisk(from, end, maxBytes, maxRecords);
  }

  #readCache(
    from: number,
    end: number,
    maxBytes: number,
    maxRecords: number,
  ): StoredRecord[] | null {
    let index = this.#cache.find(from);
    if (index < 0) return null;
    const records: StoredRecord[] = [];
    let bytes = 0;
    for (let batch = this.#cache.batchAt(index); batch; batch = this.#cache.batchAt(++index)) {
      if (batch.header.baseOffset >= end || records.length >= maxRecords) break;
      if (records.length > 0 && bytes + batch.header.batchLength > maxBytes) break;
      decodeBatch(batch.bytes, 0, batch.header, from, records, maxRecords);
      bytes += batch.header.batchLength;
    }
    return limit(records, end, maxBytes, maxRecords);
  }

  async #readDisk(
    from: number,
    end: number,
    maxBytes: number,
    maxRecords: number,
  ): Promise<StoredRecord[]> {
    for (let attempt = 0; ; attempt++) {
      const records: StoredRecord[] = [];
      try {
        // A snapshot of the segment list: retention may replace it while this read awaits.
        await this.#readSegments([...this.#segments], from, end, maxBytes, maxRecords, records);
        return limit(records, end, maxBytes, maxRecords);
      } catch (error) {
        // Retention deleted a segment under the read: what was read is still consecutive;
        // with nothing read yet, start again from the new start of the log.
        if (!isWeirError(error, 'OFFSET_OUT_OF_RANGE') || attempt >= READ_RETRIES_MAX) throw error;
        if (records.length > 0) return limit(records, end, maxBytes, maxRecords);
        from = Math.max(from, this.startOffset);
      }
    }
  }

  async #readSegments(
    segments: readonly Segment[],
    from: number,
    end: number,
    maxBytes: number,
    maxRecords: number,
    records: StoredRecord[],
  ): Promise<void> {
    let bytes = 0;
    let next = from;
    for (
      let segmentIndex = segmentFor(segments, from);
      segmentIndex < segments.length && records.length < maxRecords && bytes < maxBytes;
      segmentIndex++
    ) {
      const segment = segments[segmentIndex]!;
      if (next < segment.baseOffset) next = segment.baseOffset;
      if (next >= segment.nextOffset) continue;
      let position = segment.index.positionFor(next - segment.baseOffset);
      while (
        position < segment.size &&
        records.length < maxRecords &&
        bytes < maxBytes &&
        next < end
      ) {
        // Sized by the bytes budget, and by the records wanted at this segment's average
        // record size: a read capped at 512 small records should not allocate 1.25 MiB.
        const average = segment.recordCount > 0 ? segment.size / segment.recordCount : Infinity;
        const length = Math.min(
          segment.size - position,
          Math.max(maxBytes - bytes, BATCH_HEADER_BYTES) + BATCH_BYTES_TARGET,
          Math.max(
            this.#readChunkBytesMin,
            Math.ceil((maxRecords - records.length) * average * 1.25),
          ),
        );
        const chunk = Buffer.allocUnsafe(length);
        const got = await segment.read(chunk, length, position);
        let at = 0;
        while (at < got && records.length < maxRecords && bytes < maxBytes) {
          // The chunk may end inside the next batch's header: read on from it in the next
          // chunk (a chunk starting at a batch holds its header: see `length`).
          if (got - at < BATCH_HEADER_BYTES && at > 0) break;
          const header = readBatchHeader(chunk, at, got - at);
          if (!header || position + at + header.batchLength > segment.size) {
            throw this.#corrupt(segment, position + at);
          }
          let batch = chunk;
          let batchAt = at;
          if (at + header.batchLength > got) {
            if (at > 0) break; // read the rest from here in the next chunk
            // A batch larger than the chunk: read it whole.
            batch = Buffer.allocUnsafe(header.batchLength);
            await segment.read(batch, header.batchLength, position);
            batchAt = 0;
          }
          if (header.baseOffset + header.recordCount > next) {
            if (records.length > 0 && bytes + header.batchLength > maxBytes) return;
            if (!checkBatch(batch, batchAt, header)) throw this.#corrupt(segment, position + at);
            decodeBatch(batch, batchAt, header, next, records, maxRecords);
            bytes += header.batchLength;
            next = header.baseOffset + header.recordCount;
          }
          at += header.batchLength;
        }
        if (at === 0) return; // no progress possible (a budget of nothing)
        position += at;
      }
    }
  }

  #corrupt(segment: Segment, position: number): WeirError {
    return new WeirError(
      'CORRUPT_DATA',
      `${segment.logPath}: batch at byte ${position} failed its checks`,
    );
  }

  async offsetForTime(timestamp: number): Promise<number> {
    if (this.#closed) throw new WeirError('CLOSED', 'the log is closed');
    for (const segment of [...this.#segments]) {
      if (segment.recordCount === 0 || segment.maxTimestamp < timestamp) continue;
      let offset = segment.baseOffset + segment.index.offsetForTime(timestamp);
      while (offset < segment.nextOffset && offset < this.#committedOffset) {
        const records = await this.read(offset, { maxBytes: READ_BYTES_DEFAULT });
        if (records.length === 0) break;
        for (const record of records) if (record.timestamp >= timestamp) return record.offset;
        offset = records[records.length - 1]!.offset + 1;
      }
    }
    return this.#committedOffset;
  }

  /**
   * Moves the logical start to `offset` (at most committedOffset; never back): readers see
   * nothing below it from then on, and it is persisted (start-marker.ts) before this resolves,
   * so a restart does not bring those records back. Segments are not deleted: truncateBefore
   * does that. Records below the new start are synced first, so the marker never lies past
   * what survives a crash. Returns the new startOffset.
   */
  advanceStart(offset: number): Promise<number> {
    return this.#lane.run(async () => {
      this.#checkOpen();
      if (this.#failure) throw this.#failure;
      const target = Math.min(offset, this.#committedOffset);
      if (target <= this.startOffset) return this.startOffset;
      try {
        await this.#syncEverything();
        await writeStartMarker(this.#fileSystem, this.directory, target);
      } catch (error) {
        const failure = storageError(error);
        this.#fail(failure);
        throw failure;
      }
      this.#logicalStart = target;
      this.#cache.dropBefore(target);
      return target;
    });
  }

  truncateBefore(offset: number): Promise<number> {
    return this.#lane.run(async () => {
      this.#checkOpen();
      const target = Math.min(offset, this.#committedOffset);
      const active = this.#active;
      if (active.recordCount > 0 && active.nextOffset <= target && !this.#failure)
        await this.#roll();
      let count = 0;
      while (count < this.#segments.length - 1 && this.#segments[count]!.nextOffset <= target)
        count++;
      await this.#deleteOldest(count);
      return this.startOffset;
    });
  }

  applyRetention(limits: RetentionLimits): Promise<RetentionResult> {
    return this.#lane.run(async () => {
      this.#checkOpen();
      const now = this.#clock();
      let totalBytes = this.#segments.reduce((sum, segment) => sum + segment.size, 0);
      let count = 0;
      let records = 0;
      let bytes = 0;
      while (count < this.#segments.length - 1) {
        const segment = this.#segments[count]!;
        const next = this.#segments[count + 1]!;
        const expired =
          limits.maxAgeMs !== undefined && segment.maxTimestamp < now - limits.maxAgeMs;
        const overBytes =
          limits.maxBytes !== undefined && totalBytes - segment.size >= limits.maxBytes;
        const overRecords =
          limits.maxRecords !== undefined &&
          this.#committedOffset - next.baseOffset >= limits.maxRecords;
        if (!expired && !overBytes && !overRecords) break;
        totalBytes -= segment.size;
        records += segment.recordCount;
        bytes += segment.size;
        count++;
      }
      await this.#deleteOldest(count);
      return { segmentsDeleted: count, recordsDeleted: records, bytesDeleted: bytes };
    });
  }

  async #deleteOldest(count: number): Promise<void> {
    if (count === 0) return;
    assert(count < this.#segments.length, 'the active segment is never deleted');
    const doomed = this.#segments.slice(0, count);
    this.#segments = this.#segments.slice(count);
    this.#cache.dropBefore(this.startOffset);
    for (const segment of doomed) await segment.delete();
    if (this.#fsync !== 'never') await this.#fileSystem.syncDirectory(this.directory);
    else this.#directoryDirty = true;
  }

  #checkOpen(): void {
    if (this.#closed) throw new WeirError('CLOSED', 'the log is closed');
  }

  stats(): LogStats {
    let bytes = 0;
    let indexBytes = 0;
    for (const segment of this.#segments) {
      bytes += segment.size;
      indexBytes += segment.index.bytes();
    }
    return {
      startOffset: this.startOffset,
      endOffset: this.#endOffset,
      committedOffset: this.#committedOffset,
      segmentCount: this.#segments.length,
      bytes,
      tailCacheBytes: this.#cache.bytes,
      indexBytes,
      recoveredTruncatedBytes: this.#recoveredTruncatedBytes,
      durableWaiterSlots: this.#durableWaiters.length,
      durableWaitersOutstanding: this.#durableWaiters.length - this.#durableHead,
      lostOffsets: this.#lostOffsets,
    };
  }

  onCommit(listener: (committedOffset: number) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Waits for every append made before the call, then syncs whatever is not yet durable. */
  async flush(): Promise<void> {
    this.#checkOpen();
    await this.#lane.run(async () => {
      await this.#flush();
      if (this.#failure) throw this.#failure;
      await this.#syncEverything();
    });
  }

  /** Syncs what the policy left unsynced: the active segment's data, the directory's entries. */
  async #syncEverything(): Promise<void> {
    if (this.#dirty) {
      this.#dirty = false;
      await this.#active.sync();
    }
    if (this.#directoryDirty) {
      this.#directoryDirty = false;
      await this.#fileSystem.syncDirectory(this.directory);
    }
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    if (this.#syncTimer) clearInterval(this.#syncTimer);
    try {
      await this.#lane.run(async () => {
        await this.#flush();
        if (!this.#failure) {
          await this.#syncEverything();
          await this.#active.writeIndex();
        }
      });
    } finally {
      this.#closed = true;
      this.#fail(new WeirError('CLOSED', 'the log is closed'));
      this.#listeners.clear();
      this.#cache.clear();
      for (const segment of this.#segments) await segment.close();
    }
  }
}

/**
 * Trims a read to what the caller may see (below `end`) and asked for: `maxRecords`, and
 * about `maxBytes` of keys and bodies — always at least one record.
 */
/** Index of the segment holding `offset` (or the first one after it). */
/**
 * The gaps between consecutive segments after recovery: every segment is named after its
 * first offset, so a segment that ends before the next one begins lost the offsets between.
 * Retention only deletes whole segments from the front, so it leaves no gap.
 */
function lostBetween(
  segments: readonly Segment[],
  logicalStart: number,
): {
  ranges: LostRange[];
  offsets: number;
} {
  const ranges: LostRange[] = [];
  let offsets = 0;
  for (let index = 1; index < segments.length; index++) {
    // Below the persisted logical start nothing is lost: it was purged (a segment created at
    // the start marker, past what recovery kept, leaves such a gap on purpose).
    const startOffset = Math.max(segments[index - 1]!.nextOffset, logicalStart);
    const endOffset = segments[index]!.baseOffset;
    if (startOffset >= endOffset) continue;
    offsets += endOffset - startOffset;
    if (ranges.length < LOST_RANGES_MAX) ranges.push({ startOffset, endOffset });
  }
  return { ranges, offsets };
}

function segmentFor(segments: readonly Segment[], offset: number): number {
  let low = 0;
  let high = segments.length - 1;
  let found = 0;
  while (low <= high) {
    const middle = (low + high) >>> 1;
    if (segments[middle]!.baseOffset <= offset) {
      found = middle;
      low = middle + 1;
    } else {
      high = middle - 1;
    }
  }
  return found;
}

function limit(
  records: StoredRecord[],
  end: number,
  maxBytes: number,
  maxRecords: number,
): StoredRecord[] {
  let count = records.length;
  while (count > 0 && records[count - 1]!.offset >= end) count--;
  if (count > maxRecords) count = maxRecords;
  let bytes = 0;
  for (let i = 0; i < count; i++) {
    const record = records[i]!;
    bytes += record.body.length + (record.key?.length ?? 0);
    if (bytes > maxBytes && i > 0) {
      count = i;
      break;
    }
  }
  if (count < records.length) records.length = count;
  return records;
}

export function openLog(options: LogOptions): Promise<PartitionLog> {
  return PartitionLog.open(options);
}

/** A log held in memory (for `memory` streams): the same engine over a MemoryFileSystem. */
export function openMemoryLog(
  options: Omit<LogOptions, 'directory' | 'fileSystem' | 'fsync'> = {},
): Promise<PartitionLog> {
  return PartitionLog.open({
    tailCacheBytes: 0,
    ...options,
    directory: path.sep + 'memory-log',
    fileSystem: new MemoryFileSystem(),
    fsync: 'never',
  });
}

/** Deletes a (closed) log's directory and everything in it. */
export async function removeLog(
  directory: string,
  fileSystem: FileSystem = nodeFileSystem,
): Promise<void> {
  await fileSystem.removeDirectory(directory);
}
