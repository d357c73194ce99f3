/**
 * Transactions across power cuts, at every step. One transaction acks an input and publishes
 * two outputs, each captured by two streams (four appends in three partitions). A run without
 * a crash counts the file-system steps (writes, syncs, renames, ...) that commit makes, to
 * its DONE record; then for every k the same transaction runs with a power cut just before
 * step k (FaultyFileSystem.crash: only synced bytes survive; a second pass also keeps a torn
 * part of unsynced writes), the broker is reopened on what survived, and the outcome must be
 * all or nothing: both outputs in both streams exactly once and the input acked, or no output
 * and the input delivered again. Once a k gives "all", every later k does too.
 */
import assert from 'node:assert/strict';
import * as diagnosticsChannel from 'node:diagnostics_channel';
import { test } from 'node:test';
import { Broker } from '../../src/broker/index.js';
import type { Client } from '../../src/protocol/index.js';
import { MemoryFileSystem } from '../../src/storage/index.js';
import { ManualClock } from '../../src/util/index.js';
import { FaultyFileSystem, type FaultOperation } from '../helpers/faulty-file-system.js';
import { receiveN } from './semantics/harness.js';

const DATA_DIR = '/transactions-crash';
const START_MS = 1_700_000_000_000;
/** Steps one commit makes are far fewer; a run past this is a bug (bounds every loop). */
const STEPS_MAX = 200;
const QUIET_TURNS = 10;
const QUIET_TURNS_MAX = 2_000;

const MUTATING: ReadonlySet<FaultOperation> = new Set([
  'write',
  'sync',
  'syncDirectory',
  'rename',
  'truncate',
  'unlink',
  'removeDirectory',
]);

/** Lets the event loop run until no file-system call was made for QUIET_TURNS turns. */
async function quiesce(fileSystem: FaultyFileSystem): Promise<void> {
  const total = (): number => Object.values(fileSystem.calls).reduce((sum, n) => sum + n, 0);
  let last = total();
  let quiet = 0;
  for (let turn = 0; turn < QUIET_TURNS_MAX && quiet < QUIET_TURNS; turn++) {
    await new Promise<void>((resolve) => setImmediate(resolve));
    const now = total();
    quiet = now === last ? quiet + 1 : 0;
    last = now;
  }
  assert.ok(quiet >= QUIET_TURNS, 'the file system went quiet');
}

interface Prepared {
  readonly fileSystem: FaultyFileSystem;
  readonly client: Client;
  readonly commit: () => Promise<unknown>;
}

/** A broker with the input delivered (not acked), quiet; `commit` runs the transaction. */
async function prepare(): Promise<Prepared> {
  const fileSystem = new FaultyFileSystem(new MemoryFileSystem(), { seed: 7 });
  const broker = await Broker.open({
    dataDir: DATA_DIR,
    fileSystem,
    clock: new ManualClock(START_MS),
  });
  const client = broker.connect();
  await client.streams.create('in', { subjects: ['in.>'] });
  await client.streams.create('out', { subjects: ['out.>'], partitions: 2 });
  await client.streams.create('audit', { subjects: ['out.>'] });
  await client.publish('in.order', 'order-1');
  const input = await client.subscribe('in', { subscription: 'worker' });
  const [message] = await receiveN(input, 1);
  await quiesce(fileSystem);
  return {
    fileSystem,
    client,
    commit: () =>
      client.transaction(async (tx) => {
        tx.publish('out.a', `${message!.text()}/a`, { key: 'a' });
        tx.publish('out.b', `${message!.text()}/b`, { key: 'b' });
        tx.ack(message!);
        await Promise.resolve();
      }),
  };
}

type Outcome = 'all' | 'none';

let checks = 0;

/** Reopens on what survived and says which it is, failing on anything in between. */
async function outcomeAfter(fileSystem: FaultyFileSystem, what: string): Promise<Outcome> {
  const broker = await Broker.open({
    dataDir: DATA_DIR,
    fileSystem,
    clock: new ManualClock(START_MS + 1_000),
  });
  try {
    const client = broker.connect();
    const bodies = async (stream: string): Promise<string[]> => {
      const count = (await client.streams.info(stream)).messages;
      if (count === 0) return [];
      // A fresh subscription each time: one closed earlier holds what it read behind a backoff.
      const reader = await client.subscribe(stream, {
        subscription: `check-${++checks}`,
        start: 'earliest',
      });
      const messages = await receiveN(reader, count);
      await reader.close();
      return messages.map((message) => message.text()).sort();
    };
    const out = await bodies('out');
    const audit = await bodies('audit');
    const pending = (await client.subscriptions.info('in', 'worker')).pending;
    if (out.length === 0) {
      assert.deepEqual(audit, [], `${what}: no output in out, none in audit`);
      assert.equal(pending, 1, `${what}: no output, so the input is not acked`);
      const input = await client.subscribe('in', { subscription: 'worker' });
      const [again] = await receiveN(input, 1);
      assert.equal(again!.text(), 'order-1', `${what}: the input is delivered again`);
      return 'none';
    }
    assert.deepEqual(out, ['order-1/a', 'order-1/b'], `${what}: each output once in out`);
    assert.deepEqual(audit, ['order-1/a', 'order-1/b'], `${what}: each output once in audit`);
    assert.equal(pending, 0, `${what}: the outputs are there, so the input is acked`);
    return 'all';
  } finally {
    await broker.close();
  }
}

