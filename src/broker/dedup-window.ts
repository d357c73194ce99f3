/**
 * The ids a stream has seen within its de-duplication window. A Map in insertion order: ids
 * arrive with (nearly) increasing times, so the oldest are at the front and expire from there.
 * Bounded by DEDUP_IDS_MAX: past it the oldest ids are forgotten early (counted in `evicted`),
 * which weakens de-duplication for very old ids but never grows memory.
 *
 * A publish whose append is still in flight is remembered as a promise, so a second publish
 * with the same id made meanwhile waits for the first and reports it.
 */
import { DEDUP_IDS_MAX } from '../limits.js';

export interface SeenPosition {
  readonly partition: number;
  readonly offset: number;
}

interface Seen {
  readonly at: number;
  position: SeenPosition | Promise<SeenPosition>;
}

export class DedupWindow {
  #windowMs: number;
  readonly #ids = new Map<string, Seen>();
  #evicted = 0;

  constructor(windowMs: number) {
    this.#windowMs = windowMs;
  }

  /** A changed window (streams.update): a shorter one forgets what it no longer covers. */
  set windowMs(windowMs: number) {
    this.#windowMs = windowMs;
    if (windowMs === 0) this.#ids.clear();
  }

  get enabled(): boolean {
    return this.#windowMs > 0;
  }

  get size(): number {
    return this.#ids.size;
  }

  get evicted(): number {
    return this.#evicted;
  }

  /** Where the id was stored if it was seen within the window at `now` (maybe not yet durable). */
  find(id: string, now: number): SeenPosition | Promise<SeenPosition> | null {
    const seen = this.#ids.get(id);
    if (seen === undefined) return null;
    if (seen.at <= now - this.#windowMs) {
      this.#ids.delete(id);
      return null;
    }
    return seen.position;
  }

  /** Remembers an id stored at `position` (once `position` resolves; forgotten if it rejects). */
  remember(id: string, at: number, position: SeenPosition | Promise<SeenPosition>): void {
    this.#expire(at);
    this.#ids.delete(id); // re-inserted at the back: it is the newest now
    const seen: Seen = { at, position };
    this.#ids.set(id, seen);
    if (position instanceof Promise) {
      position.then(
        (settled) => {
          seen.position = settled;
        },
        () => {
          if (this.#ids.get(id) === seen) this.#ids.delete(id);
        },
      );
    }
    while (this.#ids.size > DEDUP_IDS_MAX) {
      const oldest = this.#ids.keys().next();
      if (oldest.done === true) break;
      this.#ids.delete(oldest.value);
      this.#evicted++;
    }
  }

  #expire(now: number): void {
    const horizon = now - this.#windowMs;
    for (const [id, seen] of this.#ids) {
      if (seen.at > horizon) break;
      this.#ids.delete(id);
    }
  }

  clear(): void {
    this.#ids.clear();
  }
}
