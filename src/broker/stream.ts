/**
 * A stream: its partition logs, its retention, its de-duplication window and its
 * subscriptions. Files, under the stream's directory:
 *
 *   stream.json                 written by the broker (name, creation sequence, config)
 *   partitions/<p>/             one PartitionLog per partition
 *   priority/<p>/<level>/       the partition's priority lanes (priority-lanes.ts)
 *   schedule/<p>/               the partition's schedule: delayed messages until they are due
 *                               (scheduler.ts), and the scheduler's checkpoint
 *   subscriptions/<name>/       durable subscriptions (see subscription-store.ts)
 *
 * Retention keeps a logical start offset per partition, which may lie past the log's first
 * offset: `maxMessages` with drop-oldest moves it one message at a time (exact), work-queue
 * moves it to the lowest ack floor of all subscriptions, purge to the end. Readers never see
 * what lies below it; whole segments below it are deleted on the retention tick (every
 * RETENTION_INTERVAL_MS), together with the log's own age and byte limits (whole segments:
 * `maxBytes` and `maxAgeMs` deletion is segment-granular; readers skip messages older than
 * maxAgeMs at once). A purge's start is persisted by the log (its start marker) before the
 * purge resolves; on open the logical start is the log's (which includes it), then moved on by
 * the limits and floors. drop-oldest's moves are not persisted (one marker write per publish
 * would cost an fsync each): on open `maxMessages` is applied again to what is stored.
 *
 * A publish whose deliverAt lies in the future goes to the partition's scheduler, which
 * appends it to the partition log when it is due; its receipt says `scheduled` (offset -1).
 * Publishes and due moves enter a partition log through one method (#enqueue).
 *
 * In a cluster (environment.cluster) a file stream syncs as fsync 'always' whatever its
 * `fsync` says: its files are replicated, and a sync resolves once every in-sync node fsynced
 * it, so a confirm means the message is on every in-sync node's disk. `check` refuses a publish
 * with NOT_ENOUGH_REPLICAS while fewer nodes are in sync than the stream's minInSync.
 *
 * Concurrency: `check` and `store` are synchronous up to the log append, so concurrent
 * publishes keep their call order in each partition.
 */
import * as diagnosticsChannel from 'node:diagnostics_channel';
import * as path from 'node:path';
import type {
  Body,
  FsyncPolicy,
  PartitionInfo,
  RespondOptions,
  StreamConfig,
  StreamInfo,
} from '../protocol/index.js';
import { openLog, type FileSystem, type PartitionLog, type RecordInput } from '../storage/index.js';
import {
  RETENTION_INTERVAL_MS,
  SCHEDULE_BATCH_RECORDS_MAX,
  SCHEDULE_READ_CHUNK_BYTES_MIN,
  WORK_QUEUE_ROLL_BYTES_MIN,
} from '../limits.js';
import { WeirError, isWeirError, toWeirError, type Clock, type Timer } from '../util/index.js';
import { DedupWindow, type SeenPosition } from './dedup-window.js';
import { recordsFrom } from './log-scan.js';
import { failureInfoOrNull } from './failure-info.js';
import {
  decodeMessage,
  recordPriority,
  storedId,
  withSchemaVersion,
  type EncodedMessage,
  type StoredMessage,
} from './message-codec.js';
import { partitionForKey } from './partition-hash.js';
import { PriorityLanes } from './priority-lanes.js';
import { PartitionScheduler } from './scheduler.js';
import { checkBody } from './schema-validator.js';
import type { SubscriptionGroup, SubscriptionHost } from './subscription.js';
import type { SubscriptionStorage } from './subscription-store.js';
import type { ClusterView } from './cluster-view.js';

/** A retention pass failed (after one that did not): `{ stream, code, message }`. */
export const retentionFailedChannel = diagnosticsChannel.channel('weir:stream:retention-failed');

