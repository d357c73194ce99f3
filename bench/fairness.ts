/**
 * Per-key fairness (issue 14, item 5), embedded, on a file stream (fsync never: the figures are
 * the subscription's cost, not the disk's):
 *
 * 1. "behind": N messages of tenant A (default 6,000, the issue's), then one of tenant B; a consumer with
 *    `fairBy: 'key'` attaches: which delivery is B's (offset order would make it N + 1) and how
 *    long it took to come.
 * 2. "cost": M messages (default 100,000) published, then drained with acks, with and without
 *    `fairBy: 'key'`, for two spreads of keys: `mixed` (100 keys in turn) and `blocks` (4 tenants,
 *    each one's messages together: the fairness scan passes over and goes back the most).
 *    Figures: publish messages/s, drain messages/s, and the drain ratio fair / plain.
 * 3. "live": a consumer attached while M messages of 100 keys are published: messages/s from the
 *    first publish to the last ack, with and without fairBy.
 *
 *   npm run bench:fairness -- [--behind N] [--messages M] [--runs R]
 *
 * B further behind than FAIR_SCAN_HOLD_SPAN_MAX (100,000) is found while deliveries go on:
 * `--behind 200000` shows how much later it comes.
 *
 * Each run uses a fresh temporary directory; figures are medians over the runs. The machine is
 * shared (other builds and tests may run): figures are noisy.
 */
import { median, positiveIntegerFlags, withTemporaryBroker } from './bench-kit.js';
import type { Client, PublishInput, SubscribeOptions } from '../src/protocol/index.js';

const BATCH = 5_000;
const RECEIVE_TIMEOUT_MS = 60_000;
const ACK_BATCH = 1_000;

const { behind, messages, runs } = positiveIntegerFlags({
  behind: 6000,
  messages: 100_000,
  runs: 3,
});

async function withBroker<T>(body: (client: Client) => Promise<T>): Promise<T> {
  return withTemporaryBroker('weir-bench-fairness-', async (client) => {
    await client.streams.create('jobs', { subjects: ['jobs'], storage: 'file', fsync: 'never' });
    return body(client);
  });
}

/** Publishes `count` messages, the key of message i being keyOf(i); returns messages/s. */
async function publish(client: Client, count: number, keyOf: (index: number) => string) {
  const started = performance.now();
  for (let start = 0; start < count; start += BATCH) {
    const entries: PublishInput[] = [];
    for (let index = start; index < Math.min(count, start + BATCH); index++)
      entries.push({ subject: 'jobs', body: `job ${index}`, options: { key: keyOf(index) } });
    const results = await client.publishBatch(entries);
    for (const result of results) if (result instanceof Error) throw result;
  }
  return count / ((performance.now() - started) / 1000);
}

/** Receives and acks `count` messages; resolves when the last ack is durable. */
async function drain(client: Client, count: number, options: SubscribeOptions): Promise<void> {
  const worker = await client.subscribe('jobs', { subscription: 'w', ...options });
  const acks: Promise<void>[] = [];
  for (let received = 0; received < count; received++) {
    const message = await worker.receive({ timeoutMs: RECEIVE_TIMEOUT_MS });
    if (message === null) throw new Error(`stalled after ${received} messages`);
    acks.push(message.ack());
    if (acks.length >= ACK_BATCH) await Promise.all(acks.splice(0));
  }
  await Promise.all(acks);
  await worker.close();
}

const FAIR: SubscribeOptions = { fairBy: 'key', maxInFlight: 1000 };
const PLAIN: SubscribeOptions = { maxInFlight: 1000 };
const mixedKey = (index: number): string => `tenant-${index % 100}`;
const blockKey = (index: number): string => `tenant-${Math.floor((index * 4) / messages)}`;

async function behindRun(): Promise<{ position: number; ms: number }> {
  return withBroker(async (client) => {
    await publish(client, behind, () => 'A');
    await client.publish('jobs', 'b', { key: 'B' });
    const started = performance.now();
    const worker = await client.subscribe('jobs', { subscription: 'w', ...FAIR });
    for (let position = 1; position <= behind + 1; position++) {
      const message = await worker.receive({ timeoutMs: RECEIVE_TIMEOUT_MS });
      if (message === null) throw new Error('no delivery within the timeout');
      await message.ack();
      if (message.key === 'B') return { position, ms: performance.now() - started };
    }
    throw new Error('B never came');
  });
}

async function costRun(
  keyOf: (index: number) => string,
  options: SubscribeOptions,
): Promise<{ publish: number; drain: number }> {
  return withBroker(async (client) => {
    const publishRate = await publish(client, messages, keyOf);
    const started = performance.now();
    await drain(client, messages, options);
    return { publish: publishRate, drain: messages / ((performance.now() - started) / 1000) };
  });
}

async function liveRun(options: SubscribeOptions): Promise<number> {
  return withBroker(async (client) => {
    const started = performance.now();
    const consumed = drain(client, messages, options);
    await publish(client, messages, mixedKey);
    await consumed;
    return messages / ((performance.now() - started) / 1000);
  });
}

const figures = new Map<string, number[]>();
const record = (name: string, value: number): void => {
  const list = figures.get(name) ?? [];
  list.push(value);
  figures.set(name, list);
};
for (let run = 1; run <= runs; run++) {
  const behindResult = await behindRun();
  record('behind position', behindResult.position);
  record('behind ms', behindResult.ms);
  for (const [spread, keyOf] of [
    ['mixed', mixedKey],
    ['blocks', blockKey],
  ] as const) {
    for (const [mode, options] of [
      ['plain', PLAIN],
      ['fair', FAIR],
    ] as const) {
      const result = await costRun(keyOf, options);
      record(`${spread} ${mode} publish`, result.publish);
      record(`${spread} ${mode} drain`, result.drain);
    }
  }
  record('live plain', await liveRun(PLAIN));
  record('live fair', await liveRun(FAIR));
  console.log(
    `run ${run}: ` +
      [...figures].map(([name, list]) => `${name} ${list.at(-1)!.toFixed(0)}`).join(', '),
  );
}
const m = (name: string): number => median(figures.get(name)!);
console.log(`\nmedians of ${runs} runs (${messages} messages; B behind ${behind} of A):`);
console.log(
  `  behind: B is delivery #${m('behind position')} (offset order: #${behind + 1}), after ${m('behind ms').toFixed(0)} ms`,
);
for (const spread of ['mixed', 'blocks']) {
  const plain = m(`${spread} plain drain`);
  const fair = m(`${spread} fair drain`);
  console.log(
    `  ${spread}: publish ${m(`${spread} plain publish`).toFixed(0)} / ${m(`${spread} fair publish`).toFixed(0)} msg/s, ` +
      `drain plain ${plain.toFixed(0)} msg/s, fairBy ${fair.toFixed(0)} msg/s (ratio ${(fair / plain).toFixed(2)})`,
  );
}
console.log(
  `  live (publish while consuming, 100 keys): plain ${m('live plain').toFixed(0)} msg/s, fairBy ${m('live fair').toFixed(0)} msg/s (ratio ${(m('live fair') / m('live plain')).toFixed(2)})`,
);
