/**
 * The scheduler across power cuts: seeded random runs of delayed publishes (awaited or left
 * running), clock moves that make messages due (and the moves that follow, left running) and
 * power cuts at random points (FaultyFileSystem.crash: unsynced bytes dropped, sometimes a torn
 * part kept), on an embedded broker with fsync 'always'. At the end every confirmed scheduled
 * message must be in the stream exactly once, and no unconfirmed one more than once.
 *
 * Replay a failure with the seed it prints: WEIR_SEED=<seed>; WEIR_RUNS=<n> runs more or fewer.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Broker } from '../../src/broker/index.js';
import { SEGMENT_BYTES_MIN } from '../../src/limits.js';
import type { Client } from '../../src/protocol/index.js';
import { MemoryFileSystem } from '../../src/storage/index.js';
import { ManualClock } from '../../src/util/index.js';
import { FaultyFileSystem, seededRandom } from '../helpers/faulty-file-system.js';

const DATA_DIR = '/scheduler-crash';
const RUNS_DEFAULT = 12;
const STEPS = 40;
const TIME_LIMIT_MS = 60_000;
const DRAIN_MS = 10_000;

async function turns(count: number): Promise<void> {
  for (let i = 0; i < count; i++) await new Promise<void>((resolve) => setImmediate(resolve));
}

async function runOnce(seed: number): Promise<{ confirmed: number; crashes: number }> {
  const random = seededRandom(seed);
  let fileSystem = new FaultyFileSystem(new MemoryFileSystem(), { seed });
  let clock = new ManualClock(1_700_000_000_000);
  let broker = await Broker.open({ dataDir: DATA_DIR, fileSystem, clock });
  let client: Client = broker.connect();
  const partitions = 1 + Math.floor(random() * 2);
  await client.streams.create('jobs', {
    subjects: ['jobs'],
    partitions,
    fsync: 'always',
    // Small segments: the schedule's truncation below what is pending runs too.
    segmentBytes: SEGMENT_BYTES_MIN,
  });
  const confirmed = new Set<string>();
  const published = new Set<string>();
  let epoch = 0;
  let crashes = 0;
  let next = 0;
  for (let step = 0; step < STEPS; step++) {
    const choice = random();
    if (choice < 0.45) {
      const count = 1 + Math.floor(random() * 20);
      const awaited = random() < 0.5;
      const running: Promise<void>[] = [];
      for (let i = 0; i < count; i++) {
        const body = `m${next++}`;
        const at = epoch;
        published.add(body);
        const delayMs = 1 + Math.floor(random() * 400);
        running.push(
          client.publish('jobs', body, { delayMs, key: `k${next % 7}` }).then(
            (receipt) => {
              assert.equal(receipt.scheduled, true);
              if (at === epoch) confirmed.add(body);
            },
            () => undefined,
          ),
        );
      }
      if (awaited) await Promise.all(running);
    } else if (choice < 0.8) {
      clock.advance(Math.floor(random() * 300));
      await turns(Math.floor(random() * 8));
    } else if (choice < 0.9) {
      await turns(1 + Math.floor(random() * 20));
    } else {
      // A power cut: the running broker is abandoned, never closed; its clock stops with it.
      epoch++;
      crashes++;
      fileSystem = await fileSystem.crash({ tearUnsyncedWrites: random() < 0.5 });
      clock = new ManualClock(clock.now());
      broker = await Broker.open({ dataDir: DATA_DIR, fileSystem, clock });
      client = broker.connect();
    }
  }
  try {
    clock.advance(DRAIN_MS);
    const deadline = Date.now() + DRAIN_MS;
    while ((await client.streams.info('jobs')).scheduled > 0) {
      assert.ok(Date.now() < deadline, 'scheduled messages are moved once due');
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    const subscription = await client.subscribe('jobs', {
      subscription: 'audit',
      start: 'earliest',
      maxInFlight: 10_000,
    });
    const seen = new Map<string, number>();
    for (;;) {
      const message = await subscription.receive({ timeoutMs: 200 });
      if (message === null) break;
      seen.set(message.text(), (seen.get(message.text()) ?? 0) + 1);
    }
    for (const body of confirmed) {
      assert.equal(seen.get(body) ?? 0, 1, `confirmed ${body} is in the stream exactly once`);
    }
    for (const [body, count] of seen) {
      assert.ok(published.has(body), `${body} was published`);
      assert.equal(count, 1, `${body} moved once`);
    }
    return { confirmed: confirmed.size, crashes };
  } finally {
    await broker.close();
  }
}

test('a power cut during delayed publishes and moves neither loses a confirmed scheduled message nor moves one twice', async () => {
  const seedText = process.env['WEIR_SEED'];
  const first = seedText ? Number(seedText) : (Date.now() ^ (Math.random() * 2 ** 31)) | 0;
  const runs = Number(process.env['WEIR_RUNS'] ?? RUNS_DEFAULT);
  const deadline = Date.now() + TIME_LIMIT_MS;
  let confirmed = 0;
  let crashes = 0;
  for (let run = 0; run < runs && Date.now() < deadline; run++) {
    const seed = (first + run) | 0;
    try {
      const result = await runOnce(seed);
      confirmed += result.confirmed;
      crashes += result.crashes;
    } catch (error) {
      throw new Error(`failed with WEIR_SEED=${seed} WEIR_RUNS=1: ${String(error)}`, {
        cause: error,
      });
    }
  }
  assert.ok(confirmed > 0 && crashes > 0, 'the runs confirmed messages and crashed');
});
