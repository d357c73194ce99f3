/** The cluster on etcd (docs/cluster.md): a node's roles, replication, membership. */
export { ClusterNode, type ClusterNodeOptions, type ClientServing } from './cluster-node.js';
export { FollowerListener, notLeaderError } from './follower-listener.js';
