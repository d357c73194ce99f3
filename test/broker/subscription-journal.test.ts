/**
 * The subscription journal: replay rebuilds the state the operations describe, checkpoints
 * (taken while operations are still queued) lose nothing, and a replay over a snapshot that
 * already holds some operations changes nothing (operations are idempotent).
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import fc from 'fast-check';
import { JOURNAL_CHECKPOINT_BYTES } from '../../src/limits.js';
import { MemoryFileSystem, nodeFileSystem } from '../../src/storage/index.js';
import {
  OPERATION,
  SubscriptionJournal,
  emptyPartitionSnapshot,
  encodeSnapshot,
  type PartitionSnapshot,
} from '../../src/broker/subscription-journal.js';

type Operation = [type: 1 | 2 | 3 | 4, partition: number, offset: number, value: number];

/** The meaning of the operations, written plainly. */
function model(operations: readonly Operation[], partitions: number): PartitionSnapshot[] {
  const state = Array.from({ length: partitions }, () => emptyPartitionSnapshot());
  for (const [type, partition, offset, value] of operations) {
    const part = state[partition]!;
    if (type === OPERATION.seek) {
      part.floor = offset;
      part.settled.clear();
      part.tracked.clear();
    } else if (type === OPERATION.settle) {
      if (offset >= part.floor) {
        part.settled.add(offset);
        part.tracked.delete(offset);
      }
      while (part.settled.delete(part.floor)) part.tracked.delete(part.floor++);
    } else if (offset >= part.floor && !part.settled.has(offset)) {
      const tracked = part.tracked.get(offset) ?? { deliveryCount: 0, availableAt: 0 };
      if (type === OPERATION.deliver) tracked.deliveryCount = value;
      else tracked.availableAt = value;
      part.tracked.set(offset, tracked);
    }
  }
  return state;
}

function normal(state: readonly PartitionSnapshot[]): unknown {
  return state.map((part) => ({
    floor: part.floor,
    settled: [...part.settled].sort((a, b) => a - b),
    tracked: [...part.tracked.entries()].sort(([a], [b]) => a - b),
  }));
}

const operation: fc.Arbitrary<Operation> = fc.tuple(
  fc.constantFrom<1 | 2 | 3 | 4>(1, 1, 1, 2, 2, 3, 4),
  fc.integer({ min: 0, max: 1 }),
  fc.integer({ min: 0, max: 40 }),
  fc.integer({ min: 1, max: 1000 }),
);

test('replay rebuilds the state of the operations, through checkpoints taken from a live state ahead of the journal', async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.array(operation, { maxLength: 120 }),
      fc.nat(120),
      async (operations, cut) => {
        const fileSystem = new MemoryFileSystem();
        const recorded: Operation[] = [];
        // As in a subscription: the live state holds every operation recorded, appended or still queued.
        const snapshot = (): Uint8Array => encodeSnapshot(model(recorded, 2));
        const open = (): ReturnType<typeof SubscriptionJournal.open> =>
          SubscriptionJournal.open({
            directory: '/journal',
            fileSystem,
            fsync: 'always',
            partitions: 2,
            snapshot,
            checkpointBytes: 60,
          });
        const play = async (
          journal: SubscriptionJournal,
          part: readonly Operation[],
        ): Promise<void> => {
          const durable: Promise<void>[] = [];
          for (const [index, step] of part.entries()) {
            durable.push(journal.record(...step));
            recorded.push(step);
            if (index % 7 === 6) await Promise.resolve(); // let some entries go out between operations
          }
          await Promise.all(durable);
        };
        const first = await open();
        await play(first.journal, operations.slice(0, cut));
        await first.journal.close();
        const second = await open();
        assert.deepEqual(normal(second.state), normal(model(recorded, 2)));
        await play(second.journal, operations.slice(cut));
        await second.journal.close();
        const last = await open();
        assert.deepEqual(normal(last.state), normal(model(operations, 2)));
        await last.journal.close();
      },
    ),
    { numRuns: 60 },
  );
});

test('the journal checkpoints once it has grown by JOURNAL_CHECKPOINT_BYTES, and restores from it', async () => {
  const directory = await mkdtemp(join(tmpdir(), 'weir-journal-test-'));
  try {
    let floor = 0;
    const snapshot = (): Uint8Array => encodeSnapshot([emptyPartitionSnapshot(floor)]);
    const { journal } = await SubscriptionJournal.open({
      directory,
      fileSystem: nodeFileSystem,
      fsync: 'never',
      partitions: 1,
      snapshot,
    });
    // Each settle is 11 bytes: this many is well past one checkpoint.
    const count = Math.ceil((JOURNAL_CHECKPOINT_BYTES * 1.5) / 11);
    const pending: Promise<void>[] = [];
    for (let offset = 0; offset < count; offset++) {
      pending.push(journal.record(OPERATION.settle, 0, offset));
      floor = offset + 1;
      if (pending.length === 10_000) await Promise.all(pending.splice(0));
    }
    await Promise.all(pending);
    await journal.close();
    const entries = await nodeFileSystem.readdir(join(directory, 'entries'));
    assert.ok(
      (await nodeFileSystem.readFile(join(directory, 'checkpoint'))) !== null,
      'a checkpoint was written',
    );
    const reopened = await SubscriptionJournal.open({
      directory,
      fileSystem: nodeFileSystem,
      fsync: 'never',
      partitions: 1,
      snapshot,
    });
    assert.equal(
      reopened.state[0]!.floor,
      count,
      `floor after replay (entries: ${entries.join(',')})`,
    );
    assert.equal(reopened.state[0]!.settled.size, 0);
    await reopened.journal.close();
  } finally {
    await rm(directory, { recursive: true, force: true });
  }
});
