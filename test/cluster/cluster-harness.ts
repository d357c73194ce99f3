/**
 * A cluster of real `weir serve --etcd` processes for the cluster tests: an etcd of its own
 * (test/helpers/etcd.ts), N nodes with data directories under one temporary directory, and
 * what the tests do to them: find the leader, kill -9 a node, start it again, stop all.
 *
 * Optionally each node runs in a network namespace of its own (netns.ts), so that a test
 * can cut one off from etcd and the others with nft drops.
 */
import * as path from 'node:path';
import { spawn } from 'node:child_process';
import {
  createTemporaryDirectory,
  type TemporaryDirectory,
} from '../helpers/temporary-directory.js';
import { startEtcd, type TestEtcd } from '../helpers/etcd.js';
import type { ClusterStatus } from '../../src/index.js';
import { freePort } from '../../src/server/index.js';
import { until } from './cluster-kills.js';
import { MAIN, cleanEnvironment, followServe, type ServeProcess } from '../cli/weir-process.js';
import type { NamespaceNetwork } from './netns.js';

/** A node starts (joins, takes its role) within this. */
export const NODE_START_MS = 20_000;
/** A new leader is elected and serving within this after the old one is gone. */
export const ELECTION_MS = 20_000;

export const CLUSTER_SECRET = 'cluster-test-secret';

export interface ClusterNodeProcess {
  readonly nodeId: string;
  readonly dataDir: string;
  /** The node's client address (HOST:PORT), fixed for the node's life (restarts keep it). */
  readonly advertise: string;
  readonly httpPort: number;
  readonly replicationPort: number;
  process: ServeProcess;
}

export interface TestCluster {
  readonly etcd: TestEtcd;
  readonly nodes: ClusterNodeProcess[];
  /** weir://a,b,c of every node. */
  readonly url: string;
  readonly network: NamespaceNetwork | null;
  /** The node that logged cluster_leader last and still runs, waiting for one (bounded). */
  waitForLeader(options?: { exclude?: string; timeoutMs?: number }): Promise<ClusterNodeProcess>;
  /** SIGKILL: no close, no resign; its lease runs out. */
  kill(node: ClusterNodeProcess): Promise<void>;
  /** Starts a killed or stopped node again on the same data directory and ports. */
  restart(node: ClusterNodeProcess): Promise<void>;
  stop(): Promise<void>;
}

export interface StartClusterOptions {
  readonly nodes: number;
  /** Run each node in a namespace of this network (null/absent: all on loopback). */
  readonly network?: NamespaceNetwork;
  readonly extraArgs?: readonly string[];
}

function spawnNode(
  node: {
    nodeId: string;
    dataDir: string;
    advertise: string;
    httpPort: number;
    replicationPort: number;
  },
  etcdEndpoint: string,
  network: NamespaceNetwork | null,
  extraArgs: readonly string[],
): ServeProcess {
  const colon = node.advertise.lastIndexOf(':');
  const host = node.advertise.slice(0, colon);
  const port = Number(node.advertise.slice(colon + 1));
  const args = [
    MAIN,
    'serve',
    '--node-id',
    node.nodeId,
    '--etcd',
    etcdEndpoint,
    '--advertise',
    node.advertise,
    '--host',
    host,
    '--port',
    String(port),
    '--http-port',
    String(node.httpPort),
    '--replication-port',
    String(node.replicationPort),
    '--data-dir',
    node.dataDir,
    '--log-level',
    'info',
    ...extraArgs,
  ];
  const { command, args: fullArgs } =
    network === null
      ? { command: process.execPath, args }
      : network.commandIn(node.nodeId, [process.execPath, ...args]);
  const child = spawn(command, fullArgs, {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: cleanEnvironment({ WEIR_CLUSTER_SECRET: CLUSTER_SECRET }),
  });
  return followServe(child, NODE_START_MS);
}

/** A node given SIGTERM that has not exited within this gets SIGKILL. */
const STOP_MS_MAX = 15_000;

/** SIGTERM, then SIGKILL if it is still there after STOP_MS_MAX: a test never leaves a node behind. */
export async function stopNode(node: ClusterNodeProcess): Promise<void> {
  if (!running(node)) return;
  const timer = setTimeout(() => node.process.child.kill('SIGKILL'), STOP_MS_MAX);
  await node.process.stop();
  clearTimeout(timer);
}

