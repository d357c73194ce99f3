/**
 * What the single-feature benchmarks share: their positive-integer flags, the median of their
 * runs (statistics.ts `spread`, the comparison harness's), and a file broker in a fresh
 * temporary directory that is removed afterwards.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Broker } from '../src/broker/index.js';
import type { Client } from '../src/protocol/index.js';
import { spread } from './compare/statistics.js';

/**
 * The command line's `--name N` flags, each a positive integer with a default; exits 2 naming
 * the first that is not.
 */
export function positiveIntegerFlags<Name extends string>(
  defaults: Readonly<Record<Name, number>>,
): Record<Name, number> {
  const names = Object.keys(defaults) as Name[];
  const { values } = parseArgs({
    options: Object.fromEntries(
      names.map((name) => [name, { type: 'string', default: String(defaults[name]) }]),
    ),
  });
  const parsed = {} as Record<Name, number>;
  for (const name of names) {
    const value = Number(values[name]);
    if (!Number.isInteger(value) || value < 1) {
      console.error(`--${name} must be a positive integer`);
      process.exit(2);
    }
    parsed[name] = value;
  }
  return parsed;
}

/** The median of a benchmark's runs (NaN for none). */
export function median(values: readonly number[]): number {
  return spread(values)?.median ?? Number.NaN;
}

/** Runs `body` on a client of a file broker in a fresh temporary directory, then removes it. */
export async function withTemporaryBroker<T>(
  prefix: string,
  body: (client: Client) => Promise<T>,
): Promise<T> {
  const directory = await mkdtemp(join(tmpdir(), prefix));
  const broker = await Broker.open({ dataDir: directory });
  try {
    return await body(broker.connect());
  } finally {
    await broker.close();
    await rm(directory, { recursive: true, force: true });
  }
}
