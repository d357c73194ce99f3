/**
 * A job's progress value (Message.progress): any JSON value, carried and stored as its JSON
 * text, at most PROGRESS_VALUE_BYTES_MAX bytes. One check for the embedded broker and the SDK,
 * so a bad value is refused alike on both transports (INVALID_ARGUMENT naming `value`).
 */
import { PROGRESS_VALUE_BYTES_MAX } from '../limits.js';
import { WeirError } from '../util/index.js';
import { PROGRESS_HEADERS, type Headers, type JsonValue, type ProgressInfo } from './api.js';

const encoder = new TextEncoder();

function check(value: unknown, depth: number): void {
  if (depth > 64) throw new WeirError('INVALID_ARGUMENT', 'progress value is nested too deep');
  if (value === null || typeof value === 'string' || typeof value === 'boolean') return;
  if (typeof value === 'number') {
    if (!Number.isFinite(value))
      throw new WeirError('INVALID_ARGUMENT', 'progress value must be a finite number or JSON');
    return;
  }
  if (Array.isArray(value)) {
    for (const item of value) check(item, depth + 1);
    return;
  }
  if (typeof value === 'object' && Object.getPrototypeOf(value) === Object.prototype) {
    for (const item of Object.values(value as Record<string, unknown>)) check(item, depth + 1);
    return;
  }
  throw new WeirError(
    'INVALID_ARGUMENT',
    `progress value must be a number or a JSON value, not ${value === undefined ? 'undefined' : typeof value}`,
  );
}

/** The JSON text of a progress value; INVALID_ARGUMENT if it is not JSON or too large. */
export function progressValueText(value: unknown): string {
  check(value, 0);
  const text = JSON.stringify(value);
  const bytes = encoder.encode(text).length;
  if (bytes > PROGRESS_VALUE_BYTES_MAX) {
    throw new WeirError(
      'INVALID_ARGUMENT',
      `progress value is ${bytes} bytes of JSON, more than ${PROGRESS_VALUE_BYTES_MAX}`,
    );
  }
  return text;
}

/** The value back from its JSON text (as progressValueText wrote it). */
export function parseProgressValue(text: string): JsonValue {
  return JSON.parse(text) as JsonValue;
}

const decoder = new TextDecoder();

/**
 * A progress message's value and origin (its PROGRESS_HEADERS), or null if it is not one: how
 * a requester's inbox (embedded) and the SDK (a REPLY flagged as progress) read it.
 */
export function progressOf(
  headers: Headers,
  body: Uint8Array,
): { value: JsonValue; info: ProgressInfo } | null {
  if (headers[PROGRESS_HEADERS.progress] !== '1') return null;
  let value: JsonValue;
  try {
    value = JSON.parse(decoder.decode(body)) as JsonValue;
  } catch {
    return null;
  }
  return {
    value,
    info: {
      stream: headers[PROGRESS_HEADERS.stream] ?? '',
      partition: Number(headers[PROGRESS_HEADERS.partition] ?? -1),
      offset: Number(headers[PROGRESS_HEADERS.offset] ?? -1),
      deliveryCount: Number(headers[PROGRESS_HEADERS.deliveries] ?? 0),
    },
  };
}
