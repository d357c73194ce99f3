/**
 * What the failover test and `bench:cluster` both do: wait for a condition (bounded), wait for
 * the in-sync set to be whole, and kill -9 the leader round after round under a load,
 * measuring each failover (kill to the first confirm of a publish started after it).
 */
import type { Client } from '../../src/index.js';
import type { TestCluster } from './cluster-harness.js';
import type { ClusterLoad } from './cluster-load.js';

/** How often `until` probes. */
const PROBE_MS = 100;

/** Resolves with the probe's first non-null value; rejects past `timeoutMs`. A throw is a null. */
export async function until<T>(
  what: string,
  timeoutMs: number,
  probe: () => Promise<T | null>,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe().catch(() => null);
    if (value !== null) return value;
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, PROBE_MS));
  }
}

export function waitForInSync(mq: Client, count: number, timeoutMs: number): Promise<true> {
  return until(`${count} nodes in sync`, timeoutMs, async () =>
    (await mq.cluster.status()).isr.length >= count ? true : null,
  );
}

export interface Failover {
  /** Kill to the first confirm of a publish started after it. */
  readonly ms: number;
  readonly newLeader: string;
  /** Kill to the new leader's cluster_leader line (null: not read). */
  readonly ledMs: number | null;
}

/**
 * `kills` rounds: progress, kill -9 of the leader, wait for a confirm after it, restart the
 * killed node, wait for the in-sync set to be whole again. `report` hears of each round.
 */
export async function killLeaders(
  cluster: TestCluster,
  mq: Client,
  load: ClusterLoad,
  options: {
    kills: number;
    timeoutMs: number;
    report?: (round: number, failover: Failover) => void;
  },
): Promise<Failover[]> {
  const failovers: Failover[] = [];
  for (let round = 1; round <= options.kills; round += 1) {
    await load.progress(200, options.timeoutMs);
    const leader = await cluster.waitForLeader();
    const killedAt = Date.now();
    await cluster.kill(leader);
    const confirmedAt = await load.confirmAfter(killedAt, options.timeoutMs);
    const next = await cluster.waitForLeader({ exclude: leader.nodeId });
    const led = next.process
      .logLines()
      .filter((line) => line['event'] === 'cluster_leader')
      .map((line) => Date.parse(String(line['time'])))
      .at(-1);
    const failover = {
      ms: confirmedAt - killedAt,
      newLeader: next.nodeId,
      ledMs: led === undefined ? null : led - killedAt,
    };
    failovers.push(failover);
    options.report?.(round, failover);
    await cluster.restart(leader);
    await waitForInSync(mq, cluster.nodes.length, options.timeoutMs);
  }
  await load.progress(200, options.timeoutMs);
  return failovers;
}
