/**
 * A scheduler's bounded cache of schedule records, by schedule offset, so that a move pass
 * need not read each due record back from the schedule log. Without it every move was one
 * small random read of the schedule log (the log is in publish order, moves go in due order)
 * plus the decoding of its batch: that capped the mover at about 20,000 moves / s.
 *
 * What fills it: a publish whose key enters the index (the record is at hand), and a refill
 * scan, which decodes every pending record anyway and keeps the records of the keys it takes.
 * What empties it: a move takes its record out; a key that leaves the index without moving
 * (evicted past the horizon, or a scan abandoned) is swept; a purge drops what it purged.
 *
 * Why a cached record is always right: schedule records never change once written and
 * offsets are never reused, so the record cached for an offset is the record on disk there.
 * A miss only costs a read, so the cache may drop or refuse anything at any time.
 *
 * Layout. Records are copied, packed, into slabs (Buffers of SCHEDULE_CACHE_SLAB_BYTES), not
 * kept as objects: a few hundred thousand cached records as objects (a record, its headers,
 * a Uint8Array per body) made the heap grow past 400 MiB and the garbage collector take most
 * of the time, and a body kept as a subarray would keep alive the whole read chunk or network
 * frame it came in. One `Map<offset, slab id × SLAB_ID_STRIDE + position>` finds a record;
 * the packing is schedule-record-packing.ts.
 *
 * Memory: at most SCHEDULE_CACHE_BYTES_MAX of slabs (`bytesMax`). A slab is freed when its
 * last record is taken or dropped; when the slabs are full but at most
 * SCHEDULE_CACHE_COMPACT_LIVE_PERCENT % of their bytes belong to live records (records dropped
 * in random order leave holes: an index eviction sweeps a quarter of them), the live records
 * are copied into fresh slabs, each old slab freed once its last record is copied
 * (compaction: linear in the live bytes, at most once per (100 - percent) % of the budget put).
 * Plus the map: one entry per cached record. (Compacting only below half live, as before, let
 * a million publishes leave the slabs full of holes, refusing every put: about a sixth of the
 * index's keys then missed, and each pass that moved them waited for disk reads.)
 *
 * Concurrency: synchronous; the scheduler calls it from its pass, its scans and publishes.
 */
import {
  SCHEDULE_CACHE_COMPACT_LIVE_PERCENT,
  SCHEDULE_CACHE_RECORD_BYTES_MAX,
  SCHEDULE_CACHE_SLAB_BYTES,
} from '../limits.js';
import type { StoredRecord } from '../storage/index.js';
import { assert } from '../util/index.js';
import {
  packedBound,
  packedDueAt,
  packedLength,
  packRecord,
  unpackRecord,
  type ScheduleRecordSource,
} from './schedule-record-packing.js';

export type { ScheduleRecordSource } from './schedule-record-packing.js';
/** A cache position is slab id × this + byte position in the slab. */
const SLAB_ID_STRIDE = 2 ** 24;

interface Slab {
  readonly id: number;
  readonly bytes: Buffer;
  /** Bytes used (the next record goes there). */
  used: number;
  /** Bytes of live records in it. */
  live: number;
}

export class ScheduleRecordCache {
  readonly bytesMax: number;
  readonly #positions = new Map<number, number>();
  #slabs = new Map<number, Slab>();
  #current: Slab | null = null;
  #nextSlabId = 0;
  /** Bytes of live records, in all slabs. */
  #liveBytes = 0;
  /** Lookups that found their record, and those that did not (for the benchmark and tests). */
  hits = 0;
  misses = 0;

  constructor(bytesMax: number) {
    assert(Number.isSafeInteger(bytesMax) && bytesMax >= 0, 'a cache size is a byte count');
    this.bytesMax = bytesMax;
  }

  get size(): number {
    return this.#positions.size;
  }

  /** Bytes of slabs held (what the cache costs, holes included). */
  get bytes(): number {
    return this.#slabs.size * SCHEDULE_CACHE_SLAB_BYTES;
  }

  get liveBytes(): number {
    return this.#liveBytes;
  }

