/**
 * /metrics in the Prometheus text format, with prom-client.
 *
 * Two registries. The server's own holds the per-stream and per-subscription series; their
 * values are read at scrape time from the stats sampler's latest snapshot (at most one
 * sample old), so a scrape costs no broker call. The process's holds what belongs to the
 * process rather than to one admin server: process_* and nodejs_* (RSS, CPU, event-loop lag,
 * heap; src/admin/process-metrics.ts) and the latency histograms fed by the storage
 * telemetry (src/storage/telemetry.ts), which is process-wide too: the write and fdatasync
 * time of every group commit, and the append→durable time of one stream append in
 * CONFIRM_SAMPLE_EVERY (the publish→confirm latency less routing, which is synchronous).
 *
 * The telemetry sink is reference-counted: the last admin server to close detaches it, so a
 * process without a console pays one null check per flush and per append.
 */
import { Counter, Gauge, Histogram, Registry, exponentialBuckets } from 'prom-client';
import { attachStorageTelemetry, type LogKind } from '../storage/index.js';
import type { DeadLetterWebhookStats } from './dead-letter-webhook.js';
import { registerDiskMetrics } from './disk-metrics.js';
import { registerProcessMetrics, type ProcessMetrics } from './process-metrics.js';
import type { StatsSampler } from './stats-sampler.js';
import type { StatsSnapshot } from './stats-snapshot.js';

// 50 µs .. ~1.6 s in powers of two: fsyncs on SSDs and on slow disks both land in a bucket.
const LATENCY_BUCKETS_SECONDS = exponentialBuckets(0.00005, 2, 16);

interface ProcessTelemetry {
  readonly registry: Registry;
  readonly publishConfirm: Histogram<'source'>;
  readonly fsync: Histogram<'log'>;
  readonly write: Histogram<'log'>;
  readonly processMetrics: ProcessMetrics;
  users: number;
  detach: (() => void) | null;
}

let processTelemetry: ProcessTelemetry | null = null;

function acquireProcessTelemetry(): ProcessTelemetry {
  if (!processTelemetry) {
    const registry = new Registry();
    processTelemetry = {
      registry,
      publishConfirm: new Histogram({
        name: 'weir_publish_confirm_seconds',
        help: 'Time from a publish to its confirm (stored under the fsync policy). source: broker (one stream append in 16, append to durable) or http (every publish through the HTTP API).',
        labelNames: ['source'],
        buckets: LATENCY_BUCKETS_SECONDS,
        registers: [registry],
      }),
      fsync: new Histogram({
        name: 'weir_storage_fsync_seconds',
        help: 'Duration of the fdatasync of one group commit (fsync policy always). log: stream partition or subscription journal.',
        labelNames: ['log'],
        buckets: LATENCY_BUCKETS_SECONDS,
        registers: [registry],
      }),
      write: new Histogram({
        name: 'weir_storage_write_seconds',
        help: 'Duration of the write of one group commit. log: stream partition or subscription journal.',
        labelNames: ['log'],
        buckets: LATENCY_BUCKETS_SECONDS,
        registers: [registry],
      }),
      processMetrics: registerProcessMetrics(registry),
      users: 0,
      detach: null,
    };
  }
  const telemetry = processTelemetry;
  if (telemetry.users++ === 0) {
    telemetry.processMetrics.resume();
    // Children bound once: observe() then skips hashing the labels on every call.
    const writes: Record<LogKind, { observe(value: number): void }> = {
      stream: telemetry.write.labels({ log: 'stream' }),
      journal: telemetry.write.labels({ log: 'journal' }),
    };
    const syncs: Record<LogKind, { observe(value: number): void }> = {
      stream: telemetry.fsync.labels({ log: 'stream' }),
      journal: telemetry.fsync.labels({ log: 'journal' }),
    };
    const confirms = telemetry.publishConfirm.labels({ source: 'broker' });
    telemetry.detach = attachStorageTelemetry({
      flushed(kind, writeMs, syncMs) {
        writes[kind].observe(writeMs / 1000);
        if (syncMs !== null) syncs[kind].observe(syncMs / 1000);
      },
      confirmed(ms) {
        confirms.observe(ms / 1000);
      },
    });
  }
  return telemetry;
}

function releaseProcessTelemetry(telemetry: ProcessTelemetry): void {
  if (--telemetry.users === 0) {
    telemetry.detach?.();
    telemetry.detach = null;
    telemetry.processMetrics.pause();
  }
}

type Series<Labels extends string> = (
  snapshot: StatsSnapshot,
  emit: (labels: Partial<Record<Labels, string>>, value: number) => void,
) => void;

