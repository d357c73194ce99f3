/**
 * The tail cache: the most recently confirmed batches, kept in memory (bounded by bytes) so a
 * reader that keeps up with the writers never reads the disk. Entries are views into the
 * group-commit write buffers; the oldest go first.
 */
import type { BatchHeader } from './record-batch.js';

export interface CachedBatch {
  readonly header: BatchHeader;
  /** The batch's bytes (a view into the write buffer). */
  readonly bytes: Buffer;
}

export class TailCache {
  readonly #capacityBytes: number;
  #batches: CachedBatch[] = [];
  #head = 0;
  #bytes = 0;

  constructor(capacityBytes: number) {
    this.#capacityBytes = capacityBytes;
  }

  get bytes(): number {
    return this.#bytes;
  }

  /** The first offset the cache can serve, or Infinity when it is empty. */
  get firstOffset(): number {
    const first = this.#batches[this.#head];
    return first ? first.header.baseOffset : Infinity;
  }

  add(batch: CachedBatch): void {
    if (this.#capacityBytes === 0) return;
    this.#batches.push(batch);
    this.#bytes += batch.header.batchLength;
    while (this.#bytes > this.#capacityBytes && this.#head < this.#batches.length - 1)
      this.#evict();
    if (this.#head > 1024 && this.#head * 2 > this.#batches.length) {
      this.#batches = this.#batches.slice(this.#head);
      this.#head = 0;
    }
  }

  #evict(): void {
    const batch = this.#batches[this.#head]!;
    this.#bytes -= batch.header.batchLength;
    this.#batches[this.#head] = undefined as unknown as CachedBatch;
    this.#head++;
  }

  /** Drops batches whose records all lie below `offset`. */
  dropBefore(offset: number): void {
    while (this.#head < this.#batches.length) {
      const header = this.#batches[this.#head]!.header;
      if (header.baseOffset + header.recordCount > offset) break;
      this.#evict();
    }
  }

  clear(): void {
    this.#batches = [];
    this.#head = 0;
    this.#bytes = 0;
  }

  /** Index (for `batchAt`) of the batch holding `offset`, or -1 when the cache does not hold it. */
  find(offset: number): number {
    let low = this.#head;
    let high = this.#batches.length - 1;
    while (low <= high) {
      const middle = (low + high) >>> 1;
      const header = this.#batches[middle]!.header;
      if (offset < header.baseOffset) high = middle - 1;
      else if (offset >= header.baseOffset + header.recordCount) low = middle + 1;
      else return middle;
    }
    return -1;
  }

  batchAt(index: number): CachedBatch | undefined {
    return index >= this.#head ? this.#batches[index] : undefined;
  }
}
