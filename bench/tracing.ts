/**
 * `npm run bench:tracing`: what OpenTelemetry tracing costs embedded. Publish -> consume -> ack
 * throughput of a memory broker (no disk: the figure is the CPU the spans cost), 1 KiB bodies,
 * 1 producer keeping 1000 publishes unconfirmed, 1 consumer with prefetch 1000 acking each
 * message, in three modes:
 *
 *   absent   @opentelemetry/api not loadable (the broker's loader fails, as when it is not
 *            installed): the hot path pays one null check
 *   off      the api present and a tracer provider registered, `tracing: false`: the same
 *   on       tracing on: publish, store, deliver and ack spans for every message, through a
 *            BatchSpanProcessor into an exporter that drops them (the cost of making spans,
 *            not of shipping them)
 *
 *   node dist/bench/tracing.js [--messages N] [--runs R] [--json]
 *
 *   --messages N   messages per run (default 100000)
 *   --runs R       runs per mode (default 3, interleaved: absent, off, on, absent, ...); the
 *                  table shows the median and the spread
 *   --json         print one JSON object with every figure as the last line
 *
 * The machine is shared (other builds and tests may run): figures are noisy.
 */
import { trace } from '@opentelemetry/api';
import {
  BasicTracerProvider,
  BatchSpanProcessor,
  type ReadableSpan,
  type SpanExporter,
} from '@opentelemetry/sdk-trace-base';
import { Broker, type BrokerOptions } from '../src/broker/index.js';
import { median } from './bench-kit.js';
import type { Message } from '../src/protocol/index.js';

const WINDOW = 1000;
const BODY_BYTES = 1024;
const MODES = ['absent', 'off', 'on'] as const;
type Mode = (typeof MODES)[number];

function option(name: string, fallback: string): string {
  const index = process.argv.indexOf(`--${name}`);
  return index >= 0 && process.argv[index + 1] !== undefined ? process.argv[index + 1]! : fallback;
}

/** Takes every span and drops it, counting. */
class DroppingExporter implements SpanExporter {
  spans = 0;
  export(spans: ReadableSpan[], done: (result: { code: 0 }) => void): void {
    this.spans += spans.length;
    done({ code: 0 });
  }
  shutdown(): Promise<void> {
    return Promise.resolve();
  }
}

const exporter = new DroppingExporter();
const provider = new BasicTracerProvider({
  spanProcessors: [new BatchSpanProcessor(exporter, { maxQueueSize: 65_536 })],
});
trace.setGlobalTracerProvider(provider);

const BROKER_OPTIONS: Record<Mode, BrokerOptions> = {
  absent: {
    storage: 'memory',
    openTelemetryLoader: () =>
      Promise.reject(new Error("Cannot find package '@opentelemetry/api'")),
  },
  off: { storage: 'memory', tracing: false },
  on: { storage: 'memory' },
};

async function run(mode: Mode, messages: number): Promise<number> {
  const broker = await Broker.open(BROKER_OPTIONS[mode]);
  if (broker.tracing !== (mode === 'on'))
    throw new Error(`mode ${mode}: tracing is ${broker.tracing}`);
  try {
    const client = broker.connect();
    await client.streams.create('bench', { subjects: ['bench'] });
    const subscription = await client.subscribe('bench', {
      subscription: 'workers',
      maxInFlight: WINDOW,
    });
    const body = new Uint8Array(BODY_BYTES).fill(120);
    const started = performance.now();
    const producing = (async () => {
      let next = 0;
      let inFlight = 0;
      let wake: (() => void) | null = null;
      while (next < messages) {
        while (inFlight >= WINDOW) await new Promise<void>((resolve) => (wake = resolve));
        next++;
        inFlight++;
        client.publish('bench', body).then(
          () => {
            inFlight--;
            const resume = wake;
            wake = null;
            resume?.();
          },
          (error: unknown) => {
            throw error;
          },
        );
      }
    })();
    let received = 0;
    const acks: Promise<void>[] = [];
    while (received < messages) {
      const message: Message | null = await subscription.receive({ timeoutMs: 30_000 });
      if (message === null) throw new Error(`mode ${mode}: stalled at ${received}`);
      received++;
      acks.push(message.ack());
      if (acks.length >= WINDOW) await Promise.all(acks.splice(0));
    }
    await Promise.all(acks);
    await producing;
    const seconds = (performance.now() - started) / 1000;
    await subscription.close();
    return messages / seconds;
  } finally {
    await broker.close();
  }
}

async function main(): Promise<void> {
  const messages = Number(option('messages', '100000'));
  const runs = Number(option('runs', '3'));
  const figures: Record<Mode, number[]> = { absent: [], off: [], on: [] };
  // One warm-up of each mode, not counted (JIT).
  for (const mode of MODES) await run(mode, Math.min(messages, 20_000));
  for (let index = 0; index < runs; index++) {
    for (const mode of MODES) figures[mode].push(await run(mode, messages));
  }
  await provider.forceFlush();
  const absent = median(figures.absent);
  console.log(
    `publish -> consume -> ack, memory broker, ${messages} x ${BODY_BYTES} B, ${runs} runs`,
  );
  console.log('mode     msg/s (median)   spread            vs absent');
  for (const mode of MODES) {
    const values = figures[mode];
    const middle = median(values);
    const spread = `${Math.round(Math.min(...values))}..${Math.round(Math.max(...values))}`;
    const relative = `${((middle / absent - 1) * 100).toFixed(1)}%`;
    console.log(
      `${mode.padEnd(8)} ${String(Math.round(middle)).padStart(14)}   ${spread.padEnd(16)}  ${relative}`,
    );
  }
  console.log(`spans exported (on): ${exporter.spans}`);
  if (process.argv.includes('--json')) {
    console.log(
      JSON.stringify({
        messages,
        runs,
        medians: Object.fromEntries(MODES.map((mode) => [mode, median(figures[mode])])),
        figures,
        spansExported: exporter.spans,
      }),
    );
  }
  await provider.shutdown();
}

await main();
