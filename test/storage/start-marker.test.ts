/**
 * A log's persisted logical start (advanceStart, start-marker.ts): readers never see below
 * it, it survives a crash that drops every unsynced byte, it never moves back or past the
 * committed end, a marker past what recovery kept makes new records start at it, a leftover
 * start.tmp is ignored and a corrupt marker is refused with CORRUPT_DATA.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MemoryFileSystem, openLog, type PartitionLog } from '../../src/storage/index.js';
import {
  decodeStartMarker,
  encodeStartMarker,
  writeStartMarker,
} from '../../src/storage/start-marker.js';
import { FaultyFileSystem } from '../helpers/faulty-file-system.js';

const DIRECTORY = '/log';
const RECORDS = 20;

async function appendNumbered(log: PartitionLog, from: number, count: number): Promise<void> {
  const appends: Promise<number>[] = [];
  for (let index = from; index < from + count; index++) {
    appends.push(log.append({ body: new TextEncoder().encode(String(index)) }));
  }
  await Promise.all(appends);
}

async function bodies(log: PartitionLog, from: number): Promise<string[]> {
  const records = await log.read(from, { maxRecords: 10 * RECORDS });
  return records.map((record) => new TextDecoder().decode(record.body));
}

for (const fsync of ['always', 'interval', 'never'] as const) {
  test(`advanceStart survives a crash that drops unsynced bytes (fsync ${fsync}); reads never see below it`, async () => {
    const fileSystem = new FaultyFileSystem(new MemoryFileSystem());
    const log = await openLog({ directory: DIRECTORY, fileSystem, fsync });
    await appendNumbered(log, 0, RECORDS);
    assert.equal(await log.advanceStart(RECORDS / 2), RECORDS / 2);
    assert.equal(log.startOffset, RECORDS / 2);
    assert.deepEqual((await bodies(log, 0))[0], String(RECORDS / 2));
    assert.equal(await log.advanceStart(1), RECORDS / 2, 'never moves back');
    const rebooted = await fileSystem.crash();
    await log.close().catch(() => undefined);
    const reopened = await openLog({ directory: DIRECTORY, fileSystem: rebooted, fsync });
    try {
      assert.equal(reopened.startOffset, RECORDS / 2);
      assert.equal(reopened.stats().segmentCount, 1, 'the purged records are still on disk');
      const read = await bodies(reopened, 0);
      assert.equal(read[0], String(RECORDS / 2), 'nothing below the start comes back');
      assert.equal(read.length, RECORDS / 2);
    } finally {
      await reopened.close();
    }
  });
}

test('advanceStart stops at the committed end', async () => {
  const log = await openLog({ directory: DIRECTORY, fileSystem: new MemoryFileSystem() });
  try {
    await appendNumbered(log, 0, RECORDS);
    assert.equal(await log.advanceStart(RECORDS * 10), RECORDS);
    assert.deepEqual(await bodies(log, 0), []);
    await appendNumbered(log, RECORDS, 1);
    assert.deepEqual(await bodies(log, 0), [String(RECORDS)]);
  } finally {
    await log.close();
  }
});

test('a marker past what recovery kept: new records start at the marker, none hidden below it', async () => {
  const fileSystem = new MemoryFileSystem();
  const log = await openLog({ directory: DIRECTORY, fileSystem });
  await appendNumbered(log, 0, 3);
  await log.close();
  await writeStartMarker(fileSystem, DIRECTORY, 7);
  const reopened = await openLog({ directory: DIRECTORY, fileSystem });
  try {
    assert.equal(reopened.startOffset, 7);
    assert.equal(reopened.endOffset, 7);
    assert.equal(await reopened.append({ body: new TextEncoder().encode('7') }), 7);
    assert.deepEqual(await bodies(reopened, 0), ['7']);
  } finally {
    await reopened.close();
  }
});

test('a leftover start.tmp is ignored and removed; a corrupt start is refused with CORRUPT_DATA', async () => {
  const fileSystem = new MemoryFileSystem();
  const log = await openLog({ directory: DIRECTORY, fileSystem });
  await appendNumbered(log, 0, RECORDS);
  await log.advanceStart(5);
  await log.close();
  const leftover = await fileSystem.open(`${DIRECTORY}/start.tmp`);
  await leftover.write(encodeStartMarker(15), 0, 16, 0);
  await leftover.close();
  const reopened = await openLog({ directory: DIRECTORY, fileSystem });
  assert.equal(reopened.startOffset, 5, 'the unfinished write does not count');
  await reopened.close();
  assert.equal((await fileSystem.readdir(DIRECTORY)).includes('start.tmp'), false);
  const bytes = encodeStartMarker(5);
  bytes[9] = bytes[9]! ^ 1;
  assert.equal(decodeStartMarker(bytes), null);
  const file = await fileSystem.open(`${DIRECTORY}/start`);
  await file.write(bytes, 0, bytes.length, 0);
  await file.close();
  await assert.rejects(openLog({ directory: DIRECTORY, fileSystem }), { code: 'CORRUPT_DATA' });
});
