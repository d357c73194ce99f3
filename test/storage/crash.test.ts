/**
 * Crash test: a child process appends to a file log (fsync 'always', 32 appends in flight,
 * small segments so that rolls happen too) and prints every offset as it is confirmed; the
 * parent SIGKILLs it at a seeded random moment, reopens the log and checks that every
 * confirmed record is there, intact, and that the whole log reads cleanly to its end; then
 * it starts the child again on the same directory, which carries on appending. At least
 * MIN_CYCLES kill cycles per run, within TIME_LIMIT_MS.
 *
 * Replay a failure with the seed it prints: WEIR_SEED=<seed>.
 *
 * Then the weaker fsync policies under a simulated power cut: 'interval' syncs within its
 * interval, and under 'interval' and 'never' flush() and close() make everything durable.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  MemoryFileSystem,
  openLog,
  type PartitionLog,
  type StoredRecord,
} from '../../src/storage/index.js';
import { crc32c } from '../../src/util/index.js';
import { expectedRecord } from '../helpers/crash-child.js';
import { FaultyFileSystem, seededRandom } from '../helpers/faulty-file-system.js';
import { withTemporaryDirectory } from '../helpers/temporary-directory.js';

const CHILD = path.join(
  path.dirname(fileURLToPath(import.meta.url)),
  '..',
  'helpers',
  'crash-child.js',
);
const SEGMENT_BYTES = 64 * 1024;
const SEGMENT_BYTES_POLICY = 16 * 1024;
const IN_FLIGHT = 32;
const MIN_CYCLES = 20;
const MAX_CYCLES = 24;
const TIME_LIMIT_MS = 40_000;
const KILL_DELAY_MIN_MS = 20;
const KILL_DELAY_MAX_MS = 300;
const FIRST_CONFIRM_TIMEOUT_MS = 10_000;

interface ChildRun {
  /** `open <start> <end>` as the child saw its log. */
  opened: { start: number; end: number } | null;
  /** Offsets whose append was confirmed (from whole `ok` lines only). */
  confirmed: number[];
  exitSignal: NodeJS.Signals | null;
  exitCode: number | null;
  stderr: string;
}

/** Starts the child, kills it `delayMs` after its first confirm, and collects what it said. */
function runChild(directory: string, delayMs: number): Promise<ChildRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      [CHILD, directory, String(SEGMENT_BYTES), String(IN_FLIGHT)],
      {
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    const run: ChildRun = {
      opened: null,
      confirmed: [],
      exitSignal: null,
      exitCode: null,
      stderr: '',
    };
    let pending = '';
    let killTimer: NodeJS.Timeout | null = null;
    const guard = setTimeout(() => {
      child.kill('SIGKILL');
      reject(
        new Error(
          `the child confirmed nothing within ${FIRST_CONFIRM_TIMEOUT_MS} ms: ${run.stderr}`,
        ),
      );
    }, FIRST_CONFIRM_TIMEOUT_MS);
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (chunk: string) => {
      pending += chunk;
      let newline = pending.indexOf('\n');
      while (newline >= 0) {
        const line = pending.slice(0, newline);
        pending = pending.slice(newline + 1);
        newline = pending.indexOf('\n');
        const [kind, first, second] = line.split(' ');
        if (kind === 'open') {
          run.opened = { start: Number(first), end: Number(second) };
        } else if (kind === 'ok') {
          const offset = Number(first);
          for (let i = 0; i < Number(second); i++) run.confirmed.push(offset + i);
          if (killTimer === null) {
            clearTimeout(guard);
            killTimer = setTimeout(() => child.kill('SIGKILL'), delayMs);
          }
        }
      }
      // A partial last line (cut by the kill) is ignored: only whole lines are confirms.
    });
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (chunk: string) => {
      run.stderr += chunk;
    });
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      clearTimeout(guard);
      if (killTimer) clearTimeout(killTimer);
      run.exitCode = code;
      run.exitSignal = signal;
      resolve(run);
    });
  });
}

async function readAll(log: PartitionLog): Promise<StoredRecord[]> {
  const all: StoredRecord[] = [];
  let offset = log.startOffset;
  for (let page = 0; page < 1_000_000 && offset < log.committedOffset; page++) {
    const records = await log.read(offset, { maxBytes: 4 * 1024 * 1024 });
    if (records.length === 0) break;
    all.push(...records);
    offset = records[records.length - 1]!.offset + 1;
  }
  return all;
}

function seedFromEnvironment(): number {
  const text = process.env['WEIR_SEED'];
  if (text === undefined || text === '')
    return (Date.now() ^ Math.floor(Math.random() * 2 ** 31)) | 0;
  return Number(text);
}

