/**
 * AMQP field tables and arrays, with RabbitMQ's errata types (what every client uses, not the
 * 0-9-1 spec's own list, which clashes with it on 's' and others).
 *
 * Layout: a table is a u32 byte size, then entries of (shortstr name, type octet, value); an
 * array ('A') is a u32 byte size, then (type octet, value) items. The types:
 *
 *   t bool (octet 0/1)   b int8    B uint8    s int16   u uint16   I int32   i uint32
 *   l int64   f float32   d float64   D decimal (octet scale, uint32 value)   S longstr
 *   A array   T timestamp (uint64 seconds)   F table   V void (no bytes)   x byte array (longstr)
 *
 * Decoding: every integer type to a number; 'l' to a number when safe, else a bigint; 'f'/'d'
 * to a number; 'S' to a string (UTF-8); 'x' to a Uint8Array (a copy); 'T' to a Date (seconds
 * beyond the range of Date are a syntax error); 'V' to null; 'D' to { decimalPlaces, value };
 * 'A' to an array; 'F' to a plain object (a name `__proto__` becomes an own property).
 * A repeated name keeps its last value. Any fault (truncation, an unknown type octet, a value
 * that overruns its table's size, tables nested deeper than FIELD_TABLE_DEPTH_MAX) throws
 * AmqpFrameError 502 (syntax-error). Sizes are bounded by the frame that carries the table.
 *
 * Encoding picks one type per JavaScript value (so a decoded 'b' re-encodes as 'I'; pass raw
 * bytes through where the exact types matter):
 *   boolean → t; a safe integer → I inside int32, else l; -0, a fraction, NaN, ±Infinity or an
 *   unsafe integer → d; bigint → l (RangeError outside int64); string → S; Uint8Array → x;
 *   Date → T (whole seconds, rounded down; RangeError before 1970 or invalid); array → A;
 *   null or undefined → V; an object whose only own keys are `decimalPlaces` (integer 0-255)
 *   and `value` (integer 0 to 2^32-1) → D; any other object → F.
 * Nesting deeper than FIELD_TABLE_DEPTH_MAX (or a cycle) and a name over 255 bytes throw
 * RangeError.
 */
import { FIELD_TABLE_DEPTH_MAX } from './limits.js';
import type { ByteWriter } from './byte-writer.js';
import { encodeWith } from './byte-writer.js';
import { ByteReader } from './byte-reader.js';

export type FieldValue =
  | boolean
  | number
  | bigint
  | string
  | Uint8Array
  | Date
  | FieldValue[]
  | FieldTable
  | null
  | Decimal;

export interface FieldTable {
  readonly [name: string]: FieldValue;
}

/** 'D': `value` × 10^-decimalPlaces. */
export interface Decimal {
  readonly decimalPlaces: number;
  readonly value: number;
}

const INT32_MIN = -(2 ** 31);
const INT32_MAX = 2 ** 31 - 1;
const UINT32_MAX = 2 ** 32 - 1;
const OCTET_MAX = 0xff;
const MILLISECONDS_PER_SECOND = 1000;
/** The largest time a Date holds, in seconds (ECMA-262's 8.64e15 ms). */
const DATE_SECONDS_MAX = 8.64e12;

const TYPE = {
  boolean: 0x74, // t
  int8: 0x62, // b
  uint8: 0x42, // B
  int16: 0x73, // s
  uint16: 0x75, // u
  int32: 0x49, // I
  uint32: 0x69, // i
  int64: 0x6c, // l
  float32: 0x66, // f
  float64: 0x64, // d
  decimal: 0x44, // D
  longString: 0x53, // S
  array: 0x41, // A
  timestamp: 0x54, // T
  table: 0x46, // F
  void: 0x56, // V
  bytes: 0x78, // x
} as const;

// ---- encoding ----

/** The bytes of `table` as a field table (with its u32 size). */
export function encodeFieldTable(table: FieldTable): Uint8Array {
  return encodeWith((writer) => writeFieldTable(writer, table));
}

export function writeFieldTable(writer: ByteWriter, table: FieldTable, depth = 1): void {
  if (depth > FIELD_TABLE_DEPTH_MAX) {
    throw new RangeError(`field tables nest deeper than ${FIELD_TABLE_DEPTH_MAX}`);
  }
  const sizeAt = writer.length;
  writer.long(0);
  for (const name of Object.keys(table)) {
    writer.shortString(name, `field table name ${JSON.stringify(name.slice(0, 40))}`);
    writeFieldValue(writer, table[name], depth);
  }
  writer.patchLong(sizeAt, writer.length - sizeAt - 4);
}

function writeFieldArray(writer: ByteWriter, values: readonly FieldValue[], depth: number): void {
  if (depth > FIELD_TABLE_DEPTH_MAX) {
    throw new RangeError(`field tables nest deeper than ${FIELD_TABLE_DEPTH_MAX}`);
  }
  const sizeAt = writer.length;
  writer.long(0);
  for (const value of values) writeFieldValue(writer, value, depth);
  writer.patchLong(sizeAt, writer.length - sizeAt - 4);
}

export function isDecimal(value: object): value is Decimal {
  const keys = Object.keys(value);
  if (keys.length !== 2 || !('decimalPlaces' in value) || !('value' in value)) return false;
  const { decimalPlaces, value: digits } = value;
  return (
    Number.isInteger(decimalPlaces) &&
    (decimalPlaces as number) >= 0 &&
    (decimalPlaces as number) <= OCTET_MAX &&
    Number.isInteger(digits) &&
    (digits as number) >= 0 &&
    (digits as number) <= UINT32_MAX
  );
}