function running(node: ClusterNodeProcess): boolean {
  return node.process.child.exitCode === null && node.process.child.signalCode === null;
}

/** The last role event a node logged: 'leader', 'follower', 'fenced' or null. */
export function lastRole(node: ClusterNodeProcess): { role: string; epoch: number } | null {
  let last: { role: string; epoch: number } | null = null;
  for (const line of node.process.logLines()) {
    if (line['event'] === 'cluster_leader') last = { role: 'leader', epoch: Number(line['epoch']) };
    else if (line['event'] === 'cluster_follower')
      last = { role: 'follower', epoch: Number(line['epoch']) };
    else if (line['event'] === 'cluster_fenced')
      last = { role: 'fenced', epoch: Number(line['epoch']) };
  }
  return last;
}

export async function startCluster(options: StartClusterOptions): Promise<TestCluster | null> {
  const network = options.network ?? null;
  const etcd = await startEtcd(network === null ? {} : { host: network.hubAddress });
  if (etcd === null) return null;
  let directory: TemporaryDirectory | null = null;
  const nodes: ClusterNodeProcess[] = [];
  const extraArgs = options.extraArgs ?? [];
  const stop = async () => {
    await Promise.all(nodes.map((node) => stopNode(node)));
    await etcd.stop();
    await directory?.remove();
  };
  try {
    directory = await createTemporaryDirectory('weir-cluster-');
    for (let index = 0; index < options.nodes; index += 1) {
      const nodeId = `n${index + 1}`;
      const host = network === null ? '127.0.0.1' : network.addressOf(nodeId);
      // In a namespace of its own every port is free; on loopback, probe for them.
      const probeHost = network === null ? host : '127.0.0.1';
      const spec = {
        nodeId,
        dataDir: path.join(directory.path, nodeId),
        advertise: `${host}:${await freePort(probeHost)}`,
        httpPort: await freePort(probeHost),
        replicationPort: await freePort(probeHost),
      };
      nodes.push({ ...spec, process: spawnNode(spec, etcd.endpoint, network, extraArgs) });
    }
    await Promise.all(
      nodes.map((node) => node.process.waitFor(/"event":"cluster_(leader|follower)"/)),
    );
  } catch (error) {
    await stop();
    throw error;
  }
  const cluster: TestCluster = {
    etcd,
    nodes,
    network,
    url: `weir://${nodes.map((node) => node.advertise).join(',')}`,
    async waitForLeader({ exclude, timeoutMs = ELECTION_MS } = {}) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        let best: { node: ClusterNodeProcess; epoch: number } | null = null;
        for (const node of nodes) {
          if (node.nodeId === exclude || !running(node)) continue;
          const role = lastRole(node);
          if (role?.role === 'leader' && (best === null || role.epoch > best.epoch))
            best = { node, epoch: role.epoch };
        }
        if (best !== null) return best.node;
        if (Date.now() > deadline) throw new Error(`no leader within ${timeoutMs} ms`);
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    },
    async kill(node) {
      node.process.child.kill('SIGKILL');
      await node.process.exited;
    },
    async restart(node) {
      if (running(node)) throw new Error(`${node.nodeId} still runs`);
      node.process = spawnNode(node, etcd.endpoint, network, extraArgs);
      await node.process.waitFor(/"event":"cluster_(leader|follower)"/);
    },
    stop,
  };
  try {
    // Logged roles are not enough: the leader learns of the others through an etcd watch, and
    // a stream created before it has (replicas 3) is refused. Wait for its view to be whole.
    const leader = await cluster.waitForLeader();
    const host = leader.advertise.slice(0, leader.advertise.lastIndexOf(':'));
    await until('every node in the leader’s view and in sync', NODE_START_MS, async () => {
      const response = await fetch(`http://${host}:${leader.httpPort}/api/cluster`);
      if (!response.ok) return null;
      const status = (await response.json()) as ClusterStatus;
      const online = status.nodes.filter((node) => node.role !== 'offline').length;
      return status.isr.length === nodes.length && online === nodes.length ? true : null;
    });
  } catch (error) {
    await stop();
    throw error;
  }
  return cluster;
}
