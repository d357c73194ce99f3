/**
 * Every limit in Weir, named, in one place (TigerBeetle's constants.zig, nats-server's
 * const.go). Relations between limits are asserted when this module loads, so a bad edit
 * fails at start-up instead of corrupting data later. Units are last in every name.
 */
import { assert } from './util/assert.js';

const KiB = 1024;
const MiB = 1024 * KiB;

// ---- storage: segments and indexes ----
/** A segment rolls once it would grow past this many bytes. */
export const SEGMENT_BYTES_DEFAULT = 64 * MiB;
export const SEGMENT_BYTES_MIN = 4 * KiB;
/** Positions inside a segment are u32 in the index, so a segment stays well under 4 GiB. */
export const SEGMENT_BYTES_MAX = 1024 * MiB;
/** A segment also rolls once its first record is older than this. */
export const SEGMENT_AGE_MS_DEFAULT = 24 * 60 * 60 * 1000;
/** One sparse index entry (offset, position, time) per this many bytes of batches. */
export const INDEX_INTERVAL_BYTES = 4 * KiB;
/** Index entries a segment can hold: a bounded, small typed array per segment. */
export const INDEX_ENTRIES_MAX = SEGMENT_BYTES_MAX / INDEX_INTERVAL_BYTES + 1;

// ---- storage: records and batches ----
/** The largest record (key + headers + body + framing) the storage engine accepts. */
export const RECORD_BYTES_MAX = 16 * MiB;
/** Group commit packs appended records into batches of about this size. */
export const BATCH_BYTES_TARGET = 256 * KiB;
/** No batch is larger: one record of RECORD_BYTES_MAX plus its batch header fits. */
export const BATCH_BYTES_MAX = RECORD_BYTES_MAX + 64 * KiB;
/** Records in one batch (recordCount is a u32, this keeps batches readable in one go). */
export const BATCH_RECORDS_MAX = 65_536;
/** Header count per record (u16 on disk). */
export const RECORD_HEADERS_MAX = 1024;
/** One group-commit write carries at most this many bytes; the rest waits for the next. */
export const WRITE_BYTES_MAX = 8 * MiB;
/** Appended but not yet written bytes a log queues before refusing appends (backpressure). */
export const APPEND_PENDING_BYTES_MAX = 256 * MiB;

// ---- storage: reads and the tail cache ----
/** A read returns about this many bytes unless the caller asks for another budget. */
export const READ_BYTES_DEFAULT = 1 * MiB;
export const READ_BYTES_MAX = 64 * MiB;
/** Recent batches kept in memory per log, so readers that keep up never touch the disk. */
export const TAIL_CACHE_BYTES_DEFAULT = 8 * MiB;
export const TAIL_CACHE_BYTES_MAX = 1024 * MiB;

// ---- storage: fsync ----
/** With fsync 'interval', confirmed writes are synced at least this often. */
export const FSYNC_INTERVAL_MS_DEFAULT = 100;
export const FSYNC_INTERVAL_MS_MAX = 60_000;

// ---- storage: journal ----
/** Journal segments are small: a checkpoint lets the whole segments below it go. */
export const JOURNAL_SEGMENT_BYTES = 4 * MiB;
/** The largest checkpoint snapshot a journal accepts. */
export const JOURNAL_SNAPSHOT_BYTES_MAX = 256 * MiB;

assert(SEGMENT_BYTES_MIN <= SEGMENT_BYTES_DEFAULT, 'segment min <= default');
assert(SEGMENT_BYTES_DEFAULT <= SEGMENT_BYTES_MAX, 'segment default <= max');
assert(SEGMENT_BYTES_MAX < 2 ** 32, 'segment positions fit a u32');
assert(BATCH_BYTES_TARGET <= WRITE_BYTES_MAX, 'a batch fits a write');
assert(RECORD_BYTES_MAX < BATCH_BYTES_MAX, 'a maximal record fits a batch');
assert(BATCH_BYTES_MAX <= SEGMENT_BYTES_MAX, 'a batch fits a segment');
assert(READ_BYTES_DEFAULT <= READ_BYTES_MAX, 'read default <= max');
assert(JOURNAL_SEGMENT_BYTES >= SEGMENT_BYTES_MIN, 'journal segments are valid segments');
