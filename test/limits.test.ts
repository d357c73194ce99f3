/**
 * src/limits.ts asserts the relations between limits when it loads, so a bad edit fails at
 * start-up. These tests prove it loads (its assertions hold) and check relations the storage
 * engine depends on that the module does not assert itself.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as limits from '../src/limits.js';

const KiB = 1024;

test('limits.ts loads: the relations it asserts hold', async () => {
  // A second dynamic import returns the cached module; the static import above already ran
  // the assertions, so reaching this line with the module present is the proof.
  const loaded = await import('../src/limits.js');
  assert.equal(loaded.SEGMENT_BYTES_DEFAULT, limits.SEGMENT_BYTES_DEFAULT);
});

test('every limit is a positive safe integer', () => {
  const entries = Object.entries(limits);
  assert.ok(entries.length > 0);
  for (const [name, value] of entries) {
    assert.equal(typeof value, 'number', name);
    assert.ok(Number.isSafeInteger(value) && value > 0, `${name} = ${String(value)}`);
    assert.match(name, /^[A-Z][A-Z0-9_]*$/, `${name} is a constant name`);
  }
});

test('a sparse index can cover the largest segment', () => {
  assert.ok(
    limits.INDEX_ENTRIES_MAX * limits.INDEX_INTERVAL_BYTES >= limits.SEGMENT_BYTES_MAX,
    'INDEX_ENTRIES_MAX entries every INDEX_INTERVAL_BYTES reach SEGMENT_BYTES_MAX',
  );
  assert.ok(
    limits.INDEX_INTERVAL_BYTES <= limits.SEGMENT_BYTES_MIN,
    'the smallest segment is indexed',
  );
});

test('the largest record can be appended, queued, cached and read back', () => {
  assert.ok(limits.RECORD_BYTES_MAX <= limits.APPEND_PENDING_BYTES_MAX, 'it can be queued');
  assert.ok(limits.BATCH_BYTES_MAX <= limits.READ_BYTES_MAX, 'one read can return its batch');
  assert.ok(limits.BATCH_BYTES_MAX <= limits.TAIL_CACHE_BYTES_MAX, 'the largest cache holds it');
  assert.ok(limits.BATCH_BYTES_TARGET <= limits.BATCH_BYTES_MAX, 'batch target <= max');
  assert.ok(limits.BATCH_BYTES_MAX - limits.RECORD_BYTES_MAX >= KiB, 'room for the batch header');
});

test('defaults lie within their ranges', () => {
  assert.ok(limits.TAIL_CACHE_BYTES_DEFAULT <= limits.TAIL_CACHE_BYTES_MAX);
  assert.ok(
    limits.TAIL_CACHE_BYTES_DEFAULT >= limits.BATCH_BYTES_TARGET,
    'the cache holds a batch',
  );
  assert.ok(limits.FSYNC_INTERVAL_MS_DEFAULT <= limits.FSYNC_INTERVAL_MS_MAX);
  assert.ok(limits.READ_BYTES_DEFAULT <= limits.READ_BYTES_MAX);
  assert.ok(limits.SEGMENT_AGE_MS_DEFAULT > 0);
});

test('header and record counts fit their on-disk fields', () => {
  assert.ok(limits.RECORD_HEADERS_MAX < 0xffff, 'header count is a u16 with 0xFFFF reserved');
  assert.ok(limits.BATCH_RECORDS_MAX <= 2 ** 32 - 1, 'record count is a u32');
});
