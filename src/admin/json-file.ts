/**
 * A JSON document kept in one file of the data directory and replaced atomically: write a
 * temporary file beside it, fsync it, rename it over the old one, fsync the directory. A crash
 * at any point leaves either the old document or the new one, never a torn one (a stale
 * temporary file is overwritten by the next save).
 *
 * Saves run one at a time, in order; a save asked for while one runs is merged into one more
 * save of the latest document after it (the writer passes a function that builds it then).
 */
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { WeirError } from '../util/index.js';

export class JsonFile {
  readonly #file: string;
  readonly #bytesMax: number;
  #saving: Promise<void> | null = null;
  #again: (() => unknown) | null = null;

  constructor(file: string, bytesMax: number) {
    this.#file = file;
    this.#bytesMax = bytesMax;
  }

  /** The document, or null when there is no file yet. */
  async load(): Promise<unknown> {
    let text: string;
    try {
      const handle = await fs.open(this.#file, 'r');
      try {
        const { size } = await handle.stat();
        if (size > this.#bytesMax) {
          throw new WeirError(
            'CORRUPT_DATA',
            `${this.#file} is ${size} bytes, more than ${this.#bytesMax}`,
          );
        }
        text = await handle.readFile('utf8');
      } finally {
        await handle.close();
      }
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw error;
    }
    try {
      return JSON.parse(text) as unknown;
    } catch (error) {
      throw new WeirError('CORRUPT_DATA', `${this.#file} is not JSON`, { cause: error });
    }
  }

  /**
   * Saves what `document()` builds when the write starts; resolves once that (or a later)
   * document is durable.
   */
  save(document: () => unknown): Promise<void> {
    if (this.#saving !== null) {
      this.#again = document; // the save running writes it next (see the loop below)
      return this.#saving;
    }
    const run = async (): Promise<void> => {
      let next: (() => unknown) | null = document;
      try {
        while (next !== null) {
          const build: () => unknown = next;
          this.#again = null;
          await this.#write(JSON.stringify(build()));
          next = this.#again;
        }
      } finally {
        this.#saving = null;
        this.#again = null;
      }
    };
    this.#saving = run();
    return this.#saving;
  }

  async #write(text: string): Promise<void> {
    const directory = path.dirname(this.#file);
    await fs.mkdir(directory, { recursive: true });
    const temporary = `${this.#file}.tmp`;
    const handle = await fs.open(temporary, 'w');
    try {
      await handle.writeFile(text, 'utf8');
      await handle.sync();
    } finally {
      await handle.close();
    }
    await fs.rename(temporary, this.#file);
    const directoryHandle = await fs.open(directory, 'r');
    try {
      await directoryHandle.sync();
    } finally {
      await directoryHandle.close();
    }
  }
}
