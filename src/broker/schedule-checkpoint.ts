/**
 * A partition scheduler's checkpoint: how far the moves from the schedule into the partition
 * log had gone when it was written (see scheduler.ts for why that is enough).
 *
 * File layout (`<schedule directory>/checkpoint`, 32 bytes, little-endian), replaced
 * atomically (write `checkpoint.tmp`, fsync, rename over `checkpoint`, fsync the directory):
 *   0   u32 magic SCHEDULE_CHECKPOINT_MAGIC ('WSC1')
 *   4   u32 crc   CRC-32C of bytes [8, 32)
 *   8   f64 movedDueAt      due time of the last record moved (-1: none moved yet)
 *   16  f64 movedOffset     its schedule offset (-1: none)
 *   24  f64 mainOffset      the partition log's end offset when the checkpoint was taken
 *
 * Meaning: every schedule record whose key (dueAt, offset) is at most (movedDueAt,
 * movedOffset) has been moved and its move is durable in the partition log; every move made
 * after the checkpoint lies at a partition-log offset >= mainOffset.
 *
 * Recovery rule: no `checkpoint` file, or one that fails its checks (a torn or garbage file;
 * the rename makes that a sign of damage, not of a crash) → null: the scheduler then rebuilds
 * from the partition log's start, which is exact unless retention has deleted moved records.
 * A leftover `checkpoint.tmp` is an unfinished write and is deleted (the previous file holds).
 */
import * as path from 'node:path';
import { replaceFile, type FileSystem } from '../storage/index.js';
import { assert, crc32c } from '../util/index.js';

export const SCHEDULE_CHECKPOINT_MAGIC = 0x31435357; // 'WSC1'
const CHECKPOINT_FILE = 'checkpoint';
const CHECKPOINT_BYTES = 32;

export interface ScheduleCheckpoint {
  /** -1: nothing moved yet. */
  readonly movedDueAt: number;
  readonly movedOffset: number;
  readonly mainOffset: number;
}

function isOffsetLike(value: number): boolean {
  return Number.isSafeInteger(value) && value >= -1;
}

export function encodeScheduleCheckpoint(checkpoint: ScheduleCheckpoint): Uint8Array {
  assert(
    isOffsetLike(checkpoint.movedDueAt) &&
      isOffsetLike(checkpoint.movedOffset) &&
      Number.isSafeInteger(checkpoint.mainOffset) &&
      checkpoint.mainOffset >= 0,
    'a schedule checkpoint holds safe integers',
  );
  const bytes = new Uint8Array(CHECKPOINT_BYTES);
  const view = new DataView(bytes.buffer);
  view.setUint32(0, SCHEDULE_CHECKPOINT_MAGIC, true);
  view.setFloat64(8, checkpoint.movedDueAt, true);
  view.setFloat64(16, checkpoint.movedOffset, true);
  view.setFloat64(24, checkpoint.mainOffset, true);
  view.setUint32(4, crc32c(bytes.subarray(8)), true);
  return bytes;
}

/** The checkpoint the bytes hold, or null if they fail any check. */
export function decodeScheduleCheckpoint(bytes: Uint8Array): ScheduleCheckpoint | null {
  if (bytes.length !== CHECKPOINT_BYTES) return null;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (view.getUint32(0, true) !== SCHEDULE_CHECKPOINT_MAGIC) return null;
  if (view.getUint32(4, true) !== crc32c(bytes.subarray(8))) return null;
  const movedDueAt = view.getFloat64(8, true);
  const movedOffset = view.getFloat64(16, true);
  const mainOffset = view.getFloat64(24, true);
  if (!isOffsetLike(movedDueAt) || !isOffsetLike(movedOffset)) return null;
  if (!Number.isSafeInteger(mainOffset) || mainOffset < 0) return null;
  if ((movedDueAt === -1) !== (movedOffset === -1)) return null;
  return { movedDueAt, movedOffset, mainOffset };
}

/** The checkpoint in `directory`; null if there is none or it fails its checks. */
export async function readScheduleCheckpoint(
  fileSystem: FileSystem,
  directory: string,
): Promise<ScheduleCheckpoint | null> {
  const file = path.join(directory, CHECKPOINT_FILE);
  const leftover = file + '.tmp';
  if ((await fileSystem.readFile(leftover)) !== null) await fileSystem.unlink(leftover);
  const bytes = await fileSystem.readFile(file);
  return bytes === null ? null : decodeScheduleCheckpoint(bytes);
}

/** Replaces the checkpoint atomically; durable (data and directory entry) when this resolves. */
export async function writeScheduleCheckpoint(
  fileSystem: FileSystem,
  directory: string,
  checkpoint: ScheduleCheckpoint,
): Promise<void> {
  await replaceFile(fileSystem, directory, CHECKPOINT_FILE, encodeScheduleCheckpoint(checkpoint));
}