test(
  'every append confirmed before a SIGKILL survives it, intact, and the log reads cleanly to its end',
  { timeout: 90_000 },
  async (t) => {
    const seed = seedFromEnvironment();
    t.diagnostic(`seed ${seed} (replay with WEIR_SEED=${seed})`);
    const random = seededRandom(seed);
    const started = Date.now();
    await withTemporaryDirectory(async (root) => {
      const directory = path.join(root, 'log');
      let expectedEnd = 0;
      let cycles = 0;
      let confirmedTotal = 0;
      let unconfirmedKept = 0;
      let tornBytes = 0;
      /** CRC-32C of each record's body, once checked in full against expectedRecord. */
      const digests: number[] = [];
      for (; cycles < MAX_CYCLES && Date.now() - started < TIME_LIMIT_MS; cycles++) {
        const delayMs =
          KILL_DELAY_MIN_MS + Math.floor(random() * (KILL_DELAY_MAX_MS - KILL_DELAY_MIN_MS + 1));
        const run = await runChild(directory, delayMs);
        const label = `cycle ${cycles} (seed ${seed}, kill ${delayMs} ms after the first confirm)`;
        assert.equal(
          run.exitSignal,
          'SIGKILL',
          `${label}: the child died of the kill, not by itself: ${run.stderr}`,
        );
        assert.deepEqual(
          run.opened,
          { start: 0, end: expectedEnd },
          `${label}: the child reopened where the log ended`,
        );
        assert.ok(run.confirmed.length > 0, `${label}: the child confirmed appends`);
        confirmedTotal += run.confirmed.length;

        const log = await openLog({ directory, segmentBytes: SEGMENT_BYTES });
        try {
          tornBytes += log.stats().recoveredTruncatedBytes;
          const highestConfirmed = Math.max(...run.confirmed);
          assert.ok(
            log.endOffset > highestConfirmed,
            `${label}: confirmed offset ${highestConfirmed} lost (end ${log.endOffset})`,
          );
          const records = await readAll(log);
          assert.equal(
            records.length,
            log.endOffset - log.startOffset,
            `${label}: the log reads to its end`,
          );
          records.forEach((record, i) => {
            assert.equal(record.offset, log.startOffset + i, `${label}: offsets are consecutive`);
            assert.deepEqual(
              record.headers,
              { offset: String(record.offset) },
              `${label}: headers at ${record.offset}`,
            );
            const digest = crc32c(record.body);
            if (record.offset < digests.length) {
              // Checked in full in an earlier cycle: its bytes must not have changed since.
              assert.equal(
                digest,
                digests[record.offset],
                `${label}: body at ${record.offset} changed`,
              );
              return;
            }
            const expected = expectedRecord(record.offset);
            assert.deepEqual(
              Buffer.from(record.body),
              Buffer.from(expected.body),
              `${label}: body at ${record.offset}`,
            );
            assert.deepEqual(
              record.key && Buffer.from(record.key),
              Buffer.from(expected.key!),
              `${label}: key at ${record.offset}`,
            );
            digests.push(digest);
          });
          unconfirmedKept += log.endOffset - expectedEnd - run.confirmed.length;
          expectedEnd = log.endOffset;
        } finally {
          await log.close();
        }
      }
      t.diagnostic(
        `${cycles} kill cycles in ${Date.now() - started} ms; ${confirmedTotal} confirmed records, ` +
          `${unconfirmedKept} written but unconfirmed records kept, ${tornBytes} torn bytes cut`,
      );
      assert.ok(cycles >= MIN_CYCLES, `only ${cycles} kill cycles within ${TIME_LIMIT_MS} ms`);
    });
  },
);

// ---- the weaker fsync policies, under a simulated power cut (MemoryFileSystem.crash) ----

const POLICY_DIRECTORY = '/data/log';

async function appendRecords(log: PartitionLog, count: number): Promise<void> {
  await Promise.all(
    Array.from({ length: count }, (_, offset) =>
      log.append({ ...expectedRecord(offset), timestamp: 1 }),
    ),
  );
}

async function endAfterCrash(fileSystem: FaultyFileSystem, log: PartitionLog): Promise<number> {
  const rebooted = await fileSystem.crash();
  await log.close().catch(() => undefined);
  const reopened = await openLog({ directory: POLICY_DIRECTORY, fileSystem: rebooted });
  try {
    const records = await readAll(reopened);
    records.forEach((record, i) => {
      assert.equal(record.offset, i);
      assert.deepEqual(Buffer.from(record.body), Buffer.from(expectedRecord(i).body));
    });
    return reopened.endOffset;
  } finally {
    await reopened.close();
  }
}

test("fsync 'interval': appends are synced within fsyncIntervalMs, so a crash after that keeps them", async () => {
  const fileSystem = new FaultyFileSystem(new MemoryFileSystem());
  const log = await openLog({
    directory: POLICY_DIRECTORY,
    fileSystem,
    fsync: 'interval',
    fsyncIntervalMs: 10,
    segmentBytes: SEGMENT_BYTES_POLICY,
  });
  await appendRecords(log, 300);
  const syncsBefore = fileSystem.calls.sync;
  await new Promise((resolve) => setTimeout(resolve, 200)); // 20 intervals
  assert.ok(fileSystem.calls.sync > syncsBefore, 'the interval timer synced');
  assert.equal(await endAfterCrash(fileSystem, log), 300);
});

for (const policy of ['interval', 'never'] as const) {
  for (const how of ['flush', 'close'] as const) {
    test(`fsync '${policy}': ${how}() makes every append durable, in rolled segments too`, async () => {
      const fileSystem = new FaultyFileSystem(new MemoryFileSystem());
      const log = await openLog({
        directory: POLICY_DIRECTORY,
        fileSystem,
        fsync: policy,
        fsyncIntervalMs: 60_000, // the timer never fires during the test: only flush/close sync
        segmentBytes: SEGMENT_BYTES_POLICY,
      });
      await appendRecords(log, 300);
      assert.ok(log.stats().segmentCount >= 3, 'the appends rolled segments');
      if (how === 'flush') await log.flush();
      else await log.close();
      const end = await endAfterCrash(fileSystem, log);
      assert.equal(end, 300, `a crash after ${how}() kept ${end} of 300 records`);
    });
  }
}
