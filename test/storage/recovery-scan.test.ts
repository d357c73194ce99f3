/**
 * Recovery scans the log in chunks (RECOVERY_CHUNK_BYTES); batches after a chunk boundary must
 * be kept. A log several chunks long, never closed (no index file: as after a kill), reopens
 * with every record.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MemoryFileSystem, openLog } from '../../src/storage/index.js';

const RECORDS = 12_000;
const BODY_BYTES = 1000;

test('recovery keeps every batch of an unindexed segment several scan chunks long', async () => {
  const fileSystem = new MemoryFileSystem();
  const log = await openLog({
    directory: '/scan',
    fileSystem,
    fsync: 'always',
    segmentBytes: 256 * 1024 * 1024,
  });
  const body = new Uint8Array(BODY_BYTES).fill(7);
  for (let start = 0; start < RECORDS; start += 100) {
    // Awaited one group at a time: many small batches, so chunk boundaries cut batches.
    await Promise.all(
      Array.from({ length: 100 }, (_, i) =>
        log.append({ body, key: new TextEncoder().encode(String(start + i)) }),
      ),
    );
  }
  assert.ok(log.stats().bytes > 2 * 4 * 1024 * 1024, 'the segment spans several scan chunks');
  // No close: the index file is never written, as after a crash.
  fileSystem.crash();
  const reopened = await openLog({ directory: '/scan', fileSystem, fsync: 'always' });
  assert.equal(reopened.stats().recoveredTruncatedBytes, 0);
  assert.equal(reopened.endOffset, RECORDS);
  let offset = 0;
  while (offset < RECORDS) {
    const records = await reopened.read(offset, { maxBytes: 4 * 1024 * 1024 });
    for (const record of records)
      assert.equal(new TextDecoder().decode(record.key), String(record.offset));
    offset = records[records.length - 1]!.offset + 1;
  }
  await reopened.close();
});
