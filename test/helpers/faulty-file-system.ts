/**
 * A fault-injecting file system for the storage tests (TigerBeetle's testing/storage.zig,
 * nats-server's store tests): it wraps another FileSystem — usually a MemoryFileSystem — and
 *
 * - fails chosen calls with a NodeJS.ErrnoException carrying `.code` (EIO, ENOSPC, ...):
 *   the Nth write, every write from some point on, every sync, ... (`inject` and the
 *   `fail*` shorthands), optionally leaving a torn prefix of the failed write behind;
 * - writes and reads short (a call moves fewer bytes than asked), with a seeded generator;
 * - "crashes": `crash()` fences this instance (every later call through it, or through a
 *   handle it opened, fails with EIO, so the log that was running cannot touch the "next
 *   boot"), optionally tears unsynced writes (keeps a random prefix of what was written since
 *   the last sync, as a partial page-cache flush would), then delegates to
 *   MemoryFileSystem.crash(), which drops every byte and directory entry not made durable.
 *   It returns a fresh, healthy FaultyFileSystem over the same memory to reopen the log on.
 *
 * Every fault is deterministic given the seed and the order of calls.
 */
import * as path from 'node:path';
import type { FileHandle, FileSystem } from '../../src/storage/index.js';
import { MemoryFileSystem } from '../../src/storage/index.js';

export type FaultOperation =
  | 'mkdir'
  | 'readdir'
  | 'open'
  | 'readFile'
  | 'unlink'
  | 'rename'
  | 'removeDirectory'
  | 'syncDirectory'
  | 'read'
  | 'write'
  | 'sync'
  | 'truncate'
  | 'size'
  | 'close';

export interface FaultRule {
  readonly operation: FaultOperation;
  /** errno code of the error thrown: 'EIO', 'ENOSPC', ... */
  readonly code: string;
  /** The first matching call that fails, 1-based, counted from when the rule is added. Default 1. */
  readonly nth?: number;
  /** How many matching calls fail from the nth on. Default: every one (Infinity). */
  readonly times?: number;
  /** Only calls whose file (or directory) path matches. */
  readonly path?: RegExp;
  /** For writes: before failing, write a seeded random strict prefix of the buffer (a torn write). */
  readonly tornPrefix?: boolean;
}

export interface FaultyFileSystemOptions {
  /** Seed of the generator behind short writes, short reads, torn prefixes and crash tearing. */
  readonly seed?: number;
}

export interface CrashOptions {
  /**
   * Before dropping unsynced bytes, make a seeded random prefix of each file's unsynced
   * tail durable: the torn tail a power cut leaves when part of the page cache was flushed.
   */
  readonly tearUnsyncedWrites?: boolean;
}

export type OperationHook = (operation: FaultOperation, file: string) => void | Promise<void>;

