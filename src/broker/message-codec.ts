/**
 * How a message is kept in a partition log. The storage record's `key` is the message key
 * (UTF-8), its `body` the message body, its `timestamp` the time the broker accepted it, and
 * its headers the user headers plus the message's system fields under reserved names that
 * start with ':' (user headers may not):
 *
 *   :subject         the subject it was published to (always present)
 *   :id              producer id, for de-duplication
 *   :deliver-at      not delivered before this time (ms since the epoch, decimal)
 *   :expires-at      never delivered at or after this time (ms since the epoch, decimal)
 *   :priority        1..9 (absent: 0)
 *   :reply-to        subject a responder replies to
 *   :correlation-id  ties a reply to its request
 *   :for-subscription  a dead letter re-driven to the subscription it died in: every other
 *                    durable subscription of the stream passes over it
 *   :scheduled       on a message the scheduler moved into the partition log when it fell due
 *                    (scheduler.ts): its offset in the stream partition's schedule (decimal).
 *                    The record's timestamp is then the move time; :deliver-at stays.
 *   :schema-version  the version of the stream's schema the body was checked against (decimal;
 *                    absent: the stream had no schema). Set per stream, as each stream has its
 *                    own schema; delivered as the header `weir-schema-version`.
 *   :tx              on a message a transaction published: `<transaction id>/<publish index>`
 *                    (transactions.ts), how recovery after a crash finds which of a committed
 *                    transaction's publishes a partition already holds. Not delivered.
 *
 * These names are part of the on-disk format; new fields get new names, old ones never change
 * meaning. A reader ignores system names it does not know.
 */
import {
  PUBLISH_OPTION_NAMES,
  type Body,
  type Headers,
  type PublishOptions,
} from '../protocol/index.js';
import type { RecordInput, StoredRecord } from '../storage/index.js';
import {
  DELAY_MS_MAX,
  HEADER_NAME_BYTES_MAX,
  MESSAGE_HEADERS_MAX,
  MESSAGE_ID_BYTES_MAX,
  MESSAGE_KEY_BYTES_MAX,
  PRIORITY_MAX,
} from '../limits.js';
import { WeirError } from '../util/index.js';
import { validateSubject } from './subject.js';
import { invalid } from './option-checks.js';

export const SYSTEM_HEADER_PREFIX = ':';
const SUBJECT = ':subject';
const ID = ':id';
const DELIVER_AT = ':deliver-at';
const EXPIRES_AT = ':expires-at';
const PRIORITY = ':priority';
const REPLY_TO = ':reply-to';
const CORRELATION_ID = ':correlation-id';
const FOR_SUBSCRIPTION = ':for-subscription';
const SCHEDULED = ':scheduled';
const SCHEMA_VERSION = ':schema-version';
const TRANSACTION = ':tx';

/** The header a delivered message shows its :schema-version in (consumers read it). */
export const SCHEMA_VERSION_HEADER = 'weir-schema-version';

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const EMPTY_HEADERS: Headers = Object.freeze({});

/** A message read back from a log (system fields split out, user headers only in `headers`). */
export interface StoredMessage {
  readonly offset: number;
  readonly timestamp: number;
  readonly subject: string;
  readonly key: string | null;
  readonly headers: Headers;
  readonly body: Uint8Array;
  readonly id: string | null;
  /** 0: no delay. */
  readonly deliverAt: number;
  /** 0: never expires. */
  readonly expiresAt: number;
  readonly priority: number;
  readonly replyTo: string | null;
  readonly correlationId: string | null;
  /** Only this subscription takes it (a re-driven dead letter); null: every subscription. */
  readonly forSubscription: string | null;
}

/** A publish ready to append: the record, and what routing and checks need. */
export interface EncodedMessage {
  readonly record: RecordInput;
  readonly subject: string;
  readonly key: string | null;
  readonly id: string | null;
  /** Key + user headers + body, compared with a stream's maxMessageBytes. */
  readonly bytes: number;
  /** Not delivered before this time (ms since the epoch); 0: no delay. */
  readonly deliverAt: number;
}

