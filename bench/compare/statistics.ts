/** Latency percentiles over recorded samples, and the median / min / max of runs. */

export interface LatencySummary {
  readonly count: number;
  readonly p50Ms: number | null;
  readonly p90Ms: number | null;
  readonly p99Ms: number | null;
  readonly p999Ms: number | null;
  readonly maxMs: number | null;
}

/**
 * A fixed-size recorder of latencies in milliseconds: it keeps at most `capacity` samples
 * (later ones are counted as dropped, never grown into), so a long run cannot run out of memory.
 */
export class LatencyRecorder {
  readonly #samples: Float64Array;
  #count = 0;
  #dropped = 0;

  constructor(capacity: number) {
    this.#samples = new Float64Array(Math.max(1, capacity));
  }

  record(milliseconds: number): void {
    if (this.#count < this.#samples.length) this.#samples[this.#count++] = milliseconds;
    else this.#dropped++;
  }

  get dropped(): number {
    return this.#dropped;
  }

  summary(): LatencySummary {
    const count = this.#count;
    const sorted = this.#samples.slice(0, count).sort();
    // Nearest-rank percentile: the smallest sample with at least p of the samples at or below it.
    const at = (p: number): number | null =>
      count === 0
        ? null
        : round3(sorted[Math.min(count - 1, Math.max(0, Math.ceil(p * count) - 1))]!);
    return {
      count,
      p50Ms: at(0.5),
      p90Ms: at(0.9),
      p99Ms: at(0.99),
      p999Ms: at(0.999),
      maxMs: count === 0 ? null : round3(sorted[count - 1]!),
    };
  }
}

function round3(value: number): number {
  return Math.round(value * 1000) / 1000;
}

export interface Spread {
  readonly median: number;
  readonly min: number;
  readonly max: number;
  readonly runs: number;
}

/** Median (mean of the middle two for an even count), min and max; null for no values. */
export function spread(values: readonly number[]): Spread | null {
  const finite = values.filter((value) => Number.isFinite(value)).sort((a, b) => a - b);
  const count = finite.length;
  if (count === 0) return null;
  const middle = Math.floor(count / 2);
  const median = count % 2 === 1 ? finite[middle]! : (finite[middle - 1]! + finite[middle]!) / 2;
  return { median, min: finite[0]!, max: finite[count - 1]!, runs: count };
}