/** mulberry32: small, fast, good enough to pick fault points reproducibly. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let value = state;
    value = Math.imul(value ^ (value >>> 15), value | 1);
    value ^= value + Math.imul(value ^ (value >>> 7), value | 61);
    return ((value ^ (value >>> 14)) >>> 0) / 4294967296;
  };
}

export function errnoError(code: string, message: string): NodeJS.ErrnoException {
  const error: NodeJS.ErrnoException = new Error(`${code}: ${message}`);
  error.code = code;
  return error;
}

interface ActiveRule {
  readonly rule: FaultRule;
  seen: number;
  fired: number;
}

export class FaultyFileSystem implements FileSystem {
  readonly inner: FileSystem;
  readonly #seed: number;
  readonly #random: () => number;
  #rules: ActiveRule[] = [];
  #shortWriteProbability = 0;
  #shortReadProbability = 0;
  #crashed = false;
  /** Calls made through this instance, per operation (failed ones included). */
  readonly calls: Record<FaultOperation, number> = {
    mkdir: 0,
    readdir: 0,
    open: 0,
    readFile: 0,
    unlink: 0,
    rename: 0,
    removeDirectory: 0,
    syncDirectory: 0,
    read: 0,
    write: 0,
    sync: 0,
    truncate: 0,
    size: 0,
    close: 0,
  };
  /** Faults injected so far (failed calls, short writes and short reads). */
  faultsInjected = 0;
  shortWrites = 0;
  shortReads = 0;
  /** Called before every operation (after the crash fence, before fault rules). */
  hook: OperationHook | null = null;
  /** Per file: its size when it was last synced through this file system. */
  readonly #syncedLength = new Map<string, number>();
  /** Files written or truncated since their last sync. */
  readonly #dirty = new Set<string>();

  constructor(inner: FileSystem, options: FaultyFileSystemOptions = {}) {
    this.inner = inner;
    this.#seed = options.seed ?? 1;
    this.#random = seededRandom(this.#seed);
  }

  get crashed(): boolean {
    return this.#crashed;
  }

  /** Adds a fault rule; returns a function that removes it. */
  inject(rule: FaultRule): () => void {
    const active: ActiveRule = { rule, seen: 0, fired: 0 };
    this.#rules.push(active);
    return () => {
      this.#rules = this.#rules.filter((candidate) => candidate !== active);
    };
  }

  /** The nth write from now (1 = the next one) fails with `code`; the others succeed. */
  failNthWrite(nth: number, code = 'EIO', file?: RegExp): () => void {
    return this.inject({
      operation: 'write',
      code,
      nth,
      times: 1,
      ...(file ? { path: file } : {}),
    });
  }

  /** Every write from the nth from now on (1 = the next one) fails with `code`. */
  failWritesFrom(nth: number, code = 'EIO', file?: RegExp): () => void {
    return this.inject({ operation: 'write', code, nth, ...(file ? { path: file } : {}) });
  }

  /** File syncs from the nth from now on fail (`times` of them; default every one). */
  failSyncs(
    options: { code?: string; nth?: number; times?: number; path?: RegExp } = {},
  ): () => void {
    return this.inject({
      operation: 'sync',
      code: options.code ?? 'EIO',
      nth: options.nth ?? 1,
      times: options.times ?? Infinity,
      ...(options.path ? { path: options.path } : {}),
    });
  }

  /** Each write of 2+ bytes moves only a seeded random part of its bytes with this probability. */
  setShortWrites(probability: number): void {
    this.#shortWriteProbability = probability;
  }

  /** Each read of 2+ bytes returns only a seeded random part of its bytes with this probability. */
  setShortReads(probability: number): void {
    this.#shortReadProbability = probability;
  }

  /** Turns every fault off (rules, short writes, short reads). */
  heal(): void {
    this.#rules = [];
    this.#shortWriteProbability = 0;
    this.#shortReadProbability = 0;
  }

  /**
   * A power cut. Fences this instance, optionally tears unsynced writes, then drops every
   * unsynced byte and directory entry (MemoryFileSystem.crash). Returns a healthy file system
   * over what survived, to reopen on. Requires `inner` to be a MemoryFileSystem.
   */
  async crash(options: CrashOptions = {}): Promise<FaultyFileSystem> {
    if (!(this.inner instanceof MemoryFileSystem)) {
      throw new Error('FaultyFileSystem.crash() needs a MemoryFileSystem underneath');
    }
    if (this.#crashed) throw new Error('FaultyFileSystem already crashed');
    this.#crashed = true; // synchronously: nothing of the old process runs on from here
    const memory = this.inner;
    if (options.tearUnsyncedWrites) {
      for (const file of [...this.#dirty].sort()) {
        const names = await memory.readdir(path.dirname(file));
        if (!names.includes(path.basename(file))) continue;
        const handle = await memory.open(file);
        const size = await handle.size();
        const synced = Math.min(this.#syncedLength.get(file) ?? 0, size);
        // Whole unsynced tail, none of it, or a random part: each outcome is common enough.
        const choice = this.#random();
        const kept =
          choice < 0.25
            ? size
            : choice < 0.5
              ? synced
              : synced + Math.floor(this.#random() * (size - synced + 1));
        await handle.truncate(kept);
        await handle.sync();
        await handle.close();
      }
    }
    memory.crash();
    return new FaultyFileSystem(memory, { seed: this.#seed + 1 });
  }

  /** Runs the fence, the hook and the rules for one call; throws the injected error if any. */
  async before(operation: FaultOperation, file: string): Promise<ActiveRule | null> {
    if (this.#crashed) throw errnoError('EIO', `${operation} ${file}: the file system crashed`);
    this.calls[operation]++;
    if (this.hook) await this.hook(operation, file);
    if (this.#crashed) throw errnoError('EIO', `${operation} ${file}: the file system crashed`);
    let firing: ActiveRule | null = null;
    for (const active of this.#rules) {
      const rule = active.rule;
      if (rule.operation !== operation || (rule.path && !rule.path.test(file))) continue;
      active.seen++;
      if (active.seen >= (rule.nth ?? 1) && active.fired < (rule.times ?? Infinity) && !firing) {
        active.fired++;
        firing = active;
      }
    }
    if (firing) this.faultsInjected++;
    return firing;
  }

  async #simple<T>(operation: FaultOperation, file: string, run: () => Promise<T>): Promise<T> {
    const firing = await this.before(operation, file);
    if (firing) throw errnoError(firing.rule.code, `${operation} ${file} (injected)`);
    return run();
  }

  /** A number in [1, length - 1] for a short transfer of `length` bytes. */
  shortLength(length: number): number {
    return 1 + Math.floor(this.#random() * (length - 1));
  }

  random(): number {
    return this.#random();
  }

  wantsShortWrite(length: number): boolean {
    return (
      length >= 2 && this.#shortWriteProbability > 0 && this.#random() < this.#shortWriteProbability
    );
  }

  wantsShortRead(length: number): boolean {
    return (
      length >= 2 && this.#shortReadProbability > 0 && this.#random() < this.#shortReadProbability
    );
  }

  noteWrite(file: string): void {
    this.#dirty.add(file);
  }

  noteSync(file: string, size: number): void {
    this.#dirty.delete(file);
    this.#syncedLength.set(file, size);
  }

  mkdir(directory: string): Promise<void> {
    return this.#simple('mkdir', directory, () => this.inner.mkdir(directory));
  }

  readdir(directory: string): Promise<string[]> {
    return this.#simple('readdir', directory, () => this.inner.readdir(directory));
  }

  async open(file: string): Promise<FileHandle> {
    const handle = await this.#simple('open', file, () => this.inner.open(file));
    const name = path.normalize(file);
    // A file this instance has not seen yet is durable as it stands: it is new (empty), or it
    // survived the crash this instance was made by. Tearing never cuts below this length.
    if (!this.#syncedLength.has(name)) this.#syncedLength.set(name, await handle.size());
    return new FaultyFileHandle(this, name, handle);
  }

  readFile(file: string): Promise<Uint8Array | null> {
    return this.#simple('readFile', file, () => this.inner.readFile(file));
  }

  unlink(file: string): Promise<void> {
    return this.#simple('unlink', file, () => this.inner.unlink(file));
  }

  rename(from: string, to: string): Promise<void> {
    return this.#simple('rename', from, async () => {
      await this.inner.rename(from, to);
      const source = path.normalize(from);
      const target = path.normalize(to);
      // The data of the renamed file keeps its sync state under its new name.
      const synced = this.#syncedLength.get(source);
      this.#syncedLength.delete(source);
      if (synced === undefined) this.#syncedLength.delete(target);
      else this.#syncedLength.set(target, synced);
      if (this.#dirty.delete(source)) this.#dirty.add(target);
      else this.#dirty.delete(target);
    });
  }

  removeDirectory(directory: string): Promise<void> {
    return this.#simple('removeDirectory', directory, () => this.inner.removeDirectory(directory));
  }

  syncDirectory(directory: string): Promise<void> {
    return this.#simple('syncDirectory', directory, () => this.inner.syncDirectory(directory));
  }
}

class FaultyFileHandle implements FileHandle {
  readonly #fileSystem: FaultyFileSystem;
  readonly #file: string;
  readonly #inner: FileHandle;

  constructor(fileSystem: FaultyFileSystem, file: string, inner: FileHandle) {
    this.#fileSystem = fileSystem;
    this.#file = file;
    this.#inner = inner;
  }

  async read(
    buffer: Uint8Array,
    offset: number,
    length: number,
    position: number,
  ): Promise<number> {
    const firing = await this.#fileSystem.before('read', this.#file);
    if (firing) throw errnoError(firing.rule.code, `read ${this.#file} (injected)`);
    let count = length;
    if (this.#fileSystem.wantsShortRead(length)) {
      count = this.#fileSystem.shortLength(length);
      this.#fileSystem.shortReads++;
      this.#fileSystem.faultsInjected++;
    }
    return this.#inner.read(buffer, offset, count, position);
  }

  async write(
    buffer: Uint8Array,
    offset: number,
    length: number,
    position: number,
  ): Promise<number> {
    const fileSystem = this.#fileSystem;
    const firing = await fileSystem.before('write', this.#file);
    if (firing) {
      if (firing.rule.tornPrefix && length >= 2) {
        const torn = fileSystem.shortLength(length);
        await this.#inner.write(buffer, offset, torn, position);
        fileSystem.noteWrite(this.#file);
      }
      throw errnoError(firing.rule.code, `write ${this.#file} (injected)`);
    }
    let count = length;
    if (fileSystem.wantsShortWrite(length)) {
      count = fileSystem.shortLength(length);
      fileSystem.shortWrites++;
      fileSystem.faultsInjected++;
    }
    const written = await this.#inner.write(buffer, offset, count, position);
    fileSystem.noteWrite(this.#file);
    return written;
  }

  async sync(): Promise<void> {
    const firing = await this.#fileSystem.before('sync', this.#file);
    if (firing) throw errnoError(firing.rule.code, `sync ${this.#file} (injected)`);
    await this.#inner.sync();
    this.#fileSystem.noteSync(this.#file, await this.#inner.size());
  }

  async truncate(length: number): Promise<void> {
    const firing = await this.#fileSystem.before('truncate', this.#file);
    if (firing) throw errnoError(firing.rule.code, `truncate ${this.#file} (injected)`);
    await this.#inner.truncate(length);
    this.#fileSystem.noteWrite(this.#file);
  }

  async size(): Promise<number> {
    const firing = await this.#fileSystem.before('size', this.#file);
    if (firing) throw errnoError(firing.rule.code, `size ${this.#file} (injected)`);
    return this.#inner.size();
  }

  async close(): Promise<void> {
    // Closing is allowed after a crash (it frees nothing durable), and never fails by rule
    // unless a rule asks for it.
    if (this.#fileSystem.crashed) return;
    const firing = await this.#fileSystem.before('close', this.#file);
    if (firing) throw errnoError(firing.rule.code, `close ${this.#file} (injected)`);
    await this.#inner.close();
  }
}
