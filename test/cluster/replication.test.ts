/**
 * Replication on loopback: a ReplicatedFileSystem and its ReplicationServer in one temporary
 * directory, Replicas in others. What each test proves is in its name.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs/promises';
import * as net from 'node:net';
import * as path from 'node:path';
import { test } from 'node:test';
import { REPLICATION_WRITE_BYTES_MAX } from '../../src/limits.js';
import { WeirError } from '../../src/util/index.js';
import { createTemporaryDirectory } from '../helpers/temporary-directory.js';
import {
  Proxy,
  startLeader,
  startReplica,
  tree,
  until,
  type Leader,
} from './replication-helpers.js';

async function writeFile(
  leader: Leader,
  name: string,
  bytes: Uint8Array,
  position = 0,
): Promise<void> {
  const handle = await leader.fileSystem.open(path.join(leader.root, name));
  try {
    let written = 0;
    while (written < bytes.length) {
      written += await handle.write(bytes, written, bytes.length - written, position + written);
    }
    await handle.sync();
  } finally {
    await handle.close();
  }
}

function bytesOf(text: string, repeat = 1): Uint8Array {
  return Buffer.from(text.repeat(repeat));
}

/** Resolves true if `promise` settles within `ms`, false if it is still pending then. */
async function settlesWithin(promise: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const settled = await Promise.race([
    promise.then(
      () => true,
      () => true,
    ),
    new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), ms))),
  ]);
  clearTimeout(timer);
  return settled;
}

test('writes, truncates, renames, unlinks and directory removals arrive byte-identical on two replicas; LOCK and .replica are not shipped', async () => {
  const temporary = await createTemporaryDirectory('weir-replication-');
  const leaderRoot = path.join(temporary.path, 'leader');
  const leader = await startLeader({ root: leaderRoot, isr: ['r1'] });
  const one = startReplica({ root: path.join(temporary.path, 'r1'), nodeId: 'r1' });
  const two = startReplica({ root: path.join(temporary.path, 'r2'), nodeId: 'r2' });
  const caughtUp: string[] = [];
  leader.fileSystem.onFollowerCaughtUp = (nodeId) => caughtUp.push(nodeId);
  try {
    one.replica.follow(leader.address, 1);
    two.replica.follow(leader.address, 1);
    const { fileSystem } = leader;
    await fileSystem.mkdir(path.join(leaderRoot, 'streams', 'orders'));
    await writeFile(leader, 'streams/orders/00000.log', bytesOf('abcdefgh', 1000));
    // A write larger than one op: shipped as several.
    const large = Buffer.alloc(2 * REPLICATION_WRITE_BYTES_MAX + 12345);
    for (let index = 0; index < large.length; index++) large[index] = (index * 7) % 251;
    await writeFile(leader, 'streams/orders/00001.log', large);
    await writeFile(leader, 'streams/orders/00000.log', bytesOf('XY'), 3);
    const handle = await fileSystem.open(path.join(leaderRoot, 'streams/orders/00000.log'));
    await handle.truncate(5000);
    await handle.sync();
    await handle.close();
    await writeFile(leader, 'users.json.tmp', bytesOf('{"users":[]}'));
    await fileSystem.rename(
      path.join(leaderRoot, 'users.json.tmp'),
      path.join(leaderRoot, 'users.json'),
    );
    await writeFile(leader, 'gone.txt', bytesOf('bye'));
    await fileSystem.unlink(path.join(leaderRoot, 'gone.txt'));
    await fileSystem.mkdir(path.join(leaderRoot, 'old', 'deep'));
    await writeFile(leader, 'old/deep/file', bytesOf('x'));
    await fileSystem.removeDirectory(path.join(leaderRoot, 'old'));
    // A handle whose file is renamed writes to the new name.
    const moving = await fileSystem.open(path.join(leaderRoot, 'moving.tmp'));
    await moving.write(bytesOf('first'), 0, 5, 0);
    await fileSystem.rename(path.join(leaderRoot, 'moving.tmp'), path.join(leaderRoot, 'moved'));
    await moving.write(bytesOf('-second'), 0, 7, 5);
    await moving.sync();
    await moving.close();
    // Local-only names: written on the leader, never shipped.
    await writeFile(leader, 'LOCK', bytesOf('{"pid":1}'));
    await writeFile(leader, 'LOCK.takeover', bytesOf('{"pid":1}'));
    await writeFile(leader, '.replica', bytesOf('{}'));
    await fileSystem.syncDirectory(leaderRoot);
    // The last sync resolved: r1 (in sync) has acked every op.
    assert.equal(one.replica.appliedSeq, fileSystem.seq);
    await until(() => two.replica.appliedSeq === fileSystem.seq, 'r2 to apply every op');
    const expected = await tree(leaderRoot);
    assert.ok(
      expected.has('streams/orders/00001.log') &&
        expected.has('moved') &&
        !expected.has('gone.txt'),
    );
    assert.equal(Buffer.from(expected.get('moved')!, 'hex').toString(), 'first-second');
    assert.deepEqual(await tree(path.join(temporary.path, 'r1')), expected);
    assert.deepEqual(await tree(path.join(temporary.path, 'r2')), expected);
    for (const name of ['LOCK', 'LOCK.takeover']) {
      await assert.rejects(fs.stat(path.join(temporary.path, 'r1', name)), { code: 'ENOENT' });
    }
    assert.ok(caughtUp.includes('r2'), 'r2, outside the ISR, was reported caught up');
    assert.ok(!caughtUp.includes('r1'), 'r1 is in the ISR: never reported caught up');
    const followers = fileSystem.followers();
    assert.deepEqual(followers.map((entry) => [entry.nodeId, entry.inSync, entry.lagOps]).sort(), [
      ['r1', true, 0],
      ['r2', false, 0],
    ]);
  } finally {
    await one.replica.stop();
    await two.replica.stop();
    await leader.server.close();
    await temporary.remove();
  }
});

