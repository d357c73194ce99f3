/**
 * `npm run bench:server`: end-to-end throughput over loopback — a `weir serve` child process
 * (file storage, fsync: always), one producer keeping 1000 publishes in flight, one consumer
 * (shared subscription, maxInFlight 1000) acking each message; 1 KiB bodies. Prints one JSON
 * line per run and a summary with the median of the runs.
 *
 *   node dist/bench/server.js [--messages N] [--runs R] [--size B] [--window W] [--json]
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { connect } from '../src/client/index.js';
import { NODE_FLAGS } from '../src/cli/node-flags.js';

const { values } = parseArgs({
  options: {
    messages: { type: 'string', default: '300000' },
    runs: { type: 'string', default: '3' },
    size: { type: 'string', default: '1024' },
    window: { type: 'string', default: '1000' },
    json: { type: 'boolean', default: false },
  },
});
const MESSAGES = Number(values.messages);
const RUNS = Number(values.runs);
const SIZE = Number(values.size);
const WINDOW = Number(values.window);
const RUN_TIMEOUT_MS = 180_000;
const CLI = fileURLToPath(new URL('../src/cli/main.js', import.meta.url));

interface RunResult {
  run: number;
  messages: number;
  seconds: number;
  messagesPerSecond: number;
  confirmP50Ms: number;
  confirmP99Ms: number;
  serverCpuSeconds: number;
  serverPeakRssMiB: number;
}

function percentile(sorted: Float64Array, p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] ?? 0;
}

/** CPU seconds and RSS of a process, from /proc (Linux). */
function processStats(pid: number): { cpuSeconds: number; rssMiB: number } {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    const ticks = Number(stat[11]) + Number(stat[12]);
    const rssPages = Number(stat[21]);
    return { cpuSeconds: ticks / 100, rssMiB: (rssPages * 4096) / 1048576 };
  } catch {
    return { cpuSeconds: 0, rssMiB: 0 };
  }
}

async function startServer(
  dataDir: string,
): Promise<{ port: number; pid: number; stop: () => Promise<void> }> {
  const child = spawn(
    process.execPath,
    [...NODE_FLAGS, CLI, 'serve', '--data-dir', dataDir, '--port', '0', '--log-level', 'warn'],
    {
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
  const port = await new Promise<number>((resolve, reject) => {
    let output = '';
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (chunk: string) => {
      output += chunk;
      const match = /127\.0\.0\.1:(\d+)/.exec(output);
      if (match) resolve(Number(match[1]));
    });
    void exited.then(() => reject(new Error('weir serve exited before listening')));
  });
  return {
    port,
    pid: child.pid!,
    stop: async () => {
      child.kill('SIGTERM');
      await exited;
    },
  };
}

async function runOnce(run: number): Promise<RunResult> {
  const dataDir = mkdtempSync(join(tmpdir(), 'weir-bench-server-'));
  const server = await startServer(dataDir);
  const url = `weir://127.0.0.1:${server.port}`;
  const producer = await connect(url, { name: 'bench-producer', reconnect: false });
  const consumer = await connect(url, { name: 'bench-consumer', reconnect: false });
  try {
    await producer.streams.create('bench', {
      subjects: ['bench'],
      fsync: 'always',
      retention: 'work-queue',
    });
    const subscription = await consumer.subscribe('bench', {
      subscription: 'workers',
      mode: 'shared',
      maxInFlight: WINDOW,
    });
    const latencies = new Float64Array(MESSAGES);
    const body = new Uint8Array(SIZE).fill(0x61);
    const cpuBefore = processStats(server.pid).cpuSeconds;
    let peakRss = 0;
    const sampler = setInterval(
      () => (peakRss = Math.max(peakRss, processStats(server.pid).rssMiB)),
      100,
    );
    const started = performance.now();
    const deadline = started + RUN_TIMEOUT_MS;
    let received = 0;
    let lastAck: Promise<void> = Promise.resolve();
    const consuming = (async () => {
      for await (const message of subscription) {
        lastAck = message.ack();
        if (++received === MESSAGES || performance.now() > deadline) break;
      }
      await lastAck;
    })();
    let sent = 0;
    await Promise.all(
      Array.from({ length: WINDOW }, async () => {
        while (sent < MESSAGES && performance.now() < deadline) {
          const index = sent++;
          const at = performance.now();
          await producer.publish('bench', body);
          latencies[index] = performance.now() - at;
        }
      }),
    );
    await consuming;
    const seconds = (performance.now() - started) / 1000;
    clearInterval(sampler);
    const sorted = latencies.slice(0, sent).sort();
    return {
      run,
      messages: received,
      seconds: Number(seconds.toFixed(3)),
      messagesPerSecond: Math.round(received / seconds),
      confirmP50Ms: Number(percentile(sorted, 0.5).toFixed(2)),
      confirmP99Ms: Number(percentile(sorted, 0.99).toFixed(2)),
      serverCpuSeconds: Number((processStats(server.pid).cpuSeconds - cpuBefore).toFixed(2)),
      serverPeakRssMiB: Number(peakRss.toFixed(1)),
    };
  } finally {
    await producer.close().catch(() => undefined);
    await consumer.close().catch(() => undefined);
    await server.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

const results: RunResult[] = [];
for (let run = 1; run <= RUNS; run++) {
  const result = await runOnce(run);
  results.push(result);
  console.log(JSON.stringify({ bench: 'server', ...result }));
}
const rates = results.map((result) => result.messagesPerSecond).sort((a, b) => a - b);
const median = rates[Math.floor(rates.length / 2)]!;
const summary = {
  bench: 'server',
  workload: `${MESSAGES} x ${SIZE} B, fsync always, 1 producer (${WINDOW} in flight), 1 consumer, loopback`,
  median_messages_per_s: median,
  min_messages_per_s: rates[0],
  max_messages_per_s: rates[rates.length - 1],
  target_messages_per_s: 80_000,
  target_met: median >= 80_000,
};
if (values.json) console.log(JSON.stringify(summary));
else {
  console.log(
    `\nweir server, ${summary.workload}: median ${median} msgs/s end to end (min ${summary.min_messages_per_s}, max ${summary.max_messages_per_s}) over ${RUNS} runs`,
  );
  console.log(`${summary.target_met ? 'PASS' : 'MISS'} target ≥ 80,000 msgs/s`);
}
