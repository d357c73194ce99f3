/**
 * One conformance suite for every store the log runs on (nats-server's store tests): the file
 * log on the real disk, the memory log, and the file log over the fault-injecting file system
 * — with faults off, and with every write and read cut short at random (the FileHandle
 * contract allows it; the log must loop). Each store must behave the same on every point of
 * the PartitionLog contract in src/storage/index.ts.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as path from 'node:path';
import {
  MemoryFileSystem,
  nodeFileSystem,
  openLog,
  openMemoryLog,
  removeLog,
  type FileSystem,
  type LogOptions,
  type PartitionLog,
  type RecordInput,
  type StoredRecord,
} from '../../src/storage/index.js';
import { RECORD_BYTES_MAX, RECORD_HEADERS_MAX } from '../../src/limits.js';
import { isWeirError } from '../../src/util/index.js';
import { FaultyFileSystem } from '../helpers/faulty-file-system.js';
import { createTemporaryDirectory } from '../helpers/temporary-directory.js';
import { fromInput, fromStored, type Comparable } from '../helpers/comparable-record.js';

type StoreOptions = Omit<LogOptions, 'directory' | 'fileSystem' | 'fsync'>;

interface StoreContext {
  /** Opens the log; a second call (after close) reopens the same storage when `reopenable`. */
  open(options?: StoreOptions): Promise<PartitionLog>;
  /** The file system and directory under the log, when the store has files to look at. */
  readonly files: { fileSystem: FileSystem; directory: string } | null;
  /** File syncs made so far, when the store can count them. */
  syncs(): number | null;
  dispose(): Promise<void>;
}

interface StoreFactory {
  readonly name: string;
  readonly reopenable: boolean;
  create(): Promise<StoreContext>;
}

/** Closes every log a context opened (ignoring CLOSED), then disposes of the storage. */
function tracking(
  openRaw: (options: StoreOptions) => Promise<PartitionLog>,
  rest: Omit<StoreContext, 'open'>,
): StoreContext {
  const opened: PartitionLog[] = [];
  return {
    async open(options = {}) {
      const log = await openRaw(options);
      opened.push(log);
      return log;
    },
    files: rest.files,
    syncs: rest.syncs,
    async dispose() {
      for (const log of opened) await log.close().catch(() => undefined);
      await rest.dispose();
    },
  };
}

const realDiskStore: StoreFactory = {
  name: 'file log on the real disk',
  reopenable: true,
  async create() {
    const temporary = await createTemporaryDirectory('weir-conformance-');
    const directory = path.join(temporary.path, 'log');
    return tracking((options) => openLog({ ...options, directory, fsync: 'always' }), {
      files: { fileSystem: nodeFileSystem, directory },
      syncs: () => null,
      dispose: () => temporary.remove(),
    });
  },
};

const memoryStore: StoreFactory = {
  name: 'memory log',
  reopenable: false,
  create() {
    let opens = 0;
    return Promise.resolve(
      tracking(
        (options) => {
          opens++;
          if (opens > 1) throw new Error('a memory log cannot be reopened');
          return openMemoryLog(options);
        },
        { files: null, syncs: () => null, dispose: () => Promise.resolve() },
      ),
    );
  },
};

function faultyStore(name: string, shortTransfers: boolean): StoreFactory {
  return {
    name,
    reopenable: true,
    create() {
      const fileSystem = new FaultyFileSystem(new MemoryFileSystem(), { seed: 7 });
      if (shortTransfers) {
        fileSystem.setShortWrites(1);
        fileSystem.setShortReads(1);
      }
      const directory = '/data/log';
      return Promise.resolve(
        tracking((options) => openLog({ ...options, directory, fileSystem, fsync: 'always' }), {
          files: { fileSystem, directory },
          syncs: () => fileSystem.calls.sync,
          dispose() {
            // The store's point is that the log met short transfers: make sure it did.
            if (shortTransfers && fileSystem.calls.write > 0) {
              assert.ok(fileSystem.shortWrites > 0, 'the log saw short writes');
            }
            return Promise.resolve();
          },
        }),
      );
    },
  };
}

const STORES: readonly StoreFactory[] = [
  realDiskStore,
  memoryStore,
  faultyStore('file log over FaultyFileSystem, faults off', false),
  faultyStore('file log over FaultyFileSystem, every write and read short', true),
];

// ---- records and how to compare them ----

const encoder = new TextEncoder();
const bytes = (text: string): Uint8Array => encoder.encode(text);
const SEGMENT_BYTES_SMALL = 4096;
const CLOCK_START_MS = 1_000_000;

/** A varied record: keys null or not, headers null or not, bodies of different lengths. */
function sampleRecord(index: number, bodyBytes = 20 + (index % 7) * 13): RecordInput {
  const body = new Uint8Array(bodyBytes);
  for (let i = 0; i < bodyBytes; i++) body[i] = (index * 31 + i * 7) & 0xff;
  return {
    timestamp: CLOCK_START_MS + index,
    key: index % 3 === 0 ? null : bytes(`key-${index}`),
    headers: index % 2 === 0 ? null : { 'content-type': 'text/plain', sequence: String(index) },
    body,
  };
}