/** What a stream needs from the broker. */
export interface StreamEnvironment {
  readonly fileSystem: FileSystem;
  /** The stream's directory. */
  readonly directory: string;
  /** Memory streams: no fsync (the file system is in memory). */
  readonly inMemory: boolean;
  readonly clock: Clock;
  /** The cluster this broker leads (cluster-view.ts); null: a single node. */
  readonly cluster: ClusterView | null;
  readonly publish: (message: EncodedMessage) => Promise<void>;
  readonly respond: (
    message: StoredMessage,
    body: Body,
    options: RespondOptions | undefined,
  ) => Promise<void>;
  /** Keys a scheduler keeps in memory (default SCHEDULE_INDEX_MAX; tests use less). */
  readonly scheduleIndexMax?: number;
}

export interface StoreResult {
  readonly stream: string;
  readonly partition: number;
  /** -1 for a scheduled message (it gets its offset when it is due). */
  readonly offset: number;
  readonly duplicate: boolean;
  /** Held by the scheduler until its deliverAt. */
  readonly scheduled: boolean;
}

/** What storeNow() queued: durable once `log.durable(end)` resolves. */
export interface PlacedMessage extends StoreResult {
  readonly log: PartitionLog;
  readonly end: number;
}

/** The receipt entry of a placed message (without its log). */
export function storeResultOf(placed: PlacedMessage): StoreResult {
  return {
    stream: placed.stream,
    partition: placed.partition,
    offset: placed.offset,
    duplicate: placed.duplicate,
    scheduled: placed.scheduled,
  };
}

/** What a transaction puts in a stream ahead of the publish being checked. */
export interface Ahead {
  readonly messages: number;
  readonly bytes: number;
}

const NOTHING_AHEAD: Ahead = Object.freeze({ messages: 0, bytes: 0 });

/** The fsync policy the stream's files are opened with (see the header: a cluster syncs always). */
function effectiveFsync(environment: StreamEnvironment, config: StreamConfig): FsyncPolicy {
  if (environment.inMemory) return 'never';
  return environment.cluster !== null ? 'always' : config.fsync;
}

export class Stream {
  readonly name: string;
  readonly logs: readonly PartitionLog[];
  readonly lanes: readonly PriorityLanes[];
  readonly host: SubscriptionHost;
  readonly subscriptionStorage: SubscriptionStorage;
  readonly subscriptions = new Map<string, SubscriptionGroup>();
  readonly #environment: StreamEnvironment;
  /** Replaced whole by `reconfigure` (streams.update): read it afresh, never keep a field of it. */
  #config: StreamConfig;
  readonly #starts: number[];
  /** One per partition, set by open(). */
  #schedulers: PartitionScheduler[] = [];
  readonly #dedup: DedupWindow;
  readonly #unlisten: (() => void)[] = [];
  #roundRobin = 0;
  #retentionTimer: Timer | null = null;
  #retention: Promise<void> | null = null;
  #closed = false;
  /** The last retention pass's failure; null once one succeeds. */
  #retentionFailure: WeirError | null = null;
  readonly #counters = { dropped: 0, rejected: 0, duplicates: 0 };

  private constructor(
    environment: StreamEnvironment,
    name: string,
    config: StreamConfig,
    logs: PartitionLog[],
    lanes: PriorityLanes[],
  ) {
    this.name = name;
    this.#config = config;
    this.logs = logs;
    this.lanes = lanes;
    this.#environment = environment;
    this.#starts = logs.map((log) => log.startOffset);
    this.#dedup = new DedupWindow(config.dedupWindowMs);
    this.subscriptionStorage = {
      fileSystem: environment.fileSystem,
      directory: path.join(environment.directory, 'subscriptions'),
      fsync: effectiveFsync(environment, config),
    };
    const current = (): StreamConfig => this.#config;
    this.host = {
      stream: name,
      logs,
      lanes,
      startOffset: (partition) => this.startOffset(partition),
      get maxAgeMs() {
        return current().maxAgeMs;
      },
      get ttlMs() {
        return current().ttlMs;
      },
      clock: environment.clock,
      publish: environment.publish,
      respond: environment.respond,
    };
  }

