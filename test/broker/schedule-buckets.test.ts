/**
 * The scheduler's due-time buckets (schedule-buckets.ts): what a window read returns, what
 * they refuse, how they fail (off for good, never wrong), and the scheduler over them: moves
 * still each record once in due order when bucket writes or reads fail, and across power cuts
 * (bucket files are never synced: a restart rebuilds them from the schedule log).
 *
 * Replay the crash runs with the seed they print: WEIR_SEED=<seed>; WEIR_RUNS=<n>.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ScheduleBuckets } from '../../src/broker/schedule-buckets.js';
import { unpackRecord } from '../../src/broker/schedule-record-packing.js';
import { PartitionScheduler } from '../../src/broker/scheduler.js';
import { SCHEDULE_BUCKET_WRITE_BYTES } from '../../src/limits.js';
import {
  MemoryFileSystem,
  openLog,
  type FileSystem,
  type PartitionLog,
} from '../../src/storage/index.js';
import { ManualClock } from '../../src/util/index.js';
import { FaultyFileSystem, seededRandom } from '../helpers/faulty-file-system.js';

const encoder = new TextEncoder();
const decoder = new TextDecoder();

interface Seen {
  readonly dueAt: number;
  readonly offset: number;
  readonly body: string;
  readonly key: string | null;
  readonly headers: Record<string, string> | null;
}

async function readWindow(buckets: ScheduleBuckets, window: number): Promise<Seen[]> {
  const seen: Seen[] = [];
  await buckets.read(window, (dueAt, offset, chunk, start) => {
    const record = unpackRecord(chunk, start, offset);
    seen.push({
      dueAt,
      offset,
      body: decoder.decode(record.body),
      key: record.key ? decoder.decode(record.key) : null,
      headers: record.headers ? { ...record.headers } : null,
    });
  });
  return seen;
}

describe('schedule buckets', () => {
  test('a window read returns every record added to it (written and buffered), in order, and only those', async () => {
    const fileSystem = new MemoryFileSystem();
    const buckets = await ScheduleBuckets.open(fileSystem, '/s/buckets', 100, 50, 0);
    buckets.built();
    const expected = new Map<number, Seen[]>();
    const random = seededRandom(5);
    // Enough for some windows to write chunks (over SCHEDULE_BUCKET_WRITE_BYTES) and others not.
    const bodyBytes = Math.ceil(SCHEDULE_BUCKET_WRITE_BYTES / 100);
    for (let offset = 0; offset < 3000; offset++) {
      const window = Math.floor(random() * 10) === 0 ? 7 : Math.floor(random() * 5);
      const dueAt = window * 100 + Math.floor(random() * 100);
      const body = `b${offset}`.padEnd(window === 7 ? bodyBytes : 8, '.');
      const key = offset % 3 === 0 ? null : `k${offset}`;
      const headers = offset % 5 === 0 ? null : { ':deliver-at': String(dueAt), é: 'ü' };
      const source = {
        key: key === null ? null : encoder.encode(key),
        headers,
        body: encoder.encode(body),
      };
      assert.equal(buckets.add(dueAt, offset, source), true);
      const list = expected.get(window) ?? [];
      list.push({ dueAt, offset, body, key, headers });
      expected.set(window, list);
    }
    for (let window = 0; window < 10; window++) {
      assert.deepEqual(
        await readWindow(buckets, window),
        expected.get(window) ?? [],
        `window ${window}`,
      );
      assert.ok(buckets.canServe(window));
    }
    assert.ok(
      (await fileSystem.readdir('/s/buckets')).length > 0,
      'window 7 was written to its file (more than one chunk)',
    );
    // Records added after a read are in the next read.
    buckets.add(705, 5000, { body: encoder.encode('late') });
    const again = await readWindow(buckets, 7);
    assert.equal(again.length, expected.get(7)!.length + 1);
    assert.equal(again[again.length - 1]!.body, 'late');
    assert.equal(buckets.failure, null);
    await buckets.close();
    assert.deepEqual(await fileSystem.readdir('/s'), [], 'close removes the bucket files');
  });

  test('refuses far records (and then cannot serve from their due time on); not built, dropped or past the range cannot serve', async () => {
    const fileSystem = new MemoryFileSystem();
    const buckets = await ScheduleBuckets.open(fileSystem, '/b', 100, 10, 1000);
    assert.equal(buckets.canServe(10), false, 'not built yet');
    buckets.built();
    assert.equal(buckets.canServe(10), true);
    assert.equal(buckets.canServe(20), false, 'past the range of 10 windows');
    assert.equal(buckets.add(2500, 0, { body: encoder.encode('far') }), false);
    assert.equal(buckets.incompleteFromDueAt, 2500);
    buckets.markIncomplete(1550, 7);
    assert.equal(buckets.canServe(15), false, 'past a record not bucketed');
    assert.equal(buckets.canServe(14), true);
    assert.equal(buckets.add(1250, 1, { body: encoder.encode('near') }), true);
    assert.equal(buckets.lowestOffsetFrom(12), 0, 'the far one is lowest');
    buckets.dropBelow(13);
    assert.equal(buckets.canServe(12), false, 'dropped');
    assert.deepEqual(await readWindow(buckets, 12), [], 'a dropped window reads as empty');
    buckets.reset(1000);
    assert.equal(buckets.canServe(12), false, 'a reset is not built');
    buckets.built();
    assert.equal(buckets.canServe(12), true, 'a reset forgets the far record and the drop');
    await buckets.close();
  });

  test('open removes what a previous run left', async () => {
    const fileSystem = new MemoryFileSystem();
    await fileSystem.mkdir('/b');
    const handle = await fileSystem.open('/b/1-12.bucket');
    await handle.write(new Uint8Array([1, 2, 3]), 0, 3, 0);
    await handle.close();
    const buckets = await ScheduleBuckets.open(fileSystem, '/b', 100, 10, 1000);
    assert.deepEqual(await fileSystem.readdir('/b'), []);
    buckets.built();
    assert.deepEqual(await readWindow(buckets, 12), []);
    await buckets.close();
  });

  test('a failed write or a damaged chunk turns them off for good: reads throw, adds refuse', async () => {
    for (const damage of ['write', 'flip'] as const) {
      const memory = new MemoryFileSystem();
      const fileSystem = new FaultyFileSystem(memory, { seed: 3 });
      const buckets = await ScheduleBuckets.open(fileSystem, '/b', 100, 10, 0);
      buckets.built();
      if (damage === 'write')
        fileSystem.inject({ operation: 'write', code: 'EIO', path: /\.bucket$/ });
      const body = encoder.encode('x'.repeat(1000));
      for (let offset = 0; offset < 100; offset++) buckets.add(50, offset, { body });
      await readWindow(buckets, 0).catch(() => undefined);
      if (damage === 'flip') {
        assert.equal(buckets.failure, null);
        const [name] = await memory.readdir('/b');
        const file = await memory.open(`/b/${name!}`);
        await file.write(new Uint8Array([0xff]), 0, 1, 500);
        await file.close();
        await assert.rejects(readWindow(buckets, 0));
      }
      assert.notEqual(buckets.failure, null, `failed (${damage})`);
      assert.equal(buckets.canServe(0), false);
      assert.equal(buckets.add(60, 200, { body }), false);
      await assert.rejects(readWindow(buckets, 0));
      await buckets.close();
    }
  });
});

interface Rig {
  readonly clock: ManualClock;
  readonly main: PartitionLog;
  readonly schedule: PartitionLog;
  readonly scheduler: PartitionScheduler;
}

async function rig(
  fileSystem: FileSystem,
  clock: ManualClock,
  fsync: 'always' | 'never',
): Promise<Rig> {
  const options = { fileSystem, fsync, tailCacheBytes: 0, clock: () => clock.now() };
  const main = await openLog({ ...options, directory: '/main' });
  const schedule = await openLog({ ...options, directory: '/schedule', batchRecordsMax: 4 });
  const scheduler = await PartitionScheduler.open({
    schedule,
    main,
    fileSystem,
    clock,
    appendDue: (records) => main.enqueue(records),
    indexMax: 24,
    bucketWindowMs: 50,
    bucketWindowsMax: 40,
  });
  scheduler.start();
  return { clock, main, schedule, scheduler };
}

async function movedBodies(main: PartitionLog): Promise<{ body: string; dueAt: number }[]> {
  const moved: { body: string; dueAt: number }[] = [];
  let offset = main.startOffset;
  while (offset < main.committedOffset) {
    const records = await main.read(offset, { maxRecords: 512 });
    if (records.length === 0) break;
    for (const record of records)
      moved.push({
        body: decoder.decode(record.body),
        dueAt: Number(record.headers?.[':deliver-at']),
      });
    offset = records[records.length - 1]!.offset + 1;
  }
  return moved;
}

async function turns(count: number): Promise<void> {
  for (let i = 0; i < count; i++) await new Promise<void>((resolve) => setImmediate(resolve));
}

describe('scheduler over buckets', () => {
  for (const fault of ['none', 'write', 'read'] as const) {
    test(`moves each record once, in due order, past a small index (bucket faults: ${fault})`, async () => {
      const fileSystem = new FaultyFileSystem(new MemoryFileSystem(), { seed: 9 });
      if (fault === 'write')
        fileSystem.inject({ operation: 'write', code: 'ENOSPC', path: /\.bucket$/, nth: 3 });
      if (fault === 'read')
        fileSystem.inject({ operation: 'read', code: 'EIO', path: /\.bucket$/, nth: 2 });
      let bucketReads = 0;
      // Bucket reads take a turn, so that records are scheduled while refills read.
      fileSystem.hook = async (operation, file) => {
        if (operation !== 'read' || !file.endsWith('.bucket')) return;
        bucketReads++;
        await new Promise<void>((resolve) => setImmediate(resolve));
      };
      const clock = new ManualClock(1_000_000);
      const { main, scheduler } = await rig(fileSystem, clock, 'never');
      const random = seededRandom(21);
      let scheduled = 0;
      const schedule = (dueAt: number): void => {
        const body = encoder.encode(`s${scheduled++}`.padEnd(300, '.'));
        const offset = scheduler.schedule(
          { headers: { ':deliver-at': String(dueAt) }, body },
          dueAt,
        );
        assert.ok(offset >= 0);
      };
      for (let i = 0; i < 600; i++) schedule(clock.now() + 1 + Math.floor(random() * 1500));
      // Far ones too: past the buckets' 40 windows of 50 ms.
      for (let i = 0; i < 20; i++) schedule(clock.now() + 3000 + Math.floor(random() * 1000));
      for (let step = 0; step < 300; step++) {
        clock.advance(10);
        for (let i = 0; i < 3; i++) {
          schedule(clock.now() + 1 + Math.floor(random() * 800));
          await turns(1);
        }
        assert.ok(scheduler.indexSize <= 24);
      }
      const deadline = Date.now() + 10_000;
      while (scheduler.pending > 0 || main.committedOffset < scheduled) {
        assert.ok(Date.now() < deadline, `all move (${main.committedOffset} of ${scheduled})`);
        clock.advance(50);
        await turns(5);
      }
      const moved = await movedBodies(main);
      assert.equal(moved.length, scheduled);
      assert.equal(new Set(moved.map((record) => record.body)).size, scheduled, 'each once');
      for (let i = 1; i < moved.length; i++)
        assert.ok(moved[i - 1]!.dueAt <= moved[i]!.dueAt, `in due order at ${i}`);
      assert.ok(bucketReads > 0, 'refills and prefetches read buckets');
      if (fault === 'none') assert.equal(scheduler.buckets.failure, null);
      else assert.notEqual(scheduler.buckets.failure, null, 'the fault reached the buckets');
      assert.equal(scheduler.failure, null, 'a bucket fault does not stop the scheduler');
      await scheduler.close();
      await main.close();
    });
  }

  test('power cuts while records are scheduled, refilled from buckets and moved lose none and move none twice', async () => {
    const runs = Number(process.env['WEIR_RUNS'] ?? 8);
    const firstSeed = Number(process.env['WEIR_SEED'] ?? 1);
    for (let seed = firstSeed; seed < firstSeed + runs; seed++) {
      try {
        await crashRun(seed);
      } catch (error) {
        console.error(`schedule buckets crash run failed: WEIR_SEED=${seed} WEIR_RUNS=1`);
        throw error;
      }
    }
  });
});

async function crashRun(seed: number): Promise<void> {
  const random = seededRandom(seed);
  let fileSystem = new FaultyFileSystem(new MemoryFileSystem(), { seed });
  let clock = new ManualClock(1_000_000);
  let current = await rig(fileSystem, clock, 'always');
  const durable = new Set<string>();
  const published = new Set<string>();
  let epoch = 0;
  let next = 0;
  for (let step = 0; step < 60; step++) {
    const choice = random();
    const { scheduler, schedule } = current;
    if (choice < 0.4) {
      const count = 1 + Math.floor(random() * 40);
      for (let i = 0; i < count; i++) {
        const body = `m${next++}`;
        const dueAt = clock.now() + 1 + Math.floor(random() * 1500);
        const at = epoch;
        published.add(body);
        const offset = scheduler.schedule(
          { headers: { ':deliver-at': String(dueAt) }, body: encoder.encode(body) },
          dueAt,
        );
        if (offset < 0) continue;
        schedule.durable(offset + 1).then(
          () => {
            if (at === epoch) durable.add(body);
          },
          () => undefined,
        );
      }
      if (random() < 0.5) await schedule.flush().catch(() => undefined);
    } else if (choice < 0.8) {
      clock.advance(Math.floor(random() * 120));
      await turns(Math.floor(random() * 10));
    } else if (choice < 0.9) {
      await turns(1 + Math.floor(random() * 20));
    } else {
      // A power cut: the running scheduler is abandoned, never closed.
      epoch++;
      fileSystem = await fileSystem.crash({ tearUnsyncedWrites: random() < 0.5 });
      clock = new ManualClock(clock.now());
      current = await rig(fileSystem, clock, 'always');
    }
  }
  const { main, scheduler } = current;
  const deadline = Date.now() + 10_000;
  clock.advance(2000);
  while (scheduler.pending > 0) {
    assert.ok(Date.now() < deadline, `seed ${seed}: every scheduled record moves`);
    clock.advance(50);
    await turns(5);
  }
  await main.flush();
  const seen = new Map<string, number>();
  for (const { body } of await movedBodies(main)) seen.set(body, (seen.get(body) ?? 0) + 1);
  for (const body of durable)
    assert.equal(seen.get(body) ?? 0, 1, `seed ${seed}: durable ${body} moved exactly once`);
  for (const [body, count] of seen) {
    assert.ok(published.has(body), `seed ${seed}: ${body} was scheduled`);
    assert.equal(count, 1, `seed ${seed}: ${body} moved once`);
  }
  assert.ok(durable.size > 0, `seed ${seed}: the run scheduled something durably`);
  await scheduler.close();
  await main.close();
}
