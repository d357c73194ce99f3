/**
 * One subscription's position in one partition, and the messages of it held in memory.
 *
 *   offsets:  [ … settled … | floor … readOffset) [ readOffset … not read yet …
 *
 * Every offset below `floor` is settled. Between `floor` and `readOffset` each offset is
 * either settled (in `settled`) or tracked in `entries` (ready, delayed, in flight or being
 * dead-lettered). Nothing at or past `readOffset` is in memory except what the journal said
 * about it at open (`restored`: acks and delivery counts from before a restart). The window
 * `readOffset - floor` is bounded by UNSETTLED_WINDOW_MAX, so `settled`, `entries` and
 * `restored` are bounded whatever the backlog.
 *
 * Priority lanes (lane-cursor.ts) add messages of a priority above 0 taken *ahead* of
 * `readOffset`: tracked in `entries` (`aheadTracked` of them, not settled yet) and, once
 * settled, in `settled` like any ack above the floor. They are bounded apart from the window
 * (LANE_AHEAD_TRACKED_MAX, LANE_AHEAD_SETTLED_MAX).
 *
 * A fairness scan (fair-scan.ts, `fairBy`) takes messages ahead the same way, within the same
 * bounds, and orders what is ready by round (fair-groups.ts) after priority.
 *
 * Single-threaded: only the owning SubscriptionGroup touches it, synchronously.
 */
import { PRIORITY_MAX, UNSETTLED_WINDOW_MAX } from '../limits.js';
import { assert } from '../util/index.js';
import type { Group } from './fair-groups.js';
import { FairScan } from './fair-scan.js';
import { IndexedHeap, type HeapItem } from './indexed-heap.js';
import { LaneCursor } from './lane-cursor.js';
import type { EncodedMessage, StoredMessage } from './message-codec.js';
import type { PartitionSnapshot, TrackedState } from './subscription-journal.js';

export type EntryState = 'ready' | 'delayed' | 'in-flight' | 'dead-lettering' | 'settled';

/** Who holds an in-flight message (a consumer of the subscription). */
export interface EntryHolder {
  readonly id: number;
}

/** A message of the partition that the subscription tracks in memory. */
export interface Entry extends HeapItem {
  readonly partition: number;
  readonly offset: number;
  readonly message: StoredMessage;
  state: EntryState;
  deliveryCount: number;
  /** delayed: when it becomes ready; in-flight and taken: the lease deadline. */
  dueAt: number;
  /**
   * in-flight: whether user code received it (the lease runs from then). A delivery waiting
   * in a consumer's buffer holds no lease and goes back uncounted when its consumer leaves.
   */
  taken: boolean;
  holder: EntryHolder | null;
  /** Increments with each delivery: a settlement must carry the current one. */
  token: number;
  firstFailureAt: number;
  lastFailureAt: number;
  lastError: string | null;
  /**
   * The journal write of its settlement once settled through an ack (or a settlement someone
   * waits for): a retried ack waits on that same write, so it resolves only if it is durable.
   * The journal's batch promise, shared by every settlement of the batch: no promise per ack.
   */
  settling: Promise<void> | null;
  /** dead-lettering: the dead letter, kept to publish again if its publish failed. */
  letter: EncodedMessage | null;
  /** Taken ahead of the read position through a priority lane or a fairness scan (counted in aheadTracked). */
  ahead: boolean;
  /**
   * in-flight: a transaction that acks it is committing (transactions.ts): no lease expiry,
   * settle or consumer leaving takes it until the commit is applied or given up.
   */
  committing: boolean;
  /** fairBy: its group (counted in the subscription's FairGroups while `grouped`). */
  group: Group;
  grouped: boolean;
  /** fairBy: the round it is served in, given when it first becomes ready; -1: none yet. */
  round: number;
}

export function newEntry(partition: number, message: StoredMessage, deliveryCount: number): Entry {
  return {
    partition,
    offset: message.offset,
    message,
    state: 'ready',
    deliveryCount,
    dueAt: 0,
    taken: false,
    heapIndex: -1,
    holder: null,
    token: 0,
    firstFailureAt: 0,
    lastFailureAt: 0,
    lastError: null,
    settling: null,
    letter: null,
    ahead: false,
    committing: false,
    group: null,
    grouped: false,
    round: -1,
  };
}

/** Ready order: higher priority first, then lower offset (partition order). */
function readyBefore(a: Entry, b: Entry): boolean {
  const byPriority = a.message.priority - b.message.priority;
  return byPriority !== 0 ? byPriority > 0 : a.offset < b.offset;
}

