/**
 * A broker given a cluster view runs over a FileSystem other than nodeFileSystem (the
 * cluster's replicated one, here a pass-through that counts syncs) whose root is on the real
 * disk: it still locks the data directory there, keeps users.json mode 0600, and syncs every
 * file stream as fsync 'always'. Without a cluster such a broker takes no lock, as before.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { Broker } from '../../src/broker/index.js';
import { parseLockOwner } from '../../src/broker/data-dir-lock.js';
import { nodeFileSystem, type FileHandle, type FileSystem } from '../../src/storage/index.js';
import { FakeClusterView } from '../helpers/fake-cluster-view.js';
import { withTemporaryDirectory } from '../helpers/temporary-directory.js';

const CHEAP = { N: 1024, r: 8, p: 1 } as const;

/** nodeFileSystem, counting handle syncs per file (what a replicated file system wraps). */
function countingFileSystem(): { fileSystem: FileSystem; syncs: Map<string, number> } {
  const syncs = new Map<string, number>();
  const fileSystem: FileSystem = {
    ...nodeFileSystem,
    async open(file): Promise<FileHandle> {
      const handle = await nodeFileSystem.open(file);
      return {
        read: (...args) => handle.read(...args),
        write: (...args) => handle.write(...args),
        sync: async () => {
          await handle.sync();
          syncs.set(file, (syncs.get(file) ?? 0) + 1);
        },
        truncate: (length) => handle.truncate(length),
        size: () => handle.size(),
        close: () => handle.close(),
      };
    },
  };
  return { fileSystem, syncs };
}

test('with a cluster, a broker over another FileSystem locks its data directory on the real disk', () =>
  withTemporaryDirectory(async (dataDir) => {
    const { fileSystem } = countingFileSystem();
    const cluster = new FakeClusterView(3);
    const broker = await Broker.open({ dataDir, fileSystem, cluster });
    try {
      const owner = parseLockOwner(await readFile(join(dataDir, 'LOCK'), 'utf8'));
      assert.equal(owner?.pid, process.pid);
      assert.equal(broker.dataDir, dataDir);
      await assert.rejects(Broker.open({ dataDir, fileSystem, cluster }), {
        code: 'DATA_DIR_IN_USE',
      });
      await assert.rejects(Broker.open({ dataDir }), { code: 'DATA_DIR_IN_USE' });
    } finally {
      await broker.close();
    }
    await assert.rejects(stat(join(dataDir, 'LOCK')), { code: 'ENOENT' }, 'released at close');
    // Without a cluster the same file system is alone by construction: no lock, as before.
    const alone = await Broker.open({ dataDir, fileSystem });
    try {
      await assert.rejects(stat(join(dataDir, 'LOCK')), { code: 'ENOENT' });
      assert.equal(alone.dataDir, null);
    } finally {
      await alone.close();
    }
  }, 'weir-cluster-lock-'));

test('with a cluster over another FileSystem, users.json is written with mode 0600', () =>
  withTemporaryDirectory(async (dataDir) => {
    const { fileSystem } = countingFileSystem();
    const broker = await Broker.open({
      dataDir,
      fileSystem,
      cluster: new FakeClusterView(3),
      passwordCost: CHEAP,
    });
    try {
      await broker.connect().users.add('admin', { admin: true, password: 'admin-password' });
      assert.equal((await stat(join(dataDir, 'users.json'))).mode & 0o777, 0o600);
    } finally {
      await broker.close();
    }
  }, 'weir-cluster-users-'));

test('in a cluster a stream created with fsync never still syncs each publish (fsync always)', () =>
  withTemporaryDirectory(async (dataDir) => {
    const logSyncs = (syncs: Map<string, number>): number =>
      [...syncs]
        .filter(([file]) => file.includes(join('streams', 'events', 'partitions')))
        .reduce((sum, [, count]) => sum + count, 0);
    const single = countingFileSystem();
    const alone = await Broker.open({ dataDir, fileSystem: single.fileSystem });
    try {
      const client = alone.connect();
      await client.streams.create('events', { fsync: 'never' });
      for (let index = 0; index < 3; index++) await client.publish('events', `m${index}`);
      assert.equal(logSyncs(single.syncs), 0, 'a single node honours fsync never');
    } finally {
      await alone.close();
    }
    const clustered = countingFileSystem();
    const broker = await Broker.open({
      dataDir,
      fileSystem: clustered.fileSystem,
      cluster: new FakeClusterView(1),
    });
    try {
      const client = broker.connect();
      assert.equal((await client.streams.info('events')).config.fsync, 'never', 'as configured');
      const before = logSyncs(clustered.syncs);
      for (let index = 0; index < 3; index++) await client.publish('events', `c${index}`);
      assert.ok(
        logSyncs(clustered.syncs) >= before + 3,
        `each confirmed publish was synced (${logSyncs(clustered.syncs) - before} syncs)`,
      );
    } finally {
      await broker.close();
    }
  }, 'weir-cluster-fsync-'));

test('Broker.open refuses a cluster option that is not a ClusterView', async () => {
  await assert.rejects(
    Broker.open({ storage: 'memory', cluster: { nodeCount: () => 1 } as never }),
    { code: 'INVALID_ARGUMENT', message: /^cluster must be a ClusterView/ },
  );
});
