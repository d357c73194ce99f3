/**
 * Recovery of a segment's tail (Kafka's LogSegmentTest): a batch cut at any byte, garbage
 * after the last batch, a corrupted byte inside the last batch, and a damaged or missing index
 * file. The recovery rule (record-batch.ts): the first invalid batch of a segment ends it.
 *
 * Each case builds a log, closes it, takes its files' bytes, damages a copy, reopens the log
 * on the copy and checks exactly the intact batches are served, the end offset is the first
 * offset of the dropped batch, and appending carries on from there. Mostly on
 * MemoryFileSystem for speed, and every byte position once on the real disk.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import fc from 'fast-check';
import {
  MemoryFileSystem,
  nodeFileSystem,
  openLog,
  type FileSystem,
  type PartitionLog,
  type RecordInput,
  type StoredRecord,
} from '../../src/storage/index.js';
import { isWeirError } from '../../src/util/index.js';
import { withTemporaryDirectory } from '../helpers/temporary-directory.js';
import { fromInput, fromStored, type Comparable } from '../helpers/comparable-record.js';

const DIRECTORY = '/data/log';
const SEGMENT_BYTES_SMALL = 4096;
const encoder = new TextEncoder();
/** Near the records' timestamps, so that no segment rolls by age during a test. */
const clock = (): number => 2_000_000;

function sampleRecord(index: number): RecordInput {
  return {
    timestamp: 1_000_000 + index * 10,
    key: index % 2 === 0 ? null : encoder.encode(`key-${index}`),
    headers: index % 3 === 0 ? null : { index: String(index), ü: 'ω' },
    body: encoder.encode(`body of record ${index} `.repeat(1 + (index % 3))),
  };
}

async function readAll(log: PartitionLog): Promise<StoredRecord[]> {
  const all: StoredRecord[] = [];
  let offset = 0;
  for (let page = 0; page < 10_000 && offset < log.committedOffset; page++) {
    const records = await log.read(offset);
    if (records.length === 0) break;
    all.push(...records);
    offset = records[records.length - 1]!.offset + 1;
  }
  return all;
}

/** Byte ranges of the batches of a segment file, walking the batchLength fields. */
function batchRanges(bytes: Uint8Array): { start: number; end: number }[] {
  const view = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length);
  const ranges: { start: number; end: number }[] = [];
  let position = 0;
  while (position + 4 <= view.length) {
    const length = view.readUInt32LE(position);
    assert.ok(
      length > 0 && position + length <= view.length,
      'a clean segment file walks to its end',
    );
    ranges.push({ start: position, end: position + length });
    position += length;
  }
  assert.equal(position, view.length);
  return ranges;
}

async function writeWhole(fileSystem: FileSystem, file: string, bytes: Uint8Array): Promise<void> {
  await fileSystem.mkdir(path.dirname(file));
  const handle = await fileSystem.open(file);
  await handle.truncate(0);
  let written = 0;
  while (written < bytes.length)
    written += await handle.write(bytes, written, bytes.length - written, written);
  await handle.sync();
  await handle.close();
  await fileSystem.syncDirectory(path.dirname(file));
}

/** A closed log's files (name → bytes) and the records it holds, built on a MemoryFileSystem. */
interface Pristine {
  files: Map<string, Uint8Array>;
  records: RecordInput[];
  /** The last segment's .log file name, its batches, and the offset of its last batch. */
  lastSegment: string;
  lastBatches: { start: number; end: number }[];
  lastBatchOffset: number;
}

/**
 * Appends records one awaited append at a time (one batch each), then a last batch of three
 * records. With `segmentBytes` small, the records span several segments.
 */