  /** Opens (or creates) the partition logs and rebuilds the de-duplication window. */
  static async open(
    environment: StreamEnvironment,
    name: string,
    config: StreamConfig,
  ): Promise<Stream> {
    const logs: PartitionLog[] = [];
    const lanes: PriorityLanes[] = [];
    try {
      for (let partition = 0; partition < config.partitions; partition++) {
        logs.push(
          await openLog({
            directory: path.join(environment.directory, 'partitions', String(partition)),
            fileSystem: environment.fileSystem,
            fsync: effectiveFsync(environment, config),
            fsyncIntervalMs: config.fsyncIntervalMs,
            segmentBytes: config.segmentBytes,
            clock: () => environment.clock.now(),
            // A memory stream's data is in memory already: a tail cache would hold it twice.
            ...(environment.inMemory ? { tailCacheBytes: 0 } : {}),
          }),
        );
        lanes.push(
          await PriorityLanes.open({
            directory: path.join(environment.directory, 'priority', String(partition)),
            fileSystem: environment.fileSystem,
            fsync: environment.cluster !== null ? 'always' : config.fsync,
            fsyncIntervalMs: config.fsyncIntervalMs,
            segmentBytes: config.segmentBytes,
            clock: environment.clock,
            inMemory: environment.inMemory,
          }),
        );
      }
    } catch (error) {
      for (const log of logs) await log.close();
      for (const lane of lanes) await lane.close();
      throw error;
    }
    const stream = new Stream(environment, name, config, logs, lanes);
    try {
      await stream.#openSchedulers();
    } catch (error) {
      for (const scheduler of stream.#schedulers) await scheduler.close().catch(() => undefined);
      for (const log of logs) await log.close();
      for (const lane of lanes) await lane.close();
      throw error;
    }
    await stream.#rebuildDedup();
    stream.#trimToMaxMessages();
    return stream;
  }

  get config(): StreamConfig {
    return this.#config;
  }

  /**
   * Takes a changed configuration (streams.update; the caller made it durable and checked
   * that only what may change on a live stream did). In effect at once: publishes read it on
   * each call, subscriptions through `host`. A lower maxMessages drops the oldest now, as a
   * restart would; lower byte and age limits apply on the next retention tick.
   */
  reconfigure(config: StreamConfig): void {
    if (this.#closed) throw new WeirError('CLOSED', `stream ${this.name} is closed`);
    this.#config = config;
    this.#dedup.windowMs = config.dedupWindowMs;
    this.#counters.dropped += this.#trimToMaxMessages();
    this.#startRetention();
    // Subscriptions see a start moved by the trim, or older messages now past maxAgeMs.
    this.logs.forEach((_log, partition) => {
      for (const group of this.subscriptions.values()) group.onCommit(partition);
    });
  }

  async #openSchedulers(): Promise<void> {
    const environment = this.#environment;
    const config = this.config;
    for (let partition = 0; partition < this.logs.length; partition++) {
      const schedule = await openLog({
        directory: path.join(environment.directory, 'schedule', String(partition)),
        fileSystem: environment.fileSystem,
        fsync: effectiveFsync(environment, config),
        fsyncIntervalMs: config.fsyncIntervalMs,
        segmentBytes: config.segmentBytes,
        clock: () => environment.clock.now(),
        // Moves read single records in due order, not offset order: a read decodes a batch.
        batchRecordsMax: SCHEDULE_BATCH_RECORDS_MAX,
        readChunkBytesMin: SCHEDULE_READ_CHUNK_BYTES_MIN,
        ...(environment.inMemory ? { tailCacheBytes: 0 } : {}),
      });
      try {
        this.#schedulers.push(
          await PartitionScheduler.open({
            schedule,
            main: this.logs[partition]!,
            fileSystem: environment.fileSystem,
            clock: environment.clock,
            appendDue: (records) => this.#enqueue(partition, records),
            ...(environment.scheduleIndexMax !== undefined
              ? { indexMax: environment.scheduleIndexMax }
              : {}),
          }),
        );
      } catch (error) {
        await schedule.close();
        throw error;
      }
    }
  }

