/**
 * What idle connections cost the server: heap and buffer memory held by N connections that
 * said HELLO and then nothing, and what is still held after they close (issue 11: each used
 * to hold a 64 KiB output slab, and 3,000 of them ~285 MB).
 *
 *   node --expose-gc dist/bench/idle-connections.js [N]     (default 1000)
 *
 * Both ends of every socket live in this process, so the per-connection figures count both.
 */
import { Broker } from '../src/broker/index.js';
import { WeirServer, silentLogger } from '../src/server/index.js';
import { RawClient } from '../test/helpers/raw-client.js';

const CONNECTIONS_DEFAULT = 1000;
const CONNECTIONS_MAX = 10_000;
const CLOSE_WAIT_STEPS_MAX = 500;

const count = Number(process.argv[2] ?? CONNECTIONS_DEFAULT);
if (!Number.isInteger(count) || count < 1 || count > CONNECTIONS_MAX) {
  console.error(`N must be an integer in [1, ${CONNECTIONS_MAX}]`);
  process.exit(2);
}
const collect = (globalThis as { gc?: () => void }).gc;
if (!collect) {
  console.error('run with node --expose-gc');
  process.exit(2);
}

const mebibytes = (bytes: number): string => (bytes / 1048576).toFixed(1);

async function settle(): Promise<void> {
  for (let round = 0; round < 4; round++) {
    collect!();
    await new Promise((resolve) => setImmediate(resolve));
  }
}

function report(label: string): NodeJS.MemoryUsage {
  const usage = process.memoryUsage();
  console.log(
    `${label}: heapUsed ${mebibytes(usage.heapUsed)} MiB, arrayBuffers ${mebibytes(usage.arrayBuffers)} MiB, rss ${mebibytes(usage.rss)} MiB`,
  );
  return usage;
}

const broker = await Broker.open({ storage: 'memory' });
const server = await WeirServer.listen({
  connectClient: () => broker.connect(),
  port: 0,
  logger: silentLogger,
});
const port = server.address().port;
await settle();
const baseline = report('baseline');
const clients: RawClient[] = [];
for (let index = 0; index < count; index++) {
  const client = await RawClient.connect(port);
  await client.hello(`idle-${index}`);
  clients.push(client);
}
await settle();
const open = report(`${count} idle connections`);
console.log(
  `per connection: heap ${((open.heapUsed - baseline.heapUsed) / count / 1024).toFixed(1)} KiB, ` +
    `arrayBuffers ${((open.arrayBuffers - baseline.arrayBuffers) / count / 1024).toFixed(1)} KiB`,
);
for (const client of clients) client.close();
clients.length = 0;
for (let step = 0; step < CLOSE_WAIT_STEPS_MAX && server.connectionCount > 0; step++)
  await new Promise((resolve) => setTimeout(resolve, 10));
await settle();
const closed = report(`after close (server connections ${server.connectionCount})`);
console.log(
  `held after close: heap ${mebibytes(closed.heapUsed - baseline.heapUsed)} MiB, ` +
    `arrayBuffers ${mebibytes(closed.arrayBuffers - baseline.arrayBuffers)} MiB`,
);
await server.close();
await broker.close();