test('a sync stays pending while the in-sync follower is held, the follower is reported lagging, and the sync resolves once the ISR is emptied', async () => {
  const temporary = await createTemporaryDirectory('weir-replication-');
  const leaderRoot = path.join(temporary.path, 'leader');
  const leader = await startLeader({ root: leaderRoot, isr: ['r1'] });
  const proxy = await Proxy.start(leader.address);
  const one = startReplica({ root: path.join(temporary.path, 'r1'), nodeId: 'r1' });
  try {
    one.replica.follow(proxy.address, 1);
    await writeFile(leader, 'a', bytesOf('before'));
    proxy.hold();
    const lagging = new Promise<string>(
      (resolve) => (leader.fileSystem.onFollowerLagging = resolve),
    );
    const pending = writeFile(leader, 'b', bytesOf('while held'));
    assert.equal(await lagging, 'r1');
    assert.equal(await settlesWithin(pending, 100), false, 'the sync waits for r1');
    const info = leader.fileSystem.followers().find((entry) => entry.nodeId === 'r1')!;
    assert.ok(info.lagOps > 0 && info.lagMs > 0 && info.inSync);
    leader.fileSystem.setInSync(new Set());
    await pending;
    // Syncs are now local only, while r1 stays held.
    await writeFile(leader, 'c', bytesOf('local only'));
    proxy.release();
    await until(
      () => one.replica.appliedSeq === leader.fileSystem.seq,
      'r1 to catch up after release',
    );
    assert.deepEqual(await tree(path.join(temporary.path, 'r1')), await tree(leaderRoot));
  } finally {
    await one.replica.stop();
    await proxy.close();
    await leader.server.close();
    await temporary.remove();
  }
});

test('with no follower connected and an empty ISR, syncs are local only', async () => {
  const temporary = await createTemporaryDirectory('weir-replication-');
  const leader = await startLeader({ root: temporary.path });
  try {
    await writeFile(leader, 'alone', bytesOf('x', 100));
    await leader.fileSystem.syncDirectory(temporary.path);
    assert.ok(leader.fileSystem.seq > 0);
  } finally {
    await leader.server.close();
    await temporary.remove();
  }
});

