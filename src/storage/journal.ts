/**
 * A journal with checkpoints: how the broker keeps subscription state (ack floor, acks above
 * it, delivery counts, pending delays) durable at the cost of what changes, not of the backlog.
 *
 * The state is `checkpoint` (a snapshot the caller encodes) plus the `entries` appended after
 * it (changes the caller encodes); on open the caller reads `snapshot`, then folds `replay()`
 * over it. Entries live in a PartitionLog (`<directory>/entries/`, small segments), so they
 * get group commit, CRCs and torn-tail recovery for free. A checkpoint records the entry
 * offset it covers; the whole segments below it are then deleted.
 *
 * Checkpoint file layout (`<directory>/checkpoint`, little-endian), replaced atomically
 * (write `checkpoint.tmp`, fsync, rename, fsync the directory):
 *   0   u32 magic CHECKPOINT_MAGIC ('WCP1')
 *   4   u32 crc   CRC-32C of bytes [8, end)
 *   8   u64 entryOffset   entries below this offset are folded into the state
 *   16  u32 stateLength
 *   20  ...  state bytes
 *
 * Recovery rule: no checkpoint file → no snapshot, replay from the first entry. A checkpoint
 * that fails its checks is refused with CORRUPT_DATA (the entries it covered may be gone, so
 * guessing would silently lose acks). A leftover checkpoint.tmp is an unfinished checkpoint
 * and is deleted.
 */
import * as path from 'node:path';
import { crc32c, WeirError } from '../util/index.js';
import {
  JOURNAL_SEGMENT_BYTES,
  JOURNAL_SNAPSHOT_BYTES_MAX,
  READ_BYTES_DEFAULT,
} from '../limits.js';
import { nodeFileSystem, type FileSystem } from './file-system.js';
import { PartitionLog, type FsyncPolicy } from './log.js';
import { replaceFile } from './replace-file.js';

export const CHECKPOINT_MAGIC = 0x31504357; // 'WCP1'
const CHECKPOINT_HEADER_BYTES = 20;
const TWO_32 = 2 ** 32;

export interface JournalOptions {
  readonly directory: string;
  readonly fileSystem?: FileSystem;
  readonly fsync?: FsyncPolicy;
}

export class Journal {
  readonly directory: string;
  readonly #fileSystem: FileSystem;
  readonly #log: PartitionLog;
  readonly #fsync: FsyncPolicy;
  #snapshot: Uint8Array | null;
  #snapshotOffset: number;
  #bytesSinceCheckpoint = 0;

  private constructor(
    options: JournalOptions,
    fileSystem: FileSystem,
    log: PartitionLog,
    snapshot: Uint8Array | null,
    snapshotOffset: number,
  ) {
    this.directory = options.directory;
    this.#fileSystem = fileSystem;
    this.#fsync = options.fsync ?? 'always';
    this.#log = log;
    this.#snapshot = snapshot;
    this.#snapshotOffset = snapshotOffset;
  }

  static async open(options: JournalOptions): Promise<Journal> {
    const fileSystem = options.fileSystem ?? nodeFileSystem;
    await fileSystem.mkdir(options.directory);
    const file = path.join(options.directory, 'checkpoint');
    const leftover = path.join(options.directory, 'checkpoint.tmp');
    if ((await fileSystem.readFile(leftover)) !== null) await fileSystem.unlink(leftover);
    const bytes = await fileSystem.readFile(file);
    let snapshot: Uint8Array | null = null;
    let snapshotOffset = 0;
    if (bytes !== null) {
      const decoded = decodeCheckpoint(bytes);
      if (!decoded) throw new WeirError('CORRUPT_DATA', `${file} failed its checks`);
      snapshot = decoded.state;
      snapshotOffset = decoded.entryOffset;
    }
    const log = await PartitionLog.open({
      directory: path.join(options.directory, 'entries'),
      fileSystem,
      fsync: options.fsync ?? 'always',
      segmentBytes: JOURNAL_SEGMENT_BYTES,
      tailCacheBytes: 0,
      kind: 'journal',
    });
    const journal = new Journal(options, fileSystem, log, snapshot, snapshotOffset);
    journal.#bytesSinceCheckpoint = log.stats().bytes;
    return journal;
  }

