/**
 * The journal: subscription state as a checkpoint (a snapshot the caller encodes) plus the
 * entries appended after it. The property the broker relies on: after any reopen — clean or
 * after a crash at any moment — folding `replay()` over `snapshot` gives every entry whose
 * append resolved, in order (plus, at most, entries whose append had not resolved yet).
 * Checkpoints compact: the entries they cover go away, so disk use stays bounded.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as path from 'node:path';
import {
  MemoryFileSystem,
  openJournal,
  type FileSystem,
  type Journal,
} from '../../src/storage/index.js';
import { JOURNAL_SEGMENT_BYTES } from '../../src/limits.js';
import { isWeirError } from '../../src/util/index.js';
import { FaultyFileSystem } from '../helpers/faulty-file-system.js';
import { withTemporaryDirectory } from '../helpers/temporary-directory.js';

const DIRECTORY = '/state/subscription';
const encoder = new TextEncoder();
const decoder = new TextDecoder();

const entry = (index: number): Uint8Array => encoder.encode(`ack ${index}`);
/** The state a checkpoint saves here: the list of every entry folded so far. */
const state = (entries: readonly string[]): Uint8Array => encoder.encode(JSON.stringify(entries));

async function replayed(journal: Journal): Promise<string[]> {
  const entries: string[] = [];
  for await (const bytes of journal.replay()) {
    entries.push(decoder.decode(bytes));
    assert.ok(entries.length <= 1_000_000, 'replay ends');
  }
  return entries;
}

/** Snapshot folded with the replay: what the broker would rebuild. */
async function rebuilt(journal: Journal): Promise<string[]> {
  const base =
    journal.snapshot === null ? [] : (JSON.parse(decoder.decode(journal.snapshot)) as string[]);
  return [...base, ...(await replayed(journal))];
}

async function filesUnder(
  fileSystem: FileSystem,
  directory: string,
): Promise<{ names: string[]; bytes: number }> {
  const names: string[] = [];
  let bytes = 0;
  for (const name of await fileSystem.readdir(directory)) {
    const full = path.join(directory, name);
    const content = await fileSystem.readFile(full);
    if (content === null) {
      const below = await filesUnder(fileSystem, full);
      names.push(...below.names.map((inner) => path.join(name, inner)));
      bytes += below.bytes;
    } else {
      names.push(name);
      bytes += content.length;
    }
  }
  return { names: names.sort(), bytes };
}

test('entries appended before close replay in order after reopening, with no snapshot', async () => {
  const fileSystem = new MemoryFileSystem();
  const journal = await openJournal({ directory: DIRECTORY, fileSystem });
  assert.equal(journal.snapshot, null);
  assert.deepEqual(await replayed(journal), []);
  const expected: string[] = [];
  for (let i = 0; i < 20; i++) {
    await journal.append(entry(i));
    expected.push(`ack ${i}`);
  }
  // Concurrent appends are group-committed and keep call order.
  await Promise.all(Array.from({ length: 100 }, (_, i) => journal.append(entry(20 + i))));
  for (let i = 20; i < 120; i++) expected.push(`ack ${i}`);
  assert.equal(journal.entriesSinceCheckpoint, 120);
  await journal.close();
  const reopened = await openJournal({ directory: DIRECTORY, fileSystem });
  try {
    assert.equal(reopened.snapshot, null);
    assert.deepEqual(await replayed(reopened), expected);
    assert.equal(reopened.entriesSinceCheckpoint, 120);
  } finally {
    await reopened.close();
  }
});

test('after a checkpoint, reopening gives its state as the snapshot and replays only the later entries', async () => {
  const fileSystem = new MemoryFileSystem();
  const journal = await openJournal({ directory: DIRECTORY, fileSystem });
  const folded: string[] = [];
  for (let i = 0; i < 10; i++) {
    await journal.append(entry(i));
    folded.push(`ack ${i}`);
  }
  assert.ok(journal.bytesSinceCheckpoint >= folded.join('').length);
  const saved = state(folded);
  await journal.checkpoint(saved);
  assert.deepEqual(journal.snapshot, saved);
  assert.equal(journal.entriesSinceCheckpoint, 0);
  assert.equal(journal.bytesSinceCheckpoint, 0);
  assert.deepEqual(await replayed(journal), [], 'the checkpoint covers every earlier entry');
  for (let i = 10; i < 15; i++) await journal.append(entry(i));
  assert.equal(journal.entriesSinceCheckpoint, 5);
  assert.ok(journal.bytesSinceCheckpoint >= 5 * 'ack 10'.length);
  await journal.close();
  const reopened = await openJournal({ directory: DIRECTORY, fileSystem });
  try {
    assert.deepEqual(reopened.snapshot && Buffer.from(reopened.snapshot), Buffer.from(saved));
    assert.deepEqual(await replayed(reopened), ['ack 10', 'ack 11', 'ack 12', 'ack 13', 'ack 14']);
    assert.equal(reopened.entriesSinceCheckpoint, 5);
    // A second checkpoint replaces the first.
    const all = await rebuilt(reopened);
    await reopened.checkpoint(state(all));
    await reopened.append(entry(15));
  } finally {
    await reopened.close();
  }
  const third = await openJournal({ directory: DIRECTORY, fileSystem });
  try {
    assert.deepEqual(await replayed(third), ['ack 15']);
    assert.deepEqual(
      await rebuilt(third),
      Array.from({ length: 16 }, (_, i) => `ack ${i}`),
    );
  } finally {
    await third.close();
  }
});

