/**
 * ClusterMembership against a real etcd: the node key under the lease, elections (one winner
 * of a concurrent campaign, epochs and their history, no unclean election), fenced ISR
 * changes, watchState, and onLeaseLost when etcd goes silent past the lease's trust window.
 * The tests share one etcd and run in order; each starts from an empty /weir/.
 */
import { after, beforeEach, test } from 'node:test';
import assert from 'node:assert/strict';
import { ClusterMembership } from '../../src/cluster/cluster-membership.js';
import {
  KEYS,
  nodeKey,
  type ClusterState,
  type LeaderRecord,
} from '../../src/cluster/cluster-keys.js';
import { EtcdClient } from '../../src/cluster/etcd-client.js';
import { CLUSTER_LEASE_MARGIN_MS, CLUSTER_LEASE_TTL_S } from '../../src/limits.js';
import { ETCD_MISSING, startEtcd, waitFor } from '../helpers/etcd.js';

const etcd = await startEtcd();
const client = etcd === null ? null : new EtcdClient([etcd.endpoint]);
const members: ClusterMembership[] = [];
after(async () => {
  client?.close();
  await etcd?.stop();
});

beforeEach(async () => {
  await Promise.all(members.splice(0).map((member) => member.leave().catch(() => undefined)));
  await client?.txn({ compare: [], success: [{ type: 'delete', key: '/weir/', prefix: true }] });
});

function member(nodeId: string): ClusterMembership {
  assert.ok(client !== null);
  const membership = new ClusterMembership({
    etcd: client,
    nodeId,
    record: {
      nodeId,
      advertise: `127.0.0.1:${nodeId.charCodeAt(0)}`,
      replication: '127.0.0.1:2',
      http: null,
      startedAtMs: 1,
    },
  });
  members.push(membership);
  return membership;
}

async function joined(...nodeIds: string[]): Promise<ClusterMembership[]> {
  const nodes = nodeIds.map(member);
  await Promise.all(nodes.map((node) => node.join()));
  return nodes;
}

test('join puts the node key under the lease; leave revokes it and the key goes', async (t) => {
  if (client === null) return t.skip(ETCD_MISSING);
  const [a] = await joined('a');
  assert.ok(a!.leaseId !== null);
  assert.equal((await client.get(nodeKey('a')))?.lease, a!.leaseId);
  assert.deepEqual(await a!.nodes(), [
    {
      nodeId: 'a',
      advertise: '127.0.0.1:97',
      replication: '127.0.0.1:2',
      http: null,
      startedAtMs: 1,
    },
  ]);
  await a!.leave();
  assert.equal(a!.leaseId, null);
  assert.equal(await client.get(nodeKey('a')), null);
});

test('two nodes campaign at once: exactly one wins epoch 1 with isr [self]; the other cannot win while the leader key exists', async (t) => {
  if (client === null) return t.skip(ETCD_MISSING);
  const [a, b] = await joined('a', 'b');
  const results = await Promise.all([a!.campaign(0), b!.campaign(0)]);
  const winners = results.filter((state) => state !== null);
  assert.equal(winners.length, 1, 'exactly one winner');
  const winner = results[0] !== null ? a! : b!;
  const loser = winner === a ? b! : a!;
  const leaderId = winner.nodeId;
  assert.deepEqual(winners[0], {
    epoch: 1,
    leader: leaderId,
    isr: [leaderId],
    epochs: [{ epoch: 1, leader: leaderId, startSeq: 0 }],
  });
  const leader = await client.get(KEYS.leader);
  assert.deepEqual(JSON.parse(leader!.value), {
    nodeId: leaderId,
    epoch: 1,
    advertise: `127.0.0.1:${leaderId.charCodeAt(0)}`,
  });
  assert.equal(leader!.lease, winner.leaseId, 'the leader key lives under the winner lease');

  // Put the loser in the ISR, so only the leader key stops it.
  assert.equal(await winner.changeIsr(1, [leaderId, loser.nodeId]), true);
  assert.deepEqual((await loser.readState()).state?.isr, ['a', 'b']);
  assert.equal(await loser.campaign(5), null);
  assert.equal((await loser.readState()).state?.epoch, 1);
});

test('after the leader lease ends an ISR member wins epoch 2 at its startSeq; the history grows', async (t) => {
  if (client === null) return t.skip(ETCD_MISSING);
  const [a, b] = await joined('a', 'b');
  assert.ok((await a!.campaign(0)) !== null);
  assert.equal(await a!.changeIsr(1, ['a', 'b']), true);
  await a!.leave(); // the lease is revoked: /weir/leader and /weir/nodes/a go with it
  assert.equal(await client.get(KEYS.leader), null);

  const state = await b!.campaign(42);
  assert.deepEqual(state, {
    epoch: 2,
    leader: 'b',
    isr: ['b'], // a is gone from /weir/nodes, so it leaves the ISR
    epochs: [
      { epoch: 1, leader: 'a', startSeq: 0 },
      { epoch: 2, leader: 'b', startSeq: 42 },
    ],
  });
  assert.deepEqual((await b!.readState()).state, state);
  assert.equal(JSON.parse((await client.get(KEYS.leader))!.value).epoch, 2);
});

