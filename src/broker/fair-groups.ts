/**
 * Fairness groups of one subscription (`fairBy`): which group a message belongs to, and the
 * round each ready message is served in, so that ready messages go round-robin across groups
 * rather than in offset order.
 *
 * A message gets its round when it first becomes ready: the group's next round, but never one
 * before the round being served at its priority (`served`, the highest round delivered at that
 * priority level: rounds order only messages of equal priority, so an urgent message of a big
 * group must not push the others' round forward). Ready messages are
 * ordered by priority, then round, then offset (partition-cursor.ts): with groups A (6,000
 * ready) and B (1), A's get rounds 0..5999 and B's round 0, so B's goes second. A group's
 * rounds grow with its offsets, so offset order within a group stays; a redelivery keeps its
 * round (it goes before the rest of its group).
 *
 * Memory: one record per group with a message in memory (ready, delayed, in flight); a group
 * whose last one settles is forgotten (its next message starts at the round being served, as
 * a new group would). So the groups are bounded by what the subscription holds in memory,
 * whatever number of distinct keys the stream has.
 *
 * Single-threaded: only the owning SubscriptionGroup calls it, synchronously.
 */
import type { GroupBy } from '../protocol/index.js';
import type { StoredRecord } from '../storage/index.js';
import { FAIR_GROUP_IN_MEMORY_LOW, PRIORITY_MAX } from '../limits.js';
import { assert } from '../util/index.js';
import { decodeText, type StoredMessage } from './message-codec.js';

/** A message's group: its key or header value; null: it has none (they form one group). */
export type Group = string | null;

export function messageGroup(message: StoredMessage, by: GroupBy): Group {
  if (by === 'key') return message.key;
  return message.headers[by.header] ?? null;
}

/** The same, from a stored record without decoding it (user header names are stored as given). */
export function recordGroup(record: StoredRecord, by: GroupBy): Group {
  if (by === 'key') return record.key === null ? null : decodeText(record.key);
  return record.headers?.[by.header] ?? null;
}

interface GroupState {
  nextRound: number;
  /** Messages of the group tracked in memory (not settled). */
  inMemory: number;
}

export class FairGroups {
  readonly #groups = new Map<Group, GroupState>();
  /** Per priority level, the highest round delivered so far. */
  readonly #served = new Float64Array(PRIORITY_MAX + 1);
  /** A group has fewer than FAIR_GROUP_IN_MEMORY_LOW in memory now (a scan may refill it). */
  onLow: (group: Group) => void = () => undefined;

  /** The highest round delivered so far at `priority`. */
  served(priority: number): number {
    return this.#served[priority]!;
  }

  /** Groups with a message in memory. */
  get size(): number {
    return this.#groups.size;
  }

  inMemory(group: Group): number {
    return this.#groups.get(group)?.inMemory ?? 0;
  }

  /** A message of `group` is now tracked in memory. */
  track(group: Group): void {
    const state = this.#groups.get(group);
    if (state) state.inMemory++;
    else this.#groups.set(group, { nextRound: 0, inMemory: 1 });
  }

  /** A tracked message of `group` settled or was let go. */
  untrack(group: Group): void {
    const state = this.#groups.get(group);
    assert(state !== undefined && state.inMemory > 0, 'untrack of a tracked group');
    if (--state.inMemory === 0) this.#groups.delete(group);
    if (state.inMemory < FAIR_GROUP_IN_MEMORY_LOW) this.onLow(group);
  }

  /** The round of a message of `group` and `priority` becoming ready for the first time. */
  nextRound(group: Group, priority: number): number {
    const state = this.#groups.get(group);
    assert(state !== undefined, 'a ready message is tracked');
    const round = Math.max(state.nextRound, this.#served[priority]!);
    state.nextRound = round + 1;
    return round;
  }

  /** A message of round `round` and `priority` was delivered. */
  delivered(round: number, priority: number): void {
    if (round > this.#served[priority]!) this.#served[priority] = round;
  }
}
