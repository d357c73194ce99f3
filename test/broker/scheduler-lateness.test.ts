/**
 * What keeps due messages on time (issue 12 item 3, 50 ms p99): a refill scan takes only the
 * keys that fit the index (no eviction at its end), a full record cache compacts once a
 * quarter of it is holes, and refills start by time (when the index would run dry within the
 * refill lead), not only by count.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { SmallestKeys } from '../../src/broker/schedule-index.js';
import { ScheduleRecordCache } from '../../src/broker/schedule-record-cache.js';
import { PartitionScheduler } from '../../src/broker/scheduler.js';
import {
  SCHEDULE_CACHE_COMPACT_LIVE_PERCENT,
  SCHEDULE_CACHE_SLAB_BYTES,
  SCHEDULE_REFILL_LEAD_MS,
} from '../../src/limits.js';
import { MemoryFileSystem, openLog, type PartitionLog } from '../../src/storage/index.js';
import { ManualClock } from '../../src/util/index.js';
import { seededRandom } from '../helpers/faulty-file-system.js';

const encoder = new TextEncoder();
const decoder = new TextDecoder();

describe('smallest keys: keepSmallest', () => {
  test('keeps the smallest, drops the rest largest first, and counts them as rejected', () => {
    const keys = new SmallestKeys(8);
    const random = seededRandom(3);
    const offered: [number, number][] = [];
    for (let offset = 0; offset < 8; offset++) {
      const dueAt = Math.floor(random() * 100);
      offered.push([dueAt, offset]);
      keys.offer(dueAt, offset);
    }
    offered.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
    const dropped: number[] = [];
    keys.keepSmallest(3, (offset) => dropped.push(offset));
    assert.equal(keys.size, 3);
    assert.deepEqual(
      dropped,
      offered
        .slice(3)
        .reverse()
        .map(([, offset]) => offset),
      'the five largest, largest first',
    );
    const kept: [number, number][] = [];
    keys.forEach((dueAt, offset) => kept.push([dueAt, offset]));
    kept.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
    assert.deepEqual(kept, offered.slice(0, 3));
    assert.deepEqual([keys.rejectedDueAt, keys.rejectedOffset], offered[3]);
    assert.equal(keys.rejectedLowestOffset, Math.min(...offered.slice(3).map(([, o]) => o)));
    keys.keepSmallest(5, () => assert.fail('nothing to drop'));
    keys.keepSmallest(-1, () => undefined);
    assert.equal(keys.size, 0);
    assert.deepEqual([keys.rejectedDueAt, keys.rejectedOffset], offered[0]);
  });
});

describe('schedule record cache compaction', () => {
  const bodyOf = (offset: number): string => `record ${offset}`.padEnd(200, '.');

  /** Fills a 4-slab cache, then drops `fraction` of its records at random. */
  function holey(fraction: number): { cache: ScheduleRecordCache; cached: Set<number> } {
    const cache = new ScheduleRecordCache(4 * SCHEDULE_CACHE_SLAB_BYTES);
    const cached = new Set<number>();
    for (let offset = 0; offset < 100_000; offset++) {
      if (!cache.put(offset, offset, { body: encoder.encode(bodyOf(offset)) })) break;
      cached.add(offset);
    }
    assert.ok(cached.size > 1000, 'the cache filled');
    const random = seededRandom(9);
    for (const offset of [...cached]) {
      if (random() < fraction) {
        cache.delete(offset);
        cached.delete(offset);
      }
    }
    return { cache, cached };
  }

  test('a full cache with a third of it holes compacts and takes new records', () => {
    const { cache, cached } = holey(1 / 3);
    assert.ok(cache.liveBytes <= (cache.bytes * SCHEDULE_CACHE_COMPACT_LIVE_PERCENT) / 100);
    let taken = 0;
    for (let offset = 100_000; offset < 100_000 + cached.size; offset++) {
      if (!cache.put(offset, offset, { body: encoder.encode(bodyOf(offset)) })) break;
      cached.add(offset);
      taken++;
      assert.ok(cache.bytes <= cache.bytesMax, 'never over its bytes');
    }
    // Compacting half-full-of-live slabs made room for about the holes' worth of records.
    assert.ok(taken > cached.size / 5, `took ${taken} new records after compaction`);
    for (const offset of cached) {
      assert.equal(decoder.decode(cache.take(offset)!.body), bodyOf(offset), `record ${offset}`);
    }
    assert.equal(cache.size, 0);
    assert.equal(cache.bytes, 0, 'empty slabs go');
  });

  test('a full cache that is mostly live refuses rather than compacting', () => {
    const { cache } = holey(0.05);
    assert.ok(cache.liveBytes > (cache.bytes * SCHEDULE_CACHE_COMPACT_LIVE_PERCENT) / 100);
    const bytes = cache.bytes;
    assert.ok(!cache.put(1_000_000, 0, { body: encoder.encode(bodyOf(0)) }));
    assert.equal(cache.bytes, bytes);
  });
});

interface Rig {
  readonly clock: ManualClock;
  readonly main: PartitionLog;
  readonly scheduler: PartitionScheduler;
}

async function rig(indexMax: number): Promise<Rig> {
  const fileSystem = new MemoryFileSystem();
  const clock = new ManualClock(1_000_000);
  const options = {
    fileSystem,
    fsync: 'never' as const,
    tailCacheBytes: 0,
    clock: () => clock.now(),
  };
  const main = await openLog({ ...options, directory: '/main' });
  const schedule = await openLog({ ...options, directory: '/schedule', batchRecordsMax: 16 });
  const scheduler = await PartitionScheduler.open({
    schedule,
    main,
    fileSystem,
    clock,
    appendDue: (records) => main.enqueue(records),
    indexMax,
  });
  scheduler.start();
  return { clock, main, scheduler };
}

