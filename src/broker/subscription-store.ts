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
import * as diagnosticsChannel from 'node:diagnostics_channel';
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
  encodeSnapshot,
  type PartitionSnapshot,
} from './subscription-journal.js';

const METADATA_VERSION = 1;

/**
 * A durable subscription's ack floor lay past its partition's log end at open and was moved
 * back: `{ stream, subscription, partition, floor, endOffset }`. Only at open.
 */
export const floorClampedChannel = diagnosticsChannel.channel('weir:subscription:floor-clamped');

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
  floorClamped?: readonly number[],
): SubscriptionGroup {
  return new SubscriptionGroup({
    name,
    durable,
    config,
    host,
    journal,
    state,
    ...(floorClamped ? { floorClamped } : {}),
  });
}

/**
 * At open: the journal may hold state past what the log kept (fsync 'never' / 'interval' on
 * the stream, a power cut that dropped the log's unsynced tail while the journal's checkpoint
 * survived). A floor past the log's end would skip every new message up to it, a settled
 * offset past it would skip the new message that gets it: both are brought back to the log's
 * end, and the corrected state is journalled (a SEEK, then the settlements and delivery counts
 * still below the end) so that the next open does not see the old one again. Returns, per
 * partition, how many offsets the floor moved back by (0: nothing past the end).
 */
async function clampToLogs(
  host: SubscriptionHost,
  name: string,
  state: PartitionSnapshot[],
  journal: SubscriptionJournal,
): Promise<number[]> {
  const clamped = state.map(() => 0);
  const writes: Promise<void>[] = [];
  state.forEach((partitionState, partition) => {
    const end = host.logs[partition]!.endOffset;
    const pastEnd =
      partitionState.floor > end ||
      [...partitionState.settled].some((offset) => offset >= end) ||
      [...partitionState.tracked.keys()].some((offset) => offset >= end);
    if (!pastEnd) return;
    if (partitionState.floor > end) {
      clamped[partition] = partitionState.floor - end;
      floorClampedChannel.publish({
        stream: host.stream,
        subscription: name,
        partition,
        floor: partitionState.floor,
        endOffset: end,
      });
      partitionState.floor = end;
    }
    for (const offset of partitionState.settled) {
      if (offset >= end) partitionState.settled.delete(offset);
    }
    for (const offset of partitionState.tracked.keys()) {
      if (offset >= end) partitionState.tracked.delete(offset);
    }
    writes.push(journal.record(OPERATION.seek, partition, partitionState.floor));
    for (const offset of partitionState.settled) {
      writes.push(journal.record(OPERATION.settle, partition, offset));
    }
    for (const [offset, tracked] of partitionState.tracked) {
      writes.push(journal.record(OPERATION.deliver, partition, offset, tracked.deliveryCount));
      if (tracked.availableAt > 0) {
        writes.push(journal.record(OPERATION.nack, partition, offset, tracked.availableAt));
      }
    }
  });
  // A journal that fails here stops the subscription (its failure shows in info and /readyz);
  // the broker still opens.
  await Promise.all(writes).catch(() => undefined);
  return clamped;
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
      let opened: PartitionSnapshot[] | null = null;
      const { journal, state } = await SubscriptionJournal.open({
        directory: path.join(directory, 'journal'),
        fileSystem: storage.fileSystem,
        fsync: storage.fsync,
        partitions: host.logs.length,
        // Before the group exists (clampToLogs journals its corrections), the state is the one read.
        snapshot: () => (group ? group.snapshot() : encodeSnapshot(opened!)),
      });
      opened = state;
      const floorClamped = await clampToLogs(host, name, state, journal);
      group = groupFor(host, name, true, config, state, journal, floorClamped);
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
