/**
 * Many deadlines, one timer: the items (lease deadlines, delays) sit in a heap ordered by
 * `dueAt`, and a single clock timer is armed for the earliest. When it fires, every item that
 * is due is taken out and handed to `onDue`, then `afterDue` runs once and the timer is armed
 * for the next. Removing an item (an ack) is O(log n) and never leaves a stale timer behind.
 * `close` clears the timer; nothing fires after it.
 */
import type { Clock, Timer } from '../util/index.js';
import { IndexedHeap, type HeapItem } from './indexed-heap.js';

export interface DueItem extends HeapItem {
  dueAt: number;
}

export class DueTimer<T extends DueItem> {
  readonly #heap = new IndexedHeap<T>((a, b) => a.dueAt < b.dueAt);
  readonly #clock: Clock;
  readonly #onDue: (item: T, now: number) => void;
  readonly #afterDue: () => void;
  #timer: Timer | null = null;
  #timerAt = Infinity;
  #closed = false;

  constructor(clock: Clock, onDue: (item: T, now: number) => void, afterDue: () => void) {
    this.#clock = clock;
    this.#onDue = onDue;
    this.#afterDue = afterDue;
  }

  has(item: T): boolean {
    return this.#heap.has(item);
  }

  add(item: T): void {
    this.#heap.push(item);
    this.#arm();
  }

  remove(item: T): void {
    if (this.#heap.has(item)) this.#heap.remove(item);
  }

  /** After the item's dueAt changed. */
  update(item: T): void {
    this.#heap.update(item);
    this.#arm();
  }

  values(): readonly T[] {
    return this.#heap.values();
  }

  #arm(): void {
    if (this.#closed) return;
    const next = this.#heap.peek();
    if (!next) {
      this.#timer?.cancel();
      this.#timer = null;
      this.#timerAt = Infinity;
      return;
    }
    if (this.#timer && this.#timerAt <= next.dueAt) return;
    this.#timer?.cancel();
    this.#timerAt = next.dueAt;
    this.#timer = this.#clock.setTimer(next.dueAt - this.#clock.now(), () => this.#fire());
  }

  #fire(): void {
    this.#timer = null;
    this.#timerAt = Infinity;
    if (this.#closed) return;
    const now = this.#clock.now();
    for (let next = this.#heap.peek(); next && next.dueAt <= now; next = this.#heap.peek()) {
      this.#heap.remove(next);
      this.#onDue(next, now);
    }
    this.#afterDue();
    this.#arm();
  }

  close(): void {
    this.#closed = true;
    this.#timer?.cancel();
    this.#timer = null;
    this.#heap.clear();
  }
}