function writeFieldValue(writer: ByteWriter, value: FieldValue | undefined, depth: number): void {
  switch (typeof value) {
    case 'boolean':
      writer.octet(TYPE.boolean);
      writer.octet(value ? 1 : 0);
      return;
    case 'number':
      if (Number.isSafeInteger(value) && !Object.is(value, -0)) {
        if (value >= INT32_MIN && value <= INT32_MAX) {
          writer.octet(TYPE.int32);
          writer.int32(value);
        } else {
          writer.octet(TYPE.int64);
          writer.int64(BigInt(value));
        }
      } else {
        writer.octet(TYPE.float64);
        writer.float64(value);
      }
      return;
    case 'bigint':
      writer.octet(TYPE.int64);
      writer.int64(value);
      return;
    case 'string':
      writer.octet(TYPE.longString);
      writer.longString(value);
      return;
    case 'undefined':
      writer.octet(TYPE.void);
      return;
    case 'object':
      if (value === null) {
        writer.octet(TYPE.void);
      } else if (value instanceof Uint8Array) {
        writer.octet(TYPE.bytes);
        writer.longBytes(value);
      } else if (value instanceof Date) {
        const milliseconds = value.getTime();
        if (!(milliseconds >= 0)) {
          throw new RangeError(`a field table timestamp must be a valid Date from 1970 on`);
        }
        writer.octet(TYPE.timestamp);
        writer.longlong(Math.floor(milliseconds / MILLISECONDS_PER_SECOND), 'timestamp');
      } else if (Array.isArray(value)) {
        writer.octet(TYPE.array);
        writeFieldArray(writer, value, depth + 1);
      } else if (isDecimal(value)) {
        writer.octet(TYPE.decimal);
        writer.octet(value.decimalPlaces);
        writer.long(value.value);
      } else {
        writer.octet(TYPE.table);
        writeFieldTable(writer, value, depth + 1);
      }
      return;
    default:
      throw new RangeError(`a field table cannot hold a ${typeof value}`);
  }
}

// ---- decoding ----

/** Decodes a whole field table (with its u32 size) from `bytes`; anything after it is an error. */
export function decodeFieldTable(bytes: Uint8Array): FieldTable {
  const reader = new ByteReader(bytes, 0, bytes.length, {});
  const table = readFieldTable(reader);
  if (reader.remaining !== 0) reader.fail(`${reader.remaining} bytes after a field table`);
  return table;
}

export function readFieldTable(reader: ByteReader, depth = 1): FieldTable {
  if (depth > FIELD_TABLE_DEPTH_MAX)
    reader.fail(`field tables nest deeper than ${FIELD_TABLE_DEPTH_MAX}`);
  const size = reader.long('field table size');
  if (size > reader.remaining) reader.fail(`field table size ${size} overruns its frame`);
  const end = reader.position + size;
  const table: Record<string, FieldValue> = {};
  while (reader.position < end) {
    const name = reader.shortString('field table name');
    const value = readFieldValue(reader, depth);
    if (reader.position > end) reader.fail('a field table entry overruns its table');
    if (name === '__proto__') {
      Object.defineProperty(table, name, {
        value,
        enumerable: true,
        writable: true,
        configurable: true,
      });
    } else {
      table[name] = value;
    }
  }
  return table;
}

function readFieldArray(reader: ByteReader, depth: number): FieldValue[] {
  if (depth > FIELD_TABLE_DEPTH_MAX)
    reader.fail(`field tables nest deeper than ${FIELD_TABLE_DEPTH_MAX}`);
  const size = reader.long('field array size');
  if (size > reader.remaining) reader.fail(`field array size ${size} overruns its frame`);
  const end = reader.position + size;
  const values: FieldValue[] = [];
  while (reader.position < end) {
    values.push(readFieldValue(reader, depth));
    if (reader.position > end) reader.fail('a field array item overruns its array');
  }
  return values;
}

function readFieldValue(reader: ByteReader, depth: number): FieldValue {
  const type = reader.octet('field type');
  switch (type) {
    case TYPE.boolean:
      return reader.octet('boolean field') !== 0;
    case TYPE.int8:
      return reader.int8('int8 field');
    case TYPE.uint8:
      return reader.octet('uint8 field');
    case TYPE.int16:
      return reader.int16('int16 field');
    case TYPE.uint16:
      return reader.short('uint16 field');
    case TYPE.int32:
      return reader.int32('int32 field');
    case TYPE.uint32:
      return reader.long('uint32 field');
    case TYPE.int64:
      return reader.int64('int64 field');
    case TYPE.float32:
      return reader.float32('float32 field');
    case TYPE.float64:
      return reader.float64('float64 field');
    case TYPE.decimal: {
      const decimalPlaces = reader.octet('decimal field');
      return { decimalPlaces, value: reader.long('decimal field') };
    }
    case TYPE.longString:
      return reader.longString('longstr field');
    case TYPE.array:
      return readFieldArray(reader, depth + 1);
    case TYPE.timestamp: {
      const seconds = reader.longlong('timestamp field');
      if (seconds > DATE_SECONDS_MAX)
        reader.fail(`timestamp ${seconds} is beyond the range of Date`);
      return new Date(seconds * MILLISECONDS_PER_SECOND);
    }
    case TYPE.table:
      return readFieldTable(reader, depth + 1);
    case TYPE.void:
      return null;
    case TYPE.bytes:
      return reader.longBytes('byte array field');
    default:
      return reader.fail(`unknown field type 0x${type.toString(16).padStart(2, '0')}`);
  }
}
