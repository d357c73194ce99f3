/**
 * Priority lanes of one partition: per priority level 1..PRIORITY_MAX, a small log of the
 * partition offsets of the messages stored with that priority, in offset order (one 8-byte
 * record each). A subscription reads a lane to find higher-priority messages anywhere in its
 * backlog, not only in what it has read ahead: a priority-9 message behind a million
 * priority-0 ones is delivered next. Priority 0 has no lane (the partition log is its lane).
 *
 *   <stream dir>/priority/<partition>/<level>/   a PartitionLog, opened when first needed
 *
 * A lane is an index, not the data: the message stays in the partition log. Lane appends are
 * not awaited by the publish; a lane log syncs on an interval (never for a `never` stream).
 * After a power cut a lane may miss its last entries (those messages are then delivered in
 * offset order, as priority-0 ones are — never lost) or name an offset whose message was cut
 * from the partition log's torn tail and reused: a reader checks the record's priority and
 * skips an entry that does not match.
 *
 * Concurrency: `add` is synchronous (it runs in the publish's turn, in offset order); the first
 * add of a level opens its log in the background and queues the offsets meanwhile (at most
 * LANE_PENDING_MAX; past that a lane misses entries, as after a crash).
 */
import * as path from 'node:path';
import { openLog, type FileSystem, type FsyncPolicy, type PartitionLog } from '../storage/index.js';
import { CURSOR_READ_RECORDS_MAX, LANE_PENDING_MAX, PRIORITY_MAX } from '../limits.js';
import type { Clock } from '../util/index.js';

const ENTRY_BYTES = 8;

export interface LaneEntry {
  /** Position in the lane log. */
  readonly position: number;
  /** Offset of the message in the partition log. */
  readonly offset: number;
}

export interface LaneOptions {
  readonly directory: string;
  readonly fileSystem: FileSystem;
  /** The stream's policy: lanes sync on an interval unless it is `never`. */
  readonly fsync: FsyncPolicy;
  readonly fsyncIntervalMs: number;
  readonly segmentBytes: number;
  readonly clock: Clock;
  readonly inMemory: boolean;
}

function encodeEntry(offset: number): Uint8Array {
  const body = new Uint8Array(ENTRY_BYTES);
  new DataView(body.buffer).setFloat64(0, offset, true);
  return body;
}

function decodeEntry(body: Uint8Array): number {
  if (body.length !== ENTRY_BYTES) return -1;
  return new DataView(body.buffer, body.byteOffset, ENTRY_BYTES).getFloat64(0, true);
}

interface Lane {
  log: PartitionLog | null;
  opening: Promise<void> | null;
  /** Offsets added while the log opens. */
  pending: number[];
  /** Highest partition offset added (entries are kept in offset order). */
  last: number;
}

export class PriorityLanes {
  readonly #options: LaneOptions;
  /** Index = level; [0] unused. */
  readonly #lanes: Lane[];
  #closed = false;
  /** Called when a lane log commits entries (the stream wakes its subscriptions). */
  onCommit: () => void = () => undefined;

