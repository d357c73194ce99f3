/**
 * The cluster over HTTP: `GET /api/cluster` answers `client.cluster.status()` as it is (the
 * same JSON as `weir cluster status --json`): on a single node `clusterMode: false` and the
 * rest empty. Open to every user, as stream information is.
 */
import type { Route } from './router.js';

export function clusterRoutes(): Route[] {
  return [
    {
      method: 'GET',
      path: '/api/cluster',
      tag: 'cluster',
      summary:
        'The cluster as this node sees it: clusterMode, nodeId, leader, epoch, isr, nodes (nodeId, advertise, http, role, inSync, ackedSeq, lagOps, lagMs), leaderSeq, streams (name, replicas, minInSync, leader, epoch, isr). A single node answers clusterMode false.',
      handler: ({ client }) => client.cluster.status(),
    },
  ];
}