  /** The state saved by the last checkpoint, or null if there was none. */
  get snapshot(): Uint8Array | null {
    return this.#snapshot;
  }

  get entriesSinceCheckpoint(): number {
    return this.#log.endOffset - Math.max(this.#snapshotOffset, this.#log.startOffset);
  }

  /** Approximate bytes of entries kept since the checkpoint (what the next one would free). */
  get bytesSinceCheckpoint(): number {
    return this.#bytesSinceCheckpoint;
  }

  /** The entries appended after the last checkpoint, in order (confirmed ones only). */
  async *replay(): AsyncIterable<Uint8Array> {
    let offset = Math.max(this.#snapshotOffset, this.#log.startOffset);
    while (offset < this.#log.committedOffset) {
      const records = await this.#log.read(offset, { maxBytes: READ_BYTES_DEFAULT });
      if (records.length === 0) break;
      for (const record of records) yield record.body;
      offset = records[records.length - 1]!.offset + 1;
    }
  }

  /** Resolves once the entry is durable (group-committed with concurrent appends). */
  async append(entry: Uint8Array): Promise<void> {
    this.#bytesSinceCheckpoint += entry.length;
    await this.#log.append({ body: entry });
  }

  /**
   * Saves `state`, which must reflect every entry appended before this call, and drops the
   * entries it covers. Callers must not append while they build `state` and call this (the
   * offset it covers is taken synchronously, at the call).
   */
  async checkpoint(state: Uint8Array): Promise<void> {
    if (state.length > JOURNAL_SNAPSHOT_BYTES_MAX) {
      throw new WeirError(
        'LIMIT_EXCEEDED',
        `checkpoint of ${state.length} bytes exceeds ${JOURNAL_SNAPSHOT_BYTES_MAX}`,
      );
    }
    const entryOffset = this.#log.endOffset;
    // Every entry the checkpoint covers must be durable before the checkpoint is: otherwise a
    // crash could leave the entry log shorter than the checkpoint says, and new entries would
    // take offsets the next replay skips.
    await this.#log.flush();
    const bytes = encodeCheckpoint(entryOffset, state);
    await replaceFile(
      this.#fileSystem,
      this.directory,
      'checkpoint',
      bytes,
      this.#fsync !== 'never',
    );
    this.#snapshot = state;
    this.#snapshotOffset = entryOffset;
    this.#bytesSinceCheckpoint = 0;
    await this.#log.truncateBefore(entryOffset);
  }

  async close(): Promise<void> {
    await this.#log.close();
  }
}

function encodeCheckpoint(entryOffset: number, state: Uint8Array): Buffer {
  const buffer = Buffer.allocUnsafe(CHECKPOINT_HEADER_BYTES + state.length);
  buffer.writeUInt32LE(CHECKPOINT_MAGIC, 0);
  buffer.writeUInt32LE(entryOffset % TWO_32, 8);
  buffer.writeUInt32LE(Math.floor(entryOffset / TWO_32), 12);
  buffer.writeUInt32LE(state.length, 16);
  buffer.set(state, CHECKPOINT_HEADER_BYTES);
  buffer.writeUInt32LE(crc32c(buffer, 0, 8), 4);
  return buffer;
}

function decodeCheckpoint(bytes: Uint8Array): { entryOffset: number; state: Uint8Array } | null {
  if (bytes.length < CHECKPOINT_HEADER_BYTES) return null;
  const buffer = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length);
  if (buffer.readUInt32LE(0) !== CHECKPOINT_MAGIC) return null;
  if (buffer.readUInt32LE(4) !== crc32c(buffer, 0, 8)) return null;
  const length = buffer.readUInt32LE(16);
  if (CHECKPOINT_HEADER_BYTES + length !== buffer.length) return null;
  return {
    entryOffset: buffer.readUInt32LE(8) + buffer.readUInt32LE(12) * TWO_32,
    state: buffer.subarray(CHECKPOINT_HEADER_BYTES),
  };
}

export function openJournal(options: JournalOptions): Promise<Journal> {
  return Journal.open(options);
}
