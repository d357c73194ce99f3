/**
 * A stream partition's scheduler: messages published with a delay (deliverAt later than the
 * publish) wait in the partition's *schedule*, a second PartitionLog under
 * `<stream>/schedule/<partition>/`, instead of the partition log; when one falls due the
 * scheduler appends it to the partition log, where subscriptions see a normal new message. So
 * no subscription holds a far-future message, and none blocks a partition.
 *
 * Memory: a ScheduleIndex (schedule-index.ts) of at most `indexMax` keys (dueAt, offset) and a
 * horizon: every pending record with a key below the horizon is in the index, the others are
 * on disk only. When the index runs under half full and the horizon is finite, a refill scan
 * reads the schedule log (from the lowest offset pending on disk) and takes the smallest
 * 3/4 × indexMax keys at or past the horizon (the brief said a quarter and a half: a refill
 * reads everything pending, so fewer, larger ones cost less, and starting earlier keeps the
 * index from running dry while the scan reads).
 *
 * Records: a move takes its record from a bounded record cache (schedule-record-cache.ts),
 * filled by publishes whose key enters the index and by refill scans (which decode every
 * pending record anyway; a scan caches only keys below the largest of the 2 × intake smallest
 * keys the previous scan saw, about the keys it will take, so that it does not copy records
 * it drops again). A record not cached is read from the schedule log by offset.
 *
 * Order. Moves happen in key order: a pass pops the smallest keys (due, and committed in the
 * schedule log; an uncommitted smallest key stops the pass until it commits), and appends
 * them, in that order, to the partition log with ONE enqueue; passes run one at a time. A new
 * record gets a key larger than every key moved so far (its dueAt is later than now, hence
 * than every due time moved; its offset is the largest). So the moved records are always
 * exactly those with a key at most `moved` (the last key moved), and in the partition log
 * their moves lie in key order. (A clock that goes back could break that; a publish whose
 * dueAt is before the last moved due time is therefore refused here and stored directly in the
 * partition log by the stream, where the subscriptions' own delay path holds it.)
 *
 * Exactly once across crashes. The checkpoint (schedule-checkpoint.ts) says (moved key K,
 * partition-log offset M): every record with a key <= K is moved durably, and every later move
 * lies at a partition-log offset >= M. It is written in the pass lane (so no move is in flight)
 * after the partition log is flushed, at most every SCHEDULE_CHECKPOINT_MS. On open, the
 * partition log is read from M to its end: the largest key among the records carrying
 * :scheduled there (the moves since the checkpoint that survived; the partition log keeps a
 * prefix, and moves lie in key order, so no gap) becomes K. Pending is then: offset >= the
 * schedule log's start and key > K. A crash before a move is durable loses the move and keeps
 * the record pending; a crash after keeps the move and K covers it: no loss, no second move.
 * Limit: retention that deletes partition-log records at or past M before the next checkpoint
 * would hide moves from that read (moves would repeat after a crash): checkpoints follow moves
 * within SCHEDULE_CHECKPOINT_MS, so only a retention shorter than that can.
 *
 * Disk: after a checkpoint the schedule log is truncated below its lowest pending offset
 * (whole segments), so its size follows what is pending.
 *
 * Concurrency: `schedule` is synchronous (called inside the stream's publish path); move
 * passes, checkpoints and purge run one at a time in #lane; a refill scan runs beside them
 * (moves take keys below the horizon, the scan looks at keys at or past it) and is abandoned
 * if an eviction lowers the horizon or a purge happens while it reads.
 */
import * as diagnosticsChannel from 'node:diagnostics_channel';
import * as path from 'node:path';
import type { PartitionLog, RecordInput, StoredRecord } from '../storage/index.js';
import {
  CURSOR_READ_BYTES_MAX,
  SCHEDULE_BUCKET_REFILL_KEYS,
  SCHEDULE_BUCKET_WINDOW_MS,
  SCHEDULE_BUCKET_WINDOWS_MAX,
  CURSOR_READ_RECORDS_MAX,
  SCHEDULE_BATCH_RECORDS_MAX,
  SCHEDULE_CACHE_BYTES_MAX,
  SCHEDULE_CHECKPOINT_MS,
  SCHEDULE_INDEX_MAX,
  SCHEDULE_MOVE_BATCH_MAX,
  SCHEDULE_MOVES_PENDING_BYTES_MAX,
  SCHEDULE_PREFETCH_LEAD_MS,
  SCHEDULE_READS_CONCURRENT,
  SCHEDULE_REFILL_FILL_PERCENT_MAX,
  SCHEDULE_REFILL_LEAD_MS,
  SCHEDULE_REFILL_LEAD_SCANS,
  SCHEDULE_REFILL_SCAN_NS_PER_RECORD,
  SCHEDULE_RETRY_MS,
  SCHEDULE_SCAN_READ_BYTES_MAX,
  SCHEDULE_SCAN_READ_RECORDS_MAX,
} from '../limits.js';
import {
  assert,
  isWeirError,
  Lane,
  toWeirError,
  WeirError,
  type Clock,
  type Timer,
} from '../util/index.js';
import type { FileSystem } from '../storage/index.js';
import { movedRecord, storedDeliverAt, storedScheduledOffset } from './message-codec.js';
import {
  readScheduleCheckpoint,
  writeScheduleCheckpoint,
  type ScheduleCheckpoint,
} from './schedule-checkpoint.js';
import { ScheduleBuckets } from './schedule-buckets.js';
import { keyBefore, ScheduleIndex, SmallestKeys } from './schedule-index.js';
import { ScheduleRecordCache } from './schedule-record-cache.js';

/** Under the schedule log's directory (PartitionLog ignores what is not a segment). */
const BUCKETS_DIRECTORY = 'buckets';

