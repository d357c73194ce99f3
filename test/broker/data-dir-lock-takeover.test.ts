/**
 * The data-directory lock after a crash and under races: a LOCK left by a previous process
 * with our PID (containers: PID 1) or by a reused PID is stale; an empty or garbage LOCK is
 * stale (Weir never leaves one half-written); a live owner in another process, or this very
 * process, keeps it (DATA_DIR_IN_USE); of two processes opening at once exactly one wins.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { readFile, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Broker } from '../../src/broker/index.js';
import { bootId, parseLockOwner, processStartTime } from '../../src/broker/data-dir-lock.js';
import { withTemporaryDirectory } from '../helpers/temporary-directory.js';

const CHILD = fileURLToPath(new URL('./lock-child.js', import.meta.url));
const RACE_ROUNDS = 4;
const CHILD_TIMEOUT_MS = 15_000;

async function lockOwner(dataDir: string): Promise<ReturnType<typeof parseLockOwner>> {
  return parseLockOwner(await readFile(join(dataDir, 'LOCK'), 'utf8'));
}

/** Opens a broker over a LOCK with `text` in it and checks it took the lock over. */
async function opensOver(text: string): Promise<void> {
  await withTemporaryDirectory(async (dataDir) => {
    await writeFile(join(dataDir, 'LOCK'), text);
    const broker = await Broker.open({ dataDir });
    try {
      const owner = await lockOwner(dataDir);
      assert.equal(owner?.pid, process.pid);
      assert.notEqual(owner?.nonce, null);
      await assert.rejects(Broker.open({ dataDir }), { code: 'DATA_DIR_IN_USE' });
    } finally {
      await broker.close();
    }
    const left = (await readdir(dataDir)).filter((name) => name.startsWith('LOCK'));
    assert.deepEqual(left, [], 'close removes the lock and nothing of it is left');
  }, 'weir-lock-');
}

test('a LOCK left by a previous process with our PID and another start time is stale (PID 1 in containers)', async () => {
  const startTime = await processStartTime(process.pid);
  const previous = {
    pid: process.pid,
    startTime: startTime === null ? '1' : String(BigInt(startTime) - 1n),
    bootId: await bootId(),
    nonce: 'a previous process',
  };
  await opensOver(JSON.stringify(previous) + '\n');
});

test('a LOCK of the older format (a bare pid) naming our PID, not held by this process, is stale', async () => {
  await opensOver(`${process.pid}\n`);
});

test('a LOCK naming a live PID with another start time (the PID was reused) is stale', async () => {
  const parentStart = await processStartTime(process.ppid);
  if (parentStart === null) return; // no /proc: start times are not known here
  const reused = {
    pid: process.ppid,
    startTime: String(BigInt(parentStart) + 1n),
    bootId: await bootId(),
    nonce: 'reused',
  };
  await opensOver(JSON.stringify(reused) + '\n');
});

test('a LOCK from another boot is stale', async () => {
  if ((await bootId()) === null) return; // no boot id here
  const otherBoot = {
    pid: process.ppid,
    startTime: await processStartTime(process.ppid),
    bootId: '00000000-0000-0000-0000-000000000000',
    nonce: 'another boot',
  };
  await opensOver(JSON.stringify(otherBoot) + '\n');
});

test('an empty LOCK, or one of garbage, is stale: Weir never leaves it half-written', async () => {
  await opensOver('');
  await opensOver('{"pid": 1, "nonce"');
  await opensOver('\u0000'.repeat(4096));
});

test('the same process opening a data directory twice gets DATA_DIR_IN_USE', async () => {
  await withTemporaryDirectory(async (dataDir) => {
    const broker = await Broker.open({ dataDir });
    try {
      const results = await Promise.allSettled([
        Broker.open({ dataDir }),
        Broker.open({ dataDir }),
      ]);
      for (const result of results) {
        assert.equal(result.status, 'rejected');
        assert.equal((result.reason as { code?: unknown }).code, 'DATA_DIR_IN_USE');
      }
    } finally {
      await broker.close();
    }
  }, 'weir-lock-');
});

