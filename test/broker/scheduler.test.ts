/** The scheduler's index (capacity, horizon, refill, late arrivals) and its checkpoint file. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  decodeScheduleCheckpoint,
  encodeScheduleCheckpoint,
  readScheduleCheckpoint,
  writeScheduleCheckpoint,
} from '../../src/broker/schedule-checkpoint.js';
import { ScheduleIndex, SmallestKeys, keyBefore } from '../../src/broker/schedule-index.js';
import { ScheduleRecordCache } from '../../src/broker/schedule-record-cache.js';
import { PartitionScheduler } from '../../src/broker/scheduler.js';
import { SCHEDULE_CACHE_SLAB_BYTES } from '../../src/limits.js';
import { MemoryFileSystem, openLog, type PartitionLog } from '../../src/storage/index.js';
import { ManualClock } from '../../src/util/index.js';
import { existsSync } from 'node:fs';
import * as path from 'node:path';
import { Broker } from '../../src/broker/index.js';
import { seededRandom } from '../helpers/faulty-file-system.js';
import { withTemporaryDirectory } from '../helpers/temporary-directory.js';

describe('schedule index', () => {
  test('going over capacity evicts the largest keys and lowers the horizon to them', () => {
    const index = new ScheduleIndex(16);
    const random = seededRandom(7);
    const offered: [number, number][] = [];
    let lowestEvicted = Infinity;
    for (let offset = 0; offset < 200; offset++) {
      const dueAt = Math.floor(random() * 50);
      const result = index.offer(dueAt, offset);
      if (result === -1) {
        assert.ok(!index.belowHorizon(dueAt, offset), 'only keys at or past the horizon stay out');
      } else {
        offered.push([dueAt, offset]);
        lowestEvicted = Math.min(lowestEvicted, result);
      }
      assert.ok(index.size <= index.capacity, 'never over capacity');
    }
    assert.ok(index.bounded, 'the horizon is finite once something was evicted');
    // What is held is exactly the offered keys below the horizon, popped in key order.
    const expected = offered
      .filter(([dueAt, offset]) => index.belowHorizon(dueAt, offset))
      .sort((a, b) => a[0] - b[0] || a[1] - b[1]);
    const popped: [number, number][] = [];
    while (index.size > 0) {
      popped.push([index.firstDueAt, index.firstOffset]);
      index.pop();
    }
    assert.deepEqual(popped, expected);
  });

  test('smallest keys keeps the smallest and remembers the smallest it let go', () => {
    const keys = new SmallestKeys(5);
    for (const [dueAt, offset] of [
      [9, 0],
      [3, 1],
      [7, 2],
      [3, 3],
      [1, 4],
      [8, 5],
      [2, 6],
    ] as const)
      keys.offer(dueAt, offset);
    const kept: [number, number][] = [];
    keys.forEach((dueAt, offset) => kept.push([dueAt, offset]));
    kept.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
    assert.deepEqual(kept, [
      [1, 4],
      [2, 6],
      [3, 1],
      [3, 3],
      [7, 2],
    ]);
    assert.deepEqual([keys.rejectedDueAt, keys.rejectedOffset], [8, 5]);
    assert.equal(keys.rejectedLowestOffset, 0);
    assert.ok(keyBefore(3, 1, 3, 3) && !keyBefore(3, 3, 3, 1));
  });
});

describe('schedule record cache', () => {
  const encoder = new TextEncoder();
  const decoder = new TextDecoder();

  test('a taken record equals the one put (key, headers, body), copied, and is taken once', () => {
    const cache = new ScheduleRecordCache(SCHEDULE_CACHE_SLAB_BYTES);
    const key = encoder.encode('order-7');
    const body = encoder.encode('body ✓');
    const headers = Object.create(null) as Record<string, string>;
    headers[':deliver-at'] = '1234';
    headers['ünïcode'] = 'välue ✓';
    Object.defineProperty(headers, '__proto__', { value: 'own', enumerable: true });
    assert.ok(cache.put(5, 1234, { key, headers, body }));
    assert.ok(cache.put(6, 1235, { key: null, headers: null, body: new Uint8Array(0) }));
    // The cache holds copies: changing the source afterwards changes nothing.
    key[0] = 0;
    body[0] = 0;
    const record = cache.take(5)!;
    assert.equal(record.offset, 5);
    assert.equal(decoder.decode(record.key), 'order-7');
    assert.equal(decoder.decode(record.body), 'body ✓');
    assert.deepEqual({ ...record.headers }, { ...headers });
    assert.equal(Object.getPrototypeOf(record.headers), Object.prototype, 'no prototype set');
    assert.equal(cache.take(5), undefined, 'taken once');
    const empty = cache.take(6)!;
    assert.equal(empty.key, null);
    assert.equal(empty.headers, null);
    assert.equal(empty.body.length, 0);
    assert.equal(cache.size, 0);
    assert.equal(cache.liveBytes, 0);
  });

  test('stays within its bytes; holes left by dropped records are compacted away', () => {
    const slabs = 4;
    const cache = new ScheduleRecordCache(slabs * SCHEDULE_CACHE_SLAB_BYTES);
    const random = seededRandom(5);
    const body = new Uint8Array(200).fill(1);
    const bodyOf = (offset: number): string => `record ${offset}`.padEnd(200, '.');
    let offset = 0;
    const cached = new Set<number>();
    // Fill, then drop three quarters at random (holes), then fill again: compaction makes room.
    for (let round = 0; round < 5; round++) {
      let refused = 0;
      for (let i = 0; i < 10_000 && refused < 10; i++, offset++) {
        body.set(encoder.encode(bodyOf(offset)));
        if (cache.put(offset, offset, { headers: { ':deliver-at': String(offset) }, body }))
          cached.add(offset);
        else refused++;
        assert.ok(cache.bytes <= cache.bytesMax, 'never over its bytes');
      }
      assert.ok(refused > 0, 'a full cache refuses');
      assert.ok(cache.liveBytes > cache.bytesMax / 2, `round ${round}: filled, not refused early`);
      for (const dropped of [...cached]) {
        if (random() < 0.75) {
          cache.delete(dropped);
          cached.delete(dropped);
        }
      }
    }
    assert.equal(cache.size, cached.size);
    for (const kept of cached) {
      const record = cache.take(kept)!;
      assert.equal(decoder.decode(record.body), bodyOf(kept), `record ${kept} survived compaction`);
      assert.equal(record.headers?.[':deliver-at'], String(kept));
    }
    assert.equal(cache.bytes, 0, 'empty slabs go');
  });

  test('sweep and dropBelow drop by key; a cache of 0 bytes caches nothing', () => {
    const cache = new ScheduleRecordCache(SCHEDULE_CACHE_SLAB_BYTES);
    const body = encoder.encode('x');
    for (let offset = 0; offset < 100; offset++) cache.put(offset, 1000 + offset, { body });
    cache.sweep((dueAt) => dueAt < 1050);
    assert.equal(cache.size, 50);
    cache.dropBelow(10);
    assert.equal(cache.size, 40);
    assert.equal(cache.take(9), undefined);
    assert.ok(cache.take(10) !== undefined);
    assert.ok(!new ScheduleRecordCache(0).put(0, 0, { body }));
  });
});

describe('schedule checkpoint', () => {
  const checkpoint = { movedDueAt: 1_700_000_000_123, movedOffset: 42, mainOffset: 7 };

  test('round-trips, and a torn, flipped or garbage file reads as none', () => {
    const bytes = encodeScheduleCheckpoint(checkpoint);
    assert.deepEqual(decodeScheduleCheckpoint(bytes), checkpoint);
    for (let length = 0; length < bytes.length; length++) {
      assert.equal(decodeScheduleCheckpoint(bytes.subarray(0, length)), null, `torn at ${length}`);
    }
    for (let at = 0; at < bytes.length; at++) {
      const flipped = bytes.slice();
      flipped[at]! ^= 0x10;
      assert.equal(decodeScheduleCheckpoint(flipped), null, `bit flipped in byte ${at}`);
    }
    assert.equal(decodeScheduleCheckpoint(new Uint8Array(32).fill(0xab)), null);
    assert.deepEqual(
      decodeScheduleCheckpoint(
        encodeScheduleCheckpoint({ movedDueAt: -1, movedOffset: -1, mainOffset: 0 }),
      ),
      { movedDueAt: -1, movedOffset: -1, mainOffset: 0 },
    );
  });

  test('is replaced atomically; a leftover temporary file is dropped; garbage reads as none', async () => {
    const fileSystem = new MemoryFileSystem();
    await fileSystem.mkdir('/schedule');
    assert.equal(await readScheduleCheckpoint(fileSystem, '/schedule'), null);
    await writeScheduleCheckpoint(fileSystem, '/schedule', checkpoint);
    const handle = await fileSystem.open('/schedule/checkpoint.tmp');
    await handle.write(new Uint8Array([1, 2, 3]), 0, 3, 0);
    await handle.close();
    fileSystem.crash();
    assert.deepEqual(await readScheduleCheckpoint(fileSystem, '/schedule'), checkpoint);
    assert.equal(await fileSystem.readFile('/schedule/checkpoint.tmp'), null);
    const garbage = await fileSystem.open('/schedule/checkpoint');
    await garbage.write(new Uint8Array(32).fill(7), 0, 32, 0);
    await garbage.close();
    assert.equal(await readScheduleCheckpoint(fileSystem, '/schedule'), null);
  });
});

interface Rig {
  readonly clock: ManualClock;
  readonly main: PartitionLog;
  readonly scheduler: PartitionScheduler;
}

async function rig(indexMax: number, cacheBytesMax?: number): Promise<Rig> {
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
    ...(cacheBytesMax === undefined ? {} : { cacheBytesMax }),
  });
  scheduler.start();
  return { clock, main, scheduler };
}

/** The (dueAt, body) of every record in the main log, in offset order. */
async function movedRecords(main: PartitionLog): Promise<{ dueAt: number; body: string }[]> {
  const moved: { dueAt: number; body: string }[] = [];
  let offset = 0;
  while (offset < main.committedOffset) {
    const records = await main.read(offset, { maxRecords: 512 });
    for (const record of records) {
      moved.push({
        dueAt: Number(record.headers?.[':deliver-at']),
        body: new TextDecoder().decode(record.body),
      });
    }
    offset = records[records.length - 1]!.offset + 1;
  }
  return moved;
}

