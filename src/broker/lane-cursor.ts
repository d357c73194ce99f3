/**
 * One subscription's walk along one priority lane of one partition (see priority-lanes.ts).
 * The walk takes lane entries in order from `position`; an entry at or past the partition
 * cursor's read position is fetched from the partition log and tracked at once, ahead of the
 * backlog in front of it; one below it is tracked or settled already. Acks of what was taken
 * ahead are remembered per offset, as every ack above the floor is (exact across a restart,
 * whatever a power cut did to the lane), within LANE_AHEAD_SETTLED_MAX.
 */
export class LaneCursor {
  readonly level: number;
  /** Next lane position to walk; -1: to be found from the cursor's floor (open, seek). */
  position = -1;
  /** A lane read is in flight. */
  reading = false;
  /**
   * The walk stopped at an entry whose message the partition log has not committed yet (or,
   * after a power cut, an entry past its end): walk again once the log is past it.
   */
  blockedAt = -1;
  /**
   * A read of this walk failed: it is not walked again until a seek resets it, so a failing
   * disk costs priority order, never a retry loop (the messages still come in offset order).
   */
  stalled = false;

  constructor(level: number) {
    this.level = level;
  }

  /** Forgets the walk (seek): it starts again from the floor. */
  reset(): void {
    this.position = -1;
    this.blockedAt = -1;
    this.stalled = false;
  }
}
