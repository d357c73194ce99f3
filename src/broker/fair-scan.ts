/**
 * One subscription's fairness scan of one partition (`fairBy`): it reads the backlog past the
 * read-ahead, in reads of CURSOR_READ_RECORDS_MAX, and takes *ahead* of the read position the
 * messages of groups that have few in memory (fewer than FAIR_GROUP_IN_MEMORY_ENOUGH), so that
 * tenant B's message behind 6,000 of tenant A's is ready next to A's, not 6,000 deliveries
 * later. What it takes ahead is tracked like what a priority lane takes (`ahead` entries,
 * within LANE_AHEAD_TRACKED_MAX, their acks within LANE_AHEAD_SETTLED_MAX).
 *
 * Order within a group: once a pass passes over a message of a group (the group has enough in
 * memory), it takes no later message of that group (`passed`, with the offset where it first
 * passed over one), so what it takes of a group is always the group's next messages in offset
 * order. Invariant: for a group not in `passed`, every message of it between the read position
 * and `position` is in memory or settled. When a group it passed over has nothing left in
 * memory, the pass goes back to where it first passed over that group (forgetting the groups
 * it passed over from there on: the invariant holds again there); when the read position
 * overtakes the pass, a new pass starts there. So a record is read again only when a group
 * behind it runs dry: the cost of fairness over a long backlog of few large groups is reads.
 *
 * Memory: `passed` holds at most FAIR_SCAN_PASSED_GROUPS_MAX groups; a pass that would pass
 * over more stops where it is until it starts over (fairness then reaches what is read ahead
 * and what it took so far). Past the unsettled window (UNSETTLED_WINDOW_MAX offsets above the
 * ack floor, plus LANE_AHEAD_SETTLED_MAX acks ahead) a scan takes nothing more until the ack
 * floor moves: delivery goes on in offset order meanwhile.
 *
 * After a restart nothing needs rebuilding: the scan is in memory only and starts from the
 * ack floor like the read-ahead does.
 *
 * Single-threaded: only the owning SubscriptionGroup touches it, synchronously; `generation`
 * voids a read that was in flight when the pass started over.
 */
import { FAIR_GROUP_IN_MEMORY_ENOUGH, FAIR_SCAN_PASSED_GROUPS_MAX } from '../limits.js';
import type { Group } from './fair-groups.js';

export type ScanChoice = 'take' | 'pass' | 'stop';

export class FairScan {
  /** Next offset to read; -1: from the read position (a new pass). */
  position = -1;
  /** A read is in flight. */
  reading = false;
  /** The pass passed over more groups than it may remember: it waits to go back. */
  stalled = false;
  /** Bumped when the pass starts over or goes back: a read in flight then is void. */
  generation = 0;
  /** Groups passed over, with the offset of the first message passed over (ascending). */
  readonly #passed = new Map<Group, number>();

  /** Starts a new pass from the read position. */
  restart(): void {
    this.position = -1;
    this.stalled = false;
    this.generation++;
    this.#passed.clear();
  }

  /** Whether the pass passed over `group` (a message of it may be left behind). */
  passedOver(group: Group): boolean {
    return this.#passed.has(group);
  }

  /** `group` ran dry: if the pass passed over it, go back to where it did. */
  groupRanDry(group: Group): void {
    const offset = this.#passed.get(group);
    if (offset === undefined) return;
    // Insertion order is offset order: the groups passed over from `offset` on are the tail.
    for (const [passed, at] of this.#passed) if (at >= offset) this.#passed.delete(passed);
    this.position = offset;
    this.stalled = false;
    this.generation++;
  }

  /** What to do with the next unsettled, untracked message at `offset`, of `group` with `inMemory` in memory. */
  choose(group: Group, inMemory: number, offset: number): ScanChoice {
    if (this.#passed.has(group)) return 'pass';
    if (inMemory < FAIR_GROUP_IN_MEMORY_ENOUGH) return 'take';
    if (this.#passed.size >= FAIR_SCAN_PASSED_GROUPS_MAX) {
      this.stalled = true;
      return 'stop';
    }
    this.#passed.set(group, offset);
    return 'pass';
  }
}
