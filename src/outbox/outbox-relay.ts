/**
 * The outbox relay: publishes the outbox table's pending rows to Weir, each exactly once as
 * its consumers see it, and marks them published.
 *
 * One batch, in one PostgreSQL transaction:
 *   1. claim up to batchSize pending rows whose backoff has passed, in id order, with
 *      FOR UPDATE SKIP LOCKED: a second relay on the same table claims other rows, never these;
 *   2. publish them (publishBatch, confirmed), each with the dedup id `outbox-<table>-<id>`;
 *   3. mark the confirmed ones published; record each failed one's attempt and error and move
 *      its available_at forward by a backoff that doubles per attempt;
 *   4. commit.
 * A crash (or a lost PostgreSQL connection) after 2 and before 4 rolls the marks back, so those
 * rows are published again by the next batch; the stream's dedup window knows their ids and
 * stores nothing the second time (the receipt says `duplicate`), so each row is stored, and
 * delivered, once. That holds while the retry comes within the stream's dedupWindowMs (2 min by
 * default; limits.ts asserts the relay's own delays fit in it).
 *
 * When to run a batch: at once while batches come back full; otherwise on a NOTIFY from the
 * table's trigger (outbox-listener.ts), when the next row in backoff is due, or every
 * pollIntervalMs, whichever is first. The poll is the fallback for a LISTEN connection that
 * dropped. A PostgreSQL error waits a backoff that doubles per error in a row. So the relay
 * never spins: every batch without a wait publishes rows or moves failed ones later.
 *
 * Order: rows are published in id order within a batch; a failed row waits out its backoff
 * while later rows go ahead, and two relays interleave; a consumer that needs per-key order
 * should not rely on the outbox for it.
 *
 * Concurrency: `start` once, `close` once (idempotent); `lag` may be called at any time while
 * open. One batch runs at a time per relay.
 */
import { EventEmitter } from 'node:events';
import pg from 'pg';
import type { Registry } from 'prom-client';
import type { Client, Headers, PublishInput, PublishReceipt } from '../protocol/index.js';
import { WeirError, isWeirError, systemClock, type Clock, type Timer } from '../util/index.js';
import {
  OUTBOX_BATCH_ROWS_DEFAULT,
  OUTBOX_BATCH_ROWS_MAX,
  OUTBOX_ERROR_BACKOFF_MS_MAX,
  OUTBOX_ERROR_BACKOFF_MS_MIN,
  OUTBOX_LAG_REFRESH_MS,
  OUTBOX_LAST_ERROR_BYTES_MAX,
  OUTBOX_POLL_INTERVAL_MS_DEFAULT,
  OUTBOX_POLL_INTERVAL_MS_MAX,
  OUTBOX_POLL_INTERVAL_MS_MIN,
  OUTBOX_POOL_CONNECTIONS_MAX,
  OUTBOX_PUBLISH_TIMEOUT_MS,
  OUTBOX_RETRY_BACKOFF_MS_DEFAULT,
  OUTBOX_RETRY_BACKOFF_MS_MAX,
} from '../limits.js';
import { OutboxListener } from './outbox-listener.js';
import { outboxGauges, type OutboxGauges } from './outbox-metrics.js';
import {
  OUTBOX_TABLE_DEFAULT,
  checkTableName,
  outboxMessageId,
  outboxNames,
  type OutboxNames,
} from './outbox-table.js';

export interface OutboxRelayOptions {
  /**
   * PostgreSQL: a connection string (the relay opens and closes its own pool) or a pg.Pool the
   * caller owns (the relay holds one of its connections for LISTEN and uses another per batch,
   * so it needs at least two).
   */
  readonly pg: string | pg.Pool;
  /** Where rows are published: an embedded `broker.connect()` or a network `connect()` client. */
  readonly client: Client;
  /** Default `weir_outbox`. */
  readonly table?: string;
  /** Rows per batch, 1..OUTBOX_BATCH_ROWS_MAX. Default OUTBOX_BATCH_ROWS_DEFAULT. */
  readonly batchSize?: number;
  /** The fallback poll, OUTBOX_POLL_INTERVAL_MS_MIN..MAX. Default OUTBOX_POLL_INTERVAL_MS_DEFAULT. */
  readonly pollIntervalMs?: number;
  /** A failed row's first retry delay (doubled per attempt up to OUTBOX_RETRY_BACKOFF_MS_MAX). */
  readonly retryBackoffMs?: number;
  /** Where the lag gauges are registered. Default: prom-client's default registry. */
  readonly registry?: Registry;
  /** The relay's timers (poll, waits). Default: the system clock. */
  readonly clock?: Clock;
}

