/**
 * Where the gateway keeps its durable topology: `amqp/topology.json` in the data directory,
 * written through the broker's file system (so a cluster leader's ReplicatedFileSystem ships
 * it to the followers like the rest of the data directory), replaced atomically
 * (metadata-file.ts). Saves run one at a time; a save asked for while one runs is folded into
 * one more save of the newest snapshot after it. A declare is answered only once the save
 * that holds it resolved, so a declare-ok means the queue or binding survives a crash.
 */
import * as path from 'node:path';
import { readJsonFile, writeJsonFile } from '../broker/index.js';
import type { FileSystem } from '../storage/index.js';
import { WeirError } from '../util/index.js';
import type { TopologySnapshot } from './topology.js';

export interface TopologyStore {
  load(): Promise<TopologySnapshot | null>;
  save(snapshot: () => TopologySnapshot): Promise<void>;
}

/** A store that keeps nothing (a memory broker). */
export const NO_TOPOLOGY_STORE: TopologyStore = {
  load: () => Promise.resolve(null),
  save: () => Promise.resolve(),
};

export function fileTopologyStore(fileSystem: FileSystem, dataDir: string): TopologyStore {
  const file = path.join(dataDir, 'amqp', 'topology.json');
  /** The save running now, and the one queued behind it (which writes the newest snapshot). */
  let running: Promise<void> | null = null;
  let queued: Promise<void> | null = null;
  let latest: (() => TopologySnapshot) | null = null;
  const start = (): Promise<void> => {
    const snapshot = latest!;
    latest = null;
    const write = writeJsonFile(fileSystem, file, snapshot()).finally(() => {
      running = null;
    });
    running = write;
    return write;
  };
  return {
    load: async () => {
      const value = await readJsonFile(fileSystem, file);
      if (value === null) return null;
      if (
        typeof value !== 'object' ||
        (value as { version?: unknown }).version !== 1 ||
        !Array.isArray((value as { exchanges?: unknown }).exchanges) ||
        !Array.isArray((value as { queues?: unknown }).queues) ||
        !Array.isArray((value as { bindings?: unknown }).bindings)
      ) {
        throw new WeirError('CORRUPT_DATA', `${file} is not an AMQP topology (version 1)`);
      }
      return value as TopologySnapshot;
    },
    save: (snapshot) => {
      latest = snapshot;
      if (running === null) return start();
      queued ??= running
        .catch(() => undefined)
        .then(() => {
          queued = null;
          return start();
        });
      return queued;
    },
  };
}
