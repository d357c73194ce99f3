/**
 * Dead letters as they arrive: after each stats sample, the subscriptions whose dead-lettered
 * counter went up since the sample before. The console's banner does the same sum in the
 * browser from the live snapshots; this one feeds the dead-letter webhook.
 *
 * The first snapshot sets the baseline and reports nothing, so a restart of the admin server
 * does not announce the dead letters of before. A subscription that appears later counts from
 * 0 (it is new: its dead letters came since). A counter that went down (the subscription was
 * deleted and made again between two samples) counts from 0 too. Memory: one number per live subscription with a
 * dead-letter target; entries of subscriptions gone from the snapshot go with it.
 */
import type { StatsSnapshot } from './stats-snapshot.js';

export interface DeadLetterArrival {
  /** The origin stream and subscription. */
  readonly stream: string;
  readonly subscription: string;
  /** The dead-letter target subject (the console's dead-letter page is named after it). */
  readonly subject: string;
  /** Dead letters since the sample before. */
  readonly count: number;
  /** When the sample that saw them was taken (ms since the epoch). */
  readonly atMs: number;
}

export class DeadLetterArrivals {
  /** Dead-lettered counter per subscription at the last sample. */
  readonly #seen = new Map<string, number>();
  #first = true;

  /** The arrivals since the last call, in the snapshot's order. */
  observe(snapshot: StatsSnapshot): DeadLetterArrival[] {
    const arrivals: DeadLetterArrival[] = [];
    const live = new Set<string>();
    for (const subscription of snapshot.subscriptions) {
      if (subscription.deadLetter === null) continue;
      const key = `${subscription.stream}\u0000${subscription.name}`;
      live.add(key);
      const last = this.#seen.get(key);
      this.#seen.set(key, subscription.deadLettered);
      if (this.#first) continue;
      const before = last === undefined || subscription.deadLettered < last ? 0 : last;
      if (subscription.deadLettered === before) continue;
      arrivals.push({
        stream: subscription.stream,
        subscription: subscription.name,
        subject: subscription.deadLetter,
        count: subscription.deadLettered - before,
        atMs: snapshot.timeMs,
      });
    }
    // A truncated snapshot leaves some subscriptions out: keep their baselines.
    if (!snapshot.truncated) {
      for (const key of this.#seen.keys()) if (!live.has(key)) this.#seen.delete(key);
    }
    this.#first = false;
    return arrivals;
  }
}
