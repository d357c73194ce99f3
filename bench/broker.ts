/**
 * `npm run bench:broker`: embedded publish -> ack throughput, the W1 workload of
 * shared/bench/README.md run in-process: fsync 'always', 1 KiB bodies, 1 producer keeping
 * 1000 publishes unconfirmed, 1 consumer of a shared subscription with prefetch 1000 acking
 * each message. Figure: messages per second from the first publish to the last durable ack,
 * and publish -> confirm latency (p50 / p99).
 *
 *   node dist/bench/broker.js [--messages N] [--runs R] [--dir DIR] [--json]
 *
 *   --messages N   messages per run (default 300000)
 *   --runs R       runs (default 3); the table shows the median and the spread
 *   --dir D        work in a fresh directory inside D (default os.tmpdir()), removed at the end
 *   --json         print one JSON object with every figure as the last line
 *
 * The machine is shared (other builds and tests may run): figures are noisy.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Broker } from '../src/broker/index.js';
import type { Message } from '../src/protocol/index.js';

const TARGET_MESSAGES_PER_SECOND = 100_000;
const WINDOW = 1000;
const BODY_BYTES = 1024;

function option(name: string, fallback: string): string {
  const index = process.argv.indexOf(`--${name}`);
  return index >= 0 && process.argv[index + 1] !== undefined ? process.argv[index + 1]! : fallback;
}

function percentile(sorted: Float64Array, fraction: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * fraction))] ?? NaN;
}

interface RunResult {
  messagesPerSecond: number;
  publishesPerSecond: number;
  confirmP50Ms: number;
  confirmP99Ms: number;
  peakRssMiB: number;
}

async function run(messages: number, parent: string): Promise<RunResult> {
  const dataDir = mkdtempSync(path.join(parent, 'weir-bench-broker-'));
  const broker = await Broker.open({ dataDir });
  try {
    const client = broker.connect();
    await client.streams.create('bench', { subjects: ['bench'], fsync: 'always' });
    const subscription = await client.subscribe('bench', {
      subscription: 'workers',
      mode: 'shared',
      maxInFlight: WINDOW,
    });
    const body = new Uint8Array(BODY_BYTES).fill(120);
    const latencies = new Float64Array(messages);
    let peakRss = 0;
    const sampler = setInterval(() => {
      peakRss = Math.max(peakRss, process.memoryUsage.rss());
    }, 100);

    const started = performance.now();
    let publishedAt = 0;
    const producing = (async () => {
      let next = 0;
      let inFlight = 0;
      let wake: (() => void) | null = null;
      while (next < messages) {
        while (inFlight >= WINDOW) await new Promise<void>((resolve) => (wake = resolve));
        const sentAt = performance.now();
        const index = next++;
        inFlight++;
        client.publish('bench', body).then(
          () => {
            latencies[index] = performance.now() - sentAt;
            inFlight--;
            const resume = wake;
            wake = null;
            resume?.();
          },
          (error: unknown) => {
            console.error('publish failed', error);
            process.exit(1);
          },
        );
        // Let confirmations run now and then, like a producer on a socket would.
        if ((index & 63) === 63) await new Promise((resolve) => setImmediate(resolve));
      }
      while (inFlight > 0) await new Promise<void>((resolve) => (wake = resolve));
      publishedAt = performance.now();
    })();

    const consuming = (async () => {
      let received = 0;
      let acked = 0;
      let allAcked: (() => void) | null = null;
      const done = new Promise<void>((resolve) => (allAcked = resolve));
      const onAck = (): void => {
        if (++acked === messages) allAcked!();
      };
      while (received < messages) {
        const message: Message | null = await subscription.receive({ timeoutMs: 30_000 });
        if (!message) throw new Error(`no message within 30 s after ${received}`);
        received++;
        message.ack().then(onAck, (error: unknown) => {
          console.error('ack failed', error);
          process.exit(1);
        });
      }
      await done;
    })();

    await Promise.all([producing, consuming]);
    const elapsedMs = performance.now() - started;
    clearInterval(sampler);
    latencies.sort();
    return {
      messagesPerSecond: Math.round((messages * 1000) / elapsedMs),
      publishesPerSecond: Math.round((messages * 1000) / (publishedAt - started)),
      confirmP50Ms: Number(percentile(latencies, 0.5).toFixed(2)),
      confirmP99Ms: Number(percentile(latencies, 0.99).toFixed(2)),
      peakRssMiB: Math.round(peakRss / 1024 / 1024),
    };
  } finally {
    await broker.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const messages = Number(option('messages', '300000'));
  const runs = Number(option('runs', '3'));
  const parent = option('dir', os.tmpdir());
  const results: RunResult[] = [];
  for (let index = 0; index < runs; index++) {
    const result = await run(messages, parent);
    console.log(JSON.stringify({ run: index + 1, messages, ...result }));
    results.push(result);
  }
  const summary = (field: keyof RunResult): string => {
    const values = results.map((result) => result[field]).sort((a, b) => a - b);
    const median = values[Math.floor(values.length / 2)]!;
    return `${median.toLocaleString('en-US')} (${values[0]!.toLocaleString('en-US')}–${values[values.length - 1]!.toLocaleString('en-US')})`;
  };
  console.log(
    `\nembedded W1: ${messages} × ${BODY_BYTES} B, fsync always, window ${WINDOW}, 1 shared consumer`,
  );
  console.log(`  publish -> ack msgs/s   ${summary('messagesPerSecond')}`);
  console.log(`  publish msgs/s          ${summary('publishesPerSecond')}`);
  console.log(`  confirm p50 ms          ${summary('confirmP50Ms')}`);
  console.log(`  confirm p99 ms          ${summary('confirmP99Ms')}`);
  console.log(`  peak RSS MiB            ${summary('peakRssMiB')}`);
  const median = results.map((result) => result.messagesPerSecond).sort((a, b) => a - b)[
    Math.floor(results.length / 2)
  ]!;
  console.log(
    `${median >= TARGET_MESSAGES_PER_SECOND ? 'PASS' : 'MISS'} target ${TARGET_MESSAGES_PER_SECOND.toLocaleString('en-US')} msgs/s (median ${median.toLocaleString('en-US')})`,
  );
  if (process.argv.includes('--json')) console.log(JSON.stringify({ messages, runs: results }));
}

await main();
