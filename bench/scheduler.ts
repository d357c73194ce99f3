/**
 * `npm run bench:scheduler`: the scheduler for delayed messages (issue 12 item 3), embedded.
 *
 * Main figure: N delayed messages (default 1,000,000, 32-byte bodies) published to a file
 * stream (fsync 'always', 1 partition) with deliverAt spread uniformly over 20–60 s from the
 * start, while a steady load runs beside them on another stream (1,000 msgs/s published and
 * consumed, acked). One shared consumer takes the delayed ones and acks each. Reported: heap
 * and RSS while they are pending (peak, and at the last sample before the first is due), the
 * scheduler's index size (stream info `scheduleIndexed`), lateness = delivery time - deliverAt
 * (p50, p99, max) and the count delivered (must equal published).
 *
 * Mover capacity (on by default, --no-burst skips it): 200,000 delayed messages (--burst N)
 * all due at the same instant, file stream (fsync 'always'), no other load: moves / s = N /
 * (the last moved record's timestamp - the due time). That is the rate the main figure needs
 * (25,000 / s) with room to spare, measured alone.
 *
 * Second line (--year, on by default): one message delayed by a year, then 100,500 normal
 * messages, memory stream, shared subscription acking: time until all 100,500 are delivered
 * (before the scheduler, delivery stopped after 99,999).
 *
 *   node dist/bench/scheduler.js [--messages N] [--runs R] [--dir DIR] [--json] [--progress]
 *     [--burst N | --no-burst] [--no-year] [--due-from MS] [--timeline] [--storage] [--consumer tcp]
 *
 * --consumer tcp: the delayed messages' consumer runs in another process
 * (scheduler-consumer.ts) over TCP, as a service's would, so its own work is not on the
 * broker's event loop; the steady load stays in process.
 *
 * --timeline prints lateness per due second (stderr): where in the run the late ones are.
 *
 * --storage prints, for the due phase (stderr), what the logs' group commits cost: flushes a
 * second by kind (stream partitions, subscription journals), write and fdatasync times, and
 * stream append-to-durable times (one append in CONFIRM_SAMPLE_EVERY), from the storage
 * telemetry the console's /metrics uses: the commit stage of a delivery's lateness.
 *
 * The machine is shared (other builds and tests may run): figures are noisy.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import * as os from 'node:os';
import * as path from 'node:path';
import { Broker } from '../src/broker/index.js';
import { DELAY_MS_MAX } from '../src/limits.js';
import { attachStorageTelemetry, type LogKind } from '../src/storage/index.js';
import type { Client, PublishInput } from '../src/protocol/index.js';
import { WeirServer, silentLogger } from '../src/server/index.js';

const CONSUMER = fileURLToPath(new URL('./scheduler-consumer.js', import.meta.url));

/** The first due time, from the start (--due-from MS: a loaded machine may publish slower). */
function option(name: string, fallback: string): string {
  const index = process.argv.indexOf(`--${name}`);
  return index >= 0 && process.argv[index + 1] !== undefined ? process.argv[index + 1]! : fallback;
}

const DUE_FROM_MS = Number(option('due-from', '20000'));
const DUE_SPAN_MS = 40_000;
const PUBLISH_BATCH = 1000;
const STEADY_PER_SECOND = 1000;
const STEADY_TICK_MS = 10;
const IN_FLIGHT = 5000;
const YEAR_FOLLOWERS = 100_500;
const BURST_DUE_MS = 10_000;

function percentile(sorted: Float64Array, fraction: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * fraction))] ?? NaN;
}

const MiB = 1024 * 1024;

interface RunResult {
  /** The 1-minute load average when the run began (the machine is shared). */
  loadAtStart: number;
  published: number;
  delivered: number;
  publishSeconds: number;
  peakHeapMiB: number;
  peakRssMiB: number;
  pendingHeapMiB: number;
  pendingRssMiB: number;
  indexMax: number;
  latenessP50Ms: number;
  latenessP99Ms: number;
  latenessMaxMs: number;
  /** When it entered the partition log (its record timestamp) - deliverAt. */
  moveLatenessP50Ms: number;
  moveLatenessP99Ms: number;
  moveLatenessMaxMs: number;
  steadyDelivered: number;
  /**
   * CPU time of this process (every thread; not the consumer's child with --consumer tcp) over
   * the due phase, in % of one core: how much of the machine the moves, deliveries and acks take.
   */
  duePhaseCpuPercent: number;
}

