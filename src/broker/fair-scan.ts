/**
 * One subscription's fairness scan of one partition (`fairBy`): it reads the backlog past the
 * read-ahead, in reads of CURSOR_READ_RECORDS_MAX, and takes *ahead* of the read position the
 * messages of groups that have few in memory (fewer than FAIR_GROUP_IN_MEMORY_ENOUGH), so that
 * tenant B's message behind 6,000 of tenant A's is ready next to A's, not 6,000 deliveries
 * later. What it takes ahead is tracked like what a priority lane takes (`ahead` entries,
 * within LANE_AHEAD_TRACKED_MAX, their acks within LANE_AHEAD_SETTLED_MAX).
 *
 * Order within a group: once the pass passes over a message of a group (the group has enough
 * in memory), it takes no later message of that group; it remembers the group (`passed`) with
 * the offset of that message. Invariant: for a group not in `passed`, every message of it
 * between the read position and `position` is in memory or settled; for a group in `passed`,
 * every one below its remembered offset is. So what is taken of a group is always its next
 * messages in offset order.
 *
 * When a group it passed over runs low in memory (FAIR_GROUP_IN_MEMORY_LOW), a refill reads on
 * from that group's remembered offset and takes that group's next messages only, moving its
 * offset on; once the offset reaches `position` the group is no longer passed over. The cost
 * of fairness is reads: the pass reads the backlog past the read-ahead once (only while the
 * backlog does not fit in the read-ahead), and each refill reads from its group's offset on,
 * the other groups' records in between too (a refill reads at most one read's worth at a time
 * and goes on at the next pump). When the read position overtakes the pass, a new pass starts
 * there.
 *
 * Memory: `passed` holds at most FAIR_SCAN_PASSED_GROUPS_MAX groups; a pass that would pass
 * over more stops where it is until a new pass starts (fairness then reaches what is read
 * ahead, what it took so far and the refills of the groups it remembers). Past the unsettled window (UNSETTLED_WINDOW_MAX offsets above the
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
  /** Next offset the pass reads; -1: from the read position (a new pass). */
  position = -1;
  /** A read (of the pass or a refill) is in flight. */
  reading = false;
  /** The read in flight is a refill's. */
  refilling = false;
  /** The pass passed over more groups than it may remember: it waits for a new pass. */
  stalled = false;
  /**
   * The pass is new and has not run out of room to take messages ahead: what it reads may be
   * a group that has had no turn yet, so the dispatch holds back a message whose group has had
   * its turn this round while it reads (within FAIR_SCAN_HOLD_SPAN_MAX). A pass that ran out
   * of room reads on without holding deliveries back, until a new pass starts.
   */
  discovering = true;
  /** Bumped when a new pass starts: a read in flight then is void. */
  generation = 0;
  /** Groups passed over, with the offset of the next message of theirs not yet taken. */
  readonly #passed = new Map<Group, number>();
  /** Groups passed over that run low in memory (a subset of `passed`). */
  readonly #refills = new Set<Group>();

  /** Starts a new pass from the read position. */
  restart(): void {
    this.position = -1;
    this.stalled = false;
    this.discovering = true;
    this.generation++;
    this.#passed.clear();
    this.#refills.clear();
  }

  /** Whether the pass passed over `group` (a message of it may be left behind). */
  passedOver(group: Group): boolean {
    return this.#passed.has(group);
  }

  /** `group` runs low in memory: if the pass passed over it, it wants a refill. */
  groupRanLow(group: Group): void {
    if (this.#passed.has(group)) this.#refills.add(group);
  }

  /** The next group to refill and the offset to read it from, or null. */
  nextRefill(): { group: Group; offset: number } | null {
    for (const group of this.#refills) return { group, offset: this.#passed.get(group)! };
    return null;
  }

  /**
   * A refill of `group` looked at everything below `offset`; `done`: it took what it wanted
   * (or could not take more). Past `position` the group is the pass's again.
   */
  refilled(group: Group, offset: number, done: boolean): void {
    if (offset >= this.position) {
      this.#passed.delete(group);
      this.#refills.delete(group);
      return;
    }
    this.#passed.set(group, offset);
    if (done) this.#refills.delete(group);
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
