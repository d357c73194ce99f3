/**
 * A subscription (consumer group) on a stream: per partition a cursor that reads the log in
 * batches while consumers have credit, the messages in memory (ready by priority, delayed,
 * in flight), the consumers and the mode that decides who gets what, and one timer for every
 * lease deadline and delay (a heap of due times, one setTimeout). Durable state goes through
 * the SubscriptionJournal; `ack` / `nack` / `term` resolve once their record is durable.
 *
 * Memory: per partition at most READY_RECORDS_MAX messages read ahead, plus what is in
 * flight or delayed, all within the UNSETTLED_WINDOW_MAX offsets above the ack floor, plus at
 * most LANE_AHEAD_TRACKED_MAX messages of a priority above 0 found through the partition's
 * priority lanes anywhere past that (and LANE_AHEAD_SETTLED_MAX acks of such messages) (so priority holds over the whole backlog, not only over
 * what was read ahead). A subscription without consumers reads nothing. With `fairBy` a
 * fairness scan (fair-scan.ts) takes messages of groups with few in memory ahead the same way,
 * within the same bounds; `rateLimit` holds ready messages back (rate-limiter.ts).
 *
 * Concurrency: everything here runs on the event loop; state changes are synchronous, and
 * the only awaits are log reads (checked against the cursor's epoch when they return) and
 * journal appends (whose results only resolve callers).
 */
import {
  PROGRESS_HEADERS,
  progressValueText,
  type Body,
  type JobProgress,
  type JsonValue,
  type NackOptions,
  type ProgressSelector,
  type RespondOptions,
  type SubscriptionConfig,
  type SubscriptionInfo,
  type SubscriptionMode,
} from '../protocol/index.js';
import type { PartitionLog, StoredRecord } from '../storage/index.js';
import {
  CURSOR_READ_BYTES_MAX,
  CURSOR_READ_RECORDS_MAX,
  DEAD_LETTER_RETRY_MS_MIN,
  FAIR_GROUP_IN_MEMORY_ENOUGH,
  FAIR_SCAN_HOLD_SPAN_MAX,
  LANE_AHEAD_SETTLED_MAX,
  LANE_AHEAD_TRACKED_MAX,
  LANE_READ_RECORDS_MAX,
  LANE_READ_SPAN_MAX,
  LEASE_MS_MAX,
  PRIORITY_MAX,
  RATE_LIMIT_HELD_MAX,
  READY_RECORDS_MAX,
  UNSETTLED_WINDOW_MAX,
  EXPIRY_SWEEP_MS,
} from '../limits.js';
import * as diagnosticsChannel from 'node:diagnostics_channel';
import { WeirError, assert, type Clock, type Timer } from '../util/index.js';
import { backoffDelay, backoffMaxDelay } from './backoff.js';
import type { Consumer } from './consumer.js';
import { deadLetterFor, isForAnotherSubscription } from './dead-letter.js';
import { DeliveredMessage, type DeliveryActions } from './delivery.js';
import { DueTimer } from './due-timer.js';
import { FairGroups, messageGroup, recordGroup, type Group } from './fair-groups.js';
import {
  decodeMessage,
  recordPriority,
  type EncodedMessage,
  type StoredMessage,
} from './message-codec.js';
import { isExpired } from './message-expiry.js';
import { failureInfo } from './failure-info.js';
import { compileHeaderFilter, type HeaderMatcher } from './header-filter.js';
import { integerIn, rejection } from './option-checks.js';
import type { LaneCursor } from './lane-cursor.js';
import { PartitionCursor, newEntry, type Entry } from './partition-cursor.js';
import { ProgressStore } from './progress-store.js';
import type { PriorityLanes } from './priority-lanes.js';
import { RateLimiter } from './rate-limiter.js';
import { hashKey } from './partition-hash.js';
import { SubjectFilter } from './subject.js';
import {
  OPERATION,
  encodeSnapshot,
  type PartitionSnapshot,
  type SubscriptionJournal,
} from './subscription-journal.js';

/**
 * A subscription stopped because its journal or a read of its stream failed:
 * `{ stream, subscription, code, message }`, once.
 */
export const subscriptionFailedChannel = diagnosticsChannel.channel('weir:subscription:failed');

/** What a subscription needs from its stream and broker. */
export interface SubscriptionHost {
  readonly stream: string;
  readonly logs: readonly PartitionLog[];
  /** Per partition, the offsets of its messages by priority level. */
  readonly lanes: readonly PriorityLanes[];
  /** First offset of the partition still retained (retention may move it past the log's). */
  readonly startOffset: (partition: number) => number;
  /** The stream's current limits (streams.update may change them): read on each use. */
  readonly maxAgeMs: number | null;
  readonly ttlMs: number | null;
  readonly clock: Clock;
  /** Publishes a dead letter (a normal publish: it may fail with NO_ROUTE etc.). */
  readonly publish: (message: EncodedMessage) => Promise<void>;
  readonly respond: (
    message: StoredMessage,
    body: Body,
    options: RespondOptions | undefined,
  ) => Promise<void>;
}

interface KeyOwner {
  consumer: Consumer;
  count: number;
}

