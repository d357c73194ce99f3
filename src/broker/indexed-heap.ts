/**
 * A binary min-heap whose items know their own position (`heapIndex`), so an item can be
 * removed or re-keyed in O(log n) — an ack removes its message's lease deadline at once
 * instead of leaving it to rot in the heap until it is due. An item is in at most one heap at
 * a time; `heapIndex` is -1 when it is in none.
 */
import { assert } from '../util/index.js';

export interface HeapItem {
  heapIndex: number;
}

export class IndexedHeap<T extends HeapItem> {
  readonly #items: T[] = [];
  readonly #less: (a: T, b: T) => boolean;

  constructor(less: (a: T, b: T) => boolean) {
    this.#less = less;
  }

  get size(): number {
    return this.#items.length;
  }

  peek(): T | undefined {
    return this.#items[0];
  }

  push(item: T): void {
    assert(item.heapIndex === -1, 'an item is in one heap at a time');
    item.heapIndex = this.#items.length;
    this.#items.push(item);
    this.#up(item.heapIndex);
  }

  pop(): T | undefined {
    const top = this.#items[0];
    if (top !== undefined) this.remove(top);
    return top;
  }

  has(item: T): boolean {
    return item.heapIndex >= 0 && this.#items[item.heapIndex] === item;
  }

  remove(item: T): void {
    const index = item.heapIndex;
    assert(this.has(item), 'removing an item that is not in this heap');
    const last = this.#items.pop()!;
    item.heapIndex = -1;
    if (last === item) return;
    this.#items[index] = last;
    last.heapIndex = index;
    this.#down(index);
    this.#up(last.heapIndex);
  }

  /** Restores order after the item's key changed. */
  update(item: T): void {
    assert(this.has(item), 'updating an item that is not in this heap');
    this.#up(item.heapIndex);
    this.#down(item.heapIndex);
  }

  /** Empties the heap; every item's heapIndex goes back to -1. */
  clear(): void {
    for (const item of this.#items) item.heapIndex = -1;
    this.#items.length = 0;
  }

  values(): readonly T[] {
    return this.#items;
  }

  #up(index: number): void {
    const items = this.#items;
    const item = items[index]!;
    while (index > 0) {
      const parentIndex = (index - 1) >> 1;
      const parent = items[parentIndex]!;
      if (!this.#less(item, parent)) break;
      items[index] = parent;
      parent.heapIndex = index;
      index = parentIndex;
    }
    items[index] = item;
    item.heapIndex = index;
  }

  #down(index: number): void {
    const items = this.#items;
    const length = items.length;
    const item = items[index]!;
    while (true) {
      const left = 2 * index + 1;
      if (left >= length) break;
      const right = left + 1;
      let child = left;
      if (right < length && this.#less(items[right]!, items[left]!)) child = right;
      const smaller = items[child]!;
      if (!this.#less(smaller, item)) break;
      items[index] = smaller;
      smaller.heapIndex = index;
      index = child;
    }
    items[index] = item;
    item.heapIndex = index;
  }
}
