/**
 * Small JSON metadata files (stream.json, subscription.json), replaced atomically: write
 * `<file>.tmp`, fsync it, rename it over `<file>`, fsync the directory. A reader sees the old
 * file or the new one, never a torn one; a leftover `.tmp` is an unfinished write and is
 * ignored (and replaced by the next write).
 */
import * as path from 'node:path';
import type { FileSystem } from '../storage/index.js';
import { WeirError } from '../util/index.js';

const encoder = new TextEncoder();
const decoder = new TextDecoder();

export async function writeJsonFile(
  fileSystem: FileSystem,
  file: string,
  value: unknown,
): Promise<void> {
  const bytes = encoder.encode(JSON.stringify(value, null, 2) + '\n');
  const temporary = file + '.tmp';
  const directory = path.dirname(file);
  await fileSystem.mkdir(directory);
  const handle = await fileSystem.open(temporary);
  try {
    await handle.truncate(0);
    let written = 0;
    while (written < bytes.length) {
      written += await handle.write(bytes, written, bytes.length - written, written);
    }
    await handle.sync();
  } finally {
    await handle.close();
  }
  await fileSystem.rename(temporary, file);
  await fileSystem.syncDirectory(directory);
}

/** The parsed file, or null if it does not exist; CORRUPT_DATA if it is not JSON. */
export async function readJsonFile(fileSystem: FileSystem, file: string): Promise<unknown> {
  const bytes = await fileSystem.readFile(file);
  if (bytes === null) return null;
  try {
    return JSON.parse(decoder.decode(bytes)) as unknown;
  } catch (error) {
    throw new WeirError('CORRUPT_DATA', `${file} is not valid JSON`, { cause: error });
  }
}
