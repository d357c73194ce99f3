/**
 * Durable subscriptions on disk, under the stream's directory:
 *
 *   subscriptions/<name>/subscription.json   { "version": 1, "config": SubscriptionConfig }
 *   subscriptions/<name>/journal/            the SubscriptionJournal (acks, deliveries, delays)
 *
 * Creation appends the start position (a SEEK per partition) to the journal and makes it
 * durable before subscription.json is written atomically: a directory without
 * subscription.json is an unfinished creation, removed at open.
 */
import * as path from 'node:path';
import type { StartPosition, SubscriptionConfig } from '../protocol/index.js';
import type { FileSystem, FsyncPolicy, PartitionLog } from '../storage/index.js';
import { WeirError } from '../util/index.js';
import { readJsonFile, writeJsonFile } from './metadata-file.js';
import { parseStoredSubscriptionConfig } from './subscription-config.js';
import { SubscriptionGroup, type SubscriptionHost } from './subscription.js';
import {
  OPERATION,
  SubscriptionJournal,
  emptyPartitionSnapshot,
  type PartitionSnapshot,
} from './subscription-journal.js';

const METADATA_VERSION = 1;

export interface SubscriptionStorage {
  readonly fileSystem: FileSystem;
  /** <stream directory>/subscriptions */
  readonly directory: string;
  readonly fsync: FsyncPolicy;
}

/**
 * The ack floor each partition gets for a start / seek position; undefined for partitions a
 * `{ offset, partition }` position does not name. Offsets are clamped into the retained range.
 */
export async function floorsFor(
  position: StartPosition,
  logs: readonly PartitionLog[],
  startOffset: (partition: number) => number,
): Promise<(number | undefined)[]> {
  const clamp = (partition: number, offset: number): number =>
    Math.min(Math.max(offset, startOffset(partition)), logs[partition]!.endOffset);
  if (position === 'earliest') return logs.map((_, partition) => startOffset(partition));
  if (position === 'latest') return logs.map((log) => log.endOffset);
  if ('timeMs' in position) {
    return Promise.all(
      logs.map(async (log, partition) =>
        clamp(partition, await log.offsetForTime(position.timeMs)),
      ),
    );
  }
  if (position.partition !== undefined) {
    if (position.partition >= logs.length) {
      throw new WeirError(
        'INVALID_ARGUMENT',
        `start.partition ${position.partition} is not below ${logs.length}`,
      );
    }
    return logs.map((_, partition) =>
      partition === position.partition ? clamp(partition, position.offset) : undefined,
    );
  }
  return logs.map((_, partition) => clamp(partition, position.offset));
}

function groupFor(
  host: SubscriptionHost,
  name: string,
  durable: boolean,
  config: SubscriptionConfig,
  state: PartitionSnapshot[],
  journal: SubscriptionJournal,
): SubscriptionGroup {
  return new SubscriptionGroup({ name, durable, config, host, journal, state });
}

/** An ephemeral subscription: in memory only. */
export async function createEphemeral(
  host: SubscriptionHost,
  name: string,
  config: SubscriptionConfig,
  start: StartPosition,
): Promise<SubscriptionGroup> {
  const floors = await floorsFor(start, host.logs, (partition) => host.startOffset(partition));
  const state = floors.map((floor, partition) =>
    emptyPartitionSnapshot(floor ?? host.startOffset(partition)),
  );
  return groupFor(host, name, false, config, state, SubscriptionJournal.ephemeral());
}

/** Creates a durable subscription: journal with its start position, then subscription.json. */
export async function createDurable(
  host: SubscriptionHost,
  storage: SubscriptionStorage,
  name: string,
  config: SubscriptionConfig,
  start: StartPosition,
): Promise<SubscriptionGroup> {
  const directory = path.join(storage.directory, name);
  await storage.fileSystem.removeDirectory(directory); // leftovers of an unfinished creation
  const floors = await floorsFor(start, host.logs, (partition) => host.startOffset(partition));
  let group: SubscriptionGroup | null = null;
  const { journal, state } = await SubscriptionJournal.open({
    directory: path.join(directory, 'journal'),
    fileSystem: storage.fileSystem,
    fsync: storage.fsync,
    partitions: host.logs.length,
    snapshot: () => group!.snapshot(),
  });
  try {
    const seeks = floors.map((floor, partition) => {
      const offset = floor ?? host.startOffset(partition);
      state[partition] = emptyPartitionSnapshot(offset);
      return journal.record(OPERATION.seek, partition, offset);
    });
    await Promise.all(seeks);
    await writeJsonFile(storage.fileSystem, path.join(directory, 'subscription.json'), {
      version: METADATA_VERSION,
      config,
    });
  } catch (error) {
    await journal.close();
    throw error;
  }
  group = groupFor(host, name, true, config, state, journal);
  return group;
}

/** Opens every durable subscription found under storage.directory. */
export async function loadDurables(
  host: SubscriptionHost,
  storage: SubscriptionStorage,
): Promise<SubscriptionGroup[]> {
  const groups: SubscriptionGroup[] = [];
  try {
    for (const name of (await storage.fileSystem.readdir(storage.directory)).sort()) {
      const directory = path.join(storage.directory, name);
      const metadata = (await readJsonFile(
        storage.fileSystem,
        path.join(directory, 'subscription.json'),
      )) as {
        version?: unknown;
        config?: unknown;
      } | null;
      if (metadata === null) {
        await storage.fileSystem.removeDirectory(directory);
        continue;
      }
      if (metadata.version !== METADATA_VERSION) {
        throw new WeirError(
          'CORRUPT_DATA',
          `${directory}/subscription.json has unknown version ${String(metadata.version)}`,
        );
      }
      const config = parseStoredSubscriptionConfig(metadata.config);
      let group: SubscriptionGroup | null = null;
      const { journal, state } = await SubscriptionJournal.open({
        directory: path.join(directory, 'journal'),
        fileSystem: storage.fileSystem,
        fsync: storage.fsync,
        partitions: host.logs.length,
        snapshot: () => group!.snapshot(),
      });
      group = groupFor(host, name, true, config, state, journal);
      groups.push(group);
    }
  } catch (error) {
    for (const group of groups) await group.close();
    throw error;
  }
  return groups;
}

/** Removes a (closed) durable subscription's files. */
export async function removeDurable(storage: SubscriptionStorage, name: string): Promise<void> {
  const directory = path.join(storage.directory, name);
  await storage.fileSystem.unlink(path.join(directory, 'subscription.json')).catch(() => undefined);
  await storage.fileSystem.syncDirectory(directory).catch(() => undefined);
  await storage.fileSystem.removeDirectory(directory);
}
