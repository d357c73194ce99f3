/**
 * The relay's LISTEN connection: one connection of the pool, held for as long as the relay
 * runs, that LISTENs on the outbox table's channel and calls `onNotify` for each notification.
 *
 * The connection can drop (a restart of PostgreSQL, pg_terminate_backend, a network cut):
 * then it is discarded and opened again after a delay that doubles per failure
 * (OUTBOX_LISTEN_RECONNECT_MS_MIN..MAX). Notifications sent while nobody listened are lost,
 * so every (re)connection calls `onNotify` once to make the relay look; the relay's poll
 * covers the time in between.
 *
 * The connection sets application_name `weir-outbox-listen:<table>` so an operator (or a
 * test) can find it in pg_stat_activity.
 *
 * Concurrency: one connection attempt at a time; `close` stops attempts and releases the
 * connection; nothing is called back after `close` resolved.
 */
import type pg from 'pg';
import type { Clock, Timer } from '../util/index.js';
import { OUTBOX_LISTEN_RECONNECT_MS_MAX, OUTBOX_LISTEN_RECONNECT_MS_MIN } from '../limits.js';

export interface OutboxListenerOptions {
  readonly pool: pg.Pool;
  readonly table: string;
  readonly channel: string;
  readonly clock: Clock;
  /** A notification came, or the connection was (re)established. */
  readonly onNotify: () => void;
  /** The connection is up (true) or was lost / could not be opened (false, with the error). */
  readonly onState: (listening: boolean, error?: unknown) => void;
}

export class OutboxListener {
  readonly #options: OutboxListenerOptions;
  #client: pg.PoolClient | null = null;
  #timer: Timer | null = null;
  #delayMs = OUTBOX_LISTEN_RECONNECT_MS_MIN;
  #connecting: Promise<void> | null = null;
  #closed = false;
  readonly #released = new WeakSet<pg.PoolClient>();

  constructor(options: OutboxListenerOptions) {
    this.#options = options;
  }

  get listening(): boolean {
    return this.#client !== null;
  }

  /** Starts connecting; resolves once the first attempt has settled (up or failed). */
  start(): Promise<void> {
    return this.#connect();
  }

  #connect(): Promise<void> {
    this.#connecting ??= this.#attempt().finally(() => {
      this.#connecting = null;
    });
    return this.#connecting;
  }

  async #attempt(): Promise<void> {
    if (this.#closed) return;
    let client: pg.PoolClient | null = null;
    try {
      client = await this.#options.pool.connect();
      const connected = client;
      // A checked-out client that errors with no listener would throw from the process.
      connected.on('error', (error) => this.#lost(connected, error));
      connected.on('end', () => this.#lost(connected, new Error('the LISTEN connection ended')));
      connected.on('notification', (notification) => {
        if (notification.channel === this.#options.channel && this.#client === connected)
          this.#options.onNotify();
      });
      await connected.query(`SET application_name TO 'weir-outbox-listen:${this.#options.table}'`);
      await connected.query(`LISTEN "${this.#options.channel}"`);
      if (this.#closed) {
        this.#release(connected);
        return;
      }
      this.#client = connected;
      this.#delayMs = OUTBOX_LISTEN_RECONNECT_MS_MIN;
      this.#options.onState(true);
      this.#options.onNotify();
    } catch (error) {
      if (client !== null) this.#lost(client, error);
      else this.#retryLater(error);
    }
  }

  #lost(client: pg.PoolClient, error: unknown): void {
    // One drop brings both 'error' and 'end' (and our own release ends it too): act once.
    if (this.#released.has(client)) return;
    this.#release(client);
    this.#retryLater(error);
  }

  #release(client: pg.PoolClient): void {
    this.#released.add(client);
    if (this.#client === client) this.#client = null;
    // true: destroy it rather than hand a broken (or LISTENing) connection back to the pool.
    client.release(true);
  }

  #retryLater(error: unknown): void {
    if (this.#closed || this.#timer !== null) return;
    this.#options.onState(false, error);
    const delay = this.#delayMs;
    this.#delayMs = Math.min(OUTBOX_LISTEN_RECONNECT_MS_MAX, this.#delayMs * 2);
    this.#timer = this.#options.clock.setTimer(
      delay,
      () => {
        this.#timer = null;
        void this.#connect();
      },
      { unref: true },
    );
  }

  async close(): Promise<void> {
    this.#closed = true;
    this.#timer?.cancel();
    this.#timer = null;
    await this.#connecting;
    if (this.#client !== null) this.#release(this.#client);
  }
}
