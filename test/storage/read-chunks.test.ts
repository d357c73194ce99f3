/**
 * Disk reads walk a segment in chunks sized by the read's budget, so a chunk may end anywhere
 * in a batch, its 40-byte header included. Whatever the boundary, a read serves the records
 * asked for, in order, and never reports a sound segment as corrupt.
 *
 * The bug this pins: a chunk that ended inside a batch header was taken for a corrupt batch
 * (CORRUPT_DATA on a sound file), which failed the subscription reading it. Weir over AMQP hit
 * it in W5 about one run in two: its consumers read with budgets of every size.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MemoryFileSystem, openLog, type RecordInput } from '../../src/storage/index.js';
import { BATCH_HEADER_BYTES } from '../../src/storage/record-batch.js';

const DIRECTORY = '/data/log';
const RECORDS = 120;
const MAX_RECORDS_TRIED = 12;
const encoder = new TextEncoder();
const decoder = new TextDecoder();
const clock = (): number => 2_000_000;

function sampleRecord(index: number): RecordInput {
  return {
    timestamp: 1_000_000 + index,
    key: null,
    headers: null,
    // Bodies of 1 to 37 bytes: batches of uneven lengths, so chunk ends fall everywhere.
    body: encoder.encode(`r${index}:`.padEnd(1 + ((index * 7) % 37), '.')),
  };
}

test('disk reads with chunks ending at every byte of a batch, its header included: every read serves its records', async () => {
  const fileSystem = new MemoryFileSystem();
  const log = await openLog({
    directory: DIRECTORY,
    fileSystem,
    clock,
    tailCacheBytes: 0, // every read goes to the segment file
    batchRecordsMax: 1, // one batch per record: many boundaries
    readChunkBytesMin: BATCH_HEADER_BYTES, // chunks as small as the records asked for
  });
  try {
    for (let i = 0; i < RECORDS; i++) assert.equal(await log.append(sampleRecord(i)), i);
    for (let from = 0; from < RECORDS; from++) {
      for (let maxRecords = 1; maxRecords <= MAX_RECORDS_TRIED; maxRecords++) {
        const records = await log.read(from, { maxRecords });
        const wanted = Math.min(maxRecords, RECORDS - from);
        assert.equal(records.length, wanted, `from ${from}, maxRecords ${maxRecords}`);
        records.forEach((record, i) => {
          assert.equal(record.offset, from + i);
          assert.equal(decoder.decode(record.body), decoder.decode(sampleRecord(from + i).body));
        });
      }
    }
  } finally {
    await log.close();
  }
});
