/**
 * The process's own series (process_* and nodejs_*), read at scrape time: RSS, CPU, start
 * time, open file descriptors, heap and external memory, event-loop lag, active handles.
 *
 * The names follow prom-client's default metrics, which this replaces: those include a GC
 * duration histogram fed by a PerformanceObserver on every garbage collection, and on a busy
 * broker (a scavenge every few milliseconds) that observer alone cost about 4 % of W1
 * throughput (`npm run bench:console`). So there is no `nodejs_gc_duration_seconds`; heap
 * sizes and event-loop lag show GC pressure at no cost per collection.
 */
import { readdirSync } from 'node:fs';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { getHeapStatistics } from 'node:v8';
import { Counter, Gauge, type Registry } from 'prom-client';

/** The event-loop monitor's timer period (ms); what it measures includes it, so it is taken off. */
const EVENT_LOOP_RESOLUTION_MS = 10;

function openFileDescriptors(): number | null {
  try {
    return readdirSync('/proc/self/fd').length - 1; // less the one readdir opened
  } catch {
    return null; // not Linux
  }
}

/** Switches the event-loop monitor on while some admin server runs. */
export interface ProcessMetrics {
  resume(): void;
  pause(): void;
}

/** Registers the process series on `registry` (once per registry); the monitor starts paused. */
export function registerProcessMetrics(registry: Registry): ProcessMetrics {
  const startSeconds = Math.round(Date.now() / 1000 - process.uptime());
  const eventLoop = monitorEventLoopDelay({ resolution: EVENT_LOOP_RESOLUTION_MS });
  const gauge = (name: string, help: string, value: () => number | null): void => {
    new Gauge({
      name,
      help,
      registers: [registry],
      collect() {
        const current = value();
        if (current !== null) this.set(current);
      },
    });
  };
  new Counter({
    name: 'process_cpu_seconds_total',
    help: 'User and system CPU time spent, in seconds.',
    registers: [registry],
    collect() {
      const usage = process.cpuUsage();
      this.reset();
      this.inc((usage.user + usage.system) / 1e6);
    },
  });
  gauge(
    'process_start_time_seconds',
    'Start time of the process since the epoch, in seconds.',
    () => startSeconds,
  );
  gauge('process_resident_memory_bytes', 'Resident memory size in bytes.', () =>
    process.memoryUsage.rss(),
  );
  gauge('process_open_fds', 'Open file descriptors.', openFileDescriptors);
  gauge(
    'nodejs_heap_size_total_bytes',
    'V8 heap committed, in bytes.',
    () => getHeapStatistics().total_heap_size,
  );
  gauge(
    'nodejs_heap_size_used_bytes',
    'V8 heap used, in bytes.',
    () => getHeapStatistics().used_heap_size,
  );
  gauge(
    'nodejs_external_memory_bytes',
    'Memory of Buffers and other objects outside the V8 heap, in bytes.',
    () => process.memoryUsage().external,
  );
  gauge(
    'nodejs_active_handles_total',
    'Active libuv handles (sockets, timers, files).',
    () => process.getActiveResourcesInfo().length,
  );
  const lag = (name: string, help: string, read: () => number): void =>
    gauge(name, help, () => {
      if (eventLoop.count === 0) return 0;
      return Math.max(0, read() / 1e9 - EVENT_LOOP_RESOLUTION_MS / 1000);
    });
  lag(
    'nodejs_eventloop_lag_seconds',
    'Mean event-loop lag since the last scrape, in seconds.',
    () => eventLoop.mean,
  );
  lag('nodejs_eventloop_lag_p50_seconds', 'Median event-loop lag, in seconds.', () =>
    eventLoop.percentile(50),
  );
  lag('nodejs_eventloop_lag_p90_seconds', '90th percentile event-loop lag, in seconds.', () =>
    eventLoop.percentile(90),
  );
  lag('nodejs_eventloop_lag_p99_seconds', '99th percentile event-loop lag, in seconds.', () =>
    eventLoop.percentile(99),
  );
  lag(
    'nodejs_eventloop_lag_max_seconds',
    'Largest event-loop lag, in seconds.',
    () => eventLoop.max,
  );
  // Reset after the last lag series is read, so each scrape covers the time since the last.
  new Gauge({
    name: 'nodejs_eventloop_lag_window_seconds',
    help: 'Seconds the event-loop lag series cover (time since the previous scrape).',
    registers: [registry],
    collect() {
      const now = performance.now();
      this.set((now - windowStarted) / 1000);
      windowStarted = now;
      eventLoop.reset();
    },
  });
  let windowStarted = performance.now();
  return {
    resume: () => {
      eventLoop.reset();
      windowStarted = performance.now();
      eventLoop.enable();
    },
    pause: () => eventLoop.disable(),
  };
}
