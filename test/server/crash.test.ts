/**
 * Crash test over the network: a server child process under publish + consume load is
 * SIGKILLed at seeded random moments and restarted on the same data and port, at least
 * MIN_CYCLES times. The SDK client reconnects by itself. Afterwards: every publish the
 * client saw confirmed is stored exactly once, no message whose ack resolved before a kill
 * is delivered again after it, and the stream reads cleanly.
 *
 * Replay a failure with the seed it prints: WEIR_SEED=<seed>.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from '../../src/client/index.js';
import type { Client, Message } from '../../src/protocol/index.js';
import { killServer, startServer } from './child-server.js';

const MIN_CYCLES = 10;
const TIME_LIMIT_MS = 60_000;
const LOAD_MS_MIN = 150;
const LOAD_MS_MAX = 600;
const PUBLISHERS = 16;
const SEED = Number(process.env.WEIR_SEED ?? Date.now() % 2 ** 31);

function random(seed: number): () => number {
  let state = seed >>> 0 || 1;
  return () => {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    return (state >>> 0) / 2 ** 32;
  };
}

test(`SIGKILL under load, ${MIN_CYCLES}+ cycles: confirmed publishes stored exactly once, acked ones never redelivered (seed ${SEED})`, async () => {
  const next = random(SEED);
  const dataDir = await mkdtemp(join(tmpdir(), 'weir-server-crash-'));
  let server = await startServer(dataDir);
  const port = server.port;
  const url = `weir://127.0.0.1:${port}`;
  const setup = await connect(url, { name: 'setup', reconnect: false });
  await setup.streams.create('crash', { subjects: ['crash.>'], partitions: 2 });
  await setup.close();
  const producer = await connect(url, { name: 'producer' });
  const consumer = await connect(url, { name: 'consumer' });
  const confirmed = new Set<string>();
  const ackedBeforeKill = new Set<string>();
  const acked = new Set<string>();
  const violations: string[] = [];
  let sequence = 0;
  let running = true;
  const started = Date.now();
  try {
    const subscription = await consumer.subscribe('crash', {
      subscription: 'workers',
      maxInFlight: 200,
      leaseMs: 60_000,
    });
    const consuming = (async () => {
      while (running) {
        let message: Message | null;
        try {
          message = await subscription.receive({ timeoutMs: 200 });
        } catch {
          continue;
        }
        if (message === null) continue;
        const id = message.text();
        if (ackedBeforeKill.has(id))
          violations.push(`${id} was acked before a kill and delivered again`);
        message.ack().then(
          () => acked.add(id),
          () => undefined, // the connection dropped: it will come again
        );
      }
    })();
    const publishing = Array.from({ length: PUBLISHERS }, async () => {
      while (running) {
        const id = `m${sequence++}`;
        try {
          await producer.publish(`crash.${id}`, id, { key: id });
          confirmed.add(id);
        } catch (error) {
          assert.equal(
            (error as { code?: string }).code,
            'CLOSED',
            `publish failed with ${String(error)}`,
          );
          await new Promise((resolve) => setTimeout(resolve, 20));
        }
      }
    });
    let cycles = 0;
    while (cycles < MIN_CYCLES) {
      assert.ok(
        Date.now() - started < TIME_LIMIT_MS,
        `only ${cycles} cycles in ${TIME_LIMIT_MS} ms`,
      );
      await new Promise((resolve) =>
        setTimeout(resolve, LOAD_MS_MIN + next() * (LOAD_MS_MAX - LOAD_MS_MIN)),
      );
      await killServer(server, 'SIGKILL');
      for (const id of acked) ackedBeforeKill.add(id);
      cycles++;
      server = await startServer(dataDir, port);
    }
    running = false;
    await Promise.all(publishing);
    await consuming;
    await subscription.close();
    assert.ok(confirmed.size > 100, `only ${confirmed.size} publishes were confirmed`);
    assert.deepEqual(violations, []);
    // Read everything back through a fresh subscription: each confirmed id exactly once.
    const verifier: Client = await connect(url, { name: 'verifier', reconnect: false });
    try {
      const all = await verifier.subscribe('crash', {
        subscription: 'verify',
        start: 'earliest',
        maxInFlight: 5000,
      });
      const seen = new Map<string, number>();
      for (let count = 0; count < 10_000_000; count++) {
        const message = await all.receive({ timeoutMs: 1000 });
        if (message === null) break;
        seen.set(message.text(), (seen.get(message.text()) ?? 0) + 1);
        await message.ack();
      }
      for (const id of confirmed)
        assert.equal(seen.get(id), 1, `confirmed publish ${id} is stored exactly once`);
      console.log(
        `# ${cycles} kills, ${confirmed.size} confirmed publishes, ${seen.size} stored, ${ackedBeforeKill.size} acked before a kill (seed ${SEED})`,
      );
    } finally {
      await verifier.close();
    }
  } finally {
    running = false;
    await producer.close().catch(() => undefined);
    await consumer.close().catch(() => undefined);
    await killServer(server, 'SIGKILL');
    await rm(dataDir, { recursive: true, force: true });
  }
});
