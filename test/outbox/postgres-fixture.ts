/**
 * The local PostgreSQL for the outbox tests (127.0.0.1:5432, trust auth, user postgres,
 * database test; WEIR_TEST_PG overrides it). A test that needs it calls `withOutboxTable`:
 * when PostgreSQL is not reachable the test is skipped with a message saying so (so `npm test`
 * passes on a machine without it); otherwise it gets a fresh outbox table with a random name,
 * dropped at the end whatever happens.
 */
import { randomBytes } from 'node:crypto';
import type { TestContext } from 'node:test';
import pg from 'pg';
import type { Message, Subscription } from '../../src/protocol/index.js';
import { createOutboxTable, dropOutboxTableDdl } from '../../src/outbox/index.js';

export const PG_URL = process.env.WEIR_TEST_PG ?? 'postgres://postgres@127.0.0.1:5432/test';
const CONNECT_TIMEOUT_MS = 3000;

let reachable: Promise<string | null> | null = null;

/** null when PostgreSQL answers; else why not. Asked once per test process. */
export function postgresProblem(): Promise<string | null> {
  reachable ??= (async () => {
    const client = new pg.Client({
      connectionString: PG_URL,
      connectionTimeoutMillis: CONNECT_TIMEOUT_MS,
    });
    client.on('error', () => undefined);
    try {
      await client.connect();
      await client.query('SELECT 1');
      return null;
    } catch (error) {
      return error instanceof Error ? error.message : String(error);
    } finally {
      await client.end().catch(() => undefined);
    }
  })();
  return reachable;
}

export interface OutboxTableFixture {
  readonly table: string;
  /** A pool for the test's own queries (inserts, checks). */
  readonly pool: pg.Pool;
}

/** Runs `body` with a fresh outbox table, or skips the test when PostgreSQL is absent. */
export async function withOutboxTable(
  t: TestContext,
  body: (fixture: OutboxTableFixture) => Promise<void>,
): Promise<void> {
  const problem = await postgresProblem();
  if (problem !== null) {
    t.skip(`PostgreSQL is not reachable on 127.0.0.1:5432: ${problem}`);
    return;
  }
  const table = `weir_outbox_test_${randomBytes(6).toString('hex')}`;
  const pool = new pg.Pool({ connectionString: PG_URL, max: 4 });
  pool.on('error', () => undefined); // a test that kills backends may hit an idle one
  try {
    await createOutboxTable(pool, { table });
    await body({ table, pool });
  } finally {
    await pool.query(dropOutboxTableDdl(table)).catch(() => undefined);
    await pool.end();
  }
}

/** Runs `work` inside one transaction on its own connection: committed, or rolled back if `rollback`. */
export async function inTransaction(
  pool: pg.Pool,
  work: (client: pg.PoolClient) => Promise<void>,
  rollback = false,
): Promise<void> {
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    await work(client);
    await client.query(rollback ? 'ROLLBACK' : 'COMMIT');
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw error;
  } finally {
    client.release();
  }
}

/**
 * Receives until `count` messages came (acking each, unless `ack` is false) or `timeoutMs` passed without one, and
 * returns them: the caller asserts what it expected.
 */
export async function receiveMessages(
  subscription: Subscription,
  count: number,
  timeoutMs = 10_000,
  ack = true,
): Promise<Message[]> {
  const messages: Message[] = [];
  while (messages.length < count) {
    const message = await subscription.receive({ timeoutMs });
    if (message === null) break;
    messages.push(message);
    if (ack) await message.ack();
  }
  return messages;
}

/** Resolves with the arguments of the next `event` that `accept`s, or rejects after `timeoutMs`. */
export function nextEvent<T extends unknown[]>(
  emitter: NodeJS.EventEmitter,
  event: string,
  timeoutMs = 10_000,
  accept: (...values: T) => boolean = () => true,
): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const listener = (...values: unknown[]) => {
      if (!accept(...(values as T))) return;
      clearTimeout(timer);
      emitter.off(event, listener);
      resolve(values as T);
    };
    const timer = setTimeout(() => {
      emitter.off(event, listener);
      reject(new Error(`no ${event} event within ${timeoutMs} ms`));
    }, timeoutMs);
    emitter.on(event, listener);
  });
}

/**
 * Resolves once no relay holds a claim on `table`: locking every row waits for the relays'
 * batch transactions to commit, so a delivery seen before its row was marked is marked now.
 */
export async function claimsSettled(pool: pg.Pool, table: string): Promise<void> {
  await pool.query(`SELECT id FROM "${table}" FOR UPDATE`);
}

/** Counts each id among `messages`. */
export function countById(messages: readonly Message[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const message of messages)
    counts.set(message.id ?? '', (counts.get(message.id ?? '') ?? 0) + 1);
  return counts;
}
