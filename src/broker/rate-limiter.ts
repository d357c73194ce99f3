/**
 * A subscription's `rateLimit`: token buckets, one for the whole subscription or one per group
 * (`by`). A bucket holds at most `burst` tokens and gains `perSecond` a second; a delivery
 * (a redelivery too) takes one. A message whose bucket is empty waits in the ready set, no
 * delivery counted, until the bucket has a token again (the subscription sets a timer for
 * `waitMs`). Over any span of T seconds at most burst + perSecond * T deliveries go.
 *
 * Memory: per group, a bucket only while it is not full (a full bucket is the same as none, so
 * it is forgotten), at most RATE_LIMIT_GROUPS_MAX. Buckets are kept in order of last use and
 * full ones are dropped from the front as deliveries go (the least recently used tends to be
 * full first). When the map is at its limit and its first bucket is not full, a message of a
 * group without a bucket waits until that one fills: a group never goes over its limit.
 *
 * Single-threaded: only the owning SubscriptionGroup calls it, synchronously.
 */
import type { RateLimit } from '../protocol/index.js';
import { RATE_LIMIT_GROUPS_MAX } from '../limits.js';
import { assert } from '../util/index.js';
import type { Group } from './fair-groups.js';

interface Bucket {
  tokens: number;
  /** When `tokens` was computed. */
  at: number;
}

export class RateLimiter {
  readonly #perMs: number;
  readonly #burst: number;
  readonly #buckets = new Map<Group, Bucket>();

  constructor(limit: RateLimit) {
    assert(limit.perSecond > 0 && limit.burst >= 1, 'a rate limit lets something through');
    this.#perMs = limit.perSecond / 1000;
    this.#burst = limit.burst;
  }

  /** Groups with a bucket that is not full. */
  get size(): number {
    return this.#buckets.size;
  }

  #tokens(bucket: Bucket, now: number): number {
    return Math.min(this.#burst, bucket.tokens + Math.max(0, now - bucket.at) * this.#perMs);
  }

  /** Milliseconds until a message of `group` may go (0: now). */
  waitMs(group: Group, now: number): number {
    const bucket = this.#buckets.get(group);
    if (bucket === undefined) {
      if (this.#buckets.size < RATE_LIMIT_GROUPS_MAX) return 0;
      this.#forgetFull(now);
      if (this.#buckets.size < RATE_LIMIT_GROUPS_MAX) return 0;
      const first = this.#buckets.values().next().value as Bucket;
      return this.#untilTokens(first, now, this.#burst);
    }
    return this.#untilTokens(bucket, now, 1);
  }

  #untilTokens(bucket: Bucket, now: number, wanted: number): number {
    const missing = wanted - this.#tokens(bucket, now);
    // Rounded up, and never 0 while a token is missing (float rounding must not spin a timer).
    return missing <= 1e-9 ? 0 : Math.max(1, Math.ceil(missing / this.#perMs));
  }

  /** A message of `group` goes now (waitMs said 0): it takes a token. */
  take(group: Group, now: number): void {
    const bucket = this.#buckets.get(group);
    const tokens = bucket === undefined ? this.#burst : this.#tokens(bucket, now);
    assert(tokens >= 1 - 1e-9, 'a delivery takes a token the bucket has');
    if (bucket !== undefined) this.#buckets.delete(group); // re-inserted last: order of use
    this.#forgetFull(now);
    this.#buckets.set(group, { tokens: Math.max(0, tokens - 1), at: now });
  }

  /** Drops full buckets from the front (the oldest used), stopping at the first that is not. */
  #forgetFull(now: number): void {
    for (const [group, bucket] of this.#buckets) {
      if (this.#tokens(bucket, now) < this.#burst) return;
      this.#buckets.delete(group);
    }
  }
}