async function settle(rig: Rig, until: () => boolean): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!until()) {
    assert.ok(Date.now() < deadline, 'the scheduler settles');
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
}

describe('partition scheduler', () => {
  for (const [cacheBytesMax, what] of [
    [undefined, 'records cached'],
    [0, 'no record cache: every move reads'],
  ] as const) {
    test(`a small index over many scheduled records, with late arrivals during refills, moves each once in due order (${what})`, async () => {
      const setup = await rig(32, cacheBytesMax);
      const { clock, main, scheduler } = setup;
      const random = seededRandom(11);
      const encoder = new TextEncoder();
      let scheduled = 0;
      const schedule = (dueAt: number): void => {
        const body = `s${scheduled++}`;
        const offset = scheduler.schedule(
          { headers: { ':deliver-at': String(dueAt) }, body: encoder.encode(body) },
          dueAt,
        );
        assert.ok(offset >= 0);
      };
      for (let i = 0; i < 2000; i++) schedule(clock.now() + 1 + Math.floor(random() * 10_000));
      await main.flush();
      await settle(setup, () => scheduler.indexSize > 0);
      let maxIndex = 0;
      for (let step = 0; step < 400; step++) {
        clock.advance(40);
        // Late arrivals: some before the horizon, some past it, while refills run.
        for (let i = 0; i < 3; i++) schedule(clock.now() + 1 + Math.floor(random() * 4000));
        await new Promise((resolve) => setImmediate(resolve));
        maxIndex = Math.max(maxIndex, scheduler.indexSize);
        assert.ok(scheduler.indexSize <= 32, 'the index stays within its capacity');
      }
      clock.advance(20_000);
      await settle(setup, () => scheduler.pending === 0 && main.committedOffset === scheduled);
      // Refills may still be topping up at the very end: give the last passes room.
      for (let i = 0; i < 50 && main.committedOffset < scheduled; i++) clock.advance(100);
      const moved = await movedRecords(main);
      assert.equal(moved.length, scheduled);
      assert.equal(new Set(moved.map((record) => record.body)).size, scheduled, 'each moved once');
      for (let i = 1; i < moved.length; i++) {
        assert.ok(moved[i - 1]!.dueAt <= moved[i]!.dueAt, `moved in due order at ${i}`);
      }
      assert.equal(scheduler.indexSize, 0);
      const cache = scheduler.recordCache;
      if (cacheBytesMax === 0) assert.equal(cache.hits, 0);
      else assert.ok(cache.hits > scheduled / 2, `most moves took a cached record (${cache.hits})`);
      assert.equal(cache.size, 0, 'nothing is left cached once everything moved');
      await scheduler.close();
      await main.close();
    });
  }

  test('20,000 scheduled records keep the index at its capacity; the rest wait on disk', async () => {
    const setup = await rig(2000);
    const { clock, main, scheduler } = setup;
    const encoder = new TextEncoder();
    const body = encoder.encode('x');
    const count = 20_000;
    for (let i = 0; i < count; i++) {
      const dueAt = clock.now() + 1000 + ((i * 7919) % count);
      scheduler.schedule({ headers: { ':deliver-at': String(dueAt) }, body }, dueAt);
      assert.ok(scheduler.indexSize <= scheduler.indexCapacity);
    }
    assert.equal(scheduler.pending, count);
    assert.ok(scheduler.indexSize <= 2000 && scheduler.indexSize >= 1000, 'full, within capacity');
    clock.advance(1000 + count);
    await settle(setup, () => main.committedOffset === count);
    assert.equal(scheduler.pending, 0);
    await scheduler.close();
    await main.close();
  });
});

describe('stream with a schedule', () => {
  test('deleting the stream removes its schedule directory', () =>
    withTemporaryDirectory(async (dataDir) => {
      const clock = new ManualClock();
      const broker = await Broker.open({ dataDir, clock });
      try {
        const client = broker.connect();
        await client.streams.create('jobs', { subjects: ['jobs'] });
        await client.publish('jobs', 'later', { delayMs: 60_000 });
        const schedule = path.join(dataDir, 'streams', 'jobs', 'schedule', '0');
        assert.ok(existsSync(schedule), 'the schedule lives under the stream');
        await client.streams.delete('jobs');
        assert.ok(!existsSync(path.join(dataDir, 'streams', 'jobs')), 'the stream directory went');
      } finally {
        await broker.close();
      }
    }));
});