  /** The partitions' schedulers (stats, tests). */
  get schedulers(): readonly PartitionScheduler[] {
    return this.#schedulers;
  }

  /** Starts delivery notifications and the retention tick (after subscriptions are loaded). */
  start(): void {
    for (const scheduler of this.#schedulers) scheduler.start();
    this.logs.forEach((log, partition) => {
      const wake = (): void => {
        for (const group of this.subscriptions.values()) group.onCommit(partition);
      };
      this.#unlisten.push(log.onCommit(wake));
      this.lanes[partition]!.onCommit = wake;
    });
    this.#startRetention();
  }

  #startRetention(): void {
    const config = this.#config;
    if (this.#retentionTimer !== null || this.#closed) return;
    if (
      config.retention === 'work-queue' ||
      config.maxAgeMs !== null ||
      config.maxBytes !== null ||
      config.maxMessages !== null
    ) {
      this.#retentionTimer = this.#environment.clock.setRepeating(
        RETENTION_INTERVAL_MS,
        () => this.#runRetention(),
        { unref: true },
      );
    }
  }

  /**
   * First offset of `partition` that readers may still see. work-queue: also below the lowest
   * durable ack floor of the durable subscriptions (an ephemeral listener does not hold
   * messages, nor does it make the queue's backlog go: with no durable subscription nothing
   * goes). The durable floor, not the one in memory: an ack whose journal write has not
   * completed (or failed) must not let retention delete its message.
   */
  startOffset(partition: number): number {
    let start = this.#starts[partition]!;
    if (this.config.retention === 'work-queue') {
      let lowest = Infinity;
      for (const group of this.subscriptions.values()) {
        if (group.durable) lowest = Math.min(lowest, group.durableFloor(partition));
      }
      if (lowest !== Infinity && lowest > start) {
        start = Math.min(lowest, this.logs[partition]!.endOffset);
      }
    }
    return start;
  }

