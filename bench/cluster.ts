/**
 * `npm run bench:cluster`: the cluster against the single node on this machine (issue 15).
 *
 * - W1 (the comparison harness's durable work queue, run-one.ts, same client and settings)
 *   against a single `weir serve` and against a 3-node cluster on etcd whose stream has
 *   replicas 3 (every confirm fsynced on the 3 nodes), the two alternated run by run; medians.
 * - With `--kills K`: K kill -9s of the leader under publish + ack load, the failover time of
 *   each (kill to the first confirm of a publish started after it), its median and max, and
 *   the guarantees counted (confirmed lost, acked redelivered).
 *
 *   node dist/bench/cluster.js [--messages 50000] [--runs 3] [--kills 0] [--no-w1]
 *
 * All the nodes run on this one machine (2 cores), so the cluster's figure is a floor: its
 * three nodes share the cores and the disk the single node has alone.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { connect } from '../src/index.js';
import { startCluster } from '../test/cluster/cluster-harness.js';
import { killLeaders, waitForInSync } from '../test/cluster/cluster-kills.js';
import { startLoad } from '../test/cluster/cluster-load.js';
import { startServe, servedUrl } from '../test/cli/weir-process.js';
import { median } from './bench-kit.js';
import { RESULT_PREFIX } from './compare/report.js';

const RUN_ONE = fileURLToPath(new URL('./compare/run-one.js', import.meta.url));

const { values } = parseArgs({
  options: {
    messages: { type: 'string', default: '50000' },
    runs: { type: 'string', default: '3' },
    kills: { type: 'string', default: '0' },
    'no-w1': { type: 'boolean', default: false },
  },
});
function count(name: 'messages' | 'runs' | 'kills', least: number): number {
  const value = Number(values[name]);
  if (!Number.isInteger(value) || value < least) {
    console.error(`--${name} must be an integer >= ${least}`);
    process.exit(2);
  }
  return value;
}
const flags = { messages: count('messages', 1), runs: count('runs', 1) };
const kills = count('kills', 0);
const runW1 = !values['no-w1'];

interface W1Result {
  readonly throughput: number;
  readonly confirmP50: number;
  readonly confirmP99: number;
}

function runOne(url: string, run: number): Promise<W1Result> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      [
        RUN_ONE,
        '--broker',
        'weir',
        '--workload',
        'w1',
        '--messages',
        String(flags.messages),
        '--run',
        String(run),
        '--weir-url',
        url,
      ],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    let output = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
    child.on('close', () => {
      const line = output.split('\n').find((entry) => entry.startsWith(RESULT_PREFIX));
      if (line === undefined) return reject(new Error(`no result: ${output}`));
      const result = JSON.parse(line.slice(RESULT_PREFIX.length)) as Record<string, unknown>;
      if (typeof result['error'] === 'string') return reject(new Error(result['error']));
      const figures = (result['figures'] ?? {}) as Record<string, number | null>;
      resolve({
        throughput: Number(figures['msgsPerSecond']),
        confirmP50: Number(figures['confirmP50Ms']),
        confirmP99: Number(figures['confirmP99Ms']),
      });
    });
  });
}

async function singleNode(run: number): Promise<W1Result> {
  const directory = await mkdtemp(join(tmpdir(), 'weir-bench-single-'));
  const serve = startServe(['--port', '0', '--http-port', '0', '--data-dir', directory]);
  try {
    await serve.waitFor(/listening on/);
    return await runOne(servedUrl(serve), run);
  } finally {
    await serve.stop();
    await rm(directory, { recursive: true, force: true });
  }
}

async function replicated(run: number): Promise<W1Result> {
  const cluster = await startCluster({ nodes: 3 });
  if (cluster === null) throw new Error('etcd is not installed (apt-get install etcd-server)');
  try {
    await cluster.waitForLeader();
    return await runOne(cluster.url, run);
  } finally {
    await cluster.stop();
  }
}

function row(name: string, results: readonly W1Result[]): string {
  const m = (pick: (result: W1Result) => number) => median(results.map(pick));
  return `| ${name} | ${Math.round(m((r) => r.throughput)).toLocaleString('en-US')} | ${m((r) => r.confirmP50).toFixed(1)} / ${m((r) => r.confirmP99).toFixed(1)} | ${results.map((r) => Math.round(r.throughput)).join(', ')} |`;
}

if (runW1) {
  const single: W1Result[] = [];
  const cluster: W1Result[] = [];
  for (let run = 1; run <= flags.runs; run += 1) {
    single.push(await singleNode(run));
    cluster.push(await replicated(run));
    console.error(
      `run ${run}: single ${Math.round(single.at(-1)!.throughput)}/s, replicated ${Math.round(cluster.at(-1)!.throughput)}/s`,
    );
  }
  const ratio = median(cluster.map((r) => r.throughput)) / median(single.map((r) => r.throughput));
  console.log(
    `W1, ${flags.messages.toLocaleString('en-US')} × 1 KiB, median of ${flags.runs} runs (alternated)\n`,
  );
  console.log('| setup | W1 msgs/s | confirm p50 / p99 ms | runs (msgs/s) |');
  console.log('| --- | ---: | ---: | --- |');
  console.log(row('single node', single));
  console.log(row('3-node cluster, replicas 3', cluster));
  console.log(`\nreplicated / single: ${ratio.toFixed(2)}×`);
}

if (kills > 0) {
  const cluster = await startCluster({ nodes: 3 });
  if (cluster === null) throw new Error('etcd is not installed (apt-get install etcd-server)');
  const mq = await connect(cluster.url);
  const failovers: number[] = [];
  try {
    await mq.streams.create('orders', { subjects: ['orders.>'], replicas: 3 });
    await waitForInSync(mq, 3, 60_000);
    const load = startLoad(mq, { stream: 'orders', subject: 'orders.created', publishers: 4 });
    try {
      const rounds = await killLeaders(cluster, mq, load, {
        kills,
        timeoutMs: 60_000,
        report: (round, failover) => console.error(`kill ${round}: ${failover.ms} ms`),
      });
      failovers.push(...rounds.map((failover) => failover.ms));
    } finally {
      await load.stop();
    }
    const sorted = [...failovers].sort((a, b) => a - b);
    console.log(
      `\nfailover over ${kills} kill -9s of the leader: median ${median(sorted)} ms, max ${sorted.at(-1)} ms`,
    );
    console.log(
      `confirmed ${load.confirmed.size}, acked ${load.acked.size}, acked redelivered ${load.ackedRedelivered.length}`,
    );
  } finally {
    await mq.close();
    await cluster.stop();
  }
}
