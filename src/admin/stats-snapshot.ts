/**
 * The shape of a stats snapshot: what GET /api/stats answers, what each `stats` event of
 * GET /api/events carries, and what /metrics reads. Built by the stats sampler.
 */
import type { AckPolicy, SubscriptionMode } from '../protocol/index.js';
import type { ConnectionSnapshot } from './connections-view.js';
import type { Stall } from './stall-detector.js';

export interface StreamStats {
  readonly name: string;
  readonly subjects: readonly string[];
  readonly partitions: number;
  readonly storage: string;
  readonly retention: string;
  /** Messages and bytes stored now. */
  readonly messages: number;
  readonly bytes: number;
  /** Messages ever appended (the sum of the partitions' end offsets). */
  readonly appended: number;
  readonly dropped: number;
  readonly rejected: number;
  readonly duplicates: number;
  /** Messages appended per second, and delivered per second over its subscriptions. */
  readonly inPerSecond: number;
  readonly outPerSecond: number;
  /** Durable user subscriptions. */
  readonly subscriptions: number;
  /** Partition logs that failed (a write or fsync): they take no appends. */
  readonly failedPartitions: number;
  /** 1 while the last retention pass failed, else 0. */
  readonly retentionFailed: number;
  /** Offsets recovery found lost at open, over all partitions. */
  readonly lost: number;
}

export interface SubscriptionStats {
  readonly stream: string;
  readonly name: string;
  readonly durable: boolean;
  readonly mode: SubscriptionMode;
  readonly ack: AckPolicy;
  readonly deadLetter: string | null;
  readonly maxDeliveries: number | null;
  readonly consumers: number;
  readonly pending: number;
  readonly inFlight: number;
  readonly delayed: number;
  readonly delivered: number;
  readonly redelivered: number;
  readonly acked: number;
  readonly deadLettered: number;
  readonly expired: number;
  readonly dropped: number;
  /** Offsets skipped because the log lost them. */
  readonly lost: number;
  /** Offsets the ack floor moved back by at open (it was past the log's end), over all partitions. */
  readonly floorClamped: number;
  /** Consumers whose circuit breaker is open (SubscriptionInfo.consumersPaused). */
  readonly consumersPaused: number;
  /** 1 once the subscription stopped (its journal or a read failed), else 0. */
  readonly failed: number;
  readonly deliveredPerSecond: number;
  readonly ackedPerSecond: number;
  readonly redeliveredPerSecond: number;
  readonly deadLetteredPerSecond: number;
  /** Messages not yet settled (the broker's `pending`). */
  readonly lagMessages: number;
  /** Age of the oldest unsettled message, to within one sample (0 when none). */
  readonly lagSeconds: number;
  /** Credit left over its network consumers; null when unknown. */
  readonly creditLeft: number | null;
  readonly stall: Stall | null;
}

export interface TotalStats {
  readonly timeMs: number;
  readonly streams: number;
  readonly subscriptions: number;
  readonly consumers: number;
  /** Network connections; null when the broker is embedded (no connections view). */
  readonly connections: number | null;
  readonly messages: number;
  readonly bytes: number;
  /** Unsettled messages over all user subscriptions. */
  readonly backlog: number;
  readonly inFlight: number;
  readonly inPerSecond: number;
  readonly outPerSecond: number;
  readonly ackedPerSecond: number;
  readonly redeliveredPerSecond: number;
  readonly deadLetteredPerSecond: number;
  readonly stalled: number;
  readonly rssBytes: number;
  /** Event-loop delay over the last interval: 99th percentile, ms. */
  readonly eventLoopLagMs: number;
}

export interface StatsSnapshot {
  readonly timeMs: number;
  readonly intervalMs: number;
  readonly totals: TotalStats;
  readonly streams: readonly StreamStats[];
  readonly subscriptions: readonly SubscriptionStats[];
  readonly connections: readonly ConnectionSnapshot[] | null;
  /** true: more streams, subscriptions or connections exist than ADMIN_LIVE_ENTITIES_MAX. */
  readonly truncated: boolean;
  /** The code of the error that failed the last sample (null when it succeeded). */
  readonly error: string | null;
}
