/**
 * One broker per data directory. `Broker.open` takes `<dataDir>/LOCK`; closing the broker
 * removes it. Only for the real disk: a broker over another FileSystem (memory, tests' fault
 * injection) is alone by construction.
 *
 * LOCK holds the owner record, one line of JSON:
 *   {"pid":1,"startTime":"8123456","bootId":"6f1c…","nonce":"9b2e…"}
 * pid; startTime — field 22 of /proc/<pid>/stat (clock ticks since boot), null where there is
 * no /proc; bootId — /proc/sys/kernel/random/boot_id, or null; nonce — random, one per lock.
 *
 * Taking it: the record is written to `LOCK.<nonce>.tmp`, fsynced, then hard-linked to LOCK
 * (link() fails with EEXIST if LOCK exists: exclusive, and LOCK is never seen half-written),
 * then the temporary name goes and the directory is fsynced.
 *
 * If LOCK exists, its record is judged. It is live (DATA_DIR_IN_USE) when its owner is this
 * process (a lock this process holds, or, with the same start time and boot id, one another
 * thread of this process holds), or another process that is alive with the recorded start
 * time and boot id. It is stale when it cannot be parsed (empty, garbage: Weir never writes
 * it partially), when the boot id differs (a reboot), when the pid is ours but the start
 * time is not (a previous process had our pid: PID 1 in containers), when the pid is dead,
 * or alive with another start time (the pid was reused). A LOCK of the older format (a bare
 * pid) is judged by its pid alone, and is ours only if this process holds a lock there.
 *
 * Taking over a stale LOCK: only the holder of `LOCK.takeover` (taken the same way, by
 * link()) may remove LOCK. Holding it, the opener reads LOCK again and removes it only if it
 * is still stale (no one else can replace a LOCK that exists while the takeover is held), then
 * lets go of the takeover and links again. Two racing openers cannot both win: each LOCK is
 * created by one successful link(), and only a stale one is ever removed. A takeover file
 * left by a crashed opener is itself judged by its record; a stale one is renamed to a unique
 * name first (one renamer wins it), checked to be the file judged stale (else put back), and
 * removed.
 */
import { randomBytes } from 'node:crypto';
import { link, open, readFile, readdir, realpath, rename, unlink } from 'node:fs/promises';
import * as path from 'node:path';
import { DATA_DIR_LOCK_ATTEMPTS_MAX, DATA_DIR_LOCK_RECORD_BYTES_MAX } from '../limits.js';
import { WeirError } from '../util/index.js';

const LOCK_FILE = 'LOCK';
const TAKEOVER_FILE = 'LOCK.takeover';
const NONCE_BYTES = 16;
/** Field 22 of /proc/<pid>/stat is the 20th after the `(comm)` field closes. */
const START_TIME_FIELD_AFTER_COMM = 19;

/** Who holds a lock file. */
export interface LockOwner {
  readonly pid: number;
  readonly startTime: string | null;
  readonly bootId: string | null;
  /** Null for the older format (a bare pid). */
  readonly nonce: string | null;
}

/** Nonces of the lock files (LOCK and LOCK.takeover) this process holds, by real path. */
const held = new Map<string, string>();

function errorCode(error: unknown): string | undefined {
  return (error as NodeJS.ErrnoException | undefined)?.code;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return errorCode(error) === 'EPERM';
  }
}

/** Start time of a process (clock ticks since boot, as text), or null if unknown. */
export async function processStartTime(pid: number): Promise<string | null> {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
    const fields = stat
      .slice(stat.lastIndexOf(')') + 1)
      .trim()
      .split(' ');
    return fields[START_TIME_FIELD_AFTER_COMM] ?? null;
  } catch {
    return null;
  }
}

let bootIdCache: Promise<string | null> | null = null;

/** This boot's id, or null where the system does not say. */
export function bootId(): Promise<string | null> {
  bootIdCache ??= readFile('/proc/sys/kernel/random/boot_id', 'utf8').then(
    (text) => text.trim() || null,
    () => null,
  );
  return bootIdCache;
}

