/**
 * The stats sampler: once per ADMIN_SAMPLE_INTERVAL_MS it reads every stream and subscription
 * through the Client API (`streams.list`, `subscriptions.list`: counters the broker keeps
 * anyway, no log reads), turns counter deltas into rates, estimates lag in seconds from the
 * partitions' offset timelines, runs the stall detector, and keeps a bounded history of the
 * totals for the console's charts. Everything the HTTP API, the live events and /metrics say
 * about rates comes from here, so a console left open costs one sample per second whatever
 * the number of viewers.
 *
 * Samples never overlap (the next is scheduled when one ends). Memory: one entry per live
 * stream / subscription / partition (entries of deleted ones go with the next sample), plus
 * ADMIN_HISTORY_SAMPLES totals.
 *
 * Subscriptions: broker-owned ones (durable, name starting with '_', e.g. the re-drive
 * bookkeeping) and the admin server's own peeks are left out of totals, rates and stalls.
 */
import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks';
import type { Client, StreamInfo, SubscriptionInfo } from '../protocol/index.js';
import {
  ADMIN_HISTORY_SAMPLES,
  ADMIN_LIVE_ENTITIES_MAX,
  ADMIN_SAMPLE_INTERVAL_MS,
  ADMIN_STALL_AFTER_MS_DEFAULT,
} from '../limits.js';
import { isWeirError } from '../util/index.js';
import type { ConnectionSnapshot, ConnectionsView } from './connections-view.js';
import { OffsetTimeline } from './offset-timeline.js';
import { classifyStall, type Stall } from './stall-detector.js';
import type {
  StatsSnapshot,
  StreamStats,
  SubscriptionStats,
  TotalStats,
} from './stats-snapshot.js';

export interface StatsSamplerOptions {
  readonly client: Client;
  readonly connections?: ConnectionsView | undefined;
  readonly intervalMs?: number | undefined;
  readonly stallAfterMs?: number | undefined;
  readonly clock?: (() => number) | undefined;
  /** Subscriptions the admin server itself runs (peeks), left out of everything. */
  readonly isOwnSubscription?: ((stream: string, name: string) => boolean) | undefined;
}

interface StreamMemory {
  appended: number;
  timelines: OffsetTimeline[];
}

interface SubscriptionMemory {
  delivered: number;
  redelivered: number;
  acked: number;
  deadLettered: number;
  floorSum: number;
  lastProgressMs: number;
  redeliveredAtProgress: number;
  deadLetteredAtProgress: number;
}

/** The event-loop monitor's timer period; its samples include it, so it is taken off. */
const EVENT_LOOP_RESOLUTION_MS = 20;

const subscriptionKey = (stream: string, name: string): string => `${stream}\u0000${name}`;

/** Counter delta per second; a counter that went down (entity recreated) counts as 0. */
function rate(now: number, before: number | undefined, seconds: number): number {
  if (before === undefined || seconds <= 0 || now < before) return 0;
  return Math.round(((now - before) / seconds) * 10) / 10;
}

export class StatsSampler {
  readonly #client: Client;
  readonly #connections: ConnectionsView | undefined;
  readonly #intervalMs: number;
  readonly #stallAfterMs: number;
  readonly #clock: () => number;
  readonly #isOwn: (stream: string, name: string) => boolean;
  readonly #streams = new Map<string, StreamMemory>();
  readonly #subscriptions = new Map<string, SubscriptionMemory>();
  readonly #history: TotalStats[] = [];
  readonly #listeners = new Set<(snapshot: StatsSnapshot) => void>();
  readonly #eventLoop: IntervalHistogram;
  #latest: StatsSnapshot | null = null;
  #latestJson: string | null = null;
  #previousTimeMs = 0;
  #timer: NodeJS.Timeout | null = null;
  #running: Promise<void> | null = null;
  #stopped = false;

  constructor(options: StatsSamplerOptions) {
    this.#client = options.client;
    this.#connections = options.connections;
    this.#intervalMs = options.intervalMs ?? ADMIN_SAMPLE_INTERVAL_MS;
    this.#stallAfterMs = options.stallAfterMs ?? ADMIN_STALL_AFTER_MS_DEFAULT;
    this.#clock = options.clock ?? Date.now;
    this.#isOwn = options.isOwnSubscription ?? (() => false);
    this.#eventLoop = monitorEventLoopDelay({ resolution: EVENT_LOOP_RESOLUTION_MS });
  }

