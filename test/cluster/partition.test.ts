/**
 * A leader cut off from etcd and the other nodes (issue 15): each node runs in a network
 * namespace the test makes (netns.ts), and the cut is nft dropping everything on the leader's
 * veth. The old leader must confirm nothing the new leader does not have, the others elect a
 * new leader, and when the old one comes back it steps down, takes the new leader's copy
 * (truncating what it had alone) and rejoins the in-sync set as a follower.
 *
 * Needs root, ip, nft and etcd; skipped, saying which is missing, otherwise.
 */
import { strict as assert } from 'node:assert';
import { spawn } from 'node:child_process';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { Broker, connect, type Client } from '../../src/index.js';
import { CLUSTER_LEASE_TTL_S } from '../../src/limits.js';
import { lastRole, startCluster, stopNode } from './cluster-harness.js';
import { until, waitForInSync } from './cluster-kills.js';
import { createNamespaceNetwork } from './netns.js';

const PUBLISHER = fileURLToPath(new URL('./isolated-publisher.js', import.meta.url));

/** Every message of the stream in a data directory, opened as a broker would after a stop. */
async function messagesIn(dataDir: string, stream: string): Promise<string[]> {
  const broker = await Broker.open({ dataDir });
  try {
    const mq = broker.connect();
    const info = await mq.streams.info(stream);
    const ids: string[] = [];
    if (info.messages === 0) return ids;
    const subscription = await mq.subscribe(stream, {
      subscription: 'audit',
      start: 'earliest',
      ack: 'none',
    });
    const deadline = Date.now() + 20_000;
    for await (const msg of subscription) {
      ids.push(msg.id ?? `offset-${msg.partition}-${msg.offset}`);
      if (ids.length >= info.messages || Date.now() > deadline) break;
    }
    await subscription.close();
    return ids.sort();
  } finally {
    await broker.close();
  }
}

test('a leader cut off confirms nothing the new leader lacks, and rejoins as a follower with the new leader’s log', async (t) => {
  const network = await createNamespaceNetwork(['n1', 'n2', 'n3']);
  if (typeof network === 'string') return t.skip(network);
  let cluster = null;
  let mq: Client | null = null;
  const publisher: { kill(): void; output: string } = { kill: () => {}, output: '' };
  try {
    // The namespaces are the test's own: no one else reaches them, so no users are needed.
    cluster = await startCluster({ nodes: 3, network, extraArgs: ['--insecure'] });
    if (cluster === null) return t.skip('etcd is not installed (apt-get install etcd-server)');
    mq = await connect(cluster.url);
    await mq.streams.create('orders', { subjects: ['orders.>'], replicas: 3 });
    await waitForInSync(mq, 3, 20_000);
    for (let n = 0; n < 100; n += 1)
      await mq.publish('orders.before', { n }, { id: `before-${n}` });
    const old = await cluster.waitForLeader();

    // A publisher beside the old leader, in its namespace: after the cut it still reaches it.
    const { command, args } = network.commandIn(old.nodeId, [
      process.execPath,
      PUBLISHER,
      `weir://${old.advertise}`,
    ]);
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    publisher.kill = () => child.kill('SIGKILL');
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (publisher.output += chunk));
    await until('the isolated publisher confirms', 10_000, () =>
      Promise.resolve(/confirmed/.test(publisher.output) ? true : null),
    );

    await network.cut(old.nodeId);
    const cutAt = Date.now();
    const next = await cluster.waitForLeader({ exclude: old.nodeId, timeoutMs: 20_000 });
    assert.notEqual(next.nodeId, old.nodeId);
    await until('the old leader fences itself', 20_000, () =>
      Promise.resolve(
        lastRole(old)?.role === 'fenced' || lastRole(old)?.role === 'follower' ? true : null,
      ),
    );
    // The rest of the cluster serves: a client in the hub reaches the new leader.
    // The client was connected to the old leader: its publishes fail (CLOSED, retriable, once
    // the heartbeats stop) and the retry goes round the node list to the new leader.
    for (let n = 0; n < 100; n += 1) {
      await until(`publish after-${n}`, 60_000, async () => {
        await mq!.publish('orders.after', { n }, { id: `after-${n}` });
        return true;
      });
    }

    const healAt = Date.now();
    await network.heal(old.nodeId);
    await until('the old leader back in the in-sync set', 30_000, async () => {
      const status = await mq!.cluster.status();
      return status.isr.includes(old.nodeId) && status.leader === next.nodeId ? true : null;
    });
    publisher.kill();
    const confirmedIsolated = [...publisher.output.matchAll(/confirmed (\d+) (\d+)/g)].map(
      (match) => ({ n: Number(match[1]), atMs: Number(match[2]) }),
    );
    const whileCut = confirmedIsolated.filter((entry) => entry.atMs > cutAt && entry.atMs < healAt);
    const leaseGoneAt = cutAt + CLUSTER_LEASE_TTL_S * 1000;
    t.diagnostic(
      `isolated publisher: ${confirmedIsolated.length} confirmed, ${whileCut.length} while cut off`,
    );
    assert.deepEqual(
      // Until the heal: after it, the publisher follows the hint to the new leader.
      confirmedIsolated.filter((entry) => entry.atMs > leaseGoneAt && entry.atMs < healAt),
      [],
      'the old leader confirms nothing once its lease is gone',
    );
    await mq.close();
    mq = null;
    // Stop every node cleanly and read each copy as a broker would.
    await Promise.all(cluster.nodes.map((node) => stopNode(node)));
    const onNew = await messagesIn(next.dataDir, 'orders');
    const onOld = await messagesIn(old.dataDir, 'orders');
    assert.deepEqual(onOld, onNew, 'the old leader holds exactly the new leader’s log');
    const stored = new Set(onNew);
    const lost = confirmedIsolated.filter((entry) => !stored.has(`iso-${entry.n}`));
    assert.deepEqual(lost, [], 'whatever the old leader confirmed, the new leader has');
    for (let n = 0; n < 100; n += 1) {
      assert.ok(stored.has(`before-${n}`) && stored.has(`after-${n}`), `message ${n} kept`);
    }
  } finally {
    publisher.kill();
    await mq?.close();
    await cluster?.stop();
    await network.destroy();
  }
});
