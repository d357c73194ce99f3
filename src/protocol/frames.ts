/**
 * Payload layouts of the frames (frame.ts has the header and the opcode table; types are
 * little-endian, strings UTF-8 with a u32 length, 0xFFFFFFFF = null; see codec.ts).
 *
 * HELLO            u16 version, string clientName, bytes|null credentials (below)
 * HELLO_OK         u16 version, string serverVersion, u32 heartbeatMs, u32 maxFrameBytes,
 *                  bytes|null serverSignature (SCRAM's; null for other credentials)
 * AUTH_CHALLENGE   string nonce (the client's followed by the server's), bytes salt,
 *                  u32 N, u32 r, u32 p (scrypt's cost)
 * AUTH_PROOF       bytes clientProof
 * ERROR            u16 code number, string code, string message
 * CALL             string method, string argumentsJson
 * RESULT           string resultJson
 * PUBLISH          u32 count, count × publish entry (below)
 * PUBLISH_RESULT   u32 count, count × (u8 0, u16 streamCount, streamCount × (string stream,
 *                  u32 partition, u64 offset, u8 duplicate) | u8 1, u16 code number, string message)
 * SUBSCRIBE        string stream, string optionsJson, u32 initialCredit
 * SUBSCRIBED       u32 consumerId, string subscriptionName
 * CREDIT           u32 consumerId, u32 credit
 * DELIVER          u32 consumerId, u32 count, count × (u32 deliveryToken, delivered message)
 * SETTLE           u32 consumerId, u32 count, count × (u8 kind, u32 partition, u64 offset,
 *                  u32 deliveryToken, f64 value (nack delay / extend ms; NaN: default),
 *                  string|null reason)
 * SETTLED          u32 count, count × (u8 0 | u8 1, u16 code number, string message)
 * UNSUBSCRIBE      u32 consumerId
 * CONSUMER_CLOSED  u32 consumerId, u16 code number, string message
 * REQUEST          publish entry, f64 timeoutMs
 * REPLY            delivered message
 *
 * publish entry:     string subject, string|null key, headers, u8 optionBits, then the present
 *                    options in bit order: 0 id (string), 1 delayMs (f64), 2 deliverAt (f64),
 *                    3 ttlMs (f64), 4 priority (u8), 5 replyTo (string), 6 correlationId
 *                    (string); then bytes body
 * delivered message: string subject, string|null key, headers, bytes body, u32 partition,
 *                    u64 offset, string|null id, u32 deliveryCount, f64 timestamp, u8 priority,
 *                    string|null replyTo, string|null correlationId
 * headers:           u16 count, count × (string name, string value)
 *
 * credentials (since protocol 5): null = none; u8 1, string token; u8 2, string user, string
 * clientNonce (base64url), a SCRAM client-first (scram.ts). Nothing else follows.
 *
 * deliveryToken (since protocol 2): numbers one consumer's deliveries, 1, 2, 3, … (u32,
 * wrapping past 0xFFFFFFFF to 1). A SETTLE entry carries the token of the delivery it
 * settles; the server refuses it with MESSAGE_SETTLED unless that delivery is the message's
 * current one on the consumer, so a settle of a delivery whose lease expired never settles
 * the redelivery that followed it (the embedded broker does the same with its own tokens).
 *
 * SETTLE kind 5, take (since protocol 3): the application received the delivery; its lease
 * starts then, not when DELIVER was written. value NaN, reason null; SETTLED answers it like
 * any entry (MESSAGE_SETTLED if the delivery is no longer current).
 *
 * SETTLE kind 6, release (protocol 6): the SDK hands back a delivery the application never
 * took (its circuit breaker opened): the broker offers it to others with its delivery count
 * unchanged. MESSAGE_SETTLED if it was taken or is no longer current. With deliveryToken 0
 * (no delivery has it) and partition 0, offset 0 it is the consumer's breaker report instead:
 * reason 'closed' | 'open' | 'half-open', value the deliveries it may hold in half-open; the
 * server's consumer then stops filling (open) or fills up to that (half-open).
 *
 * SETTLE kind 7, progress (protocol 6): reason the progress value's JSON text (at most
 * PROGRESS_VALUE_BYTES_MAX bytes), value NaN; records it and extends the lease by the
 * subscription's leaseMs; SETTLED once it was sent to the message's replyTo (if any).
 * INVALID_ARGUMENT for a bad value, MESSAGE_SETTLED if no longer current.
 */