test('fence rejects the pending syncs and every later sync and mutation with its error; reads still work', async () => {
  const temporary = await createTemporaryDirectory('weir-replication-');
  const leaderRoot = path.join(temporary.path, 'leader');
  const leader = await startLeader({ root: leaderRoot, isr: ['absent'] });
  try {
    const { fileSystem } = leader;
    const handle = await fileSystem.open(path.join(leaderRoot, 'f'));
    await handle.write(bytesOf('data'), 0, 4, 0);
    const pending = handle.sync();
    const pendingDirectory = fileSystem.syncDirectory(leaderRoot);
    assert.equal(
      await settlesWithin(pending, 50),
      false,
      'the sync waits for the absent ISR member',
    );
    const fence = new WeirError('CLOSED', 'stepped down');
    fileSystem.fence(fence);
    await assert.rejects(pending, (error) => error === fence);
    await assert.rejects(pendingDirectory, (error) => error === fence);
    await assert.rejects(handle.write(bytesOf('more'), 0, 4, 4), (error) => error === fence);
    await assert.rejects(handle.sync(), (error) => error === fence);
    await assert.rejects(handle.truncate(0), (error) => error === fence);
    await assert.rejects(fileSystem.open(path.join(leaderRoot, 'g')), (error) => error === fence);
    await assert.rejects(fileSystem.mkdir(path.join(leaderRoot, 'd')), (error) => error === fence);
    await assert.rejects(fileSystem.unlink(path.join(leaderRoot, 'f')), (error) => error === fence);
    await assert.rejects(
      fileSystem.rename(path.join(leaderRoot, 'f'), path.join(leaderRoot, 'h')),
      (error) => error === fence,
    );
    await assert.rejects(fs.stat(path.join(leaderRoot, 'g')), { code: 'ENOENT' });
    const buffer = new Uint8Array(4);
    assert.equal(await handle.read(buffer, 0, 4, 0), 4);
    assert.equal(Buffer.from(buffer).toString(), 'data');
    assert.equal(
      Buffer.from((await fileSystem.readFile(path.join(leaderRoot, 'f')))!).toString(),
      'data',
    );
    assert.deepEqual(await fileSystem.readdir(leaderRoot), ['f']);
    await handle.close();
  } finally {
    await leader.server.close();
    await temporary.remove();
  }
});

test('a follower whose connection drops continues from where it was (no snapshot), and so does one restarted within the ring', async () => {
  const temporary = await createTemporaryDirectory('weir-replication-');
  const leaderRoot = path.join(temporary.path, 'leader');
  const replicaRoot = path.join(temporary.path, 'r1');
  const leader = await startLeader({ root: leaderRoot, isr: ['r1'] });
  const proxy = await Proxy.start(leader.address);
  let one = startReplica({ root: replicaRoot, nodeId: 'r1' });
  try {
    one.replica.follow(proxy.address, 1);
    await writeFile(leader, 'a', bytesOf('one'));
    assert.equal(leader.snapshots, 1, 'a fresh replica starts with a snapshot');
    proxy.cut();
    const during = writeFile(leader, 'b', bytesOf('two', 500));
    await during; // resolves once r1 reconnected and acked
    await writeFile(leader, 'a', bytesOf('ONE'), 0);
    assert.equal(leader.snapshots, 1, 'the reconnect continued');
    assert.deepEqual(await tree(replicaRoot), await tree(leaderRoot));
    await one.replica.stop();
    const state = JSON.parse(await fs.readFile(path.join(replicaRoot, '.replica'), 'utf8'));
    assert.deepEqual(state, {
      version: 1,
      epoch: 1,
      seq: leader.fileSystem.seq,
      highestEpoch: 1,
      exact: true,
    });
    leader.fileSystem.setInSync(new Set());
    await writeFile(leader, 'c', bytesOf('three'));
    leader.fileSystem.setInSync(new Set(['r1']));
    one = startReplica({ root: replicaRoot, nodeId: 'r1' });
    one.replica.follow(leader.address, 1);
    await writeFile(leader, 'd', bytesOf('four'));
    assert.equal(leader.snapshots, 1, 'the restart within the ring continued');
    assert.deepEqual(await tree(replicaRoot), await tree(leaderRoot));
  } finally {
    await one.replica.stop();
    await proxy.close();
    await leader.server.close();
    await temporary.remove();
  }
});

