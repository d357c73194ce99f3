/**
 * The relay SIGKILLed mid-batch and restarted, against a broker server in another process
 * (file storage, fsync always) and the local PostgreSQL: every row is delivered exactly once
 * (counted by dedup id) and none is lost. The first kill is placed exactly in the window the
 * dedup ids exist for: after the broker confirmed a batch, before the rows were marked
 * published. Later kills come at seeded random moments while the relay works.
 *
 * Replay a failure with the seed it prints: WEIR_SEED=<seed>.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { connect } from '../../src/client/index.js';
import { insertOutbox } from '../../src/outbox/index.js';
import { seededRandom } from '../helpers/faulty-file-system.js';
import { createTemporaryDirectory } from '../helpers/temporary-directory.js';
import { killServer, startServer } from '../server/child-server.js';
import {
  PG_URL,
  countById,
  inTransaction,
  receiveMessages,
  withOutboxTable,
} from './postgres-fixture.js';

const CHILD = fileURLToPath(new URL('./relay-child.js', import.meta.url));
const ROWS = 1000;
const BATCH = 50;
/** The first run kills itself after this many confirmed batches (two were marked before it). */
const KILL_AFTER_BATCH = 3;
const RANDOM_KILLS = 4;
const RANDOM_KILL_MS_MAX = 40;
const CHILD_RUN_MS_MAX = 30_000;
const SEED = Number(process.env.WEIR_SEED ?? Date.now() % 2 ** 31);

const random = seededRandom;

interface RelayRun {
  readonly child: ChildProcess;
  /** Resolves with the signal that ended it, or null for an exit. */
  readonly exited: Promise<NodeJS.Signals | null>;
  /** Resolves when the child printed a line matching `pattern`. */
  readonly printed: (pattern: RegExp) => Promise<void>;
  readonly duplicates: () => number;
}

function startRelay(url: string, table: string, killAfterBatch: number): RelayRun {
  const child = spawn(
    process.execPath,
    [CHILD, PG_URL, url, table, String(BATCH), String(killAfterBatch)],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  const timer = setTimeout(() => child.kill('SIGKILL'), CHILD_RUN_MS_MAX);
  const exited = new Promise<NodeJS.Signals | null>((resolve) =>
    child.on('exit', (_code, signal) => {
      clearTimeout(timer);
      resolve(signal);
    }),
  );
  let output = '';
  let duplicates = 0;
  const waiters: { pattern: RegExp; resolve: () => void }[] = [];
  child.stdout.setEncoding('utf8');
  child.stdout.on('data', (chunk: string) => {
    output += chunk;
    const lines = output.split('\n');
    output = lines.pop()!;
    for (const line of lines) {
      const batch = /^batch \d+ (\d+)$/.exec(line);
      if (batch) duplicates += Number(batch[1]);
      for (const waiter of waiters.splice(0)) {
        if (waiter.pattern.test(line)) waiter.resolve();
        else waiters.push(waiter);
      }
    }
  });
  const printed = (pattern: RegExp) =>
    Promise.race([
      new Promise<void>((resolve) => waiters.push({ pattern, resolve })),
      exited.then(() => {
        throw new Error(`the relay child exited before printing ${String(pattern)}`);
      }),
    ]);
  return { child, exited, printed, duplicates: () => duplicates };
}

test(`the relay SIGKILLed mid-batch and restarted ${RANDOM_KILLS + 1} times: every row delivered exactly once, none lost (seed ${SEED})`, async (t) => {
  await withOutboxTable(t, async ({ table, pool }) => {
    const next = random(SEED);
    const dataDir = await createTemporaryDirectory('weir-outbox-crash-');
    const server = await startServer(dataDir.path);
    const url = `weir://127.0.0.1:${server.port}`;
    const checker = await connect(url, { name: 'checker', reconnect: false });
    const runs: RelayRun[] = [];
    try {
      await checker.streams.create('orders', { subjects: ['orders.>'] });
      for (let start = 0; start < ROWS; start += 100) {
        await inTransaction(pool, async (connection) => {
          for (let index = start; index < start + 100; index++)
            await insertOutbox(
              connection,
              { subject: 'orders.created', body: `order ${index}`, key: `customer-${index % 7}` },
              { table },
            );
        });
      }
      const published = async () =>
        Number(
          (
            await pool.query<{ count: string }>(
              `SELECT count(*) FROM "${table}" WHERE published_at IS NOT NULL`,
            )
          ).rows[0]!.count,
        );

      // 1. Killed right after its third batch was confirmed, before marking it.
      const first = startRelay(url, table, KILL_AFTER_BATCH);
      runs.push(first);
      assert.equal(await first.exited, 'SIGKILL');
      assert.equal(
        await published(),
        (KILL_AFTER_BATCH - 1) * BATCH,
        'the confirmed third batch was not marked',
      );

      // 2. Killed from outside at random moments while it works.
      for (let kill = 0; kill < RANDOM_KILLS; kill++) {
        const run = startRelay(url, table, 0);
        runs.push(run);
        await run.printed(/^(batch|idle)/);
        await new Promise((resolve) => setTimeout(resolve, next() * RANDOM_KILL_MS_MAX));
        run.child.kill('SIGKILL');
        await run.exited;
      }

      // 3. A last run drains the rest and stops gracefully.
      const last = startRelay(url, table, 0);
      runs.push(last);
      await last.printed(/^idle 0$/);
      last.child.kill('SIGTERM');
      assert.equal(await last.exited, null, 'the relay stopped on SIGTERM');
      assert.equal(await published(), ROWS, 'every row is marked published');

      const duplicates = runs.reduce((sum, run) => sum + run.duplicates(), 0);
      assert.ok(
        duplicates >= BATCH,
        `${duplicates} republished rows were dropped as duplicates (at least the unmarked batch)`,
      );
      const subscription = await checker.subscribe('orders', {
        subscription: 'verify',
        start: 'earliest',
        ack: 'none', // reading back only: no journal write per message
        maxInFlight: 2000,
      });
      const messages = await receiveMessages(subscription, ROWS + 1, 1000, false);
      const counts = countById(messages);
      assert.equal(messages.length, ROWS, `${messages.length} messages delivered for ${ROWS} rows`);
      assert.equal(counts.size, ROWS, 'each row delivered once');
      const rowIds = await pool.query<{ id: string }>(`SELECT id::text FROM "${table}"`);
      for (const { id } of rowIds.rows)
        assert.equal(counts.get(`outbox-${table}-${id}`), 1, `row ${id} delivered once`);
      t.diagnostic(
        `${runs.length} relay runs, ${runs.length - 1} SIGKILLed, ${duplicates} republished rows dropped by dedup, ${messages.length} delivered (seed ${SEED})`,
      );
    } finally {
      for (const run of runs) run.child.kill('SIGKILL');
      await Promise.all(runs.map((run) => run.exited));
      await checker.close();
      await killServer(server, 'SIGKILL');
      await dataDir.remove();
    }
  });
});
