/**
 * Reads a partition log's committed records from an offset to its end, a batch at a time:
 * what recovery passes use to find what an interrupted operation already wrote (the dedup
 * window's rebuild, a transaction's or a cron tick's outputs after a crash).
 *
 * The scan ends at the committed offset as it was when each batch was read; records appended
 * meanwhile may or may not be seen. Bounded: `maxRecords` records at most (default: no bound
 * beyond the log's end).
 */
import type { PartitionLog, StoredRecord } from '../storage/index.js';

export async function* recordsFrom(
  log: PartitionLog,
  fromOffset: number,
  maxRecords = Infinity,
): AsyncGenerator<StoredRecord> {
  let offset = Math.max(fromOffset, log.startOffset);
  let seen = 0;
  while (offset < log.committedOffset && seen < maxRecords) {
    const records = await log.read(offset);
    if (records.length === 0) return;
    for (const record of records) {
      if (seen >= maxRecords) return;
      seen++;
      yield record;
    }
    offset = records[records.length - 1]!.offset + 1;
  }
}