function sampleRecords(count: number, from = 0, bodyBytes?: number): RecordInput[] {
  return Array.from({ length: count }, (_, i) => sampleRecord(from + i, bodyBytes));
}

function assertRecords(
  actual: readonly StoredRecord[],
  expected: readonly Comparable[],
  message?: string,
): void {
  assert.deepEqual(actual.map(fromStored), expected, message);
}

/** Expected view of `records` appended from `firstOffset` on. */
function expectedFrom(firstOffset: number, records: readonly RecordInput[]): Comparable[] {
  return records.map((record, i) => fromInput(firstOffset + i, record));
}

/** Every committed record from `from`, read page by page with a generous budget. */
async function readAll(log: PartitionLog, from = 0): Promise<StoredRecord[]> {
  const all: StoredRecord[] = [];
  let offset = from;
  for (let page = 0; page < 100_000 && offset < log.committedOffset; page++) {
    const records = await log.read(offset, { maxBytes: 1024 * 1024 });
    if (records.length === 0) break;
    all.push(...records);
    offset = records[records.length - 1]!.offset + 1;
  }
  return all;
}

async function appendEach(log: PartitionLog, records: readonly RecordInput[]): Promise<number[]> {
  const offsets: number[] = [];
  for (const record of records) offsets.push(await log.append(record));
  return offsets;
}

async function segmentFileSizes(context: StoreContext): Promise<Map<string, number>> {
  const sizes = new Map<string, number>();
  if (!context.files) return sizes;
  const { fileSystem, directory } = context.files;
  for (const name of await fileSystem.readdir(directory)) {
    if (!name.endsWith('.log')) continue;
    const content = await fileSystem.readFile(path.join(directory, name));
    sizes.set(name, content?.length ?? 0);
  }
  return sizes;
}

async function rejectsWithCode(promise: Promise<unknown>, code: string): Promise<void> {
  await assert.rejects(promise, (error: unknown) => {
    assert.ok(isWeirError(error), `expected a WeirError, got ${String(error)}`);
    assert.equal(error.code, code);
    return true;
  });
}

// ---- the suite ----

