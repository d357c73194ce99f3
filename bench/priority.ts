/**
 * Priority over the whole backlog (issue 12, item 4), embedded, on a file stream:
 *
 * 1. "behind": N priority-0 messages (default 1,000,000), then one of priority 9; a consumer
 *    attaches: which delivery is the priority-9 one (must be the 1st), how long it took to
 *    come, and the heap meanwhile.
 * 2. "cost": draining a backlog of M messages (default 200,000) with acks, all priority 0
 *    versus 10% of them with a priority 1..9: messages/s of each and their ratio, the same run.
 *
 *   npm run bench:priority -- [--behind N] [--drain M] [--runs R]
 *
 * Each run uses a fresh temporary directory; figures are medians over the runs.
 */
import { median, positiveIntegerFlags, withTemporaryBroker } from './bench-kit.js';
import type { Client, PublishInput } from '../src/protocol/index.js';

const BATCH = 5_000;
const RECEIVE_TIMEOUT_MS = 60_000;

const { behind, drain, runs } = positiveIntegerFlags({
  behind: 1_000_000,
  drain: 200_000,
  runs: 3,
});

const mebibytes = (bytes: number): string => (bytes / 1048576).toFixed(0);

const withBroker = <T>(body: (client: Client) => Promise<T>): Promise<T> =>
  withTemporaryBroker('weir-bench-priority-', body);

async function publishBacklog(
  client: Client,
  count: number,
  priorityOf: (index: number) => number,
): Promise<void> {
  for (let start = 0; start < count; start += BATCH) {
    const entries: PublishInput[] = [];
    for (let index = start; index < Math.min(count, start + BATCH); index++) {
      const priority = priorityOf(index);
      entries.push({
        subject: 'jobs',
        body: `job ${index}`,
        ...(priority > 0 ? { options: { priority } } : {}),
      });
    }
    await client.publishBatch(entries);
  }
}

async function createStream(client: Client): Promise<void> {
  await client.streams.create('jobs', { subjects: ['jobs'], storage: 'file', fsync: 'never' });
}

async function behindRun(): Promise<{ position: number; ms: number; heapMiB: number }> {
  return withBroker(async (client) => {
    await createStream(client);
    await publishBacklog(client, behind, () => 0);
    await client.publish('jobs', 'urgent', { priority: 9 });
    const started = performance.now();
    const worker = await client.subscribe('jobs', { subscription: 'w', maxInFlight: 1 });
    let position = 0;
    for (;;) {
      const message = await worker.receive({ timeoutMs: RECEIVE_TIMEOUT_MS });
      if (message === null) throw new Error('no delivery within the timeout');
      position++;
      await message.ack();
      if (message.priority === 9) break;
    }
    const ms = performance.now() - started;
    const heapMiB = process.memoryUsage().heapUsed / 1048576;
    await worker.close();
    return { position, ms, heapMiB };
  });
}

async function drainRun(withPriorities: boolean): Promise<number> {
  return withBroker(async (client) => {
    await createStream(client);
    // 10%: every tenth message, levels 1..9 in turn.
    await publishBacklog(client, drain, (index) =>
      withPriorities && index % 10 === 0 ? 1 + ((index / 10) % 9) : 0,
    );
    const worker = await client.subscribe('jobs', { subscription: 'w', maxInFlight: 1000 });
    const started = performance.now();
    const acks: Promise<void>[] = [];
    for (let received = 0; received < drain; received++) {
      const message = await worker.receive({ timeoutMs: RECEIVE_TIMEOUT_MS });
      if (message === null) throw new Error(`stalled after ${received} messages`);
      acks.push(message.ack());
      if (acks.length >= 1000) await Promise.all(acks.splice(0));
    }
    await Promise.all(acks);
    const seconds = (performance.now() - started) / 1000;
    await worker.close();
    return drain / seconds;
  });
}

const positions: number[] = [];
const latencies: number[] = [];
const heaps: number[] = [];
const plain: number[] = [];
const mixed: number[] = [];
for (let run = 1; run <= runs; run++) {
  const result = await behindRun();
  positions.push(result.position);
  latencies.push(result.ms);
  heaps.push(result.heapMiB);
  const plainRate = await drainRun(false);
  const mixedRate = await drainRun(true);
  plain.push(plainRate);
  mixed.push(mixedRate);
  console.log(
    `run ${run}: priority 9 behind ${behind}: delivery #${result.position} after ${result.ms.toFixed(0)} ms, heap ${result.heapMiB.toFixed(0)} MiB; ` +
      `drain ${drain}: all priority 0 ${plainRate.toFixed(0)} msg/s, 10% with a priority ${mixedRate.toFixed(0)} msg/s`,
  );
}
const ratios = plain.map((rate, index) => mixed[index]! / rate);
console.log(
  `median of ${runs}: priority 9 behind ${behind} priority 0 is delivery #${median(positions)}, ` +
    `first delivery after ${median(latencies).toFixed(0)} ms, heap ${mebibytes(median(heaps) * 1048576)} MiB; ` +
    `drain ${drain}: ${median(plain).toFixed(0)} msg/s plain, ${median(mixed).toFixed(0)} msg/s with 10% priorities ` +
    `(ratio ${median(ratios).toFixed(2)})`,
);