test('the journal works on the real disk', async () => {
  await withTemporaryDirectory(async (root) => {
    const directory = path.join(root, 'journal');
    const journal = await openJournal({ directory });
    for (let i = 0; i < 5; i++) await journal.append(entry(i));
    await journal.checkpoint(state(['ack 0', 'ack 1', 'ack 2', 'ack 3', 'ack 4']));
    await journal.append(entry(5));
    await journal.close();
    const reopened = await openJournal({ directory });
    try {
      assert.deepEqual(await rebuilt(reopened), [
        'ack 0',
        'ack 1',
        'ack 2',
        'ack 3',
        'ack 4',
        'ack 5',
      ]);
      assert.deepEqual(await replayed(reopened), ['ack 5']);
    } finally {
      await reopened.close();
    }
  });
});

test('many checkpoints compact old segments: the files below go away and disk use stays bounded', async () => {
  const fileSystem = new MemoryFileSystem();
  const journal = await openJournal({ directory: DIRECTORY, fileSystem });
  try {
    const big = new Uint8Array(64 * 1024).fill(7);
    const perRound = Math.ceil((JOURNAL_SEGMENT_BYTES * 1.25) / big.length); // > one segment per round
    let largest = 0;
    for (let round = 0; round < 6; round++) {
      for (let i = 0; i < perRound; i++) await journal.append(big);
      const before = await filesUnder(fileSystem, DIRECTORY);
      assert.ok(
        before.names.filter((name) => name.endsWith('.log')).length >= 2,
        `round ${round}: the entries rolled into several segments: ${before.names.join(' ')}`,
      );
      await journal.checkpoint(state([`round ${round}`]));
      const after = await filesUnder(fileSystem, DIRECTORY);
      const logs = after.names.filter((name) => name.endsWith('.log'));
      assert.equal(
        logs.length,
        1,
        `round ${round}: one segment left after the checkpoint: ${after.names.join(' ')}`,
      );
      assert.ok(
        after.bytes < 4096,
        `round ${round}: ${after.bytes} bytes left after the checkpoint`,
      );
      largest = Math.max(largest, before.bytes);
    }
    assert.ok(
      largest < 2 * JOURNAL_SEGMENT_BYTES + 1024 * 1024,
      `disk use peaked at ${largest} bytes`,
    );
  } finally {
    await journal.close();
  }
  const reopened = await openJournal({ directory: DIRECTORY, fileSystem });
  try {
    assert.deepEqual(await rebuilt(reopened), ['round 5']);
  } finally {
    await reopened.close();
  }
});

test('a crash after awaited appends and checkpoints keeps them all', async () => {
  let fileSystem = new FaultyFileSystem(new MemoryFileSystem());
  let journal = await openJournal({ directory: DIRECTORY, fileSystem });
  const expected: string[] = [];
  for (let round = 0; round < 5; round++) {
    for (let i = 0; i < 7; i++) {
      const index = round * 7 + i;
      await journal.append(entry(index));
      expected.push(`ack ${index}`);
    }
    if (round % 2 === 1) await journal.checkpoint(state(expected));
    fileSystem = await fileSystem.crash();
    await journal.close().catch(() => undefined);
    journal = await openJournal({ directory: DIRECTORY, fileSystem });
    assert.deepEqual(await rebuilt(journal), expected, `after the crash in round ${round}`);
  }
  await journal.close();
});