function logConformanceSuite(store: StoreFactory): void {
  const withStore = async (body: (context: StoreContext) => Promise<void>): Promise<void> => {
    const context = await store.create();
    try {
      await body(context);
    } finally {
      await context.dispose();
    }
  };

  describe(store.name, () => {
    test('an empty log starts at offset 0 and a single append reads back identical', () =>
      withStore(async (context) => {
        const log = await context.open();
        assert.equal(log.startOffset, 0);
        assert.equal(log.endOffset, 0);
        assert.equal(log.committedOffset, 0);
        assert.deepEqual(await log.read(0), []);
        const record = sampleRecord(1);
        assert.equal(await log.append(record), 0);
        assert.equal(log.endOffset, 1);
        assert.equal(log.committedOffset, 1);
        assertRecords(await log.read(0), [fromInput(0, record)]);
      }));

    test('an append of many records returns the first offset and numbers them consecutively', () =>
      withStore(async (context) => {
        const log = await context.open();
        const first = sampleRecords(5, 0);
        const second = sampleRecords(7, 5);
        assert.equal(await log.append(first), 0);
        assert.equal(await log.append(second), 5);
        assert.equal(await log.append(sampleRecord(12)), 12);
        assert.equal(log.endOffset, 13);
        assertRecords(await readAll(log), expectedFrom(0, [...first, ...second, sampleRecord(12)]));
      }));

    test('500 concurrent appends are group-committed with distinct consecutive offsets in call order', () =>
      withStore(async (context) => {
        const log = await context.open();
        const records = sampleRecords(500);
        const syncsBefore = context.syncs();
        const offsets = await Promise.all(records.map((record) => log.append(record)));
        assert.deepEqual(
          offsets,
          records.map((_, i) => i),
        );
        assert.equal(log.committedOffset, 500);
        assertRecords(await readAll(log), expectedFrom(0, records));
        const syncsAfter = context.syncs();
        if (syncsBefore !== null && syncsAfter !== null) {
          // One write and one fsync per group, not per append.
          assert.ok(
            syncsAfter - syncsBefore <= 5,
            `${syncsAfter - syncsBefore} syncs for 500 appends`,
          );
        }
      }));

    test('records become readable only once their append is confirmed', () =>
      withStore(async (context) => {
        const log = await context.open();
        const pending = log.append(sampleRecord(0));
        assert.equal(log.endOffset, 1);
        assert.equal(log.committedOffset, 0);
        assert.deepEqual(await log.read(0), []);
        assert.equal(await pending, 0);
        assert.equal(log.committedOffset, 1);
        assert.equal((await log.read(0)).length, 1);
      }));

    test('read honours maxRecords and maxBytes and always returns at least one record', () =>
      withStore(async (context) => {
        const log = await context.open();
        const records = sampleRecords(50, 0, 100);
        await log.append(records);
        assertRecords(
          await log.read(10, { maxRecords: 3 }),
          expectedFrom(10, records.slice(10, 13)),
        );
        assertRecords(
          await log.read(10, { maxRecords: 1 }),
          expectedFrom(10, records.slice(10, 11)),
        );
        // A budget below one record's size still returns that one record.
        assertRecords(await log.read(20, { maxBytes: 1 }), expectedFrom(20, records.slice(20, 21)));
        // About maxBytes: 1,000 bytes of 100-byte bodies is some records, not all 50.
        const limited = await log.read(0, { maxBytes: 1000 });
        assert.ok(
          limited.length >= 1 && limited.length < 50,
          `${limited.length} records for 1000 bytes`,
        );
        assertRecords(limited, expectedFrom(0, records.slice(0, limited.length)));
        assertRecords(
          await log.read(0, { maxBytes: 1000, maxRecords: 2 }),
          expectedFrom(0, records.slice(0, 2)),
        );
        assertRecords(await log.read(0), expectedFrom(0, records));
      }));

    test('paging through the log with small budgets returns every record once, in order', () =>
      withStore(async (context) => {
        const log = await context.open({ segmentBytes: SEGMENT_BYTES_SMALL });
        const records = sampleRecords(300);
        await log.append(records.slice(0, 100));
        await appendEach(log, records.slice(100, 150));
        await Promise.all(records.slice(150).map((record) => log.append(record)));
        for (const budget of [
          { maxRecords: 1 },
          { maxRecords: 7 },
          { maxBytes: 1 },
          { maxBytes: 333 },
        ]) {
          const seen: StoredRecord[] = [];
          let offset = 0;
          for (let page = 0; page < 1000 && offset < log.committedOffset; page++) {
            const batch = await log.read(offset, budget);
            assert.ok(
              batch.length >= 1,
              `a read below committedOffset returns a record (${JSON.stringify(budget)})`,
            );
            seen.push(...batch);
            offset = batch[batch.length - 1]!.offset + 1;
          }
          assertRecords(seen, expectedFrom(0, records), `paging with ${JSON.stringify(budget)}`);
        }
      }));

    test('a read below startOffset starts at startOffset', () =>
      withStore(async (context) => {
        const log = await context.open({ segmentBytes: SEGMENT_BYTES_SMALL });
        const records = sampleRecords(200, 0, 60);
        await appendEach(log, records);
        const start = await log.truncateBefore(100);
        assert.ok(start > 0 && start <= 100, `startOffset ${start} after truncateBefore(100)`);
        assert.equal(log.startOffset, start);
        const read = await log.read(0, { maxRecords: 5 });
        assertRecords(read, expectedFrom(start, records.slice(start, start + 5)));
        assertRecords(
          await log.read(-10, { maxRecords: 1 }),
          expectedFrom(start, records.slice(start, start + 1)),
        );
      }));

    test('a read at or past committedOffset returns no records', () =>
      withStore(async (context) => {
        const log = await context.open();
        assert.deepEqual(await log.read(0), []);
        assert.deepEqual(await log.read(5), []);
        await log.append(sampleRecords(3));
        assert.deepEqual(await log.read(3), []);
        assert.deepEqual(await log.read(4), []);
        assert.deepEqual(await log.read(Number.MAX_SAFE_INTEGER), []);
        assert.equal((await log.read(2)).length, 1);
      }));

    test('key, headers, body and timestamp round-trip, including null key, empty key and body, unicode headers and every byte value', () =>
      withStore(async (context) => {
        const log = await context.open();
        const everyByte = Uint8Array.from({ length: 256 }, (_, i) => i);
        const records: RecordInput[] = [
          { timestamp: 1, key: null, headers: null, body: new Uint8Array(0) },
          { timestamp: 2, key: new Uint8Array(0), headers: {}, body: everyByte },
          {
            timestamp: 3,
            key: everyByte,
            headers: {
              'x-émoji-🦫': 'dam ✓ Ω',
              Ünïcödé: 'ヴァイア',
              empty: '',
              z: 'last',
              a: 'after z',
            },
            body: bytes('hello'),
          },
          { timestamp: 2 ** 52, key: bytes('k'), body: new Uint8Array(100_000).fill(0xa5) },
          { timestamp: 0, body: bytes('no key, no headers') },
        ];
        await log.append(records);
        const read = await log.read(0, { maxBytes: 1024 * 1024 });
        assertRecords(read, expectedFrom(0, records));
        // Empty key stays an empty key (not null); empty headers stay {} (not null).
        assert.notEqual(read[1]!.key, null);
        assert.equal(read[1]!.key!.length, 0);
        assert.deepEqual(read[1]!.headers && Object.keys(read[1]!.headers), []);
        assert.equal(read[4]!.key, null);
        assert.equal(read[4]!.headers, null);
      }));

    test('header names that are special to JavaScript objects (__proto__, constructor) round-trip', () =>
      withStore(async (context) => {
        const log = await context.open();
        // Producers choose header names; JSON.parse makes "__proto__" an own property.
        const headers = JSON.parse(
          '{"__proto__":"polluted?","constructor":"c","hasOwnProperty":"h","toString":"t"}',
        ) as Record<string, string>;
        const record: RecordInput = { timestamp: 1, headers, body: bytes('x') };
        await log.append(record);
        const [read] = await log.read(0);
        assert.deepEqual(read && fromStored(read), fromInput(0, record));
        assert.equal(Object.getPrototypeOf({}), Object.prototype, 'no prototype was polluted');
      }));

    test('a record with more than RECORD_HEADERS_MAX headers is refused at append and does not fail the log', () =>
      withStore(async (context) => {
        const log = await context.open();
        const headers: Record<string, string> = {};
        for (let i = 0; i <= RECORD_HEADERS_MAX; i++) headers[`h${i}`] = 'v';
        // Another producer's append in the same group commit must not pay for it.
        const [neighbour, refused] = await Promise.allSettled([
          log.append(sampleRecord(0)),
          log.append({ timestamp: 1, headers, body: bytes('x') }),
        ]);
        assert.deepEqual(
          neighbour,
          { status: 'fulfilled', value: 0 },
          'the neighbouring append is confirmed',
        );
        assert.equal(refused.status, 'rejected');
        assert.ok(isWeirError(refused.reason, 'INVALID_ARGUMENT'), String(refused.reason));
        assert.equal(log.failure, null, `log.failure: ${String(log.failure)}`);
        assert.equal(await log.append(sampleRecord(1)), 1);
      }));

    test('a header name longer than its u16 length field is refused at append or round-trips, never stored unreadable', () =>
      withStore(async (context) => {
        const log = await context.open();
        const record: RecordInput = {
          timestamp: 1,
          headers: { ['n'.repeat(70_000)]: 'v' },
          body: bytes('x'),
        };
        let offset: number | null = null;
        try {
          offset = await log.append(record);
        } catch (error) {
          assert.ok(isWeirError(error), String(error));
          assert.ok(['INVALID_ARGUMENT', 'MESSAGE_TOO_LARGE'].includes(error.code), error.code);
        }
        if (offset !== null) {
          const [read] = await log.read(offset);
          assert.deepEqual(read && fromStored(read), fromInput(offset, record));
        }
        assert.equal(log.failure, null);
      }));

    test('a record of exactly RECORD_BYTES_MAX is accepted and reads back, from disk too', () =>
      withStore(async (context) => {
        const log = await context.open({ segmentBytes: SEGMENT_BYTES_SMALL, tailCacheBytes: 0 });
        await log.append(sampleRecord(0));
        // 22 bytes of record framing with no key and no headers (record-batch.ts layout).
        const body = new Uint8Array(RECORD_BYTES_MAX - 22);
        for (let i = 0; i < body.length; i += 4096) body[i] = (i >> 12) & 0xff;
        assert.equal(await log.append({ timestamp: 5, body }), 1);
        assert.equal(await log.append(sampleRecord(2)), 2);
        const [big] = await log.read(1, { maxBytes: 1 });
        assert.ok(big, 'the big record is read even with a 1-byte budget');
        assert.equal(big.offset, 1);
        assert.ok(
          Buffer.from(big.body).equals(Buffer.from(body)),
          'the big body reads back identical',
        );
        assert.deepEqual(
          (await log.read(0, { maxRecords: 3, maxBytes: 64 * 1024 * 1024 })).map(
            (record) => record.offset,
          ),
          [0, 1, 2],
        );
      }));

    test('invalid appends and reads are refused with INVALID_ARGUMENT and do not fail the log', () =>
      withStore(async (context) => {
        const log = await context.open();
        await rejectsWithCode(log.append([]), 'INVALID_ARGUMENT');
        for (const timestamp of [-1, 1.5, Number.NaN, 2 ** 53]) {
          await rejectsWithCode(log.append({ timestamp, body: bytes('x') }), 'INVALID_ARGUMENT');
        }
        await rejectsWithCode(log.read(0, { maxRecords: 0 }), 'INVALID_ARGUMENT');
        await rejectsWithCode(log.read(0, { maxBytes: 0 }), 'INVALID_ARGUMENT');
        assert.equal(log.endOffset, 0);
        assert.equal(log.failure, null);
        assert.equal(await log.append(sampleRecord(0)), 0);
      }));

    test("a record without a timestamp gets the clock's time", () =>
      withStore(async (context) => {
        let now = CLOCK_START_MS;
        const log = await context.open({ clock: () => now });
        await log.append({ body: bytes('a') });
        now += 1234;
        await log.append([{ body: bytes('b') }, { body: bytes('c'), timestamp: 5 }]);
        const read = await log.read(0);
        assert.deepEqual(
          read.map((record) => record.timestamp),
          [CLOCK_START_MS, CLOCK_START_MS + 1234, 5],
        );
      }));

    test('offsetForTime returns the first offset whose timestamp is at or after the time, across segments', () =>
      withStore(async (context) => {
        const log = await context.open({ segmentBytes: SEGMENT_BYTES_SMALL });
        // Timestamps 1000, 1010, 1020, ...: strictly increasing, spread over several segments.
        const records = Array.from({ length: 300 }, (_, i) => ({
          ...sampleRecord(i),
          timestamp: 1000 + i * 10,
        }));
        await appendEach(log, records.slice(0, 150));
        await log.append(records.slice(150));
        assert.ok(log.stats().segmentCount > 2, 'the records span several segments');
        assert.equal(await log.offsetForTime(0), 0);
        assert.equal(await log.offsetForTime(1000), 0);
        assert.equal(await log.offsetForTime(1001), 1);
        assert.equal(await log.offsetForTime(1010), 1);
        assert.equal(await log.offsetForTime(1000 + 123 * 10 - 5), 123);
        assert.equal(await log.offsetForTime(1000 + 299 * 10), 299);
        assert.equal(await log.offsetForTime(1000 + 299 * 10 + 1), log.committedOffset);
        for (let i = 0; i < 300; i += 17) {
          assert.equal(await log.offsetForTime(1000 + i * 10), i, `offsetForTime of record ${i}`);
        }
      }));

    test('offsetForTime with out-of-order timestamps returns the first record at or after the time', () =>
      withStore(async (context) => {
        const log = await context.open();
        const timestamps = [500, 100, 300, 900, 200, 950];
        await log.append(
          timestamps.map((timestamp) => ({ timestamp, body: bytes(String(timestamp)) })),
        );
        assert.equal(await log.offsetForTime(50), 0);
        assert.equal(await log.offsetForTime(600), 3);
        assert.equal(await log.offsetForTime(920), 5);
        assert.equal(await log.offsetForTime(951), 6);
      }));

    test('segments roll by size and no segment file grows past segmentBytes', () =>
      withStore(async (context) => {
        const log = await context.open({ segmentBytes: SEGMENT_BYTES_SMALL });
        const records = sampleRecords(200, 0, 100);
        await appendEach(log, records.slice(0, 100));
        await Promise.all(records.slice(100).map((record) => log.append(record)));
        const stats = log.stats();
        assert.ok(stats.segmentCount >= 5, `${stats.segmentCount} segments for ~30 KB`);
        const sizes = await segmentFileSizes(context);
        if (context.files) {
          assert.equal(sizes.size, stats.segmentCount);
          for (const [name, size] of sizes)
            assert.ok(size <= SEGMENT_BYTES_SMALL, `${name} has ${size} bytes`);
          assert.equal(
            [...sizes.values()].reduce((sum, size) => sum + size, 0),
            stats.bytes,
          );
        }
        assertRecords(await readAll(log), expectedFrom(0, records));
      }));

    test('segments roll by age on the clock', () =>
      withStore(async (context) => {
        let now = CLOCK_START_MS;
        const log = await context.open({ clock: () => now, segmentAgeMs: 1000 });
        await log.append({ body: bytes('first') });
        now += 999;
        await log.append({ body: bytes('still young') });
        assert.equal(log.stats().segmentCount, 1);
        now += 1;
        await log.append({ body: bytes('rolls') });
        assert.equal(log.stats().segmentCount, 2);
        now += 500;
        await log.append({ body: bytes('same segment') });
        assert.equal(log.stats().segmentCount, 2);
        assert.deepEqual(
          (await log.read(0)).map((record) => Buffer.from(record.body).toString()),
          ['first', 'still young', 'rolls', 'same segment'],
        );
      }));

    test(
      'reopening gives the same records, offsets and end, and appends continue after them',
      { skip: !store.reopenable && 'the memory log lives and dies with its process' },
      () =>
        withStore(async (context) => {
          const first = await context.open({ segmentBytes: SEGMENT_BYTES_SMALL });
          const records = sampleRecords(150, 0, 80);
          await appendEach(first, records.slice(0, 50));
          await first.append(records.slice(50));
          const before = first.stats();
          await first.close();
          const second = await context.open({ segmentBytes: SEGMENT_BYTES_SMALL });
          assert.equal(second.startOffset, 0);
          assert.equal(second.endOffset, 150);
          assert.equal(second.committedOffset, 150);
          assert.equal(second.stats().segmentCount, before.segmentCount);
          assert.equal(second.stats().bytes, before.bytes);
          assertRecords(await readAll(second), expectedFrom(0, records));
          const more = sampleRecords(10, 150);
          assert.equal(await second.append(more), 150);
          await second.close();
          const third = await context.open({ segmentBytes: SEGMENT_BYTES_SMALL });
          assertRecords(await readAll(third), expectedFrom(0, [...records, ...more]));
        }),
    );

    test(
      'close waits for appends in flight, and they are all there after reopening',
      { skip: !store.reopenable && 'the memory log lives and dies with its process' },
      () =>
        withStore(async (context) => {
          const first = await context.open();
          const records = sampleRecords(100);
          const appends = records.map((record) => first.append(record));
          await first.close();
          assert.deepEqual(
            await Promise.all(appends),
            records.map((_, i) => i),
          );
          const second = await context.open();
          assertRecords(await readAll(second), expectedFrom(0, records));
        }),
    );

    test('truncateBefore deletes whole segments below the offset and keeps every record at or above it', () =>
      withStore(async (context) => {
        const log = await context.open({ segmentBytes: SEGMENT_BYTES_SMALL });
        const records = sampleRecords(300, 0, 50);
        await appendEach(log, records);
        const segmentsBefore = log.stats().segmentCount;
        assert.equal(await log.truncateBefore(0), 0);
        const start = await log.truncateBefore(150);
        assert.ok(start > 0 && start <= 150, `startOffset ${start}`);
        assert.ok(log.stats().segmentCount < segmentsBefore);
        assertRecords(await readAll(log), expectedFrom(start, records.slice(start)));
        // Truncating below the start changes nothing.
        assert.equal(await log.truncateBefore(10), start);
        assert.equal(log.endOffset, 300);
        assert.equal(await log.append(sampleRecord(300)), 300);
        if (store.reopenable) {
          await log.close();
          const reopened = await context.open({ segmentBytes: SEGMENT_BYTES_SMALL });
          assert.equal(reopened.startOffset, start);
          assertRecords(
            await readAll(reopened),
            expectedFrom(start, [...records, sampleRecord(300)].slice(start)),
          );
        }
      }));

    test('truncateBefore the end rolls the active segment and leaves an empty log that appends continue', () =>
      withStore(async (context) => {
        const log = await context.open();
        await log.append(sampleRecords(20));
        assert.equal(await log.truncateBefore(20), 20);
        assert.equal(log.startOffset, 20);
        assert.equal(log.endOffset, 20);
        assert.deepEqual(await log.read(0), []);
        assert.equal(await log.append(sampleRecord(20)), 20);
        assertRecords(await log.read(0), [fromInput(20, sampleRecord(20))]);
        if (store.reopenable) {
          await log.close();
          const reopened = await context.open();
          assert.equal(reopened.startOffset, 20);
          assert.equal(reopened.endOffset, 21);
          assertRecords(await reopened.read(0), [fromInput(20, sampleRecord(20))]);
        }
      }));

    test('applyRetention by records keeps at least maxRecords records and deletes whole segments', () =>
      withStore(async (context) => {
        const log = await context.open({ segmentBytes: SEGMENT_BYTES_SMALL });
        const records = sampleRecords(400, 0, 40);
        await appendEach(log, records.slice(0, 200));
        await log.append(records.slice(200));
        const before = log.stats();
        const result = await log.applyRetention({ maxRecords: 100 });
        const after = log.stats();
        assert.ok(result.segmentsDeleted > 0, 'something was old enough to go');
        assert.equal(result.segmentsDeleted, before.segmentCount - after.segmentCount);
        assert.equal(result.recordsDeleted, after.startOffset - before.startOffset);
        assert.equal(result.bytesDeleted, before.bytes - after.bytes);
        assert.ok(
          after.endOffset - after.startOffset >= 100,
          `${after.endOffset - after.startOffset} records kept`,
        );
        assertRecords(
          await readAll(log),
          expectedFrom(after.startOffset, records.slice(after.startOffset)),
        );
        // The greedy rule leaves nothing more to delete for the same limit.
        assert.deepEqual(await log.applyRetention({ maxRecords: 100 }), {
          segmentsDeleted: 0,
          recordsDeleted: 0,
          bytesDeleted: 0,
        });
        // maxRecords 0: everything but the active segment goes.
        await log.applyRetention({ maxRecords: 0 });
        assert.equal(log.stats().segmentCount, 1);
        assert.equal(log.endOffset, 400);
      }));

    test('applyRetention by bytes keeps at least maxBytes bytes', () =>
      withStore(async (context) => {
        const log = await context.open({ segmentBytes: SEGMENT_BYTES_SMALL });
        await appendEach(log, sampleRecords(300, 0, 60));
        const before = log.stats();
        const limitBytes = Math.floor(before.bytes / 3);
        const result = await log.applyRetention({ maxBytes: limitBytes });
        const after = log.stats();
        assert.ok(result.segmentsDeleted > 0);
        assert.ok(after.bytes >= limitBytes, `${after.bytes} bytes kept, limit ${limitBytes}`);
        assert.ok(
          after.bytes < limitBytes + SEGMENT_BYTES_SMALL,
          'no more than one extra segment kept',
        );
        assert.equal(result.bytesDeleted, before.bytes - after.bytes);
        assert.equal(result.recordsDeleted, after.startOffset - before.startOffset);
      }));

    test('applyRetention by age deletes segments older than maxAgeMs but never the active segment', () =>
      withStore(async (context) => {
        let now = CLOCK_START_MS;
        const log = await context.open({ clock: () => now, segmentAgeMs: 1000 });
        // No timestamps: the records take the clock's time, which the segment's age follows.
        await log.append(sampleRecords(5).map(({ timestamp: _timestamp, ...rest }) => rest));
        now += 2000;
        await log.append({ body: bytes('second segment') });
        now += 2000;
        await log.append({ body: bytes('third segment, active') });
        assert.equal(log.stats().segmentCount, 3);
        now += 500;
        const first = await log.applyRetention({ maxAgeMs: 3000 });
        assert.equal(first.segmentsDeleted, 1);
        assert.equal(first.recordsDeleted, 5);
        assert.equal(log.startOffset, 5);
        now += 1_000_000;
        const second = await log.applyRetention({ maxAgeMs: 1 });
        assert.equal(second.segmentsDeleted, 1, 'the active segment stays, however old');
        assert.equal(log.stats().segmentCount, 1);
        assert.equal(log.startOffset, 6);
        assertRecords(await log.read(0), [
          fromInput(6, { body: bytes('third segment, active') }, CLOCK_START_MS + 4000),
        ]);
      }));

    test('a record larger than RECORD_BYTES_MAX is rejected with MESSAGE_TOO_LARGE and takes no offset', () =>
      withStore(async (context) => {
        const log = await context.open();
        await log.append(sampleRecord(0));
        const huge = new Uint8Array(RECORD_BYTES_MAX + 1);
        await rejectsWithCode(log.append({ body: huge }), 'MESSAGE_TOO_LARGE');
        await rejectsWithCode(
          log.append([
            sampleRecord(1),
            { key: new Uint8Array(16), body: huge.subarray(0, RECORD_BYTES_MAX - 8) },
          ]),
          'MESSAGE_TOO_LARGE',
        );
        assert.equal(log.endOffset, 1);
        assert.equal(log.failure, null, 'a refused record is not a storage failure');
        assert.equal(await log.append(sampleRecord(1)), 1);
        assertRecords(await log.read(0), expectedFrom(0, [sampleRecord(0), sampleRecord(1)]));
      }));

    test('tail-cache reads and disk reads return the same records', () =>
      withStore(async (context) => {
        const records = sampleRecords(400, 0, 90);
        const cached = await context.open({
          segmentBytes: SEGMENT_BYTES_SMALL,
          tailCacheBytes: 1024 * 1024,
        });
        await appendEach(cached, records.slice(0, 200));
        await cached.append(records.slice(200));
        assert.ok(cached.stats().tailCacheBytes > 0, 'the tail cache holds the recent batches');
        const fromCache = (await readAll(cached)).map(fromStored);
        const pages: Comparable[] = [];
        for (let offset = 0; offset < 400; offset += 9) {
          pages.push(...(await cached.read(offset, { maxRecords: 9 })).map(fromStored));
        }
        assert.deepEqual(fromCache, expectedFrom(0, records));
        assert.deepEqual(pages, fromCache);

        // A second store with the cache off: same appends, every read from the files.
        const uncachedContext = await store.create();
        try {
          const uncached = await uncachedContext.open({
            segmentBytes: SEGMENT_BYTES_SMALL,
            tailCacheBytes: 0,
          });
          await appendEach(uncached, records.slice(0, 200));
          await uncached.append(records.slice(200));
          assert.equal(uncached.stats().tailCacheBytes, 0);
          assert.deepEqual((await readAll(uncached)).map(fromStored), fromCache);
          const uncachedPages: Comparable[] = [];
          for (let offset = 0; offset < 400; offset += 9) {
            uncachedPages.push(...(await uncached.read(offset, { maxRecords: 9 })).map(fromStored));
          }
          assert.deepEqual(uncachedPages, pages);
        } finally {
          await uncachedContext.dispose();
        }

        // A small cache: old records from disk, recent ones from the cache, one read across both.
        const smallContext = await store.create();
        try {
          const small = await smallContext.open({
            segmentBytes: SEGMENT_BYTES_SMALL,
            tailCacheBytes: 2048,
          });
          await appendEach(small, records);
          assert.deepEqual((await readAll(small)).map(fromStored), fromCache);
          assert.deepEqual((await small.read(390)).map(fromStored), fromCache.slice(390));
        } finally {
          await smallContext.dispose();
        }

        if (store.reopenable) {
          await cached.close();
          const reopened = await context.open({
            segmentBytes: SEGMENT_BYTES_SMALL,
            tailCacheBytes: 0,
          });
          assert.deepEqual((await readAll(reopened)).map(fromStored), fromCache);
        }
      }));

    test('after close, append, read, offsetForTime and truncateBefore reject with CLOSED', () =>
      withStore(async (context) => {
        const log = await context.open();
        await log.append(sampleRecord(0));
        await log.close();
        await rejectsWithCode(log.append(sampleRecord(1)), 'CLOSED');
        await rejectsWithCode(log.read(0), 'CLOSED');
        await rejectsWithCode(log.offsetForTime(0), 'CLOSED');
        await rejectsWithCode(log.truncateBefore(1), 'CLOSED');
        await rejectsWithCode(log.applyRetention({ maxRecords: 0 }), 'CLOSED');
        await log.close(); // a second close is harmless
      }));

    test('onCommit listeners see committedOffset after each commit and stop after unsubscribing', () =>
      withStore(async (context) => {
        const log = await context.open();
        const seen: number[] = [];
        const unsubscribe = log.onCommit((committedOffset) => {
          assert.equal(committedOffset, log.committedOffset);
          seen.push(committedOffset);
        });
        await log.append(sampleRecord(0));
        assert.deepEqual(seen, [1]);
        await log.append(sampleRecords(3, 1));
        assert.deepEqual(seen, [1, 4]);
        await Promise.all(sampleRecords(50, 4).map((record) => log.append(record)));
        assert.equal(seen[seen.length - 1], 54);
        for (let i = 1; i < seen.length; i++)
          assert.ok(seen[i]! > seen[i - 1]!, 'committedOffset only grows');
        unsubscribe();
        await log.append(sampleRecord(54));
        assert.equal(seen[seen.length - 1], 54);
      }));

    test('flush resolves once earlier appends are confirmed, and stats agree with the log', () =>
      withStore(async (context) => {
        const log = await context.open({ segmentBytes: SEGMENT_BYTES_SMALL });
        const appends = sampleRecords(100).map((record) => log.append(record));
        await log.flush();
        assert.equal(log.committedOffset, 100);
        await Promise.all(appends);
        const stats = log.stats();
        assert.equal(stats.startOffset, log.startOffset);
        assert.equal(stats.endOffset, log.endOffset);
        assert.equal(stats.committedOffset, log.committedOffset);
        assert.ok(stats.segmentCount >= 2);
        assert.ok(stats.bytes > 100 * 20);
        assert.ok(stats.indexBytes > 0);
      }));
  });
}

