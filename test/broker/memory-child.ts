/**
 * Child process of embedded.memory.test.ts (not a test file itself): builds a backlog of
 * 1,000,000 un-consumed 1 KiB messages under 3 subscriptions, each with a consumer holding
 * a full in-flight window, reopens the broker on it, and prints its own RSS figures as one
 * JSON line. Run in a child so that nothing else in the test process counts against it.
 *
 *   node memory-child.js <parent directory> [messages]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import * as path from 'node:path';
import { Broker } from '../../src/broker/index.js';
import type { Client } from '../../src/protocol/index.js';

const MiB = 1024 * 1024;
const parent = process.argv[2]!;
const messages = Number(process.argv[3] ?? 1_000_000);
const dataDir = mkdtempSync(path.join(parent, 'weir-memory-'));
let peakRss = 0;
const sample = (): void => {
  peakRss = Math.max(peakRss, process.memoryUsage.rss());
};
const sampler = setInterval(sample, 50);

async function holdWindows(client: Client): Promise<number> {
  let held = 0;
  for (const name of ['a', 'b', 'c']) {
    const subscription = await client.subscribe('backlog', {
      subscription: name,
      maxInFlight: 1000,
    });
    for (let index = 0; index < 1000; index++) {
      const message = await subscription.receive({ timeoutMs: 10_000 });
      if (!message) throw new Error(`subscription ${name}: only ${index} messages`);
      held++;
    }
  }
  return held;
}

try {
  let broker = await Broker.open({ dataDir });
  let client = broker.connect();
  await client.streams.create('backlog', { subjects: ['backlog'], fsync: 'never' });
  for (const name of ['a', 'b', 'c'])
    await (await client.subscribe('backlog', { subscription: name })).close();
  const body = new Uint8Array(1024).fill(97);
  const window: Promise<unknown>[] = [];
  for (let index = 0; index < messages; index++) {
    window.push(client.publish('backlog', body));
    if (window.length === 1000) {
      await Promise.all(window);
      window.length = 0;
    }
  }
  await Promise.all(window);
  const held = await holdWindows(client);
  sample();
  const afterPublishRss = process.memoryUsage.rss();
  await broker.close();

  broker = await Broker.open({ dataDir });
  client = broker.connect();
  const info = await client.streams.info('backlog');
  const heldAfterRestart = await holdWindows(client);
  sample();
  const afterRestartRss = process.memoryUsage.rss();
  await broker.close();
  clearInterval(sampler);
  console.log(
    JSON.stringify({
      messages: info.messages,
      held,
      heldAfterRestart,
      afterPublishMiB: Math.round(afterPublishRss / MiB),
      afterRestartMiB: Math.round(afterRestartRss / MiB),
      peakMiB: Math.round(peakRss / MiB),
    }),
  );
} finally {
  clearInterval(sampler);
  rmSync(dataDir, { recursive: true, force: true });
}
