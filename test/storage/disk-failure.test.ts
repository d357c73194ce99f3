/**
 * Disk failures (Kafka's log-dir failure handling, STYLE.md "if a write or fsync fails, that
 * log stops taking appends and says so"): ENOSPC maps to DISK_FULL, EIO and the rest to
 * STORAGE_FAILED; the failing append and every later one are refused; what was confirmed
 * before stays readable; close still works; a reopen recovers. Also: short writes everywhere
 * still make a correct log, and a power cut at any file-system call of a group commit loses no
 * confirmed append. Everything runs on FaultyFileSystem over MemoryFileSystem, whose own
 * knobs are checked first (a fault injector that injects nothing would make these vacuous).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  MemoryFileSystem,
  openLog,
  type PartitionLog,
  type RecordInput,
  type StoredRecord,
} from '../../src/storage/index.js';
import { APPEND_PENDING_BYTES_MAX, RECORD_BYTES_MAX } from '../../src/limits.js';
import { isWeirError } from '../../src/util/index.js';
import { errnoError, FaultyFileSystem } from '../helpers/faulty-file-system.js';

const DIRECTORY = '/data/log';
const SEGMENT_BYTES_SMALL = 4096;
const encoder = new TextEncoder();

function sampleRecord(index: number): RecordInput {
  return {
    timestamp: 1_000 + index,
    key: encoder.encode(`key-${index}`),
    headers: { index: String(index) },
    body: encoder.encode(`record ${index} `.repeat(1 + (index % 5))),
  };
}

function sampleRecords(count: number, from = 0): RecordInput[] {
  return Array.from({ length: count }, (_, i) => sampleRecord(from + i));
}

const hex = (value: Uint8Array): string => Buffer.from(value).toString('hex');

function view(record: StoredRecord): unknown {
  return {
    offset: record.offset,
    timestamp: record.timestamp,
    key: record.key && hex(record.key),
    headers: record.headers,
    body: hex(record.body),
  };
}

function expected(offset: number, record: RecordInput): unknown {
  return {
    offset,
    timestamp: record.timestamp,
    key: record.key ? hex(record.key) : null,
    headers: record.headers ?? null,
    body: hex(record.body),
  };
}

function expectedRange(records: readonly RecordInput[], from: number, to: number): unknown[] {
  return records.slice(from, to).map((record, i) => expected(from + i, record));
}

async function readAll(log: PartitionLog): Promise<StoredRecord[]> {
  const all: StoredRecord[] = [];
  let offset = log.startOffset;
  for (let page = 0; page < 10_000 && offset < log.committedOffset; page++) {
    const records = await log.read(offset);
    if (records.length === 0) break;
    all.push(...records);
    offset = records[records.length - 1]!.offset + 1;
  }
  return all;
}

async function rejectsWithCode(promise: Promise<unknown>, code: string): Promise<void> {
  await assert.rejects(promise, (error: unknown) => {
    assert.ok(isWeirError(error), `expected a WeirError ${code}, got ${String(error)}`);
    assert.equal(error.code, code);
    return true;
  });
}

function faultyMemory(seed = 1): FaultyFileSystem {
  return new FaultyFileSystem(new MemoryFileSystem(), { seed });
}

function open(fileSystem: FaultyFileSystem, segmentBytes?: number): Promise<PartitionLog> {
  return openLog({
    directory: DIRECTORY,
    fileSystem,
    fsync: 'always',
    clock: () => 2_000,
    ...(segmentBytes ? { segmentBytes } : {}),
  });
}

// ---- the fault injector itself ----

test('FaultyFileSystem fails exactly the nth write with the chosen code and lets the others through', async () => {
  const fileSystem = faultyMemory();
  await fileSystem.mkdir('/d');
  const handle = await fileSystem.open('/d/f');
  fileSystem.failNthWrite(3, 'ENOSPC');
  const one = Uint8Array.of(1);
  assert.equal(await handle.write(one, 0, 1, 0), 1);
  assert.equal(await handle.write(one, 0, 1, 1), 1);
  await assert.rejects(
    handle.write(one, 0, 1, 2),
    (error: NodeJS.ErrnoException) => error.code === 'ENOSPC',
  );
  assert.equal(await handle.write(one, 0, 1, 2), 1);
  assert.equal(await handle.size(), 3);
  fileSystem.failWritesFrom(2, 'EIO');
  assert.equal(await handle.write(one, 0, 1, 3), 1);
  for (let i = 0; i < 3; i++) {
    await assert.rejects(
      handle.write(one, 0, 1, 4),
      (error: NodeJS.ErrnoException) => error.code === 'EIO',
    );
  }
  fileSystem.failSyncs({ nth: 1, times: 1 });
  await assert.rejects(handle.sync(), (error: NodeJS.ErrnoException) => error.code === 'EIO');
  await handle.sync();
  fileSystem.heal();
  assert.equal(await handle.write(one, 0, 1, 4), 1);
  assert.equal(fileSystem.faultsInjected, 5);
});

test('FaultyFileSystem short writes move a strict, non-empty part of the bytes, reproducibly for a seed', async () => {
  const lengths = async (seed: number): Promise<number[]> => {
    const fileSystem = faultyMemory(seed);
    fileSystem.setShortWrites(1);
    await fileSystem.mkdir('/d');
    const handle = await fileSystem.open('/d/f');
    const data = Uint8Array.from({ length: 100 }, (_, i) => i);
    const moved: number[] = [];
    let written = 0;
    for (let round = 0; round < 200 && written < data.length; round++) {
      const count = await handle.write(data, written, data.length - written, written);
      assert.ok(
        count >= 1 && (count < data.length - written || data.length - written === 1),
        `moved ${count}`,
      );
      moved.push(count);
      written += count;
    }
    assert.equal(written, 100);
    assert.deepEqual(await fileSystem.inner.readFile('/d/f'), data);
    return moved;
  };
  const first = await lengths(11);
  assert.ok(first.length > 1, 'the write took several calls');
  assert.deepEqual(await lengths(11), first, 'the same seed makes the same short writes');
});

test('FaultyFileSystem crash fences the old instance, drops unsynced bytes and can tear unsynced writes', async () => {
  const fileSystem = faultyMemory(5);
  await fileSystem.mkdir('/d');
  const handle = await fileSystem.open('/d/f');
  await handle.write(new Uint8Array(10).fill(1), 0, 10, 0);
  await handle.sync();
  await fileSystem.syncDirectory('/d');
  await handle.write(new Uint8Array(10).fill(2), 0, 10, 10);
  const rebooted = await fileSystem.crash();
  await assert.rejects(
    handle.write(Uint8Array.of(3), 0, 1, 20),
    (error: NodeJS.ErrnoException) => error.code === 'EIO',
  );
  await assert.rejects(
    fileSystem.readFile('/d/f'),
    (error: NodeJS.ErrnoException) => error.code === 'EIO',
  );
  assert.deepEqual(await rebooted.readFile('/d/f'), new Uint8Array(10).fill(1));

  const sizes = new Set<number>();
  for (let seed = 0; seed < 40; seed++) {
    const tearing = faultyMemory(seed);
    await tearing.mkdir('/d');
    const file = await tearing.open('/d/f');
    await file.write(new Uint8Array(10).fill(1), 0, 10, 0);
    await file.sync();
    await tearing.syncDirectory('/d');
    await file.write(new Uint8Array(10).fill(2), 0, 10, 10);
    const after = await tearing.crash({ tearUnsyncedWrites: true });
    const content = (await after.readFile('/d/f'))!;
    assert.ok(content.length >= 10 && content.length <= 20, `torn to ${content.length}`);
    assert.deepEqual(
      content.subarray(0, 10),
      new Uint8Array(10).fill(1),
      'synced bytes are never torn',
    );
    assert.ok(
      content.subarray(10).every((byte) => byte === 2),
      'a torn tail is a prefix of what was written',
    );
    sizes.add(content.length);
  }
  assert.ok(
    sizes.has(10) && sizes.has(20) && sizes.size > 3,
    `torn sizes seen: ${[...sizes].join(', ')}`,
  );
});

// ---- the log under failures ----

for (const [label, code, errorCode] of [
  ['ENOSPC on a write', 'ENOSPC', 'DISK_FULL'],
  ['EIO on a write', 'EIO', 'STORAGE_FAILED'],
] as const) {
  test(`${label} rejects that append and every later one with ${errorCode}, keeps confirmed records readable, and close works`, async () => {
    const fileSystem = faultyMemory();
    const log = await open(fileSystem);
    const records = sampleRecords(12);
    for (const record of records.slice(0, 10)) await log.append(record);
    fileSystem.failNthWrite(1, code);
    await rejectsWithCode(log.append(records[10]!), errorCode);
    assert.ok(log.failure, 'log.failure is set');
    assert.equal(log.failure.code, errorCode);
    // The disk is fine again, but the log does not write over a file in an unknown state.
    fileSystem.heal();
    await rejectsWithCode(log.append(records[11]!), errorCode);
    await rejectsWithCode(log.append(sampleRecords(3, 20)), errorCode);
    assert.equal(log.committedOffset, 10);
    assert.deepEqual((await readAll(log)).map(view), expectedRange(records, 0, 10));
    assert.deepEqual(
      (await log.read(5, { maxRecords: 2 })).map(view),
      expectedRange(records, 5, 7),
    );
    assert.equal(await log.offsetForTime(1_003), 3);
    await log.close();
    const reopened = await open(fileSystem);
    try {
      assert.equal(reopened.failure, null);
      assert.equal(reopened.endOffset, 10);
      assert.deepEqual((await readAll(reopened)).map(view), expectedRange(records, 0, 10));
      assert.equal(await reopened.append(records[10]!), 10);
    } finally {
      await reopened.close();
    }
  });
}

test('EIO on fsync fails the append whose bytes were written; it is never confirmed later', async () => {
  const fileSystem = faultyMemory();
  const log = await open(fileSystem);
  const records = sampleRecords(12);
  await log.append(records.slice(0, 10));
  const commits: number[] = [];
  log.onCommit((offset) => commits.push(offset));
  fileSystem.failSyncs({ times: 1 });
  await rejectsWithCode(log.append(records[10]!), 'STORAGE_FAILED');
  assert.equal(log.failure?.code, 'STORAGE_FAILED');
  await rejectsWithCode(log.append(records[11]!), 'STORAGE_FAILED');
  await rejectsWithCode(log.flush(), 'STORAGE_FAILED');
  assert.equal(log.committedOffset, 10);
  assert.deepEqual(commits, [], 'no commit after the failed fsync');
  assert.deepEqual(await log.read(10), [], 'the unsynced record is not served');
  assert.deepEqual((await readAll(log)).map(view), expectedRange(records, 0, 10));
  await log.close();
  // A power cut now: the written but never synced record is gone; the synced ones stay.
  const rebooted = await fileSystem.crash();
  const reopened = await open(rebooted);
  try {
    assert.equal(reopened.endOffset, 10);
    assert.deepEqual((await readAll(reopened)).map(view), expectedRange(records, 0, 10));
  } finally {
    await reopened.close();
  }
});

test('a failure rejects every append in flight; the confirmed ones are a prefix and read back', async () => {
  for (const failingWrite of [1, 2, 3, 5, 8]) {
    const fileSystem = faultyMemory(failingWrite);
    // Small segments: 600 concurrent appends take several writes (one per segment at least).
    const log = await open(fileSystem, SEGMENT_BYTES_SMALL);
    const records = sampleRecords(600);
    fileSystem.failNthWrite(failingWrite, 'EIO', /\.log$/);
    const outcomes = await Promise.allSettled(records.map((record) => log.append(record)));
    const confirmed = outcomes.filter((outcome) => outcome.status === 'fulfilled').length;
    outcomes.forEach((outcome, i) => {
      if (i < confirmed) {
        assert.equal(
          outcome.status,
          'fulfilled',
          `write ${failingWrite}: append ${i} is in the confirmed prefix`,
        );
        assert.equal(outcome.value, i);
      } else {
        assert.equal(
          outcome.status,
          'rejected',
          `write ${failingWrite}: append ${i} after the failure`,
        );
        const reason: unknown = outcome.reason;
        assert.ok(isWeirError(reason, 'STORAGE_FAILED'), `append ${i}: ${String(reason)}`);
      }
    });
    assert.ok(confirmed < 600, `write ${failingWrite}: the failure hit some appends`);
    if (failingWrite > 1)
      assert.ok(confirmed > 0, `write ${failingWrite}: writes before it were confirmed`);
    assert.equal(log.committedOffset, confirmed);
    assert.deepEqual((await readAll(log)).map(view), expectedRange(records, 0, confirmed));
    await log.close();
  }
});

test('close works while the disk keeps failing, and a reopen on the repaired disk recovers the confirmed records', async () => {
  const fileSystem = faultyMemory();
  const log = await open(fileSystem, SEGMENT_BYTES_SMALL);
  const records = sampleRecords(60);
  for (const record of records.slice(0, 50)) await log.append(record);
  fileSystem.failWritesFrom(1, 'EIO');
  fileSystem.failSyncs();
  await rejectsWithCode(log.append(records.slice(50)), 'STORAGE_FAILED');
  await log.close();
  await rejectsWithCode(log.append(records[50]!), 'CLOSED');
  fileSystem.heal();
  const reopened = await open(fileSystem, SEGMENT_BYTES_SMALL);
  try {
    assert.equal(reopened.endOffset, 50);
    assert.deepEqual((await readAll(reopened)).map(view), expectedRange(records, 0, 50));
    assert.equal(await reopened.append(records.slice(50)), 50);
  } finally {
    await reopened.close();
  }
});

test('a failed write that left a torn prefix behind is cut when the log reopens', async () => {
  const fileSystem = faultyMemory(3);
  const log = await open(fileSystem);
  const records = sampleRecords(25);
  for (const record of records.slice(0, 20)) await log.append(record);
  fileSystem.inject({
    operation: 'write',
    code: 'ENOSPC',
    times: 1,
    tornPrefix: true,
    path: /\.log$/,
  });
  await rejectsWithCode(log.append(records.slice(20)), 'DISK_FULL');
  await log.close();
  const reopened = await open(fileSystem);
  try {
    assert.ok(reopened.stats().recoveredTruncatedBytes > 0, 'the torn prefix was found and cut');
    assert.equal(reopened.endOffset, 20);
    assert.deepEqual((await readAll(reopened)).map(view), expectedRange(records, 0, 20));
    assert.equal(await reopened.append(records.slice(20)), 20);
    assert.deepEqual((await readAll(reopened)).map(view), expectedRange(records, 0, 25));
  } finally {
    await reopened.close();
  }
});

test('a failed directory sync while rolling a segment fails the log with STORAGE_FAILED', async () => {
  const fileSystem = faultyMemory();
  const log = await open(fileSystem, SEGMENT_BYTES_SMALL);
  const records = sampleRecords(200);
  await log.append(records[0]!);
  fileSystem.inject({ operation: 'syncDirectory', code: 'EIO' });
  const outcomes = await Promise.allSettled(records.slice(1).map((record) => log.append(record)));
  const rejected = outcomes.filter((outcome) => outcome.status === 'rejected');
  assert.ok(rejected.length > 0, 'the roll failed some appends');
  for (const outcome of rejected)
    assert.ok(isWeirError(outcome.reason, 'STORAGE_FAILED'), String(outcome.reason));
  assert.equal(log.failure?.code, 'STORAGE_FAILED');
  const confirmed = log.committedOffset;
  assert.deepEqual((await readAll(log)).map(view), expectedRange(records, 0, confirmed));
  await log.close();
});

test('a read that fails with EIO is refused as STORAGE_FAILED and appends carry on', async () => {
  const fileSystem = faultyMemory();
  const log = await openLog({
    directory: DIRECTORY,
    fileSystem,
    tailCacheBytes: 0,
    clock: () => 2_000,
  });
  try {
    const records = sampleRecords(10);
    await log.append(records);
    const remove = fileSystem.inject({ operation: 'read', code: 'EIO' });
    await rejectsWithCode(log.read(0), 'STORAGE_FAILED');
    remove();
    assert.deepEqual((await log.read(0)).map(view), expectedRange(records, 0, 10));
    assert.equal(await log.append(sampleRecord(10)), 10);
  } finally {
    await log.close();
  }
});

test('a throwing onCommit listener does not fail the log', async () => {
  const fileSystem = faultyMemory();
  const log = await open(fileSystem);
  try {
    log.onCommit(() => {
      throw new Error('a broken listener');
    });
    await log.append(sampleRecord(0)).catch(() => undefined);
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(log.failure, null, `log.failure: ${String(log.failure)}`);
    assert.equal(await log.append(sampleRecord(1)), 1);
  } finally {
    await log.close();
  }
});

test('appends past APPEND_PENDING_BYTES_MAX of queued bytes are refused with LIMIT_EXCEEDED, not a failure', async () => {
  const fileSystem = faultyMemory();
  const log = await open(fileSystem);
  // Writes wait at a gate: appends queue up without being written.
  let openGate: (() => void) | null = null;
  const gate = new Promise<void>((resolve) => {
    openGate = resolve;
  });
  fileSystem.hook = async (operation) => {
    if (operation === 'write') {
      await gate;
      throw errnoError('EIO', 'released by the test');
    }
  };
  // One body shared by every record: the queue counts its bytes without the test holding them.
  const body = new Uint8Array(RECORD_BYTES_MAX - 1024);
  const appends: Promise<number>[] = [];
  let refusal: unknown = null;
  const maxAppends = Math.ceil(APPEND_PENDING_BYTES_MAX / body.length) + 4;
  for (let i = 0; i < maxAppends && refusal === null; i++) {
    const append = log.append({ body });
    appends.push(append);
    await Promise.race([append, new Promise((resolve) => setImmediate(resolve))]).catch(
      (error: unknown) => {
        refusal = error;
      },
    );
  }
  assert.ok(isWeirError(refusal, 'LIMIT_EXCEEDED'), `refusal: ${String(refusal)}`);
  assert.equal(log.failure, null, 'a full queue is back-pressure, not a failure');
  assert.ok(
    appends.length >= APPEND_PENDING_BYTES_MAX / body.length,
    `${appends.length} appends queued first`,
  );
  openGate!();
  const outcomes = await Promise.allSettled(appends);
  assert.ok(outcomes.every((outcome) => outcome.status === 'rejected'));
  await log.close();
});

test('short writes and reads on every call still make a correct log, which a crash does not shorten', async () => {
  const fileSystem = faultyMemory(99);
  fileSystem.setShortWrites(1);
  fileSystem.setShortReads(1);
  const log = await openLog({
    directory: DIRECTORY,
    fileSystem,
    fsync: 'always',
    segmentBytes: SEGMENT_BYTES_SMALL,
    tailCacheBytes: 0,
  });
  const records = sampleRecords(400);
  for (const record of records.slice(0, 100)) await log.append(record);
  await Promise.all(records.slice(100).map((record) => log.append(record)));
  assert.ok(fileSystem.shortWrites > 100, `${fileSystem.shortWrites} short writes`);
  assert.deepEqual((await readAll(log)).map(view), expectedRange(records, 0, 400));
  assert.ok(fileSystem.shortReads > 10, `${fileSystem.shortReads} short reads`);
  const rebooted = await fileSystem.crash();
  await log.close().catch(() => undefined);
  rebooted.setShortReads(1);
  const reopened = await openLog({
    directory: DIRECTORY,
    fileSystem: rebooted,
    segmentBytes: SEGMENT_BYTES_SMALL,
    tailCacheBytes: 0,
  });
  try {
    assert.equal(reopened.endOffset, 400);
    assert.deepEqual((await readAll(reopened)).map(view), expectedRange(records, 0, 400));
  } finally {
    await reopened.close();
  }
});

test(
  'a crash at every file-system call of a run of group commits loses no confirmed append and serves nothing corrupt',
  { timeout: 60_000 },
  async () => {
    const records = sampleRecords(120);
    /** Appends 5 records, then 10 waves of 10 concurrent appends (group commits, segment rolls). */
    async function workload(
      fileSystem: FaultyFileSystem,
      onCall: () => void,
    ): Promise<{ log: PartitionLog; confirmed: number }> {
      const log = await open(fileSystem, SEGMENT_BYTES_SMALL);
      await log.append(records.slice(0, 5));
      fileSystem.hook = onCall;
      let confirmed = 5;
      for (let wave = 0; wave < 10; wave++) {
        const from = 5 + wave * 10;
        const outcomes = await Promise.allSettled(
          records.slice(from, from + 10).map((record) => log.append(record)),
        );
        confirmed += outcomes.filter((outcome) => outcome.status === 'fulfilled').length;
      }
      return { log, confirmed };
    }
    // A dry run counts the calls the workload makes: the crash then falls on each one in turn.
    let callCount = 0;
    const dryFileSystem = faultyMemory();
    const dry = await workload(dryFileSystem, () => {
      callCount++;
    });
    dryFileSystem.hook = null;
    await dry.log.close();
    assert.equal(dry.confirmed, 105);
    assert.ok(callCount > 20 && callCount < 2000, `${callCount} file-system calls`);
    let crashPoints = 0;
    for (let crashAt = 1; crashAt <= callCount; crashAt++) {
      for (const tear of [false, true]) {
        const fileSystem = faultyMemory(crashAt * 2 + (tear ? 1 : 0));
        let crashed: Promise<FaultyFileSystem> | null = null;
        let calls = 0;
        const { log, confirmed } = await workload(fileSystem, () => {
          calls++;
          if (calls === crashAt && crashed === null)
            crashed = fileSystem.crash({ tearUnsyncedWrites: tear });
        });
        const label = `crash at call ${crashAt} of ${callCount}${tear ? ', tearing' : ''}`;
        assert.ok(crashed !== null, `${label}: the crash happened during the workload`);
        const rebooted = await (crashed as Promise<FaultyFileSystem>);
        await log.close().catch(() => undefined);
        const reopened = await open(rebooted, SEGMENT_BYTES_SMALL);
        try {
          assert.ok(
            reopened.endOffset >= confirmed,
            `${label}: end ${reopened.endOffset} < confirmed ${confirmed}`,
          );
          assert.ok(reopened.endOffset <= 105, label);
          assert.deepEqual(
            (await readAll(reopened)).map(view),
            expectedRange(records, 0, reopened.endOffset),
            label,
          );
          const end = reopened.endOffset;
          assert.equal(await reopened.append(records[105]!), end, `${label}: appends carry on`);
        } finally {
          await reopened.close();
        }
        crashPoints++;
      }
    }
    assert.equal(crashPoints, callCount * 2);
  },
);