test('a follower restarted behind the ring gets a snapshot and ends byte-identical, its own LOCK and state kept', async () => {
  const temporary = await createTemporaryDirectory('weir-replication-');
  const leaderRoot = path.join(temporary.path, 'leader');
  const replicaRoot = path.join(temporary.path, 'r1');
  const leader = await startLeader({ root: leaderRoot, ringBytesMax: 64 * 1024 });
  let one = startReplica({ root: replicaRoot, nodeId: 'r1' });
  try {
    one.replica.follow(leader.address, 1);
    await writeFile(leader, 'early', bytesOf('e', 10));
    await fs.mkdir(path.join(leaderRoot, 'stale-dir'));
    await until(() => one.replica.appliedSeq === leader.fileSystem.seq, 'r1 to apply');
    await one.replica.stop();
    assert.equal(leader.snapshots, 1);
    // The replica's own lock file: not the leader's, and not to be replaced.
    await fs.writeFile(path.join(replicaRoot, 'LOCK'), 'replica lock');
    await fs.writeFile(path.join(leaderRoot, 'LOCK'), 'leader lock');
    for (let index = 0; index < 40; index++) {
      await writeFile(leader, `segment-${index % 5}`, bytesOf(`${index}`, 4000), index * 100);
    }
    await leader.fileSystem.mkdir(path.join(leaderRoot, 'streams', 'empty'));
    await writeFile(leader, 'streams/empty-file', new Uint8Array(0));
    await leader.fileSystem.unlink(path.join(leaderRoot, 'early'));
    assert.equal(
      leader.fileSystem.continuesFrom(1, one.replica.appliedSeq),
      false,
      'the ring dropped its ops',
    );
    one = startReplica({ root: replicaRoot, nodeId: 'r1' });
    one.replica.follow(leader.address, 1);
    await until(() => one.replica.appliedSeq === leader.fileSystem.seq, 'r1 to take the snapshot');
    assert.equal(leader.snapshots, 2);
    await writeFile(leader, 'after', bytesOf('after the snapshot'));
    await until(
      () => one.replica.appliedSeq === leader.fileSystem.seq,
      'r1 to apply after the snapshot',
    );
    assert.deepEqual(await tree(replicaRoot), await tree(leaderRoot));
    assert.equal(await fs.readFile(path.join(replicaRoot, 'LOCK'), 'utf8'), 'replica lock');
    await assert.rejects(fs.stat(path.join(replicaRoot, '.replica.staging')), { code: 'ENOENT' });
  } finally {
    await one.replica.stop();
    await leader.server.close();
    await temporary.remove();
  }
});

test('a wrong secret, a wrong epoch and a malformed frame close that connection only, reported to onError', async () => {
  const temporary = await createTemporaryDirectory('weir-replication-');
  const leaderRoot = path.join(temporary.path, 'leader');
  const leader = await startLeader({ root: leaderRoot, secret: 'right', epoch: 3 });
  const good = startReplica({
    root: path.join(temporary.path, 'good'),
    nodeId: 'good',
    secret: 'right',
  });
  const bad = startReplica({
    root: path.join(temporary.path, 'bad'),
    nodeId: 'bad',
    secret: 'wrong',
  });
  const none = startReplica({ root: path.join(temporary.path, 'none'), nodeId: 'none' });
  const stale = startReplica({
    root: path.join(temporary.path, 'stale'),
    nodeId: 'stale',
    secret: 'right',
  });
  try {
    good.replica.follow(leader.address, 3);
    bad.replica.follow(leader.address, 3);
    none.replica.follow(leader.address, 3);
    stale.replica.follow(leader.address, 2);
    const garbage = net.connect(Number(leader.address.split(':')[1]), '127.0.0.1');
    garbage.on('error', () => undefined);
    garbage.write(Buffer.from([0xff, 0xff, 0xff, 0xff, 1, 2, 3]));
    await writeFile(leader, 'secret-data', bytesOf('s'));
    await until(
      () => good.replica.appliedSeq === leader.fileSystem.seq,
      'the good replica to apply',
    );
    const messages = (): string[] => leader.errors.map((error) => (error as Error).message);
    await until(
      () => messages().some((message) => message.includes('"bad"') && message.includes('secret')),
      'the bad proof to be refused',
    );
    await until(
      () => messages().some((message) => message.includes('"none"') && message.includes('secret')),
      'the missing proof to be refused',
    );
    await until(() => stale.errors.length > 0, 'the replica to refuse a leader in another epoch');
    await until(
      () => messages().some((message) => message.includes('frame length')),
      'the malformed frame to be refused',
    );
    assert.equal(bad.replica.appliedSeq, 0);
    assert.equal(none.replica.appliedSeq, 0);
    assert.equal(stale.replica.appliedSeq, 0);
    await assert.rejects(fs.stat(path.join(temporary.path, 'bad', 'secret-data')), {
      code: 'ENOENT',
    });
    assert.deepEqual(await tree(path.join(temporary.path, 'good')), await tree(leaderRoot));
    garbage.destroy();
  } finally {
    for (const { replica } of [good, bad, none, stale]) await replica.stop();
    await leader.server.close();
    await temporary.remove();
  }
});
