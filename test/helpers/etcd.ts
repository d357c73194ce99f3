/**
 * A throwaway single-member etcd for the cluster tests: /usr/bin/etcd (or `etcd` on PATH) on
 * two free loopback ports, its data in a fresh temp dir. `startEtcd()` resolves null when etcd
 * is not installed, so a test can `t.skip('etcd is not installed (apt-get install etcd-server)')`.
 *
 * `kill()` SIGKILLs it and keeps the data; `restart()` starts it again on the same ports and
 * data (after a kill, or kills first); `pause()`/`resume()` SIGSTOP/SIGCONT it (etcd alive
 * but silent, as when cut off); `stop()` kills it and removes the data dir (idempotent).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import * as fs from 'node:fs/promises';
import * as http from 'node:http';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';

export interface TestEtcd {
  endpoint: string;
  stop(): Promise<void>;
  kill(): void;
  restart(): Promise<void>;
  pause(): void;
  resume(): void;
}

export const ETCD_MISSING = 'etcd is not installed (apt-get install etcd-server)';

/** How long etcd may take to answer its first request after a start. */
const START_TIMEOUT_MS = 10_000;
const START_POLL_MS = 25;
/** Attempts at a start when a chosen port was taken in the meantime. */
const START_ATTEMPTS_MAX = 3;

function findEtcd(): string | null {
  const directories = ['/usr/bin', ...(process.env['PATH'] ?? '').split(path.delimiter)];
  for (const directory of directories) {
    if (directory.length === 0) continue;
    const candidate = path.join(directory, 'etcd');
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  return null;
}

async function freePorts(count: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from(
      { length: count },
      () =>
        new Promise<net.Server>((resolve, reject) => {
          const server = net.createServer();
          server.once('error', reject);
          server.listen(0, '127.0.0.1', () => resolve(server));
        }),
    ),
  );
  const ports = servers.map((server) => (server.address() as net.AddressInfo).port);
  await Promise.all(servers.map((server) => new Promise((resolve) => server.close(resolve))));
  return ports;
}

/** One POST /v3/kv/range; true when etcd answered 200. */
function answers(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const request = http.request(
      { host, port, method: 'POST', path: '/v3/kv/range', agent: false, timeout: 500 },
      (response) => {
        response.resume();
        response.on('end', () => resolve(response.statusCode === 200));
      },
    );
    request.on('error', () => resolve(false));
    request.on('timeout', () => request.destroy());
    request.end(JSON.stringify({ key: Buffer.from('/').toString('base64') }));
  });
}

/** `host`: the address etcd serves clients on (default loopback; the partition test's bridge). */
export async function startEtcd(options: { host?: string } = {}): Promise<TestEtcd | null> {
  const host = options.host ?? '127.0.0.1';
  const binary = findEtcd();
  if (binary === null) return null;
  const dataDir = await fs.mkdtemp(path.join(os.tmpdir(), 'weir-etcd-'));
  let child: ChildProcess | null = null;
  let clientPort = 0;
  let peerPort = 0;
  let stopped = false;

  const launch = async (): Promise<void> => {
    const clientUrl = `http://${host}:${clientPort}`;
    const peerUrl = `http://127.0.0.1:${peerPort}`;
    const process_ = spawn(
      binary,
      [
        '--name=weir-test',
        `--data-dir=${path.join(dataDir, 'data')}`,
        `--listen-client-urls=${clientUrl}`,
        `--advertise-client-urls=${clientUrl}`,
        `--listen-peer-urls=${peerUrl}`,
        `--initial-advertise-peer-urls=${peerUrl}`,
        `--initial-cluster=weir-test=${peerUrl}`,
        '--initial-cluster-state=new',
        // A single member elects itself after one election timeout: keep it short.
        '--heartbeat-interval=50',
        '--election-timeout=250',
        '--logger=zap',
        '--log-level=error',
      ],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
    child = process_;
    let stderr = '';
    process_.stderr?.setEncoding('utf8');
    process_.stderr?.on('data', (chunk: string) => {
      if (stderr.length < 8192) stderr += chunk;
    });
    let exited = false;
    process_.once('exit', () => {
      exited = true;
    });
    const deadline = Date.now() + START_TIMEOUT_MS;
    while (Date.now() < deadline) {
      if (exited) throw new Error(`etcd exited at start: ${stderr.slice(0, 2000)}`);
      if (await answers(host, clientPort)) return;
      await new Promise((resolve) => setTimeout(resolve, START_POLL_MS));
    }
    process_.kill('SIGKILL');
    throw new Error(`etcd did not answer within ${START_TIMEOUT_MS} ms: ${stderr.slice(0, 2000)}`);
  };

  const killNow = async (): Promise<void> => {
    const running = child;
    child = null;
    if (running === null || running.exitCode !== null || running.signalCode !== null) return;
    const exited = new Promise((resolve) => running.once('exit', resolve));
    running.kill('SIGCONT'); // a paused etcd still dies on SIGKILL, but be plain about it
    running.kill('SIGKILL');
    await exited;
  };

  for (let attempt = 1; ; attempt++) {
    [clientPort, peerPort] = (await freePorts(2)) as [number, number];
    try {
      await launch();
      break;
    } catch (error) {
      await killNow();
      if (attempt >= START_ATTEMPTS_MAX) {
        await fs.rm(dataDir, { recursive: true, force: true });
        throw error;
      }
      await fs.rm(path.join(dataDir, 'data'), { recursive: true, force: true });
    }
  }

  return {
    endpoint: `http://${host}:${clientPort}`,
    kill: () => {
      const running = child;
      if (running !== null && running.exitCode === null) running.kill('SIGKILL');
    },
    pause: () => {
      child?.kill('SIGSTOP');
    },
    resume: () => {
      child?.kill('SIGCONT');
    },
    restart: async () => {
      if (stopped) throw new Error('etcd was stopped');
      await killNow();
      await launch();
    },
    stop: async () => {
      if (stopped) return;
      stopped = true;
      await killNow();
      await fs.rm(dataDir, { recursive: true, force: true, maxRetries: 3 });
    },
  };
}

/** Polls `condition` every few ms until it holds; fails after `timeoutMs` saying `what`. */
export async function waitFor(
  condition: () => boolean | Promise<boolean>,
  what: string,
  timeoutMs = 5_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline)
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