async function buildPristine(
  fileSystem: FileSystem,
  directory: string,
  segmentBytes?: number,
): Promise<Pristine> {
  const log = await openLog({
    directory,
    fileSystem,
    clock,
    ...(segmentBytes ? { segmentBytes } : {}),
  });
  const records: RecordInput[] = [];
  const single = segmentBytes ? 150 : 8;
  for (let i = 0; i < single; i++) {
    const record = sampleRecord(i);
    assert.equal(await log.append(record), i);
    records.push(record);
  }
  const last = [sampleRecord(single), sampleRecord(single + 1), sampleRecord(single + 2)];
  assert.equal(await log.append(last), single);
  records.push(...last);
  await log.close();
  const files = new Map<string, Uint8Array>();
  for (const name of (await fileSystem.readdir(directory)).sort()) {
    const content = await fileSystem.readFile(path.join(directory, name));
    if (content) files.set(name, content);
  }
  const logNames = [...files.keys()].filter((name) => name.endsWith('.log')).sort();
  const lastSegment = logNames[logNames.length - 1]!;
  if (segmentBytes) assert.ok(logNames.length >= 3, `${logNames.length} segments`);
  return {
    files,
    records,
    lastSegment,
    lastBatches: batchRanges(files.get(lastSegment)!),
    lastBatchOffset: single,
  };
}

/** Writes the files (after `change`) into a fresh MemoryFileSystem and opens the log there. */
async function reopenDamaged(
  pristine: Pristine,
  change: (files: Map<string, Uint8Array>) => void,
  fileSystem: FileSystem = new MemoryFileSystem(),
  directory = DIRECTORY,
): Promise<{ log: PartitionLog; fileSystem: FileSystem }> {
  const files = new Map(pristine.files);
  change(files);
  for (const [name, bytes] of files)
    await writeWhole(fileSystem, path.join(directory, name), bytes);
  return { log: await openLog({ directory, fileSystem, clock }), fileSystem };
}

/** The log holds exactly records [0, end), serves them, and appends continue at `end`. */
async function assertRecoveredTo(
  log: PartitionLog,
  pristine: Pristine,
  end: number,
  label: string,
): Promise<void> {
  assert.equal(log.endOffset, end, `${label}: endOffset`);
  assert.equal(log.committedOffset, end, `${label}: committedOffset`);
  assert.deepEqual(
    (await readAll(log)).map(fromStored),
    pristine.records.slice(0, end).map((record, offset) => fromInput(offset, record)),
    `${label}: records`,
  );
  const next = sampleRecord(500);
  assert.equal(
    await log.append(next),
    end,
    `${label}: the next append takes the dropped batch's offset`,
  );
  const read = await log.read(end);
  assert.deepEqual(
    read.map(fromStored),
    [fromInput(end, next)],
    `${label}: the new record reads back`,
  );
}

const withoutIndexes = (files: Map<string, Uint8Array>): void => {
  for (const name of [...files.keys()]) if (name.endsWith('.index')) files.delete(name);
};

for (const layout of [
  { name: 'one segment', segmentBytes: undefined },
  { name: 'several segments', segmentBytes: SEGMENT_BYTES_SMALL },
]) {
  for (const keepIndex of [true, false]) {
    const indexLabel = keepIndex ? 'with the index file from close' : 'without index files';
    test(`recovery truncates a torn batch at every byte position (${layout.name}, ${indexLabel})`, async () => {
      const pristine = await buildPristine(new MemoryFileSystem(), DIRECTORY, layout.segmentBytes);
      const lastBatch = pristine.lastBatches[pristine.lastBatches.length - 1]!;
      assert.ok(lastBatch.end - lastBatch.start > 100, 'the last batch has bytes to cut');
      for (let cut = lastBatch.start; cut < lastBatch.end; cut++) {
        const { log } = await reopenDamaged(pristine, (files) => {
          if (!keepIndex) withoutIndexes(files);
          files.set(pristine.lastSegment, files.get(pristine.lastSegment)!.subarray(0, cut));
        });
        try {
          await assertRecoveredTo(log, pristine, pristine.lastBatchOffset, `cut at byte ${cut}`);
          assert.equal(
            log.stats().recoveredTruncatedBytes,
            cut - lastBatch.start,
            `cut at byte ${cut}: bytes cut`,
          );
        } finally {
          await log.close();
        }
      }
    });
  }
}

