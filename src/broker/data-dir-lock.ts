/**
 * One broker per data directory. `Broker.open` takes `<dataDir>/LOCK`, a file holding the
 * owner's PID, created exclusively. If it exists and names a live process, the open is
 * refused with DATA_DIR_IN_USE; if that process is gone (a crash, kill -9), the lock is
 * stale and taken over. Closing the broker removes it.
 *
 * Only for the real disk: a broker over another FileSystem (memory, tests' fault injection)
 * is alone by construction.
 */
import { open, readFile, unlink } from 'node:fs/promises';
import * as path from 'node:path';
import { DATA_DIR_LOCK_ATTEMPTS_MAX } from '../limits.js';
import { WeirError } from '../util/index.js';

const LOCK_FILE = 'LOCK';

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export interface DataDirLock {
  release(): Promise<void>;
}

export async function lockDataDir(dataDir: string): Promise<DataDirLock> {
  const file = path.join(dataDir, LOCK_FILE);
  for (let attempt = 0; attempt < DATA_DIR_LOCK_ATTEMPTS_MAX; attempt++) {
    try {
      const handle = await open(file, 'wx');
      await handle.writeFile(`${process.pid}\n`);
      await handle.close();
      return {
        release: async () => {
          await unlink(file).catch(() => undefined);
        },
      };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
    const owner = Number((await readFile(file, 'utf8').catch(() => '')).trim());
    if (Number.isInteger(owner) && owner > 0 && owner !== process.pid && alive(owner)) {
      throw new WeirError('DATA_DIR_IN_USE', `${dataDir} is in use by the broker process ${owner}`);
    }
    if (owner === process.pid) {
      throw new WeirError('DATA_DIR_IN_USE', `${dataDir} is already open in this process`);
    }
    await unlink(file).catch(() => undefined); // stale: its owner is gone
  }
  throw new WeirError('DATA_DIR_IN_USE', `${dataDir}: could not take the lock`);
}