  get intervalMs(): number {
    return this.#intervalMs;
  }

  /** Takes the first sample now, then one per interval until stop(). */
  start(): Promise<void> {
    this.#eventLoop.enable();
    return this.sampleNow();
  }

  /** Takes a sample now (waits for one in progress instead of overlapping it). */
  sampleNow(): Promise<void> {
    this.#running ??= this.#sample().finally(() => {
      this.#running = null;
      this.#schedule();
    });
    return this.#running;
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = null;
    this.#eventLoop.disable();
    this.#listeners.clear();
    await this.#running;
  }

  get latest(): StatsSnapshot | null {
    return this.#latest;
  }

  /** The latest snapshot as JSON, serialized once however many readers ask. */
  get latestJson(): string | null {
    if (this.#latest && this.#latestJson === null) this.#latestJson = JSON.stringify(this.#latest);
    return this.#latestJson;
  }

  /** Totals of the last ADMIN_HISTORY_SAMPLES samples, oldest first. */
  history(): readonly TotalStats[] {
    return this.#history;
  }

  /** Calls `listener` after every sample; returns the unsubscribe function. */
  onSample(listener: (snapshot: StatsSnapshot) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  #schedule(): void {
    if (this.#stopped || this.#timer) return;
    this.#timer = setTimeout(() => {
      this.#timer = null;
      void this.sampleNow();
    }, this.#intervalMs);
    this.#timer.unref();
  }

  async #sample(): Promise<void> {
    if (this.#stopped) return;
    let streams: StreamInfo[];
    const subscriptions = new Map<string, SubscriptionInfo[]>();
    try {
      streams = await this.#client.streams.list();
      for (const stream of streams) {
        try {
          subscriptions.set(stream.name, await this.#client.subscriptions.list(stream.name));
        } catch (error) {
          if (!isWeirError(error, 'STREAM_NOT_FOUND')) throw error; // deleted meanwhile
        }
      }
    } catch (error) {
      const code = isWeirError(error) ? error.code : 'INTERNAL';
      if (this.#latest) this.#publish({ ...this.#latest, error: code });
      return;
    }
    if (this.#stopped) return;
    this.#publish(this.#compute(streams, subscriptions));
  }

  #publish(snapshot: StatsSnapshot): void {
    this.#latest = snapshot;
    this.#latestJson = null;
    for (const listener of this.#listeners) listener(snapshot);
  }

  #compute(
    streams: readonly StreamInfo[],
    subscriptionsByStream: ReadonlyMap<string, readonly SubscriptionInfo[]>,
  ): StatsSnapshot {
    const now = this.#clock();
    const seconds = this.#previousTimeMs === 0 ? 0 : (now - this.#previousTimeMs) / 1000;
    this.#previousTimeMs = now;
    const connections = this.#connections ? this.#connections.list() : null;
    const credit = creditBySubscription(connections);

    const streamStats: StreamStats[] = [];
    const subscriptionStats: SubscriptionStats[] = [];
    const seenStreams = new Set<string>();
    const seenSubscriptions = new Set<string>();
    for (const stream of streams) {
      seenStreams.add(stream.name);
      const appended = stream.partitions.reduce((sum, partition) => sum + partition.endOffset, 0);
      let memory = this.#streams.get(stream.name);
      if (!memory || memory.timelines.length !== stream.partitions.length) {
        memory = { appended, timelines: stream.partitions.map(() => new OffsetTimeline()) };
        this.#streams.set(stream.name, memory);
      }
      for (const partition of stream.partitions) {
        memory.timelines[partition.partition]?.record(now, partition.endOffset);
      }
      const inPerSecond = rate(appended, memory.appended, seconds);
      memory.appended = appended;
      let outPerSecond = 0;
      for (const info of subscriptionsByStream.get(stream.name) ?? []) {
        if ((info.durable && info.name.startsWith('_')) || this.#isOwn(info.stream, info.name)) {
          continue;
        }
        const key = subscriptionKey(info.stream, info.name);
        seenSubscriptions.add(key);
        const stats = this.#subscriptionStats(info, memory, now, seconds, credit.get(key) ?? null);
        outPerSecond += stats.deliveredPerSecond;
        subscriptionStats.push(stats);
      }
      streamStats.push({
        name: stream.name,
        subjects: stream.config.subjects,
        partitions: stream.partitions.length,
        storage: stream.config.storage,
        retention: stream.config.retention,
        messages: stream.messages,
        bytes: stream.bytes,
        appended,
        dropped: stream.dropped,
        rejected: stream.rejected,
        duplicates: stream.duplicates,
        inPerSecond,
        outPerSecond: Math.round(outPerSecond * 10) / 10,
        subscriptions: stream.subscriptions.filter((name) => !name.startsWith('_')).length,
        failedPartitions: stream.partitions.filter((partition) => partition.failure !== null)
          .length,
        retentionFailed: stream.retentionFailure === null ? 0 : 1,
        lost: stream.partitions.reduce((sum, partition) => sum + partition.lost, 0),
      });
    }
    for (const name of this.#streams.keys()) if (!seenStreams.has(name)) this.#streams.delete(name);
    for (const key of this.#subscriptions.keys()) {
      if (!seenSubscriptions.has(key)) this.#subscriptions.delete(key);
    }

    const sum = (values: readonly number[]): number => values.reduce((a, b) => a + b, 0);
    const round = (value: number): number => Math.round(value * 10) / 10;
    const eventLoopLagMs =
      this.#eventLoop.count > 0
        ? Math.max(0, this.#eventLoop.percentile(99) / 1e6 - EVENT_LOOP_RESOLUTION_MS)
        : 0;
    this.#eventLoop.reset();
    const totals: TotalStats = {
      timeMs: now,
      streams: streamStats.length,
      subscriptions: subscriptionStats.filter((stats) => stats.durable).length,
      consumers: sum(subscriptionStats.map((stats) => stats.consumers)),
      connections: connections === null ? null : connections.length,
      messages: sum(streamStats.map((stats) => stats.messages)),
      bytes: sum(streamStats.map((stats) => stats.bytes)),
      backlog: sum(subscriptionStats.map((stats) => stats.pending)),
      inFlight: sum(subscriptionStats.map((stats) => stats.inFlight)),
      inPerSecond: round(sum(streamStats.map((stats) => stats.inPerSecond))),
      outPerSecond: round(sum(subscriptionStats.map((stats) => stats.deliveredPerSecond))),
      ackedPerSecond: round(sum(subscriptionStats.map((stats) => stats.ackedPerSecond))),
      redeliveredPerSecond: round(
        sum(subscriptionStats.map((stats) => stats.redeliveredPerSecond)),
      ),
      deadLetteredPerSecond: round(
        sum(subscriptionStats.map((stats) => stats.deadLetteredPerSecond)),
      ),
      stalled: subscriptionStats.filter((stats) => stats.stall !== null).length,
      rssBytes: process.memoryUsage.rss(),
      eventLoopLagMs: Math.round(eventLoopLagMs * 10) / 10,
    };
    this.#history.push(totals);
    if (this.#history.length > ADMIN_HISTORY_SAMPLES) this.#history.shift();

    const byName = (a: { name: string }, b: { name: string }): number =>
      a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
    streamStats.sort(byName);
    subscriptionStats.sort((a, b) =>
      a.stream === b.stream ? byName(a, b) : a.stream < b.stream ? -1 : 1,
    );
    const truncated =
      streamStats.length > ADMIN_LIVE_ENTITIES_MAX ||
      subscriptionStats.length > ADMIN_LIVE_ENTITIES_MAX ||
      (connections !== null && connections.length > ADMIN_LIVE_ENTITIES_MAX);
    return {
      timeMs: now,
      intervalMs: this.#intervalMs,
      totals,
      streams: streamStats.slice(0, ADMIN_LIVE_ENTITIES_MAX),
      subscriptions: subscriptionStats.slice(0, ADMIN_LIVE_ENTITIES_MAX),
      connections: connections === null ? null : connections.slice(0, ADMIN_LIVE_ENTITIES_MAX),
      truncated,
      error: null,
    };
  }

  #subscriptionStats(
    info: SubscriptionInfo,
    stream: StreamMemory,
    now: number,
    seconds: number,
    creditLeft: number | null,
  ): SubscriptionStats {
    const key = subscriptionKey(info.stream, info.name);
    const floorSum = info.partitions.reduce((sum, partition) => sum + partition.ackFloor, 0);
    let memory = this.#subscriptions.get(key);
    const before = memory;
    if (!memory) {
      memory = {
        delivered: info.delivered,
        redelivered: info.redelivered,
        acked: info.acked,
        deadLettered: info.deadLettered,
        floorSum,
        lastProgressMs: now,
        redeliveredAtProgress: info.redelivered,
        deadLetteredAtProgress: info.deadLettered,
      };
      this.#subscriptions.set(key, memory);
    }
    const progressed =
      info.pending === 0 ||
      info.acked !== memory.acked ||
      floorSum !== memory.floorSum ||
      (info.config.ack === 'none' && info.delivered !== memory.delivered);
    if (progressed) {
      memory.lastProgressMs = now;
      memory.redeliveredAtProgress = info.redelivered;
      memory.deadLetteredAtProgress = info.deadLettered;
    }
    let stall: Stall | null = null;
    if (info.pending > 0 && now - memory.lastProgressMs >= this.#stallAfterMs) {
      const classified = classifyStall({
        consumers: info.consumers,
        pending: info.pending,
        inFlight: info.inFlight,
        delayed: info.delayed,
        maxInFlightTotal: info.config.maxInFlightTotal,
        leaseMs: info.config.leaseMs,
        redeliveredSince: Math.max(0, info.redelivered - memory.redeliveredAtProgress),
        deadLetteredSince: Math.max(0, info.deadLettered - memory.deadLetteredAtProgress),
        creditLeft,
      });
      stall = { ...classified, sinceMs: memory.lastProgressMs };
    }
    let oldestMs = now;
    for (const partition of info.partitions) {
      if (partition.ackFloor >= partition.endOffset) continue;
      const appendedAt = stream.timelines[partition.partition]?.appendedAt(partition.ackFloor);
      if (appendedAt !== undefined && appendedAt !== null)
        oldestMs = Math.min(oldestMs, appendedAt);
    }
    const stats: SubscriptionStats = {
      stream: info.stream,
      name: info.name,
      durable: info.durable,
      mode: info.config.mode,
      ack: info.config.ack,
      deadLetter: info.config.deadLetter,
      maxDeliveries: info.config.maxDeliveries,
      consumers: info.consumers,
      pending: info.pending,
      inFlight: info.inFlight,
      delayed: info.delayed,
      delivered: info.delivered,
      redelivered: info.redelivered,
      acked: info.acked,
      deadLettered: info.deadLettered,
      expired: info.expired,
      dropped: info.dropped,
      lost: info.lost,
      floorClamped: info.partitions.reduce((sum, partition) => sum + partition.floorClamped, 0),
      failed: info.failure === null ? 0 : 1,
      consumersPaused: info.consumersPaused,
      deliveredPerSecond: rate(info.delivered, before?.delivered, seconds),
      ackedPerSecond: rate(info.acked, before?.acked, seconds),
      redeliveredPerSecond: rate(info.redelivered, before?.redelivered, seconds),
      deadLetteredPerSecond: rate(info.deadLettered, before?.deadLettered, seconds),
      lagMessages: info.pending,
      lagSeconds: info.pending === 0 ? 0 : Math.max(0, (now - oldestMs) / 1000),
      creditLeft,
      stall,
    };
    memory.delivered = info.delivered;
    memory.redelivered = info.redelivered;
    memory.acked = info.acked;
    memory.deadLettered = info.deadLettered;
    memory.floorSum = floorSum;
    return stats;
  }
}

/** Credit left per subscription over the consumers the connections report. */
function creditBySubscription(
  connections: readonly ConnectionSnapshot[] | null,
): Map<string, number> {
  const credit = new Map<string, number>();
  if (connections === null) return credit;
  for (const connection of connections) {
    for (const consumer of connection.consumers ?? []) {
      const key = subscriptionKey(consumer.stream, consumer.subscription);
      credit.set(key, (credit.get(key) ?? 0) + consumer.credit);
    }
  }
  return credit;
}
