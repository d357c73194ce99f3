/**
 * Dead letters: a message that ran out of deliveries, was terminated, or expired (when the
 * subscription asks) is published to the subscription's dead-letter subject, as a normal
 * publish (so it lands in every stream capturing that subject), with the original key, body,
 * user headers, priority, replyTo and correlationId, plus headers that say why:
 *
 *   weir-dead-reason              max-deliveries | terminated | expired | overflow
 *   weir-deliveries               how many times it was delivered
 *   weir-dead-error               the term() reason or the last failure (nack, lease expiry)
 *   weir-origin-stream / -subject / -partition / -offset   where it came from
 *   weir-origin-subscription      the subscription it died in (absent on older dead letters)
 *   weir-dead-first-failure-ms / weir-dead-last-failure-ms when it first / last failed
 *
 * `fromDeadLetter` reads them back (list, redrive); `originalHeaders` strips them again.
 * A dead letter re-driven to its subscription carries `:for-subscription` (message-codec.ts):
 * `isForAnotherSubscription` tells every other durable subscription of the stream to pass over it.
 */
import {
  DEAD_LETTER_HEADERS,
  type DeadLetter,
  type DeadLetterReason,
  type Headers,
} from '../protocol/index.js';
import { DEAD_LETTER_ERROR_BYTES_MAX } from '../limits.js';
import { reencode, type EncodedMessage, type StoredMessage } from './message-codec.js';
import type { Entry } from './partition-cursor.js';

const DEAD_LETTER_HEADER_NAMES: ReadonlySet<string> = new Set(Object.values(DEAD_LETTER_HEADERS));
const REASONS: readonly DeadLetterReason[] = [
  'max-deliveries',
  'terminated',
  'expired',
  'overflow',
];

function truncate(text: string): string {
  if (Buffer.byteLength(text) <= DEAD_LETTER_ERROR_BYTES_MAX) return text;
  return Buffer.from(text)
    .subarray(0, DEAD_LETTER_ERROR_BYTES_MAX)
    .toString()
    .replace(/\uFFFD+$/u, '');
}

/** The publish that dead-letters `entry` of subscription `subscription` of `stream` to `target`. */
export function deadLetterFor(
  entry: Entry,
  stream: string,
  subscription: string,
  target: string,
  reason: DeadLetterReason,
  error: string | null,
): EncodedMessage {
  const message = entry.message;
  const headers: Record<string, string> = { ...originalHeaders(message.headers) };
  headers[DEAD_LETTER_HEADERS.reason] = reason;
  headers[DEAD_LETTER_HEADERS.deliveries] = String(entry.deliveryCount);
  const text = error ?? entry.lastError;
  if (text !== null) headers[DEAD_LETTER_HEADERS.error] = truncate(text);
  headers[DEAD_LETTER_HEADERS.originStream] = stream;
  headers[DEAD_LETTER_HEADERS.originSubject] = message.subject;
  headers[DEAD_LETTER_HEADERS.originPartition] = String(entry.partition);
  headers[DEAD_LETTER_HEADERS.originOffset] = String(entry.offset);
  headers[DEAD_LETTER_HEADERS.originSubscription] = subscription;
  if (entry.firstFailureAt > 0) {
    headers[DEAD_LETTER_HEADERS.firstFailureMs] = String(entry.firstFailureAt);
    headers[DEAD_LETTER_HEADERS.lastFailureMs] = String(entry.lastFailureAt);
  }
  return reencode(message, target, headers);
}

/** User headers without the dead-letter ones. */
export function originalHeaders(headers: Headers): Headers {
  let result: Record<string, string> | null = null;
  for (const name in headers) {
    if (DEAD_LETTER_HEADER_NAMES.has(name)) {
      result ??= { ...headers };
      delete result[name];
    }
  }
  return result ?? headers;
}

/** Reads a stored message as a dead letter; null if it does not carry the dead-letter headers. */
export function fromDeadLetter(
  stream: string,
  partition: number,
  message: StoredMessage,
): DeadLetter | null {
  const headers = message.headers;
  const reason = headers[DEAD_LETTER_HEADERS.reason] as DeadLetterReason | undefined;
  const originStream = headers[DEAD_LETTER_HEADERS.originStream];
  const originSubject = headers[DEAD_LETTER_HEADERS.originSubject];
  if (reason === undefined || !REASONS.includes(reason) || !originStream || !originSubject)
    return null;
  return {
    stream,
    partition,
    offset: message.offset,
    subject: message.subject,
    key: message.key,
    headers: originalHeaders(headers),
    body: message.body,
    timestamp: message.timestamp,
    reason,
    deliveries: Number(headers[DEAD_LETTER_HEADERS.deliveries] ?? 0),
    error: headers[DEAD_LETTER_HEADERS.error] ?? null,
    origin: {
      stream: originStream,
      subject: originSubject,
      partition: Number(headers[DEAD_LETTER_HEADERS.originPartition] ?? -1),
      offset: Number(headers[DEAD_LETTER_HEADERS.originOffset] ?? -1),
      subscription: headers[DEAD_LETTER_HEADERS.originSubscription] || null,
    },
  };
}

/**
 * True when `message` was re-driven to another durable subscription than `subscription`, which
 * then passes over it. Ephemeral subscriptions (taps, live tails, the console's message peek)
 * see a stream as it is stored, re-driven copies included.
 */
export function isForAnotherSubscription(
  message: StoredMessage,
  subscription: string,
  durable: boolean,
): boolean {
  return durable && message.forSubscription !== null && message.forSubscription !== subscription;
}