export function encodeBody(body: Body): Uint8Array {
  if (body instanceof Uint8Array) return body;
  if (typeof body === 'string') return encoder.encode(body);
  let text: string | undefined;
  try {
    text = JSON.stringify(body);
  } catch (error) {
    throw new WeirError('INVALID_ARGUMENT', 'body is not JSON-serialisable', { cause: error });
  }
  if (text === undefined) throw invalid('body', 'must be a Uint8Array, a string or a JSON value');
  return encoder.encode(text);
}

function boundedString(value: unknown, field: string, maxBytes: number): string {
  if (typeof value !== 'string' || value.length === 0)
    throw invalid(field, 'must be a non-empty string');
  if (value.length * 3 > maxBytes && encoder.encode(value).length > maxBytes) {
    throw invalid(field, `is longer than ${maxBytes} bytes`);
  }
  return value;
}

function timeOption(value: unknown, field: string): number {
  if (
    typeof value !== 'number' ||
    !Number.isSafeInteger(value) ||
    value < 0 ||
    value > DELAY_MS_MAX
  ) {
    throw invalid(field, `must be an integer in 0..${DELAY_MS_MAX}`);
  }
  return value;
}

/**
 * Validates a publish and encodes it once (the same record goes to every stream that
 * captures the subject). `now` is the broker's clock, used for delayMs / ttlMs.
 */
export function encodeMessage(
  subject: string,
  body: Body,
  options: PublishOptions | undefined,
  now: number,
): EncodedMessage {
  validateSubject(subject);
  const bodyBytes = encodeBody(body);
  const headers: Record<string, string> = { [SUBJECT]: subject };
  let bytes = bodyBytes.length;
  let key: string | null = null;
  let keyBytes: Uint8Array | null = null;
  let id: string | null = null;
  let deliverAtMs = 0;
  if (options !== undefined) {
    if (typeof options !== 'object' || options === null)
      throw invalid('publish options', 'must be an object');
    for (const name in options) {
      if (
        !PUBLISH_OPTION_NAMES.has(name) &&
        (options as Record<string, unknown>)[name] !== undefined
      ) {
        throw invalid(
          `publish options.${name}`,
          `is not an option (known: ${[...PUBLISH_OPTION_NAMES].join(', ')})`,
        );
      }
    }
    if (options.key !== undefined) {
      key = boundedString(options.key, 'key', MESSAGE_KEY_BYTES_MAX);
      keyBytes = encoder.encode(key);
      bytes += keyBytes.length;
    }
    if (options.headers !== undefined) bytes += copyUserHeaders(options.headers, headers);
    if (options.id !== undefined) {
      id = boundedString(options.id, 'id', MESSAGE_ID_BYTES_MAX);
      headers[ID] = id;
    }
    if (options.delayMs !== undefined && options.deliverAt !== undefined) {
      throw invalid('delayMs', 'and deliverAt cannot both be given');
    }
    if (options.delayMs !== undefined) {
      const delayMs = timeOption(options.delayMs, 'delayMs');
      if (delayMs > 0) {
        deliverAtMs = now + delayMs;
        headers[DELIVER_AT] = String(deliverAtMs);
      }
    }
    if (options.deliverAt !== undefined) {
      const deliverAt = options.deliverAt;
      if (
        typeof deliverAt !== 'number' ||
        !Number.isSafeInteger(deliverAt) ||
        deliverAt < 0 ||
        deliverAt > now + DELAY_MS_MAX
      ) {
        throw invalid(
          'deliverAt',
          `must be a time in ms since the epoch, at most ${DELAY_MS_MAX} ms from now`,
        );
      }
      if (deliverAt > now) {
        deliverAtMs = deliverAt;
        headers[DELIVER_AT] = String(deliverAt);
      }
    }
    if (options.ttlMs !== undefined) {
      const ttlMs = timeOption(options.ttlMs, 'ttlMs');
      if (ttlMs === 0) throw invalid('ttlMs', 'must be at least 1');
      headers[EXPIRES_AT] = String(now + ttlMs);
    }
    if (options.priority !== undefined) {
      const priority = options.priority;
      if (
        typeof priority !== 'number' ||
        !Number.isInteger(priority) ||
        priority < 0 ||
        priority > PRIORITY_MAX
      ) {
        throw invalid('priority', `must be an integer in 0..${PRIORITY_MAX}`);
      }
      if (priority > 0) headers[PRIORITY] = String(priority);
    }
    if (options.replyTo !== undefined)
      headers[REPLY_TO] = validateSubject(options.replyTo, 'replyTo');
    if (options.correlationId !== undefined) {
      headers[CORRELATION_ID] = boundedString(
        options.correlationId,
        'correlationId',
        MESSAGE_ID_BYTES_MAX,
      );
    }
  }
  return {
    record: { key: keyBytes, headers, body: bodyBytes },
    subject,
    key,
    id,
    bytes,
    deliverAt: deliverAtMs,
  };
}

