/**
 * The cluster's guarantees with real processes (issue 15, docs/cluster.md): kill -9 the
 * leader under publish + ack load — nothing confirmed is lost, nothing acked is delivered
 * again, publishes succeed again within FAILOVER_MS_MAX (median; each within
 * FAILOVER_UNDER_SUITE_LOAD_MS_MAX); a restart of the whole cluster
 * loses nothing confirmed. Skipped, saying so, where etcd is not installed.
 */
import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import { connect, type Client } from '../../src/index.js';
import { startCluster, type TestCluster } from './cluster-harness.js';
import { killLeaders, waitForInSync } from './cluster-kills.js';
import { startLoad } from './cluster-load.js';

/** The bound on a failover: publishes succeed again within this of the kill. */
const FAILOVER_MS_MAX = 3_000;
/**
 * Inside `npm test` (two test files at once on a 2-core machine, three nodes and etcd beside
 * them) one kill may take longer than the bound; the median must keep it, and none may pass
 * this. The bound itself is shown on 20 kills by `npm run bench:cluster -- --kills 20`.
 */
const FAILOVER_UNDER_SUITE_LOAD_MS_MAX = 4_000;
/** Leaders killed in the test (the 20-kill figure is `npm run bench:cluster -- --kills 20`). */
const KILLS = 3;
const NO_ETCD = 'etcd is not installed (apt-get install etcd-server): the cluster tests need it';

/** Every message number in the stream, read from the start by a subscription of its own. */
async function storedNumbers(mq: Client, stream: string, atLeast: number): Promise<Set<number>> {
  const seen = new Set<number>();
  const subscription = await mq.subscribe(stream, {
    subscription: `audit-${Date.now()}`,
    start: 'earliest',
    ack: 'none',
  });
  const info = await mq.streams.info(stream);
  const total = info.messages;
  const deadline = Date.now() + 20_000;
  let delivered = 0;
  for await (const msg of subscription) {
    seen.add(msg.json<{ n: number }>().n);
    delivered += 1;
    if (delivered >= total || (seen.size >= atLeast && delivered >= total)) break;
    if (Date.now() > deadline) break;
  }
  await subscription.close();
  return seen;
}

test('kill -9 of the leader under publish + ack load: 0 confirmed lost, 0 acked redelivered, publishes again within 3 s', async (t) => {
  const cluster = await startCluster({ nodes: 3 });
  if (cluster === null) return t.skip(NO_ETCD);
  let mq: Client | null = null;
  try {
    mq = await connect(cluster.url);
    await mq.streams.create('orders', { subjects: ['orders.>'], replicas: 3 });
    await waitForInSync(mq, 3, 20_000);
    const load = startLoad(mq, { stream: 'orders', subject: 'orders.created', publishers: 4 });
    let failovers: number[] = [];
    try {
      const rounds = await killLeaders(cluster, mq, load, {
        kills: KILLS,
        timeoutMs: 30_000,
        report: (round, failover) =>
          t.diagnostic(
            `kill ${round}: ${failover.newLeader} led ${failover.ledMs ?? '?'} ms after the kill, first confirm at ${failover.ms} ms`,
          ),
      });
      failovers = rounds.map((failover) => failover.ms);
    } finally {
      await load.stop();
    }
    t.diagnostic(
      `failover ms: ${failovers.join(', ')}; confirmed ${load.confirmed.size}, acked ${load.acked.size}`,
    );
    assert.deepEqual(load.ackedRedelivered, [], 'no acked message is delivered again');
    const stored = await storedNumbers(mq, 'orders', load.confirmed.size);
    const lost = [...load.confirmed].filter((n) => !stored.has(n));
    assert.deepEqual(lost.slice(0, 20), [], `${lost.length} confirmed messages lost`);
    const sorted = [...failovers].sort((a, b) => a - b);
    const median = sorted[Math.floor(sorted.length / 2)]!;
    assert.ok(median <= FAILOVER_MS_MAX, `median failover ${median} ms (${failovers.join(', ')})`);
    for (const ms of failovers) {
      assert.ok(ms <= FAILOVER_UNDER_SUITE_LOAD_MS_MAX, `failover took ${ms} ms`);
    }
  } finally {
    await mq?.close();
    await cluster.stop();
  }
});

test('a restart of the whole cluster loses nothing confirmed', async (t) => {
  const cluster: TestCluster | null = await startCluster({ nodes: 3 });
  if (cluster === null) return t.skip(NO_ETCD);
  let mq: Client | null = null;
  try {
    mq = await connect(cluster.url);
    await mq.streams.create('events', { subjects: ['events.>'], replicas: 3 });
    await waitForInSync(mq, 3, 20_000);
    const confirmed: number[] = [];
    for (let n = 0; n < 300; n += 1) {
      await mq.publish('events.x', { n }, { id: `e-${n}` });
      confirmed.push(n);
    }
    await mq.close();
    mq = null;
    // All at once, with SIGKILL: no node closes cleanly.
    await Promise.all(cluster.nodes.map((node) => cluster.kill(node)));
    await Promise.all(cluster.nodes.map((node) => cluster.restart(node)));
    await cluster.waitForLeader();
    mq = await connect(cluster.url);
    const stored = await storedNumbers(mq, 'events', confirmed.length);
    assert.deepEqual(
      confirmed.filter((n) => !stored.has(n)),
      [],
      'every confirmed message is there after the restart',
    );
  } finally {
    await mq?.close();
    await cluster.stop();
  }
});
