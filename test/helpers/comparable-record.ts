/**
 * Records in a form `assert.deepEqual` compares well: bytes as hex, headers as entries. The
 * storage suites compare what the log gives back with what was appended through it.
 */
import assert from 'node:assert/strict';
import type { RecordInput, StoredRecord } from '../../src/storage/index.js';

export interface Comparable {
  offset: number;
  timestamp: number;
  key: string | null;
  headers: [string, string][] | null;
  body: string;
}

export const hex = (value: Uint8Array): string => Buffer.from(value).toString('hex');

export function fromStored(record: StoredRecord): Comparable {
  return {
    offset: record.offset,
    timestamp: record.timestamp,
    key: record.key === null ? null : hex(record.key),
    headers: record.headers === null ? null : Object.entries(record.headers),
    body: hex(record.body),
  };
}

/** What `record`, appended at `offset`, must read back as (the log's clock fills a missing timestamp). */
export function fromInput(
  offset: number,
  record: RecordInput,
  defaultTimestamp?: number,
): Comparable {
  const timestamp = record.timestamp ?? defaultTimestamp;
  assert.ok(timestamp !== undefined, 'expected record needs a timestamp');
  return {
    offset,
    timestamp,
    key: record.key === null || record.key === undefined ? null : hex(record.key),
    headers:
      record.headers === null || record.headers === undefined
        ? null
        : Object.entries(record.headers),
    body: hex(record.body),
  };
}
