/**
 * The file calls the storage engine makes, behind an interface so that the same log runs on
 * the real disk, on memory (memory streams, tests) and on a fault-injecting file system that
 * fails writes and fsyncs, writes short, and "crashes" (drops every byte not yet synced).
 *
 * Concurrency: a FileHandle is used by one log at a time; the log never has two writes to
 * the same handle in flight. Reads may run concurrently with one write, at lower positions.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

export interface FileHandle {
  /** Reads up to `length` bytes at `position` into `buffer[offset..]`; returns bytes read. */
  read(buffer: Uint8Array, offset: number, length: number, position: number): Promise<number>;
  /** Writes `buffer[offset, offset+length)` at `position`; returns bytes written (may be short). */
  write(buffer: Uint8Array, offset: number, length: number, position: number): Promise<number>;
  /** fdatasync: the file's data (and its size) is durable when this resolves. */
  sync(): Promise<void>;
  truncate(length: number): Promise<void>;
  size(): Promise<number>;
  close(): Promise<void>;
}

export interface FileSystem {
  /** Creates the directory and its parents; no error if it exists. */
  mkdir(directory: string): Promise<void>;
  /** Names in the directory; [] if it does not exist. */
  readdir(directory: string): Promise<string[]>;
  /** Opens for reading and writing, creating the file if it does not exist. */
  open(file: string): Promise<FileHandle>;
  /** Whole file, or null if it does not exist. */
  readFile(file: string): Promise<Uint8Array | null>;
  unlink(file: string): Promise<void>;
  rename(from: string, to: string): Promise<void>;
  /** Removes a directory and everything below it; no error if it does not exist. */
  removeDirectory(directory: string): Promise<void>;
  /** Makes the directory's entries (created, renamed, removed files) durable. */
  syncDirectory(directory: string): Promise<void>;
}

function callback<T>(
  resolve: (value: T) => void,
  reject: (error: unknown) => void,
): (error: NodeJS.ErrnoException | null, value: T) => void {
  return (error, value) => (error ? reject(error) : resolve(value));
}

class NodeFileHandle implements FileHandle {
  readonly #fd: number;

  constructor(fd: number) {
    this.#fd = fd;
  }

  read(buffer: Uint8Array, offset: number, length: number, position: number): Promise<number> {
    return new Promise((resolve, reject) => {
      fs.read(this.#fd, buffer, offset, length, position, callback(resolve, reject));
    });
  }

  write(buffer: Uint8Array, offset: number, length: number, position: number): Promise<number> {
    return new Promise((resolve, reject) => {
      fs.write(this.#fd, buffer, offset, length, position, callback(resolve, reject));
    });
  }

  sync(): Promise<void> {
    return new Promise((resolve, reject) => {
      fs.fdatasync(this.#fd, (error) => (error ? reject(error) : resolve()));
    });
  }

  truncate(length: number): Promise<void> {
    return new Promise((resolve, reject) => {
      fs.ftruncate(this.#fd, length, (error) => (error ? reject(error) : resolve()));
    });
  }

  size(): Promise<number> {
    return new Promise((resolve, reject) => {
      fs.fstat(this.#fd, (error, stats) => (error ? reject(error) : resolve(stats.size)));
    });
  }

  close(): Promise<void> {
    return new Promise((resolve, reject) => {
      fs.close(this.#fd, (error) => (error ? reject(error) : resolve()));
    });
  }
}

/** The real disk, through libuv's thread pool (the event loop never waits on a disk). */
export const nodeFileSystem: FileSystem = {
  async mkdir(directory) {
    await fs.promises.mkdir(directory, { recursive: true });
  },
  async readdir(directory) {
    try {
      return await fs.promises.readdir(directory);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw error;
    }
  },
  open(file) {
    return new Promise((resolve, reject) => {
      fs.open(file, fs.constants.O_RDWR | fs.constants.O_CREAT, 0o644, (error, fd) =>
        error ? reject(error) : resolve(new NodeFileHandle(fd)),
      );
    });
  },
  async readFile(file) {
    try {
      return await fs.promises.readFile(file);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw error;
    }
  },
  async unlink(file) {
    await fs.promises.unlink(file);
  },
  async rename(from, to) {
    await fs.promises.rename(from, to);
  },
  async removeDirectory(directory) {
    await fs.promises.rm(directory, { recursive: true, force: true });
  },
  async syncDirectory(directory) {
    const handle = await fs.promises.open(path.resolve(directory), 'r');
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
  },
};