/** A scheduler stopped moving: `{ directory, code, message }`. */
export const schedulerFailedChannel = diagnosticsChannel.channel('weir:scheduler:failed');

export interface SchedulerOptions {
  /** The schedule log (the scheduler owns it from now on, and closes it). */
  readonly schedule: PartitionLog;
  /** The partition log moves go to (the stream owns it). */
  readonly main: PartitionLog;
  readonly fileSystem: FileSystem;
  readonly clock: Clock;
  /**
   * Enqueues due records in the partition log (the stream's one enqueue path); returns the
   * offset of the first; throws what PartitionLog.enqueue throws.
   */
  readonly appendDue: (records: RecordInput[]) => number;
  /** Default SCHEDULE_INDEX_MAX (tests use less). */
  readonly indexMax?: number;
  /** Default SCHEDULE_CACHE_BYTES_MAX (tests use less, or 0: every move reads its record). */
  readonly cacheBytesMax?: number;
  /** Default SCHEDULE_BUCKET_WINDOW_MS (tests use less). */
  readonly bucketWindowMs?: number;
  /** Default SCHEDULE_BUCKET_WINDOWS_MAX (tests use less). */
  readonly bucketWindowsMax?: number;
}

export class PartitionScheduler {
  readonly #schedule: PartitionLog;
  readonly #main: PartitionLog;
  readonly #fileSystem: FileSystem;
  readonly #clock: Clock;
  readonly #appendDue: (records: RecordInput[]) => number;
  readonly #index: ScheduleIndex;
  readonly #cache: ScheduleRecordCache;
  #buckets!: ScheduleBuckets;
  /** While a refill from buckets reads: the keys scheduled meanwhile that went to disk. */
  #scanArrivalsDue: number[] | null = null;
  #scanArrivalsOffsets: number[] = [];
  /** The first bucket window whose records are not yet prefetched into the record cache. */
  #prefetchWindow = -Infinity;
  #prefetching = false;
  #prefetchTimer: Timer | null = null;
  readonly #lane = new Lane();
  readonly #checkpointLane = new Lane();
  /** The last key moved (-1, -1: none). */
  #movedDueAt = -1;
  #movedOffset = -1;
  /** Pending records (scheduled, not moved, not purged). */
  #pending = 0;
  /** Lowest offset of a pending record on disk only (past the horizon); Infinity if none known. */
  #diskLowOffset = Infinity;
  /** Records past the horizon whose append is not yet committed: a refill scan cannot read them. */
  #uncommittedDue: number[] = [];
  #uncommittedOffsets: number[] = [];
  /**
   * A refill scan caches the records of keys below this key only: the largest of the 2 × intake
   * smallest keys the previous scan saw, so about the keys this scan will take. Without it,
   * a scan would cache (and copy) every record it keeps for a while on its way through the
   * log, and drop most again: a record read early is pushed out by smaller keys read later.
   */
  #cacheBelowDueAt = Infinity;
  #cacheBelowOffset = Infinity;
  /** Bumped by evictions and purges: a refill scan that started before is abandoned. */
  #generation = 0;
  #scan: Promise<void> | null = null;
  /** How long the last refill scan took per record pending on disk (ms; a guess before one). */
  #scanMsPerRecord = SCHEDULE_REFILL_SCAN_NS_PER_RECORD / 1e6;
  /** Checks for a refill when the horizon comes within the refill lead (no pass may run then). */
  #refillTimer: Timer | null = null;
  #refillTimerAt = Infinity;
  /** When the last pass's moves are durable (never rejects: a failure fails the scheduler). */
  #movesDurable: Promise<void> | null = null;
  #timer: Timer | null = null;
  #timerDueAt = Infinity;
  #passRunning = false;
  #passQueued = false;
  #checkpointTimer: Timer | null = null;
  #lastCheckpointAt = 0;
  #movedSinceCheckpoint = false;
  #started = false;
  #closed = false;
  #failure: WeirError | null = null;
  #unlisten: (() => void) | null = null;
  /** Moved messages since open (for tests and metrics). */
  moved = 0;

  private constructor(options: SchedulerOptions) {
    this.#schedule = options.schedule;
    this.#main = options.main;
    this.#fileSystem = options.fileSystem;
    this.#clock = options.clock;
    this.#appendDue = options.appendDue;
    this.#index = new ScheduleIndex(options.indexMax ?? SCHEDULE_INDEX_MAX);
    this.#cache = new ScheduleRecordCache(options.cacheBytesMax ?? SCHEDULE_CACHE_BYTES_MAX);
  }

