/**
 * When a schedule's ticks fall: a cron expression read in an IANA time zone (parsed and
 * evaluated by `croner`, a maintained cron library with time-zone and DST support, never by
 * hand), or a fixed period counted from the schedule's creation.
 *
 * Tick times are ms since the epoch. A cron tick is always a whole second; an `everyMs` tick
 * is `anchorMs + k * everyMs` for k >= 1. Nothing here reads the clock: every question is asked
 * about a time the caller passes (the broker's clock), so a ManualClock drives it.
 */
import { Cron } from 'croner';
import { invalid } from './option-checks.js';

/** What the ticks of one schedule are computed from. */
export interface TickRule {
  readonly cron: string | null;
  readonly everyMs: number | null;
  readonly timezone: string | null;
  /** everyMs: ticks are anchorMs + k * everyMs, k >= 1. */
  readonly anchorMs: number;
}

/**
 * A compiled cron expression; INVALID_ARGUMENT naming `cron` (or `timezone`) if croner refuses
 * it. The Cron object is only evaluated (no callback is given, so croner arms no timer).
 */
export function compileCron(expression: string, timezone: string): Cron {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: timezone });
  } catch {
    throw invalid(
      'timezone',
      `must be an IANA time zone like 'Europe/Berlin' (got ${JSON.stringify(timezone)})`,
    );
  }
  let cron: Cron;
  try {
    cron = new Cron(expression, { timezone, mode: '5-or-6-parts' });
  } catch (error) {
    const why = error instanceof Error ? error.message : String(error);
    throw invalid('cron', `${JSON.stringify(expression)} is not a cron expression: ${why}`);
  }
  return cron;
}

/** Ticks of one schedule, compiled once. */
export class TickSeries {
  readonly #rule: TickRule;
  readonly #cron: Cron | null;

  constructor(rule: TickRule) {
    this.#rule = rule;
    this.#cron = rule.cron === null ? null : compileCron(rule.cron, rule.timezone ?? 'UTC');
  }

  /** The first tick strictly after `afterMs`; null when there is none (a cron with no future date). */
  nextAfter(afterMs: number): number | null {
    const everyMs = this.#rule.everyMs;
    if (everyMs !== null) {
      const anchor = this.#rule.anchorMs;
      if (afterMs < anchor) return anchor + everyMs;
      return anchor + (Math.floor((afterMs - anchor) / everyMs) + 1) * everyMs;
    }
    const next = this.#cron!.nextRun(new Date(afterMs));
    return next === null ? null : next.getTime();
  }

  /**
   * The last tick in (afterMs, untilMs]; null if there is none. Asked of croner backwards from
   * `untilMs`, so a long downtime costs one lookup, not one per missed tick.
   */
  lastIn(afterMs: number, untilMs: number): number | null {
    if (untilMs <= afterMs) return null;
    const everyMs = this.#rule.everyMs;
    let last: number | null;
    if (everyMs !== null) {
      const anchor = this.#rule.anchorMs;
      const k = Math.floor((untilMs - anchor) / everyMs);
      last = k >= 1 ? anchor + k * everyMs : null;
    } else {
      // Runs "before" the reference include one earlier in the reference's second: keep <= untilMs.
      const runs = this.#cron!.previousRuns(2, new Date(untilMs + 1));
      last = null;
      for (const run of runs) {
        const time = run.getTime();
        if (time <= untilMs) {
          last = time;
          break;
        }
      }
    }
    return last !== null && last > afterMs ? last : null;
  }
}