  /**
   * Keeps a copy of the record at `offset` (whose key is (dueAt, offset)) if it fits; returns
   * whether it is cached. A record already cached stays as it is.
   */
  put(offset: number, dueAt: number, source: ScheduleRecordSource): boolean {
    if (this.#positions.has(offset)) return true;
    const bound = packedBound(source);
    if (bound > SCHEDULE_CACHE_RECORD_BYTES_MAX) return false;
    const slab = this.#slabFor(bound);
    if (slab === null) return false;
    const start = slab.used;
    const length = packRecord(slab.bytes, start, dueAt, source);
    assert(length <= bound, 'a packed record is within its bound');
    const at = start + length;
    slab.used = at;
    slab.live += length;
    this.#liveBytes += length;
    this.#positions.set(offset, slab.id * SLAB_ID_STRIDE + start);
    return true;
  }

  /**
   * Keeps a copy of a record already packed (schedule-record-packing.ts) at `start` of `bytes`
   * (a bucket chunk); returns whether it is cached.
   */
  putPacked(offset: number, bytes: Buffer, start: number): boolean {
    if (this.#positions.has(offset)) return true;
    const length = packedLength(bytes, start);
    if (length > SCHEDULE_CACHE_RECORD_BYTES_MAX) return false;
    const slab = this.#slabFor(length);
    if (slab === null) return false;
    const at = slab.used;
    bytes.copy(slab.bytes, at, start, start + length);
    slab.used = at + length;
    slab.live += length;
    this.#liveBytes += length;
    this.#positions.set(offset, slab.id * SLAB_ID_STRIDE + at);
    return true;
  }

  /** The record at `offset`, removed from the cache; undefined if it is not cached. */
  take(offset: number): StoredRecord | undefined {
    const position = this.#positions.get(offset);
    if (position === undefined) {
      this.misses++;
      return undefined;
    }
    this.hits++;
    const slab = this.#slabs.get(Math.floor(position / SLAB_ID_STRIDE))!;
    const record = unpackRecord(slab.bytes, position % SLAB_ID_STRIDE, offset);
    this.#remove(offset, slab, position % SLAB_ID_STRIDE);
    return record;
  }

  delete(offset: number): void {
    const position = this.#positions.get(offset);
    if (position === undefined) return;
    const slab = this.#slabs.get(Math.floor(position / SLAB_ID_STRIDE))!;
    this.#remove(offset, slab, position % SLAB_ID_STRIDE);
  }

  /** Drops every record whose key `keep` refuses (keys that left the index). O(size). */
  sweep(keep: (dueAt: number, offset: number) => boolean): void {
    for (const [offset, position] of this.#positions) {
      const slab = this.#slabs.get(Math.floor(position / SLAB_ID_STRIDE))!;
      const start = position % SLAB_ID_STRIDE;
      if (!keep(packedDueAt(slab.bytes, start), offset)) this.#remove(offset, slab, start);
    }
  }

  /** Drops the records below `offset` (a purge). */
  dropBelow(offset: number): void {
    this.sweep((_dueAt, cachedOffset) => cachedOffset >= offset);
  }

  clear(): void {
    this.#positions.clear();
    this.#slabs.clear();
    this.#current = null;
    this.#liveBytes = 0;
  }

  #remove(offset: number, slab: Slab, start: number): void {
    const length = packedLength(slab.bytes, start);
    this.#positions.delete(offset);
    slab.live -= length;
    this.#liveBytes -= length;
    if (slab.live === 0) {
      this.#slabs.delete(slab.id);
      if (slab === this.#current) this.#current = null;
    }
  }

  /** A slab with `bound` bytes free, or null if the budget allows none. */
  #slabFor(bound: number): Slab | null {
    const current = this.#current;
    if (current !== null && current.used + bound <= SCHEDULE_CACHE_SLAB_BYTES) return current;
    if (this.bytes + SCHEDULE_CACHE_SLAB_BYTES > this.bytesMax) {
      // Full. Worth compacting only if enough of it is holes (else it is full of live records).
      if (this.#liveBytes > (this.bytes * SCHEDULE_CACHE_COMPACT_LIVE_PERCENT) / 100) return null;
      this.#compact();
      const compacted = this.#current;
      if (compacted !== null && compacted.used + bound <= SCHEDULE_CACHE_SLAB_BYTES)
        return compacted;
      if (this.bytes + SCHEDULE_CACHE_SLAB_BYTES > this.bytesMax) return null;
    }
    return this.#newSlab();
  }

  #newSlab(): Slab {
    const slab: Slab = {
      id: this.#nextSlabId++,
      bytes: Buffer.allocUnsafe(SCHEDULE_CACHE_SLAB_BYTES),
      used: 0,
      live: 0,
    };
    assert(slab.id < Number.MAX_SAFE_INTEGER / SLAB_ID_STRIDE, 'slab ids stay exact');
    this.#slabs.set(slab.id, slab);
    this.#current = slab;
    return slab;
  }

  /** Copies the live records into fresh slabs; the old ones go. */
  #compact(): void {
    const old = this.#slabs;
    this.#slabs = new Map<number, Slab>();
    this.#current = null;
    // Setting an existing key while iterating a Map visits each entry once.
    for (const [offset, position] of this.#positions) {
      const from = old.get(Math.floor(position / SLAB_ID_STRIDE))!;
      const start = position % SLAB_ID_STRIDE;
      const length = packedLength(from.bytes, start);
      let slab = this.#current as Slab | null;
      if (slab === null || slab.used + length > SCHEDULE_CACHE_SLAB_BYTES) slab = this.#newSlab();
      from.bytes.copy(slab.bytes, slab.used, start, start + length);
      this.#positions.set(offset, slab.id * SLAB_ID_STRIDE + slab.used);
      slab.used += length;
      slab.live += length;
      // An old slab goes as soon as its last record is copied: the copy holds about one slab
      // more than the live records, not the old slabs and the new ones at once.
      from.live -= length;
      if (from.live === 0) old.delete(from.id);
    }
  }
}
