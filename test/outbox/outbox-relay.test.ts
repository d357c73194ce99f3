/**
 * The outbox relay against the local PostgreSQL and an embedded (memory) broker: transactions,
 * NOTIFY and the poll fallback, two relays on one table, failures and backoff, lag and gauges.
 * Skipped, saying why, when PostgreSQL is not reachable.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Registry } from 'prom-client';
import { Broker } from '../../src/broker/index.js';
import type { Client, Subscription } from '../../src/protocol/index.js';
import { ManualClock } from '../../src/util/index.js';
import {
  OUTBOX_PENDING_METRIC,
  OutboxRelay,
  insertOutbox,
  outboxMessageId,
  type OutboxRelayOptions,
} from '../../src/outbox/index.js';
import {
  claimsSettled,
  countById,
  inTransaction,
  nextEvent,
  receiveMessages,
  withOutboxTable,
  PG_URL,
} from './postgres-fixture.js';

/** Long enough that a delivery well before it cannot have come from the poll. */
const LONG_POLL_MS = 60_000;
/** A NOTIFY-driven delivery comes within this (it takes milliseconds; this is a bound). */
const NOTIFY_DELIVERY_MS_MAX = 5000;

interface Setup {
  readonly broker: Broker;
  readonly client: Client;
  readonly subscription: Subscription;
  readonly relays: OutboxRelay[];
  readonly relay: (options?: Partial<OutboxRelayOptions>) => OutboxRelay;
}

/** An embedded broker with stream `orders` (orders.>) and a durable subscription on it. */
async function withBroker(
  table: string,
  body: (setup: Setup) => Promise<void>,
  dedupWindowMs?: number,
): Promise<void> {
  const broker = await Broker.open({ storage: 'memory' });
  const client = broker.connect();
  const relays: OutboxRelay[] = [];
  try {
    await client.streams.create('orders', {
      subjects: ['orders.>'],
      ...(dedupWindowMs === undefined ? {} : { dedupWindowMs }),
    });
    const subscription = await client.subscribe('orders', { subscription: 'check' });
    await body({
      broker,
      client,
      subscription,
      relays,
      relay: (options = {}) => {
        const relay = new OutboxRelay({
          pg: PG_URL,
          client,
          table,
          pollIntervalMs: LONG_POLL_MS,
          registry: new Registry(),
          ...options,
        });
        relays.push(relay);
        return relay;
      },
    });
  } finally {
    for (const relay of relays) await relay.close();
    await client.close();
    await broker.close();
  }
}

test('a row inserted in a committed transaction is published once; one in a rolled-back transaction never', async (t) => {
  await withOutboxTable(t, async ({ table, pool }) => {
    const orders = `${table}_orders`;
    await pool.query(`CREATE TABLE "${orders}" (name text)`);
    try {
      await withBroker(table, async ({ subscription, relay }) => {
        const relayer = relay();
        await relayer.start();
        const ids: string[] = [];
        // The business row and the outbox row commit (or roll back) together.
        await inTransaction(pool, async (connection) => {
          await connection.query(`INSERT INTO "${orders}" VALUES ('A')`);
          ids.push(
            await insertOutbox(connection, { subject: 'orders.created', body: 'A' }, { table }),
          );
        });
        await inTransaction(
          pool,
          async (connection) => {
            await connection.query(`INSERT INTO "${orders}" VALUES ('B')`);
            ids.push(
              await insertOutbox(connection, { subject: 'orders.created', body: 'B' }, { table }),
            );
          },
          true,
        );
        await inTransaction(pool, async (connection) => {
          ids.push(
            await insertOutbox(
              connection,
              { subject: 'orders.created', body: 'C', key: 'k1', headers: { tenant: 't1' } },
              { table },
            ),
          );
        });
        const messages = await receiveMessages(subscription, 2);
        assert.deepEqual(
          messages.map((message) => [message.id, message.text()]),
          [
            [outboxMessageId(table, ids[0]!), 'A'],
            [outboxMessageId(table, ids[2]!), 'C'],
          ],
        );
        assert.equal(messages[1]!.key, 'k1');
        assert.equal(messages[1]!.headers.tenant, 't1');
        // C was published after B's id: had B been published, it would have come before C.
        assert.equal(await subscription.receive({ timeoutMs: 300 }), null, 'nothing else came');
        await claimsSettled(pool, table);
        const rows = await pool.query<{ id: string; published: boolean; attempts: number }>(
          `SELECT id::text, published_at IS NOT NULL AS published, attempts FROM "${table}" ORDER BY id`,
        );
        assert.deepEqual(
          rows.rows.map((row) => [row.id, row.published, row.attempts]),
          [
            [ids[0], true, 1],
            [ids[2], true, 1],
          ],
        );
        assert.deepEqual(await relayer.lag(), { pending: 0, oldestAgeMs: 0 });
        const business = await pool.query<{ name: string }>(`SELECT name FROM "${orders}"`);
        assert.deepEqual(
          business.rows.map((row) => row.name),
          ['A'],
          'B rolled back with its row',
        );
        assert.equal(relayer.stats().duplicates, 0);
      });
    } finally {
      await pool.query(`DROP TABLE IF EXISTS "${orders}"`);
    }
  });
});