export class SubscriptionGroup implements DeliveryActions {
  readonly name: string;
  readonly durable: boolean;
  readonly config: SubscriptionConfig;
  readonly #host: SubscriptionHost;
  readonly #journal: SubscriptionJournal;
  readonly #cursors: PartitionCursor[];
  readonly #filter: SubjectFilter;
  readonly #headerFilter: HeaderMatcher;
  readonly #consumers: Consumer[] = [];
  readonly #timers: DueTimer<Entry>;
  /** Finds expired messages while no consumer reads (#sweepExpired). */
  readonly #expirySweep: Timer;
  readonly #keyOwners = new Map<number, KeyOwner>();
  #inFlight = 0;
  /** Lane walks in flight, by priority level: what they find may outrank what is ready. */
  readonly #walking = new Uint16Array(PRIORITY_MAX + 1);
  #tokens = 0;
  /** fairBy: the groups with messages in memory and their rounds; null without fairBy. */
  readonly #fairGroups: FairGroups | null;
  /** rateLimit: the token buckets; null without one. */
  readonly #rateLimiter: RateLimiter | null;
  /** rateLimit: wakes the dispatch when a held-back message's bucket has a token again. */
  #rateTimer: Timer | null = null;
  #rateTimerAt = 0;
  #partitionRotation = 0;
  #consumerRotation = 0;
  #dispatching = false;
  #closed = false;
  #failure: WeirError | null = null;
  readonly #counters = {
    delivered: 0,
    redelivered: 0,
    acked: 0,
    deadLettered: 0,
    expired: 0,
    dropped: 0,
    /** Offsets the log lost (recovery cut them out) that this subscription skipped. */
    lost: 0,
  };
  /** Per partition: offsets the ack floor was moved back by at open (it was past the log's end). */
  readonly #floorClamped: readonly number[];
  /** The progress consumers reported (Message.progress), bounded, in memory only. */
  readonly #progress = new ProgressStore();

  constructor(options: {
    name: string;
    durable: boolean;
    config: SubscriptionConfig;
    host: SubscriptionHost;
    journal: SubscriptionJournal;
    state: readonly PartitionSnapshot[];
    /** Per partition, offsets the floor was moved back by at open (see clampToLogs). */
    floorClamped?: readonly number[];
  }) {
    this.name = options.name;
    this.durable = options.durable;
    this.config = options.config;
    this.#host = options.host;
    this.#journal = options.journal;
    assert(options.state.length === options.host.logs.length, 'one state per partition');
    const fair = options.config.fairBy !== null;
    this.#cursors = options.state.map(
      (state, partition) => new PartitionCursor(partition, state, fair),
    );
    this.#fairGroups = fair ? new FairGroups() : null;
    if (this.#fairGroups) {
      // A group a scan passed over runs low in memory: its next messages lie behind the scan.
      this.#fairGroups.onLow = (group) => {
        for (const cursor of this.#cursors) cursor.fairScan.groupRanLow(group);
      };
    }
    this.#rateLimiter =
      options.config.rateLimit === null ? null : new RateLimiter(options.config.rateLimit);
    this.#filter = new SubjectFilter(options.config.filter);
    this.#headerFilter = compileHeaderFilter(options.config.headerFilter);
    this.#timers = new DueTimer<Entry>(
      options.host.clock,
      (entry, now) => this.#onDue(entry, now),
      () => this.#dispatch(),
    );
    // On every subscription: a stream's ttlMs may be set later (streams.update).
    this.#expirySweep = options.host.clock.setRepeating(
      EXPIRY_SWEEP_MS,
      () => this.#sweepExpired(),
      { unref: true },
    );
    this.#floorClamped = options.floorClamped ?? options.state.map(() => 0);
    this.#journal.onDrain = () => this.#dispatch();
    this.#journal.onFailure = (failure) => this.#stop(failure);
    this.#journal.captureDurable = () => this.#cursors.map((cursor) => cursor.floor);
    this.#journal.onDurable = (captured) => {
      const floors = captured as number[];
      for (const cursor of this.#cursors) cursor.durableFloor = floors[cursor.partition]!;
    };
    if (this.#journal.failure) this.#stop(this.#journal.failure);
  }

  get stream(): string {
    return this.#host.stream;
  }

  get consumerCount(): number {
    return this.#consumers.length;
  }

  /** The journal's view of the whole subscription (for checkpoints). */
  snapshot(): Uint8Array {
    return encodeSnapshot(this.#cursors.map((cursor) => cursor.snapshot()));
  }

  isSettled(partition: number, offset: number): boolean {
    return this.#cursors[partition]!.isSettled(offset);
  }

  /**
   * Settles an offset by number, read or not (dead-letter redrive marks what it re-drove on
   * its own subscription, which has no consumers). Resolves once durable.
   */
  settleOffset(partition: number, offset: number): Promise<void> {
    if (this.#journal.failure) return Promise.reject(this.#journal.failure);
    const cursor = this.#cursors[partition]!;
    if (cursor.isSettled(offset)) return Promise.resolve();
    const entry = cursor.entries.get(offset);
    if (entry) return this.#settle(entry, true);
    cursor.settle(offset);
    return this.#journal.record(OPERATION.settle, partition, offset);
  }

  /** Ack floor of a partition (in memory: what is settled, durable or not yet). */
  floor(partition: number): number {
    return this.#cursors[partition]!.floor;
  }

  /**
   * The ack floor of a partition as the journal holds it on disk: work-queue retention deletes
   * only below the lowest, so a power cut never leaves a floor below the log's start with the
   * messages between gone. An idle journal has everything recorded on disk.
   */
  durableFloor(partition: number): number {
    const cursor = this.#cursors[partition]!;
    if (!this.durable) return cursor.floor;
    if (this.#journal.failure === null && this.#journal.idle) cursor.durableFloor = cursor.floor;
    return Math.min(cursor.floor, cursor.durableFloor);
  }

  /** Why the subscription stopped (its journal, or a read of its stream, failed), or null. */
  get failure(): WeirError | null {
    return this.#journal.failure ?? this.#failure;
  }

  /**
   * Stops the subscription for good: nothing more is delivered, consumers end (a new one is
   * refused with SUBSCRIPTION_FAILED), and info / readyz / metrics show the failure.
   */
  #stop(failure: WeirError): void {
    if (this.#failure) return;
    this.#failure = failure;
    if (subscriptionFailedChannel.hasSubscribers) {
      subscriptionFailedChannel.publish({
        stream: this.#host.stream,
        subscription: this.name,
        code: failure.code,
        message: failure.message,
      });
    }
    // Ready messages stay where they are: #totalFull and #hasDemand keep them from going out.
    for (const consumer of this.#consumers.splice(0)) consumer.end();
  }

  // ---- consumers ------------------------------------------------------------------------

  addConsumer(consumer: Consumer): void {
    if (this.#closed) throw new WeirError('CLOSED', `subscription ${this.name} is closed`);
    if (this.#failure) {
      throw new WeirError(
        'SUBSCRIPTION_FAILED',
        `subscription ${this.name} stopped: ${this.#failure.code} ${this.#failure.message}`,
        { cause: this.#failure },
      );
    }
    if (this.config.mode === 'exclusive' && this.#consumers.length > 0) {
      throw new WeirError(
        'CONSUMER_EXCLUSIVE',
        `subscription ${this.name} is exclusive and has a consumer`,
      );
    }
    this.#consumers.push(consumer);
    this.#dispatch();
  }

  removeConsumer(consumer: Consumer): void {
    const index = this.#consumers.indexOf(consumer);
    if (index < 0) return;
    this.#consumers.splice(index, 1);
    // In offset order. What user code never received goes back at once, uncounted (the
    // journal may hold a count one higher: a restart tolerates that). What it received and did
    // not settle failed as a nack would: back after the backoff delay, or dead-lettered.
    const now = this.#host.clock.now();
    const entries = [...consumer.entries].sort((a, b) => a.offset - b.offset);
    for (const entry of entries) {
      // A transaction committing its ack decides (releaseFromTransaction if it gives up).
      if (entry.committing) continue;
      const taken = entry.taken;
      this.#release(entry);
      if (taken) {
        this.#quietly(this.#retry(entry, null, 'consumer left', now));
      } else {
        entry.deliveryCount--;
        this.#counters.delivered--;
        if (entry.deliveryCount > 0) this.#counters.redelivered--;
        this.#makeReady(entry);
      }
    }
    this.#dispatch();
  }

  take(message: DeliveredMessage): boolean {
    if (!message.current) return false;
    const entry = message.entry;
    if (entry.taken) return true;
    entry.taken = true;
    if (this.config.ack === 'none') {
      // At most once: settled as it reaches user code.
      this.#counters.acked++;
      this.#settle(entry, false);
      this.#dispatch();
    } else {
      // The lease runs from when user code receives the message, not from the push.
      entry.dueAt = this.#host.clock.now() + this.config.leaseMs;
      this.#timers.add(entry);
    }
    return true;
  }

  /**
   * A consumer hands back deliveries its user code never took (its circuit breaker opened, or
   * the SDK sent SETTLE release): as when it leaves, they go back at once, uncounted.
   */
  handBack(messages: readonly DeliveredMessage[]): number {
    let count = 0;
    for (const message of messages) {
      if (!message.current || message.entry.taken) continue;
      const entry = message.entry;
      this.#release(entry);
      entry.deliveryCount--;
      this.#counters.delivered--;
      if (entry.deliveryCount > 0) this.#counters.redelivered--;
      this.#makeReady(entry);
      count++;
    }
    if (count > 0) this.#dispatch();
    return count;
  }

  resumed(_consumer: Consumer): void {
    this.#dispatch();
  }

  /**
   * The consumer whose user code holds an in-flight entry (taken): told how the delivery ended
   * once the state change is done (its circuit breaker counts it, and may hand back more).
   */
  #takenBy(entry: Entry): Consumer | null {
    if (entry.state !== 'in-flight' || !entry.taken) return null;
    return entry.holder as Consumer | null;
  }

  // ---- reading ---------------------------------------------------------------------------

  /** New messages were committed to `partition`. */
  onCommit(partition: number): void {
    const cursor = this.#cursors[partition];
    if (cursor === undefined) return;
    // A lane may have a new entry too (the dispatch does the same before it delivers).
    if (!cursor.reading && this.#hasDemand()) this.#pumpLanes(cursor);
    if (this.#hasDemand()) this.#pumpFairScan(cursor);
    this.#pump(cursor);
  }

  #hasDemand(): boolean {
    if (this.#closed || this.#failure || this.#journal.backlogged) return false;
    if (this.config.maxInFlightTotal !== null && this.#inFlight >= this.config.maxInFlightTotal)
      return false;
    if (this.config.mode === 'failover' || this.config.mode === 'exclusive') {
      return (this.#consumers[0]?.credit ?? 0) > 0;
    }
    for (const consumer of this.#consumers) if (consumer.credit > 0) return true;
    return false;
  }

  #pump(cursor: PartitionCursor, withoutDemand = false): void {
    if (cursor.reading || (!withoutDemand && !this.#hasDemand())) return;
    this.#catchUpStart(cursor);
    if (cursor.reading) return; // dead-lettering what retention drops first
    const log = this.#host.logs[cursor.partition]!;
    if (cursor.readOffset >= log.committedOffset) return;
    // fairBy reads on to READY_RECORDS_MAX before it dispatches what it has: a group further
    // on in the backlog must be in memory to get its turn (#holdForScan waits for the read).
    const readyCap = this.#fairGroups === null ? CURSOR_READ_RECORDS_MAX : READY_RECORDS_MAX;
    if (cursor.ready.size >= readyCap || cursor.windowFull) return;
    const maxRecords = Math.min(
      CURSOR_READ_RECORDS_MAX,
      READY_RECORDS_MAX - cursor.ready.size,
      cursor.windowRoom,
    );
    cursor.reading = true;
    const epoch = cursor.epoch;
    log.read(cursor.readOffset, { maxRecords, maxBytes: CURSOR_READ_BYTES_MAX }).then(
      (records) => {
        cursor.reading = false;
        if (this.#closed) return;
        if (cursor.epoch === epoch) this.#accept(cursor, records);
        // fairBy: the next read goes first, so the dispatch can wait for it (#holdForScan).
        if (this.#fairGroups !== null) this.#pump(cursor);
        this.#dispatch();
      },
      (error: unknown) => {
        cursor.reading = false;
        if (this.#closed) return;
        this.#stop(
          error instanceof WeirError
            ? error
            : new WeirError('INTERNAL', 'subscription read failed', { cause: error }),
        );
      },
    );
  }

  /**
   * deadLetterExpired, or a stream ttlMs, while no consumer reads: messages expire at the
   * head of the subscription as RabbitMQ expires them at the head of a queue, so a queue with
   * a TTL and a dead-letter target and no consumers (the delay-queue pattern) still
   * dead-letters on time, and a queue's counts drop what expired. (maxAgeMs alone is
   * retention's: segments go by age, and an idle subscription need not read ahead for it.)
   * Each sweep expires the ready heads that are past their expiry and, when a partition has
   * nothing ready, reads one batch from the log (tracking it expires what is expired in it). What is not expired stays ready, within the usual READY_RECORDS_MAX.
   * With demand the dispatch does the same as it delivers, so the sweep stays out of it.
   */
  #sweepExpired(): void {
    if (this.#closed || this.#failure || this.#journal.backlogged || this.#hasDemand()) return;
    const deadLettersExpired = this.config.deadLetterExpired && this.config.deadLetter !== null;
    if (!deadLettersExpired && this.#host.ttlMs === null) return;
    const now = this.#host.clock.now();
    for (const cursor of this.#cursors) {
      for (let head = cursor.ready.peek(); head !== undefined; head = cursor.ready.peek()) {
        if (!isExpired(head.message, this.#host, now)) break;
        cursor.ready.pop();
        this.#expire(head);
      }
      if (cursor.ready.size === 0) this.#pump(cursor, true);
    }
  }

  /** Retention moved the partition's start past the floor: what lies below is gone. */
  #catchUpStart(cursor: PartitionCursor): void {
    const start = this.#host.startOffset(cursor.partition);
    if (cursor.floor >= start) return;
    if (this.deadLettersOnRetention) {
      void this.#deadLetterBelow(cursor, start, this.config.deadLetter!);
      return;
    }
    this.#letGoBelow(cursor, start);
  }

  /** Whether it dead-letters (some of) what retention lets go: deadLetterOverflow / deadLetterExpired. */
  get deadLettersOnRetention(): boolean {
    return (
      this.config.deadLetter !== null &&
      (this.config.deadLetterOverflow || this.config.deadLetterExpired)
    );
  }

  /**
   * The stream is about to delete segments below its start in `partition` (age retention):
   * a subscription that dead-letters what retention lets go reads it back first, consumers or
   * not. Resolves once done, or at once if there is nothing to do or a read is in flight (the
   * stream then keeps the segments below this subscription's floor until a later pass).
   */
  beforeRetention(partition: number): Promise<void> {
    const cursor = this.#cursors[partition];
    if (!cursor || this.#closed || this.#failure || cursor.reading || !this.deadLettersOnRetention)
      return Promise.resolve();
    const start = this.#host.startOffset(partition);
    if (cursor.floor >= start) return Promise.resolve();
    return this.#deadLetterBelow(cursor, start, this.config.deadLetter!);
  }

  /** Moves the cursor to `start`, letting go of what lies below (counted as dropped unless it was dead-lettered). */
  #letGoBelow(cursor: PartitionCursor, start: number, countDropped = true): void {
    for (const entry of cursor.moveTo(start, false)) {
      this.#detach(entry);
      if (countDropped) this.#counters.dropped++;
    }
  }

  /**
   * Before letting go of what retention dropped below `start`, publishes each message this
   * subscription had not settled to the dead-letter target: reason `expired` for one past its
   * ttl or the stream's maxAgeMs (deadLetterExpired), else `overflow` (deadLetterOverflow),
   * else it is counted (expired or dropped). The records are read back from the log, which
   * keeps them until their segment is deleted; those already deleted cannot be and are counted
   * dropped. The cursor does not read meanwhile (`reading`), and everything below `start` goes
   * once this is done.
   */
  #deadLetterBelow(cursor: PartitionCursor, start: number, target: string): Promise<void> {
    cursor.reading = true;
    const epoch = cursor.epoch;
    const log = this.#host.logs[cursor.partition]!;
    const work = async (): Promise<void> => {
      let offset = cursor.floor;
      while (offset < start && !this.#closed && cursor.epoch === epoch) {
        const records = await log.read(offset, {
          maxRecords: Math.min(CURSOR_READ_RECORDS_MAX, start - offset),
          maxBytes: CURSOR_READ_BYTES_MAX,
        });
        const below = records.filter((record) => record.offset < start);
        if (below.length === 0) break;
        this.#counters.dropped += below[0]!.offset - offset; // deleted from disk already
        const letters: Promise<void>[] = [];
        for (const record of below) {
          if (cursor.isSettled(record.offset)) continue;
          const tracked = cursor.entries.get(record.offset);
          // Being dead-lettered already (it expired as it was read or swept): not twice.
          if (tracked?.state === 'dead-lettering') continue;
          const restored = cursor.restored.get(record.offset);
          const entry =
            tracked ??
            newEntry(cursor.partition, decodeMessage(record, true), restored?.deliveryCount ?? 0);
          if (!this.#wanted(entry.message)) continue;
          const expired = isExpired(entry.message, this.#host, this.#host.clock.now());
          if (expired) this.#counters.expired++;
          const reason =
            expired && this.config.deadLetterExpired
              ? 'expired'
              : this.config.deadLetterOverflow && !expired
                ? 'overflow'
                : null;
          if (reason === null) {
            if (!expired) this.#counters.dropped++;
            continue;
          }
          const letter = deadLetterFor(entry, this.#host.stream, this.name, target, reason, null);
          letters.push(
            this.#host.publish(letter).then(
              () => void this.#counters.deadLettered++,
              () => void this.#counters.dropped++,
            ),
          );
        }
        await Promise.all(letters);
        offset = below[below.length - 1]!.offset + 1;
      }
    };
    return work()
      .catch(() => undefined) // a failed read: what is left below start is dropped, as without
      .finally(() => {
        cursor.reading = false;
        if (this.#closed || cursor.epoch !== epoch) return;
        const current = this.#host.startOffset(cursor.partition);
        // Anything dropped meanwhile (start moved again) waits for the next pass.
        if (cursor.floor < start) this.#letGoBelow(cursor, start, false);
        if (current > start) void this.#deadLetterBelow(cursor, current, target);
        else this.#dispatch();
      });
  }

  #accept(cursor: PartitionCursor, records: readonly StoredRecord[]): void {
    const now = this.#host.clock.now();
    for (const record of records) {
      const offset = record.offset;
      if (offset < cursor.readOffset) continue;
      // Offsets the log skipped are gone: below the start, retention dropped them; above it,
      // recovery lost them (log.lostRanges). Counted, then settled.
      if (cursor.readOffset < offset) this.#skip(cursor, offset);
      cursor.readOffset = offset + 1;
      if (cursor.isSettled(offset)) continue;
      const tracked = cursor.entries.get(offset);
      if (tracked !== undefined) {
        this.#notAhead(cursor, tracked); // a lane took it ahead: now it is within the read-ahead
        continue;
      }
      this.#track(cursor, record, now);
    }
  }

  /** Starts tracking a record read from the log (or settles it at once if it is not for us). */
  #track(cursor: PartitionCursor, record: StoredRecord, now: number): Entry | null {
    const offset = record.offset;
    const restored = cursor.restored.get(offset);
    if (restored) cursor.restored.delete(offset);
    const message = decodeMessage(record, true);
    if (!this.#wanted(message)) {
      cursor.settle(offset);
      return null;
    }
    const expired = isExpired(message, this.#host, now);
    if (expired && !(this.config.deadLetterExpired && this.config.deadLetter !== null)) {
      this.#counters.expired++; // not journalled: read again after a restart, it expires again
      cursor.settle(offset);
      return null;
    }
    const entry = newEntry(cursor.partition, message, restored?.deliveryCount ?? 0);
    cursor.entries.set(offset, entry);
    if (this.#fairGroups) {
      entry.group = messageGroup(message, this.config.fairBy!);
      entry.grouped = true;
      this.#fairGroups.track(entry.group);
    }
    if (expired) {
      this.#expire(entry);
      return null;
    }
    const availableAt = Math.max(message.deliverAt, restored?.availableAt ?? 0);
    if (availableAt > now) this.#delay(entry, availableAt);
    else this.#makeReady(entry);
    return entry;
  }

  #notAhead(cursor: PartitionCursor, entry: Entry): void {
    if (!entry.ahead) return;
    entry.ahead = false;
    cursor.aheadTracked--;
  }

  // ---- priority lanes --------------------------------------------------------------------

  /** Walks the partition's priority lanes, highest first, while there is room. */
  #pumpLanes(cursor: PartitionCursor): void {
    const lanes = this.#host.lanes[cursor.partition];
    if (lanes === undefined) return;
    const committed = this.#host.logs[cursor.partition]!.committedOffset;
    for (let level = PRIORITY_MAX; level >= 1; level--) {
      // Walk in reads of some size, not one entry per ack.
      const room = this.#aheadRoom(cursor);
      if (room <= 0 || (room < LANE_READ_RECORDS_MAX / 4 && cursor.aheadTracked > 0)) return;
      const lane = cursor.lanes[level]!;
      if (lane.reading || lane.stalled || !lanes.has(level)) continue;
      if (lanes.last(level) < cursor.readOffset) {
        // All of it lies within the read-ahead, tracked or settled there: nothing to take
        // ahead, and no walk to wait for. A later walk finds its place again.
        lane.position = -1;
        continue;
      }
      if (lane.position >= 0 && lane.position >= lanes.end(level)) continue;
      if (lane.blockedAt >= committed) continue;
      this.#walkLane(cursor, lanes, lane);
    }
  }

  /** How many more messages the lanes and the fairness scan may take ahead of the read position now. */
  #aheadRoom(cursor: PartitionCursor): number {
    if (cursor.settled.size >= UNSETTLED_WINDOW_MAX + LANE_AHEAD_SETTLED_MAX) return 0;
    return LANE_AHEAD_TRACKED_MAX - cursor.aheadTracked;
  }

  /**
   * Reads the next entries of one lane. An entry past the read position is fetched from the
   * log and tracked now, ahead of the backlog (a message of this priority); one within it is
   * tracked already or settled. An entry whose message has another priority (a lane that
   * outlived a torn log tail) is skipped; a message a lane lacks (a power cut took its entry)
   * is simply delivered in offset order.
   */
  #walkLane(cursor: PartitionCursor, lanes: PriorityLanes, lane: LaneCursor): void {
    lane.reading = true;
    this.#walking[lane.level]!++;
    const epoch = cursor.epoch;
    const log = this.#host.logs[cursor.partition]!;
    const live = (): boolean => !this.#closed && cursor.epoch === epoch;
    const ahead = (offset: number): boolean =>
      offset >= cursor.readOffset && !cursor.entries.has(offset) && !cursor.isSettled(offset);
    const work = async (): Promise<void> => {
      if (lane.position < 0) lane.position = await lanes.positionFor(lane.level, cursor.readOffset);
      if (!live()) return;
      const found = await lanes.read(lane.level, lane.position, LANE_READ_RECORDS_MAX);
      const committed = log.committedOffset;
      // Only as many as there is room for: the walk stops at the first one left.
      let room = this.#aheadRoom(cursor);
      let take = 0;
      const wanted: number[] = [];
      for (const entry of found) {
        if (entry.offset >= committed) break;
        if (ahead(entry.offset)) {
          if (room-- <= 0) break;
          wanted.push(entry.offset);
        }
        take++;
      }
      const records = await this.#readOffsets(log, wanted);
      if (!live()) return;
      const now = this.#host.clock.now();
      for (let index = 0; index < take; index++) {
        const laneEntry = found[index]!;
        const record = records.get(laneEntry.offset);
        // Stale if its message has another priority (a lane that outlived a torn log tail);
        // the read position may have passed it meanwhile (then it is tracked or settled).
        if (
          record !== undefined &&
          recordPriority(record) === lane.level &&
          ahead(laneEntry.offset)
        ) {
          const entry = this.#track(cursor, record, now);
          if (entry !== null) {
            entry.ahead = true;
            cursor.aheadTracked++;
          }
        }
        lane.position = laneEntry.position + 1;
      }
      const next = found[take];
      if (next !== undefined && next.offset >= committed) lane.blockedAt = next.offset;
    };
    work()
      .catch(() => {
        // A failed lane read costs priority order only. Walking again at once would fail
        // again at once: on a failed disk that was a loop that never yielded to the timers.
        if (cursor.epoch === epoch) lane.stalled = true;
      })
      .finally(() => {
        lane.reading = false;
        this.#walking[lane.level]!--;
        if (live()) this.#dispatch();
      });
  }

  // ---- fairness scan ---------------------------------------------------------------------

  /**
   * fairBy: reads on for a group the scan passed over that runs low, else the scan's next
   * records past the read-ahead, if there is room to take any ahead and the backlog does not
   * fit in the read-ahead anyway.
   */
  #pumpFairScan(cursor: PartitionCursor): void {
    const by = this.config.fairBy;
    const scan = cursor.fairScan;
    if (by === null || scan.reading) return;
    if (scan.position >= 0 && scan.position < cursor.readOffset) scan.restart(); // overtaken
    const room = this.#aheadRoom(cursor);
    // Read for some room, not for each message that settles.
    if (room <= 0 || (room < LANE_READ_RECORDS_MAX / 4 && cursor.aheadTracked > 0)) {
      scan.discovering = false;
      return;
    }
    const log = this.#host.logs[cursor.partition]!;
    const committed = log.committedOffset;
    const refill = scan.nextRefill();
    if (refill !== null) {
      const from = Math.max(refill.offset, cursor.readOffset);
      if (from >= scan.position) {
        scan.refilled(refill.group, from, true);
        this.#pumpFairScan(cursor);
        return;
      }
      const maxRecords = Math.min(CURSOR_READ_RECORDS_MAX, scan.position - from);
      this.#scanRead(cursor, from, maxRecords, true, (records) =>
        this.#acceptRefill(cursor, refill.group, from, records, by),
      );
      return;
    }
    const from = scan.position < 0 ? cursor.readOffset : scan.position;
    // Stalled, caught up, or what is not read yet fits in the read-ahead (it comes in order
    // soon). A pass that caught up is still new (discovering) until it runs out of room.
    if (
      scan.stalled ||
      from >= committed ||
      committed - cursor.readOffset <= READY_RECORDS_MAX - cursor.ready.size
    ) {
      return;
    }
    scan.position = from;
    this.#scanRead(cursor, from, CURSOR_READ_RECORDS_MAX, false, (records) =>
      this.#acceptScanned(cursor, records, by),
    );
  }

  /** One read of the fairness scan; `accept` runs if nothing voided it meanwhile. */
  #scanRead(
    cursor: PartitionCursor,
    from: number,
    maxRecords: number,
    refill: boolean,
    accept: (records: readonly StoredRecord[]) => void,
  ): void {
    const scan = cursor.fairScan;
    const log = this.#host.logs[cursor.partition]!;
    scan.reading = true;
    scan.refilling = refill;
    const epoch = cursor.epoch;
    const generation = scan.generation;
    log.read(from, { maxRecords, maxBytes: CURSOR_READ_BYTES_MAX }).then(
      (records) => {
        scan.reading = false;
        if (this.#closed) return;
        if (cursor.epoch === epoch && scan.generation === generation) accept(records);
        this.#dispatch();
      },
      () => {
        scan.reading = false; // a failed scan read costs fairness only, until a new pass
        if (scan.generation === generation) scan.stalled = true;
        if (!this.#closed) this.#dispatch();
      },
    );
  }

  /** Whether `offset` is past the read position and neither tracked nor settled. */
  #untracked(cursor: PartitionCursor, offset: number): boolean {
    return offset >= cursor.readOffset && !cursor.entries.has(offset) && !cursor.isSettled(offset);
  }

  /** Takes a scanned record ahead of the read position (it is wanted and there is room). */
  #takeAhead(cursor: PartitionCursor, record: StoredRecord, now: number): void {
    const entry = this.#track(cursor, record, now);
    if (entry !== null) {
      entry.ahead = true;
      cursor.aheadTracked++;
    }
  }

  /** The scan's pass: takes ahead the messages of groups with few in memory (see fair-scan.ts). */
  #acceptScanned(
    cursor: PartitionCursor,
    records: readonly StoredRecord[],
    by: NonNullable<SubscriptionConfig['fairBy']>,
  ): void {
    const scan = cursor.fairScan;
    const groups = this.#fairGroups!;
    const now = this.#host.clock.now();
    let room = this.#aheadRoom(cursor);
    for (const record of records) {
      const offset = record.offset;
      if (offset < scan.position) continue;
      if (this.#untracked(cursor, offset)) {
        const group = recordGroup(record, by);
        const choice = scan.choose(group, groups.inMemory(group), offset);
        if (choice === 'stop') return;
        if (choice === 'take' && this.#wanted(decodeMessage(record, false))) {
          if (room-- <= 0) {
            scan.discovering = false;
            return;
          }
          this.#takeAhead(cursor, record, now);
        }
      }
      scan.position = offset + 1;
    }
  }

  /** A refill: takes ahead the next messages of one group the pass passed over. */
  #acceptRefill(
    cursor: PartitionCursor,
    group: Group,
    from: number,
    records: readonly StoredRecord[],
    by: NonNullable<SubscriptionConfig['fairBy']>,
  ): void {
    const scan = cursor.fairScan;
    const groups = this.#fairGroups!;
    const now = this.#host.clock.now();
    let room = this.#aheadRoom(cursor);
    let next = from;
    for (const record of records) {
      const offset = record.offset;
      if (offset < next) continue;
      if (offset >= scan.position) break;
      if (this.#untracked(cursor, offset) && recordGroup(record, by) === group) {
        if (groups.inMemory(group) >= FAIR_GROUP_IN_MEMORY_ENOUGH || room <= 0) {
          scan.refilled(group, offset, true);
          return;
        }
        if (this.#wanted(decodeMessage(record, false))) {
          room--;
          this.#takeAhead(cursor, record, now);
        }
      }
      next = offset + 1;
    }
    scan.refilled(group, next, records.length === 0);
  }

  /**
   * fairBy: whether to hold back `head` (its group had its turn in this round) while a read of
   * the backlog (the cursor's own, or a scan near the read position) is in flight: it may find
   * a group that has not had its turn.
   */
  #holdForScan(head: Entry): boolean {
    const groups = this.#fairGroups;
    if (groups === null || head.round <= groups.served(head.message.priority)) return false;
    for (const cursor of this.#cursors) {
      // The cursor's own read of the backlog within the read-ahead is in flight.
      if (cursor.reading) return true;
      const scan = cursor.fairScan;
      if (
        scan.discovering &&
        scan.reading &&
        !scan.refilling &&
        scan.position - cursor.readOffset < FAIR_SCAN_HOLD_SPAN_MAX
      )
        return true;
    }
    return false;
  }

  // ---- rate limit ------------------------------------------------------------------------

  /** The rate-limit group of an entry (null: the whole subscription, or no key / header). */
  #rateGroup(entry: Entry): Group {
    const by = this.config.rateLimit?.by ?? null;
    return by === null ? null : messageGroup(entry.message, by);
  }

  /** Whether a message of `group` may go now; if not, the dispatch wakes when it may. */
  #rateAllows(group: Group, now: number): boolean {
    const limiter = this.#rateLimiter;
    if (limiter === null) return true;
    const waitMs = limiter.waitMs(group, now);
    if (waitMs <= 0) return true;
    const at = now + waitMs;
    if (this.#rateTimer === null || at < this.#rateTimerAt) {
      this.#rateTimer?.cancel();
      this.#rateTimerAt = at;
      this.#rateTimer = this.#host.clock.setTimer(waitMs, () => {
        this.#rateTimer = null;
        this.#dispatch();
      });
    }
    return false;
  }

  /** A rate limit for the whole subscription that has no token now. */
  #subscriptionRateClosed(now: number): boolean {
    return (
      this.config.rateLimit !== null &&
      this.config.rateLimit.by === null &&
      !this.#rateAllows(null, now)
    );
  }

  /** The records at `offsets` (ascending), read in runs: neighbours share a read. */
  async #readOffsets(
    log: PartitionLog,
    offsets: readonly number[],
  ): Promise<Map<number, StoredRecord>> {
    const records = new Map<number, StoredRecord>();
    let index = 0;
    while (index < offsets.length) {
      const first = offsets[index]!;
      let last = index;
      while (last + 1 < offsets.length && offsets[last + 1]! - first < LANE_READ_SPAN_MAX) last++;
      const span = offsets[last]! - first + 1;
      const read = await log.read(first, { maxRecords: span, maxBytes: CURSOR_READ_BYTES_MAX });
      if (read.length === 0) break;
      const wanted = new Set(offsets.slice(index, last + 1));
      for (const record of read) if (wanted.has(record.offset)) records.set(record.offset, record);
      const end = read[read.length - 1]!.offset;
      while (index < offsets.length && offsets[index]! <= end) index++;
    }
    return records;
  }

  #skip(cursor: PartitionCursor, offset: number): void {
    const start = this.#host.startOffset(cursor.partition);
    while (cursor.readOffset < offset) {
      const skipped = cursor.readOffset++;
      if (!cursor.isSettled(skipped)) {
        if (skipped < start) this.#counters.dropped++;
        else this.#counters.lost++;
      }
      cursor.settle(skipped);
    }
  }

  #wanted(message: StoredMessage): boolean {
    if (isForAnotherSubscription(message, this.name, this.durable)) return false;
    if (!this.#filter.matches(message.subject)) return false;
    return this.#headerFilter.matches(message.headers);
  }

  // ---- dispatch --------------------------------------------------------------------------

  #dispatch(): void {
    if (this.#dispatching || this.#closed) return;
    this.#dispatching = true;
    try {
      // Lane walks first: what they may find outranks what is ready (the dispatch waits).
      if (this.#hasDemand()) {
        for (const cursor of this.#cursors) if (!cursor.reading) this.#pumpLanes(cursor);
        for (const cursor of this.#cursors) this.#pumpFairScan(cursor);
      }
      if (this.config.mode === 'key-shared') this.#dispatchKeyShared();
      else this.#dispatchInOrder();
    } finally {
      this.#dispatching = false;
    }
    for (const cursor of this.#cursors) this.#pump(cursor);
  }

  /** No more deliveries for now: the subscription's in-flight cap, or its journal is backlogged. */
  #totalFull(): boolean {
    return (
      this.#failure !== null ||
      this.#journal.backlogged ||
      (this.config.maxInFlightTotal !== null && this.#inFlight >= this.config.maxInFlightTotal)
    );
  }

  /** The consumer to serve next: round robin among those with credit; failover: the first. */
  #nextConsumer(mode: SubscriptionMode): Consumer | null {
    const consumers = this.#consumers;
    if (mode === 'failover' || mode === 'exclusive') {
      const active = consumers[0];
      return active && active.credit > 0 ? active : null;
    }
    for (let step = 0; step < consumers.length; step++) {
      const consumer = consumers[(this.#consumerRotation + step) % consumers.length]!;
      if (consumer.credit > 0) {
        this.#consumerRotation = (this.#consumerRotation + step + 1) % consumers.length;
        return consumer;
      }
    }
    return null;
  }

  #dispatchInOrder(): void {
    const now = this.#host.clock.now();
    const byGroup = this.config.rateLimit !== null && this.config.rateLimit.by !== null;
    // Ready messages over their group's rate limit, set aside while looking for one that is not.
    const held: Entry[] = [];
    try {
      while (!this.#totalFull()) {
        if (this.#subscriptionRateClosed(now)) return;
        const consumer = this.#nextConsumer(this.config.mode);
        if (!consumer) return;
        let entry = this.#takeReady(now);
        while (byGroup && entry !== null && !this.#rateAllows(this.#rateGroup(entry), now)) {
          held.push(entry);
          entry = held.length < RATE_LIMIT_HELD_MAX ? this.#takeReady(now) : null;
        }
        if (!entry) return;
        this.#deliver(entry, consumer);
      }
    } finally {
      for (const entry of held) this.#cursors[entry.partition]!.ready.push(entry);
    }
  }

  /** Whether ready entry `a` goes before `b` of another partition (priority, then fairness round). */
  #readyFirst(a: Entry, b: Entry): boolean {
    if (a.message.priority !== b.message.priority) return a.message.priority > b.message.priority;
    return this.#fairGroups !== null && a.round < b.round;
  }

  /** The best ready message over all partitions (priority, then partition order), checked. */
  #takeReady(now: number): Entry | null {
    const cursors = this.#cursors;
    while (true) {
      let best: PartitionCursor | null = null;
      for (let step = 0; step < cursors.length; step++) {
        const cursor = cursors[(this.#partitionRotation + step) % cursors.length]!;
        const head = cursor.ready.peek();
        if (head && (best === null || this.#readyFirst(head, best.ready.peek()!))) best = cursor;
      }
      if (best === null) return null;
      // A lane walk of a higher level may find a message that must go first: wait for it.
      if (this.#walkingAbove(best.ready.peek()!.message.priority)) return null;
      if (this.#holdForScan(best.ready.peek()!)) return null;
      this.#partitionRotation = (best.partition + 1) % cursors.length;
      const entry = best.ready.pop()!;
      if (this.#deliverable(entry, now)) return entry;
    }
  }

  #walkingAbove(priority: number): boolean {
    for (let level = priority + 1; level <= PRIORITY_MAX; level++)
      if (this.#walking[level]! > 0) return true;
    return false;
  }

  /** False (and the entry dealt with) if the message must not be delivered any more. */
  #deliverable(entry: Entry, now: number): boolean {
    if (entry.offset < this.#host.startOffset(entry.partition)) {
      this.#counters.dropped++;
      this.#settle(entry, false);
      return false;
    }
    if (isExpired(entry.message, this.#host, now)) {
      this.#expire(entry);
      return false;
    }
    const maxDeliveries = this.config.maxDeliveries;
    if (maxDeliveries !== null && entry.deliveryCount >= maxDeliveries) {
      this.#quietly(this.#deadLetter(entry, 'max-deliveries', null));
      return false;
    }
    return true;
  }

  #dispatchKeyShared(): void {
    const now = this.#host.clock.now();
    const consumers = this.#consumers;
    for (const cursor of this.#cursors) {
      const skipped: Entry[] = [];
      while (
        cursor.ready.size > 0 &&
        !this.#totalFull() &&
        consumers.some((consumer) => consumer.credit > 0)
      ) {
        if (this.#walkingAbove(cursor.ready.peek()!.message.priority)) break;
        if (this.#holdForScan(cursor.ready.peek()!)) break;
        if (this.#subscriptionRateClosed(now)) break;
        const entry = cursor.ready.pop()!;
        if (!this.#deliverable(entry, now)) continue;
        if (!this.#rateAllows(this.#rateGroup(entry), now)) {
          skipped.push(entry);
          continue;
        }
        const target = this.#keyTarget(entry);
        if (target && target.credit > 0) this.#deliver(entry, target);
        else skipped.push(entry);
      }
      for (const entry of skipped) cursor.ready.push(entry);
    }
  }

  /** key-shared: the consumer a key belongs to (the one holding its in-flight messages, if any). */
  #keyTarget(entry: Entry): Consumer | null {
    const key = entry.message.key;
    if (key === null) return this.#nextConsumer('shared');
    const slot = hashKey(key);
    const owner = this.#keyOwners.get(slot);
    if (owner) return owner.consumer;
    return this.#consumers[slot % this.#consumers.length] ?? null;
  }

  #deliver(entry: Entry, consumer: Consumer): void {
    entry.state = 'in-flight';
    entry.holder = consumer;
    entry.token = ++this.#tokens;
    entry.deliveryCount++;
    // No lease yet: it starts when user code takes the message (take). One a consumer never
    // takes goes back, uncounted, when that consumer goes.
    entry.taken = false;
    consumer.inFlight++;
    consumer.entries.add(entry);
    this.#inFlight++;
    if (this.config.mode === 'key-shared' && entry.message.key !== null) {
      const slot = hashKey(entry.message.key);
      const owner = this.#keyOwners.get(slot);
      if (owner) owner.count++;
      else this.#keyOwners.set(slot, { consumer, count: 1 });
    }
    this.#counters.delivered++;
    if (entry.deliveryCount > 1) this.#counters.redelivered++;
    this.#fairGroups?.delivered(entry.round, entry.message.priority);
    this.#rateLimiter?.take(this.#rateGroup(entry), this.#host.clock.now());
    if (this.config.ack === 'explicit') {
      this.#journal.recordQuietly(
        OPERATION.deliver,
        entry.partition,
        entry.offset,
        entry.deliveryCount,
        () => entry.state === 'settled',
      );
    }
    consumer.push(new DeliveredMessage(this, entry, entry.token));
  }

  // ---- state changes ---------------------------------------------------------------------

  #makeReady(entry: Entry): void {
    if (entry.grouped && entry.round < 0)
      entry.round = this.#fairGroups!.nextRound(entry.group, entry.message.priority);
    entry.state = 'ready';
    this.#cursors[entry.partition]!.ready.push(entry);
  }

  #delay(entry: Entry, availableAt: number): void {
    entry.state = 'delayed';
    entry.dueAt = availableAt;
    this.#timers.add(entry);
  }

  /** Takes an in-flight entry away from its consumer. */
  #release(entry: Entry): void {
    assert(entry.state === 'in-flight', 'release of an in-flight entry');
    this.#timers.remove(entry);
    entry.taken = false;
    const consumer = entry.holder as Consumer;
    consumer.inFlight--;
    consumer.entries.delete(entry);
    this.#inFlight--;
    entry.holder = null;
    if (this.config.mode === 'key-shared' && entry.message.key !== null) {
      const slot = hashKey(entry.message.key);
      const owner = this.#keyOwners.get(slot);
      if (owner && --owner.count === 0) this.#keyOwners.delete(slot);
    }
    entry.state = 'ready'; // the caller decides what it becomes; never left in-flight
  }

  /** Takes an entry out of every heap and consumer; it is then tracked nowhere. */
  #detach(entry: Entry): void {
    if (entry.state === 'in-flight') this.#release(entry);
    else if (entry.state === 'ready' && this.#cursors[entry.partition]!.ready.has(entry)) {
      this.#cursors[entry.partition]!.ready.remove(entry);
    } else if (entry.state === 'delayed' || entry.state === 'dead-lettering') {
      this.#timers.remove(entry);
    }
    this.#notAhead(this.#cursors[entry.partition]!, entry);
    if (entry.grouped) {
      entry.grouped = false;
      this.#fairGroups!.untrack(entry.group);
    }
    entry.state = 'settled';
    if (this.#progress.size > 0) this.#progress.settled(entry, this.#host.clock.now());
  }

  /** Settles: the message will not be delivered again. Resolves once durable (if `wait`). */
  #settle(entry: Entry, wait: true): Promise<void>;
  #settle(entry: Entry, wait: false): void;
  #settle(entry: Entry, wait: boolean): Promise<void> | void {
    const cursor = this.#cursors[entry.partition]!;
    this.#detach(entry);
    cursor.settle(entry.offset);
    let settling: Promise<void> | undefined;
    if (wait) settling = this.#journal.record(OPERATION.settle, entry.partition, entry.offset);
    else this.#journal.recordQuietly(OPERATION.settle, entry.partition, entry.offset);
    if (settling) {
      entry.settling = settling;
      return settling;
    }
  }

  /** A delivery failed (nack, lease expiry): offer it again after a delay, or dead-letter it. */
  #retry(entry: Entry, delayMs: number | null, error: string, now: number): Promise<void> {
    entry.lastError = error;
    entry.lastFailureAt = now;
    if (entry.firstFailureAt === 0) entry.firstFailureAt = now;
    const maxDeliveries = this.config.maxDeliveries;
    if (maxDeliveries !== null && entry.deliveryCount >= maxDeliveries) {
      return this.#deadLetter(entry, 'max-deliveries', null);
    }
    const delay = delayMs ?? backoffDelay(this.config.backoff, entry.deliveryCount);
    if (delay <= 0) {
      this.#makeReady(entry);
      return Promise.resolve();
    }
    this.#delay(entry, now + delay);
    return this.#journal.record(OPERATION.nack, entry.partition, entry.offset, entry.dueAt);
  }

  #expire(entry: Entry): void {
    this.#counters.expired++;
    if (this.config.deadLetterExpired && this.config.deadLetter !== null) {
      this.#quietly(this.#deadLetter(entry, 'expired', null));
    } else {
      this.#settle(entry, false);
    }
  }

  /**
   * Publishes the dead letter, then settles. Without a target the message is settled
   * (dropped, counted). If the publish fails the entry stays 'dead-lettering' and its dead
   * letter is published again after the longest backoff delay (at least
   * DEAD_LETTER_RETRY_MS_MIN), until it goes: it is never delivered to a consumer again.
   */
  #deadLetter(
    entry: Entry,
    reason: 'max-deliveries' | 'terminated' | 'expired',
    error: string | null,
  ): Promise<void> {
    const target = this.config.deadLetter;
    if (target === null) {
      this.#counters.dropped++;
      return this.#settle(entry, true);
    }
    this.#detach(entry);
    entry.state = 'dead-lettering';
    entry.letter = deadLetterFor(entry, this.#host.stream, this.name, target, reason, error);
    return this.#publishLetter(entry);
  }

  #publishLetter(entry: Entry): Promise<void> {
    const epoch = this.#cursors[entry.partition]!.epoch;
    return this.#host.publish(entry.letter!).then(
      () => {
        if (entry.state !== 'dead-lettering' || this.#cursors[entry.partition]!.epoch !== epoch)
          return;
        this.#counters.deadLettered++;
        entry.letter = null;
        const settled = this.#settle(entry, true);
        this.#dispatch();
        return settled;
      },
      (failure: unknown) => {
        if (entry.state === 'dead-lettering' && !this.#closed) {
          entry.dueAt =
            this.#host.clock.now() +
            Math.max(DEAD_LETTER_RETRY_MS_MIN, backoffMaxDelay(this.config.backoff));
          this.#timers.add(entry);
        }
        throw failure;
      },
    );
  }

  /** Runs a settlement nobody waits for; its failure shows in the counters / failure state. */
  #quietly(promise: Promise<void>): void {
    void promise.catch(() => undefined);
  }

  /** A lease ran out (the consumer is gone or stuck) or a delay is over. */
  #onDue(entry: Entry, now: number): void {
    if (entry.state === 'in-flight' && entry.committing) return; // releaseFromTransaction re-arms it
    if (entry.state === 'in-flight') {
      const holder = this.#takenBy(entry);
      this.#release(entry);
      this.#quietly(this.#retry(entry, null, 'lease expired', now));
      holder?.outcome(false);
    } else if (entry.state === 'delayed') {
      this.#makeReady(entry);
    } else if (entry.state === 'dead-lettering') {
      this.#quietly(this.#publishLetter(entry));
    }
  }

  // ---- settlement calls from deliveries --------------------------------------------------

  #current(entry: Entry, token: number): void {
    if (this.#closed) throw new WeirError('CLOSED', `subscription ${this.name} is closed`);
    if (entry.state !== 'in-flight' || entry.token !== token) {
      throw new WeirError(
        'MESSAGE_SETTLED',
        `message ${entry.partition}/${entry.offset} was settled or passed to another consumer`,
      );
    }
    if (entry.committing) throw committingError(entry);
  }

  ack(entry: Entry, token: number): Promise<void> {
    if (this.#closed)
      return Promise.reject(new WeirError('CLOSED', `subscription ${this.name} is closed`));
    // Acking twice, or after a seek, is not an error; acking a delivery whose lease passed to
    // another consumer is. A lease that expired without redelivery yet can still be acked.
    // An ack resolves only once durable: a second ack waits on the first one's journal write
    // (and rejects with it if it failed); once the journal failed, every ack rejects.
    if (entry.state === 'settled') {
      if (entry.settling) return entry.settling;
      if (this.#journal.failure) return Promise.reject(this.#journal.failure);
      return Promise.resolve();
    }
    if (this.#journal.failure) return Promise.reject(this.#journal.failure);
    if (entry.state === 'in-flight' && entry.committing) {
      return Promise.reject(committingError(entry));
    }
    if (
      entry.state === 'dead-lettering' ||
      (entry.state === 'in-flight' && entry.token !== token)
    ) {
      return Promise.reject(
        new WeirError(
          'MESSAGE_SETTLED',
          `message ${entry.partition}/${entry.offset} passed to another consumer`,
        ),
      );
    }
    this.#counters.acked++;
    const holder = this.#takenBy(entry);
    const durable = this.#settle(entry, true);
    this.#dispatch();
    holder?.outcome(true);
    return durable;
  }

  nack(entry: Entry, token: number, options: NackOptions | undefined): Promise<void> {
    try {
      this.#current(entry, token);
      const delayMs =
        options?.delayMs === undefined
          ? null
          : integerIn(options.delayMs, 'delayMs', 0, LEASE_MS_MAX);
      const holder = this.#takenBy(entry);
      this.#release(entry);
      const durable = this.#retry(entry, delayMs, 'nacked', this.#host.clock.now());
      this.#dispatch();
      holder?.outcome(false);
      return durable;
    } catch (error) {
      return rejection(error);
    }
  }

  term(entry: Entry, token: number, reason: string | undefined): Promise<void> {
    try {
      this.#current(entry, token);
      if (reason !== undefined && typeof reason !== 'string')
        throw new WeirError('INVALID_ARGUMENT', 'reason must be a string');
      const holder = this.#takenBy(entry);
      this.#release(entry);
      const durable = this.#deadLetter(entry, 'terminated', reason ?? 'terminated');
      this.#dispatch();
      holder?.outcome(false);
      return durable;
    } catch (error) {
      return rejection(error);
    }
  }

  extend(entry: Entry, token: number, ms: number | undefined): Promise<void> {
    try {
      this.#current(entry, token);
      const leaseMs = ms === undefined ? this.config.leaseMs : integerIn(ms, 'ms', 1, LEASE_MS_MAX);
      entry.dueAt = this.#host.clock.now() + leaseMs;
      if (this.#timers.has(entry)) this.#timers.update(entry);
      return Promise.resolve();
    } catch (error) {
      return rejection(error);
    }
  }

  respond(message: StoredMessage, body: Body, options: RespondOptions | undefined): Promise<void> {
    return this.#host.respond(message, body, options);
  }

  /**
   * Records a delivery's progress and extends its lease as `extend()` does; a message with a
   * replyTo gets the value sent there too (PROGRESS_HEADERS), through `send` (the consumer's
   * client, for its permission checks) or the broker. Resolves once that is sent.
   */
  progress(
    entry: Entry,
    token: number,
    value: unknown,
    send: ((body: Body, headers: Record<string, string>) => Promise<void>) | null,
  ): Promise<void> {
    try {
      const text = progressValueText(value);
      this.#current(entry, token);
      const now = this.#host.clock.now();
      entry.dueAt = now + this.config.leaseMs;
      if (this.#timers.has(entry)) this.#timers.update(entry);
      this.#progress.record(entry, JSON.parse(text) as JsonValue, now);
      if (entry.message.replyTo === null) return Promise.resolve();
      const headers = {
        [PROGRESS_HEADERS.progress]: '1',
        [PROGRESS_HEADERS.stream]: this.#host.stream,
        [PROGRESS_HEADERS.partition]: String(entry.partition),
        [PROGRESS_HEADERS.offset]: String(entry.offset),
        [PROGRESS_HEADERS.deliveries]: String(entry.deliveryCount),
      };
      if (send !== null) return send(text, headers);
      return this.#host.respond(entry.message, text, { headers });
    } catch (error) {
      return rejection(error);
    }
  }

  /** The last progress reported for one of its messages, or null. */
  findProgress(selector: ProgressSelector): JobProgress | null {
    return this.#progress.find(selector, this.#host.clock.now());
  }

  listProgress(): JobProgress[] {
    return this.#progress.list(this.#host.clock.now());
  }

  // ---- transactions (transactions.ts) ---------------------------------------------------

  /**
   * Why a transaction may not ack this delivery (null: it may): it must be the entry's
   * current delivery, in flight (lease not expired), held by one of `holders`, and the
   * subscription must take acks. Changes nothing.
   */
  transactionRefusal(
    entry: Entry,
    token: number,
    holders: ReadonlySet<unknown> | null,
  ): WeirError | null {
    if (this.#closed) return new WeirError('CLOSED', `subscription ${this.name} is closed`);
    const failure = this.failure;
    if (failure) return failure;
    if (entry.state !== 'in-flight' || entry.token !== token) {
      return new WeirError(
        'MESSAGE_SETTLED',
        `message ${entry.partition}/${entry.offset} was settled, its lease expired, or it passed to another consumer`,
      );
    }
    if (entry.committing) return committingError(entry);
    if (holders !== null && !holders.has(entry.holder)) {
      return new WeirError(
        'MESSAGE_SETTLED',
        `message ${entry.partition}/${entry.offset} is held by a consumer of another client`,
      );
    }
    return null;
  }

  /** A commit acking the delivery begins (after transactionRefusal said null): nothing else takes it. */
  holdForTransaction(entry: Entry): void {
    assert(entry.state === 'in-flight' && !entry.committing, 'a current delivery is held');
    entry.committing = true;
  }

  /**
   * The commit was given up before its commit point: the delivery is the consumer's again,
   * unsettled, with its lease (expired meanwhile: it expires now); its consumer left
   * meanwhile: it goes back as when a consumer leaves.
   */
  releaseFromTransaction(entry: Entry): void {
    if (!entry.committing) return;
    entry.committing = false;
    if (entry.state !== 'in-flight' || this.#closed) return;
    const now = this.#host.clock.now();
    if (!this.#consumers.includes(entry.holder as Consumer)) {
      this.#release(entry);
      this.#quietly(this.#retry(entry, null, 'consumer left', now));
      this.#dispatch();
      return;
    }
    if (entry.taken && !this.#timers.has(entry)) {
      entry.dueAt = Math.max(entry.dueAt, now);
      this.#timers.add(entry);
    }
  }

  /**
   * A committed transaction's ack (applied live, or by recovery at open by offset: `entry`
   * null): settles the message; resolves once durable. Idempotent.
   */
  settleForTransaction(entry: Entry | null, partition: number, offset: number): Promise<void> {
    if (this.#closed)
      return Promise.reject(new WeirError('CLOSED', `subscription ${this.name} is closed`));
    if (entry !== null && entry.committing && entry.state === 'in-flight') {
      entry.committing = false;
      this.#counters.acked++;
      const durable = this.#settle(entry, true);
      this.#dispatch();
      return durable;
    }
    if (entry !== null) entry.committing = false;
    const cursor = this.#cursors[partition];
    if (cursor === undefined) return Promise.resolve();
    // A seek took the entry meanwhile, or recovery at open: the offset itself, as recorded.
    if (offset < cursor.floor) return Promise.resolve();
    return this.settleOffset(partition, offset);
  }

  // ---- seek, info, close -----------------------------------------------------------------

  /** Moves partitions to new floors (undefined: unchanged); resolves once durable. */
  async seek(floors: readonly (number | undefined)[]): Promise<void> {
    if (this.#closed) throw new WeirError('CLOSED', `subscription ${this.name} is closed`);
    const durable: Promise<void>[] = [];
    for (const cursor of this.#cursors) {
      const floor = floors[cursor.partition];
      if (floor === undefined) continue;
      for (const entry of cursor.moveTo(floor, true)) this.#detach(entry);
      durable.push(this.#journal.record(OPERATION.seek, cursor.partition, floor));
    }
    this.#dispatch();
    await Promise.all(durable);
  }

  info(): SubscriptionInfo {
    let pending = 0;
    let delayed = 0;
    const partitions = this.#cursors.map((cursor) => {
      const endOffset = this.#host.logs[cursor.partition]!.endOffset;
      pending += Math.max(0, endOffset - cursor.floor - cursor.settled.size);
      return {
        partition: cursor.partition,
        ackFloor: cursor.floor,
        durableAckFloor: this.durableFloor(cursor.partition),
        endOffset,
        floorClamped: this.#floorClamped[cursor.partition]!,
      };
    });
    const failure = this.failure;
    for (const entry of this.#timers.values()) if (entry.state === 'delayed') delayed++;
    return {
      stream: this.#host.stream,
      name: this.name,
      durable: this.durable,
      config: this.config,
      consumers: this.#consumers.length,
      pending,
      inFlight: this.#inFlight,
      delayed,
      partitions,
      failure: failure === null ? null : failureInfo(failure),
      ...this.#counters,
      consumersPaused: this.#consumers.filter((consumer) => consumer.breakerState === 'open')
        .length,
      consumerList: this.#consumers.map((consumer) => ({
        id: consumer.id,
        inFlight: consumer.inFlight,
        breaker: consumer.breakerState,
      })),
    };
  }

  /** Ends every consumer (they see the end of iteration), stops timers, closes the journal. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#timers.close();
    this.#expirySweep.cancel();
    this.#rateTimer?.cancel();
    this.#rateTimer = null;
    for (const consumer of this.#consumers.splice(0)) consumer.end();
    for (const cursor of this.#cursors) cursor.ready.clear();
    this.#progress.clear();
    await this.#journal.close();
  }
}

function committingError(entry: Entry): WeirError {
  return new WeirError(
    'MESSAGE_SETTLED',
    `message ${entry.partition}/${entry.offset} is being acked by a transaction`,
  );
}