/** Lets passes, scans and reads run (memory file system: each step is a few turns). */
async function turns(count: number): Promise<void> {
  for (let i = 0; i < count; i++) await new Promise((resolve) => setImmediate(resolve));
}

describe('partition scheduler refills', () => {
  test('a refill starts when the index would run dry within the lead, not only at half full', async () => {
    const capacity = 1000;
    const { clock, main, scheduler } = await rig(capacity);
    // 6,000 records due one every 4 ms (250 a second), published in random order: the index
    // holds the soonest 750-1,000 (3-4 s of them); the refill lead (5 s) is longer than that.
    const count = 6000;
    const step = 4;
    assert.ok(SCHEDULE_REFILL_LEAD_MS > ((capacity * 3) / 4) * step, 'the lead covers 3/4 of it');
    const order = Array.from({ length: count }, (_, i) => i);
    const random = seededRandom(21);
    for (let i = count - 1; i > 0; i--) {
      const j = Math.floor(random() * (i + 1));
      [order[i], order[j]] = [order[j]!, order[i]!];
    }
    const start = clock.now() + 1000;
    for (const i of order) {
      const dueAt = start + i * step;
      const offset = scheduler.schedule(
        { headers: { ':deliver-at': String(dueAt) }, body: encoder.encode(`m${i}`) },
        dueAt,
      );
      assert.ok(offset >= 0);
    }
    await scheduler.scheduleLog.flush();
    await turns(20);
    let lowest = Infinity;
    let moved = 0;
    // The index size seen just before it first grew again (the first refill's doing).
    let beforeRefill = -1;
    let previous = scheduler.indexSize;
    // 100 ms a step (25 records due each); bounded: 6,000 × 4 ms is 24 s, so 300 steps suffice.
    for (let i = 0; i < 300 && moved < count; i++) {
      clock.advance(100);
      await turns(20);
      await main.flush();
      moved = main.committedOffset;
      if (scheduler.pending > scheduler.indexSize) lowest = Math.min(lowest, scheduler.indexSize);
      if (beforeRefill < 0 && scheduler.indexSize > previous) beforeRefill = previous;
      previous = scheduler.indexSize;
      assert.ok(scheduler.indexSize <= capacity, 'within capacity');
    }
    assert.equal(moved, count, 'everything moved');
    assert.equal(scheduler.pending, 0);
    // By count alone the first refill began under 500 keys; by time it begins under 750 (the
    // lead covers more than that many; a step moves 25).
    assert.ok(beforeRefill > capacity * 0.6, `the first refill began early (${beforeRefill} left)`);
    assert.ok(lowest >= capacity / 2, `the index stayed over half full (lowest ${lowest})`);
    const records = await main.read(0, { maxRecords: count });
    for (let i = 1; i < records.length; i++) {
      assert.ok(
        Number(records[i - 1]!.headers![':deliver-at']) <=
          Number(records[i]!.headers![':deliver-at']),
        `moved in due order at ${i}`,
      );
    }
    await scheduler.close();
    await main.close();
  });

  test('a refill that finds more than fits fills the index to capacity, evicting nothing', async () => {
    const capacity = 400;
    const { clock, main, scheduler } = await rig(capacity);
    // 300 due soon, then 2,000 due much later: the index holds the 300 and some of the rest.
    const count = 2300;
    const start = clock.now() + 1000;
    for (let i = 0; i < count; i++) {
      const dueAt = i < 300 ? start + i : start + 1_000_000 + i;
      const offset = scheduler.schedule(
        { headers: { ':deliver-at': String(dueAt) }, body: encoder.encode(`m${i}`) },
        dueAt,
      );
      assert.ok(offset >= 0);
    }
    await scheduler.scheduleLog.flush();
    await turns(20);
    assert.ok(scheduler.indexSize >= 300 && scheduler.indexSize <= capacity);
    // 150 of the soon ones fall due: the index drops under half (150 left), a refill scan
    // takes 3/4 of the capacity (300) from disk, more than the room left (250). Merged whole,
    // the index would go over and evict down to 3/4 (300); taking what fits leaves it full.
    clock.advance(1000 + 149);
    for (let i = 0; i < 500 && scheduler.indexSize < capacity; i++) await turns(1);
    assert.equal(scheduler.indexSize, capacity, 'full after the refill');
    await main.flush();
    assert.equal(main.committedOffset, 150, 'the due ones moved (start + 0 .. start + 149)');
    // The rest all move, once each and in due order, through further refills.
    clock.advance(2_000_000);
    for (let i = 0; i < 2000 && main.committedOffset < count; i++) {
      await turns(2);
      await main.flush();
    }
    assert.equal(main.committedOffset, count, 'everything moved');
    const records = await main.read(0, { maxRecords: count });
    assert.equal(new Set(records.map((record) => decoder.decode(record.body))).size, count);
    for (let i = 1; i < records.length; i++) {
      assert.ok(
        Number(records[i - 1]!.headers![':deliver-at']) <=
          Number(records[i]!.headers![':deliver-at']),
        `moved in due order at ${i}`,
      );
    }
    await scheduler.close();
    await main.close();
  });
});
