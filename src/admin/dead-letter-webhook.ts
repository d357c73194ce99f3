/**
 * The dead-letter webhook: POSTs `{ stream, subscription, subject, count, at }` (JSON; `at`
 * an ISO 8601 time) to a URL when new dead letters are seen (dead-letter-arrivals.ts), so a
 * chat channel or an incident tool hears of them without a Prometheus.
 *
 * Never blocking the broker: `notify` only queues; one POST is under way at a time, each
 * abandoned after DEAD_LETTER_WEBHOOK_TIMEOUT_MS. A failed POST (network error, timeout, any
 * status but 2xx) is tried again after a backoff that starts at
 * DEAD_LETTER_WEBHOOK_BACKOFF_MS_INITIAL and doubles up to DEAD_LETTER_WEBHOOK_BACKOFF_MS_MAX,
 * up to DEAD_LETTER_WEBHOOK_ATTEMPTS_MAX attempts; then the notice is dropped and counted.
 * Bounded memory: notices for a (stream, subscription) already waiting are merged (counts
 * added, the latest time kept), and at most DEAD_LETTER_WEBHOOK_QUEUE_MAX wait; past that a
 * notice is dropped and counted. The backoff runs on the injected clock, so tests move it.
 *
 * Delivery is at least once at best effort: a POST that timed out may have been received,
 * and its retry is a second copy; dead letters themselves stay in the broker whatever happens
 * to the notice.
 */
import {
  DEAD_LETTER_WEBHOOK_ATTEMPTS_MAX,
  DEAD_LETTER_WEBHOOK_BACKOFF_MS_INITIAL,
  DEAD_LETTER_WEBHOOK_BACKOFF_MS_MAX,
  DEAD_LETTER_WEBHOOK_QUEUE_MAX,
  DEAD_LETTER_WEBHOOK_TIMEOUT_MS,
} from '../limits.js';
import { WeirError, systemClock, type Clock, type Timer } from '../util/index.js';
import type { DeadLetterArrival } from './dead-letter-arrivals.js';

export interface DeadLetterWebhookOptions {
  /** http: or https: URL the notices are POSTed to. */
  readonly url: string;
  /** Sent with every POST (an authorization token, say). */
  readonly headers?: Readonly<Record<string, string>>;
}

export interface DeadLetterWebhookStats {
  /** Notices the webhook accepted (2xx). */
  readonly delivered: number;
  /** Attempts that failed (each retry that was needed counts once). */
  readonly failedAttempts: number;
  /** Notices given up: out of attempts, or the queue was full. */
  readonly dropped: number;
  /** Notices waiting, the one under way included. */
  readonly waiting: number;
}

