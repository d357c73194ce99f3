/**
 * Replaces a small file atomically: write `<name>.tmp` beside it, fsync it, rename it over
 * `<name>`, fsync the directory. A crash leaves the old file or the new one, never a mix; a
 * leftover `<name>.tmp` is an unfinished replace (its reader deletes it). `sync: false`
 * (a journal under fsync `never`) skips both fsyncs, keeping the atomic rename.
 */
import * as path from 'node:path';
import { assert } from '../util/index.js';
import type { FileSystem } from './file-system.js';

export async function replaceFile(
  fileSystem: FileSystem,
  directory: string,
  name: string,
  bytes: Uint8Array,
  sync = true,
): Promise<void> {
  const file = path.join(directory, name);
  const temporary = file + '.tmp';
  const handle = await fileSystem.open(temporary);
  try {
    await handle.truncate(0);
    let written = 0;
    while (written < bytes.length) {
      const count = await handle.write(bytes, written, bytes.length - written, written);
      assert(count > 0, 'a write makes progress');
      written += count;
    }
    if (sync) await handle.sync();
  } finally {
    await handle.close();
  }
  await fileSystem.rename(temporary, file);
  if (sync) await fileSystem.syncDirectory(directory);
}
