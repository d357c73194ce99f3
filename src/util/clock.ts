/**
 * Time as a seam. Everything in the broker whose behaviour depends on time (message
 * timestamps, leases, delays, TTL, retention ticks, request timeouts, redrive pacing) reads
 * it from a Clock and schedules through it, never through Date.now or setTimeout directly.
 * Production uses `systemClock`; tests pass a `ManualClock` and move time with `advance`,
 * so semantics tests never sleep and pass on a busy machine.
 *
 * Concurrency: a ManualClock runs due callbacks synchronously inside `advance`, in due
 * order (then creation order), with `now()` set to each callback's due time while it runs.
 */
import { assert } from './assert.js';

/** setTimeout takes at most 2^31-1 ms; a later deadline is re-armed when that one fires. */
const NODE_TIMER_DELAY_MS_MAX = 2 ** 31 - 1;

/** A scheduled callback; `cancel` is idempotent and safe after it ran. */
export interface Timer {
  cancel(): void;
}

export interface TimerOptions {
  /** The timer does not keep the process alive (Node's unref). Default false. */
  readonly unref?: boolean;
}

export interface Clock {
  /** Milliseconds since the epoch. */
  now(): number;
  /** Runs `callback` once, `ms` from now (0 or less: on the next turn). */
  setTimer(ms: number, callback: () => void, options?: TimerOptions): Timer;
  /** Runs `callback` every `ms` until cancelled. */
  setRepeating(ms: number, callback: () => void, options?: TimerOptions): Timer;
}

class SystemTimer implements Timer {
  #handle: NodeJS.Timeout | null = null;
  #cancelled = false;
  readonly #dueAt: number;
  readonly #callback: () => void;
  readonly #unref: boolean;

  constructor(ms: number, callback: () => void, unref: boolean) {
    this.#dueAt = Date.now() + Math.max(0, ms);
    this.#callback = callback;
    this.#unref = unref;
    this.#arm();
  }

  #arm(): void {
    const delay = Math.min(NODE_TIMER_DELAY_MS_MAX, Math.max(0, this.#dueAt - Date.now()));
    this.#handle = setTimeout(() => {
      this.#handle = null;
      if (this.#cancelled) return;
      if (Date.now() < this.#dueAt)
        this.#arm(); // a horizon past setTimeout's range
      else this.#callback();
    }, delay);
    if (this.#unref) this.#handle.unref();
  }

  cancel(): void {
    this.#cancelled = true;
    if (this.#handle) clearTimeout(this.#handle);
    this.#handle = null;
  }
}

/** The real clock: Date.now and Node's timers. */
export const systemClock: Clock = {
  now: () => Date.now(),
  setTimer: (ms, callback, options) => new SystemTimer(ms, callback, options?.unref === true),
  setRepeating: (ms, callback, options) => {
    assert(ms > 0, 'a repeating timer needs a positive period');
    const handle = setInterval(callback, ms);
    if (options?.unref === true) handle.unref();
    return { cancel: () => clearInterval(handle) };
  },
};

interface ManualTimer {
  dueAt: number;
  readonly sequence: number;
  readonly periodMs: number;
  readonly callback: () => void;
  cancelled: boolean;
}

/**
 * A clock that moves only when told: `advance(ms)` runs, in order, every timer that falls
 * due on the way. Starts at `startMs` (default: the real time when it was made, so
 * timestamps look real).
 */
export class ManualClock implements Clock {
  #now: number;
  #sequence = 0;
  #timers: ManualTimer[] = [];
  #advancing = false;

  constructor(startMs: number = Date.now()) {
    assert(Number.isFinite(startMs), 'a manual clock starts at a finite time');
    this.#now = startMs;
  }

  now(): number {
    return this.#now;
  }

  /** Timers waiting to run (for tests that check nothing is left behind). */
  get pendingTimers(): number {
    return this.#timers.filter((timer) => !timer.cancelled).length;
  }

  setTimer(ms: number, callback: () => void): Timer {
    return this.#add(this.#now + Math.max(0, ms), 0, callback);
  }

  setRepeating(ms: number, callback: () => void): Timer {
    assert(ms > 0, 'a repeating timer needs a positive period');
    return this.#add(this.#now + ms, ms, callback);
  }

  #add(dueAt: number, periodMs: number, callback: () => void): Timer {
    const timer: ManualTimer = {
      dueAt,
      sequence: this.#sequence++,
      periodMs,
      callback,
      cancelled: false,
    };
    this.#timers.push(timer);
    return {
      cancel: () => {
        timer.cancelled = true;
      },
    };
  }

  /** Moves time forward by `ms`, running every timer due up to the new time. */
  advance(ms: number): void {
    assert(Number.isFinite(ms) && ms >= 0, 'advance by a finite, non-negative time');
    assert(!this.#advancing, 'advance is not re-entrant');
    this.#advancing = true;
    try {
      const target = this.#now + ms;
      for (let next = this.#nextDue(target); next !== null; next = this.#nextDue(target)) {
        if (next.dueAt > this.#now) this.#now = next.dueAt;
        if (next.periodMs > 0) next.dueAt += next.periodMs;
        else next.cancelled = true;
        next.callback();
      }
      this.#now = target;
    } finally {
      this.#advancing = false;
    }
  }

  /** Sets the time (forward only), running what falls due on the way. */
  advanceTo(timeMs: number): void {
    this.advance(Math.max(0, timeMs - this.#now));
  }

  #nextDue(limit: number): ManualTimer | null {
    this.#timers = this.#timers.filter((timer) => !timer.cancelled);
    let best: ManualTimer | null = null;
    for (const timer of this.#timers) {
      if (timer.dueAt > limit) continue;
      if (
        best === null ||
        timer.dueAt < best.dueAt ||
        (timer.dueAt === best.dueAt && timer.sequence < best.sequence)
      )
        best = timer;
    }
    return best;
  }
}

/** Accepts what a user may pass as a clock: a Clock, or (as before) a bare `now` function. */
export function toClock(value: Clock | (() => number) | undefined): Clock {
  if (value === undefined) return systemClock;
  if (typeof value === 'function') {
    const now = value;
    return {
      now,
      setTimer: (ms, callback, options) => systemClock.setTimer(ms, callback, options),
      setRepeating: (ms, callback, options) => systemClock.setRepeating(ms, callback, options),
    };
  }
  return value;
}
