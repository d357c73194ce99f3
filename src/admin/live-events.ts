/**
 * Live stats over Server-Sent Events (GET /api/events). Each client gets the latest snapshot at
 * once, then one `stats` event per sample. The snapshot is serialized once per sample for all
 * clients.
 *
 * Backpressure: a client whose socket still holds an unsent event skips the next ones until it
 * drains (a stale chart, never a growing buffer). At most ADMIN_EVENT_CLIENTS_MAX clients.
 *
 * A stream outlives the request that authenticated it: before each event, `stillAllowed` (from
 * attach) is asked again, and a stream whose session ended (logout, idle, user removed) is
 * ended rather than fed.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { ADMIN_EVENT_CLIENTS_MAX } from '../limits.js';
import { WeirError } from '../util/index.js';
import type { StatsSampler } from './stats-sampler.js';

/** The browser's EventSource reconnects after this long when the stream breaks. */
const RETRY_MS = 2000;

export class LiveEvents {
  readonly #sampler: StatsSampler;
  /** Each client with its check that its credentials still hold. */
  readonly #clients = new Map<ServerResponse, () => boolean>();
  #unsubscribe: (() => void) | null = null;

  constructor(sampler: StatsSampler) {
    this.#sampler = sampler;
  }

  get clientCount(): number {
    return this.#clients.size;
  }

  attach(
    request: IncomingMessage,
    response: ServerResponse,
    stillAllowed: () => boolean = () => true,
  ): void {
    if (this.#clients.size >= ADMIN_EVENT_CLIENTS_MAX) {
      throw new WeirError(
        'LIMIT_EXCEEDED',
        `${ADMIN_EVENT_CLIENTS_MAX} event clients are connected`,
      );
    }
    response.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-store',
      'x-content-type-options': 'nosniff',
      connection: 'keep-alive',
    });
    request.socket.setNoDelay(true);
    response.write(`retry: ${RETRY_MS}\n\n`);
    const latest = this.#sampler.latestJson;
    if (latest !== null) response.write(`event: stats\ndata: ${latest}\n\n`);
    this.#clients.set(response, stillAllowed);
    this.#unsubscribe ??= this.#sampler.onSample(() => this.#broadcast());
    const detach = (): void => {
      this.#clients.delete(response);
      if (this.#clients.size === 0 && this.#unsubscribe) {
        this.#unsubscribe();
        this.#unsubscribe = null;
      }
    };
    response.on('close', detach);
  }

  #broadcast(): void {
    const json = this.#sampler.latestJson;
    if (json === null) return;
    const event = `event: stats\ndata: ${json}\n\n`;
    for (const [client, stillAllowed] of this.#clients) {
      if (!stillAllowed()) {
        this.#clients.delete(client);
        client.end();
        continue;
      }
      if (client.writableNeedDrain || client.destroyed) continue; // slow reader: skip this one
      client.write(event);
    }
  }

  /** Ends every event stream. */
  close(): void {
    for (const client of this.#clients.keys()) client.end();
    this.#clients.clear();
    this.#unsubscribe?.();
    this.#unsubscribe = null;
  }
}