/** Per due second: deliveries, lateness p99 / max, move lateness p99 (stderr). */
function printTimeline(
  lateness: Float64Array,
  moveLateness: Float64Array,
  dueSecond: Uint8Array,
): void {
  const seconds = DUE_SPAN_MS / 1000;
  for (let second = 0; second < seconds; second++) {
    const late: number[] = [];
    const moved: number[] = [];
    for (let i = 0; i < dueSecond.length; i++) {
      if (dueSecond[i] !== second) continue;
      late.push(lateness[i]!);
      moved.push(moveLateness[i]!);
    }
    const sorted = Float64Array.from(late).sort();
    const movedSorted = Float64Array.from(moved).sort();
    console.error(
      `due +${second} s: ${sorted.length} delivered, lateness p99 ${percentile(sorted, 0.99)} max ${sorted[sorted.length - 1]} ms, move p99 ${percentile(movedSorted, 0.99)} ms`,
    );
  }
}

/** --storage: the storage telemetry over the due phase (bounded: at most VALUES_MAX each). */
class StorageTimes {
  static readonly VALUES_MAX = 1_000_000;
  active = false;
  readonly #writes: Record<LogKind, number[]> = { stream: [], journal: [] };
  readonly #syncs: Record<LogKind, number[]> = { stream: [], journal: [] };
  readonly #confirms: number[] = [];
  readonly detach = attachStorageTelemetry({
    flushed: (kind, writeMs, syncMs) => {
      if (!this.active || this.#writes[kind].length >= StorageTimes.VALUES_MAX) return;
      this.#writes[kind].push(writeMs);
      if (syncMs !== null) this.#syncs[kind].push(syncMs);
    },
    confirmed: (ms) => {
      if (this.active && this.#confirms.length < StorageTimes.VALUES_MAX) this.#confirms.push(ms);
    },
  });

  print(seconds: number): void {
    const times = (values: number[]): string => {
      const sorted = Float64Array.from(values).sort();
      const at = (fraction: number): string => percentile(sorted, fraction).toFixed(2);
      return `p50 ${at(0.5)} p99 ${at(0.99)} max ${at(1)} ms`;
    };
    for (const kind of ['stream', 'journal'] as const) {
      console.error(
        `storage, due phase, ${kind}: ${Math.round(this.#writes[kind].length / seconds)} flushes/s; write ${times(this.#writes[kind])}; fdatasync ${times(this.#syncs[kind])}`,
      );
    }
    console.error(
      `storage, due phase, stream append to durable (sampled): ${times(this.#confirms)}`,
    );
  }
}

async function steadyLoad(client: Client, stop: () => boolean): Promise<number> {
  await client.streams.create('steady', { subjects: ['steady'], fsync: 'always' });
  const subscription = await client.subscribe('steady', { subscription: 's', mode: 'shared' });
  let delivered = 0;
  const consuming = (async () => {
    while (!stop()) {
      const message = await subscription.receive({ timeoutMs: 200 });
      if (message === null) continue;
      delivered++;
      void message.ack();
    }
  })();
  const perTick = (STEADY_PER_SECOND * STEADY_TICK_MS) / 1000;
  const entries: PublishInput[] = Array.from({ length: perTick }, () => ({
    subject: 'steady',
    body: 'steady load message',
  }));
  while (!stop()) {
    await client.publishBatch(entries);
    await new Promise((resolve) => setTimeout(resolve, STEADY_TICK_MS));
  }
  await consuming;
  await subscription.close();
  return delivered;
}

async function run(messages: number, parent: string): Promise<RunResult> {
  const loadAtStart = Number(os.loadavg()[0]!.toFixed(1));
  const dataDir = mkdtempSync(path.join(parent, 'weir-bench-scheduler-'));
  const broker = await Broker.open({ dataDir });
  const storageTimes = process.argv.includes('--storage') ? new StorageTimes() : null;
  try {
    const client = broker.connect();
    await client.streams.create('later', { subjects: ['later'], fsync: 'always' });
    let stopping = false;
    const steady = steadyLoad(broker.connect(), () => stopping);
    const overTcp = option('consumer', 'embedded') === 'tcp';
    const subscription = overTcp
      ? null
      : await client.subscribe('later', {
          subscription: 'w',
          mode: 'shared',
          maxInFlight: IN_FLIGHT,
        });
    const start = Date.now();
    const firstDue = start + DUE_FROM_MS;
    const remote = overTcp ? await startRemoteConsumer(broker, messages, firstDue, dataDir) : null;
    let peakHeap = 0;
    let peakRss = 0;
    let pendingHeap = 0;
    let pendingRss = 0;
    let indexMax = 0;
    let samples = 0;
    const progress = process.argv.includes('--progress');
    const sampler = setInterval(() => {
      const usage = process.memoryUsage();
      peakHeap = Math.max(peakHeap, usage.heapUsed);
      peakRss = Math.max(peakRss, usage.rss);
      if (Date.now() < firstDue) {
        pendingHeap = usage.heapUsed;
        pendingRss = usage.rss;
      }
      void client.streams.info('later').then((info) => {
        for (const partition of info.partitions)
          indexMax = Math.max(indexMax, partition.scheduleIndexed);
        if (progress && ++samples % 10 === 0) {
          console.error(
            `${((Date.now() - start) / 1000).toFixed(0)} s: scheduled ${info.scheduled}, indexed ${info.partitions[0]!.scheduleIndexed}, entered ${info.partitions[0]!.endOffset}, delivered ${delivered}`,
          );
        }
      });
    }, 500);

    const lateness = new Float64Array(messages);
    const moveLateness = new Float64Array(messages);
    // --timeline: the due second of each delivery, for lateness per second.
    const timeline = process.argv.includes('--timeline');
    const dueSecond = timeline ? new Uint8Array(messages) : null;
    let delivered = 0;
    const consuming = (async () => {
      if (remote !== null) {
        delivered = await remote.finished(lateness, moveLateness, dueSecond);
        return;
      }
      while (delivered < messages) {
        const message = await subscription!.receive({ timeoutMs: DUE_FROM_MS + DUE_SPAN_MS });
        if (message === null) throw new Error(`nothing within a minute after ${delivered}`);
        const deliverAt = Number(message.text());
        moveLateness[delivered] = message.timestamp - deliverAt;
        if (dueSecond) dueSecond[delivered] = Math.floor((deliverAt - firstDue) / 1000);
        lateness[delivered++] = Date.now() - deliverAt;
        void message.ack();
      }
    })();

    // CPU over the due phase: from the first due time to the last delivery.
    const dueCpuStart = { at: firstDue, usage: process.cpuUsage() };
    setTimeout(() => {
      dueCpuStart.at = Date.now();
      dueCpuStart.usage = process.cpuUsage();
      if (storageTimes !== null) storageTimes.active = true;
    }, firstDue - Date.now()).unref();

    // Publish the delayed messages, due uniformly over [20 s, 60 s) from the start.
    let published = 0;
    while (published < messages) {
      const count = Math.min(PUBLISH_BATCH, messages - published);
      const entries: PublishInput[] = [];
      for (let i = 0; i < count; i++) {
        const deliverAt = firstDue + Math.floor(Math.random() * DUE_SPAN_MS);
        entries.push({
          subject: 'later',
          body: String(deliverAt).padEnd(32, ' '),
          options: { deliverAt },
        });
      }
      const receipts = await client.publishBatch(entries);
      for (const receipt of receipts) {
        if (receipt instanceof Error) throw receipt;
        if (!receipt.scheduled) throw new Error('a delayed publish was not scheduled');
      }
      published += count;
    }
    const publishSeconds = (Date.now() - start) / 1000;
    if (Date.now() >= firstDue) throw new Error('publishing took longer than the first delay');

    await consuming;
    const dueCpu = process.cpuUsage(dueCpuStart.usage);
    const dueWallMs = Date.now() - dueCpuStart.at;
    if (storageTimes !== null) {
      storageTimes.active = false;
      storageTimes.print(dueWallMs / 1000);
    }
    clearInterval(sampler);
    stopping = true;
    const steadyDelivered = await steady;
    if (dueSecond) printTimeline(lateness, moveLateness, dueSecond);
    lateness.sort();
    moveLateness.sort();
    return {
      loadAtStart,
      published,
      delivered,
      publishSeconds: Number(publishSeconds.toFixed(1)),
      peakHeapMiB: Math.round(peakHeap / MiB),
      peakRssMiB: Math.round(peakRss / MiB),
      pendingHeapMiB: Math.round(pendingHeap / MiB),
      pendingRssMiB: Math.round(pendingRss / MiB),
      indexMax,
      latenessP50Ms: percentile(lateness, 0.5),
      latenessP99Ms: percentile(lateness, 0.99),
      latenessMaxMs: lateness[lateness.length - 1] ?? NaN,
      moveLatenessP50Ms: percentile(moveLateness, 0.5),
      moveLatenessP99Ms: percentile(moveLateness, 0.99),
      moveLatenessMaxMs: moveLateness[moveLateness.length - 1] ?? NaN,
      steadyDelivered,
      duePhaseCpuPercent: Math.round(((dueCpu.user + dueCpu.system) / 1000 / dueWallMs) * 100),
    };
  } finally {
    storageTimes?.detach();
    await broker.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

interface RemoteConsumer {
  /** Resolves once the child took every message, with the count; fills the arrays. */
  finished(
    lateness: Float64Array,
    moveLateness: Float64Array,
    dueSecond: Uint8Array | null,
  ): Promise<number>;
}

/** --consumer tcp: the broker behind a WeirServer on port 0, the consumer a child process. */
async function startRemoteConsumer(
  broker: Broker,
  messages: number,
  firstDue: number,
  dataDir: string,
): Promise<RemoteConsumer> {
  const server = await WeirServer.listen({
    connectClient: (identity) => broker.connect(identity),
    port: 0,
    logger: silentLogger,
  });
  const { host, port } = server.address();
  const out = path.join(dataDir, 'consumer.bin');
  const child = spawn(
    process.execPath,
    [CONSUMER, `weir://${host}:${port}`, String(messages), String(firstDue), out],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
  await new Promise<void>((resolve, reject) => {
    child.stdout.on('data', (chunk: Buffer) => {
      if (chunk.toString().includes('ready')) resolve();
    });
    void exited.then((code) =>
      reject(new Error(`the consumer exited (${code}) before it was ready`)),
    );
  });
  return {
    async finished(lateness, moveLateness, dueSecond) {
      const code = await exited;
      await server.close();
      if (code !== 0) throw new Error(`the consumer exited with ${code}`);
      const bytes = readFileSync(out);
      const floats = new Float64Array(
        bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + messages * 16),
      );
      lateness.set(floats.subarray(0, messages));
      moveLateness.set(floats.subarray(messages));
      dueSecond?.set(bytes.subarray(messages * 16, messages * 17));
      return messages;
    },
  };
}

/** `count` delayed messages due at one instant: how fast the scheduler moves them (moves / s). */
async function burst(count: number, parent: string): Promise<number> {
  const dataDir = mkdtempSync(path.join(parent, 'weir-bench-scheduler-burst-'));
  const broker = await Broker.open({ dataDir });
  try {
    const client = broker.connect();
    await client.streams.create('later', { subjects: ['later'], fsync: 'always' });
    const subscription = await client.subscribe('later', {
      subscription: 'w',
      mode: 'shared',
      maxInFlight: IN_FLIGHT,
    });
    const dueAt = Date.now() + BURST_DUE_MS;
    for (let published = 0; published < count; published += PUBLISH_BATCH) {
      const entries: PublishInput[] = [];
      for (let i = 0; i < Math.min(PUBLISH_BATCH, count - published); i++)
        entries.push({ subject: 'later', body: 'burst', options: { deliverAt: dueAt } });
      await client.publishBatch(entries);
    }
    if (Date.now() >= dueAt) throw new Error('publishing the burst took longer than its delay');
    let lastMovedAt = 0;
    for (let received = 0; received < count; received++) {
      const message = await subscription.receive({ timeoutMs: BURST_DUE_MS + 60_000 });
      if (message === null) throw new Error(`burst: nothing after ${received} of ${count}`);
      lastMovedAt = Math.max(lastMovedAt, message.timestamp);
      void message.ack();
    }
    return Math.round(count / (Math.max(1, lastMovedAt - dueAt) / 1000));
  } finally {
    await broker.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

/** One year-delayed message, then 100,500 normal ones: seconds until all are delivered. */
async function year(): Promise<number> {
  const broker = await Broker.open({ storage: 'memory' });
  try {
    const client = broker.connect();
    await client.streams.create('later', { subjects: ['later'], storage: 'memory' });
    await client.publish('later', 'next year', { delayMs: DELAY_MS_MAX - 1 });
    const subscription = await client.subscribe('later', {
      subscription: 'w',
      mode: 'shared',
      maxInFlight: IN_FLIGHT,
    });
    const started = Date.now();
    const entries: PublishInput[] = Array.from({ length: 500 }, () => ({
      subject: 'later',
      body: 'x',
    }));
    for (let published = 0; published < YEAR_FOLLOWERS; published += entries.length) {
      await client.publishBatch(entries);
    }
    for (let received = 0; received < YEAR_FOLLOWERS; received++) {
      const message = await subscription.receive({ timeoutMs: 10_000 });
      if (message === null) throw new Error(`blocked after ${received} of ${YEAR_FOLLOWERS}`);
      void message.ack();
    }
    return (Date.now() - started) / 1000;
  } finally {
    await broker.close();
  }
}

async function main(): Promise<void> {
  const messages = Number(option('messages', '1000000'));
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
    `\nscheduler: ${messages} delayed × 32 B due over ${DUE_FROM_MS / 1000}–${(DUE_FROM_MS + DUE_SPAN_MS) / 1000} s, file stream fsync always, steady ${STEADY_PER_SECOND} msgs/s beside`,
  );
  for (const field of [
    'loadAtStart',
    'delivered',
    'publishSeconds',
    'pendingHeapMiB',
    'pendingRssMiB',
    'peakHeapMiB',
    'peakRssMiB',
    'indexMax',
    'latenessP50Ms',
    'latenessP99Ms',
    'latenessMaxMs',
    'moveLatenessP50Ms',
    'moveLatenessP99Ms',
    'moveLatenessMaxMs',
    'steadyDelivered',
    'duePhaseCpuPercent',
  ] as const) {
    console.log(`  ${field.padEnd(18)} ${summary(field)}`);
  }
  if (!process.argv.includes('--no-burst')) {
    const count = Number(option('burst', '200000'));
    const rates: number[] = [];
    for (let index = 0; index < runs; index++) rates.push(await burst(count, parent));
    console.log(
      `mover: ${count.toLocaleString('en-US')} due at one instant moved at ${rates.map((rate) => rate.toLocaleString('en-US')).join(', ')} moves/s`,
    );
  }
  const years: number[] = [];
  if (!process.argv.includes('--no-year')) {
    for (let index = 0; index < runs; index++) years.push(await year());
    years.sort((a, b) => a - b);
    console.log(
      `one year-delayed message + ${YEAR_FOLLOWERS.toLocaleString('en-US')} later ones: all delivered in ${years[Math.floor(years.length / 2)]!.toFixed(1)} s (median of ${runs})`,
    );
  }
  if (process.argv.includes('--json'))
    console.log(JSON.stringify({ messages, runs: results, years }));
}

await main();