async function ownRecord(): Promise<LockOwner> {
  return {
    pid: process.pid,
    startTime: await processStartTime(process.pid),
    bootId: await bootId(),
    nonce: randomBytes(NONCE_BYTES).toString('hex'),
  };
}

function optionalText(value: unknown): string | null | undefined {
  if (value === null) return null;
  return typeof value === 'string' && value.length > 0 ? value : undefined;
}

/** The owner a lock file names, or null if it names none (empty, garbage, too large). */
export function parseLockOwner(text: string): LockOwner | null {
  const trimmed = text.trim();
  if (/^[1-9][0-9]*$/.test(trimmed)) {
    const pid = Number(trimmed);
    return Number.isSafeInteger(pid) ? { pid, startTime: null, bootId: null, nonce: null } : null;
  }
  let value: unknown;
  try {
    value = JSON.parse(trimmed);
  } catch {
    return null;
  }
  if (typeof value !== 'object' || value === null) return null;
  const record = value as Record<string, unknown>;
  const pid = record['pid'];
  const startTime = optionalText(record['startTime']);
  const boot = optionalText(record['bootId']);
  const nonce = optionalText(record['nonce']);
  if (typeof pid !== 'number' || !Number.isSafeInteger(pid) || pid <= 0) return null;
  if (startTime === undefined || boot === undefined || typeof nonce !== 'string') return null;
  return { pid, startTime, bootId: boot, nonce };
}

/** Why the owner still holds its lock file (a message for DATA_DIR_IN_USE), or null: stale. */
async function liveOwner(owner: LockOwner | null, file: string): Promise<string | null> {
  if (owner === null) return null;
  if (owner.nonce !== null && held.get(file) === owner.nonce) return 'this process holds it';
  const ourBoot = await bootId();
  if (owner.bootId !== null && ourBoot !== null && owner.bootId !== ourBoot) return null;
  if (owner.pid === process.pid) {
    // Our pid: this process (another thread of it) only if the start time says so.
    const ours = await processStartTime(process.pid);
    const sameProcess = owner.startTime !== null && ours !== null && owner.startTime === ours;
    return sameProcess ? 'this process holds it' : null;
  }
  if (!alive(owner.pid)) return null;
  if (owner.startTime !== null) {
    const current = await processStartTime(owner.pid);
    if (current !== null && current !== owner.startTime) return null; // the pid was reused
  }
  return `the broker process ${owner.pid} holds it`;
}

/** A lock file's text and the owner it names; null if the file does not exist. */
async function readOwner(file: string): Promise<{ text: string; owner: LockOwner | null } | null> {
  let text: string;
  try {
    const handle = await open(file, 'r');
    try {
      const buffer = Buffer.alloc(DATA_DIR_LOCK_RECORD_BYTES_MAX + 1);
      const { bytesRead } = await handle.read(buffer, 0, buffer.length, 0);
      text = buffer.toString('utf8', 0, bytesRead);
      if (bytesRead > DATA_DIR_LOCK_RECORD_BYTES_MAX) return { text, owner: null };
    } finally {
      await handle.close();
    }
  } catch (error) {
    if (errorCode(error) === 'ENOENT') return null;
    throw error;
  }
  return { text, owner: parseLockOwner(text) };
}

