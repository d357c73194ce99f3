/**
 * The outbox's checks and DDL: what needs no PostgreSQL runs everywhere (names, DDL text,
 * insertOutbox's checks and encoding, the relay's options); the rest runs against the local
 * PostgreSQL and is skipped, saying why, without it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import { Broker } from '../../src/broker/index.js';
import { isWeirError } from '../../src/util/index.js';
import {
  OutboxRelay,
  createOutboxTable,
  insertOutbox,
  outboxTableDdl,
  type OutboxQueryable,
  type OutboxRelayOptions,
} from '../../src/outbox/index.js';
import { PG_URL, withOutboxTable } from './postgres-fixture.js';

const invalid = (error: unknown) => isWeirError(error, 'INVALID_ARGUMENT');

test('outboxTableDdl: the table, a partial index on pending rows and a statement trigger that NOTIFYs', () => {
  const ddl = outboxTableDdl();
  assert.match(ddl, /CREATE TABLE IF NOT EXISTS "weir_outbox" \(/);
  for (const column of [
    'id bigserial PRIMARY KEY',
    'body bytea NOT NULL',
    'headers jsonb',
    'published_at timestamptz,',
    'attempts integer NOT NULL DEFAULT 0',
    'last_error text',
  ])
    assert.ok(ddl.includes(column), column);
  assert.match(
    ddl,
    /CREATE INDEX IF NOT EXISTS "weir_outbox_pending" .* WHERE published_at IS NULL/,
  );
  assert.match(ddl, /pg_notify\('weir_outbox_inserted', ''\)/);
  assert.match(ddl, /AFTER INSERT ON "weir_outbox"\s+FOR EACH STATEMENT/);
  assert.match(outboxTableDdl('orders_outbox'), /CREATE TABLE IF NOT EXISTS "orders_outbox"/);
});

test('outbox table names are plain lower-case identifiers of at most 40 characters', () => {
  for (const bad of ['Orders', 'a-b', '1abc', '', 'x'.repeat(41), 'a"; DROP TABLE x; --', 7])
    assert.throws(() => outboxTableDdl(bad as string), invalid, String(bad));
  assert.doesNotThrow(() => outboxTableDdl('x'.repeat(40)));
});

test('insertOutbox checks the message and encodes the body as publish does', async () => {
  const calls: { text: string; values: unknown[] }[] = [];
  const fake = {
    query: (text: string, values: unknown[]) => {
      calls.push({ text, values });
      return Promise.resolve({ rows: [{ id: '42' }] });
    },
  } as unknown as OutboxQueryable;
  assert.equal(await insertOutbox(fake, { subject: 'a.b', body: 'héllo' }), '42');
  assert.equal(await insertOutbox(fake, { subject: 'a.b', body: { n: 1 }, key: 'k' }), '42');
  const bytes = new Uint8Array([0, 255, 7]);
  await insertOutbox(fake, { subject: 'a.b', body: bytes, headers: { h: 'v' } }, { table: 't2' });
  assert.match(calls[0]!.text, /^INSERT INTO "weir_outbox" /);
  assert.deepEqual(calls[0]!.values, ['a.b', Buffer.from('héllo'), null, null]);
  assert.deepEqual(calls[1]!.values, ['a.b', Buffer.from('{"n":1}'), null, 'k']);
  assert.match(calls[2]!.text, /^INSERT INTO "t2" /);
  assert.deepEqual(calls[2]!.values, ['a.b', Buffer.from(bytes), '{"h":"v"}', null]);
  await assert.rejects(insertOutbox(fake, { subject: '', body: 'x' }), invalid);
  await assert.rejects(
    insertOutbox(fake, { subject: 'a', body: 'x', headers: { h: 1 as unknown as string } }),
    invalid,
  );
  await assert.rejects(insertOutbox(fake, { subject: 'a', body: 'x' }, { table: 'Bad' }), invalid);
  assert.equal(calls.length, 3, 'nothing refused reached PostgreSQL');
});

test('OutboxRelay refuses bad options, naming them', async () => {
  const broker = await Broker.open({ storage: 'memory' });
  const client = broker.connect();
  try {
    const cases: [Record<string, unknown>, RegExp][] = [
      [{ batchSize: 0 }, /batchSize/],
      [{ batchSize: 1001 }, /batchSize/],
      [{ pollIntervalMs: 5 }, /pollIntervalMs/],
      [{ retryBackoffMs: 0 }, /retryBackoffMs/],
      [{ table: 'Bad' }, /table/],
      [{ pg: 42 }, /pg must be/],
      [{ client: {} }, /client/],
      [{ bogus: 1 }, /no option bogus/],
    ];
    for (const [options, message] of cases) {
      // Plain JavaScript can pass anything: the options arrive untyped.
      const untyped: unknown = { pg: PG_URL, client, ...options };
      assert.throws(
        () => new OutboxRelay(untyped as OutboxRelayOptions),
        (error: unknown) => invalid(error) && message.test((error as Error).message),
        JSON.stringify(options),
      );
    }
    // A valid relay connects nothing before start; closing it unstarted is fine.
    await new OutboxRelay({ pg: PG_URL, client }).close();
  } finally {
    await client.close();
    await broker.close();
  }
});

test('start() says clearly when PostgreSQL is unreachable (CLOSED)', async () => {
  const broker = await Broker.open({ storage: 'memory' });
  const client = broker.connect();
  try {
    // Port 1 on loopback: nothing listens, the connection is refused at once.
    const relay = new OutboxRelay({ pg: 'postgres://postgres@127.0.0.1:1/test', client });
    await assert.rejects(relay.start(), (error: unknown) => isWeirError(error, 'CLOSED'));
  } finally {
    await client.close();
    await broker.close();
  }
});

test('createOutboxTable is idempotent; a relay on a missing table refuses to start', async (t) => {
  await withOutboxTable(t, async ({ table, pool }) => {
    await createOutboxTable(pool, { table });
    const triggers = await pool.query(
      `SELECT tgname FROM pg_trigger WHERE tgrelid = $1::regclass AND NOT tgisinternal`,
      [table],
    );
    assert.deepEqual(
      triggers.rows.map((row: { tgname: string }) => row.tgname),
      [`${table}_notify`],
    );
    const broker = await Broker.open({ storage: 'memory' });
    const client = broker.connect();
    const own = new pg.Pool({ connectionString: PG_URL, max: 2 });
    try {
      const relay = new OutboxRelay({ pg: own, client, table: `${table}_missing` });
      await assert.rejects(
        relay.start(),
        (error: unknown) => invalid(error) && /does not exist/.test((error as Error).message),
      );
      // The caller's pool stays usable: the relay closes only what it opened.
      assert.equal((await own.query('SELECT 1 AS one')).rows[0].one, 1);
    } finally {
      await own.end();
      await client.close();
      await broker.close();
    }
  });
});
