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
 * frame it came in. One `Map<offset, slab id × SLAB_ID_STRIDE + position>` finds a record.
 * A packed record, little-endian:
 *   0   f64  dueAt
 *   8   u32  bytes of the packed record (this header included)
 *   12  i32  key length (-1: no key)
 *   16  u32  body length
 *   20  u16  header count (0xFFFF: headers absent, null)
 *   22  per header: u16 name length, name (UTF-8), u32 value length, value (UTF-8)
 *       then the key bytes, then the body bytes
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
import type { RecordHeaders, StoredRecord } from '../storage/index.js';
import { assert, setOwnProperty, Utf8Cache } from '../util/index.js';

/** What a cached record holds: enough to build its move (message-codec.ts movedRecord). */
export interface ScheduleRecordSource {
  readonly key?: Uint8Array | null | undefined;
  readonly headers?: RecordHeaders | null | undefined;
  readonly body: Uint8Array;
}

const FIXED_BYTES = 22;
const HEADERS_ABSENT = 0xffff;
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

const headerText = new Utf8Cache();

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
    const key = source.key ?? null;
    const headers = source.headers ?? null;
    // An upper bound (UTF-8 takes at most 3 bytes a UTF-16 code unit); the real size is known
    // once written.
    let bound = FIXED_BYTES + (key?.length ?? 0) + source.body.length;
    if (headers !== null)
      for (const name in headers) bound += 6 + 3 * (name.length + headers[name]!.length);
    if (bound > SCHEDULE_CACHE_RECORD_BYTES_MAX) return false;
    const slab = this.#slabFor(bound);
    if (slab === null) return false;
    const bytes = slab.bytes;
    const start = slab.used;
    let at = start + FIXED_BYTES;
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
    assert(length <= bound, 'a packed record is within its bound');
    bytes.writeDoubleLE(dueAt, start);
    bytes.writeUInt32LE(length, start + 8);
    bytes.writeInt32LE(key === null ? -1 : key.length, start + 12);
    bytes.writeUInt32LE(source.body.length, start + 16);
    bytes.writeUInt16LE(headerCount, start + 20);
    slab.used = at;
    slab.live += length;
    this.#liveBytes += length;
    this.#positions.set(offset, slab.id * SLAB_ID_STRIDE + start);
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
    const record = unpack(slab.bytes, position % SLAB_ID_STRIDE, offset);
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
      if (!keep(slab.bytes.readDoubleLE(start), offset)) this.#remove(offset, slab, start);
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
    const length = slab.bytes.readUInt32LE(start + 8);
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
      const length = from.bytes.readUInt32LE(start + 8);
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

/**
 * `bytes[start, end)` in a buffer of its own: small ones come from Node's shared pool, so a
 * record on its way to the partition log does not keep a whole slab alive (a pass of 1,024
 * records in due order touches records in hundreds of slabs).
 */
function copyOut(bytes: Buffer, start: number, end: number): Buffer {
  const copy = Buffer.allocUnsafe(end - start);
  bytes.copy(copy, 0, start, end);
  return copy;
}

/** The record packed at `start` of `bytes`; key and body are copies. */
function unpack(bytes: Buffer, start: number, offset: number): StoredRecord {
  const keyLength = bytes.readInt32LE(start + 12);
  const bodyLength = bytes.readUInt32LE(start + 16);
  const headerCount = bytes.readUInt16LE(start + 20);
  let at = start + FIXED_BYTES;
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
  return { offset, timestamp: 0, key, headers, body };
}
