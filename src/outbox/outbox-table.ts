/**
 * The outbox table in PostgreSQL: its name rules, its DDL and the names derived from it.
 *
 * One row per message to publish. The application inserts it in the same transaction as its
 * business rows (insert-outbox.ts), so the message exists exactly when the business change
 * committed. The relay (outbox-relay.ts) publishes pending rows and marks them published.
 *
 *   id            bigserial  the row's identity; the publish's dedup id is `outbox-<table>-<id>`
 *   subject       text       the Weir subject
 *   body          bytea      the message body, as bytes
 *   headers       jsonb      string to string map, or null
 *   key           text       partition / ordering key, or null
 *   created_at    timestamptz  when the row was inserted (lag is measured from it)
 *   available_at  timestamptz  not claimed before then: a failed publish's backoff moves it
 *   published_at  timestamptz  null while pending; set once the broker confirmed the publish
 *   attempts      integer    publish attempts so far
 *   last_error    text       the last publish error (`CODE: message`), or null
 *
 * A partial index on the pending rows keeps the relay's claim and lag queries proportional
 * to what is pending, not to the table's history. A statement-level trigger NOTIFYs the
 * table's channel after each INSERT statement; PostgreSQL delivers it at commit (never for a
 * rolled-back transaction) and folds identical notifications of one transaction into one.
 */
import { WeirError } from '../util/index.js';
import { OUTBOX_TABLE_NAME_BYTES_MAX } from '../limits.js';
import type { OutboxQueryable } from './queryable.js';

export const OUTBOX_TABLE_DEFAULT = 'weir_outbox';

/** A plain lower-case identifier: no quoting surprises, and the derived names stay under 63 bytes. */
const TABLE_NAME = new RegExp(`^[a-z_][a-z0-9_]{0,${OUTBOX_TABLE_NAME_BYTES_MAX - 1}}$`);

/** `table` if it is a valid outbox table name; else INVALID_ARGUMENT naming the rule. */
export function checkTableName(table: unknown, field = 'table'): string {
  if (typeof table !== 'string' || !TABLE_NAME.test(table)) {
    throw new WeirError(
      'INVALID_ARGUMENT',
      `${field} must be a lower-case identifier ([a-z_][a-z0-9_]*) of at most ${OUTBOX_TABLE_NAME_BYTES_MAX} characters, got ${JSON.stringify(table)}`,
    );
  }
  return table;
}

/** The names that go with an outbox table. */
export interface OutboxNames {
  readonly table: string;
  readonly pendingIndex: string;
  readonly notifyFunction: string;
  readonly notifyTrigger: string;
  /** The LISTEN/NOTIFY channel the trigger signals on. */
  readonly channel: string;
}

export function outboxNames(table = OUTBOX_TABLE_DEFAULT): OutboxNames {
  checkTableName(table);
  return {
    table,
    pendingIndex: `${table}_pending`,
    notifyFunction: `${table}_notify`,
    notifyTrigger: `${table}_notify`,
    channel: `${table}_inserted`,
  };
}

/** The dedup id a row is published with: the same row always gets the same id. */
export function outboxMessageId(table: string, id: string): string {
  return `outbox-${table}-${id}`;
}

/**
 * The DDL of the outbox table `table`, its pending-rows index and its NOTIFY trigger, as one
 * script. Idempotent (IF NOT EXISTS, CREATE OR REPLACE), so running it again is harmless.
 */
export function outboxTableDdl(table = OUTBOX_TABLE_DEFAULT): string {
  const names = outboxNames(table);
  return `CREATE TABLE IF NOT EXISTS "${names.table}" (
  id bigserial PRIMARY KEY,
  subject text NOT NULL,
  body bytea NOT NULL,
  headers jsonb,
  key text,
  created_at timestamptz NOT NULL DEFAULT now(),
  available_at timestamptz NOT NULL DEFAULT now(),
  published_at timestamptz,
  attempts integer NOT NULL DEFAULT 0,
  last_error text
);
CREATE INDEX IF NOT EXISTS "${names.pendingIndex}" ON "${names.table}" (id) WHERE published_at IS NULL;
CREATE OR REPLACE FUNCTION "${names.notifyFunction}"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('${names.channel}', '');
  RETURN NULL;
END;
$$;
CREATE OR REPLACE TRIGGER "${names.notifyTrigger}" AFTER INSERT ON "${names.table}"
  FOR EACH STATEMENT EXECUTE FUNCTION "${names.notifyFunction}"();
`;
}

export interface CreateOutboxTableOptions {
  /** Default `weir_outbox`. */
  readonly table?: string;
}

/** Runs outboxTableDdl in one transaction on `pg` (a pg.Client, pg.PoolClient or pg.Pool). */
export async function createOutboxTable(
  pg: OutboxQueryable,
  options: CreateOutboxTableOptions = {},
): Promise<void> {
  // A multi-statement simple query runs as one implicit transaction in PostgreSQL.
  await pg.query(outboxTableDdl(options.table ?? OUTBOX_TABLE_DEFAULT));
}

/** The DDL that removes the table, its function and trigger (tests, and undoing `init`). */
export function dropOutboxTableDdl(table = OUTBOX_TABLE_DEFAULT): string {
  const names = outboxNames(table);
  return `DROP TABLE IF EXISTS "${names.table}";
DROP FUNCTION IF EXISTS "${names.notifyFunction}"();
`;
}