import {
  errorCodeFromNumber,
  ERROR_CODES,
  isErrorCode,
  WeirError,
  type ErrorCode,
} from '../util/index.js';
import type { Headers, PublishOptions, PublishReceipt } from './api.js';
import { Reader, Writer } from './codec.js';
import type { ScryptCost } from './scram.js';

/**
 * `take` (since protocol 3) settles nothing: the application received the delivery, so its
 * lease starts now; until then the broker counts it delivered-not-taken (no lease, handed back
 * uncounted if the consumer goes). The SDK sends it batched with the acks, nobody waits on it.
 */
export const SETTLE_KINDS = {
  ack: 1,
  nack: 2,
  term: 3,
  extend: 4,
  take: 5,
  release: 6,
  progress: 7,
} as const;
/** A `release` entry with this token reports the consumer's breaker state (no delivery). */
export const BREAKER_REPORT_TOKEN = 0;
export type SettleKind = keyof typeof SETTLE_KINDS;
const SETTLE_KIND_BY_NUMBER = new Map<number, SettleKind>(
  (Object.keys(SETTLE_KINDS) as SettleKind[]).map((kind) => [SETTLE_KINDS[kind], kind]),
);

export interface PublishEntry {
  readonly subject: string;
  readonly body: Uint8Array;
  readonly options: PublishOptions;
}

/** A message as it travels in DELIVER and REPLY: the data of `Message`, without its methods. */
export interface DeliveredMessage {
  readonly subject: string;
  readonly key: string | null;
  readonly headers: Headers;
  readonly body: Uint8Array;
  readonly partition: number;
  readonly offset: number;
  readonly id: string | null;
  readonly deliveryCount: number;
  readonly timestamp: number;
  readonly priority: number;
  readonly replyTo: string | null;
  readonly correlationId: string | null;
}

export interface SettleEntry {
  readonly kind: SettleKind;
  readonly partition: number;
  readonly offset: number;
  /** The deliveryToken DELIVER gave the delivery this entry settles. */
  readonly token: number;
  /** nack: delay in ms; extend: lease in ms; NaN: the subscription's default; a breaker report: halfOpenCalls. */
  readonly value: number;
  readonly reason: string | null;
}

/** Per-entry outcome of a batch: null = success. */
export type EntryError = { readonly code: ErrorCode; readonly message: string } | null;

export function writeHeaders(writer: Writer, headers: Headers | undefined): void {
  if (!headers) {
    writer.u16(0);
    return;
  }
  const names = Object.keys(headers);
  writer.u16(names.length);
  for (const name of names) writer.string(name).string(headers[name]!);
}

export function readHeaders(reader: Reader): Headers {
  const count = reader.u16();
  const headers: Record<string, string> = {};
  for (let i = 0; i < count; i++) {
    const name = reader.text();
    headers[name] = reader.text();
  }
  return headers;
}

const OPTION_ID = 1;
const OPTION_DELAY = 2;
const OPTION_DELIVER_AT = 4;
const OPTION_TTL = 8;
const OPTION_PRIORITY = 16;
const OPTION_REPLY_TO = 32;
const OPTION_CORRELATION = 64;

export function writePublishEntry(
  writer: Writer,
  subject: string,
  body: Uint8Array,
  options: PublishOptions,
): void {
  writer.string(subject).string(options.key ?? null);
  writeHeaders(writer, options.headers);
  let bits = 0;
  if (options.id !== undefined) bits |= OPTION_ID;
  if (options.delayMs !== undefined) bits |= OPTION_DELAY;
  if (options.deliverAt !== undefined) bits |= OPTION_DELIVER_AT;
  if (options.ttlMs !== undefined) bits |= OPTION_TTL;
  if (options.priority !== undefined) bits |= OPTION_PRIORITY;
  if (options.replyTo !== undefined) bits |= OPTION_REPLY_TO;
  if (options.correlationId !== undefined) bits |= OPTION_CORRELATION;
  writer.u8(bits);
  if (options.id !== undefined) writer.string(options.id);
  if (options.delayMs !== undefined) writer.f64(options.delayMs);
  if (options.deliverAt !== undefined) writer.f64(options.deliverAt);
  if (options.ttlMs !== undefined) writer.f64(options.ttlMs);
  if (options.priority !== undefined) writer.u8(options.priority);
  if (options.replyTo !== undefined) writer.string(options.replyTo);
  if (options.correlationId !== undefined) writer.string(options.correlationId);
  writer.bytes(body);
}