test(
  'recovery truncates a torn batch at every byte position on the real disk, and the cut persists',
  { timeout: 60_000 },
  async () => {
    const pristine = await buildPristine(new MemoryFileSystem(), DIRECTORY);
    const lastBatch = pristine.lastBatches[pristine.lastBatches.length - 1]!;
    await withTemporaryDirectory(async (root) => {
      for (let cut = lastBatch.start; cut < lastBatch.end; cut++) {
        const directory = path.join(root, `cut-${cut}`);
        const keepIndex = cut % 2 === 0;
        const { log } = await reopenDamaged(
          pristine,
          (files) => {
            if (!keepIndex) withoutIndexes(files);
            files.set(pristine.lastSegment, files.get(pristine.lastSegment)!.subarray(0, cut));
          },
          nodeFileSystem,
          directory,
        );
        try {
          await assertRecoveredTo(
            log,
            pristine,
            pristine.lastBatchOffset,
            `cut at byte ${cut} on disk`,
          );
        } finally {
          await log.close();
        }
        // The file on disk now ends where the intact batches end, plus the one new batch.
        const onDisk = await fs.readFile(path.join(directory, pristine.lastSegment));
        const ranges = batchRanges(onDisk);
        assert.equal(
          ranges.length,
          pristine.lastBatches.length,
          `cut at byte ${cut}: batches on disk`,
        );
        assert.deepEqual(
          Buffer.from(onDisk.subarray(0, lastBatch.start)),
          Buffer.from(pristine.files.get(pristine.lastSegment)!.subarray(0, lastBatch.start)),
        );
        const again = await openLog({ directory, clock });
        try {
          assert.equal(again.endOffset, pristine.lastBatchOffset + 1);
          assert.equal(
            again.stats().recoveredTruncatedBytes,
            0,
            'nothing left to cut on the second open',
          );
        } finally {
          await again.close();
        }
        await fs.rm(directory, { recursive: true, force: true });
      }
    });
  },
);

test('random garbage after the last batch is dropped, with or without the index file', async () => {
  const pristine = await buildPristine(new MemoryFileSystem(), DIRECTORY, SEGMENT_BYTES_SMALL);
  const clean = pristine.files.get(pristine.lastSegment)!;
  const end = pristine.records.length;
  const deadline = Date.now() + 10_000;
  await fc.assert(
    fc.asyncProperty(
      fc.uint8Array({ minLength: 1, maxLength: 600 }),
      fc.boolean(),
      async (garbage, keepIndex) => {
        if (Date.now() > deadline) return; // time bound: the runs already made stand
        const { log } = await reopenDamaged(pristine, (files) => {
          if (!keepIndex) withoutIndexes(files);
          files.set(pristine.lastSegment, Buffer.concat([clean, garbage]));
        });
        try {
          assert.equal(log.stats().recoveredTruncatedBytes, garbage.length);
          await assertRecoveredTo(log, pristine, end, `${garbage.length} garbage bytes`);
        } finally {
          await log.close();
        }
      },
    ),
    { numRuns: 100, seed: 4242 },
  );
});

test('a zero-filled tail (a file extended but never written) is dropped', async () => {
  const pristine = await buildPristine(new MemoryFileSystem(), DIRECTORY);
  const clean = pristine.files.get(pristine.lastSegment)!;
  for (const zeros of [1, 39, 40, 41, 4096]) {
    const { log } = await reopenDamaged(pristine, (files) => {
      withoutIndexes(files);
      files.set(pristine.lastSegment, Buffer.concat([clean, new Uint8Array(zeros)]));
    });
    try {
      await assertRecoveredTo(log, pristine, pristine.records.length, `${zeros} zero bytes`);
    } finally {
      await log.close();
    }
  }
});