test('enqueue gives offsets at once; durable() waits for the commit and fails with the log', async () => {
  const fileSystem = faultyMemory();
  const log = await open(fileSystem, SEGMENT_BYTES_SMALL);
  const records = sampleRecords(40);
  try {
    const offsets = records.slice(0, 30).map((record) => log.enqueue(record));
    assert.deepEqual(
      offsets,
      Array.from({ length: 30 }, (_, index) => index),
    );
    assert.ok(log.committedOffset < 30, 'nothing is durable before the flush runs');
    // Waiters asked out of order all resolve once their end is committed.
    await Promise.all([log.durable(30), log.durable(10), log.durable(1)]);
    assert.equal(log.committedOffset, 30);
    await log.durable(5); // already durable: resolves at once
    assert.deepEqual((await readAll(log)).map(view), expectedRange(records, 0, 30));

    fileSystem.failWritesFrom(1, 'EIO');
    const failing = log.enqueue(records[30]!);
    assert.equal(failing, 30);
    await rejectsWithCode(log.durable(failing + 1), 'STORAGE_FAILED');
    assert.throws(
      () => log.enqueue(records[31]!),
      (error: unknown) => isWeirError(error, 'STORAGE_FAILED'),
    );
    await rejectsWithCode(log.durable(32), 'STORAGE_FAILED');
  } finally {
    await log.close();
  }
});

test('an append with one bad record leaves nothing queued; durable() past the end is refused', async () => {
  const log = await open(faultyMemory(), SEGMENT_BYTES_SMALL);
  const records = sampleRecords(6);
  try {
    assert.equal(log.enqueue(records.slice(0, 2)), 0);
    const bad = [records[2]!, { ...records[3]!, timestamp: -1 }, records[4]!];
    assert.throws(
      () => log.enqueue(bad),
      (error: unknown) => isWeirError(error, 'INVALID_ARGUMENT'),
    );
    await rejectsWithCode(log.append(bad), 'INVALID_ARGUMENT');
    assert.equal(log.endOffset, 2, 'the refused appends took no offsets');
    assert.equal(await log.append(records[5]!), 2);
    await rejectsWithCode(log.durable(4), 'INVALID_ARGUMENT');
    await log.durable(3);
    assert.deepEqual((await readAll(log)).map(view), [
      ...expectedRange(records, 0, 2),
      expected(2, records[5]!),
    ]);
  } finally {
    await log.close();
  }
});
