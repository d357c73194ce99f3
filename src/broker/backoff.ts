/**
 * The delay before a failed delivery (nack without a delay, or an expired lease) is offered
 * again. `attempt` is the delivery count so far (1 after the first delivery). A list gives the
 * delay of each attempt, its last entry repeating; an exponential backoff grows from
 * `initialMs` by `multiplier` up to `maxMs`, each delay scaled by a random factor in
 * [1 - jitter, 1 + jitter] so that consumers failing together do not retry together.
 */
import type { Backoff } from '../protocol/index.js';

export function backoffDelay(
  backoff: Backoff,
  attempt: number,
  random: () => number = Math.random,
): number {
  const index = Math.max(0, attempt - 1);
  if (Array.isArray(backoff)) {
    const delays = backoff as readonly number[];
    return delays[Math.min(index, delays.length - 1)] ?? 0;
  }
  const exponential = backoff as Exclude<Backoff, readonly number[]>;
  const base = Math.min(
    exponential.maxMs,
    exponential.initialMs * exponential.multiplier ** Math.min(index, 1000),
  );
  const jitter = exponential.jitter ?? 0;
  if (jitter === 0) return Math.round(base);
  const factor = 1 - jitter + 2 * jitter * random();
  return Math.max(0, Math.round(Math.min(exponential.maxMs, base * factor)));
}

/** The longest delay the backoff gives (a dead-letter publish that failed waits this long). */
export function backoffMaxDelay(backoff: Backoff): number {
  if (Array.isArray(backoff)) return Math.max(...(backoff as readonly number[]));
  return (backoff as Exclude<Backoff, readonly number[]>).maxMs;
}
