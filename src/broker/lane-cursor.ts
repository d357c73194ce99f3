/**
 * One subscription's walk along one priority lane of one partition (see priority-lanes.ts).
 *
 *   lane positions:  [ … passed … | outstanding (walked, not all settled) | position … not walked
 *
 * `floor` is a partition offset: every message of this priority below it is settled for the
 * subscription (below the partition cursor's own floor everything is). The walk takes lane
 * entries in order; an entry at or past the cursor's read position is fetched from the
 * partition log and tracked ahead of the read-ahead (so a high priority is served before the
 * backlog in front of it). `outstanding` keeps the walked offsets in lane order until they
 * are settled in order: then the floor moves over them and the cursor forgets their
 * individual acks, so what a subscription remembers stays bounded by LANE_OUTSTANDING_MAX
 * however many priority messages it consumes ahead of its floor.
 */
export class LaneCursor {
  readonly level: number;
  floor: number;
  /** Next lane position to walk; -1: to be found from `floor` (after open or a seek). */
  position = -1;
  /** Walked offsets not yet passed by `floor`, in lane order (a queue: head at `#head`). */
  readonly #outstanding: number[] = [];
  #head = 0;
  /** Partition offset of the last entry walked (the floor moves to it + 1 when all settle). */
  lastWalked = -1;
  /** A lane read is in flight. */
  reading = false;

  constructor(level: number, floor: number) {
    this.level = level;
    this.floor = floor;
  }

  get outstandingCount(): number {
    return this.#outstanding.length - this.#head;
  }

  walked(offset: number): void {
    this.#outstanding.push(offset);
    this.lastWalked = offset;
  }

  /** Passed over without tracking (settled already): the floor may move past it. */
  passed(offset: number): void {
    this.lastWalked = offset;
  }

  /**
   * Moves the floor over the settled head of the queue; returns the offsets it passed (for
   * the caller to forget their individual acks) or null if the floor did not move.
   */
  advance(isSettled: (offset: number) => boolean): number[] | null {
    const passed: number[] = [];
    while (this.#head < this.#outstanding.length && isSettled(this.#outstanding[this.#head]!)) {
      passed.push(this.#outstanding[this.#head++]!);
    }
    if (this.#head > 64 && this.#head * 2 > this.#outstanding.length) {
      this.#outstanding.splice(0, this.#head);
      this.#head = 0;
    }
    const next =
      this.#head < this.#outstanding.length ? this.#outstanding[this.#head]! : this.lastWalked + 1;
    if (next <= this.floor) return passed.length > 0 ? passed : null;
    this.floor = next;
    return passed;
  }

  /** Forgets the walk (seek): it starts again from `floor`. */
  reset(floor: number): void {
    this.floor = floor;
    this.position = -1;
    this.#outstanding.length = 0;
    this.#head = 0;
    this.lastWalked = -1;
  }

  /** The partition's start moved to `offset`: what lies below is gone. */
  dropBelow(offset: number): void {
    while (this.#head < this.#outstanding.length && this.#outstanding[this.#head]! < offset)
      this.#head++;
    if (this.floor < offset) this.floor = offset;
  }
}