test('a copy of an earlier, valid batch after the last one is dropped: its offsets do not follow', async () => {
  const pristine = await buildPristine(new MemoryFileSystem(), DIRECTORY);
  const clean = pristine.files.get(pristine.lastSegment)!;
  for (const batch of [
    pristine.lastBatches[0]!,
    pristine.lastBatches[pristine.lastBatches.length - 1]!,
  ]) {
    const { log } = await reopenDamaged(pristine, (files) => {
      withoutIndexes(files);
      files.set(
        pristine.lastSegment,
        Buffer.concat([clean, clean.subarray(batch.start, batch.end)]),
      );
    });
    try {
      await assertRecoveredTo(
        log,
        pristine,
        pristine.records.length,
        `replayed batch at byte ${batch.start}`,
      );
    } finally {
      await log.close();
    }
  }
});

test('a corrupted byte anywhere in the last batch fails its checks and the batch is dropped', async () => {
  const pristine = await buildPristine(new MemoryFileSystem(), DIRECTORY);
  const clean = pristine.files.get(pristine.lastSegment)!;
  const lastBatch = pristine.lastBatches[pristine.lastBatches.length - 1]!;
  for (let position = lastBatch.start; position < lastBatch.end; position++) {
    // Without the index file, as after a crash: the index from the last close did not cover this batch.
    const { log } = await reopenDamaged(pristine, (files) => {
      withoutIndexes(files);
      const damaged = Uint8Array.from(clean);
      damaged[position] = damaged[position]! ^ 0x5a;
      files.set(pristine.lastSegment, damaged);
    });
    try {
      await assertRecoveredTo(log, pristine, pristine.lastBatchOffset, `byte ${position} flipped`);
    } finally {
      await log.close();
    }
  }
});

test('a corrupted byte in a batch the index file vouches for is never served', async () => {
  const pristine = await buildPristine(new MemoryFileSystem(), DIRECTORY);
  const clean = pristine.files.get(pristine.lastSegment)!;
  const lastBatch = pristine.lastBatches[pristine.lastBatches.length - 1]!;
  // Bit rot under a valid index: recovery may trust the index and not rescan, but a read must
  // then refuse the batch (CORRUPT_DATA) rather than return damaged records.
  for (let position = lastBatch.start; position < lastBatch.end; position += 3) {
    const { log } = await reopenDamaged(pristine, (files) => {
      const damaged = Uint8Array.from(clean);
      damaged[position] = damaged[position]! ^ 0xff;
      files.set(pristine.lastSegment, damaged);
    });
    try {
      const expected = pristine.records.map((record, offset) => fromInput(offset, record));
      let served: Comparable[];
      try {
        served = (await readAll(log)).map(fromStored);
      } catch (error) {
        assert.ok(isWeirError(error, 'CORRUPT_DATA'), `byte ${position}: ${String(error)}`);
        continue;
      }
      assert.deepEqual(
        served,
        expected.slice(0, served.length),
        `byte ${position}: served records are intact`,
      );
      assert.ok(
        served.length <= pristine.lastBatchOffset,
        `byte ${position}: the damaged batch is not served`,
      );
    } finally {
      await log.close();
    }
  }
});