export function readPublishEntry(reader: Reader): PublishEntry {
  const subject = reader.text();
  const key = reader.string();
  const headers = readHeaders(reader);
  const bits = reader.u8();
  const options: { -readonly [K in keyof PublishOptions]: PublishOptions[K] } = {};
  if (key !== null) options.key = key;
  if (Object.keys(headers).length > 0) options.headers = headers;
  if (bits & OPTION_ID) options.id = reader.text();
  if (bits & OPTION_DELAY) options.delayMs = reader.f64();
  if (bits & OPTION_DELIVER_AT) options.deliverAt = reader.f64();
  if (bits & OPTION_TTL) options.ttlMs = reader.f64();
  if (bits & OPTION_PRIORITY) options.priority = reader.u8();
  if (bits & OPTION_REPLY_TO) options.replyTo = reader.text();
  if (bits & OPTION_CORRELATION) options.correlationId = reader.text();
  const body = reader.bytes() ?? new Uint8Array(0);
  return { subject, body, options };
}

/** Bits of a receipt entry's flags byte (before issue 12 it was 0 or 1: duplicate). */
const RECEIPT_DUPLICATE = 1;
/** The message waits in the partition's schedule; the entry's offset (0) means nothing. */
const RECEIPT_SCHEDULED = 2;

export function writeReceiptOrError(writer: Writer, outcome: PublishReceipt | WeirError): void {
  if (outcome instanceof WeirError) {
    writer.u8(1).u16(ERROR_CODES[outcome.code].number).string(outcome.message);
    return;
  }
  writer.u8(0).u16(outcome.streams.length);
  for (const entry of outcome.streams) {
    // A scheduled entry has no offset yet (-1): 0 goes on the wire, with RECEIPT_SCHEDULED.
    writer
      .string(entry.stream)
      .u32(entry.partition)
      .u64(entry.scheduled ? 0 : entry.offset)
      .u8((entry.duplicate ? RECEIPT_DUPLICATE : 0) | (entry.scheduled ? RECEIPT_SCHEDULED : 0));
  }
}

export function readReceiptOrError(reader: Reader): PublishReceipt | WeirError {
  if (reader.u8() !== 0) return new WeirError(errorCodeFromNumber(reader.u16()), reader.text());
  const count = reader.u16();
  const streams: {
    stream: string;
    partition: number;
    offset: number;
    duplicate: boolean;
    scheduled: boolean;
  }[] = [];
  for (let i = 0; i < count; i++) {
    const stream = reader.text();
    const partition = reader.u32();
    const offset = reader.u64();
    const flags = reader.u8();
    const scheduled = (flags & RECEIPT_SCHEDULED) !== 0;
    streams.push({
      stream,
      partition,
      offset: scheduled ? -1 : offset,
      duplicate: (flags & RECEIPT_DUPLICATE) !== 0,
      scheduled,
    });
  }
  const first = streams[0];
  // A publish to a request inbox is delivered to the requester and stored in no stream.
  if (!first) {
    return { stream: '', partition: -1, offset: -1, duplicate: false, scheduled: false, streams };
  }
  return {
    stream: first.stream,
    partition: first.partition,
    offset: first.offset,
    duplicate: first.duplicate,
    scheduled: first.scheduled,
    streams,
  };
}

export function writeDeliveredMessage(writer: Writer, message: DeliveredMessage): void {
  writer.string(message.subject).string(message.key);
  writeHeaders(writer, message.headers);
  writer
    .bytes(message.body)
    .u32(message.partition)
    .u64(message.offset)
    .string(message.id)
    .u32(message.deliveryCount)
    .f64(message.timestamp)
    .u8(message.priority)
    .string(message.replyTo)
    .string(message.correlationId);
}

export function readDeliveredMessage(reader: Reader): DeliveredMessage {
  return {
    subject: reader.text(),
    key: reader.string(),
    headers: readHeaders(reader),
    body: reader.bytes() ?? new Uint8Array(0),
    partition: reader.u32(),
    offset: reader.u64(),
    id: reader.string(),
    deliveryCount: reader.u32(),
    timestamp: reader.f64(),
    priority: reader.u8(),
    replyTo: reader.string(),
    correlationId: reader.string(),
  };
}

