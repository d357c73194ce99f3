/**
 * The parts of fairness and rate limits on their own: rounds (fair-groups.ts), the scan's
 * choices (fair-scan.ts) and the token buckets (rate-limiter.ts), with their memory bounds.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { FairGroups } from '../../src/broker/fair-groups.js';
import { FairScan } from '../../src/broker/fair-scan.js';
import { RateLimiter } from '../../src/broker/rate-limiter.js';
import {
  FAIR_GROUP_IN_MEMORY_ENOUGH,
  FAIR_SCAN_PASSED_GROUPS_MAX,
  RATE_LIMIT_GROUPS_MAX,
} from '../../src/limits.js';
import { seededRandom } from '../helpers/faulty-file-system.js';

test('rounds: a new group starts at the round being served; each group counts up from there', () => {
  const groups = new FairGroups();
  for (let index = 0; index < 3; index++) groups.track('A');
  assert.deepEqual(
    [0, 1, 2].map(() => groups.nextRound('A', 0)),
    [0, 1, 2],
  );
  groups.delivered(0, 0);
  groups.delivered(1, 0);
  groups.track('B');
  assert.equal(groups.nextRound('B', 0), 1, 'B joins the round being served, not round 0');
  // Rounds are per priority: an urgent message's round does not move priority 0's on.
  groups.track('C');
  groups.delivered(50, 9);
  assert.equal(groups.served(0), 1);
  assert.equal(groups.nextRound('C', 0), 1);
});

test('groups are forgotten when their last message in memory goes: a million keys cost nothing once settled', () => {
  const groups = new FairGroups();
  const low: (string | null)[] = [];
  groups.onLow = (group) => low.push(group);
  for (let index = 0; index < 1_000_000; index++) {
    const key = `k${index}`;
    groups.track(key);
    groups.nextRound(key, 0);
    groups.untrack(key);
  }
  assert.equal(groups.size, 0);
  assert.equal(low.length, 1_000_000, 'each ran low as its last message went');
  groups.track(null); // messages without a key are one group
  groups.track(null);
  assert.equal(groups.inMemory(null), 2);
  assert.equal(groups.size, 1);
});

test('scan: takes a group with few in memory, passes over one with enough, and never takes it again in the pass', () => {
  const scan = new FairScan();
  scan.position = 10;
  assert.equal(scan.choose('B', 0, 10), 'take');
  assert.equal(scan.choose('A', FAIR_GROUP_IN_MEMORY_ENOUGH, 11), 'pass');
  assert.equal(
    scan.choose('A', 0, 12),
    'pass',
    'A was passed over at 11: 12 would be out of order',
  );
  assert.ok(scan.passedOver('A'));
  assert.equal(scan.nextRefill(), null);
  scan.groupRanLow('B'); // never passed over: nothing to refill
  assert.equal(scan.nextRefill(), null);
  // A runs low: a refill reads on from 11, for A only.
  scan.position = 30;
  scan.groupRanLow('A');
  assert.deepEqual(scan.nextRefill(), { group: 'A', offset: 11 });
  scan.refilled('A', 20, false); // looked at 11..19, wants more
  assert.deepEqual(scan.nextRefill(), { group: 'A', offset: 20 });
  scan.refilled('A', 25, true); // took enough; its next message is at 25
  assert.equal(scan.nextRefill(), null);
  assert.ok(scan.passedOver('A'));
  scan.groupRanLow('A');
  scan.refilled('A', 30, false); // caught up with the pass: A is the pass's again
  assert.ok(!scan.passedOver('A'));
  assert.equal(scan.nextRefill(), null);
  assert.equal(scan.choose('A', 0, 30), 'take');
});

test('scan: past FAIR_SCAN_PASSED_GROUPS_MAX groups passed over it stops, and a restart clears it', () => {
  const scan = new FairScan();
  for (let index = 0; index < FAIR_SCAN_PASSED_GROUPS_MAX; index++)
    assert.equal(scan.choose(`g${index}`, FAIR_GROUP_IN_MEMORY_ENOUGH, index), 'pass');
  assert.equal(scan.choose('one-more', FAIR_GROUP_IN_MEMORY_ENOUGH, 1e6), 'stop');
  assert.ok(scan.stalled);
  scan.restart();
  assert.ok(!scan.stalled);
  assert.equal(scan.position, -1);
  assert.equal(scan.choose('g0', 0, 0), 'take');
});

test('rate limiter: in any window of T ms at most burst + perSecond x T takes (random times, seeded)', () => {
  const seed = Number(process.env.WEIR_SEED ?? 42);
  const next = seededRandom(seed);
  const limit = { perSecond: 20, by: null, burst: 5 };
  const limiter = new RateLimiter(limit);
  const taken: number[] = [];
  let now = 1_000_000;
  for (let step = 0; step < 5_000; step++) {
    now += Math.floor(next() * 30);
    if (limiter.waitMs(null, now) === 0) {
      limiter.take(null, now);
      taken.push(now);
    }
  }
  assert.ok(taken.length > 100, `seed ${seed}: it lets messages through (${taken.length})`);
  for (let first = 0; first < taken.length; first++) {
    for (let last = first; last < taken.length; last++) {
      const spanMs = taken[last]! - taken[first]!;
      if (spanMs > 2_000) break;
      const allowed = limit.burst + (limit.perSecond * spanMs) / 1000;
      assert.ok(
        last - first + 1 <= allowed + 1e-6,
        `seed ${seed}: ${last - first + 1} in ${spanMs} ms`,
      );
    }
  }
});

test('rate limiter: waitMs says when the next token comes; a fraction per second spaces them out', () => {
  const limiter = new RateLimiter({ perSecond: 0.5, by: 'key', burst: 1 });
  assert.equal(limiter.waitMs('a', 0), 0);
  limiter.take('a', 0);
  assert.equal(limiter.waitMs('a', 0), 2_000);
  assert.equal(limiter.waitMs('a', 1_500), 500);
  assert.equal(limiter.waitMs('b', 0), 0, 'another group has its own bucket');
  assert.equal(limiter.waitMs('a', 2_000), 0);
});

test('rate limiter: at most RATE_LIMIT_GROUPS_MAX buckets; a further group waits, never over its limit', () => {
  const limiter = new RateLimiter({ perSecond: 1, by: 'key', burst: 1 });
  for (let index = 0; index < RATE_LIMIT_GROUPS_MAX; index++) limiter.take(`k${index}`, 0);
  assert.equal(limiter.size, RATE_LIMIT_GROUPS_MAX);
  const wait = limiter.waitMs('new', 0);
  assert.ok(wait > 0 && wait <= 1_000, `a new group waits for a bucket to fill (${wait} ms)`);
  // Once buckets are full again they are forgotten and the new group goes.
  assert.equal(limiter.waitMs('new', 1_000), 0);
  limiter.take('new', 1_000);
  assert.ok(limiter.size <= RATE_LIMIT_GROUPS_MAX);
});
