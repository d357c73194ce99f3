/**
 * A file system in memory. It backs `memory` logs, and it models durability exactly so the
 * tests can "crash" it: `crash()` keeps only what was made durable — each file's data as of
 * its last `sync()`, and each directory's entries as of its last `syncDirectory()` — and
 * drops everything else, the way a power cut drops the page cache.
 *
 * Durable copies are copy-on-write: a sync records (buffer, length); a later write below that
 * length, or a truncate, copies the durable bytes first. Appending never copies.
 */
import * as path from 'node:path';
import type { FileHandle, FileSystem } from './file-system.js';

interface Inode {
  data: Uint8Array;
  length: number;
  durableData: Uint8Array;
  durableLength: number;
}

function newInode(): Inode {
  const data = new Uint8Array(0);
  return { data, length: 0, durableData: data, durableLength: 0 };
}

function errno(code: string, message: string): NodeJS.ErrnoException {
  const error: NodeJS.ErrnoException = new Error(`${code}: ${message}`);
  error.code = code;
  return error;
}

/** Detaches the durable copy from the live buffer before the live buffer is changed. */
function protectDurable(inode: Inode, position: number): void {
  if (inode.durableData === inode.data && position < inode.durableLength) {
    inode.durableData = inode.data.slice(0, inode.durableLength);
  }
}

class MemoryFileHandle implements FileHandle {
  readonly #inode: Inode;
  #closed = false;

  constructor(inode: Inode) {
    this.#inode = inode;
  }

  read(buffer: Uint8Array, offset: number, length: number, position: number): Promise<number> {
    if (this.#closed) return Promise.reject(errno('EBADF', 'file handle is closed'));
    const inode = this.#inode;
    const count = Math.max(0, Math.min(length, inode.length - position));
    buffer.set(inode.data.subarray(position, position + count), offset);
    return Promise.resolve(count);
  }

  write(buffer: Uint8Array, offset: number, length: number, position: number): Promise<number> {
    if (this.#closed) return Promise.reject(errno('EBADF', 'file handle is closed'));
    const inode = this.#inode;
    protectDurable(inode, position);
    const end = position + length;
    if (end > inode.data.length) {
      const grown = new Uint8Array(Math.max(end, inode.data.length * 2, 4096));
      grown.set(inode.data.subarray(0, inode.length));
      inode.data = grown;
    }
    if (position > inode.length) inode.data.fill(0, inode.length, position);
    inode.data.set(buffer.subarray(offset, offset + length), position);
    inode.length = Math.max(inode.length, end);
    return Promise.resolve(length);
  }

  sync(): Promise<void> {
    if (this.#closed) return Promise.reject(errno('EBADF', 'file handle is closed'));
    const inode = this.#inode;
    inode.durableData = inode.data;
    inode.durableLength = inode.length;
    return Promise.resolve();
  }

  truncate(length: number): Promise<void> {
    if (this.#closed) return Promise.reject(errno('EBADF', 'file handle is closed'));
    const inode = this.#inode;
    protectDurable(inode, length);
    if (length > inode.length) {
      const grown = new Uint8Array(Math.max(length, inode.data.length));
      grown.set(inode.data.subarray(0, inode.length));
      inode.data = grown;
    } else {
      inode.data.fill(0, length, inode.length);
    }
    inode.length = length;
    return Promise.resolve();
  }

  size(): Promise<number> {
    if (this.#closed) return Promise.reject(errno('EBADF', 'file handle is closed'));
    return Promise.resolve(this.#inode.length);
  }

  close(): Promise<void> {
    this.#closed = true;
    return Promise.resolve();
  }
}

export class MemoryFileSystem implements FileSystem {
  /** Live view: path → inode. */
  #files = new Map<string, Inode>();
  /** Durable view of directory entries: path → inode, as of each directory's last sync. */
  #durableFiles = new Map<string, Inode>();
  #directories = new Set<string>(['/', '.']);

  #normalize(file: string): string {
    return path.normalize(file);
  }

  mkdir(directory: string): Promise<void> {
    let current = this.#normalize(directory);
    while (!this.#directories.has(current)) {
      this.#directories.add(current);
      current = path.dirname(current);
    }
    return Promise.resolve();
  }

  readdir(directory: string): Promise<string[]> {
    const prefix = this.#normalize(directory);
    const names = new Set<string>();
    for (const file of [...this.#files.keys(), ...this.#directories]) {
      if (path.dirname(file) === prefix && file !== prefix) names.add(path.basename(file));
    }
    return Promise.resolve([...names].sort());
  }

  open(file: string): Promise<FileHandle> {
    const name = this.#normalize(file);
    if (!this.#directories.has(path.dirname(name))) {
      return Promise.reject(errno('ENOENT', `no directory for ${file}`));
    }
    let inode = this.#files.get(name);
    if (!inode) {
      inode = newInode();
      this.#files.set(name, inode);
    }
    return Promise.resolve(new MemoryFileHandle(inode));
  }

  readFile(file: string): Promise<Uint8Array | null> {
    const inode = this.#files.get(this.#normalize(file));
    return Promise.resolve(inode ? inode.data.slice(0, inode.length) : null);
  }

  unlink(file: string): Promise<void> {
    const name = this.#normalize(file);
    if (!this.#files.delete(name)) return Promise.reject(errno('ENOENT', `no file ${file}`));
    return Promise.resolve();
  }

  rename(from: string, to: string): Promise<void> {
    const source = this.#normalize(from);
    const inode = this.#files.get(source);
    if (!inode) return Promise.reject(errno('ENOENT', `no file ${from}`));
    this.#files.delete(source);
    this.#files.set(this.#normalize(to), inode);
    return Promise.resolve();
  }

  removeDirectory(directory: string): Promise<void> {
    const prefix = this.#normalize(directory);
    const below = (name: string) => name === prefix || name.startsWith(prefix + path.sep);
    for (const name of [...this.#files.keys()]) if (below(name)) this.#files.delete(name);
    for (const name of [...this.#durableFiles.keys()]) {
      if (below(name)) this.#durableFiles.delete(name);
    }
    for (const name of [...this.#directories]) if (below(name)) this.#directories.delete(name);
    return Promise.resolve();
  }

  syncDirectory(directory: string): Promise<void> {
    const prefix = this.#normalize(directory);
    for (const name of [...this.#durableFiles.keys()]) {
      if (path.dirname(name) === prefix && !this.#files.has(name)) this.#durableFiles.delete(name);
    }
    for (const [name, inode] of this.#files) {
      if (path.dirname(name) === prefix) this.#durableFiles.set(name, inode);
    }
    return Promise.resolve();
  }

  /**
   * A power cut: every file goes back to its last synced bytes, every directory to its last
   * synced entries. Handles opened before the crash must not be used afterwards.
   * (Directories themselves are treated as durable once made: the log syncs their parents.)
   */
  crash(): void {
    const survivors = new Map<string, Inode>();
    for (const [name, inode] of this.#durableFiles) {
      const data = inode.durableData.slice(0, inode.durableLength);
      const fresh: Inode = {
        data,
        length: data.length,
        durableData: data,
        durableLength: data.length,
      };
      survivors.set(name, fresh);
    }
    this.#files = survivors;
    this.#durableFiles = new Map(survivors);
  }

  /** Bytes held, for tests and the memory-log statistics. */
  bytes(): number {
    let total = 0;
    for (const inode of this.#files.values()) total += inode.length;
    return total;
  }
}