export function writeSettleEntry(writer: Writer, entry: SettleEntry): void {
  writer
    .u8(SETTLE_KINDS[entry.kind])
    .u32(entry.partition)
    .u64(entry.offset)
    .u32(entry.token)
    .f64(entry.value)
    .string(entry.reason);
}

export function readSettleEntry(reader: Reader): SettleEntry {
  const kind = SETTLE_KIND_BY_NUMBER.get(reader.u8());
  if (!kind) throw new WeirError('PROTOCOL_ERROR', 'unknown settle kind');
  return {
    kind,
    partition: reader.u32(),
    offset: reader.u64(),
    token: reader.u32(),
    value: reader.f64(),
    reason: reader.string(),
  };
}

export function writeEntryError(writer: Writer, error: EntryError): void {
  if (error === null) writer.u8(0);
  else writer.u8(1).u16(ERROR_CODES[error.code].number).string(error.message);
}

export function readEntryError(reader: Reader): EntryError {
  if (reader.u8() === 0) return null;
  return { code: errorCodeFromNumber(reader.u16()), message: reader.text() };
}

export function writeError(writer: Writer, error: { code: ErrorCode; message: string }): void {
  writer.u16(ERROR_CODES[error.code].number).string(error.code).string(error.message);
}

export function readError(reader: Reader): WeirError {
  const number = reader.u16();
  const name = reader.text();
  const message = reader.text();
  return new WeirError(isErrorCode(name) ? name : errorCodeFromNumber(number), message);
}

// ---- the handshake (protocol 5) ----

/** What HELLO's credentials say: no credentials, a token, or the start of a SCRAM exchange. */
export type HelloCredentials =
  | { readonly kind: 'none' }
  | { readonly kind: 'token'; readonly token: string }
  | { readonly kind: 'scram'; readonly user: string; readonly clientNonce: string };

const CREDENTIAL_KINDS = { token: 1, scram: 2 } as const;

/** HELLO's `bytes|null credentials` field: null for none. */
export function encodeCredentials(credentials: HelloCredentials): Uint8Array | null {
  if (credentials.kind === 'none') return null;
  const writer = new Writer(64);
  if (credentials.kind === 'token') writer.u8(CREDENTIAL_KINDS.token).string(credentials.token);
  else {
    writer.u8(CREDENTIAL_KINDS.scram).string(credentials.user).string(credentials.clientNonce);
  }
  return writer.finish();
}

/** Reads HELLO's credentials field; PROTOCOL_ERROR for an unknown kind or trailing bytes. */
export function decodeCredentials(bytes: Uint8Array | null): HelloCredentials {
  if (bytes === null) return { kind: 'none' };
  const reader = new Reader(bytes);
  const kind = reader.u8();
  let credentials: HelloCredentials;
  if (kind === CREDENTIAL_KINDS.token) credentials = { kind: 'token', token: reader.text() };
  else if (kind === CREDENTIAL_KINDS.scram) {
    credentials = { kind: 'scram', user: reader.text(), clientNonce: reader.text() };
  } else throw new WeirError('PROTOCOL_ERROR', `unknown credentials kind ${kind}`);
  reader.done();
  return credentials;
}

/** AUTH_CHALLENGE: the server's half of SCRAM's first round. */
export interface AuthChallenge {
  /** The client's nonce followed by the server's. */
  readonly nonce: string;
  readonly salt: Uint8Array;
  readonly cost: ScryptCost;
}

export function writeAuthChallenge(writer: Writer, challenge: AuthChallenge): void {
  writer
    .string(challenge.nonce)
    .bytes(challenge.salt)
    .u32(challenge.cost.N)
    .u32(challenge.cost.r)
    .u32(challenge.cost.p);
}

/** The salt is a view into the payload: copy it to keep it. */
export function readAuthChallenge(reader: Reader): AuthChallenge {
  const nonce = reader.text();
  const salt = reader.bytes();
  if (salt === null) throw new WeirError('PROTOCOL_ERROR', 'AUTH_CHALLENGE carries no salt');
  const cost = { N: reader.u32(), r: reader.u32(), p: reader.u32() };
  return { nonce, salt, cost };
}