export interface OutboxLag {
  /** Rows not published yet (including those waiting out a retry backoff). */
  readonly pending: number;
  /** Age of the oldest of them, by PostgreSQL's clock; 0 when none. */
  readonly oldestAgeMs: number;
}

/** What one batch did. */
export interface OutboxBatchReport {
  readonly claimed: number;
  /** Rows the broker confirmed (and now marked published). */
  readonly published: number;
  /** Of those, rows the broker had already stored (a republish after a crash). */
  readonly duplicates: number;
  /** Rows whose publish failed: their attempt and error are recorded, they are retried later. */
  readonly failed: number;
}

export interface OutboxRelayStats {
  readonly batches: number;
  readonly published: number;
  readonly duplicates: number;
  readonly failed: number;
  /** PostgreSQL errors the relay waited out. */
  readonly errors: number;
  readonly listening: boolean;
}

/** The relay's events. None is named 'error': an unheard one would throw. */
export interface OutboxRelayEvents {
  /** A batch claimed at least one row. */
  batch: [OutboxBatchReport];
  /** The relay found nothing more to do now and waits (for a NOTIFY, a due retry or the poll). */
  idle: [OutboxLag];
  /** The LISTEN connection is up (true) or lost (false). */
  listening: [boolean];
  /** A PostgreSQL error the relay will wait out and retry after. */
  failure: [unknown];
}

interface OutboxRow {
  readonly id: string;
  readonly subject: string;
  readonly body: Buffer;
  readonly headers: unknown;
  readonly key: string | null;
}

interface LagRow {
  readonly pending: number;
  readonly oldest_age_ms: number;
  readonly next_due_ms: number | null;
}

function integerOption(value: unknown, field: string, min: number, max: number): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min || value > max) {
    throw new WeirError(
      'INVALID_ARGUMENT',
      `${field} must be an integer in ${min}..${max}, got ${String(value)}`,
    );
  }
  return value;
}

function errorText(error: unknown): string {
  const text = isWeirError(error)
    ? `${error.code}: ${error.message}`
    : error instanceof Error
      ? error.message
      : String(error);
  return text.length > OUTBOX_LAST_ERROR_BYTES_MAX
    ? text.slice(0, OUTBOX_LAST_ERROR_BYTES_MAX)
    : text;
}

/** `headers` from a row if it is a string map (or absent); else the reason it is not. */
function rowHeaders(headers: unknown): Headers | undefined | WeirError {
  if (headers === null || headers === undefined) return undefined;
  if (typeof headers !== 'object' || Array.isArray(headers)) {
    return new WeirError('INVALID_ARGUMENT', 'the row headers are not a JSON object');
  }
  for (const [name, value] of Object.entries(headers)) {
    if (typeof value !== 'string') {
      return new WeirError('INVALID_ARGUMENT', `the row header ${name} is not a string`);
    }
  }
  return headers as Headers;
}

const RELAY_OPTION_NAMES = new Set([
  'pg',
  'client',
  'table',
  'batchSize',
  'pollIntervalMs',
  'retryBackoffMs',
  'registry',
  'clock',
]);

export class OutboxRelay extends EventEmitter<OutboxRelayEvents> {
  readonly #names: OutboxNames;
  readonly #client: Client;
  readonly #pool: pg.Pool;
  readonly #ownsPool: boolean;
  readonly #batchSize: number;
  readonly #pollIntervalMs: number;
  readonly #retryBackoffMs: number;
  readonly #clock: Clock;
  readonly #gauges: OutboxGauges;
  readonly #listener: OutboxListener;
  #started = false;
  #closed = false;
  #running: Promise<void> | null = null;
  #wakeRequested = false;
  #wakeUp: (() => void) | null = null;
  #lagRefreshedAt = -Infinity;
  #stats = { batches: 0, published: 0, duplicates: 0, failed: 0, errors: 0 };

