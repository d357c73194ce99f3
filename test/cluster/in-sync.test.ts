/**
 * The in-sync set with real processes (issue 15): a follower that falls behind (SIGSTOP: it
 * acknowledges nothing) leaves the in-sync set through a fenced transaction and publishes go
 * on while minInSync holds; resumed, it catches up and comes back. And no unclean election:
 * a node outside the in-sync set never leads, even when it is the only node left.
 */
import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import { connect, type Client } from '../../src/index.js';
import { lastRole, startCluster, type ClusterNodeProcess } from './cluster-harness.js';
import { until, waitForInSync } from './cluster-kills.js';

const NO_ETCD = 'etcd is not installed (apt-get install etcd-server): the cluster tests need it';
/** Longer than two lease TTLs and an election: time enough for a wrong leader to appear. */
const NO_LEADER_WATCH_MS = 6_000;

const isr = async (mq: Client) => (await mq.cluster.status()).isr;

/** A client of the cluster with a stream `jobs` (replicas 3, minInSync 2) held by all 3. */
async function jobsOn(url: string): Promise<Client> {
  const mq = await connect(url);
  await mq.streams.create('jobs', { subjects: ['jobs.>'], replicas: 3, minInSync: 2 });
  await waitForInSync(mq, 3, 20_000);
  return mq;
}

function pause(node: ClusterNodeProcess): void {
  node.process.child.kill('SIGSTOP');
}

function resume(node: ClusterNodeProcess): void {
  node.process.child.kill('SIGCONT');
}

test('a follower that falls behind leaves the in-sync set by a fenced change, publishes go on, and it comes back once caught up', async (t) => {
  const cluster = await startCluster({ nodes: 3 });
  if (cluster === null) return t.skip(NO_ETCD);
  let mq: Client | null = null;
  const paused: ClusterNodeProcess[] = [];
  try {
    mq = await jobsOn(cluster.url);
    const leader = await cluster.waitForLeader();
    const follower = cluster.nodes.find((node) => node.nodeId !== leader.nodeId)!;
    pause(follower);
    paused.push(follower);
    // Publishes wait for it until it is out of the set, then go on with 2 of 3.
    for (let n = 0; n < 50; n += 1) await mq.publish('jobs.x', { n }, { id: `j-${n}` });
    const without = await isr(mq);
    assert.ok(!without.includes(follower.nodeId), `${follower.nodeId} left: ${without.join(',')}`);
    assert.equal(without.length, 2);
    const change = leader.process
      .logLines()
      .find(
        (line) =>
          line['event'] === 'cluster_isr' && !(line['isr'] as string[]).includes(follower.nodeId),
      );
    assert.ok(change, 'the leader logged the committed change');
    resume(follower);
    paused.length = 0;
    for (let n = 50; n < 100; n += 1) await mq.publish('jobs.x', { n }, { id: `j-${n}` });
    await until('the follower back in sync', 20_000, async () =>
      (await isr(mq!)).includes(follower.nodeId) ? true : null,
    );
    const status = await mq.cluster.status();
    const entry = status.nodes.find((node) => node.nodeId === follower.nodeId);
    assert.equal(entry?.inSync, true);
  } finally {
    for (const node of paused) resume(node);
    await mq?.close();
    await cluster.stop();
  }
});

test('no unclean election: a node outside the in-sync set never leads, even alone', async (t) => {
  const cluster = await startCluster({ nodes: 3 });
  if (cluster === null) return t.skip(NO_ETCD);
  let mq: Client | null = null;
  const paused: ClusterNodeProcess[] = [];
  try {
    mq = await jobsOn(cluster.url);
    const leader = await cluster.waitForLeader();
    const [behind, other] = cluster.nodes.filter((node) => node.nodeId !== leader.nodeId) as [
      ClusterNodeProcess,
      ClusterNodeProcess,
    ];
    pause(behind);
    paused.push(behind);
    for (let n = 0; n < 20; n += 1) await mq.publish('jobs.x', { n }, { id: `u-${n}` });
    await until('the paused node out of the set', 20_000, async () =>
      (await isr(mq!)).includes(behind.nodeId) ? null : true,
    );
    await mq.close();
    mq = null;
    // Everyone who has the last messages goes; the one left behind is all there is.
    await cluster.kill(leader);
    await cluster.kill(other);
    resume(behind);
    paused.length = 0;
    await new Promise((resolve) => setTimeout(resolve, NO_LEADER_WATCH_MS));
    assert.notEqual(
      lastRole(behind)?.role,
      'leader',
      'the node outside the in-sync set did not lead',
    );
    // An in-sync node returns: it leads, and has every message.
    await cluster.restart(other);
    const next = await cluster.waitForLeader();
    assert.notEqual(next.nodeId, behind.nodeId);
    mq = await connect(cluster.url);
    const info = await mq.streams.info('jobs');
    assert.equal(info.messages, 20);
  } finally {
    for (const node of paused) resume(node);
    await mq?.close();
    await cluster.stop();
  }
});