  private constructor(options: LaneOptions) {
    this.#options = options;
    this.#lanes = Array.from({ length: PRIORITY_MAX + 1 }, () => ({
      log: null,
      opening: null,
      pending: [],
      last: -1,
    }));
  }

  /** Opens the lanes that exist on disk (the others open when a message needs them). */
  static async open(options: LaneOptions): Promise<PriorityLanes> {
    const lanes = new PriorityLanes(options);
    let names: string[] = [];
    try {
      names = await options.fileSystem.readdir(options.directory);
    } catch {
      names = []; // no lanes yet
    }
    try {
      for (const name of names) {
        const level = Number(name);
        if (Number.isInteger(level) && level >= 1 && level <= PRIORITY_MAX)
          await lanes.#openLane(level);
      }
    } catch (error) {
      await lanes.close();
      throw error;
    }
    return lanes;
  }

  #laneOptions(level: number): Parameters<typeof openLog>[0] {
    const options = this.#options;
    return {
      directory: path.join(options.directory, String(level)),
      fileSystem: options.fileSystem,
      fsync: options.inMemory || options.fsync === 'never' ? 'never' : 'interval',
      fsyncIntervalMs: options.fsyncIntervalMs,
      segmentBytes: options.segmentBytes,
      clock: () => options.clock.now(),
      ...(options.inMemory ? { tailCacheBytes: 0 } : {}),
    };
  }

  async #openLane(level: number): Promise<void> {
    const lane = this.#lanes[level]!;
    const log = await openLog(this.#laneOptions(level));
    if (this.#closed) {
      await log.close();
      return;
    }
    lane.log = log;
    log.onCommit(() => this.onCommit());
    // The last entry, so entries stay in offset order.
    if (log.committedOffset > log.startOffset) {
      const [record] = await log.read(log.committedOffset - 1, { maxRecords: 1 });
      if (record) lane.last = Math.max(lane.last, decodeEntry(record.body));
    }
    for (const offset of lane.pending.splice(0)) this.#append(lane, offset);
  }

  /** Whether level `level` has a lane log (messages of it were stored). */
  has(level: number): boolean {
    return this.#lanes[level]?.log != null;
  }

  /** The highest offset recorded in the lane of `level` (-1: none). */
  last(level: number): number {
    const lane = this.#lanes[level];
    return lane === undefined ? -1 : Math.max(lane.last, lane.pending.at(-1) ?? -1);
  }

  /** Records that the message at `offset` has priority `level` (1..PRIORITY_MAX). */
  add(level: number, offset: number): void {
    if (this.#closed) return;
    const lane = this.#lanes[level]!;
    if (lane.log) {
      this.#append(lane, offset);
      return;
    }
    if (lane.pending.length < LANE_PENDING_MAX) lane.pending.push(offset);
    lane.opening ??= this.#openLane(level).catch(() => {
      // A lane that cannot open only costs priority order: its messages go in offset order.
      lane.pending.length = 0;
    });
  }

  #append(lane: Lane, offset: number): void {
    const log = lane.log!;
    if (offset <= lane.last || log.failure) return;
    lane.last = offset;
    log.enqueue({ body: encodeEntry(offset) });
  }

  /** Lane entries of `level` from `position` on (committed ones), at most `max`. */
  async read(level: number, position: number, max = CURSOR_READ_RECORDS_MAX): Promise<LaneEntry[]> {
    const log = this.#lanes[level]?.log;
    if (!log) return [];
    const records = await log.read(position, { maxRecords: max });
    return records.map((record) => ({ position: record.offset, offset: decodeEntry(record.body) }));
  }

  /** First position of `level` at or past its log's start. */
  start(level: number): number {
    return this.#lanes[level]?.log?.startOffset ?? 0;
  }

  /** The committed end of the lane of `level` (0 without one). */
  end(level: number): number {
    return this.#lanes[level]?.log?.committedOffset ?? 0;
  }

  /**
   * The first position of `level` whose partition offset is at least `offset` (binary search
   * over single-entry reads: O(log n) reads of the lane's own small records).
   */
  async positionFor(level: number, offset: number): Promise<number> {
    const log = this.#lanes[level]?.log;
    if (!log) return 0;
    let low = log.startOffset;
    let high = log.committedOffset;
    while (low < high) {
      const middle = Math.floor((low + high) / 2);
      const [record] = await log.read(middle, { maxRecords: 1 });
      if (!record) {
        // Retention moved the start under the search: search on from there.
        low = Math.max(low, log.startOffset);
        if (low >= high) break;
        continue;
      }
      const found = decodeEntry(record.body);
      if (found < offset) low = record.offset + 1;
      else high = record.offset;
    }
    return low;
  }

  /** Deletes lane segments wholly below partition offset `offset` (retention, purge). */
  async truncateBelow(offset: number): Promise<void> {
    for (let level = 1; level <= PRIORITY_MAX; level++) {
      const log = this.#lanes[level]!.log;
      if (!log || log.committedOffset === log.startOffset) continue;
      const position = await this.positionFor(level, offset);
      if (position > log.startOffset && log.stats().segmentCount > 1)
        await log.truncateBefore(position);
    }
  }

  /** Waits for lane logs being opened, then closes them. */
  async close(): Promise<void> {
    this.#closed = true;
    for (const lane of this.#lanes) {
      if (lane.opening) await lane.opening;
      await lane.log?.close();
      lane.log = null;
    }
  }
}