/** Checks the option once, with a message naming the bad field. */
export function validateDeadLetterWebhookOptions(options: DeadLetterWebhookOptions): void {
  let url: URL;
  try {
    url = new URL(options.url);
  } catch {
    throw new WeirError('INVALID_ARGUMENT', `deadLetterWebhook.url is not a URL: ${options.url}`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new WeirError(
      'INVALID_ARGUMENT',
      `deadLetterWebhook.url must be http: or https:, not ${url.protocol}`,
    );
  }
  for (const [name, value] of Object.entries(options.headers ?? {})) {
    if (typeof value !== 'string') {
      throw new WeirError('INVALID_ARGUMENT', `deadLetterWebhook.headers.${name} is not a string`);
    }
  }
}

interface Notice {
  readonly stream: string;
  readonly subscription: string;
  readonly subject: string;
  count: number;
  atMs: number;
}

export class DeadLetterWebhook {
  readonly #url: string;
  readonly #headers: Readonly<Record<string, string>>;
  readonly #clock: Clock;
  /** Waiting notices by stream and subscription, oldest first. */
  readonly #queue = new Map<string, Notice>();
  #current: Notice | null = null;
  #attempt = 0;
  #sending: Promise<void> | null = null;
  #abort: AbortController | null = null;
  #backoff: Timer | null = null;
  #closed = false;
  #delivered = 0;
  #failedAttempts = 0;
  #dropped = 0;

  constructor(options: DeadLetterWebhookOptions, clock: Clock = systemClock) {
    validateDeadLetterWebhookOptions(options);
    this.#url = options.url;
    this.#headers = { ...options.headers };
    this.#clock = clock;
  }

  get stats(): DeadLetterWebhookStats {
    return {
      delivered: this.#delivered,
      failedAttempts: this.#failedAttempts,
      dropped: this.#dropped,
      waiting: this.#queue.size + (this.#current === null ? 0 : 1),
    };
  }

  /** Queues a notice of these arrivals; returns at once. */
  notify(arrival: DeadLetterArrival): void {
    if (this.#closed || arrival.count <= 0) return;
    const key = `${arrival.stream}\u0000${arrival.subscription}`;
    const waiting = this.#queue.get(key);
    if (waiting) {
      waiting.count += arrival.count;
      waiting.atMs = Math.max(waiting.atMs, arrival.atMs);
    } else if (this.#queue.size >= DEAD_LETTER_WEBHOOK_QUEUE_MAX) {
      this.#dropped++;
      return;
    } else {
      this.#queue.set(key, { ...arrival });
    }
    this.#next();
  }

  /** Starts the next attempt unless one is under way or waiting for its backoff. */
  #next(): void {
    if (this.#closed || this.#sending !== null || this.#backoff !== null) return;
    if (this.#current === null) {
      const first = this.#queue.entries().next();
      if (first.done === true) return;
      const [key, notice] = first.value;
      this.#queue.delete(key);
      this.#current = notice;
      this.#attempt = 0;
    }
    const notice = this.#current;
    this.#attempt++;
    this.#sending = this.#post(notice).then(
      (accepted) => this.#settle(accepted),
      () => this.#settle(false),
    );
  }

  #settle(accepted: boolean): void {
    this.#sending = null;
    this.#abort = null;
    if (this.#closed) return;
    if (accepted) {
      this.#delivered++;
      this.#current = null;
      this.#next();
      return;
    }
    this.#failedAttempts++;
    if (this.#attempt >= DEAD_LETTER_WEBHOOK_ATTEMPTS_MAX) {
      this.#dropped++;
      this.#current = null;
      this.#next();
      return;
    }
    const delayMs = Math.min(
      DEAD_LETTER_WEBHOOK_BACKOFF_MS_MAX,
      DEAD_LETTER_WEBHOOK_BACKOFF_MS_INITIAL * 2 ** (this.#attempt - 1),
    );
    this.#backoff = this.#clock.setTimer(
      delayMs,
      () => {
        this.#backoff = null;
        this.#next();
      },
      { unref: true },
    );
  }

  /** One POST; true when the webhook answered 2xx. */
  async #post(notice: Notice): Promise<boolean> {
    const abort = new AbortController();
    this.#abort = abort;
    const response = await fetch(this.#url, {
      method: 'POST',
      headers: { ...this.#headers, 'content-type': 'application/json' },
      body: JSON.stringify({
        stream: notice.stream,
        subscription: notice.subscription,
        subject: notice.subject,
        count: notice.count,
        at: new Date(notice.atMs).toISOString(),
      }),
      signal: AbortSignal.any([abort.signal, AbortSignal.timeout(DEAD_LETTER_WEBHOOK_TIMEOUT_MS)]),
      redirect: 'error',
    });
    // The answer's body is not read: cancelling it lets the connection go.
    await response.body?.cancel();
    return response.status >= 200 && response.status < 300;
  }

  /** Stops: cancels the backoff, aborts the POST under way and waits for it to end. */
  async close(): Promise<void> {
    this.#closed = true;
    this.#backoff?.cancel();
    this.#backoff = null;
    this.#abort?.abort();
    await this.#sending;
    this.#queue.clear();
    this.#current = null;
  }
}
