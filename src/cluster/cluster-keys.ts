/**
 * What the cluster keeps in etcd (docs/cluster.md, "What etcd holds"): the keys and the JSON
 * values under them. Values are written only by Weir nodes, but they come back over the
 * network from a store other programs can write, so every read is checked field by field
 * (`parse*` throw WeirError INTERNAL naming the key) before anything trusts it.
 *
 * | key                    | value          | written                                          |
 * | ---------------------- | -------------- | ------------------------------------------------ |
 * | `/weir/nodes/<id>`     | NodeRecord     | by the node, under its lease                     |
 * | `/weir/leader`         | LeaderRecord   | by the leader, under its lease, create-if-absent |
 * | `/weir/state`          | ClusterState   | only by txns comparing its mod revision (fenced) |
 * | `/weir/streams/<name>` | StreamRecord   | by the leader when the stream is created         |
 */
import { WeirError } from '../util/index.js';

export { CLUSTER_LEASE_TTL_S as ETCD_LEASE_TTL_S } from '../limits.js';

/** A node's addresses, as it registered them under `/weir/nodes/<nodeId>`. */
export interface NodeRecord {
  nodeId: string;
  /** HOST:PORT clients reach this node's broker on. */
  advertise: string;
  /** HOST:PORT of this node's replication port. */
  replication: string;
  /** HOST:PORT of the admin HTTP server, or null without one. */
  http: string | null;
  startedAtMs: number;
}

/** `/weir/leader`: who leads, in which epoch. Lives under the leader's lease. */
export interface LeaderRecord {
  nodeId: string;
  epoch: number;
  advertise: string;
}

/** One epoch of the history: its leader, and the op sequence number its operations start at. */
export interface EpochEntry {
  epoch: number;
  leader: string;
  startSeq: number;
}

/** `/weir/state`: the fenced cluster state. `epochs` is ordered, its last entry is `epoch`. */
export interface ClusterState {
  epoch: number;
  leader: string;
  isr: string[];
  epochs: EpochEntry[];
}

/** `/weir/streams/<name>`: a stream's replication settings, fixed at creation. */
export interface StreamRecord {
  name: string;
  replicas: number;
  minInSync: number;
}

export const KEYS = {
  nodes: '/weir/nodes/',
  leader: '/weir/leader',
  state: '/weir/state',
  streams: '/weir/streams/',
} as const;

/** The prefix every cluster key lives under (one watch covers them all). */
export const KEYS_PREFIX = '/weir/';

export function nodeKey(nodeId: string): string {
  return KEYS.nodes + nodeId;
}

export function streamKey(name: string): string {
  return KEYS.streams + name;
}

function malformed(key: string, what: string): WeirError {
  return new WeirError('INTERNAL', `etcd key ${key} holds a malformed value: ${what}`);
}

function parseObject(key: string, value: string): Record<string, unknown> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(value);
  } catch (error) {
    throw new WeirError('INTERNAL', `etcd key ${key} does not hold JSON`, { cause: error });
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw malformed(key, 'not an object');
  }
  return parsed as Record<string, unknown>;
}

function text(key: string, object: Record<string, unknown>, field: string): string {
  const value = object[field];
  if (typeof value !== 'string' || value.length === 0)
    throw malformed(key, `${field} is not a string`);
  return value;
}

function integer(key: string, object: Record<string, unknown>, field: string, min: number): number {
  const value = object[field];
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min) {
    throw malformed(key, `${field} is not an integer >= ${min}`);
  }
  return value;
}

export function parseNodeRecord(key: string, value: string): NodeRecord {
  const object = parseObject(key, value);
  const http = object['http'];
  if (http !== null && typeof http !== 'string')
    throw malformed(key, 'http is not a string or null');
  return {
    nodeId: text(key, object, 'nodeId'),
    advertise: text(key, object, 'advertise'),
    replication: text(key, object, 'replication'),
    http,
    startedAtMs: integer(key, object, 'startedAtMs', 0),
  };
}

export function parseLeaderRecord(key: string, value: string): LeaderRecord {
  const object = parseObject(key, value);
  return {
    nodeId: text(key, object, 'nodeId'),
    epoch: integer(key, object, 'epoch', 1),
    advertise: text(key, object, 'advertise'),
  };
}

export function parseClusterState(key: string, value: string): ClusterState {
  const object = parseObject(key, value);
  const isr = object['isr'];
  if (!Array.isArray(isr) || !isr.every((id) => typeof id === 'string' && id.length > 0)) {
    throw malformed(key, 'isr is not a list of node ids');
  }
  const epochs = object['epochs'];
  if (!Array.isArray(epochs)) throw malformed(key, 'epochs is not a list');
  const history: EpochEntry[] = epochs.map((entry: unknown) => {
    if (typeof entry !== 'object' || entry === null)
      throw malformed(key, 'an epoch is not an object');
    const fields = entry as Record<string, unknown>;
    return {
      epoch: integer(key, fields, 'epoch', 1),
      leader: text(key, fields, 'leader'),
      startSeq: integer(key, fields, 'startSeq', 0),
    };
  });
  const state: ClusterState = {
    epoch: integer(key, object, 'epoch', 1),
    leader: text(key, object, 'leader'),
    isr: isr as string[],
    epochs: history,
  };
  for (let index = 1; index < history.length; index++) {
    if (history[index]!.epoch <= history[index - 1]!.epoch)
      throw malformed(key, 'epochs out of order');
  }
  if (history.length > 0 && history[history.length - 1]!.epoch !== state.epoch) {
    throw malformed(key, 'the last epoch of the history is not the current one');
  }
  return state;
}

export function parseStreamRecord(key: string, value: string): StreamRecord {
  const object = parseObject(key, value);
  const replicas = integer(key, object, 'replicas', 1);
  const minInSync = integer(key, object, 'minInSync', 1);
  if (minInSync > replicas) throw malformed(key, 'minInSync > replicas');
  return { name: text(key, object, 'name'), replicas, minInSync };
}