/** Copies user headers into `target`, checking names; returns their size in bytes. */
function copyUserHeaders(value: unknown, target: Record<string, string>): number {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw invalid('headers', 'must be an object of header name -> string value');
  }
  let count = 0;
  let bytes = 0;
  for (const [name, headerValue] of Object.entries(value as Record<string, unknown>)) {
    if (++count > MESSAGE_HEADERS_MAX)
      throw invalid('headers', `hold more than ${MESSAGE_HEADERS_MAX} entries`);
    if (name.length === 0 || name.startsWith(SYSTEM_HEADER_PREFIX)) {
      throw invalid(
        'headers',
        `name ${JSON.stringify(name)} is empty or starts with the reserved '${SYSTEM_HEADER_PREFIX}'`,
      );
    }
    if (name.length > HEADER_NAME_BYTES_MAX)
      throw invalid('headers', `name "${name.slice(0, 32)}…" is too long`);
    if (typeof headerValue !== 'string') throw invalid(`headers.${name}`, 'must be a string');
    target[name] = headerValue;
    bytes += name.length + headerValue.length;
  }
  return bytes;
}

function integerHeader(value: string | undefined): number {
  if (value === undefined) return 0;
  const number = Number(value);
  return Number.isSafeInteger(number) ? number : 0;
}

/**
 * Decodes a stored record. `copy` detaches key and body from the read buffer, so that a
 * message kept in memory does not keep the whole buffer of its read alive.
 */
export function decodeMessage(record: StoredRecord, copy: boolean): StoredMessage {
  const stored = record.headers ?? EMPTY_HEADERS;
  let headers: Record<string, string> | null = null;
  let subject = '';
  let id: string | null = null;
  let deliverAt = 0;
  let expiresAt = 0;
  let priority = 0;
  let replyTo: string | null = null;
  let correlationId: string | null = null;
  let forSubscription: string | null = null;
  for (const name in stored) {
    const value = stored[name]!;
    if (name.charCodeAt(0) !== 58 /* ':' */) {
      (headers ??= {})[name] = value;
      continue;
    }
    switch (name) {
      case SUBJECT:
        subject = value;
        break;
      case ID:
        id = value;
        break;
      case DELIVER_AT:
        deliverAt = integerHeader(value);
        break;
      case EXPIRES_AT:
        expiresAt = integerHeader(value);
        break;
      case PRIORITY:
        priority = Math.min(PRIORITY_MAX, Math.max(0, integerHeader(value)));
        break;
      case REPLY_TO:
        replyTo = value;
        break;
      case CORRELATION_ID:
        correlationId = value;
        break;
      case FOR_SUBSCRIPTION:
        forSubscription = value;
        break;
      case SCHEMA_VERSION:
        // Stored after the user headers: it wins over a producer's own weir-schema-version.
        (headers ??= {})[SCHEMA_VERSION_HEADER] = value;
        break;
      default:
        break; // a system field of a later version
    }
  }
  return {
    offset: record.offset,
    timestamp: record.timestamp,
    subject,
    key: record.key === null ? null : decoder.decode(record.key),
    headers: headers ?? EMPTY_HEADERS,
    body: copy ? record.body.slice() : record.body,
    id,
    deliverAt,
    expiresAt,
    priority,
    replyTo,
    correlationId,
    forSubscription,
  };
}

