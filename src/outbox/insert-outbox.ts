/**
 * `insertOutbox`: the application's side of the outbox. It runs one INSERT on the connection
 * the caller gives, so when that connection is inside a transaction the outbox row commits or
 * rolls back with the business rows: the message exists exactly when the change happened.
 */
import { WeirError, type Body, type Headers } from '../protocol/index.js';
import { encodeBody } from '../protocol/body-encoding.js';
import { OUTBOX_TABLE_DEFAULT, checkTableName } from './outbox-table.js';
import type { OutboxQueryable } from './queryable.js';

export interface OutboxMessage {
  readonly subject: string;
  /** A Uint8Array as is, a string as UTF-8, anything else as its JSON text (as `publish` does). */
  readonly body: Body;
  readonly headers?: Headers;
  /** Partition and ordering key. */
  readonly key?: string;
}

export interface InsertOutboxOptions {
  /** Default `weir_outbox`. */
  readonly table?: string;
}

/** The bytes stored for `body`: the SDK's publish rule itself, so consumers see the same. */
export const outboxBodyBytes: (body: Body) => Uint8Array = encodeBody;

function checkMessage(message: OutboxMessage): void {
  if (typeof message !== 'object' || message === null) {
    throw new WeirError('INVALID_ARGUMENT', 'the outbox message must be an object');
  }
  if (typeof message.subject !== 'string' || message.subject.length === 0) {
    throw new WeirError('INVALID_ARGUMENT', 'subject must be a non-empty string');
  }
  if (message.key !== undefined && typeof message.key !== 'string') {
    throw new WeirError('INVALID_ARGUMENT', 'key must be a string');
  }
  if (message.headers !== undefined) {
    if (typeof message.headers !== 'object' || message.headers === null) {
      throw new WeirError('INVALID_ARGUMENT', 'headers must be an object of strings');
    }
    for (const [name, value] of Object.entries(message.headers)) {
      if (typeof value !== 'string') {
        throw new WeirError('INVALID_ARGUMENT', `header ${JSON.stringify(name)} must be a string`);
      }
    }
  }
}

/**
 * Inserts `message` into the outbox table on `pg` and resolves with the row's id (a decimal
 * string: bigserial exceeds a JavaScript number's exact range). The subject and headers are
 * checked by the broker when the relay publishes; a refusal is kept in the row's last_error.
 */
export async function insertOutbox(
  pg: OutboxQueryable,
  message: OutboxMessage,
  options: InsertOutboxOptions = {},
): Promise<string> {
  const table = checkTableName(options.table ?? OUTBOX_TABLE_DEFAULT);
  checkMessage(message);
  const result = await pg.query<{ id: string }>(
    `INSERT INTO "${table}" (subject, body, headers, key) VALUES ($1, $2, $3, $4) RETURNING id`,
    [
      message.subject,
      Buffer.from(outboxBodyBytes(message.body)),
      message.headers === undefined ? null : JSON.stringify(message.headers),
      message.key ?? null,
    ],
  );
  const row = result.rows[0];
  if (row === undefined) throw new WeirError('INTERNAL', 'the outbox INSERT returned no row');
  return String(row.id);
}
