/**
 * A priority lane whose reads fail costs priority order, never a retry loop. The walk used to
 * start again at once after each failed read; on a disk whose reads fail at once that was a
 * chain of promises that never let the timers run, so the process spun and never exited (a
 * CI run hung on it). The hook counts the lane reads and heals the disk after a bound, so the
 * old code ends too, and fails the count.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Broker } from '../../src/broker/index.js';
import type { PublishInput } from '../../src/protocol/index.js';
import { MemoryFileSystem } from '../../src/storage/index.js';
import { ManualClock } from '../../src/util/index.js';
import { FaultyFileSystem } from '../helpers/faulty-file-system.js';

const DATA_DIR = '/lane-failure';
const BACKLOG = 3_000;
const URGENT = 50;
/** Lane reads the old code made in a loop; the fixed one makes a few per lane. */
const LANE_READS_BOUND = 2_000;

test('failing lane reads stall the lane: every message still comes, in offset order, and the walk is not retried in a loop', async () => {
  const clock = new ManualClock(1_700_000_000_000);
  const memory = new MemoryFileSystem();
  let broker = await Broker.open({ dataDir: DATA_DIR, fileSystem: memory, clock });
  let client = broker.connect();
  await client.streams.create('jobs', { subjects: ['jobs'], storage: 'file', fsync: 'always' });
  const entries: PublishInput[] = [];
  for (let index = 0; index < BACKLOG; index++)
    entries.push({ subject: 'jobs', body: `b${index}` });
  for (let index = 0; index < URGENT; index++)
    entries.push({ subject: 'jobs', body: `u${index}`, options: { priority: 5 } });
  for (let start = 0; start < entries.length; start += 1_000) {
    const results = await client.publishBatch(entries.slice(start, start + 1_000));
    for (const result of results) assert.ok(!(result instanceof Error), 'a publish failed');
  }
  await broker.close();

  // Reopened, then the lane reads fail: the walk reads the lanes from disk, not from a cache.
  const faulty = new FaultyFileSystem(memory);
  broker = await Broker.open({ dataDir: DATA_DIR, fileSystem: faulty, clock });
  client = broker.connect();
  faulty.inject({ operation: 'read', code: 'EIO', path: /\/priority\// });
  let laneReads = 0;
  faulty.hook = (operation, file) => {
    if (operation !== 'read' || !file.includes('/priority/')) return;
    if (++laneReads === LANE_READS_BOUND) faulty.heal();
  };
  const worker = await client.subscribe('jobs', { subscription: 'w', maxInFlight: 100 });
  const seen = new Set<string>();
  for (let index = 0; index < BACKLOG + URGENT; index++) {
    const message = await worker.receive({ timeoutMs: 10_000 });
    assert.ok(message, `${BACKLOG + URGENT - seen.size} messages never came`);
    assert.ok(!seen.has(message.text()), `${message.text()} came twice`);
    seen.add(message.text());
    await message.ack();
  }
  assert.ok(laneReads > 0, 'the walk read no lane: the test shows nothing');
  assert.ok(
    laneReads < LANE_READS_BOUND,
    `${laneReads} lane reads: a failed walk was retried in a loop`,
  );
  await broker.close();
});