test('a NOTIFY wakes the relay well before its 60 s poll, also after its LISTEN connection was killed and reopened', async (t) => {
  await withOutboxTable(t, async ({ table, pool }) => {
    await withBroker(table, async ({ subscription, relay }) => {
      const relayer = relay();
      const firstIdle = nextEvent(relayer, 'idle');
      await relayer.start();
      await firstIdle;
      assert.equal(relayer.stats().listening, true);
      let started = Date.now();
      await insertOutbox(pool, { subject: 'orders.created', body: 'first' }, { table });
      const [first] = await receiveMessages(subscription, 1, NOTIFY_DELIVERY_MS_MAX);
      assert.equal(first?.text(), 'first');
      const firstMs = Date.now() - started;
      assert.ok(firstMs < NOTIFY_DELIVERY_MS_MAX, `delivered after ${firstMs} ms`);

      // Kill the LISTEN connection: the relay sees it go and opens it again.
      const lost = nextEvent<[boolean]>(relayer, 'listening', 10_000, (up) => !up);
      const back = nextEvent<[boolean]>(relayer, 'listening', 10_000, (up) => up);
      const killed = await pool.query(
        `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1`,
        [`weir-outbox-listen:${table}`],
      );
      assert.equal(killed.rowCount, 1, 'one LISTEN connection');
      await lost;
      await back;
      started = Date.now();
      await insertOutbox(pool, { subject: 'orders.created', body: 'second' }, { table });
      const [second] = await receiveMessages(subscription, 1, NOTIFY_DELIVERY_MS_MAX);
      assert.equal(second?.text(), 'second');
      const secondMs = Date.now() - started;
      assert.ok(secondMs < NOTIFY_DELIVERY_MS_MAX, `delivered after ${secondMs} ms`);
      t.diagnostic(`NOTIFY to delivery: ${firstMs} ms, after a LISTEN reconnect ${secondMs} ms`);
    });
  });
});

test('without a NOTIFY (trigger disabled) the poll still finds the rows, at the poll interval', async (t) => {
  await withOutboxTable(t, async ({ table, pool }) => {
    await pool.query(`ALTER TABLE "${table}" DISABLE TRIGGER "${table}_notify"`);
    await withBroker(table, async ({ subscription, relay }) => {
      const clock = new ManualClock();
      const relayer = relay({ clock });
      const firstIdle = nextEvent(relayer, 'idle');
      await relayer.start();
      await firstIdle;
      await insertOutbox(pool, { subject: 'orders.created', body: 'polled' }, { table });
      assert.equal(await subscription.receive({ timeoutMs: 500 }), null, 'no NOTIFY, no poll yet');
      assert.equal((await relayer.lag()).pending, 1);
      clock.advance(LONG_POLL_MS);
      const [message] = await receiveMessages(subscription, 1, 5000);
      assert.equal(message?.text(), 'polled');
    });
  });
});

