/**
 * `weir outbox init` and `weir outbox relay` as a user runs them, against the local PostgreSQL
 * and a server on port 0; skipped, saying why, without PostgreSQL.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { dropOutboxTableDdl, insertOutbox } from '../../src/outbox/index.js';
import { withCli, CLI_RUN_MS } from '../cli/cli-fixture.js';
import { PG_URL, claimsSettled, receiveMessages, withOutboxTable } from './postgres-fixture.js';

const MAIN = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));

function weir(args: readonly string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [MAIN, ...args], { timeout: CLI_RUN_MS }, (error, stdout, stderr) =>
      resolve({
        code: error === null ? 0 : typeof error.code === 'number' ? error.code : -1,
        stdout,
        stderr,
      }),
    );
  });
}

test('weir outbox init creates the table (again: no error); a bad table name exits 2', async (t) => {
  await withOutboxTable(t, async ({ table, pool }) => {
    const created = `${table}_cli`;
    try {
      for (let run = 0; run < 2; run++) {
        const result = await weir(['outbox', 'init', '--pg', PG_URL, '--table', created]);
        assert.equal(result.code, 0, result.stderr);
        assert.match(result.stdout, new RegExp(`outbox table ${created} is ready`));
      }
      const columns = await pool.query<{ column_name: string }>(
        `SELECT column_name FROM information_schema.columns WHERE table_name = $1 ORDER BY ordinal_position`,
        [created],
      );
      assert.deepEqual(
        columns.rows.map((row) => row.column_name),
        [
          'id',
          'subject',
          'body',
          'headers',
          'key',
          'created_at',
          'available_at',
          'published_at',
          'attempts',
          'last_error',
        ],
      );
      const bad = await weir(['outbox', 'init', '--pg', PG_URL, '--table', 'Bad-Name']);
      assert.equal(bad.code, 2);
      assert.match(bad.stderr, /weir: INVALID_ARGUMENT: table must be a lower-case identifier/);
    } finally {
      await pool.query(dropOutboxTableDdl(created));
    }
  });
});

test('weir outbox relay publishes rows, serves /metrics and stops on SIGTERM', async (t) => {
  await withOutboxTable(t, async ({ table, pool }) => {
    await withCli(async ({ client, start }) => {
      await client.streams.create('orders', { subjects: ['orders.>'] });
      const subscription = await client.subscribe('orders', { subscription: 'check' });
      const { child, done } = start([
        'outbox',
        'relay',
        '--pg',
        PG_URL,
        '--table',
        table,
        '--batch',
        '10',
        '--metrics-port',
        '0',
      ]);
      let output = '';
      const metricsUrl = await new Promise<string>((resolve, reject) => {
        child.stdout!.on('data', (chunk: Buffer | string) => {
          output += String(chunk);
          const match = /metrics on (http:\/\/\S+)/.exec(output);
          if (match && output.includes('relaying outbox table')) resolve(match[1]!);
        });
        void done.then((result) => reject(new Error(`the relay exited: ${result.stderr}`)));
      });
      for (let index = 0; index < 3; index++)
        await insertOutbox(pool, { subject: 'orders.created', body: `cli ${index}` }, { table });
      const messages = await receiveMessages(subscription, 3);
      assert.deepEqual(
        messages.map((message) => message.text()),
        ['cli 0', 'cli 1', 'cli 2'],
      );
      await claimsSettled(pool, table);
      const metrics = await (await fetch(metricsUrl)).text();
      assert.match(metrics, new RegExp(`weir_outbox_pending\\{table="${table}"\\} 0`));
      assert.match(metrics, /# TYPE weir_outbox_oldest_age_seconds gauge/);
      child.kill('SIGTERM');
      const result = await done;
      assert.equal(result.code, 0, result.stderr);
      assert.match(result.stdout, /SIGTERM: stopping after the batch in progress/);
    });
  });
});