for (const store of STORES) logConformanceSuite(store);

// ---- reads racing with deletions (file log over FaultyFileSystem, whose hook holds a read) ----

for (const [name, deleteSegments] of [
  ['truncateBefore', (log: PartitionLog) => log.truncateBefore(100)],
  ['applyRetention', (log: PartitionLog) => log.applyRetention({ maxRecords: 100 })],
] as const) {
  test(`a read racing with ${name} returns consecutive records and never skips records that stay`, async () => {
    const fileSystem = new FaultyFileSystem(new MemoryFileSystem());
    const log = await openLog({
      directory: '/data/log',
      fileSystem,
      segmentBytes: SEGMENT_BYTES_SMALL,
      tailCacheBytes: 0,
    });
    try {
      const records = sampleRecords(200, 0, 100);
      await appendEach(log, records);
      assert.ok(log.stats().segmentCount >= 5);
      // The read's first disk read waits at a gate while segments are deleted under it.
      let release: () => void = () => undefined;
      const gate = new Promise<void>((resolve) => {
        release = resolve;
      });
      let held = false;
      fileSystem.hook = async (operation) => {
        if (operation === 'read' && !held) {
          held = true;
          await gate;
        }
      };
      const reading = log.read(0, { maxBytes: 1024 * 1024 });
      await new Promise((resolve) => setImmediate(resolve));
      assert.ok(held, 'the read is waiting at the gate');
      await deleteSegments(log);
      const start = log.startOffset;
      assert.ok(start > 0, 'segments were deleted');
      release();
      const read = await reading;
      assert.ok(read.length > 0);
      const first = read[0]!.offset;
      assert.deepEqual(
        read.map(fromStored),
        expectedFrom(first, records.slice(first, first + read.length)),
        `read ${read.length} records from ${first}; the log now starts at ${start}`,
      );
    } finally {
      await log.close();
    }
  });
}