test('of opens racing in this process on a fresh data directory exactly one wins (no empty LOCK lets another in)', async () => {
  for (let round = 0; round < RACE_ROUNDS; round++) {
    await withTemporaryDirectory(async (dataDir) => {
      const results = await Promise.allSettled([
        Broker.open({ dataDir }),
        Broker.open({ dataDir }),
        Broker.open({ dataDir }),
      ]);
      const winners = results.filter((result) => result.status === 'fulfilled');
      for (const result of results) {
        if (result.status === 'fulfilled') await result.value.close();
        else assert.equal((result.reason as { code?: unknown }).code, 'DATA_DIR_IN_USE');
      }
      assert.equal(winners.length, 1, `round ${round}: ${winners.length} opens won`);
    }, 'weir-lock-race-');
  }
});

interface Child {
  readonly process: ChildProcessWithoutNullStreams;
  /** Resolves with the next line the child prints. */
  line(): Promise<string>;
  /** Ends its stdin (it closes its broker) and waits for it to exit. */
  finish(): Promise<void>;
}

function startChild(dataDir: string, ...flags: string[]): Child {
  const child = spawn(process.execPath, [CHILD, dataDir, ...flags], {
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  const lines: string[] = [];
  const waiting: ((line: string) => void)[] = [];
  let buffered = '';
  let errors = '';
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (chunk: string) => (errors += chunk));
  child.stdout.setEncoding('utf8');
  child.stdout.on('data', (chunk: string) => {
    buffered += chunk;
    for (let end = buffered.indexOf('\n'); end >= 0; end = buffered.indexOf('\n')) {
      const line = buffered.slice(0, end);
      buffered = buffered.slice(end + 1);
      const next = waiting.shift();
      if (next) next(line);
      else lines.push(line);
    }
  });
  const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
  return {
    process: child,
    line: () => {
      const ready = lines.shift();
      if (ready !== undefined) return Promise.resolve(ready);
      return new Promise<string>((resolve, reject) => {
        const timer = setTimeout(
          () =>
            reject(new Error(`no line from the child within ${CHILD_TIMEOUT_MS} ms: ${errors}`)),
          CHILD_TIMEOUT_MS,
        );
        waiting.push((line) => {
          clearTimeout(timer);
          resolve(line);
        });
      });
    },
    finish: async () => {
      child.stdin.end();
      await exited;
    },
  };
}

test('a broker in another live process keeps its lock: DATA_DIR_IN_USE', async () => {
  await withTemporaryDirectory(async (dataDir) => {
    const holder = startChild(dataDir, 'now');
    try {
      assert.equal(await holder.line(), 'won');
      const owner = await lockOwner(dataDir);
      assert.equal(owner?.pid, holder.process.pid);
      await assert.rejects(Broker.open({ dataDir }), { code: 'DATA_DIR_IN_USE' });
    } finally {
      await holder.finish();
    }
    const broker = await Broker.open({ dataDir }); // released on close
    await broker.close();
  }, 'weir-lock-');
});

test('of two processes opening the same data directory at once exactly one wins (fresh, and over a stale LOCK)', async () => {
  for (let round = 0; round < RACE_ROUNDS; round++) {
    await withTemporaryDirectory(async (dataDir) => {
      if (round % 2 === 1) await writeFile(join(dataDir, 'LOCK'), ''); // stale: both take over
      const children = [startChild(dataDir), startChild(dataDir)];
      try {
        for (const child of children) assert.equal(await child.line(), 'ready');
        for (const child of children) child.process.stdin.write('go\n');
        const results = await Promise.all(children.map((child) => child.line()));
        assert.deepEqual(
          [...results].sort(),
          ['refused DATA_DIR_IN_USE', 'won'],
          `round ${round}: ${results.join(', ')}`,
        );
        const winner = children[results.indexOf('won')]!;
        assert.equal((await lockOwner(dataDir))?.pid, winner.process.pid);
      } finally {
        for (const child of children) await child.finish();
      }
    }, 'weir-lock-race-');
  }
});
