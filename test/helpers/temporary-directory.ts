/**
 * Fresh directories under os.tmpdir() for tests that touch the real disk. Every test that
 * makes one removes it at the end (also when it fails), so a run leaves nothing behind.
 */
import * as fs from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';

export interface TemporaryDirectory {
  readonly path: string;
  /** Removes the directory and everything below it; safe to call twice. */
  remove(): Promise<void>;
}

export async function createTemporaryDirectory(prefix = 'weir-test-'): Promise<TemporaryDirectory> {
  const directory = await fs.mkdtemp(path.join(os.tmpdir(), prefix));
  return {
    path: directory,
    remove: () => fs.rm(directory, { recursive: true, force: true, maxRetries: 3 }),
  };
}

/** Runs `body` with a fresh directory and removes the directory afterwards, whatever happens. */
export async function withTemporaryDirectory<T>(
  body: (directory: string) => Promise<T>,
  prefix?: string,
): Promise<T> {
  const temporary = await createTemporaryDirectory(prefix);
  try {
    return await body(temporary.path);
  } finally {
    await temporary.remove();
  }
}
