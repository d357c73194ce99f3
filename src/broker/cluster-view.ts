/**
 * What the broker knows of the cluster it runs in (docs/cluster.md): a `ClusterView` the
 * cluster node (src/cluster) hands to `Broker.open({ cluster })` on the leader. The broker
 * asks it how many nodes there are (stream defaults, the `replicas` check), how many are in
 * sync (the publish gate: NOT_ENOUGH_REPLICAS), for the status it shows (`client.cluster.status`,
 * `GET /api/cluster`), and records each stream's replication settings in it on create.
 *
 * Without a view the broker is the single node it always was: SINGLE_NODE_STATUS.
 *
 * Concurrency: the view's counts may change between two calls (a follower falls behind or
 * catches up); the broker reads them at each check and keeps nothing.
 */
import type { ClusterStatus } from '../protocol/index.js';

export type { ClusterNodeStatus, ClusterStatus, ClusterStreamStatus } from '../protocol/index.js';

export interface ClusterView {
  /** Nodes in the cluster (members alive in etcd, this one included), >= 1. */
  nodeCount(): number;
  /** Nodes in the in-sync set, the leader included, >= 1 on a leader. */
  inSyncCount(): number;
  /** The cluster as this node sees it; `streams` may be left empty (the broker fills it in). */
  status(): ClusterStatus;
  /** Records a new stream's settings (etcd `/weir/streams/<name>`); awaited before the create confirms. */
  recordStream(name: string, replicas: number, minInSync: number): Promise<void>;
}

/** What a single node (no cluster) answers. */
export const SINGLE_NODE_STATUS: ClusterStatus = Object.freeze({
  clusterMode: false,
  nodeId: null,
  leader: null,
  epoch: 0,
  isr: Object.freeze([]),
  nodes: Object.freeze([]),
  leaderSeq: null,
  streams: Object.freeze([]),
});
