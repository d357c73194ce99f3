/**
 * `weir bench`: a publish + consume load against a running server, with a progress bar while
 * it runs and, at the end, throughput and a latency histogram (publish→confirm and
 * publish→delivery). The stream it uses is created fresh and deleted afterwards.
 */
import type { Client, FsyncPolicy } from '../protocol/index.js';
import { connect } from '../client/index.js';
import { connectOptions, type ClientFlags } from './client-connection.js';

export interface BenchOptions extends ClientFlags {
  readonly stream: string;
  readonly messages: number;
  readonly size: number;
  readonly window: number;
  readonly fsync: FsyncPolicy;
  readonly timeoutMs: number;
}

/** Bucket upper bounds in ms for the histogram (log scale). */
const BUCKETS_MS = [0.25, 0.5, 1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, Infinity];
const PROGRESS_INTERVAL_MS = 200;
const BAR_WIDTH = 30;
/** Bytes at the front of each body: the send time (f64, ms from performance.now()). */
const TIME_BYTES = 8;

class Histogram {
  readonly #samples: number[] = [];
  add(value: number): void {
    this.#samples.push(value);
  }
  get count(): number {
    return this.#samples.length;
  }
  percentile(p: number): number {
    const sorted = [...this.#samples].sort((a, b) => a - b);
    return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? 0;
  }
  render(title: string): string {
    const counts = BUCKETS_MS.map(() => 0);
    for (const sample of this.#samples) counts[BUCKETS_MS.findIndex((bound) => sample <= bound)]!++;
    const most = Math.max(1, ...counts);
    const lines = [
      `${title}: p50 ${this.percentile(50).toFixed(2)} ms, p99 ${this.percentile(99).toFixed(2)} ms, p99.9 ${this.percentile(99.9).toFixed(2)} ms, max ${this.percentile(100).toFixed(2)} ms`,
    ];
    let lower = 0;
    BUCKETS_MS.forEach((bound, index) => {
      const count = counts[index]!;
      if (count > 0) {
        const label = bound === Infinity ? `> ${lower} ms` : `${lower}–${bound} ms`;
        lines.push(
          `  ${label.padStart(14)} ${'█'.repeat(Math.max(1, Math.round((count / most) * 40)))} ${count}`,
        );
      }
      lower = bound;
    });
    return lines.join('\n');
  }
}

function progress(label: string, done: number, total: number): void {
  const filled = Math.round((done / total) * BAR_WIDTH);
  const line = `${label} [${'#'.repeat(filled)}${'.'.repeat(BAR_WIDTH - filled)}] ${done}/${total}`;
  if (process.stderr.isTTY) process.stderr.write(`\r${line}`);
}

export async function benchCommand(options: BenchOptions): Promise<void> {
  // Read once for the three connections (--password-stdin has one line to give).
  const credentials = await connectOptions(options);
  const open = (name: string) => connect(options.url, { ...credentials, name, reconnect: false });
  const admin = await open('weir-bench');
  const producer = await open('weir-bench-producer');
  const consumer = await open('weir-bench-consumer');
  const clients: Client[] = [admin, producer, consumer];
  const subject = `${options.stream}.load`;
  try {
    await admin.streams.delete(options.stream).catch(() => undefined);
    await admin.streams.create(options.stream, {
      subjects: [`${options.stream}.>`],
      fsync: options.fsync,
      retention: 'work-queue',
    });
    const subscription = await consumer.subscribe(options.stream, {
      subscription: 'bench',
      maxInFlight: options.window,
    });
    const confirmLatency = new Histogram();
    const deliveryLatency = new Histogram();
    const started = performance.now();
    const deadline = started + options.timeoutMs;
    let published = 0;
    let confirmed = 0;
    let received = 0;
    const ticker = setInterval(
      () => progress('bench', received, options.messages),
      PROGRESS_INTERVAL_MS,
    );
    const consuming = (async () => {
      while (received < options.messages && performance.now() < deadline) {
        const message = await subscription.receive({
          timeoutMs: Math.max(1, deadline - performance.now()),
        });
        if (message === null) break;
        const view = new DataView(
          message.body.buffer,
          message.body.byteOffset,
          message.body.byteLength,
        );
        deliveryLatency.add(performance.now() - view.getFloat64(0, true));
        received++;
        message.ack().catch(() => undefined); // an ack lost at close is redelivered: not an error here
      }
    })();
    const body = new Uint8Array(Math.max(options.size, TIME_BYTES));
    await Promise.all(
      Array.from({ length: options.window }, async () => {
        while (published < options.messages && performance.now() < deadline) {
          published++;
          const sent = performance.now();
          new DataView(body.buffer).setFloat64(0, sent, true);
          await producer.publish(subject, body.slice());
          confirmLatency.add(performance.now() - sent);
          confirmed++;
        }
      }),
    );
    const publishSeconds = (performance.now() - started) / 1000;
    await consuming;
    const seconds = (performance.now() - started) / 1000;
    clearInterval(ticker);
    if (process.stderr.isTTY) process.stderr.write('\n');
    await subscription.close();
    console.log(
      `weir bench: ${options.messages} messages of ${options.size} B, window ${options.window}, fsync ${options.fsync}, ${options.url}`,
    );
    console.log(
      `published ${confirmed} in ${publishSeconds.toFixed(2)} s (${Math.round(confirmed / publishSeconds)} msgs/s)`,
    );
    console.log(
      `received  ${received} in ${seconds.toFixed(2)} s (${Math.round(received / seconds)} msgs/s end to end)`,
    );
    console.log(confirmLatency.render('publish → confirm'));
    console.log(deliveryLatency.render('publish → delivery'));
    if (received < options.messages) {
      process.exitCode = 1;
      console.error(
        `weir bench: only ${received} of ${options.messages} messages arrived before the timeout`,
      );
    }
  } finally {
    await admin.streams.delete(options.stream).catch(() => undefined);
    for (const client of clients) await client.close().catch(() => undefined);
  }
}
