/**
 * One run of one workload against one broker, in its own process (so no run inherits another's
 * heap, sockets or JIT state): `main.ts` starts it and reads the one line it prints,
 * `RESULT {json}`. Also usable by hand:
 *
 *   node dist/bench/compare/run-one.js --broker nats --workload w1 --messages 20000 [--size 1024] ...
 *
 * A hard timer ends the process (with an error result) if the run outlives --timeout-ms.
 */
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { availableParallelism } from 'node:os';
import { dirname, join } from 'node:path';
import { parseArgs } from 'node:util';
import {
  BROKERS,
  isWeirBroker,
  PEER_PORTS,
  type AdapterOptions,
  type BrokerAdapter,
  type BrokerId,
} from './adapter.js';
import { openNats } from './adapters/nats.js';
import { openRabbitmq, openWeirAmqp } from './adapters/rabbitmq.js';
import { openRedis } from './adapters/redis.js';
import { openWeir } from './adapters/weir.js';
import { pidListeningOn } from './process-stats.js';
import { RESULT_PREFIX } from './report.js';
import { WORKLOADS, runWorkload, type WorkloadId } from './workloads.js';

/** Closing the clients after a run may take at most this long. */
const CLOSE_MS_MAX = 5000;
/** How far up from a package's entry point its package.json may be. */
const PACKAGE_DEPTH_MAX = 5;
/** The hard timer fires this long after the run's own deadline. */
const HARD_TIMEOUT_GRACE_MS = 15_000;

const { values } = parseArgs({
  options: {
    broker: { type: 'string' },
    workload: { type: 'string' },
    run: { type: 'string', default: '1' },
    messages: { type: 'string', default: '10000' },
    size: { type: 'string', default: '1024' },
    window: { type: 'string', default: '1000' },
    prefetch: { type: 'string', default: '1000' },
    batch: { type: 'string', default: '1000' },
    subscribers: { type: 'string', default: '4' },
    rate: { type: 'string', default: '2000' },
    duration: { type: 'string', default: '10' },
    'timeout-ms': { type: 'string', default: '300000' },
    'weir-url': { type: 'string', default: 'weir://127.0.0.1:7420' },
    'weir-amqp-url': { type: 'string', default: 'amqp://guest:guest@127.0.0.1:5673' },
    'weir-version': { type: 'string', default: '?' },
    'broker-pid': { type: 'string' },
  },
});

const broker = values.broker as BrokerId;
const workload = values.workload as WorkloadId;
if (!BROKERS.includes(broker) || !WORKLOADS.includes(workload)) {
  console.error(
    `usage: run-one --broker ${BROKERS.join('|')} --workload ${WORKLOADS.join('|')} ...`,
  );
  process.exit(2);
}

const positive = (name: string, text: string | undefined): number => {
  const value = Number(text);
  if (!(Number.isFinite(value) && value > 0)) {
    console.error(`--${name} must be a positive number, not ${text}`);
    process.exit(2);
  }
  return value;
};

const timeoutMs = positive('timeout-ms', values['timeout-ms']);
const parameters = {
  messages: positive('messages', values.messages),
  size: positive('size', values.size),
  window: positive('window', values.window),
  subscribers: positive('subscribers', values.subscribers),
  ratePerSecond: positive('rate', values.rate),
  durationSeconds: positive('duration', values.duration),
};
const adapterOptions: AdapterOptions = {
  window: parameters.window,
  prefetch: positive('prefetch', values.prefetch),
  batch: positive('batch', values.batch),
  weirUrl: values['weir-url'],
  weirAmqpUrl: values['weir-amqp-url'],
};
const run = positive('run', values.run);

function clientVersion(name: string): string {
  // Some packages (amqplib) do not export their package.json: read it from where the
  // package's entry point resolves.
  try {
    const require = createRequire(import.meta.url);
    let directory = dirname(require.resolve(name));
    for (let depth = 0; depth < PACKAGE_DEPTH_MAX; depth++) {
      const file = join(directory, 'package.json');
      if (existsSync(file)) {
        const manifest = JSON.parse(readFileSync(file, 'utf8')) as {
          name?: string;
          version?: string;
        };
        if (manifest.name === name && manifest.version) return manifest.version;
      }
      directory = dirname(directory);
    }
  } catch {
    // not installed
  }
  return '?';
}

function brokerPid(): number | null {
  if (values['broker-pid']) return Number(values['broker-pid']);
  return isWeirBroker(broker) ? null : pidListeningOn(PEER_PORTS[broker]);
}

function openAdapter(): Promise<BrokerAdapter> {
  switch (broker) {
    case 'weir':
      return openWeir(adapterOptions, values['weir-version']);
    case 'weir-amqp':
      return openWeirAmqp(adapterOptions, clientVersion('amqplib'));
    case 'rabbitmq':
      return openRabbitmq(adapterOptions, clientVersion('amqplib'));
    case 'nats':
      return openNats(adapterOptions, clientVersion('nats'));
    case 'redis':
      return openRedis(adapterOptions, clientVersion('ioredis'));
  }
}

function emit(result: Record<string, unknown>): void {
  process.stdout.write(`${RESULT_PREFIX}${JSON.stringify(result)}\n`);
}

const base = {
  broker,
  workload,
  run,
  messages:
    workload === 'w3'
      ? Math.round(parameters.ratePerSecond * parameters.durationSeconds)
      : parameters.messages,
  size: parameters.size,
  node: process.version,
};

const hardTimer = setTimeout(() => {
  emit({ ...base, error: `hard timeout after ${timeoutMs + HARD_TIMEOUT_GRACE_MS} ms` });
  process.exit(3);
}, timeoutMs + HARD_TIMEOUT_GRACE_MS);
hardTimer.unref();

let adapter: BrokerAdapter | null = null;
let exitCode = 0;
try {
  adapter = await openAdapter();
  const pid = brokerPid();
  const result = await runWorkload(workload, adapter, parameters, {
    brokerPid: pid,
    cores: availableParallelism(),
    deadline: performance.now() + timeoutMs,
  });
  emit({
    ...base,
    brokerPid: pid,
    serverVersion: adapter.description.serverVersion,
    client: adapter.description.client,
    durability: adapter.description.durability,
    settings: adapter.description.settings,
    ...result,
  });
} catch (error) {
  exitCode = 1;
  emit({ ...base, error: error instanceof Error ? (error.stack ?? error.message) : String(error) });
} finally {
  if (adapter) {
    const closing = adapter;
    await Promise.race([
      closing.close().catch(() => undefined),
      new Promise((resolve) => setTimeout(resolve, CLOSE_MS_MAX).unref()),
    ]);
  }
}
process.exit(exitCode);