/**
 * The record that republishes a stored message elsewhere (dead letters, redrive);
 * `forSubscription` names the only subscription that is to take it.
 */
export function reencode(
  message: StoredMessage,
  subject: string,
  headers: Headers,
  forSubscription: string | null = null,
): EncodedMessage {
  const recordHeaders: Record<string, string> = { [SUBJECT]: subject, ...headers };
  if (forSubscription !== null) recordHeaders[FOR_SUBSCRIPTION] = forSubscription;
  if (message.priority > 0) recordHeaders[PRIORITY] = String(message.priority);
  if (message.replyTo !== null) recordHeaders[REPLY_TO] = message.replyTo;
  if (message.correlationId !== null) recordHeaders[CORRELATION_ID] = message.correlationId;
  let bytes = message.body.length;
  for (const name in headers) bytes += name.length + headers[name]!.length;
  const keyBytes = message.key === null ? null : encoder.encode(message.key);
  if (keyBytes) bytes += keyBytes.length;
  return {
    record: { key: keyBytes, headers: recordHeaders, body: message.body },
    subject,
    key: message.key,
    id: null,
    bytes,
    deliverAt: 0,
  };
}

/** The record as one stream stores it: with the version of that stream's schema. */
export function withSchemaVersion(record: RecordInput, version: number): RecordInput {
  return { ...record, headers: { ...record.headers, [SCHEMA_VERSION]: String(version) } };
}

/** A stored record's :deliver-at (0: none), without decoding the rest. */
export function storedDeliverAt(record: StoredRecord): number {
  return integerHeader(record.headers?.[DELIVER_AT]);
}

/** A partition-log record's :scheduled (its schedule offset), or -1 if the scheduler did not move it. */
export function storedScheduledOffset(record: StoredRecord): number {
  const value = record.headers?.[SCHEDULED];
  if (value === undefined) return -1;
  const offset = Number(value);
  return Number.isSafeInteger(offset) && offset >= 0 ? offset : -1;
}

/**
 * The record a due schedule record becomes in the partition log: the same key, body, user and
 * system headers, plus :scheduled; timestamped `now` (when it entered the stream).
 */
export function movedRecord(record: StoredRecord, now: number): RecordInput {
  return {
    timestamp: now,
    key: record.key,
    headers: { ...record.headers, [SCHEDULED]: String(record.offset) },
    body: record.body,
  };
}

/** The priority (0..PRIORITY_MAX) of a record, stored or about to be, without decoding the rest. */
export function recordPriority(record: { readonly headers?: RecordInput['headers'] }): number {
  const value = record.headers?.[PRIORITY];
  if (value === undefined) return 0;
  return Math.min(PRIORITY_MAX, Math.max(0, integerHeader(value)));
}

/** The record as a transaction stores it: tagged with `<transaction id>/<publish index>`. */
export function withTransaction(
  record: RecordInput,
  tag: string,
  timestamp: number,
): RecordInput & { readonly timestamp: number } {
  return { ...record, timestamp, headers: { ...record.headers, [TRANSACTION]: tag } };
}

/** A stored record's :tx tag, or null if no transaction published it. */
export function storedTransaction(record: StoredRecord): string | null {
  return record.headers?.[TRANSACTION] ?? null;
}

/** The producer id of a record about to be stored, without decoding the rest. */
export function recordId(record: RecordInput): string | null {
  return record.headers?.[ID] ?? null;
}

/** The producer id of a stored record, without decoding the rest. */
export function storedId(record: StoredRecord): string | null {
  return record.headers?.[ID] ?? null;
}

export function decodeText(bytes: Uint8Array): string {
  return decoder.decode(bytes);
}
