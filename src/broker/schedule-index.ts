/**
 * The scheduler's in-memory index of scheduled messages: keys (dueAt, scheduleOffset), in a
 * binary min-heap over two parallel Float64Arrays (16 bytes an entry, no object per message),
 * bounded by `capacity`, plus a `horizon` key. The invariant the scheduler relies on: the
 * index holds every pending scheduled record whose key is below the horizon; records at or
 * past it live only on disk (the schedule log) until a refill scan brings them in.
 *
 * Going over capacity evicts the largest quarter at once (a sort, amortised over the quarter
 * of inserts it makes room for) and lowers the horizon to the smallest key evicted.
 *
 * Keys compare by dueAt, then by offset (offsets are unique, so keys are).
 */
import { assert } from '../util/index.js';

/** Whether (dueA, offsetA) < (dueB, offsetB). */
export function keyBefore(dueA: number, offsetA: number, dueB: number, offsetB: number): boolean {
  return dueA < dueB || (dueA === dueB && offsetA < offsetB);
}

export class ScheduleIndex {
  readonly capacity: number;
  #dueAt: Float64Array;
  #offset: Float64Array;
  #size = 0;
  #horizonDueAt = Infinity;
  #horizonOffset = Infinity;

  constructor(capacity: number) {
    assert(Number.isInteger(capacity) && capacity >= 4, 'an index holds at least 4 entries');
    this.capacity = capacity;
    this.#dueAt = new Float64Array(capacity + 1);
    this.#offset = new Float64Array(capacity + 1);
  }

  get size(): number {
    return this.#size;
  }

  get horizonDueAt(): number {
    return this.#horizonDueAt;
  }

  get horizonOffset(): number {
    return this.#horizonOffset;
  }

  /** Whether some pending records live only on disk (past the horizon). */
  get bounded(): boolean {
    return this.#horizonDueAt !== Infinity;
  }

  /** Whether a key lies below the horizon (so that it belongs in the index). */
  belowHorizon(dueAt: number, offset: number): boolean {
    return keyBefore(dueAt, offset, this.#horizonDueAt, this.#horizonOffset);
  }

  setHorizon(dueAt: number, offset: number): void {
    this.#horizonDueAt = dueAt;
    this.#horizonOffset = offset;
  }

  /** Smallest key's dueAt (Infinity when empty). */
  get firstDueAt(): number {
    return this.#size > 0 ? this.#dueAt[0]! : Infinity;
  }

  get firstOffset(): number {
    return this.#size > 0 ? this.#offset[0]! : Infinity;
  }

  /**
   * Adds the key if it lies below the horizon. Returns -1 if it was not added (it lives on
   * disk only), else the lowest offset evicted by making room (Infinity if none).
   */
  offer(dueAt: number, offset: number): number {
    if (!this.belowHorizon(dueAt, offset)) return -1;
    this.#push(dueAt, offset);
    return this.#size > this.capacity ? this.#evict() : Infinity;
  }

  /** Removes the smallest key (the caller read it with firstDueAt / firstOffset). */
  pop(): void {
    assert(this.#size > 0, 'pop from a non-empty index');
    const last = --this.#size;
    if (last === 0) return;
    this.#dueAt[0] = this.#dueAt[last]!;
    this.#offset[0] = this.#offset[last]!;
    this.#siftDown(0);
  }

  /** Lowest offset held (O(size); for truncation, not the hot path). */
  minOffset(): number {
    let lowest = Infinity;
    for (let index = 0; index < this.#size; index++)
      lowest = Math.min(lowest, this.#offset[index]!);
    return lowest;
  }

  /** Keeps only the entries whose offset is at least `offset` (purge). */
  dropBelow(offset: number): void {
    let kept = 0;
    for (let index = 0; index < this.#size; index++) {
      if (this.#offset[index]! >= offset) {
        this.#dueAt[kept] = this.#dueAt[index]!;
        this.#offset[kept] = this.#offset[index]!;
        kept++;
      }
    }
    this.#size = kept;
    for (let index = (kept >> 1) - 1; index >= 0; index--) this.#siftDown(index);
  }

  clear(): void {
    this.#size = 0;
    this.#horizonDueAt = Infinity;
    this.#horizonOffset = Infinity;
  }

  #push(dueAt: number, offset: number): void {
    let at = this.#size++;
    const dues = this.#dueAt;
    const offsets = this.#offset;
    while (at > 0) {
      const parent = (at - 1) >> 1;
      if (!keyBefore(dueAt, offset, dues[parent]!, offsets[parent]!)) break;
      dues[at] = dues[parent]!;
      offsets[at] = offsets[parent]!;
      at = parent;
    }
    dues[at] = dueAt;
    offsets[at] = offset;
  }

  #siftDown(from: number): void {
    const dues = this.#dueAt;
    const offsets = this.#offset;
    const size = this.#size;
    const dueAt = dues[from]!;
    const offset = offsets[from]!;
    let at = from;
    for (;;) {
      let child = 2 * at + 1;
      if (child >= size) break;
      if (
        child + 1 < size &&
        keyBefore(dues[child + 1]!, offsets[child + 1]!, dues[child]!, offsets[child]!)
      )
        child++;
      if (!keyBefore(dues[child]!, offsets[child]!, dueAt, offset)) break;
      dues[at] = dues[child]!;
      offsets[at] = offsets[child]!;
      at = child;
    }
    dues[at] = dueAt;
    offsets[at] = offset;
  }

  /** Drops the largest quarter; the horizon becomes the smallest key dropped. */
  #evict(): number {
    const size = this.#size;
    const order = new Uint32Array(size);
    for (let index = 0; index < size; index++) order[index] = index;
    const dues = this.#dueAt;
    const offsets = this.#offset;
    order.sort((a, b) => dues[a]! - dues[b]! || offsets[a]! - offsets[b]!);
    const keep = Math.floor((this.capacity * 3) / 4);
    const sortedDues = new Float64Array(this.capacity + 1);
    const sortedOffsets = new Float64Array(this.capacity + 1);
    let lowestEvicted = Infinity;
    for (let index = 0; index < size; index++) {
      const from = order[index]!;
      if (index < keep) {
        sortedDues[index] = dues[from]!;
        sortedOffsets[index] = offsets[from]!;
      } else lowestEvicted = Math.min(lowestEvicted, offsets[from]!);
    }
    const first = order[keep]!;
    this.#horizonDueAt = dues[first]!;
    this.#horizonOffset = offsets[first]!;
    // A sorted array is a valid min-heap.
    this.#dueAt = sortedDues;
    this.#offset = sortedOffsets;
    this.#size = keep;
    return lowestEvicted;
  }
}

/**
 * The smallest `capacity` keys offered (a bounded max-heap), for a refill scan; remembers the
 * smallest key and the lowest offset among those it did not keep.
 */
export class SmallestKeys {
  readonly capacity: number;
  readonly #dueAt: Float64Array;
  readonly #offset: Float64Array;
  #size = 0;
  rejectedDueAt = Infinity;
  rejectedOffset = Infinity;
  /** Lowest offset among the keys not kept. */
  rejectedLowestOffset = Infinity;