  constructor(options: OutboxRelayOptions) {
    super();
    if (typeof options !== 'object' || options === null) {
      throw new WeirError('INVALID_ARGUMENT', 'OutboxRelay options must be an object');
    }
    for (const name of Object.keys(options)) {
      if (!RELAY_OPTION_NAMES.has(name)) {
        throw new WeirError('INVALID_ARGUMENT', `OutboxRelay has no option ${name}`);
      }
    }
    if (typeof options.client?.publishBatch !== 'function') {
      throw new WeirError('INVALID_ARGUMENT', 'client must be a Weir Client');
    }
    this.#names = outboxNames(checkTableName(options.table ?? OUTBOX_TABLE_DEFAULT));
    this.#client = options.client;
    this.#batchSize = integerOption(
      options.batchSize ?? OUTBOX_BATCH_ROWS_DEFAULT,
      'batchSize',
      1,
      OUTBOX_BATCH_ROWS_MAX,
    );
    this.#pollIntervalMs = integerOption(
      options.pollIntervalMs ?? OUTBOX_POLL_INTERVAL_MS_DEFAULT,
      'pollIntervalMs',
      OUTBOX_POLL_INTERVAL_MS_MIN,
      OUTBOX_POLL_INTERVAL_MS_MAX,
    );
    this.#retryBackoffMs = integerOption(
      options.retryBackoffMs ?? OUTBOX_RETRY_BACKOFF_MS_DEFAULT,
      'retryBackoffMs',
      1,
      OUTBOX_RETRY_BACKOFF_MS_MAX,
    );
    this.#clock = options.clock ?? systemClock;
    if (typeof options.pg === 'string') {
      this.#pool = new pg.Pool({
        connectionString: options.pg,
        max: OUTBOX_POOL_CONNECTIONS_MAX,
        application_name: `weir-outbox-relay:${this.#names.table}`,
      });
      this.#ownsPool = true;
      // An idle connection that drops is reported here; without a listener it would throw.
      this.#pool.on('error', (error) => this.#failure(error));
    } else if (options.pg instanceof pg.Pool) {
      this.#pool = options.pg;
      this.#ownsPool = false;
    } else {
      throw new WeirError('INVALID_ARGUMENT', 'pg must be a connection string or a pg.Pool');
    }
    this.#gauges = outboxGauges(options.registry);
    this.#listener = new OutboxListener({
      pool: this.#pool,
      table: this.#names.table,
      channel: this.#names.channel,
      clock: this.#clock,
      onNotify: () => this.#wake(),
      onState: (listening, error) => {
        if (!listening && error !== undefined) this.#failure(error);
        this.emit('listening', listening);
      },
    });
  }

  get table(): string {
    return this.#names.table;
  }

  stats(): OutboxRelayStats {
    return { ...this.#stats, listening: this.#listener.listening };
  }

  /**
   * Checks the table is there, starts listening and relaying. Rejects (and releases what it
   * opened) when PostgreSQL cannot be reached (CLOSED) or the table is missing (INVALID_ARGUMENT).
   */
  async start(): Promise<void> {
    if (this.#started) throw new WeirError('INVALID_ARGUMENT', 'the relay was started already');
    if (this.#closed) throw new WeirError('CLOSED', 'the relay is closed');
    this.#started = true;
    try {
      await this.#pool.query(`SELECT 1 FROM "${this.#names.table}" LIMIT 0`);
    } catch (error) {
      await this.close();
      if ((error as { code?: unknown }).code === '42P01') {
        throw new WeirError(
          'INVALID_ARGUMENT',
          `the outbox table "${this.#names.table}" does not exist: create it with createOutboxTable or \`weir outbox init\``,
          { cause: error },
        );
      }
      throw new WeirError('CLOSED', `PostgreSQL is not reachable: ${errorText(error)}`, {
        cause: error,
      });
    }
    await this.#listener.start();
    this.#running = this.#run();
  }

  /** Stops after the batch in progress (its publishes settle or time out), releases connections. */
  async close(): Promise<void> {
    if (this.#closed) {
      await this.#running;
      return;
    }
    this.#closed = true;
    this.#wake();
    await this.#running;
    await this.#listener.close();
    this.#gauges.pending.remove({ table: this.#names.table });
    this.#gauges.oldestAgeSeconds.remove({ table: this.#names.table });
    if (this.#ownsPool) await this.#pool.end();
  }

  /** Pending rows and the oldest one's age, read now from PostgreSQL; updates the gauges. */
  async lag(): Promise<OutboxLag> {
    const row = await this.#lagRow();
    return { pending: row.pending, oldestAgeMs: row.oldest_age_ms };
  }

  async #lagRow(): Promise<LagRow> {
    const result = await this.#pool.query<LagRow>(
      `SELECT count(*)::float8 AS pending,
              coalesce(extract(epoch FROM now() - min(created_at)) * 1000, 0)::float8 AS oldest_age_ms,
              (extract(epoch FROM min(available_at) FILTER (WHERE available_at > now()) - now()) * 1000)::float8 AS next_due_ms
         FROM "${this.#names.table}" WHERE published_at IS NULL`,
    );
    const row = result.rows[0] ?? { pending: 0, oldest_age_ms: 0, next_due_ms: null };
    this.#lagRefreshedAt = this.#clock.now();
    if (!this.#closed) {
      this.#gauges.pending.set({ table: this.#names.table }, row.pending);
      this.#gauges.oldestAgeSeconds.set({ table: this.#names.table }, row.oldest_age_ms / 1000);
    }
    return row;
  }

  #wake(): void {
    this.#wakeRequested = true;
    this.#wakeUp?.();
  }

  #failure(error: unknown): void {
    this.#stats.errors++;
    this.emit('failure', error);
  }

  /** Waits `ms`, or less if woken (NOTIFY, close). */
  async #sleep(ms: number): Promise<void> {
    let timer: Timer | null = null;
    await new Promise<void>((resolve) => {
      this.#wakeUp = resolve;
      timer = this.#clock.setTimer(ms, resolve);
    });
    this.#wakeUp = null;
    (timer as Timer | null)?.cancel();
  }

  async #run(): Promise<void> {
    let errorsInRow = 0;
    while (!this.#closed) {
      this.#wakeRequested = false;
      let waitMs: number;
      try {
        const report = await this.#relayBatch();
        errorsInRow = 0;
        if (report.claimed > 0) this.emit('batch', report);
        if (report.claimed === this.#batchSize) {
          // Likely more waiting: go on at once (each full batch published rows or moved
          // failed ones later, so this is progress, not a spin).
          if (this.#clock.now() - this.#lagRefreshedAt >= OUTBOX_LAG_REFRESH_MS)
            await this.#lagRow();
          continue;
        }
        const lag = await this.#lagRow();
        this.emit('idle', { pending: lag.pending, oldestAgeMs: lag.oldest_age_ms });
        waitMs =
          lag.next_due_ms === null
            ? this.#pollIntervalMs
            : Math.min(this.#pollIntervalMs, Math.max(1, Math.ceil(lag.next_due_ms)));
      } catch (error) {
        if (this.#closed) break;
        errorsInRow++;
        this.#failure(error);
        this.#wakeRequested = false; // a NOTIFY does not cut an error backoff short
        waitMs = Math.min(
          OUTBOX_ERROR_BACKOFF_MS_MAX,
          OUTBOX_ERROR_BACKOFF_MS_MIN * 2 ** Math.min(errorsInRow - 1, 20),
        );
      }
      if (this.#wakeRequested || this.#closed) continue;
      await this.#sleep(waitMs);
    }
  }

  async #relayBatch(): Promise<OutboxBatchReport> {
    const table = this.#names.table;
    const connection = await this.#pool.connect();
    let broken = false;
    try {
      await connection.query('BEGIN');
      const claimed = await connection.query<OutboxRow>(
        `SELECT id::text AS id, subject, body, headers, key FROM "${table}"
          WHERE published_at IS NULL AND available_at <= now()
          ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED`,
        [this.#batchSize],
      );
      if (claimed.rows.length === 0) {
        await connection.query('COMMIT');
        return { claimed: 0, published: 0, duplicates: 0, failed: 0 };
      }
      const outcomes = await this.#publish(claimed.rows);
      const publishedIds: string[] = [];
      const failedIds: string[] = [];
      const failedErrors: string[] = [];
      let duplicates = 0;
      claimed.rows.forEach((row, index) => {
        const outcome = outcomes[index];
        if (outcome === undefined || outcome instanceof Error) {
          failedIds.push(row.id);
          failedErrors.push(errorText(outcome ?? new WeirError('INTERNAL', 'no publish outcome')));
        } else {
          publishedIds.push(row.id);
          if (outcome.duplicate) duplicates++;
        }
      });
      if (publishedIds.length > 0) {
        await connection.query(
          `UPDATE "${table}" SET published_at = now(), attempts = attempts + 1, last_error = NULL
            WHERE id = ANY($1::bigint[])`,
          [publishedIds],
        );
      }
      if (failedIds.length > 0) {
        await connection.query(
          `UPDATE "${table}" AS row SET attempts = row.attempts + 1, last_error = failed.error,
                  available_at = now() + least($4::float8, $3::float8 * power(2, least(row.attempts, 30)))
                                         * interval '1 millisecond'
             FROM unnest($1::bigint[], $2::text[]) AS failed(id, error)
            WHERE row.id = failed.id`,
          [failedIds, failedErrors, this.#retryBackoffMs, OUTBOX_RETRY_BACKOFF_MS_MAX],
        );
      }
      await connection.query('COMMIT');
      this.#stats.batches++;
      this.#stats.published += publishedIds.length;
      this.#stats.duplicates += duplicates;
      this.#stats.failed += failedIds.length;
      return {
        claimed: claimed.rows.length,
        published: publishedIds.length,
        duplicates,
        failed: failedIds.length,
      };
    } catch (error) {
      broken = true;
      await connection.query('ROLLBACK').catch(() => undefined);
      throw error;
    } finally {
      // A connection that failed mid-transaction is discarded, not handed back to the pool.
      connection.release(broken);
    }
  }

  /** Each row's receipt or error, in order; never rejects. */
  async #publish(rows: readonly OutboxRow[]): Promise<(PublishReceipt | Error)[]> {
    const outcomes: (PublishReceipt | Error | undefined)[] = rows.map(() => undefined);
    const entries: PublishInput[] = [];
    const positions: number[] = [];
    rows.forEach((row, index) => {
      const headers = rowHeaders(row.headers);
      if (headers instanceof WeirError) {
        outcomes[index] = headers;
        return;
      }
      entries.push({
        subject: row.subject,
        body: row.body,
        options: {
          id: outboxMessageId(this.#names.table, row.id),
          ...(row.key === null ? {} : { key: row.key }),
          ...(headers === undefined ? {} : { headers }),
        },
      });
      positions.push(index);
    });
    if (entries.length > 0) {
      let timer: Timer | null = null;
      const timeout = new Promise<WeirError>((resolve) => {
        timer = this.#clock.setTimer(OUTBOX_PUBLISH_TIMEOUT_MS, () =>
          resolve(new WeirError('TIMEOUT', 'the broker did not confirm the publish in time')),
        );
      });
      let results: readonly (PublishReceipt | WeirError)[] | WeirError;
      try {
        results = await Promise.race([this.#client.publishBatch(entries), timeout]);
      } catch (error) {
        results = isWeirError(error)
          ? error
          : new WeirError('INTERNAL', errorText(error), { cause: error });
      } finally {
        (timer as Timer | null)?.cancel();
      }
      positions.forEach((position, entry) => {
        outcomes[position] = results instanceof WeirError ? results : results[entry];
      });
    }
    return outcomes.map(
      (outcome) => outcome ?? new WeirError('INTERNAL', 'the broker gave no outcome for the row'),
    );
  }
}
