/**
 * Method frames: encoding from (channel, name, arguments) and decoding a method frame's payload.
 *
 * A method frame's payload: class-id (u16), method-id (u16), then the arguments in the order of
 * METHOD_SPECS, with consecutive bits packed into octets (the first bit in the lowest bit).
 *
 * Decoding faults, all AmqpFrameError with the channel (and ids, when read):
 *   502 syntax-error: a payload shorter than its ids or arguments, bytes after the last
 *       argument, a longlong above 2^53 - 1, a malformed field table.
 *   540 not-implemented: a class-id/method-id pair the codec does not know (the spec's
 *       "functionality not implemented"; the access class, which RabbitMQ dropped, is one).
 * Encoding throws RangeError or TypeError for arguments the wire cannot carry.
 */
import { FRAME_END, FRAME_METHOD, REPLY_CODES } from './constants.js';
import { AmqpFrameError } from './errors.js';
import { ByteReader } from './byte-reader.js';
import { checkInteger, encodeWith, type ByteWriter } from './byte-writer.js';
import { readFieldTable, writeFieldTable, type FieldTable } from './field-table.js';
import type { AmqpMethod, MethodArguments, MethodName } from './method-arguments.js';
import { METHOD_BY_ID, METHOD_SPECS, methodKey, type ArgumentKind } from './method-spec.js';

const CHANNEL_MAX = 0xffff;
const BITS_PER_OCTET = 8;
/** class-id and method-id. */
const METHOD_IDS_BYTES = 4;

/** A whole method frame, from its type octet to its frame-end; the caller keeps it within frame-max. */
export function encodeMethodFrame<N extends MethodName>(
  channel: number,
  name: N,
  args: MethodArguments[N],
): Uint8Array {
  checkInteger(channel, 0, CHANNEL_MAX, 'channel');
  const spec = METHOD_SPECS[name] as (typeof METHOD_SPECS)[MethodName] | undefined;
  if (spec === undefined) throw new RangeError(`unknown AMQP method ${String(name)}`);
  const values = args as unknown as Readonly<Record<string, unknown>>;
  return encodeWith((writer) => {
    writer.octet(FRAME_METHOD);
    writer.short(channel);
    const sizeAt = writer.length;
    writer.long(0);
    writer.short(spec.classId);
    writer.short(spec.methodId);
    let bitOctetAt = -1;
    let bitIndex = BITS_PER_OCTET;
    for (const [field, kind] of spec.fields as readonly (readonly [string, ArgumentKind])[]) {
      const value = values[field];
      if (kind === 'bit') {
        if (typeof value !== 'boolean') throw new TypeError(`${name}.${field} must be a boolean`);
        if (bitIndex === BITS_PER_OCTET) {
          bitOctetAt = writer.length;
          writer.octet(0);
          bitIndex = 0;
        }
        if (value)
          writer.patchOctet(bitOctetAt, (writer.byteAt(bitOctetAt) | (1 << bitIndex)) & 0xff);
        bitIndex++;
      } else {
        bitIndex = BITS_PER_OCTET;
        writeArgument(writer, kind, value, `${name}.${field}`);
      }
    }
    writer.patchLong(sizeAt, writer.length - sizeAt - 4);
    writer.octet(FRAME_END);
  });
}

function writeArgument(writer: ByteWriter, kind: ArgumentKind, value: unknown, what: string): void {
  switch (kind) {
    case 'octet':
    case 'short':
    case 'long':
    case 'longlong':
    case 'timestamp':
      if (typeof value !== 'number') throw new TypeError(`${what} must be a number`);
      if (kind === 'octet') writer.octet(value, what);
      else if (kind === 'short') writer.short(value, what);
      else if (kind === 'long') writer.long(value, what);
      else writer.longlong(value, what);
      return;
    case 'shortstr':
      if (typeof value !== 'string') throw new TypeError(`${what} must be a string`);
      writer.shortString(value, what);
      return;
    case 'longstr':
      if (typeof value !== 'string') throw new TypeError(`${what} must be a string`);
      writer.longString(value);
      return;
    case 'bytes':
      if (!(value instanceof Uint8Array)) throw new TypeError(`${what} must be a Uint8Array`);
      writer.longBytes(value);
      return;
    case 'table':
      if (typeof value !== 'object' || value === null || Array.isArray(value)) {
        throw new TypeError(`${what} must be a field table`);
      }
      writeFieldTable(writer, value as FieldTable);
      return;
    case 'bit':
      throw new TypeError(`${what}: bits are packed by the caller`);
  }
}

/** Decodes a method frame's payload (class-id, method-id, arguments). */
export function decodeMethod(channel: number, payload: Uint8Array): AmqpMethod {
  return decodeMethodRange(channel, payload, 0, payload.length);
}

/** decodeMethod over `bytes[start, end)`, without a subarray; nothing returned refers to `bytes`. */
export function decodeMethodRange(
  channel: number,
  bytes: Uint8Array,
  start: number,
  end: number,
): AmqpMethod {
  const reader = new ByteReader(bytes, start, end, { channel });
  if (end - start < METHOD_IDS_BYTES) {
    reader.fail(`method frame payload of ${end - start} bytes has no class-id and method-id`);
  }
  const classId = reader.short();
  const methodId = reader.short();
  const entry = METHOD_BY_ID.get(methodKey(classId, methodId));
  if (entry === undefined) {
    throw new AmqpFrameError(REPLY_CODES.notImplemented, `unknown method ${classId}/${methodId}`, {
      channel,
      classId,
      methodId,
    });
  }
  reader.place = { channel, classId, methodId };
  const args: Record<string, unknown> = {};
  let bits = 0;
  let bitIndex = BITS_PER_OCTET;
  for (const [field, kind] of entry.fields) {
    if (kind === 'bit') {
      if (bitIndex === BITS_PER_OCTET) {
        bits = reader.octet(field);
        bitIndex = 0;
      }
      args[field] = (bits & (1 << bitIndex)) !== 0;
      bitIndex++;
      continue;
    }
    bitIndex = BITS_PER_OCTET;
    switch (kind) {
      case 'octet':
        args[field] = reader.octet(field);
        break;
      case 'short':
        args[field] = reader.short(field);
        break;
      case 'long':
        args[field] = reader.long(field);
        break;
      case 'longlong':
      case 'timestamp':
        args[field] = reader.longlong(field);
        break;
      case 'shortstr':
        args[field] = reader.shortString(field);
        break;
      case 'longstr':
        args[field] = reader.longString(field);
        break;
      case 'bytes':
        args[field] = reader.longBytes(field);
        break;
      case 'table':
        args[field] = readFieldTable(reader);
        break;
    }
  }
  if (reader.remaining !== 0) {
    reader.fail(`${reader.remaining} bytes after the arguments of ${entry.name}`);
  }
  return { name: entry.name, classId, methodId, args } as AmqpMethod;
}