/** Runs the commit with a power cut just before mutating step `crashAt` (1-based). */
async function runWithCrash(
  crashAt: number,
  tearUnsyncedWrites: boolean,
): Promise<{ outcome: Outcome; steps: number; crashed: boolean; committed: boolean }> {
  const prepared = await prepare();
  let steps = 0;
  let survivor: FaultyFileSystem | null = null;
  prepared.fileSystem.hook = async (operation) => {
    if (!MUTATING.has(operation)) return;
    steps++;
    assert.ok(steps <= STEPS_MAX, 'a commit makes a bounded number of steps');
    if (steps === crashAt) survivor = await prepared.fileSystem.crash({ tearUnsyncedWrites });
  };
  const committed = await prepared.commit().then(
    () => true,
    () => false,
  );
  await quiesce(prepared.fileSystem);
  prepared.fileSystem.hook = null;
  const crashed = survivor !== null;
  // No crash during the commit: the power goes now, after every step.
  survivor ??= await prepared.fileSystem.crash({ tearUnsyncedWrites });
  const outcome = await outcomeAfter(survivor, `crash before step ${crashAt}`);
  return { outcome, steps, crashed, committed };
}

test('a power cut before any step of a commit leaves all of the transaction or none of it', async () => {
  const baseline = await runWithCrash(Infinity, false);
  assert.equal(baseline.committed, true, 'the commit succeeds without a crash');
  assert.equal(baseline.outcome, 'all');
  const total = baseline.steps;
  assert.ok(total >= 4, `a commit makes several steps (it made ${total})`);
  console.log(`one commit makes ${total} file-system steps; crashing before each`);
  for (const tear of [false, true]) {
    const outcomes: Outcome[] = [];
    for (let crashAt = 1; crashAt <= total + 1; crashAt++) {
      const run = await runWithCrash(crashAt, tear);
      assert.equal(run.crashed, crashAt <= total, `the crash before step ${crashAt} happened`);
      // A commit that resolved is never lost.
      if (run.committed) assert.equal(run.outcome, 'all', `committed, crash before ${crashAt}`);
      outcomes.push(run.outcome);
    }
    console.log(`tear ${tear}: ${outcomes.join(' ')}`);
    const firstAll = outcomes.indexOf('all');
    assert.ok(firstAll > 0, `a crash before the commit point leaves nothing (tear: ${tear})`);
    assert.ok(
      outcomes.slice(firstAll).every((outcome) => outcome === 'all'),
      `once committed, every later crash leaves all of it (tear: ${tear}): ${outcomes.join(' ')}`,
    );
  }
});

test('a power cut after the commit record is synced, before anything is applied, is recovered to all', async () => {
  const prepared = await prepare();
  let survivor: FaultyFileSystem | null = null;
  let journalSynced = false;
  prepared.fileSystem.hook = async (operation, file) => {
    if (survivor !== null || !MUTATING.has(operation)) return;
    if (journalSynced) {
      // The first step after the commit point: nothing of the transaction is applied yet.
      survivor = await prepared.fileSystem.crash();
      return;
    }
    if (operation === 'sync' && file.includes('/transactions/')) journalSynced = true;
  };
  const committed = await prepared.commit().then(
    () => true,
    () => false,
  );
  assert.equal(committed, false, 'the crash came before the commit resolved');
  assert.ok(survivor, 'the crash happened after the commit record was synced');
  const recovered: { transactionId: string; appended: number; acks: number }[] = [];
  const channel = diagnosticsChannel.channel('weir:transaction:recovered');
  const listener = (message: unknown): void => {
    recovered.push(message as (typeof recovered)[number]);
  };
  channel.subscribe(listener);
  try {
    assert.equal(await outcomeAfter(survivor, 'crash after the commit point'), 'all');
  } finally {
    channel.unsubscribe(listener);
  }
  assert.equal(recovered.length, 1, 'recovery completed one transaction');
  assert.equal(recovered[0]!.appended, 4, 'recovery appended all four outputs');
  assert.equal(recovered[0]!.acks, 1);
  // Recovered once: a second open has nothing more to do, and the outcome stays.
  const again: unknown[] = [];
  const second = (message: unknown): void => void again.push(message);
  channel.subscribe(second);
  try {
    assert.equal(await outcomeAfter(survivor, 'reopened after recovery'), 'all');
  } finally {
    channel.unsubscribe(second);
  }
  assert.equal(again.length, 0, 'the DONE record was written: nothing to recover the second time');
});