  #messageCount(): number {
    let count = 0;
    for (let partition = 0; partition < this.logs.length; partition++) {
      count += this.logs[partition]!.endOffset - this.startOffset(partition);
    }
    return count;
  }

  /** Scheduled messages not yet due (they count against maxMessages: they will enter). */
  #scheduledCount(): number {
    let count = 0;
    for (const scheduler of this.#schedulers) count += scheduler.pending;
    return count;
  }

  #byteCount(): number {
    let bytes = 0;
    for (const log of this.logs) bytes += log.stats().bytes + log.pendingBytes;
    return bytes;
  }

  /**
   * Refusals that must come before any stream stores a publish (so none stores it). `ahead`:
   * messages and bytes a transaction being checked puts in this stream before this one.
   */
  check(message: EncodedMessage, now: number, ahead = NOTHING_AHEAD): void {
    if (this.#closed) throw new WeirError('CLOSED', `stream ${this.name} is closed`);
    if (message.bytes > this.config.maxMessageBytes) {
      throw new WeirError(
        'MESSAGE_TOO_LARGE',
        `message of ${message.bytes} bytes exceeds maxMessageBytes ${this.config.maxMessageBytes} of stream ${this.name}`,
      );
    }
    const { schema, schemaVersion } = this.config;
    if (schema !== null) checkBody(this.name, schemaVersion, schema, message.record.body);
    const cluster = this.#environment.cluster;
    if (cluster !== null) {
      // After the refusals a retry cannot change; read afresh on each publish.
      const inSync = cluster.inSyncCount();
      if (this.config.minInSync > inSync) {
        throw new WeirError(
          'NOT_ENOUGH_REPLICAS',
          `stream ${this.name} needs ${this.config.minInSync} in-sync replicas (minInSync), ${inSync} ${inSync === 1 ? 'is' : 'are'} in sync`,
        );
      }
    }
    if (this.config.overflow !== 'reject-new') return;
    if (message.id !== null && this.#dedup.enabled && this.#dedup.find(message.id, now) !== null)
      return;
    const { maxMessages, maxBytes } = this.config;
    if (
      (maxMessages !== null &&
        this.#messageCount() + this.#scheduledCount() + ahead.messages + 1 > maxMessages) ||
      (maxBytes !== null && this.#byteCount() + ahead.bytes + message.bytes > maxBytes)
    ) {
      this.#counters.rejected++;
      throw new WeirError('STREAM_FULL', `stream ${this.name} is full (overflow: reject-new)`);
    }
  }

  /**
   * Stores the message (after `check`); resolves once durable under the stream's fsync policy.
   * `partition` (for a keyless message) overrides the round robin.
   */
  store(message: EncodedMessage, now: number, partition?: number): Promise<StoreResult> {
    const placed = this.storeNow(message, now, partition);
    if (placed !== null) return placed.log.durable(placed.end).then(() => storeResultOf(placed));
    // A duplicate: report where the first was stored, once that is durable.
    this.#counters.duplicates++;
    const seen = this.#dedup.find(message.id!, now)!;
    return Promise.resolve(seen).then((position) => ({
      stream: this.name,
      ...position,
      duplicate: true,
      scheduled: position.offset < 0,
    }));
  }

  /**
   * store() without a promise: queues the message and says where it goes; it is durable once
   * `placed.log.durable(placed.end)` resolves (the partition log, or the partition's schedule
   * for a message whose deliverAt is later than `now`). Null for a duplicate within the dedup
   * window (call store(), which waits for the first). Throws what store() rejects with.
   */
  storeNow(message: EncodedMessage, now: number, chosen?: number): PlacedMessage | null {
    if (message.id !== null && this.#dedup.enabled && this.#dedup.find(message.id, now) !== null)
      return null;
    // Each stream's record says which of its schema versions checked the body (check() did).
    const { schema, schemaVersion } = this.config;
    const record =
      schema === null ? message.record : withSchemaVersion(message.record, schemaVersion);
    const partitions = this.logs.length;
    let partition: number;
    if (message.key !== null) partition = partitionForKey(message.key, partitions);
    else if (chosen !== undefined && chosen >= 0 && chosen < partitions) partition = chosen;
    else partition = this.#roundRobin = (this.#roundRobin + 1) % partitions;
    if (message.deliverAt > now) {
      const scheduler = this.#schedulers[partition]!;
      const scheduled = scheduler.schedule(record, message.deliverAt);
      if (scheduled >= 0) {
        const log = scheduler.scheduleLog;
        if (message.id !== null && this.#dedup.enabled) {
          this.#dedup.remember(
            message.id,
            now,
            log.durable(scheduled + 1).then((): SeenPosition => ({ partition, offset: -1 })),
          );
        }
        return {
          stream: this.name,
          partition,
          offset: -1,
          duplicate: false,
          scheduled: true,
          log,
          end: scheduled + 1,
        };
      }
      // The scheduler cannot keep move order (the clock went back): the partition log's
      // subscriptions hold it until its time instead.
    }
    return this.#appendNow(partition, record, message.id, now);
  }

  /** Appends a record to a partition log now and remembers its id (once durable) for dedup. */
  #appendNow(
    partition: number,
    record: RecordInput,
    id: string | null,
    now: number,
  ): PlacedMessage {
    const log = this.logs[partition]!;
    const offset = this.#enqueue(partition, record);
    if (id !== null && this.#dedup.enabled) {
      this.#dedup.remember(
        id,
        now,
        log.durable(offset + 1).then((): SeenPosition => ({ partition, offset })),
      );
    }
    return {
      stream: this.name,
      partition,
      offset,
      duplicate: false,
      scheduled: false,
      log,
      end: offset + 1,
    };
  }

  // ---- transactions (transactions.ts) ---------------------------------------------------

  /** Whether a publish with this message's id would be a duplicate now (nothing stored). */
  isDuplicate(message: EncodedMessage, now: number): boolean {
    return message.id !== null && this.#dedup.enabled && this.#dedup.find(message.id, now) !== null;
  }

  /** The partition a publish goes to (its key's, or the next of the round robin). */
  choosePartition(message: EncodedMessage): number {
    const partitions = this.logs.length;
    if (message.key !== null) return partitionForKey(message.key, partitions);
    return (this.#roundRobin = (this.#roundRobin + 1) % partitions);
  }

  /** The record this stream stores for a message (with its schema version, check() did). */
  recordFor(message: EncodedMessage): RecordInput {
    const { schema, schemaVersion } = this.config;
    return schema === null ? message.record : withSchemaVersion(message.record, schemaVersion);
  }

  /**
   * Stores a transaction's record in `partition` now (a commit being applied, or recovered
   * after a crash), through the one way in; null if its id is a duplicate within the dedup
   * window (stored by an earlier publish). Durable once `log.durable(end)` resolves.
   */
  storeRecord(
    partition: number,
    record: RecordInput,
    id: string | null,
    now: number,
  ): PlacedMessage | null {
    if (this.#closed) throw new WeirError('CLOSED', `stream ${this.name} is closed`);
    if (id !== null && this.#dedup.enabled && this.#dedup.find(id, now) !== null) return null;
    return this.#appendNow(partition, record, id, now);
  }

  /**
   * The one way into a partition log, for publishes and for due scheduled messages: makes room
   * under drop-oldest, then queues, and tells the priority lanes. Returns the offset of the
   * first record.
   */
  #enqueue(partition: number, records: RecordInput | RecordInput[]): number {
    if (this.config.maxMessages !== null && this.config.overflow === 'drop-oldest') {
      this.#makeRoom(partition, Array.isArray(records) ? records.length : 1);
    }
    const offset = this.logs[partition]!.enqueue(records);
    const lanes = this.lanes[partition]!;
    if (Array.isArray(records)) {
      records.forEach((record, index) => {
        const priority = recordPriority(record);
        if (priority > 0) lanes.add(priority, offset + index);
      });
    } else {
      const priority = recordPriority(records);
      if (priority > 0) lanes.add(priority, offset);
    }
    return offset;
  }

  /** drop-oldest: messages go (from the partition taking the new ones, else the fullest). */
  #makeRoom(partition: number, incoming: number): void {
    const maxMessages = this.config.maxMessages!;
    let count = this.#messageCount();
    while (count + incoming > maxMessages && count > 0) {
      let victim = partition;
      if (this.logs[victim]!.endOffset - this.startOffset(victim) === 0)
        victim = this.#fullestPartition();
      this.#starts[victim] = this.startOffset(victim) + 1;
      this.#counters.dropped++;
      count--;
    }
  }

  #fullestPartition(): number {
    let fullest = 0;
    let most = -1;
    for (let partition = 0; partition < this.logs.length; partition++) {
      const count = this.logs[partition]!.endOffset - this.startOffset(partition);
      if (count > most) {
        most = count;
        fullest = partition;
      }
    }
    return fullest;
  }

  /** A stream over maxMessages (the limit was lowered) is trimmed to it; returns how many went. */
  #trimToMaxMessages(): number {
    const maxMessages = this.config.maxMessages;
    if (maxMessages === null) return 0;
    let trimmed = 0;
    let excess = this.#messageCount() - maxMessages;
    while (excess > 0) {
      const fullest = this.#fullestPartition();
      const count = this.logs[fullest]!.endOffset - this.#starts[fullest]!;
      const others = this.#messageCount() - count;
      const drop = Math.min(excess, Math.max(1, count - Math.max(0, maxMessages - others)));
      this.#starts[fullest]! += drop;
      excess -= drop;
      trimmed += drop;
    }
    return trimmed;
  }

  /**
   * Reads the ids stored within the window back into memory (the window survives restarts):
   * from the schedules (offset -1: scheduled), then from the partition logs.
   */
  async #rebuildDedup(): Promise<void> {
    if (!this.#dedup.enabled) return;
    const now = this.#environment.clock.now();
    const logs = [...this.#schedulers.map((scheduler) => scheduler.scheduleLog), ...this.logs];
    for (let index = 0; index < logs.length; index++) {
      const scheduled = index < this.#schedulers.length;
      const partition = scheduled ? index : index - this.#schedulers.length;
      const log = logs[index]!;
      const from = await log.offsetForTime(now - this.config.dedupWindowMs);
      for await (const record of recordsFrom(log, from)) {
        const id = storedId(record);
        if (id !== null) {
          this.#dedup.remember(id, record.timestamp, {
            partition,
            offset: scheduled ? -1 : record.offset,
          });
        }
      }
    }
  }

  #runRetention(): void {
    if (this.#retention !== null || this.#closed) return;
    this.#retention = this.#retain()
      .then(
        () => {
          this.#retentionFailure = null;
        },
        (error: unknown) => {
          // CLOSED while the stream closes is the normal end of a pass; anything else is kept
          // and shown in info (retentionFailure) and /readyz.
          if (this.#closed && isWeirError(error, 'CLOSED')) return;
          const failure = toWeirError(error);
          if (this.#retentionFailure === null && retentionFailedChannel.hasSubscribers) {
            retentionFailedChannel.publish({
              stream: this.name,
              code: failure.code,
              message: failure.message,
            });
          }
          this.#retentionFailure = failure;
        },
      )
      .finally(() => {
        this.#retention = null;
      });
  }

  async #retain(): Promise<void> {
    const { maxAgeMs, maxBytes, overflow, retention } = this.config;
    for (let partition = 0; partition < this.logs.length && !this.#closed; partition++) {
      const log = this.logs[partition]!;
      // null: no subscription dead-letters expired messages, the log applies maxAgeMs itself.
      const ageSafe =
        maxAgeMs === null ? null : await this.#beforeAgeRetention(partition, maxAgeMs);
      const logMaxAgeMs = ageSafe === null ? maxAgeMs : null;
      if (logMaxAgeMs !== null || (maxBytes !== null && overflow === 'drop-oldest')) {
        await log.applyRetention({
          ...(logMaxAgeMs !== null ? { maxAgeMs: logMaxAgeMs } : {}),
          ...(maxBytes !== null && overflow === 'drop-oldest'
            ? { maxBytes: Math.ceil(maxBytes / this.logs.length) }
            : {}),
        });
        if (log.startOffset > this.#starts[partition]!) {
          this.#counters.dropped += log.startOffset - this.#starts[partition]!;
          this.#starts[partition] = log.startOffset;
        }
      }
      if (retention === 'work-queue') this.#starts[partition] = this.startOffset(partition);
      const target = Math.min(this.#starts[partition]!, ageSafe ?? Infinity);
      const stats = log.stats();
      if (
        target > log.startOffset &&
        (stats.segmentCount > 1 || stats.bytes >= WORK_QUEUE_ROLL_BYTES_MIN)
      ) {
        await log.truncateBefore(target);
      }
      await this.lanes[partition]!.truncateBelow(target);
    }
  }

  /**
   * Age retention deletes whole segments in one step, so a subscription that dead-letters
   * expired messages (deadLetterExpired) and lags would find them gone. When there is one,
   * the start first moves over the messages past maxAgeMs (readers skip those already; the
   * move is not persisted: after a restart they are read, and expire, again) and such
   * subscriptions read them back; segments then go below the start (truncateBefore), not by
   * the log's own clock, which may have moved on meanwhile. Returns the offset below which
   * segments may go (the floor of a subscription that could not read back yet holds them
   * until a later pass; a failed one does not), or null when no subscription asks.
   */
  async #beforeAgeRetention(partition: number, maxAgeMs: number): Promise<number | null> {
    const wanting = (): SubscriptionGroup[] =>
      [...this.subscriptions.values()].filter(
        (group) => group.config.deadLetterExpired && group.deadLettersOnRetention,
      );
    if (wanting().length === 0) return null;
    const log = this.logs[partition]!;
    const boundary = await log.offsetForTime(this.#environment.clock.now() - maxAgeMs);
    const start = this.startOffset(partition);
    if (boundary > start && !this.#closed) {
      this.#counters.dropped += boundary - start;
      this.#starts[partition] = boundary;
    }
    await Promise.all(wanting().map((group) => group.beforeRetention(partition)));
    let safe = this.#starts[partition]!;
    for (const group of wanting()) {
      if (group.failure === null) safe = Math.min(safe, group.floor(partition));
    }
    return safe;
  }

  /**
   * Removes every message stored before the call; subscriptions continue with what comes next.
   * Publishes racing the purge land after it (their offsets are past the end it takes). The
   * new start of each partition is durable (the log's start marker) before this resolves, so
   * a restart does not bring purged messages back, even those in the active segment; the
   * segments wholly below it are deleted.
   */
  async purge(): Promise<void> {
    // The schedules first: a move that was under way lands below the partition ends taken next.
    for (const scheduler of this.#schedulers) await scheduler.purge();
    const ends = this.logs.map((log) => log.endOffset);
    for (let partition = 0; partition < this.logs.length; partition++) {
      const log = this.logs[partition]!;
      const end = ends[partition]!;
      this.#starts[partition] = Math.max(this.#starts[partition]!, end);
      await log.flush(); // every offset below `end` is written and synced
      await log.advanceStart(end);
      await log.truncateBefore(end);
      await this.lanes[partition]!.truncateBelow(end);
    }
  }

  info(): StreamInfo {
    const partitions: PartitionInfo[] = this.logs.map((log, partition) => {
      const startOffset = this.startOffset(partition);
      const stats = log.stats();
      return {
        partition,
        startOffset,
        endOffset: log.endOffset,
        messages: log.endOffset - startOffset,
        bytes: stats.bytes,
        failure: failureInfoOrNull(log.failure),
        lostRanges: log.lostRanges,
        lost: stats.lostOffsets,
        scheduled: this.#schedulers[partition]?.pending ?? 0,
        scheduleIndexed: this.#schedulers[partition]?.indexSize ?? 0,
        scheduleFailure: failureInfoOrNull(this.#schedulers[partition]?.failure ?? null),
      };
    });
    return {
      name: this.name,
      config: this.config,
      messages: partitions.reduce((sum, partition) => sum + partition.messages, 0),
      bytes: partitions.reduce((sum, partition) => sum + partition.bytes, 0),
      scheduled: partitions.reduce((sum, partition) => sum + partition.scheduled, 0),
      partitions,
      subscriptions: [...this.subscriptions.values()]
        .filter((group) => group.durable)
        .map((group) => group.name),
      ...this.#counters,
      retentionFailure: failureInfoOrNull(this.#retentionFailure),
    };
  }

  /** Reads stored messages of a partition from `offset` (dead-letter browsing). */
  async readMessages(
    partition: number,
    offset: number,
    maxRecords: number,
  ): Promise<StoredMessage[]> {
    const records = await this.logs[partition]!.read(
      Math.max(offset, this.startOffset(partition)),
      { maxRecords },
    );
    return records.map((record) => decodeMessage(record, false));
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Stops notifications and retention, closes subscriptions and logs. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#retentionTimer?.cancel();
    for (const unlisten of this.#unlisten.splice(0)) unlisten();
    if (this.#retention) await this.#retention;
    const groups = [...this.subscriptions.values()];
    this.subscriptions.clear();
    this.#dedup.clear();
    // Close everything even if something fails; report the first failure.
    let failure: Error | null = null;
    // Schedulers before the logs: their last checkpoint flushes the partition logs.
    for (const closeable of [...groups, ...this.#schedulers, ...this.logs, ...this.lanes]) {
      try {
        await closeable.close();
      } catch (error) {
        failure ??= error instanceof Error ? error : new WeirError('INTERNAL', 'close failed');
      }
    }
    if (failure !== null) throw failure;
  }
}