test(
  'a crash at any file-system call of a checkpoint leaves either the old or the new state, never less',
  { timeout: 60_000 },
  async () => {
    const setup = async (): Promise<{
      fileSystem: FaultyFileSystem;
      journal: Journal;
      entries: string[];
    }> => {
      const fileSystem = new FaultyFileSystem(new MemoryFileSystem());
      const journal = await openJournal({ directory: DIRECTORY, fileSystem });
      const entries: string[] = [];
      for (let i = 0; i < 6; i++) {
        await journal.append(entry(i));
        entries.push(`ack ${i}`);
      }
      await journal.checkpoint(state(entries)); // an earlier checkpoint: the crash may fall back to it
      for (let i = 6; i < 12; i++) {
        await journal.append(entry(i));
        entries.push(`ack ${i}`);
      }
      return { fileSystem, journal, entries };
    };
    // Count the calls one checkpoint makes.
    const dry = await setup();
    let callCount = 0;
    dry.fileSystem.hook = () => {
      callCount++;
    };
    await dry.journal.checkpoint(state(dry.entries));
    dry.fileSystem.hook = null;
    await dry.journal.close();
    assert.ok(callCount >= 5, `${callCount} calls in a checkpoint`);

    for (let crashAt = 1; crashAt <= callCount; crashAt++) {
      for (const tear of [false, true]) {
        const { fileSystem, journal, entries } = await setup();
        let crashed: Promise<FaultyFileSystem> | null = null;
        let calls = 0;
        fileSystem.hook = () => {
          calls++;
          if (calls === crashAt && crashed === null)
            crashed = fileSystem.crash({ tearUnsyncedWrites: tear });
        };
        const outcome = await journal.checkpoint(state(entries)).then(
          () => 'resolved',
          () => 'rejected',
        );
        const label = `crash at call ${crashAt} of ${callCount}${tear ? ', tearing' : ''} (checkpoint ${outcome})`;
        assert.ok(crashed !== null, `${label}: the crash fell inside the checkpoint`);
        const rebooted = await (crashed as Promise<FaultyFileSystem>);
        await journal.close().catch(() => undefined);
        const reopened = await openJournal({ directory: DIRECTORY, fileSystem: rebooted });
        try {
          assert.deepEqual(await rebuilt(reopened), entries, label);
          await reopened.append(entry(12));
          assert.deepEqual(
            await rebuilt(reopened),
            [...entries, 'ack 12'],
            `${label}: appends carry on`,
          );
        } finally {
          await reopened.close();
        }
      }
    }
  },
);

test('a damaged checkpoint file is refused with CORRUPT_DATA rather than guessed around', async () => {
  const damages: [string, (bytes: Uint8Array) => Uint8Array][] = [
    ['truncated', (bytes) => bytes.subarray(0, bytes.length - 3)],
    ['cut inside the header', (bytes) => bytes.subarray(0, 10)],
    ['empty', () => new Uint8Array(0)],
    [
      'one byte flipped',
      (bytes) => Uint8Array.from(bytes, (byte, i) => (i === bytes.length - 2 ? byte ^ 0x10 : byte)),
    ],
    ['garbage', () => Uint8Array.from({ length: 64 }, (_, i) => (i * 37) & 0xff)],
  ];
  for (const [label, damage] of damages) {
    const fileSystem = new MemoryFileSystem();
    const journal = await openJournal({ directory: DIRECTORY, fileSystem });
    for (let i = 0; i < 4; i++) await journal.append(entry(i));
    await journal.checkpoint(state(['ack 0', 'ack 1', 'ack 2', 'ack 3']));
    await journal.append(entry(4));
    await journal.close();
    const names = await fileSystem.readdir(DIRECTORY);
    assert.ok(names.includes('checkpoint'), `the checkpoint file is there: ${names.join(' ')}`);
    const file = path.join(DIRECTORY, 'checkpoint');
    const bytes = (await fileSystem.readFile(file))!;
    const handle = await fileSystem.open(file);
    const damaged = damage(bytes);
    await handle.truncate(0);
    await handle.write(damaged, 0, damaged.length, 0);
    await handle.close();
    await assert.rejects(openJournal({ directory: DIRECTORY, fileSystem }), (error: unknown) => {
      assert.ok(isWeirError(error, 'CORRUPT_DATA'), `${label}: ${String(error)}`);
      return true;
    });
  }
});

test('a leftover checkpoint.tmp from an unfinished checkpoint is dropped and the previous checkpoint stands', async () => {
  const fileSystem = new MemoryFileSystem();
  const journal = await openJournal({ directory: DIRECTORY, fileSystem });
  for (let i = 0; i < 3; i++) await journal.append(entry(i));
  await journal.checkpoint(state(['ack 0', 'ack 1', 'ack 2']));
  await journal.append(entry(3));
  await journal.close();
  const handle = await fileSystem.open(path.join(DIRECTORY, 'checkpoint.tmp'));
  const garbage = encoder.encode('half a checkpoint');
  await handle.write(garbage, 0, garbage.length, 0);
  await handle.close();
  const reopened = await openJournal({ directory: DIRECTORY, fileSystem });
  try {
    assert.deepEqual(await rebuilt(reopened), ['ack 0', 'ack 1', 'ack 2', 'ack 3']);
    assert.ok(
      !(await fileSystem.readdir(DIRECTORY)).includes('checkpoint.tmp'),
      'the leftover is removed',
    );
  } finally {
    await reopened.close();
  }
});
