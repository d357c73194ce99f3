/**
 * Where `weir user` finds the users it manages, one of two ways (issue 13):
 *
 * - `--data-dir DIR`: the users file of a stopped broker, opened directly (UserStore). The
 *   directory's LOCK is taken first, as Broker.open takes it, so a broker that runs on it is
 *   detected (DATA_DIR_IN_USE, with a hint to go through it) and cannot start meanwhile; the
 *   lock is let go when the command ends.
 * - otherwise: the running broker's `client.users` over `--url`, as an admin user.
 *
 * Both are the same interface (UsersApi without whoami), so every command is written once.
 */
import { mkdir, stat } from 'node:fs/promises';
import * as path from 'node:path';
import { UserStore } from '../broker/index.js';
// data-dir-lock.ts is not part of broker/index.ts yet; the CLI is its second user.
import { lockDataDir } from '../broker/data-dir-lock.js';
import type { UsersApi } from '../protocol/index.js';
import { nodeFileSystem } from '../storage/index.js';
import { isWeirError, WeirError } from '../util/index.js';
import { withClient, type ClientFlags } from './client-connection.js';

export type UserDirectory = Omit<UsersApi, 'whoami'>;

/** The flags of every `weir user` command: a data directory, or a server to go through. */
export interface UserTargetFlags extends ClientFlags {
  readonly dataDir?: string;
}

function storeDirectory(store: UserStore): UserDirectory {
  return {
    list: () => Promise.resolve(store.list()),
    info: (name) => Promise.resolve().then(() => store.get(name)),
    add: (name, options) => store.add(name, options),
    update: (name, changes) => store.update(name, changes),
    setPassword: (name, password) => store.setPassword(name, password),
    delete: (name) => store.remove(name),
    addToken: (name) => store.addToken(name),
    deleteToken: (name, id) => store.removeToken(name, id),
  };
}

async function withDataDirectory<T>(
  dataDir: string,
  create: boolean,
  work: (users: UserDirectory) => Promise<T>,
): Promise<T> {
  const directory = path.resolve(dataDir);
  if (create) {
    // The first user is added before the broker ever ran (README, "Secure start").
    await mkdir(directory, { recursive: true });
  } else {
    const found = await stat(directory).catch(() => null);
    if (found === null || !found.isDirectory()) {
      throw new WeirError('INVALID_ARGUMENT', `--data-dir ${dataDir} is not a directory`);
    }
  }
  let lock;
  try {
    lock = await lockDataDir(directory);
  } catch (error) {
    if (isWeirError(error) && error.code === 'DATA_DIR_IN_USE') {
      throw new WeirError(
        'DATA_DIR_IN_USE',
        `${error.message}. Stop it, or manage its users through it: leave out --data-dir and give --url (and --user or --token of an admin)`,
        { cause: error },
      );
    }
    throw error;
  }
  try {
    const store = await UserStore.open({ fileSystem: nodeFileSystem, directory });
    return await work(storeDirectory(store));
  } finally {
    await lock.release();
  }
}

/**
 * Runs `work` on the users `flags` name. `create`: the data directory may be made (adding a
 * user); any other command refuses a directory that does not exist (a typo would otherwise
 * show an empty list).
 */
export async function withUsers<T>(
  flags: UserTargetFlags,
  work: (users: UserDirectory) => Promise<T>,
  create = false,
): Promise<T> {
  if (flags.dataDir !== undefined) return withDataDirectory(flags.dataDir, create, work);
  return withClient(flags, (client) => work(client.users));
}
