/**
 * Crash: a broker under load (publishing and acking) is killed with SIGKILL; reopened on its
 * data, every confirmed publish is there and every resolved ack stays acked.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { Broker } from '../../src/broker/index.js';
import type { Subscription } from '../../src/protocol/index.js';

/** Every message the subscription has, acked (acks awaited together at the end). */
async function drain(subscription: Subscription): Promise<string[]> {
  const texts: string[] = [];
  const acks: Promise<void>[] = [];
  for (let count = 0; count < 1_000_000; count++) {
    const message = await subscription.receive({ timeoutMs: 500 });
    if (!message) break;
    texts.push(message.text());
    acks.push(message.ack());
  }
  await Promise.all(acks);
  return texts;
}

/** Runs the child until it confirmed `publishes` publishes (or 10 s), kills it, returns its lines. */
async function runAndKill(dataDir: string, killAfterMs: number, first: number): Promise<string[]> {
  const child = spawn(
    process.execPath,
    [fileURLToPath(new URL('./crash-child.js', import.meta.url)), dataDir, String(first)],
    {
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  let output = '';
  child.stdout.setEncoding('utf8');
  child.stdout.on('data', (chunk: string) => (output += chunk));
  const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
  const deadline = Date.now() + 10_000;
  while (!output.includes('ready') && Date.now() < deadline)
    await new Promise((resolve) => setTimeout(resolve, 20));
  await new Promise((resolve) => setTimeout(resolve, killAfterMs));
  child.kill('SIGKILL');
  await exited;
  // Only whole lines happened for sure.
  return output
    .slice(0, output.lastIndexOf('\n') + 1)
    .split('\n')
    .filter(Boolean);
}

test('after SIGKILL under load every confirmed publish is stored and every resolved ack stays acked', async () => {
  const dataDir = await mkdtemp(join(tmpdir(), 'weir-broker-crash-'));
  try {
    const published = new Set<string>();
    const acked = new Set<string>();
    for (const [round, killAfterMs] of [300, 700].entries()) {
      const lines = await runAndKill(dataDir, killAfterMs, round * 10_000_000);
      for (const line of lines) {
        const [kind, number] = line.split(' ');
        if (kind === 'p') published.add(number!);
        if (kind === 'a') acked.add(number!);
      }
      assert.ok(
        published.size > 100,
        `round ${round}: the child confirmed ${published.size} publishes`,
      );
    }
    const broker = await Broker.open({ dataDir });
    try {
      const client = broker.connect();
      const everything = new Set(
        await drain(
          await client.subscribe('crash', {
            subscription: 'verify',
            start: 'earliest',
            maxInFlight: 10_000,
          }),
        ),
      );
      const info = await client.streams.info('crash');
      for (const number of published)
        assert.ok(
          everything.has(number),
          `confirmed publish ${number} is stored (${everything.size} read, ${info.messages} in the stream)`,
        );
      const pending = await drain(
        await client.subscribe('crash', { subscription: 'w', maxInFlight: 10_000 }),
      );
      for (const number of pending)
        assert.ok(!acked.has(number), `acked message ${number} was delivered again`);
      const settled = new Set([...pending, ...acked]);
      for (const number of published)
        assert.ok(settled.has(number), `message ${number} is neither acked nor pending`);
    } finally {
      await broker.close();
    }
  } finally {
    await rm(dataDir, { recursive: true, force: true });
  }
});