test('a missing, truncated, corrupted or foreign index file is ignored and rebuilt with the same reads', async () => {
  const fileSystem = new MemoryFileSystem();
  const log = await openLog({ directory: DIRECTORY, fileSystem, clock, segmentBytes: 16 * 1024 });
  const records: RecordInput[] = [];
  for (let i = 0; i < 400; i++) records.push(sampleRecord(i));
  for (let i = 0; i < 400; i += 4) await log.append(records.slice(i, i + 4));
  assert.ok(log.stats().segmentCount >= 2);
  await log.close();
  const files = new Map<string, Uint8Array>();
  for (const name of await fileSystem.readdir(DIRECTORY))
    files.set(name, (await fileSystem.readFile(path.join(DIRECTORY, name)))!);
  const indexNames = [...files.keys()].filter((name) => name.endsWith('.index')).sort();
  assert.ok(indexNames.length >= 2, 'every segment has an index file after close');
  const pristine: Pristine = {
    files,
    records,
    lastSegment: '',
    lastBatches: [],
    lastBatchOffset: 0,
  };

  async function observe(target: PartitionLog): Promise<unknown> {
    const pages = [];
    for (let offset = 0; offset < 400; offset += 37)
      pages.push((await target.read(offset, { maxRecords: 5 })).map(fromStored));
    const times = [];
    for (let i = 0; i < 400; i += 23)
      times.push(await target.offsetForTime(1_000_000 + i * 10 - 3));
    return { all: (await readAll(target)).map(fromStored), pages, times, end: target.endOffset };
  }
  const untouched = (await reopenDamaged(pristine, () => undefined)).log;
  const baseline = await observe(untouched);
  await untouched.close();
  assert.deepEqual(
    (baseline as { all: Comparable[] }).all,
    records.map((record, offset) => fromInput(offset, record)),
  );

  const damages: [string, (files: Map<string, Uint8Array>) => void][] = [
    ['deleted', (damaged) => indexNames.forEach((name) => damaged.delete(name))],
    ['empty', (damaged) => indexNames.forEach((name) => damaged.set(name, new Uint8Array(0)))],
    [
      'truncated',
      (damaged) =>
        indexNames.forEach((name) =>
          damaged.set(name, files.get(name)!.subarray(0, files.get(name)!.length - 7)),
        ),
    ],
    [
      'one byte flipped',
      (damaged) =>
        indexNames.forEach((name) => {
          const bytes = Uint8Array.from(files.get(name)!);
          bytes[bytes.length >> 1] = bytes[bytes.length >> 1]! ^ 1;
          damaged.set(name, bytes);
        }),
    ],
    [
      'garbage',
      (damaged) =>
        indexNames.forEach((name, i) =>
          damaged.set(
            name,
            Uint8Array.from({ length: 200 }, (_, j) => (i * 7 + j * 13) & 0xff),
          ),
        ),
    ],
    [
      'swapped between segments',
      (damaged) => {
        damaged.set(indexNames[0]!, files.get(indexNames[1]!)!);
        damaged.set(indexNames[1]!, files.get(indexNames[0]!)!);
      },
    ],
  ];
  for (const [label, damage] of damages) {
    const { log: reopened, fileSystem: copy } = await reopenDamaged(pristine, damage);
    try {
      assert.deepEqual(await observe(reopened), baseline, `index ${label}`);
    } finally {
      await reopened.close();
    }
    // After the close the active segment's index is written again: the next open trusts it.
    const again = await openLog({ directory: DIRECTORY, fileSystem: copy, clock });
    try {
      assert.deepEqual(await observe(again), baseline, `index ${label}, second open`);
    } finally {
      await again.close();
    }
  }
});

test('a stale index file from an earlier close is extended by scanning the rest of the log', async () => {
  const fileSystem = new MemoryFileSystem();
  const first = await openLog({ directory: DIRECTORY, fileSystem, clock });
  const records = Array.from({ length: 60 }, (_, i) => sampleRecord(i));
  for (const record of records.slice(0, 30)) await first.append(record);
  await first.close();
  const staleIndex = (await fileSystem.readdir(DIRECTORY)).find((name) => name.endsWith('.index'))!;
  const staleBytes = (await fileSystem.readFile(path.join(DIRECTORY, staleIndex)))!;
  const second = await openLog({ directory: DIRECTORY, fileSystem, clock });
  for (const record of records.slice(30)) await second.append(record);
  // A crash now: the .log file holds all 60 (synced), the index file still covers the first 30.
  const logName = (await fileSystem.readdir(DIRECTORY)).find((name) => name.endsWith('.log'))!;
  const logBytes = (await fileSystem.readFile(path.join(DIRECTORY, logName)))!;
  await second.close();
  const copy = new MemoryFileSystem();
  await writeWhole(copy, path.join(DIRECTORY, logName), logBytes);
  await writeWhole(copy, path.join(DIRECTORY, staleIndex), staleBytes);
  const third = await openLog({ directory: DIRECTORY, fileSystem: copy, clock });
  try {
    assert.equal(third.endOffset, 60);
    assert.deepEqual(
      (await readAll(third)).map(fromStored),
      records.map((record, offset) => fromInput(offset, record)),
    );
    assert.equal(await third.offsetForTime(1_000_000 + 45 * 10), 45);
  } finally {
    await third.close();
  }
});