/** A gauge whose values are read from the latest snapshot at scrape time. */
function snapshotGauge<Labels extends string>(
  registry: Registry,
  sampler: StatsSampler,
  name: string,
  help: string,
  labelNames: readonly Labels[],
  series: Series<Labels>,
): void {
  new Gauge<Labels>({
    name,
    help,
    labelNames,
    registers: [registry],
    collect() {
      this.reset();
      const snapshot = sampler.latest;
      if (snapshot) series(snapshot, (labels, value) => this.set(labels, value));
    },
  });
}

/** A counter mirroring a broker counter (monotonic while the broker runs). */
function snapshotCounter<Labels extends string>(
  registry: Registry,
  sampler: StatsSampler,
  name: string,
  help: string,
  labelNames: readonly Labels[],
  series: Series<Labels>,
): void {
  new Counter<Labels>({
    name,
    help,
    labelNames,
    registers: [registry],
    collect() {
      this.reset();
      const snapshot = sampler.latest;
      if (snapshot) series(snapshot, (labels, value) => this.inc(labels, Math.max(0, value)));
    },
  });
}

export class AdminMetrics {
  readonly #registry = new Registry();
  readonly #process: ProcessTelemetry;
  #closed = false;

  /**
   * `dataDir`: the broker's data directory (null for a memory broker: no disk series).
   * `webhook`: the dead-letter webhook's counters (null without one: no webhook series).
   */
  constructor(
    sampler: StatsSampler,
    dataDir: string | null = null,
    webhook: (() => DeadLetterWebhookStats) | null = null,
  ) {
    this.#process = acquireProcessTelemetry();
    const registry = this.#registry;
    if (dataDir !== null) registerDiskMetrics(registry, dataDir);
    if (webhook !== null) {
      // A notice the webhook gave up on is counted here, so it is not lost silently.
      const counter = (
        name: string,
        help: string,
        value: (stats: DeadLetterWebhookStats) => number,
      ): void => {
        new Counter({
          name,
          help,
          registers: [registry],
          collect() {
            this.reset();
            this.inc(value(webhook()));
          },
        });
      };
      counter(
        'weir_dead_letter_webhook_delivered_total',
        'Dead-letter notices the webhook accepted (2xx).',
        (stats) => stats.delivered,
      );
      counter(
        'weir_dead_letter_webhook_failed_attempts_total',
        'POSTs to the dead-letter webhook that failed (each was retried or its notice dropped).',
        (stats) => stats.failedAttempts,
      );
      counter(
        'weir_dead_letter_webhook_dropped_total',
        'Dead-letter notices given up: out of attempts, or too many waiting.',
        (stats) => stats.dropped,
      );
    }
    const perStream = (
      name: string,
      help: string,
      value: (stream: StatsSnapshot['streams'][number]) => number,
      kind: 'gauge' | 'counter' = 'gauge',
    ): void => {
      const make = kind === 'gauge' ? snapshotGauge : snapshotCounter;
      make(registry, sampler, name, help, ['stream'], (snapshot, emit) => {
        for (const stream of snapshot.streams) emit({ stream: stream.name }, value(stream));
      });
    };
    const perSubscription = (
      name: string,
      help: string,
      value: (subscription: StatsSnapshot['subscriptions'][number]) => number,
      kind: 'gauge' | 'counter' = 'gauge',
    ): void => {
      const make = kind === 'gauge' ? snapshotGauge : snapshotCounter;
      make(registry, sampler, name, help, ['stream', 'subscription'], (snapshot, emit) => {
        for (const subscription of snapshot.subscriptions) {
          emit(
            { stream: subscription.stream, subscription: subscription.name },
            value(subscription),
          );
        }
      });
    };

    perStream(
      'weir_stream_messages',
      'Messages stored in the stream (its backlog on disk).',
      (s) => s.messages,
    );
    perStream('weir_stream_bytes', 'Bytes the stream occupies in storage.', (s) => s.bytes);
    perStream('weir_stream_partitions', 'Partitions of the stream.', (s) => s.partitions);
    perStream(
      'weir_stream_messages_in_total',
      'Messages appended to the stream (sum of partition end offsets).',
      (s) => s.appended,
      'counter',
    );
    perStream(
      'weir_stream_messages_in_per_second',
      'Messages appended per second over the last sample.',
      (s) => s.inPerSecond,
    );
    perStream(
      'weir_stream_messages_out_per_second',
      'Messages delivered per second over the last sample, all subscriptions.',
      (s) => s.outPerSecond,
    );
    perStream(
      'weir_stream_dropped_total',
      'Messages removed by retention limits since the broker opened.',
      (s) => s.dropped,
      'counter',
    );
    perStream(
      'weir_stream_rejected_total',
      'Publishes refused with STREAM_FULL since the broker opened.',
      (s) => s.rejected,
      'counter',
    );
    perStream(
      'weir_stream_duplicates_total',
      'Publishes recognised as duplicates since the broker opened.',
      (s) => s.duplicates,
      'counter',
    );

    perSubscription(
      'weir_subscription_lag_messages',
      'Messages not yet settled (the backlog of the subscription).',
      (s) => s.lagMessages,
    );
    perSubscription(
      'weir_subscription_lag_seconds',
      'Age of the oldest unsettled message, to within one sample.',
      (s) => s.lagSeconds,
    );
    perSubscription(
      'weir_subscription_in_flight_messages',
      'Messages delivered and not yet settled.',
      (s) => s.inFlight,
    );
    perSubscription(
      'weir_subscription_delayed_messages',
      'Messages waiting for a retry backoff or a deliverAt.',
      (s) => s.delayed,
    );
    perSubscription('weir_subscription_consumers', 'Consumers attached.', (s) => s.consumers);
    perSubscription(
      'weir_subscription_messages_out_per_second',
      'Deliveries per second over the last sample.',
      (s) => s.deliveredPerSecond,
    );
    perSubscription(
      'weir_subscription_stalled',
      '1 when the subscription has a backlog and made no progress (see the console for why).',
      (s) => (s.stall === null ? 0 : 1),
    );
    perSubscription(
      'weir_subscription_delivered_total',
      'Deliveries since the broker opened.',
      (s) => s.delivered,
      'counter',
    );
    perSubscription(
      'weir_subscription_redelivered_total',
      'Redeliveries since the broker opened.',
      (s) => s.redelivered,
      'counter',
    );
    perSubscription(
      'weir_subscription_acked_total',
      'Acks since the broker opened.',
      (s) => s.acked,
      'counter',
    );
    perSubscription(
      'weir_subscription_dead_lettered_total',
      'Messages dead-lettered since the broker opened.',
      (s) => s.deadLettered,
      'counter',
    );
    perSubscription(
      'weir_subscription_expired_total',
      'Messages whose ttl passed since the broker opened.',
      (s) => s.expired,
      'counter',
    );
    perSubscription(
      'weir_subscription_dropped_total',
      'Messages dropped (past maxDeliveries without a dead-letter target) since the broker opened.',
      (s) => s.dropped,
      'counter',
    );

    perStream(
      'weir_storage_failures',
      'Partition logs of the stream whose write or fsync failed (they take no appends); plus 1 while its retention fails.',
      (s) => s.failedPartitions + s.retentionFailed,
    );
    perStream(
      'weir_stream_lost_messages',
      'Offsets recovery found lost at open (a sealed segment cut short, a segment missing).',
      (s) => s.lost,
    );
    perSubscription(
      'weir_subscription_failed',
      '1 once the subscription stopped because its journal or a read failed.',
      (s) => s.failed,
    );
    perSubscription(
      'weir_subscription_lost_total',
      'Offsets the subscription skipped because the log lost them.',
      (s) => s.lost,
      'counter',
    );
    perSubscription(
      'weir_subscription_consumers_breaker_open',
      'Consumers whose circuit breaker is open: they take no messages until it half-opens.',
      (s) => s.consumersPaused,
    );
    perSubscription(
      'weir_subscription_floor_clamped_messages',
      'Offsets the ack floor moved back by at open because it lay past the log end.',
      (s) => s.floorClamped,
    );
    snapshotGauge(registry, sampler, 'weir_streams', 'Streams.', [], (snapshot, emit) =>
      emit({}, snapshot.totals.streams),
    );
    snapshotGauge(
      registry,
      sampler,
      'weir_connections',
      'Network connections to the broker.',
      [],
      (snapshot, emit) => emit({}, snapshot.totals.connections ?? 0),
    );
    snapshotGauge(
      registry,
      sampler,
      'weir_consumers',
      'Consumers over all subscriptions.',
      [],
      (snapshot, emit) => emit({}, snapshot.totals.consumers),
    );
  }

  get contentType(): string {
    return this.#registry.contentType;
  }

  /** The exposition text: this server's series, then the process's. */
  async text(): Promise<string> {
    const own = await this.#registry.metrics();
    const shared = await this.#process.registry.metrics();
    return `${own}\n${shared}`;
  }

  /** A publish through the HTTP API took this long to confirm. */
  observeHttpPublish(seconds: number): void {
    this.#process.publishConfirm.observe({ source: 'http' }, seconds);
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#registry.clear();
    releaseProcessTelemetry(this.#process);
  }
}
