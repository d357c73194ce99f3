/**
 * When a stored message has expired for the subscriptions of one stream: at its own expiry
 * (`:expires-at`, the publish's ttlMs, fixed when it was encoded), or once it is older than
 * the stream's ttlMs or maxAgeMs, counted from the time it was stored.
 *
 * The stream's limits are applied when a subscription reads the message, not written into it:
 * one publish is encoded once and may be stored in several streams (fan-out), each with its
 * own ttlMs, so read time gives each stream its expiry without a copy per stream; and a ttlMs
 * or maxAgeMs set later by streams.update applies to what is stored already. The cost: a
 * limit cleared by an update brings messages back that it had not yet expired.
 */
export interface ExpiryLimits {
  readonly maxAgeMs: number | null;
  readonly ttlMs: number | null;
}

export interface ExpiringMessage {
  /** When the stream stored it (ms since the epoch). */
  readonly timestamp: number;
  /** Its own expiry (ms since the epoch); 0: none. */
  readonly expiresAt: number;
}

export function isExpired(message: ExpiringMessage, limits: ExpiryLimits, now: number): boolean {
  if (message.expiresAt !== 0 && message.expiresAt <= now) return true;
  if (limits.ttlMs !== null && message.timestamp + limits.ttlMs <= now) return true;
  return limits.maxAgeMs !== null && message.timestamp < now - limits.maxAgeMs;
}