async function syncDirectory(directory: string): Promise<void> {
  const handle = await open(directory, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** Writes `record` under a temporary name and links it to `file`; false if `file` exists. */
async function createExclusive(
  directory: string,
  file: string,
  record: LockOwner,
): Promise<boolean> {
  const temporary = path.join(directory, `${LOCK_FILE}.${record.nonce}.tmp`);
  const handle = await open(temporary, 'wx');
  try {
    await handle.writeFile(JSON.stringify(record) + '\n');
    await handle.sync();
  } finally {
    await handle.close();
  }
  try {
    await link(temporary, file);
    held.set(file, record.nonce!);
    return true;
  } catch (error) {
    if (errorCode(error) !== 'EEXIST') throw error;
    return false;
  } finally {
    await unlink(temporary);
    await syncDirectory(directory);
  }
}

/** Removes `file` if it still holds the record of `nonce`. */
async function removeIfOurs(file: string, nonce: string): Promise<void> {
  if (held.get(file) === nonce) held.delete(file);
  const read = await readOwner(file).catch(() => null);
  if (read?.owner?.nonce === nonce) await unlink(file).catch(() => undefined);
}

/**
 * Removes a stale file whose removal is not guarded by anything else (the takeover file):
 * renamed to a unique name first, so that of two racing removers one gets it; put back if
 * what was renamed is not the file judged stale.
 */
async function removeStale(directory: string, file: string, staleText: string): Promise<void> {
  const aside = path.join(
    directory,
    `${path.basename(file)}.stale.${randomBytes(NONCE_BYTES).toString('hex')}`,
  );
  try {
    await rename(file, aside);
  } catch (error) {
    if (errorCode(error) === 'ENOENT') return; // another opener removed it
    throw error;
  }
  const moved = await readOwner(aside);
  const same = moved !== null && moved.text === staleText;
  if (!same) {
    // A fresh file replaced the stale one before the rename: put it back where it was.
    await link(aside, file).catch(() => undefined);
  }
  await unlink(aside);
  await syncDirectory(directory);
}

export interface DataDirLock {
  release(): Promise<void>;
}

export async function lockDataDir(dataDir: string): Promise<DataDirLock> {
  const directory = await realpath(dataDir);
  const file = path.join(directory, LOCK_FILE);
  const takeoverFile = path.join(directory, TAKEOVER_FILE);
  const record = await ownRecord();
  for (let attempt = 0; attempt < DATA_DIR_LOCK_ATTEMPTS_MAX; attempt++) {
    if (await createExclusive(directory, file, record)) {
      await removeLeftovers(directory);
      return { release: () => removeIfOurs(file, record.nonce!) };
    }
    const read = await readOwner(file);
    if (read === null) continue; // released meanwhile: link again
    const live = await liveOwner(read.owner, file);
    if (live !== null) throw new WeirError('DATA_DIR_IN_USE', `${dataDir} is in use: ${live}`);
    await takeOver(directory, file, takeoverFile, dataDir);
  }
  throw new WeirError('DATA_DIR_IN_USE', `${dataDir}: could not take the lock`);
}

/** Removes LOCK if it is stale, holding LOCK.takeover meanwhile. */
async function takeOver(
  directory: string,
  file: string,
  takeoverFile: string,
  dataDir: string,
): Promise<void> {
  const takeover = await ownRecord();
  if (!(await createExclusive(directory, takeoverFile, takeover))) {
    const read = await readOwner(takeoverFile);
    if (read === null) return; // finished meanwhile: try again
    const live = await liveOwner(read.owner, takeoverFile);
    if (live !== null) {
      throw new WeirError('DATA_DIR_IN_USE', `${dataDir} is being taken over: ${live}`);
    }
    await removeStale(directory, takeoverFile, read.text);
    return;
  }
  try {
    const read = await readOwner(file);
    if (read !== null && (await liveOwner(read.owner, file)) === null) {
      await unlink(file).catch((error: unknown) => {
        if (errorCode(error) !== 'ENOENT') throw error;
      });
      await syncDirectory(directory);
    }
  } finally {
    await removeIfOurs(takeoverFile, takeover.nonce!);
  }
}

/**
 * Temporary and set-aside lock files left by openers that crashed: removed when the record in
 * them names a stale owner. One that names no owner is kept: it may be another opener's
 * temporary file between its creation and its write (removing it would fail that opener).
 */
async function removeLeftovers(directory: string): Promise<void> {
  for (const name of await readdir(directory)) {
    if (!name.startsWith(`${LOCK_FILE}.`) || name === TAKEOVER_FILE) continue;
    if (!name.endsWith('.tmp') && !name.includes('.stale.')) continue;
    const leftover = path.join(directory, name);
    const read = await readOwner(leftover).catch(() => null);
    if (read?.owner == null || (await liveOwner(read.owner, leftover)) !== null) continue;
    await unlink(leftover).catch(() => undefined);
  }
}