/** fairBy: higher priority first, then the earlier round (round-robin over groups), then offset. */
function fairReadyBefore(a: Entry, b: Entry): boolean {
  const byPriority = a.message.priority - b.message.priority;
  if (byPriority !== 0) return byPriority > 0;
  return a.round !== b.round ? a.round < b.round : a.offset < b.offset;
}

export class PartitionCursor {
  readonly partition: number;
  floor: number;
  readOffset: number;
  readonly settled: Set<number>;
  readonly entries = new Map<number, Entry>();
  readonly restored: Map<number, TrackedState>;
  readonly ready: IndexedHeap<Entry>;
  /** A read from the log is in flight. */
  reading = false;
  /** Bumped by seek: reads and settlements started before it are void. */
  epoch = 0;
  /**
   * The ack floor the journal holds on disk (at most `floor`): advanced when a journal write
   * completes, so work-queue retention deletes only what stays settled after a power cut.
   */
  durableFloor: number;
  /** Entries taken ahead of `readOffset` through a lane and not settled yet. */
  aheadTracked = 0;
  /** Index = priority level; [0] unused (priority 0 is read in offset order). */
  readonly lanes: readonly LaneCursor[];
  /** fairBy: the scan past the read-ahead. */
  readonly fairScan = new FairScan();

  constructor(partition: number, state: PartitionSnapshot, fair = false) {
    this.partition = partition;
    this.ready = new IndexedHeap<Entry>(fair ? fairReadyBefore : readyBefore);
    this.floor = state.floor;
    this.readOffset = state.floor;
    this.durableFloor = state.floor;
    this.settled = state.settled;
    this.restored = state.tracked;
    this.lanes = Array.from({ length: PRIORITY_MAX + 1 }, (_, level) => new LaneCursor(level));
  }

  get windowFull(): boolean {
    return this.readOffset - this.floor >= UNSETTLED_WINDOW_MAX;
  }

  /** Room left in the window. */
  get windowRoom(): number {
    return UNSETTLED_WINDOW_MAX - (this.readOffset - this.floor);
  }

  isSettled(offset: number): boolean {
    return offset < this.floor || this.settled.has(offset);
  }

  /** Marks `offset` settled and moves the floor over every settled offset it reaches. */
  settle(offset: number): void {
    this.entries.delete(offset);
    this.restored.delete(offset);
    if (offset < this.floor) return;
    if (offset !== this.floor) {
      this.settled.add(offset);
      return;
    }
    this.floor++;
    while (this.settled.delete(this.floor)) {
      this.restored.delete(this.floor);
      this.floor++;
    }
    if (this.readOffset < this.floor) this.readOffset = this.floor;
  }

  /**
   * Moves floor and read position to `offset` (seek, or the stream's start moved past the
   * floor). Returns the entries that were tracked below it (seek: all of them) for the caller
   * to take out of heaps and consumers.
   */
  moveTo(offset: number, forgetAll: boolean): Entry[] {
    const dropped: Entry[] = [];
    for (const entry of this.entries.values()) {
      if (forgetAll || entry.offset < offset) dropped.push(entry);
    }
    for (const entry of dropped) this.entries.delete(entry.offset);
    if (forgetAll) {
      this.settled.clear();
      this.restored.clear();
      this.floor = offset;
      this.readOffset = offset;
      this.epoch++;
      for (const lane of this.lanes) lane.reset();
      this.fairScan.restart();
    } else {
      assert(offset > this.floor, 'moveTo only moves forward without forgetting');
      for (const settled of this.settled) if (settled < offset) this.settled.delete(settled);
      for (const restored of this.restored.keys())
        if (restored < offset) this.restored.delete(restored);
      this.floor = offset;
      while (this.settled.delete(this.floor)) this.floor++;
      if (this.readOffset < this.floor) this.readOffset = this.floor;
    }
    return dropped;
  }

  /** The journal's view of this partition, for a checkpoint. */
  snapshot(): PartitionSnapshot {
    const tracked = new Map<number, TrackedState>(this.restored);
    for (const entry of this.entries.values()) {
      const availableAt = entry.state === 'delayed' ? entry.dueAt : 0;
      if (entry.deliveryCount > 0 || availableAt > 0) {
        tracked.set(entry.offset, { deliveryCount: entry.deliveryCount, availableAt });
      }
    }
    return { floor: this.floor, settled: new Set(this.settled), tracked };
  }
}
