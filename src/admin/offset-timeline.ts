/**
 * When did a partition reach a given offset? The stats sampler records, once per sample, the
 * partition's end offset with the sample time whenever it moved. The time at which offset `o`
 * was appended is then known to within one sample: it is at or before the first point whose
 * end offset is above `o`. That gives a subscription's lag in seconds (the age of its oldest
 * unsettled message) without reading a message from the log.
 *
 * Memory: at most ADMIN_OFFSET_TIMELINE_POINTS_MAX points. When full, every other point goes
 * (the first and the last stay), so the timeline covers an ever longer span at a coarser
 * resolution: the estimate stays a lower bound of the true age, off by at most the spacing of
 * the points around it.
 *
 * Offsets appended before the first point (before the admin server started) are older than
 * the first point; `appendedAt` answers the first point's time for them, a lower bound too.
 */
import { ADMIN_OFFSET_TIMELINE_POINTS_MAX } from '../limits.js';
import { assert } from '../util/index.js';

export class OffsetTimeline {
  readonly #capacity: number;
  readonly #times: Float64Array;
  readonly #offsets: Float64Array;
  #count = 0;

  constructor(capacity = ADMIN_OFFSET_TIMELINE_POINTS_MAX) {
    assert(Number.isSafeInteger(capacity) && capacity >= 4, 'timeline capacity >= 4');
    this.#capacity = capacity;
    this.#times = new Float64Array(capacity);
    this.#offsets = new Float64Array(capacity);
  }

  get size(): number {
    return this.#count;
  }

  get lastOffset(): number {
    return this.#count === 0 ? -1 : this.#offsets[this.#count - 1]!;
  }

  /**
   * Records that the end offset was `endOffset` at `timeMs`. A point that does not move the
   * offset is not kept. An end offset below the last one (the stream was deleted and created
   * again) starts the timeline over.
   */
  record(timeMs: number, endOffset: number): void {
    assert(Number.isFinite(timeMs) && endOffset >= 0, 'timeline point is valid');
    if (this.#count > 0) {
      const last = this.#offsets[this.#count - 1]!;
      if (endOffset === last) return;
      if (endOffset < last) this.#count = 0;
    }
    if (this.#count === this.#capacity) this.#thin();
    this.#times[this.#count] = timeMs;
    this.#offsets[this.#count] = endOffset;
    this.#count++;
  }

  /**
   * Time (ms) at or before which `offset` was appended: the time of the first point whose end
   * offset is above it. null when no point is above it (not appended yet, as far as known).
   */
  appendedAt(offset: number): number | null {
    const count = this.#count;
    if (count === 0 || this.#offsets[count - 1]! <= offset) return null;
    // Binary search: the first point with offsets[i] > offset.
    let low = 0;
    let high = count - 1;
    while (low < high) {
      const middle = (low + high) >>> 1;
      if (this.#offsets[middle]! > offset) high = middle;
      else low = middle + 1;
    }
    return this.#times[low]!;
  }

  /** Keeps the first point, every other point after it, and the last point. */
  #thin(): void {
    const last = this.#count - 1;
    let kept = 1;
    for (let index = 2; index < last; index += 2) {
      this.#times[kept] = this.#times[index]!;
      this.#offsets[kept] = this.#offsets[index]!;
      kept++;
    }
    this.#times[kept] = this.#times[last]!;
    this.#offsets[kept] = this.#offsets[last]!;
    this.#count = kept + 1;
    assert(this.#count < this.#capacity, 'thinning frees room');
  }
}
