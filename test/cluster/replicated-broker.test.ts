/**
 * The real thing: a Broker on a ReplicatedFileSystem with a Replica following it. The leader
 * is fenced and dropped without a clean close (its death); the replica's copy, opened as a
 * broker, has every confirmed publish and keeps every resolved ack.
 */
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { test } from 'node:test';
import { Broker } from '../../src/broker/index.js';
import type { Client, Subscription } from '../../src/protocol/index.js';
import { WeirError } from '../../src/util/index.js';
import { createTemporaryDirectory } from '../helpers/temporary-directory.js';
import { startLeader, startReplica } from './replication-helpers.js';

const CHEAP_PASSWORDS = { N: 16, r: 1, p: 1 };

/** Publishes `count` numbered messages from `first`, 50 unconfirmed at a time; all confirmed. */
async function publishConfirmed(client: Client, first: number, count: number): Promise<void> {
  for (let start = first; start < first + count; start += 50) {
    const window: Promise<unknown>[] = [];
    for (let number = start; number < Math.min(first + count, start + 50); number++) {
      window.push(client.publish('orders', String(number)));
    }
    await Promise.all(window);
  }
}

/** Receives up to `count` messages, acks those `acked` picks, and waits for every ack. */
async function consume(
  subscription: Subscription,
  count: number,
  acked: (number: number) => boolean,
): Promise<Set<number>> {
  const done = new Set<number>();
  const acks: Promise<void>[] = [];
  for (let index = 0; index < count; index++) {
    const message = await subscription.receive({ timeoutMs: 2_000 });
    if (message === null) break;
    const number = Number(message.text());
    if (acked(number)) {
      acks.push(message.ack());
      done.add(number);
    }
  }
  await Promise.all(acks);
  return done;
}

/** Every message the subscription still has. */
async function drain(subscription: Subscription): Promise<number[]> {
  const numbers: number[] = [];
  for (let index = 0; index < 100_000; index++) {
    const message = await subscription.receive({ timeoutMs: 300 });
    if (message === null) break;
    numbers.push(Number(message.text()));
    await message.ack();
  }
  return numbers;
}

/** Opens the replica's copy as a broker and checks what a new leader would serve. */
async function verifyCopy(
  replicaRoot: string,
  published: number,
  acked: Set<number>,
): Promise<void> {
  const broker = await Broker.open({ dataDir: replicaRoot, passwordCost: CHEAP_PASSWORDS });
  try {
    const client = broker.connect();
    const everything = await drain(
      await client.subscribe('orders', {
        subscription: 'verify',
        start: 'earliest',
        maxInFlight: 1_000,
      }),
    );
    const stored = new Set(everything);
    for (let number = 0; number < published; number++) {
      assert.ok(
        stored.has(number),
        `confirmed publish ${number} is on the replica (${stored.size} there)`,
      );
    }
    const pending = await drain(
      await client.subscribe('orders', { subscription: 'w', maxInFlight: 1_000 }),
    );
    for (const number of pending)
      assert.ok(!acked.has(number), `acked message ${number} was delivered again`);
    const settled = new Set([...pending, ...acked]);
    for (let number = 0; number < published; number++) {
      assert.ok(
        settled.has(number),
        `message ${number} is neither acked nor pending on the replica`,
      );
    }
  } finally {
    await broker.close();
  }
}

test('a broker on the replicated file system dies fenced: its replica, opened as a broker, has every confirmed publish and keeps every ack', async () => {
  const temporary = await createTemporaryDirectory('weir-replicated-broker-');
  const leaderRoot = path.join(temporary.path, 'leader');
  const replicaRoot = path.join(temporary.path, 'replica');
  const leader = await startLeader({ root: leaderRoot, isr: ['r1'] });
  const { replica } = startReplica({ root: replicaRoot, nodeId: 'r1' });
  let broker: Broker | null = null;
  try {
    replica.follow(leader.address, 1);
    broker = await Broker.open({
      dataDir: leaderRoot,
      fileSystem: leader.fileSystem,
      passwordCost: CHEAP_PASSWORDS,
    });
    const client = broker.connect();
    await client.streams.create('orders', { subjects: ['orders'], fsync: 'always' });
    await publishConfirmed(client, 0, 300);
    const subscription = await client.subscribe('orders', { subscription: 'w', maxInFlight: 200 });
    const acked = await consume(subscription, 150, (number) => number % 3 !== 2);
    assert.ok(acked.size >= 90, `${acked.size} acks resolved`);
    // The leader dies: fenced, never closed cleanly.
    leader.fileSystem.fence(new WeirError('CLOSED', 'the leader died'));
    await assert.rejects(client.publish('orders', 'after the fence'));
    await replica.stop();
    await verifyCopy(replicaRoot, 300, acked);
  } finally {
    await replica.stop();
    await broker?.close().catch(() => undefined);
    await leader.server.close();
    await temporary.remove();
  }
});

test('a replica that starts after the leader has data takes a snapshot, joins the ISR, and its copy serves the same after the leader dies', async () => {
  const temporary = await createTemporaryDirectory('weir-replicated-broker-');
  const leaderRoot = path.join(temporary.path, 'leader');
  const replicaRoot = path.join(temporary.path, 'replica');
  const leader = await startLeader({ root: leaderRoot });
  const { replica } = startReplica({ root: replicaRoot, nodeId: 'r1' });
  let broker: Broker | null = null;
  try {
    broker = await Broker.open({
      dataDir: leaderRoot,
      fileSystem: leader.fileSystem,
      passwordCost: CHEAP_PASSWORDS,
    });
    const client = broker.connect();
    await client.streams.create('orders', { subjects: ['orders'], fsync: 'always' });
    await publishConfirmed(client, 0, 200);
    const subscription = await client.subscribe('orders', { subscription: 'w', maxInFlight: 400 });
    const acked = await consume(subscription, 100, (number) => number % 2 === 0);
    // The replica starts now; once it has caught up it joins the ISR (as the cluster node does).
    const caughtUp = new Promise<string>(
      (resolve) => (leader.fileSystem.onFollowerCaughtUp = resolve),
    );
    replica.follow(leader.address, 1);
    assert.equal(await caughtUp, 'r1');
    leader.fileSystem.setInSync(new Set(['r1']));
    assert.equal(leader.snapshots, 1);
    await publishConfirmed(client, 200, 200);
    for (const number of await consume(subscription, 150, (candidate) => candidate % 2 === 0))
      acked.add(number);
    assert.ok(acked.size > 100, `${acked.size} acks resolved`);
    leader.fileSystem.fence(new WeirError('CLOSED', 'the leader died'));
    await replica.stop();
    await verifyCopy(replicaRoot, 400, acked);
  } finally {
    await replica.stop();
    await broker?.close().catch(() => undefined);
    await leader.server.close();
    await temporary.remove();
  }
});
