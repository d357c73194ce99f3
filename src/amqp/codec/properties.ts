/**
 * The basic class's content properties: the part of a content header frame after class-id,
 * weight and body-size.
 *
 * Layout: property flags (u16), then each present property in flag order:
 *
 *   bit 15 contentType shortstr      bit 8 expiration shortstr
 *   bit 14 contentEncoding shortstr  bit 7 messageId shortstr
 *   bit 13 headers table             bit 6 timestamp u64 seconds
 *   bit 12 deliveryMode octet        bit 5 type shortstr
 *   bit 11 priority octet            bit 4 userId shortstr
 *   bit 10 correlationId shortstr    bit 3 appId shortstr
 *   bit 9  replyTo shortstr          bit 2 clusterId shortstr
 *
 * Bit 0 is the spec's continuation flag (another flags word follows) and bit 1 names no basic
 * property; the basic class needs one word, and a property we cannot name has no known size,
 * so the rest could not be read: either bit set is a 502 syntax-error, as are truncation,
 * bytes after the last property, a timestamp above 2^53 - 1 and a malformed headers table.
 *
 * `timestamp` decodes to a number of seconds since 1970; it encodes from such a number or from a
 * Date (whole seconds, rounded down). An absent property is an absent key (never `undefined`).
 */
import { ByteReader } from './byte-reader.js';
import { encodeWith, type ByteWriter } from './byte-writer.js';
import { readFieldTable, writeFieldTable, type FieldTable } from './field-table.js';

export interface BasicProperties {
  contentType?: string;
  contentEncoding?: string;
  headers?: FieldTable;
  deliveryMode?: number;
  priority?: number;
  correlationId?: string;
  replyTo?: string;
  expiration?: string;
  messageId?: string;
  /** Seconds since 1970 (decoded as a number); a Date encodes as its whole seconds. */
  timestamp?: Date | number;
  type?: string;
  userId?: string;
  appId?: string;
  clusterId?: string;
}

/** The basic class's id, the only content class of 0-9-1. */
export const BASIC_CLASS_ID = 60;

type PropertyKind = 'shortstr' | 'table' | 'octet' | 'timestamp';

/** In flag order: the first is bit 15. */
const PROPERTIES: readonly (readonly [name: keyof BasicProperties, kind: PropertyKind])[] = [
  ['contentType', 'shortstr'],
  ['contentEncoding', 'shortstr'],
  ['headers', 'table'],
  ['deliveryMode', 'octet'],
  ['priority', 'octet'],
  ['correlationId', 'shortstr'],
  ['replyTo', 'shortstr'],
  ['expiration', 'shortstr'],
  ['messageId', 'shortstr'],
  ['timestamp', 'timestamp'],
  ['type', 'shortstr'],
  ['userId', 'shortstr'],
  ['appId', 'shortstr'],
  ['clusterId', 'shortstr'],
];

const FIRST_FLAG_BIT = 15;
/** Bit 1 (no property) and bit 0 (continuation). */
const UNKNOWN_FLAGS_MASK = 0b11;
const MILLISECONDS_PER_SECOND = 1000;

/** The property flags and property list of `properties`. */
export function encodeProperties(properties: BasicProperties): Uint8Array {
  return encodeWith((writer) => writeProperties(writer, properties));
}

function writeProperties(writer: ByteWriter, properties: BasicProperties): void {
  const flagsAt = writer.length;
  writer.short(0);
  let flags = 0;
  PROPERTIES.forEach(([name, kind], index) => {
    const value = properties[name];
    if (value === undefined) return;
    flags |= 1 << (FIRST_FLAG_BIT - index);
    const what = `property ${name}`;
    switch (kind) {
      case 'shortstr':
        if (typeof value !== 'string') throw new TypeError(`${what} must be a string`);
        writer.shortString(value, what);
        break;
      case 'octet':
        if (typeof value !== 'number') throw new TypeError(`${what} must be a number`);
        writer.octet(value, what);
        break;
      case 'timestamp': {
        const seconds =
          value instanceof Date
            ? Math.floor(value.getTime() / MILLISECONDS_PER_SECOND)
            : (value as number);
        writer.longlong(seconds, what);
        break;
      }
      case 'table':
        writeFieldTable(writer, value as FieldTable);
        break;
    }
  });
  writer.patchOctet(flagsAt, flags >>> 8);
  writer.patchOctet(flagsAt + 1, flags & 0xff);
}

/** Decodes property flags and a property list; throws AmqpFrameError 502 on a malformed one. */
export function decodeProperties(bytes: Uint8Array): BasicProperties {
  return decodePropertiesRange(bytes, 0, bytes.length, 0);
}

/** decodeProperties over `bytes[start, end)`; nothing returned refers to `bytes`. */
export function decodePropertiesRange(
  bytes: Uint8Array,
  start: number,
  end: number,
  channel: number,
): BasicProperties {
  const reader = new ByteReader(bytes, start, end, { channel, classId: BASIC_CLASS_ID });
  const flags = reader.short('property flags');
  if ((flags & UNKNOWN_FLAGS_MASK) !== 0) {
    reader.fail(`property flags 0x${flags.toString(16)} set bit 0 or 1, which basic does not use`);
  }
  const properties: Record<string, unknown> = {};
  if (flags !== 0) {
    for (let index = 0; index < PROPERTIES.length; index++) {
      if ((flags & (1 << (FIRST_FLAG_BIT - index))) === 0) continue;
      const [name, kind] = PROPERTIES[index]!;
      switch (kind) {
        case 'shortstr':
          properties[name] = reader.shortString(name);
          break;
        case 'octet':
          properties[name] = reader.octet(name);
          break;
        case 'timestamp':
          properties[name] = reader.longlong(name);
          break;
        case 'table':
          properties[name] = readFieldTable(reader);
          break;
      }
    }
  }
  if (reader.remaining !== 0) reader.fail(`${reader.remaining} bytes after the content properties`);
  return properties;
}