test('openLog refuses invalid options with INVALID_ARGUMENT, naming the option', async () => {
  const fileSystem = new MemoryFileSystem();
  const cases: [string, Partial<LogOptions>][] = [
    ['segmentBytes', { segmentBytes: 100 }],
    ['segmentBytes', { segmentBytes: 4096.5 }],
    ['segmentAgeMs', { segmentAgeMs: 0 }],
    ['tailCacheBytes', { tailCacheBytes: -1 }],
    ['fsyncIntervalMs', { fsyncIntervalMs: 0 }],
    ['fsync', { fsync: 'sometimes' as 'always' }],
  ];
  for (const [name, options] of cases) {
    await assert.rejects(
      openLog({ directory: '/data/log', fileSystem, ...options }),
      (error: unknown) => {
        assert.ok(isWeirError(error, 'INVALID_ARGUMENT'), `${name}: ${String(error)}`);
        assert.match(error.message, new RegExp(name), `the message names ${name}`);
        return true;
      },
    );
  }
});

test('removeLog deletes a closed log and everything in its directory, on memory and on the real disk', async () => {
  const fileSystem = new MemoryFileSystem();
  const log = await openLog({
    directory: '/data/log',
    fileSystem,
    segmentBytes: SEGMENT_BYTES_SMALL,
  });
  await appendEach(log, sampleRecords(100, 0, 100));
  await log.close();
  assert.ok((await fileSystem.readdir('/data/log')).length > 2);
  await removeLog('/data/log', fileSystem);
  assert.deepEqual(await fileSystem.readdir('/data/log'), []);
  assert.equal(fileSystem.bytes(), 0);
  const reopened = await openLog({ directory: '/data/log', fileSystem });
  assert.equal(reopened.endOffset, 0, 'a log opened there afterwards starts empty');
  await reopened.close();

  const temporary = await createTemporaryDirectory('weir-remove-');
  try {
    const directory = path.join(temporary.path, 'log');
    const onDisk = await openLog({ directory });
    await onDisk.append(sampleRecords(10));
    await onDisk.close();
    await removeLog(directory);
    assert.deepEqual(await nodeFileSystem.readdir(directory), []);
    assert.deepEqual(
      await nodeFileSystem.readdir(temporary.path),
      [],
      'the directory itself is gone',
    );
  } finally {
    await temporary.remove();
  }
});
