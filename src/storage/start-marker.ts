/**
 * A partition log's persisted logical start: the first offset readers may see, which may lie
 * past the first segment's base offset (a purge moves it to the end of the log at once, while
 * the active segment, which holds purged records, stays until it rolls). Without it a restart
 * would bring back the purged records still on disk (Kafka keeps its log start offset in a
 * checkpoint file for the same reason).
 *
 * File layout (`<log directory>/start`, 16 bytes, little-endian), replaced atomically (write
 * `start.tmp`, fsync, rename over `start`, fsync the directory):
 *   0   u32 magic START_MARKER_MAGIC ('WST1')
 *   4   u32 crc   CRC-32C of bytes [8, 16)
 *   8   u64 startOffset
 *
 * Recovery rule: no `start` file → the logical start is the first segment's base offset. A
 * leftover `start.tmp` is an unfinished write and is deleted (the previous `start` holds). A
 * `start` that fails its checks is refused with CORRUPT_DATA: guessing would either bring back
 * purged records or hide stored ones.
 */
import * as path from 'node:path';
import { assert, crc32c, WeirError } from '../util/index.js';
import type { FileSystem } from './file-system.js';
import { replaceFile } from './replace-file.js';

export const START_MARKER_MAGIC = 0x31545357; // 'WST1'
const START_MARKER_FILE = 'start';
const START_MARKER_BYTES = 16;
const TWO_32 = 2 ** 32;

export function encodeStartMarker(startOffset: number): Uint8Array {
  assert(Number.isSafeInteger(startOffset) && startOffset >= 0, 'a start offset is a safe integer');
  const bytes = new Uint8Array(START_MARKER_BYTES);
  const view = new DataView(bytes.buffer);
  view.setUint32(0, START_MARKER_MAGIC, true);
  view.setUint32(8, startOffset % TWO_32, true);
  view.setUint32(12, Math.floor(startOffset / TWO_32), true);
  view.setUint32(4, crc32c(bytes.subarray(8)), true);
  return bytes;
}

/** The start offset a marker holds, or null if it fails its checks. */
export function decodeStartMarker(bytes: Uint8Array): number | null {
  if (bytes.length !== START_MARKER_BYTES) return null;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (view.getUint32(0, true) !== START_MARKER_MAGIC) return null;
  if (view.getUint32(4, true) !== crc32c(bytes.subarray(8))) return null;
  const startOffset = view.getUint32(8, true) + view.getUint32(12, true) * TWO_32;
  return Number.isSafeInteger(startOffset) ? startOffset : null;
}

/** The persisted logical start of the log in `directory`, or null if none was written. */
export async function readStartMarker(
  fileSystem: FileSystem,
  directory: string,
): Promise<number | null> {
  const file = path.join(directory, START_MARKER_FILE);
  const leftover = file + '.tmp';
  if ((await fileSystem.readFile(leftover)) !== null) await fileSystem.unlink(leftover);
  const bytes = await fileSystem.readFile(file);
  if (bytes === null) return null;
  const startOffset = decodeStartMarker(bytes);
  if (startOffset === null) throw new WeirError('CORRUPT_DATA', `${file} failed its checks`);
  return startOffset;
}

/** Replaces the marker atomically; durable (data and directory entry) when this resolves. */
export async function writeStartMarker(
  fileSystem: FileSystem,
  directory: string,
  startOffset: number,
): Promise<void> {
  await replaceFile(fileSystem, directory, START_MARKER_FILE, encodeStartMarker(startOffset));
}
