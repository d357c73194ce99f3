/**
 * A ClusterView the test sets by hand: node and in-sync counts, and the streams the broker
 * recorded. Stands in for the cluster node (src/cluster) in broker tests.
 */
import type { ClusterStatus, ClusterView } from '../../src/broker/index.js';

export class FakeClusterView implements ClusterView {
  nodes: number;
  inSync: number;
  /** Every recordStream call, in order. */
  readonly recorded: { name: string; replicas: number; minInSync: number }[] = [];
  /** Set: the next recordStream rejects with it (once). */
  recordFailure: Error | null = null;

  constructor(nodes: number, inSync = nodes) {
    this.nodes = nodes;
    this.inSync = inSync;
  }

  nodeCount(): number {
    return this.nodes;
  }

  inSyncCount(): number {
    return this.inSync;
  }

  /** Node ids n1..nN; n1 leads; the first `inSync` are in the in-sync set. */
  status(): ClusterStatus {
    const ids = Array.from({ length: this.nodes }, (_, index) => `n${index + 1}`);
    const isr = ids.slice(0, this.inSync);
    return {
      clusterMode: true,
      nodeId: 'n1',
      leader: 'n1',
      epoch: 7,
      isr,
      nodes: ids.map((nodeId, index) => ({
        nodeId,
        advertise: `127.0.0.1:${7420 + 10 * index}`,
        http: null,
        role: index === 0 ? 'leader' : 'follower',
        inSync: isr.includes(nodeId),
        ackedSeq: index === 0 ? 42 : isr.includes(nodeId) ? 42 : 30,
        lagOps: index === 0 ? 0 : isr.includes(nodeId) ? 0 : 12,
        lagMs: index === 0 ? 0 : isr.includes(nodeId) ? 0 : 1500,
      })),
      leaderSeq: 42,
      streams: [],
    };
  }

  recordStream(name: string, replicas: number, minInSync: number): Promise<void> {
    const failure = this.recordFailure;
    if (failure !== null) {
      this.recordFailure = null;
      return Promise.reject(failure);
    }
    this.recorded.push({ name, replicas, minInSync });
    return Promise.resolve();
  }
}
