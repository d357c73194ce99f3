/**
 * Storage telemetry: how long group commits take and how long appends wait to be durable,
 * for the metrics of whoever listens (the admin server's /metrics). Process-wide, like the
 * logs' file system: one sink at a time, set with `attachStorageTelemetry`.
 *
 * Without a sink a log pays one null check per flush and per append. With one, it calls
 * `flushed` once per group commit and `confirmed` for one stream append in
 * CONFIRM_SAMPLE_EVERY (a histogram needs samples, not every value). Plain method calls, no
 * events, no promises: the diagnostics channels used before cost 0.6–1.0 µs of CPU per message
 * once the console subscribed (docs/performance.md).
 */

/** What a log is for: a stream partition or a subscription journal. */
export type LogKind = 'stream' | 'journal';

export interface StorageTelemetrySink {
  /** One group commit: the write's duration, and the fdatasync's (null: not synced). */
  flushed(kind: LogKind, writeMs: number, syncMs: number | null): void;
  /** A sampled stream append, from `append()` to durable under the log's fsync policy. */
  confirmed(ms: number): void;
}

/** One stream append in this many is timed for `confirmed`. */
export const CONFIRM_SAMPLE_EVERY = 16;

/** Read by every log on its hot path: the sink (null when nobody listens) and a count of
 *  stream appends made while one listened, which picks the sampled ones. */
export const storageTelemetry: { sink: StorageTelemetrySink | null; appends: number } = {
  sink: null,
  appends: 0,
};

const sinks = new Set<StorageTelemetrySink>();

function refresh(): void {
  const all = [...sinks];
  storageTelemetry.sink =
    all.length === 0
      ? null
      : all.length === 1
        ? all[0]!
        : {
            flushed: (kind, writeMs, syncMs) => {
              for (const sink of all) sink.flushed(kind, writeMs, syncMs);
            },
            confirmed: (ms) => {
              for (const sink of all) sink.confirmed(ms);
            },
          };
}

/** Starts sending telemetry to `sink`; returns the function that stops it. */
export function attachStorageTelemetry(sink: StorageTelemetrySink): () => void {
  sinks.add(sink);
  refresh();
  return () => {
    if (sinks.delete(sink)) refresh();
  };
}