test('an ISR member that is alive stays in the ISR of the next epoch', async (t) => {
  if (client === null) return t.skip(ETCD_MISSING);
  const [a, b, c] = await joined('a', 'b', 'c');
  assert.ok((await a!.campaign(0)) !== null);
  assert.equal(await a!.changeIsr(1, ['a', 'b', 'c']), true);
  await a!.resign(); // a stays alive but gives up the leader key
  assert.equal(await client.get(KEYS.leader), null);
  const state = await b!.campaign(7);
  assert.deepEqual(state?.isr, ['a', 'b', 'c']);
  assert.equal(state?.epoch, 2);
  assert.equal(await c!.campaign(7), null, 'b leads now');
});

test('a node outside the ISR refuses to campaign, even with no leader (no unclean election)', async (t) => {
  if (client === null) return t.skip(ETCD_MISSING);
  const [a, c] = await joined('a', 'c');
  assert.ok((await a!.campaign(0)) !== null);
  await a!.leave();
  const before = await c!.readState();
  assert.deepEqual(before.state?.isr, ['a']);
  assert.equal(await c!.campaign(0), null);
  assert.equal(await client.get(KEYS.leader), null, 'no leader key was created');
  assert.equal((await c!.readState()).revision, before.revision, 'the state was not written');
});

test('changeIsr is fenced: a stale state revision or a lost leader key returns false', async (t) => {
  if (client === null) return t.skip(ETCD_MISSING);
  const [a] = await joined('a');
  const won = await a!.campaign(0);
  assert.ok(won !== null);
  assert.equal(await a!.changeIsr(2, ['a']), false, 'not its epoch');
  // Another writer changes /weir/state behind a's back.
  await client.put(KEYS.state, JSON.stringify({ ...won, isr: ['a', 'x'] }));
  assert.equal(await a!.changeIsr(1, ['a', 'b']), false, 'stale revision');
  assert.deepEqual((await a!.readState()).state?.isr, ['a', 'x'], 'the other write stands');
  assert.equal(await a!.changeIsr(1, ['a', 'b']), true, 'after reading again');
  await a!.resign();
  assert.equal(await a!.changeIsr(1, ['a']), false, 'no longer the leader');
});

test('watchState reports the current values at start, then every change of state or leader', async (t) => {
  if (client === null) return t.skip(ETCD_MISSING);
  const [a] = await joined('a');
  const seen: [ClusterState | null, LeaderRecord | null][] = [];
  const cancel = a!.watchState((state, leader) => seen.push([state, leader]));
  t.after(cancel);
  await waitFor(() => seen.length === 1, 'the first call');
  assert.deepEqual(seen[0], [null, null]);
  const state = await a!.campaign(3);
  await waitFor(() => seen.length >= 2, 'the election');
  assert.deepEqual(seen.at(-1), [state, { nodeId: 'a', epoch: 1, advertise: '127.0.0.1:97' }]);
  await member('n').join(); // a node key changes neither: no call
  await a!.resign();
  await waitFor(() => seen.at(-1)?.[1] === null, 'the leader key gone');
  assert.deepEqual(seen.at(-1), [state, null]);
  assert.equal(seen.length, 3);
});

test('onLeaseLost fires once when etcd is silent past the TTL minus the margin; the expired leader is replaced', async (t) => {
  if (client === null || etcd === null) return t.skip(ETCD_MISSING);
  const [a, b] = await joined('a', 'b');
  assert.ok((await a!.campaign(0)) !== null);
  assert.equal(await a!.changeIsr(1, ['a', 'b']), true);
  let lostAt: number | null = null;
  let calls = 0;
  a!.onLeaseLost = () => {
    calls += 1;
    lostAt = Date.now();
  };
  const pausedAt = Date.now();
  etcd.pause();
  try {
    await waitFor(() => lostAt !== null, 'onLeaseLost', CLUSTER_LEASE_TTL_S * 1000 + 3_000);
  } finally {
    etcd.resume();
  }
  const afterMs = lostAt! - pausedAt;
  const trustMs = CLUSTER_LEASE_TTL_S * 1000 - CLUSTER_LEASE_MARGIN_MS;
  // The last good keepalive was sent at most one interval before the pause.
  assert.ok(
    afterMs >= trustMs - (CLUSTER_LEASE_TTL_S * 1000) / 3 - 50,
    `lost ${afterMs} ms after the pause`,
  );
  assert.ok(afterMs <= trustMs + 1_500, `lost ${afterMs} ms after the pause`);
  assert.equal(a!.leaseId, null);
  await assert.rejects(a!.campaign(0), /join first/);

  // a keeps no more keepalives: etcd expires its lease, and the leader key with it. b lost its
  // lease too (the same silence); it joins again and, being in the ISR, wins epoch 2.
  await waitFor(() => b!.leaseId === null, 'b to distrust its lease too');
  await waitFor(
    async () => (await client.get(KEYS.leader)) === null,
    'the leader lease to expire',
    5_000,
  );
  await b!.join();
  const state = await b!.campaign(9);
  assert.equal(state?.epoch, 2);
  assert.deepEqual(state?.isr, ['b']);
  assert.deepEqual(state?.epochs.at(-1), { epoch: 2, leader: 'b', startSeq: 9 });
  assert.equal(calls, 1, 'onLeaseLost fired once');
});
