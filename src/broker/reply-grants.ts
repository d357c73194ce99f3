/**
 * Reply grants (NATS' allow_responses): a client that is not admin may publish to an inbox
 * subject (`_INBOX.…`) only to answer a request one of its consumers was delivered. Each such
 * delivery grants the client one reply to (replyTo, correlationId) until the request's
 * deadline (its `weir-deadline` header, which `request` sets); the reply uses the grant up.
 * A redelivery of the same request grants it again (the previous holder's lease passed on).
 *
 * Bounded: at most REPLY_GRANTS_PER_CLIENT_MAX per client. Grants sit in a Map in the order
 * they were given, which is nearly their deadline order (deadlines are at most
 * REQUEST_TIMEOUT_MS_MAX away), so expired ones are dropped from the front as new ones come,
 * and when the map is full the oldest grant goes: a client that holds that many unanswered
 * requests loses the right to answer its oldest, never the broker its memory.
 *
 * Concurrency: used by one InProcessClient, synchronously (no await between check and use).
 */
import { REQUEST_HEADERS, type Headers } from '../protocol/index.js';
import { REPLY_GRANTS_PER_CLIENT_MAX, REQUEST_TIMEOUT_MS_MAX } from '../limits.js';
import type { Clock } from '../util/index.js';

function keyOf(replyTo: string, correlationId: string | null): string {
  // A newline cannot occur in a subject (subject.ts forbids whitespace in tokens).
  return `${replyTo}\n${correlationId ?? ''}`;
}

export class ReplyGrants {
  /** Grant key -> when it expires (broker clock, ms). */
  readonly #grants = new Map<string, number>();
  readonly #clock: Clock;

  constructor(clock: Clock) {
    this.#clock = clock;
  }

  get size(): number {
    return this.#grants.size;
  }

  /** A request with `replyTo` was delivered: one reply to it is allowed until its deadline. */
  grant(replyTo: string, correlationId: string | null, headers: Headers): void {
    const now = this.#clock.now();
    const latest = now + REQUEST_TIMEOUT_MS_MAX;
    const deadline = Number(headers[REQUEST_HEADERS.deadline]);
    const expiresAt = Number.isFinite(deadline) ? Math.min(deadline, latest) : latest;
    if (expiresAt <= now) return; // its requester has given up: a reply would be dropped
    const key = keyOf(replyTo, correlationId);
    this.#grants.delete(key); // to the back: given again now
    this.#prune(now);
    while (this.#grants.size >= REPLY_GRANTS_PER_CLIENT_MAX) {
      this.#grants.delete(this.#grants.keys().next().value!);
    }
    this.#grants.set(key, expiresAt);
  }

  /** Uses up the grant for this reply; false if there is none (or it expired). */
  use(replyTo: string, correlationId: string | null): boolean {
    const key = keyOf(replyTo, correlationId);
    const expiresAt = this.#grants.get(key);
    if (expiresAt === undefined) return false;
    this.#grants.delete(key);
    return expiresAt > this.#clock.now();
  }

  /** Drops expired grants from the front (amortised: each grant is dropped once). */
  #prune(now: number): void {
    for (const [key, expiresAt] of this.#grants) {
      if (expiresAt > now) return;
      this.#grants.delete(key);
    }
  }
}