  /** Recovers what is pending (see the header) and writes a fresh checkpoint. */
  static async open(options: SchedulerOptions): Promise<PartitionScheduler> {
    const scheduler = new PartitionScheduler(options);
    scheduler.#buckets = await ScheduleBuckets.open(
      options.fileSystem,
      path.join(options.schedule.directory, BUCKETS_DIRECTORY),
      options.bucketWindowMs ?? SCHEDULE_BUCKET_WINDOW_MS,
      options.bucketWindowsMax ?? SCHEDULE_BUCKET_WINDOWS_MAX,
      options.clock.now(),
    );
    await scheduler.#recover();
    return scheduler;
  }

  get pending(): number {
    return this.#pending;
  }

  /** Keys held in memory (at most the index capacity). */
  get indexSize(): number {
    return this.#index.size;
  }

  get indexCapacity(): number {
    return this.#index.capacity;
  }

  /** The record cache (its size, bytes and hit counts: tests and the benchmark). */
  get recordCache(): ScheduleRecordCache {
    return this.#cache;
  }

  get failure(): WeirError | null {
    return this.#failure ?? this.#schedule.failure;
  }

  /** The due-time buckets (tests and the benchmark). */
  get buckets(): ScheduleBuckets {
    return this.#buckets;
  }

  get scheduleLog(): PartitionLog {
    return this.#schedule;
  }

  /**
   * Queues a record in the schedule; returns its schedule offset (durable once
   * `scheduleLog.durable(offset + 1)` resolves), or -1 if it cannot keep move order (its due
   * time is before the last one moved: the clock went back) and belongs in the partition log.
   * Throws what PartitionLog.enqueue throws.
   */
  schedule(record: RecordInput, dueAt: number): number {
    if (this.#closed) throw new WeirError('CLOSED', 'the scheduler is closed');
    if (this.#failure) throw this.#failure;
    if (dueAt < this.#movedDueAt) return -1;
    const offset = this.#schedule.enqueue(record);
    this.#pending++;
    const buckets = this.#buckets;
    const window = buckets.windowOf(dueAt);
    const prefetched = buckets.add(dueAt, offset, record) && buckets.canServe(window);
    // Cached before it is placed: if placing it evicts it at once, the sweep drops it again.
    // A record its window's prefetch will read is not (see #maybePrefetch).
    if (window < this.#prefetchWindow || (!prefetched && this.#index.belowHorizon(dueAt, offset)))
      this.#cache.put(offset, dueAt, record);
    this.#place(dueAt, offset);
    if (this.#started && dueAt < this.#timerDueAt) this.#arm();
    return offset;
  }

  /** Offers a key to the index; one it does not take waits on disk. */
  #place(dueAt: number, offset: number): void {
    const evicted = this.#index.offer(dueAt, offset);
    if (evicted === -1) {
      this.#diskLowOffset = Math.min(this.#diskLowOffset, offset);
      if (this.#scanArrivalsDue !== null) {
        this.#scanArrivalsDue.push(dueAt);
        this.#scanArrivalsOffsets.push(offset);
      }
      if (offset >= this.#schedule.committedOffset) {
        this.#uncommittedDue.push(dueAt);
        this.#uncommittedOffsets.push(offset);
      }
    } else if (evicted !== Infinity) {
      this.#diskLowOffset = Math.min(this.#diskLowOffset, evicted);
      this.#generation++;
      this.#sweepCache();
    }
  }

  /** Drops the cached records of keys that left the index (past the horizon now). */
  #sweepCache(): void {
    const index = this.#index;
    this.#cache.sweep((dueAt, offset) => index.belowHorizon(dueAt, offset));
  }

  #onScheduleCommit(committedOffset: number): void {
    const offsets = this.#uncommittedOffsets;
    let count = 0;
    while (count < offsets.length && offsets[count]! < committedOffset) count++;
    if (count > 0) {
      offsets.splice(0, count);
      this.#uncommittedDue.splice(0, count);
    }
    // A due key may have waited for its commit.
    if (this.#index.firstDueAt <= this.#clock.now()) this.#arm();
  }

  /** Starts moving (after the stream's subscriptions are loaded). */
  start(): void {
    if (this.#started || this.#closed) return;
    this.#started = true;
    this.#unlisten = this.#schedule.onCommit((committed) => this.#onScheduleCommit(committed));
    this.#arm();
    this.#maybeRefill();
    this.#maybePrefetch();
  }

  // ---- prefetch ----------------------------------------------------------------------------

  /**
   * Reads the bucket windows due within SCHEDULE_PREFETCH_LEAD_MS into the record cache, one
   * at a time in due order, so that a move finds its record in memory. Records thus enter the
   * cache in about the order they leave it (slabs empty whole, no compaction), and only a few
   * seconds' worth are held; a publish into a window already prefetched is cached as it comes.
   * (Caching every indexed key's record at publish and at refill, as before buckets, filled the
   * cache with holes: compacting 48 MiB stalled a pass for 250 ms while messages were due.)
   * A window the buckets cannot serve is skipped: its records are read by their moves.
   */
  #maybePrefetch(): void {
    if (this.#prefetching || this.#closed || this.#failure || !this.#started) return;
    const buckets = this.#buckets;
    const now = this.#clock.now();
    // Windows below the first key due, or long past, hold nothing pending to prefetch.
    const floor = buckets.windowOf(Math.min(now, this.#index.firstDueAt));
    if (this.#prefetchWindow < floor) this.#prefetchWindow = floor;
    const window = this.#prefetchWindow;
    const startAt = buckets.windowStart(window) - SCHEDULE_PREFETCH_LEAD_MS;
    if (startAt > now || window > buckets.lastWindow) {
      const at = Math.max(startAt, now + SCHEDULE_PREFETCH_LEAD_MS / 4);
      this.#prefetchTimer?.cancel();
      this.#prefetchTimer = this.#clock.setTimer(
        at - now,
        () => {
          this.#prefetchTimer = null;
          this.#maybePrefetch();
        },
        { unref: true },
      );
      return;
    }
    // Taken before the read: a publish into this window while it reads is cached as it comes.
    this.#prefetchWindow = window + 1;
    if (!buckets.canServe(window)) {
      queueMicrotask(() => this.#maybePrefetch());
      return;
    }
    const schedule = this.#schedule;
    const cache = this.#cache;
    this.#prefetching = true;
    buckets
      .read(window, (dueAt, offset, chunk, start) => {
        // Moved (or being moved: a pass sets the moved key when it pops), or purged.
        if (offset < schedule.startOffset) return;
        if (!keyBefore(this.#movedDueAt, this.#movedOffset, dueAt, offset)) return;
        cache.putPacked(offset, chunk, start);
      })
      .catch(() => undefined) // the buckets failed: moves read their records
      .finally(() => {
        this.#prefetching = false;
        this.#maybePrefetch();
      });
  }

  /**
   * (Re)arms the move timer at the smallest due time. A key already due runs a pass at once
   * (not through the clock: a ManualClock would hold it until the next advance), unless it
   * waits for its schedule append to commit (the commit listener arms then).
   */
  #arm(): void {
    if (this.#closed || this.#failure || !this.#started || this.#passRunning) return;
    const dueAt = this.#index.firstDueAt;
    if (dueAt <= this.#clock.now()) {
      if (this.#index.firstOffset >= this.#schedule.committedOffset) return;
      this.#cancelTimer();
      if (!this.#passQueued) {
        this.#passQueued = true;
        queueMicrotask(() => {
          this.#passQueued = false;
          this.#runPass();
        });
      }
      return;
    }
    if (this.#timer !== null && this.#timerDueAt <= dueAt) return;
    this.#cancelTimer();
    if (dueAt === Infinity) return;
    this.#timerDueAt = dueAt;
    this.#timer = this.#clock.setTimer(dueAt - this.#clock.now(), () => {
      this.#timer = null;
      this.#timerDueAt = Infinity;
      this.#runPass();
    });
  }

  #cancelTimer(): void {
    this.#timer?.cancel();
    this.#timer = null;
    this.#timerDueAt = Infinity;
  }

  #runPass(): void {
    if (this.#closed || this.#passRunning) return;
    this.#passRunning = true;
    this.#lane
      .run(() => this.#pass())
      .then(
        (retry) => {
          this.#passRunning = false;
          if (retry && !this.#closed) {
            this.#cancelTimer();
            this.#timer = this.#clock.setTimer(SCHEDULE_RETRY_MS, () => {
              this.#timer = null;
              this.#timerDueAt = Infinity;
              this.#runPass();
            });
            this.#timerDueAt = -Infinity;
          } else this.#arm();
          this.#maybeRefill();
          this.#maybePrefetch();
          this.#maybeCheckpoint();
        },
        (error: unknown) => {
          this.#passRunning = false;
          this.#fail(error);
        },
      );
  }

  /**
   * One move pass: takes due keys (at most SCHEDULE_MOVE_BATCH_MAX), reads their records and
   * queues them in the partition log in key order (one enqueue). Resolves true if it should be
   * tried again shortly (the partition log refused for now).
   */
  async #pass(): Promise<boolean> {
    // Moves go no further ahead of the partition log's writes than this: past it, their
    // records would wait in its queue as objects (up to APPEND_PENDING_BYTES_MAX), which a
    // mover faster than the fsyncs fills while it catches up.
    if (this.#main.pendingBytes > SCHEDULE_MOVES_PENDING_BYTES_MAX && this.#movesDurable !== null)
      await this.#movesDurable;
    if (this.#closed || this.#failure) return false;
    const now = this.#clock.now();
    const committed = this.#schedule.committedOffset;
    const dues: number[] = [];
    const offsets: number[] = [];
    const index = this.#index;
    while (
      index.size > 0 &&
      dues.length < SCHEDULE_MOVE_BATCH_MAX &&
      index.firstDueAt <= now &&
      index.firstOffset < committed
    ) {
      dues.push(index.firstDueAt);
      offsets.push(index.firstOffset);
      index.pop();
    }
    if (dues.length === 0) return false;
    const previousDueAt = this.#movedDueAt;
    const previousOffset = this.#movedOffset;
    this.#movedDueAt = dues[dues.length - 1]!;
    this.#movedOffset = offsets[offsets.length - 1]!;
    this.#pending -= dues.length;
    const restore = (): void => {
      this.#movedDueAt = previousDueAt;
      this.#movedOffset = previousOffset;
      this.#pending += dues.length;
      for (let i = 0; i < dues.length; i++) this.#place(dues[i]!, offsets[i]!);
    };
    let base: number;
    let count: number;
    try {
      const records = await this.#recordsAt(offsets);
      const movedAt = this.#clock.now();
      const inputs = records.map((record) => movedRecord(record, movedAt));
      count = inputs.length;
      base = this.#appendDue(inputs);
    } catch (error) {
      // Nothing moved: the keys go back (a failure stops the scheduler, and no checkpoint is
      // written after one, so a restart finds them pending whatever happens here).
      restore();
      if (isWeirError(error, 'LIMIT_EXCEEDED')) return true; // the partition log is backed up
      throw error;
    }
    this.moved += count;
    this.#movedSinceCheckpoint = true;
    // Not awaited: the next pass need not wait for this one's fsync (moves stay in order in
    // the log, which keeps a prefix); a checkpoint flushes the partition log before it is
    // written, and a failed append fails the log, so the next appendDue throws.
    this.#movesDurable = this.#main
      .durable(base + count)
      .catch((error: unknown) => this.#fail(error));
    return false;
  }

  /** The records at `offsets`, in that order: from the cache, or else read. */
  #recordsAt(offsets: readonly number[]): StoredRecord[] | Promise<StoredRecord[]> {
    const cache = this.#cache;
    const records: (StoredRecord | undefined)[] = new Array<StoredRecord | undefined>(
      offsets.length,
    );
    let missing: number[] | null = null;
    for (let i = 0; i < offsets.length; i++) {
      const record = cache.take(offsets[i]!);
      records[i] = record;
      if (record === undefined) (missing ??= []).push(offsets[i]!);
    }
    if (missing === null) return records as StoredRecord[];
    return this.#readRecords(missing).then((read) => {
      let next = 0;
      for (let i = 0; i < records.length; i++)
        if (records[i] === undefined) records[i] = read[next++];
      return records as StoredRecord[];
    });
  }

  /**
   * The records at `offsets` (any order), returned in that order. Reads go in offset order; one
   * read serves every wanted offset it returns (a read decodes its whole batch anyway).
   */
  async #readRecords(offsets: readonly number[]): Promise<StoredRecord[]> {
    const sorted = [...offsets].sort((a, b) => a - b);
    const byOffset = new Map<number, StoredRecord>();
    // Reads run SCHEDULE_READS_CONCURRENT at a time: each is one small read of the file.
    let taken = 0;
    const reader = async (): Promise<void> => {
      while (taken < sorted.length) {
        const next = sorted[taken]!;
        let end = taken + 1;
        while (end < sorted.length && sorted[end]! - next < SCHEDULE_BATCH_RECORDS_MAX) end++;
        taken = end;
        const records = await this.#schedule.read(next, {
          maxRecords: sorted[end - 1]! - next + 1,
        });
        const first = records[0];
        assert(
          first !== undefined && first.offset === next,
          'a pending schedule record is readable',
        );
        for (const record of records) byOffset.set(record.offset, record);
      }
    };
    const readers: Promise<void>[] = [];
    for (let i = 0; i < SCHEDULE_READS_CONCURRENT; i++) readers.push(reader());
    await Promise.all(readers);
    return offsets.map((offset) => {
      const record = byOffset.get(offset);
      assert(record !== undefined, 'every due record was read');
      return record;
    });
  }

  #fail(error: unknown): void {
    if (this.#closed && isWeirError(error, 'CLOSED')) return;
    if (this.#failure) return;
    const failure = toWeirError(error);
    this.#failure = failure;
    this.#cancelTimer();
    if (schedulerFailedChannel.hasSubscribers) {
      schedulerFailedChannel.publish({
        directory: this.#schedule.directory,
        code: failure.code,
        message: failure.message,
      });
    }
  }

  // ---- refill ------------------------------------------------------------------------------

  /**
   * Starts a refill scan when the index is under half full, or under SCHEDULE_REFILL_FILL_PERCENT_MAX
   * full with its horizon (when it runs dry, if every key moves when due) nearer than the
   * refill lead: the larger of SCHEDULE_REFILL_LEAD_MS and SCHEDULE_REFILL_LEAD_SCANS × the
   * time the scan will take (the records pending on disk at the last scan's pace per record).
   * A count alone started the scan 160,000 keys before the end: under load a scan of a
   * million records took longer than those lasted at 25,000 due a second, and moves waited.
   */
  #maybeRefill(): void {
    const index = this.#index;
    if (this.#scan !== null || this.#closed || this.#failure || !index.bounded) return;
    if (index.size >= (index.capacity * SCHEDULE_REFILL_FILL_PERCENT_MAX) / 100) return;
    const now = this.#clock.now();
    const fromBuckets = this.#buckets.canServe(this.#buckets.windowOf(index.horizonDueAt));
    if (index.size >= index.capacity / 2) {
      // The next scan reads about every record pending on disk, at the last scan's pace; a
      // refill from buckets only the next windows.
      const scanMs = fromBuckets ? 0 : (this.#pending - index.size) * this.#scanMsPerRecord;
      const lead = Math.max(SCHEDULE_REFILL_LEAD_MS, SCHEDULE_REFILL_LEAD_SCANS * scanMs);
      const startAt = index.horizonDueAt - lead;
      if (startAt > now) {
        this.#armRefill(startAt);
        return;
      }
    }
    this.#refillTimer?.cancel();
    this.#refillTimer = null;
    this.#refillTimerAt = Infinity;
    const startedAt = now;
    const scanned = this.#pending - index.size;
    this.#scan = (fromBuckets ? this.#refillFromBuckets() : this.#refill())
      .then((completed) => {
        // A pace from a few records would be mostly the scan's fixed cost.
        if (completed && !fromBuckets && scanned >= index.capacity / 4)
          this.#scanMsPerRecord = Math.max(0, this.#clock.now() - startedAt) / scanned;
      })
      .catch((error: unknown) => this.#fail(error))
      .finally(() => {
        this.#scan = null;
        if (!this.#closed) {
          this.#arm();
          this.#maybeRefill();
        }
      });
  }

  #armRefill(at: number): void {
    if (this.#refillTimer !== null && this.#refillTimerAt <= at) return;
    this.#refillTimer?.cancel();
    this.#refillTimerAt = at;
    this.#refillTimer = this.#clock.setTimer(
      Math.max(0, at - this.#clock.now()),
      () => {
        this.#refillTimer = null;
        this.#refillTimerAt = Infinity;
        this.#maybeRefill();
      },
      { unref: true },
    );
  }

  /**
   * Reads the schedule log for the smallest keys at or past the horizon and takes them into
   * the index. Records committed while it reads are read too (it reads to the committed end
   * it finds when it stops); those not yet committed are in #uncommitted*.
   */
  /** Resolves true if the scan ran to its end (false: abandoned). */
  async #refill(): Promise<boolean> {
    const generation = this.#generation;
    const index = this.#index;
    const fromDueAt = index.horizonDueAt;
    const fromOffset = index.horizonOffset;
    const taken = await this.#scanSchedule(
      (dueAt, offset) => !keyBefore(dueAt, offset, fromDueAt, fromOffset),
      () => generation !== this.#generation || this.#closed,
      undefined,
      true,
    );
    if (taken === null) {
      // What it cached is for keys that did not enter the index.
      this.#sweepCache();
      return false;
    }
    this.#commitScan(taken);
    return true;
  }

  /**
   * Scans the schedule log for keys `wanted` accepts, keeping the smallest SCHEDULE_INDEX_MAX/2;
   * null if `abandoned` turned true on the way. Ends synchronously after its last read, with
   * the keys of records not yet committed added.
   */
  async #scanSchedule(
    wanted: (dueAt: number, offset: number) => boolean,
    abandoned: () => boolean,
    counted?: { count: number },
    rebucket = false,
  ): Promise<SmallestKeys | null> {
    // Up to 3/4 of the index: what is in it when the scan ends is below half, so the merge
    // rarely evicts; a refill reads the whole schedule, so each should bring in much.
    const intake = Math.max(1, Math.floor((this.#index.capacity * 3) / 4));
    const taken = new SmallestKeys(intake);
    // The keys the next scan will take, about: where it will stop caching.
    const lookahead = new SmallestKeys(2 * intake);
    const cache = this.#cache;
    let cacheBelowDueAt = this.#cacheBelowDueAt;
    let cacheBelowOffset = this.#cacheBelowOffset;
    const index = this.#index;
    if (cacheBelowDueAt === Infinity && index.bounded && index.size > 0) {
      // No scan before this one: guess that keys past the horizon are as dense as those in
      // the index, so that about `intake` keys lie below the guess. (Only what is cached
      // depends on it: too low, some moves read; too high, the scan copies more.)
      const span = index.horizonDueAt - index.firstDueAt;
      if (span > 0) {
        cacheBelowDueAt = index.horizonDueAt + Math.ceil((span * intake) / index.size);
        cacheBelowOffset = 0;
      }
    }
    // Pending records past the horizon all lie at or after #diskLowOffset; rebucketing needs
    // every pending record (those in the index may be evicted to disk later).
    let offset = Math.max(
      this.#schedule.startOffset,
      Number.isFinite(this.#diskLowOffset) && counted === undefined && !rebucket
        ? this.#diskLowOffset
        : 0,
    );
    const schedule = this.#schedule;
    // A new generation of buckets: records below `rebucketBelow` are bucketed by this scan,
    // later ones by schedule() (so none twice); not built (usable) unless the scan ends.
    const buckets = this.#buckets;
    const rebucketBelow = schedule.endOffset;
    if (rebucket) buckets.reset(this.#clock.now());
    const readFrom = (from: number): Promise<StoredRecord[]> =>
      schedule.read(from, {
        maxRecords: SCHEDULE_SCAN_READ_RECORDS_MAX,
        maxBytes: SCHEDULE_SCAN_READ_BYTES_MAX,
      });
    // One read ahead: the next chunk is read (in the thread pool, where it may wait behind
    // fsyncs) while this one is looked at.
    let reading: Promise<StoredRecord[]> | null = null;
    for (;;) {
      if (abandoned()) {
        // A read ahead nobody awaits must not reject unseen (a purge or close under it).
        reading?.catch(() => undefined);
        return null;
      }
      if (reading === null) {
        if (offset >= schedule.committedOffset) break;
        reading = readFrom(offset);
      }
      const records = await reading;
      reading = null;
      if (records.length === 0) break;
      const next = records[records.length - 1]!.offset + 1;
      if (next < schedule.committedOffset) reading = readFrom(next);
      if (rebucket) await buckets.drain();
      for (const record of records) {
        const dueAt = storedDeliverAt(record);
        if (
          rebucket &&
          record.offset < rebucketBelow &&
          record.offset >= schedule.startOffset &&
          keyBefore(this.#movedDueAt, this.#movedOffset, dueAt, record.offset)
        )
          buckets.add(dueAt, record.offset, record);
        if (!wanted(dueAt, record.offset)) continue;
        if (counted) counted.count++;
        lookahead.offer(dueAt, record.offset);
        const rejected = taken.offer(dueAt, record.offset);
        if (rejected === record.offset) continue;
        // Its record is at hand: keep it for its move (a key pushed out drops its own).
        if (rejected >= 0) cache.delete(rejected);
        if (keyBefore(dueAt, record.offset, cacheBelowDueAt, cacheBelowOffset))
          cache.put(record.offset, dueAt, record);
      }
      offset = next;
    }
    if (abandoned()) return null;
    const offsets = this.#uncommittedOffsets;
    for (let i = 0; i < offsets.length; i++) {
      const uncommitted = offsets[i]!;
      const dueAt = this.#uncommittedDue[i]!;
      if (uncommitted >= offset && wanted(dueAt, uncommitted)) {
        lookahead.offer(dueAt, uncommitted);
        taken.offer(dueAt, uncommitted);
      }
      // Not read, so not bucketed by this scan: the buckets cannot serve from its due time on.
      if (rebucket && uncommitted >= offset && uncommitted < rebucketBelow)
        buckets.markIncomplete(dueAt, uncommitted);
    }
    if (rebucket) buckets.built();
    this.#cacheBelowDueAt = lookahead.largestDueAt;
    this.#cacheBelowOffset = lookahead.largestOffset;
    return taken;
  }

  /**
   * Takes a scan's keys into the index; synchronous with the scan's end. Only as many as fit:
   * the largest of the others are dropped back to disk here (a heap pop each) rather than
   * evicted by the index, whose eviction sorts all it holds (hundreds of ms at capacity, while
   * messages are due).
   */
  #commitScan(taken: SmallestKeys): void {
    const index = this.#index;
    const cache = this.#cache;
    taken.keepSmallest(index.capacity - index.size, (offset) => cache.delete(offset));
    index.setHorizon(taken.rejectedDueAt, taken.rejectedOffset);
    this.#diskLowOffset = taken.rejectedLowestOffset;
    taken.forEach((dueAt, offset) => this.#place(dueAt, offset));
    this.#dropPassedWindows();
  }

  /**
   * Bucket windows below the horizon's hold only keys in the index, or moved: they go, once
   * the prefetch has read them.
   */
  #dropPassedWindows(): void {
    const horizon = this.#index.horizonDueAt;
    if (horizon !== Infinity)
      this.#buckets.dropBelow(Math.min(this.#buckets.windowOf(horizon), this.#prefetchWindow));
  }

  /**
   * A refill from the due-time buckets (schedule-buckets.ts): reads whole windows from the
   * horizon's on, until it has SCHEDULE_BUCKET_REFILL_KEYS keys, the index's room is full of
   * them, or no window can serve; takes the smallest that fit. Resolves true if it ran to its
   * end (false: abandoned, or the buckets failed: the next refill scans the schedule log).
   *
   * Why nothing is missed: a bucket holds every record scheduled with a due time in its
   * window (canServe), but a read sees only the records bucketed before it; records scheduled
   * after the refill began (offset >= `scanEnd`) are skipped in the files and taken from
   * #scanArrivals* instead (the keys #place sent to disk meanwhile), so each is seen once.
   * What was read covers every pending key in [horizon, readEnd): that is the new horizon
   * (lower if keys had to be left out).
   */
  async #refillFromBuckets(): Promise<boolean> {
    const generation = this.#generation;
    const index = this.#index;
    const buckets = this.#buckets;
    const cache = this.#cache;
    const schedule = this.#schedule;
    const fromDueAt = index.horizonDueAt;
    const fromOffset = index.horizonOffset;
    const room = index.capacity - index.size;
    if (room <= 0) return true;
    const target = Math.min(room, SCHEDULE_BUCKET_REFILL_KEYS);
    const taken = new SmallestKeys(room);
    const scanEnd = schedule.endOffset;
    this.#scanArrivalsDue = [];
    this.#scanArrivalsOffsets = [];
    const visit = (dueAt: number, offset: number, chunk: Buffer, start: number): void => {
      if (offset >= scanEnd || offset < schedule.startOffset) return;
      if (keyBefore(dueAt, offset, fromDueAt, fromOffset)) return; // in the index, or moved
      // Records are cached by the prefetch (a window it already read: here).
      if (taken.offer(dueAt, offset) !== offset && buckets.windowOf(dueAt) < this.#prefetchWindow)
        cache.putPacked(offset, chunk, start);
    };
    const abandoned = (): boolean =>
      generation !== this.#generation || this.#closed || this.#failure !== null;
    let window = buckets.windowOf(fromDueAt);
    // Whether it went past the last window that has records.
    let exhausted = false;
    try {
      while (taken.size < target) {
        if (window > buckets.lastWindow) {
          exhausted = true;
          break;
        }
        if (!buckets.canServe(window)) break;
        await buckets.read(window, visit);
        if (abandoned()) break;
        window++;
      }
    } catch {
      // The buckets failed (they say why in `failure`): the next refill scans the log.
      this.#scanArrivalsDue = null;
      return false;
    }
    const arrivalsDue = this.#scanArrivalsDue;
    const arrivalsOffsets = this.#scanArrivalsOffsets;
    this.#scanArrivalsDue = null;
    this.#scanArrivalsOffsets = [];
    if (abandoned()) return false;
    // Past the last window, every pending key below incompleteFromDueAt has been read.
    const readEnd = exhausted
      ? Math.max(buckets.windowStart(window), buckets.incompleteFromDueAt)
      : buckets.windowStart(window);
    for (let i = 0; i < arrivalsDue.length; i++) {
      const dueAt = arrivalsDue[i]!;
      const offset = arrivalsOffsets[i]!;
      if (dueAt >= readEnd || keyBefore(dueAt, offset, fromDueAt, fromOffset)) continue;
      taken.offer(dueAt, offset);
    }
    // Arrivals below the horizon went into the index meanwhile: take only what fits now. (A
    // record left out keeps what the prefetch cached: it is due soon, with its key or not.)
    taken.keepSmallest(index.capacity - index.size, () => undefined);
    let horizonDueAt = readEnd;
    let horizonOffset = -1;
    if (keyBefore(taken.rejectedDueAt, taken.rejectedOffset, horizonDueAt, horizonOffset)) {
      horizonDueAt = taken.rejectedDueAt;
      horizonOffset = taken.rejectedOffset;
    }
    // Nothing read (every key taken is below readEnd): the horizon stays.
    if (keyBefore(horizonDueAt, horizonOffset, fromDueAt, fromOffset)) {
      horizonDueAt = fromDueAt;
      horizonOffset = fromOffset;
    }
    if (index.size + taken.size === this.#pending) {
      // Every pending key is in hand: nothing waits on disk.
      horizonDueAt = Infinity;
      horizonOffset = Infinity;
    }
    index.setHorizon(horizonDueAt, horizonOffset);
    this.#diskLowOffset = Math.min(
      taken.rejectedLowestOffset,
      horizonDueAt === Infinity ? Infinity : buckets.lowestOffsetFrom(buckets.windowOf(readEnd)),
    );
    taken.forEach((dueAt, offset) => this.#place(dueAt, offset));
    this.#dropPassedWindows();
    return true;
  }

  // ---- recovery and checkpoints ------------------------------------------------------------

  async #recover(): Promise<void> {
    const schedule = this.#schedule;
    const main = this.#main;
    const checkpoint = await readScheduleCheckpoint(this.#fileSystem, schedule.directory);
    if (checkpoint !== null) {
      this.#movedDueAt = checkpoint.movedDueAt;
      this.#movedOffset = checkpoint.movedOffset;
    }
    if (schedule.committedOffset > schedule.startOffset) {
      // The moves since the checkpoint that survived: the largest key among them.
      let offset = Math.max(checkpoint?.mainOffset ?? 0, main.startOffset);
      while (offset < main.committedOffset) {
        const records = await main.read(offset, {
          maxRecords: CURSOR_READ_RECORDS_MAX,
          maxBytes: CURSOR_READ_BYTES_MAX,
        });
        if (records.length === 0) break;
        for (const record of records) {
          const scheduled = storedScheduledOffset(record);
          if (scheduled < 0) continue;
          const dueAt = storedDeliverAt(record);
          if (keyBefore(this.#movedDueAt, this.#movedOffset, dueAt, scheduled)) {
            this.#movedDueAt = dueAt;
            this.#movedOffset = scheduled;
          }
        }
        offset = records[records.length - 1]!.offset + 1;
      }
      const movedDueAt = this.#movedDueAt;
      const movedOffset = this.#movedOffset;
      const counted = { count: 0 };
      const taken = await this.#scanSchedule(
        (dueAt, offset) => keyBefore(movedDueAt, movedOffset, dueAt, offset),
        () => false,
        counted,
        true,
      );
      this.#pending = counted.count;
      this.#commitScan(taken!);
    } else this.#buckets.built();
    await this.#writeCheckpoint();
  }

  #maybeCheckpoint(): void {
    if (!this.#movedSinceCheckpoint || this.#checkpointTimer !== null || this.#closed) return;
    const wait = Math.max(0, this.#lastCheckpointAt + SCHEDULE_CHECKPOINT_MS - this.#clock.now());
    this.#checkpointTimer = this.#clock.setTimer(
      wait,
      () => {
        this.#checkpointTimer = null;
        this.#checkpointInBackground().catch((error: unknown) => this.#fail(error));
      },
      { unref: true },
    );
  }

  /**
   * A checkpoint while moves go on: the key and partition-log end are taken in the lane (no
   * pass between its pop and its append, so every move up to the key is queued below that
   * end); the wait for them to be durable and the file write happen outside it, so passes do
   * not wait for those fsyncs. Checkpoint writes run one at a time (#checkpointLane).
   */
  async #checkpointInBackground(): Promise<void> {
    const snapshot = await this.#lane.run(() => Promise.resolve(this.#snapshot()));
    if (snapshot === null) return;
    await this.#checkpointLane.run(() => this.#persist(snapshot));
    await this.#lane.run(() => this.#truncate());
  }

  #snapshot(): ScheduleCheckpoint | null {
    if (this.#failure || this.#closed) return null;
    this.#movedSinceCheckpoint = false;
    this.#lastCheckpointAt = this.#clock.now();
    return {
      movedDueAt: this.#movedDueAt,
      movedOffset: this.#movedOffset,
      mainOffset: this.#main.endOffset,
    };
  }

  /** Makes the moves below the snapshot durable (flush: under fsync interval / never too), then writes it. */
  async #persist(snapshot: ScheduleCheckpoint): Promise<void> {
    await this.#main.flush();
    if (this.#failure) return;
    await writeScheduleCheckpoint(this.#fileSystem, this.#schedule.directory, snapshot);
  }

  /** In the lane (no pass holds popped keys): drops whole schedule segments below what is pending. */
  async #truncate(): Promise<void> {
    if (this.#failure || this.#closed) return;
    const lowest = Math.min(this.#index.minOffset(), this.#diskLowOffset, this.#schedule.endOffset);
    if (lowest > this.#schedule.startOffset) await this.#schedule.truncateBefore(lowest);
  }

  /** At open and close (nothing moves): a checkpoint, then truncation. */
  async #writeCheckpoint(): Promise<void> {
    const snapshot = this.#snapshotAlways();
    await this.#checkpointLane.run(() => this.#persist(snapshot));
    const lowest = Math.min(this.#index.minOffset(), this.#diskLowOffset, this.#schedule.endOffset);
    if (lowest > this.#schedule.startOffset) await this.#schedule.truncateBefore(lowest);
  }

  #snapshotAlways(): ScheduleCheckpoint {
    this.#movedSinceCheckpoint = false;
    this.#lastCheckpointAt = this.#clock.now();
    return {
      movedDueAt: this.#movedDueAt,
      movedOffset: this.#movedOffset,
      mainOffset: this.#main.endOffset,
    };
  }

  /**
   * Drops every record scheduled before the call (a stream purge). The schedule log's start
   * moves past them (persisted by its start marker) before this resolves, so a restart does
   * not bring them back.
   */
  purge(): Promise<void> {
    return this.#lane.run(async () => {
      if (this.#closed) throw new WeirError('CLOSED', 'the scheduler is closed');
      const end = this.#schedule.endOffset;
      this.#generation++;
      await this.#schedule.flush();
      await this.#schedule.advanceStart(end);
      this.#index.dropBelow(end);
      this.#cache.dropBelow(end);
      if (this.#diskLowOffset < end) {
        // Records past the horizon below `end` are gone; what lies past `end` a scan finds.
        this.#diskLowOffset = end;
      }
      // Nothing moved while the lane was held: what is pending was scheduled after `end`.
      this.#pending = this.#schedule.endOffset - end;
      await this.#schedule.truncateBefore(end);
      this.#cancelTimer();
      queueMicrotask(() => {
        this.#arm();
        this.#maybeRefill();
      });
    });
  }

  /** Stops moving; writes a last checkpoint; closes the schedule log. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#cancelTimer();
    this.#checkpointTimer?.cancel();
    this.#refillTimer?.cancel();
    this.#refillTimer = null;
    this.#prefetchTimer?.cancel();
    this.#prefetchTimer = null;
    this.#unlisten?.();
    this.#started = false;
    // Let a running pass finish, so that the checkpoint covers it.
    await this.#lane.idle();
    this.#closed = true;
    if (this.#scan) await this.#scan;
    await this.#checkpointLane.idle();
    try {
      if (!this.#failure && this.#main.failure === null) await this.#writeCheckpoint();
    } finally {
      await this.#buckets.close();
      await this.#schedule.close();
    }
  }
}