  constructor(capacity: number) {
    assert(Number.isInteger(capacity) && capacity >= 1, 'keep at least one key');
    this.capacity = capacity;
    this.#dueAt = new Float64Array(capacity);
    this.#offset = new Float64Array(capacity);
  }

  get size(): number {
    return this.#size;
  }

  /** The largest key kept (Infinity while there is room: any key would be kept). */
  get largestDueAt(): number {
    return this.#size < this.capacity ? Infinity : this.#dueAt[0]!;
  }

  get largestOffset(): number {
    return this.#size < this.capacity ? Infinity : this.#offset[0]!;
  }

  /**
   * Offers a key; returns the offset of the key it rejected: this one, the largest kept (which
   * this one replaced), or -1 if it had room.
   */
  offer(dueAt: number, offset: number): number {
    if (this.#size < this.capacity) {
      this.#push(dueAt, offset);
      return -1;
    }
    // Full: the larger of (this key, the largest kept) is rejected.
    const largestDueAt = this.#dueAt[0]!;
    const largestOffset = this.#offset[0]!;
    if (keyBefore(dueAt, offset, largestDueAt, largestOffset)) {
      this.#reject(largestDueAt, largestOffset);
      this.#dueAt[0] = dueAt;
      this.#offset[0] = offset;
      this.#siftDown();
      return largestOffset;
    }
    this.#reject(dueAt, offset);
    return offset;
  }

  /**
   * Keeps only the smallest `count` keys: the others are rejected as if never kept (so the
   * rejected smallest key and lowest offset cover them), largest first; `dropped` sees each
   * one's offset.
   */
  keepSmallest(count: number, dropped: (offset: number) => void): void {
    const dues = this.#dueAt;
    const offsets = this.#offset;
    while (this.#size > Math.max(0, count)) {
      const offset = offsets[0]!;
      this.#reject(dues[0]!, offset);
      const last = --this.#size;
      dues[0] = dues[last]!;
      offsets[0] = offsets[last]!;
      this.#siftDown();
      dropped(offset);
    }
  }

  forEach(callback: (dueAt: number, offset: number) => void): void {
    for (let index = 0; index < this.#size; index++)
      callback(this.#dueAt[index]!, this.#offset[index]!);
  }

  #reject(dueAt: number, offset: number): void {
    if (keyBefore(dueAt, offset, this.rejectedDueAt, this.rejectedOffset)) {
      this.rejectedDueAt = dueAt;
      this.rejectedOffset = offset;
    }
    this.rejectedLowestOffset = Math.min(this.rejectedLowestOffset, offset);
  }

  #push(dueAt: number, offset: number): void {
    const dues = this.#dueAt;
    const offsets = this.#offset;
    let at = this.#size++;
    while (at > 0) {
      const parent = (at - 1) >> 1;
      if (!keyBefore(dues[parent]!, offsets[parent]!, dueAt, offset)) break;
      dues[at] = dues[parent]!;
      offsets[at] = offsets[parent]!;
      at = parent;
    }
    dues[at] = dueAt;
    offsets[at] = offset;
  }

  #siftDown(): void {
    const dues = this.#dueAt;
    const offsets = this.#offset;
    const size = this.#size;
    const dueAt = dues[0]!;
    const offset = offsets[0]!;
    let at = 0;
    for (;;) {
      let child = 2 * at + 1;
      if (child >= size) break;
      if (
        child + 1 < size &&
        keyBefore(dues[child]!, offsets[child]!, dues[child + 1]!, offsets[child + 1]!)
      )
        child++;
      if (!keyBefore(dueAt, offset, dues[child]!, offsets[child]!)) break;
      dues[at] = dues[child]!;
      offsets[at] = offsets[child]!;
      at = child;
    }
    dues[at] = dueAt;
    offsets[at] = offset;
  }
}
