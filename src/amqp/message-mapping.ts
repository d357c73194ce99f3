/**
 * How AMQP queues and messages correspond to Weir's streams and messages (docs/amqp.md,
 * "Subjects and routing keys"):
 *
 * - The queue Q is the Weir stream S (and its shared durable subscription S), where S is Q
 *   when Q is a valid stream name (letters, digits, '_', '-', ≤ 64), else Q with every other
 *   character replaced by '-', cut, and 8 hex digits of its SHA-256 appended. S captures S and
 *   S.> with work-queue retention: the same shape as `mq.queue(S)` / `weir queue add S`, so a
 *   Weir queue and an AMQP queue of one name are one queue.
 * - A message routed to Q is published on subject S through the default exchange (whose
 *   routing key is Q itself), else on S.<routing key> when the routing key is a valid subject tail (non-empty words without blanks, '*' or '>'), else on S. Only S
 *   captures either among queue streams; a Weir stream capturing `S.>` or `>` sees it too.
 * - Headers kept on the Weir message: amqp-exchange, amqp-routing-key, and amqp-properties
 *   (the AMQP content header's property bytes, base64) so that an AMQP consumer gets the
 *   properties exactly as published; string-valued AMQP headers are also copied as plain Weir
 *   headers (for Weir consumers, header filters and the console).
 * - A message published by Weir's SDK has no amqp-* headers: an AMQP consumer gets exchange
 *   "", the subject as routing key, and properties made from the Weir message (its headers
 *   as a table of strings, correlation-id, message-id from its id, priority, timestamp).
 */
import { createHash } from 'node:crypto';
import type { BasicProperties } from './codec/index.js';
import {
  HEADER_NAME_BYTES_MAX,
  NAME_BYTES_MAX,
  SUBJECT_BYTES_MAX,
  SUBJECT_TOKENS_MAX,
} from '../limits.js';
import type { Message } from '../protocol/index.js';

export const AMQP_HEADERS = {
  exchange: 'amqp-exchange',
  routingKey: 'amqp-routing-key',
  properties: 'amqp-properties',
} as const;

const STREAM_NAME = /^[A-Za-z0-9_-]+$/;
const HASH_HEX_DIGITS = 8;
const SUBJECT_WORD_FORBIDDEN = /[\s*>]/u;

/** The Weir stream that holds the AMQP queue `queue`. */
export function streamNameFor(queue: string): string {
  if (queue.length <= NAME_BYTES_MAX && STREAM_NAME.test(queue)) return queue;
  const hash = createHash('sha256').update(queue).digest('hex').slice(0, HASH_HEX_DIGITS);
  const cleaned = queue
    .replace(/[^A-Za-z0-9_-]/gu, '-')
    .slice(0, NAME_BYTES_MAX - HASH_HEX_DIGITS - 1);
  return `${cleaned}-${hash}`;
}

/** The subject a message routed to `stream` with `routingKey` is published on. */
export function subjectFor(stream: string, routingKey: string): string {
  if (routingKey.length === 0) return stream;
  if (stream.length + 1 + routingKey.length > SUBJECT_BYTES_MAX) return stream;
  const words = routingKey.split('.');
  if (words.length + 1 > SUBJECT_TOKENS_MAX) return stream;
  for (const word of words) {
    if (word.length === 0 || SUBJECT_WORD_FORBIDDEN.test(word)) return stream;
  }
  if (Buffer.byteLength(routingKey) + stream.length + 1 > SUBJECT_BYTES_MAX) return stream;
  return `${stream}.${routingKey}`;
}

/** Weir headers longer than this are not copied from an AMQP headers table (they stay in amqp-properties). */
const COPIED_HEADER_BYTES_MAX = 1024;
/** At most this many AMQP headers are copied as Weir headers. */
const COPIED_HEADERS_MAX = 64;

/** The Weir headers for an AMQP message (see the file header). */
export function weirHeaders(
  exchange: string,
  routingKey: string,
  propertyBytes: Uint8Array,
  properties: BasicProperties,
): Record<string, string> {
  const headers: Record<string, string> = {};
  const table = properties.headers;
  if (table !== undefined) {
    let copied = 0;
    for (const [name, value] of Object.entries(table)) {
      if (copied >= COPIED_HEADERS_MAX) break;
      if (typeof value !== 'string' || name.startsWith('amqp-') || name.startsWith('weir-'))
        continue;
      if (
        name.length === 0 ||
        value.length > COPIED_HEADER_BYTES_MAX ||
        name.length > HEADER_NAME_BYTES_MAX
      )
        continue;
      headers[name] = value;
      copied++;
    }
  }
  headers[AMQP_HEADERS.exchange] = exchange;
  headers[AMQP_HEADERS.routingKey] = routingKey;
  // Two bytes of zero flags: no property at all.
  if (propertyBytes.length > 2) {
    headers[AMQP_HEADERS.properties] = Buffer.from(
      propertyBytes.buffer,
      propertyBytes.byteOffset,
      propertyBytes.length,
    ).toString('base64');
  }
  return headers;
}

/** The exchange and routing key an AMQP consumer sees for `message`. */
export function deliveryAddress(message: Message): { exchange: string; routingKey: string } {
  const headers = message.headers;
  const exchange = headers[AMQP_HEADERS.exchange];
  const routingKey = headers[AMQP_HEADERS.routingKey];
  return {
    exchange: exchange ?? '',
    routingKey: routingKey ?? message.subject,
  };
}

/** Properties for a message that came from Weir's SDK (no amqp-properties). */
export function propertiesFromWeir(message: Message): BasicProperties {
  const table: Record<string, string> = {};
  let any = false;
  for (const [name, value] of Object.entries(message.headers)) {
    table[name] = value;
    any = true;
  }
  return {
    ...(any ? { headers: table } : {}),
    ...(message.correlationId === null ? {} : { correlationId: message.correlationId }),
    ...(message.id === null ? {} : { messageId: message.id }),
    ...(message.priority > 0 ? { priority: message.priority } : {}),
    timestamp: Math.floor(message.timestamp / 1000),
  };
}

/** The property bytes of `message`'s amqp-properties header, or null. */
export function storedPropertyBytes(message: Message): Uint8Array | null {
  const encoded = message.headers[AMQP_HEADERS.properties];
  return encoded === undefined ? null : Buffer.from(encoded, 'base64');
}
