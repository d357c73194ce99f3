/**
 * `weir demo`: a short tour of the storage engine until the broker server lands — appends
 * records to a durable log in the data directory (fsync: always, group commit), reopens it
 * (recovery), reads everything back and checks it.
 */
import * as path from 'node:path';
import { openLog } from '../storage/index.js';

const DEMO_RECORDS = 20_000;
const DEMO_CONCURRENCY = 256;
const DEMO_BODY_BYTES = 1024;

export async function runDemo(dataDirectory: string): Promise<void> {
  const directory = path.join(dataDirectory, 'demo', 'partition-0');
  let log = await openLog({ directory, fsync: 'always' });
  const before = log.endOffset;
  console.log(`weir demo: log at ${directory} holds offsets [${log.startOffset}, ${before})`);
  const body = Buffer.alloc(DEMO_BODY_BYTES, 'w');
  const started = performance.now();
  let next = 0;
  await Promise.all(
    Array.from({ length: DEMO_CONCURRENCY }, async () => {
      while (next < DEMO_RECORDS) {
        const sequence = next++;
        await log.append({
          key: Buffer.from(`key-${sequence % 16}`),
          headers: { sequence: String(sequence) },
          body,
        });
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  console.log(
    `appended ${DEMO_RECORDS} records of ${DEMO_BODY_BYTES} B with fsync: always from ${DEMO_CONCURRENCY} concurrent appenders in ${seconds.toFixed(2)} s (${Math.round(DEMO_RECORDS / seconds)} records/s)`,
  );
  await log.close();
  log = await openLog({ directory, fsync: 'always' });
  let offset = before;
  let count = 0;
  while (offset < log.committedOffset) {
    const records = await log.read(offset);
    for (const record of records) {
      if (record.body.length !== DEMO_BODY_BYTES)
        throw new Error(`record ${record.offset} is damaged`);
      count++;
    }
    offset = records[records.length - 1]!.offset + 1;
  }
  const stats = log.stats();
  console.log(
    `reopened: read back ${count} records, all intact; ${stats.segmentCount} segment(s), ${(stats.bytes / 1048576).toFixed(1)} MiB on disk`,
  );
  const retention = await log.applyRetention({ maxBytes: 64 * 1048576 });
  if (retention.segmentsDeleted > 0)
    console.log(`retention removed ${retention.segmentsDeleted} old segment(s)`);
  await log.close();
}
