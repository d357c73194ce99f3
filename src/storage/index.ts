/*
 * The storage engine's public face. API contract (other layers and the tests rely on it):
 *
 * // src/storage/file-system.ts (exists): FileSystem / FileHandle interfaces, nodeFileSystem (real disk)
 * // src/storage/memory-file-system.ts (exists): class MemoryFileSystem implements FileSystem, with crash()
 * //   that drops every byte not yet sync()ed and every directory entry not yet syncDirectory()ed.
 * // src/storage/record.ts (exists): RecordInput { timestamp?, key?: Uint8Array|null, headers?: Record<string,string>|null, body: Uint8Array }
 * //                                StoredRecord { offset, timestamp, key, headers, body }
 *
 * export interface LogOptions {
 *   directory: string;
 *   fileSystem?: FileSystem;                       // default nodeFileSystem
 *   fsync?: 'always' | 'interval' | 'never';       // default 'always'
 *   fsyncIntervalMs?: number;                      // for 'interval'
 *   segmentBytes?: number;                         // roll size, default 64 MiB, min 4 KiB
 *   segmentAgeMs?: number;                         // roll age
 *   tailCacheBytes?: number;                       // 0 disables the tail cache
 *   clock?: () => number;                          // ms; default Date.now
 * }
 * export function openLog(options: LogOptions): Promise<PartitionLog>;          // opens + recovers
 * export function openMemoryLog(options?: {...same minus directory/fileSystem/fsync}): Promise<PartitionLog>;
 * export function removeLog(directory: string, fileSystem?: FileSystem): Promise<void>;
 *
 * export class PartitionLog {
 *   get startOffset(): number;      // first offset readers may see: first segment's base, or the persisted logical start past it
 *   /** Moves the persisted logical start (never back, at most committedOffset); durable when resolved. *\/
 *   advanceStart(offset: number): Promise<number>;
 *   get endOffset(): number;        // offset the next append gets (counts appends not yet durable)
 *   get committedOffset(): number;  // readable end: every offset below it is confirmed/durable
 *   get failure(): WeirError | null;// set once a write/fsync failed: appends are refused from then on
 *   /** Resolves with the offset of the first record once durable under the fsync policy
 *    *  ('always': written + fdatasync'ed; 'interval'/'never': written). Concurrent appends are
 *    *  group-committed (one write + one fsync). Offsets are assigned in call order.
 *    *  Rejects with WeirError: STORAGE_FAILED (EIO etc.) / DISK_FULL (ENOSPC) after a failure,
 *    *  CLOSED after close, MESSAGE_TOO_LARGE for a record > RECORD_BYTES_MAX, LIMIT_EXCEEDED when
 *    *  too many bytes are queued. *\/
 *   append(records: RecordInput | readonly RecordInput[]): Promise<number>;
 *   /** Records from max(offset, startOffset) up to committedOffset, about maxBytes (default 1 MiB)
 *    *  but at least one record if any; maxRecords caps the count. [] at/after committedOffset.
 *    *  Served from the tail cache when recent, from disk otherwise; a batch failing its CRC on
 *    *  disk -> WeirError CORRUPT_DATA (never served). Works after a failure (confirmed data stays readable). *\/
 *   read(offset: number, options?: { maxBytes?: number; maxRecords?: number }): Promise<StoredRecord[]>;
 *   /** First offset whose record timestamp >= timestamp (committedOffset if none). *\/
 *   offsetForTime(timestamp: number): Promise<number>;
 *   /** Deletes segments that lie wholly below offset (rolls the active segment first if it does). Returns new startOffset. *\/
 *   truncateBefore(offset: number): Promise<number>;
 *   /** Deletes whole oldest segments by age (segment's max timestamp older than now-maxAgeMs), by bytes and by
 *    *  record count (a segment goes while what remains is still >= the limit, so at least the limit is kept). Never the active segment. *\/
 *   applyRetention(limits: { maxAgeMs?: number; maxBytes?: number; maxRecords?: number }): Promise<{ segmentsDeleted: number; recordsDeleted: number; bytesDeleted: number }>;
 *   stats(): { startOffset; endOffset; committedOffset; segmentCount; bytes; tailCacheBytes; indexBytes };
 *   onCommit(listener: (committedOffset: number) => void): () => void;   // returns unsubscribe
 *   flush(): Promise<void>;   // waits for queued appends and syncs (even under 'interval'/'never')
 *   close(): Promise<void>;   // flushes, writes index files, closes handles; later calls -> CLOSED
 * }
 *
 * // Journal: subscription state for the broker (ack floor, acks, delivery counts, delays), built on a PartitionLog
 * export function openJournal(options: { directory: string; fileSystem?: FileSystem; fsync?: 'always'|'interval'|'never' }): Promise<Journal>;
 * export class Journal {
 *   readonly snapshot: Uint8Array | null;          // state saved by the last checkpoint() (null if none)
 *   replay(): AsyncIterable<Uint8Array>;           // entries appended after that checkpoint, in order
 *   append(entry: Uint8Array): Promise<void>;      // group-committed; durable when resolved
 *   checkpoint(state: Uint8Array): Promise<void>;  // state must reflect every entry appended before the call; old entries are then compacted away
 *   get entriesSinceCheckpoint(): number;
 *   get bytesSinceCheckpoint(): number;
 *   close(): Promise<void>;
 * }
 */
export type { FileHandle, FileSystem } from './file-system.js';
export { nodeFileSystem } from './file-system.js';
export { MemoryFileSystem } from './memory-file-system.js';
export type { RecordHeaders, RecordInput, StoredRecord } from './record.js';
export {
  openLog,
  openMemoryLog,
  removeLog,
  PartitionLog,
  lostRangeChannel,
  type FsyncPolicy,
  type LogOptions,
  type LostRange,
  type LogStats,
  type RetentionLimits,
  type RetentionResult,
} from './log.js';
export { openJournal, Journal, type JournalOptions } from './journal.js';
export { replaceFile } from './replace-file.js';
export {
  attachStorageTelemetry,
  CONFIRM_SAMPLE_EVERY,
  type LogKind,
  type StorageTelemetrySink,
} from './telemetry.js';
