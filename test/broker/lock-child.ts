/**
 * Child process of data-dir-lock-takeover.test.ts (not a test file): opens a broker on a data
 * directory when it reads `go` on stdin (at once with `now`), prints `won` or `refused <code>`,
 * then holds the broker until stdin ends and closes it. It exits by itself after LIFETIME_MS so
 * that an orphan cannot run on.
 *
 *   node lock-child.js <dataDir> [now]
 */
import { createInterface } from 'node:readline';
import { Broker } from '../../src/broker/index.js';

const LIFETIME_MS = 20_000;
const dataDir = process.argv[2]!;
const immediately = process.argv[3] === 'now';
setTimeout(() => process.exit(3), LIFETIME_MS).unref();

let broker: Broker | null = null;
async function attempt(): Promise<void> {
  try {
    broker = await Broker.open({ dataDir });
    process.stdout.write('won\n');
  } catch (error) {
    process.stdout.write(`refused ${String((error as { code?: unknown }).code)}\n`);
  }
}

const lines = createInterface({ input: process.stdin });
let started = false;
if (immediately) {
  started = true;
  await attempt();
} else {
  process.stdout.write('ready\n');
}
for await (const line of lines) {
  if (line === 'go' && !started) {
    started = true;
    await attempt();
  }
}
await (broker as Broker | null)?.close();
process.exit(0);
