/**
 * Helpers of the replication tests (not a test file): a leader (ReplicatedFileSystem and its
 * ReplicationServer) in a temporary directory, replicas, a TCP proxy that can hold or cut a
 * replica's connection, bounded waits and a comparison of two directory trees.
 */
import * as fs from 'node:fs/promises';
import * as net from 'node:net';
import * as path from 'node:path';
import { nodeFileSystem } from '../../src/storage/index.js';
import { ReplicatedFileSystem } from '../../src/cluster/replicated-file-system.js';
import { ReplicationServer } from '../../src/cluster/replication-server.js';
import { Replica } from '../../src/cluster/replica.js';
import { neverShipped } from '../../src/cluster/replication-protocol.js';

/** Polls `predicate` every 10 ms for at most `timeoutMs`; throws naming `what` if it never holds. */
export async function until(
  predicate: () => boolean,
  what: string,
  timeoutMs = 10_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** Every file under `root` (never-shipped names aside) as path → bytes, and every directory. */
export async function tree(root: string): Promise<Map<string, string>> {
  const result = new Map<string, string>();
  async function walk(relative: string): Promise<void> {
    const entries = await fs.readdir(path.join(root, relative), { withFileTypes: true });
    for (const entry of entries) {
      const child = relative === '' ? entry.name : `${relative}/${entry.name}`;
      if (neverShipped(child)) continue;
      if (entry.isDirectory()) {
        result.set(child + '/', 'directory');
        await walk(child);
      } else {
        result.set(child, (await fs.readFile(path.join(root, child))).toString('hex'));
      }
    }
  }
  await walk('');
  return result;
}

export interface Leader {
  readonly root: string;
  readonly fileSystem: ReplicatedFileSystem;
  readonly server: ReplicationServer;
  readonly address: string;
  readonly errors: unknown[];
  snapshots: number;
}

export async function startLeader(options: {
  root: string;
  isr?: string[];
  secret?: string;
  ringBytesMax?: number;
  epoch?: number;
}): Promise<Leader> {
  const epoch = options.epoch ?? 1;
  const fileSystem = new ReplicatedFileSystem({
    inner: nodeFileSystem,
    root: options.root,
    nodeId: 'leader',
    epoch,
    firstSeq: 1,
    isr: new Set(options.isr ?? []),
    ...(options.ringBytesMax === undefined ? {} : { ringBytesMax: options.ringBytesMax }),
  });
  await fileSystem.mkdir(options.root);
  const server = await ReplicationServer.listen({
    host: '127.0.0.1',
    port: 0,
    fileSystem,
    epoch,
    ...(options.secret === undefined ? {} : { secret: options.secret }),
  });
  const { host, port } = server.address();
  const leader: Leader = {
    root: options.root,
    fileSystem,
    server,
    address: `${host}:${port}`,
    errors: [],
    snapshots: 0,
  };
  server.onError = (error) => leader.errors.push(error);
  // Counts the snapshots the server asks for (continue vs snapshot is what the tests check).
  const snapshot = fileSystem.snapshot.bind(fileSystem);
  fileSystem.snapshot = (send) => {
    leader.snapshots++;
    return snapshot(send);
  };
  return leader;
}

export function startReplica(options: { root: string; nodeId: string; secret?: string }): {
  replica: Replica;
  errors: unknown[];
} {
  const replica = new Replica({
    inner: nodeFileSystem,
    root: options.root,
    nodeId: options.nodeId,
    ...(options.secret === undefined ? {} : { secret: options.secret }),
  });
  const errors: unknown[] = [];
  replica.onError = (error) => errors.push(error);
  return { replica, errors };
}

/** A TCP proxy to `target`: `hold()` stops passing the leader's bytes on, `cut()` drops every connection. */
export class Proxy {
  readonly #server: net.Server;
  readonly #pairs = new Set<[net.Socket, net.Socket]>();
  #held = false;

  private constructor(server: net.Server) {
    this.#server = server;
  }

  static async start(target: string): Promise<Proxy> {
    const index = target.lastIndexOf(':');
    const host = target.slice(0, index);
    const port = Number(target.slice(index + 1));
    const server = net.createServer();
    const proxy = new Proxy(server);
    server.on('connection', (downstream) => {
      const upstream = net.connect({ host, port });
      const pair: [net.Socket, net.Socket] = [downstream, upstream];
      proxy.#pairs.add(pair);
      downstream.pipe(upstream);
      upstream.pipe(downstream);
      if (proxy.#held) upstream.pause();
      const end = (): void => {
        downstream.destroy();
        upstream.destroy();
        proxy.#pairs.delete(pair);
      };
      downstream.on('error', end).on('close', end);
      upstream.on('error', end).on('close', end);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return proxy;
  }

  get address(): string {
    const address = this.#server.address() as net.AddressInfo;
    return `127.0.0.1:${address.port}`;
  }

  hold(): void {
    this.#held = true;
    for (const [, upstream] of this.#pairs) {
      upstream.unpipe();
      upstream.pause();
    }
  }

  release(): void {
    this.#held = false;
    for (const [downstream, upstream] of this.#pairs) {
      upstream.pipe(downstream);
      upstream.resume();
    }
  }

  cut(): void {
    for (const [downstream, upstream] of this.#pairs) {
      downstream.destroy();
      upstream.destroy();
    }
    this.#pairs.clear();
  }

  async close(): Promise<void> {
    this.cut();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }
}
