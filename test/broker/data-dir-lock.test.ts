/** One broker per data directory: a second open is DATA_DIR_IN_USE; a dead owner's lock is taken over. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { spawnSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Broker } from '../../src/broker/index.js';
import { parseLockOwner } from '../../src/broker/data-dir-lock.js';

test('a second broker on the same data directory is refused with DATA_DIR_IN_USE until the first closes', async () => {
  const dataDir = await mkdtemp(join(tmpdir(), 'weir-lock-'));
  try {
    const first = await Broker.open({ dataDir });
    await assert.rejects(Broker.open({ dataDir }), { code: 'DATA_DIR_IN_USE' });
    assert.equal(parseLockOwner(await readFile(join(dataDir, 'LOCK'), 'utf8'))?.pid, process.pid);
    await first.close();
    const second = await Broker.open({ dataDir });
    await second.close();
  } finally {
    await rm(dataDir, { recursive: true, force: true });
  }
});

test('a lock left by a process that died is stale and taken over', async () => {
  const dataDir = await mkdtemp(join(tmpdir(), 'weir-lock-'));
  try {
    const dead = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], {
      encoding: 'utf8',
    });
    await writeFile(join(dataDir, 'LOCK'), `${dead.stdout}\n`);
    const broker = await Broker.open({ dataDir });
    assert.equal(parseLockOwner(await readFile(join(dataDir, 'LOCK'), 'utf8'))?.pid, process.pid);
    await broker.close();
  } finally {
    await rm(dataDir, { recursive: true, force: true });
  }
});