test('two relays on one table at once: every row published once (dedup window off, so a double publish would show)', async (t) => {
  await withOutboxTable(t, async ({ table, pool }) => {
    await withBroker(
      table,
      async ({ subscription, relay }) => {
        const ROWS = 400;
        const insertRows = async (from: number, to: number) => {
          for (let start = from; start < to; start += 50) {
            await inTransaction(pool, async (connection) => {
              for (let index = start; index < Math.min(to, start + 50); index++)
                await insertOutbox(
                  connection,
                  { subject: 'orders.created', body: `row ${index}` },
                  { table },
                );
            });
          }
        };
        await insertRows(0, ROWS / 2);
        const one = relay({ batchSize: 10 });
        const two = relay({ batchSize: 10 });
        let drained = false;
        const onIdle = (lag: { pending: number }) => {
          if (lag.pending === 0) drained = true;
        };
        one.on('idle', onIdle);
        two.on('idle', onIdle);
        const bothDrained = Promise.race([
          nextEvent(one, 'idle', 20_000, (lag: { pending: number }) => lag.pending === 0),
          nextEvent(two, 'idle', 20_000, (lag: { pending: number }) => lag.pending === 0),
        ]);
        await Promise.all([one.start(), two.start()]);
        await insertRows(ROWS / 2, ROWS);
        const messages = await receiveMessages(subscription, ROWS);
        assert.equal(await subscription.receive({ timeoutMs: 300 }), null, 'nothing more came');
        // Every row is marked once one relay saw none pending (its stats count after commit).
        if (!drained) await bothDrained;
        void bothDrained.catch(() => undefined);
        const counts = countById(messages);
        assert.equal(counts.size, ROWS, `${counts.size} distinct rows delivered`);
        assert.deepEqual(
          [...counts.values()].filter((count) => count !== 1),
          [],
          'no row delivered twice',
        );
        const [statsOne, statsTwo] = [one.stats(), two.stats()];
        assert.equal(statsOne.published + statsTwo.published, ROWS);
        assert.equal(statsOne.duplicates + statsTwo.duplicates, 0);
        t.diagnostic(`relay one published ${statsOne.published}, relay two ${statsTwo.published}`);
      },
      0,
    );
  });
});

test('a publish the broker refuses is recorded (attempts, last_error) and retried with a doubling backoff, never in a spin', async (t) => {
  await withOutboxTable(t, async ({ table, pool }) => {
    await withBroker(table, async ({ relay }) => {
      const BACKOFF_MS = 100;
      const relayer = relay({ retryBackoffMs: BACKOFF_MS });
      const id = await insertOutbox(pool, { subject: 'nowhere.created', body: 'x' }, { table });
      const failures: number[] = [];
      relayer.on('batch', (report) => {
        if (report.failed > 0) failures.push(Date.now());
      });
      const third = nextEvent(relayer, 'batch', 10_000, () => failures.length >= 3);
      await relayer.start();
      await third;
      const spanMs = failures[2]! - failures[0]!;
      // Waits of 100 then 200 ms between the three attempts (PostgreSQL's clock, so allow slack).
      assert.ok(spanMs >= 250, `three attempts within ${spanMs} ms: the backoff was not kept`);
      assert.ok(relayer.stats().batches <= 4, `${relayer.stats().batches} batches`);
      const row = await pool.query<{ attempts: number; last_error: string; published: boolean }>(
        `SELECT attempts, last_error, published_at IS NOT NULL AS published FROM "${table}" WHERE id = $1`,
        [id],
      );
      assert.ok(row.rows[0]!.attempts >= 3);
      assert.match(row.rows[0]!.last_error, /^NO_ROUTE: /);
      assert.equal(row.rows[0]!.published, false);
    });
  });
});

test('lag() and the gauges report pending rows and the oldest age, and fall to 0 once published', async (t) => {
  await withOutboxTable(t, async ({ table, pool }) => {
    await withBroker(table, async ({ subscription, relay }) => {
      const registry = new Registry();
      const relayer = relay({ registry });
      for (let index = 0; index < 3; index++)
        await insertOutbox(pool, { subject: 'orders.created', body: `lag ${index}` }, { table });
      await pool.query(`UPDATE "${table}" SET created_at = now() - interval '5 seconds'`);
      const lag = await relayer.lag();
      assert.equal(lag.pending, 3);
      assert.ok(lag.oldestAgeMs >= 5000 && lag.oldestAgeMs < 60_000, `${lag.oldestAgeMs} ms`);
      const gaugeValue = async (name: string) =>
        (await registry.getSingleMetric(name)!.get()).values.find(
          (value) => value.labels.table === table,
        )?.value;
      assert.equal(await gaugeValue(OUTBOX_PENDING_METRIC), 3);
      assert.ok((await gaugeValue('weir_outbox_oldest_age_seconds'))! >= 5);
      const drained = nextEvent(
        relayer,
        'idle',
        10_000,
        (idle: { pending: number }) => idle.pending === 0,
      );
      await relayer.start();
      await drained;
      assert.equal((await receiveMessages(subscription, 3)).length, 3);
      assert.equal(await gaugeValue(OUTBOX_PENDING_METRIC), 0);
      assert.equal(await gaugeValue('weir_outbox_oldest_age_seconds'), 0);
      assert.match(
        await registry.metrics(),
        new RegExp(`weir_outbox_pending\\{table="${table}"\\} 0`),
      );
    });
  });
});
