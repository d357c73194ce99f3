/**
 * Checks for user configuration: each throws INVALID_ARGUMENT with a message that names the
 * field, so a caller sees which option was wrong and why. Used once, when a configuration is
 * validated; the result is then frozen.
 */
import { WeirError } from '../util/index.js';
import { NAME_BYTES_MAX } from '../limits.js';

export function invalid(field: string, why: string): WeirError {
  return new WeirError('INVALID_ARGUMENT', `${field} ${why}`);
}

/** An object of options (or undefined); rejects unknown fields so a typo is not silently ignored. */
export function optionsObject(
  value: unknown,
  field: string,
  known: readonly string[],
): Record<string, unknown> {
  if (value === undefined || value === null) return {};
  if (typeof value !== 'object' || Array.isArray(value)) throw invalid(field, 'must be an object');
  const options = value as Record<string, unknown>;
  for (const name of Object.keys(options)) {
    if (!known.includes(name) && options[name] !== undefined) {
      throw invalid(`${field}.${name}`, `is not an option (known: ${known.join(', ')})`);
    }
  }
  return options;
}

export function integerIn(value: unknown, field: string, min: number, max: number): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min || value > max) {
    throw invalid(field, `must be an integer in ${min}..${max} (got ${String(value)})`);
  }
  return value;
}

export function numberIn(value: unknown, field: string, min: number, max: number): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < min || value > max) {
    throw invalid(field, `must be a number in ${min}..${max} (got ${String(value)})`);
  }
  return value;
}

export function oneOf<T extends string>(value: unknown, field: string, allowed: readonly T[]): T {
  if (typeof value !== 'string' || !(allowed as readonly string[]).includes(value)) {
    throw invalid(field, `must be one of ${allowed.map((item) => `'${item}'`).join(', ')}`);
  }
  return value as T;
}

export function booleanOption(value: unknown, field: string): boolean {
  if (typeof value !== 'boolean') throw invalid(field, 'must be a boolean');
  return value;
}

export function stringOf(value: unknown, field: string, maxBytes: number): string {
  if (typeof value !== 'string' || value.length === 0)
    throw invalid(field, 'must be a non-empty string');
  if (Buffer.byteLength(value) > maxBytes) throw invalid(field, `is longer than ${maxBytes} bytes`);
  return value;
}

const NAME = /^[A-Za-z0-9_-]+$/;

/** Stream and subscription names become directory names: letters, digits, '_' and '-'. */
export function validateName(value: unknown, field: string): string {
  if (typeof value !== 'string' || !NAME.test(value) || value.length > NAME_BYTES_MAX) {
    throw invalid(
      field,
      `must be 1..${NAME_BYTES_MAX} characters of A-Z, a-z, 0-9, '_' and '-' (got ${JSON.stringify(value)})`,
    );
  }
  return value;
}

/** Deep-freezes plain data (objects and arrays). */
export function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    for (const item of Object.values(value)) deepFreeze(item);
    Object.freeze(value);
  }
  return value;
}

/** A rejected promise for a caught error (a non-Error becomes an INTERNAL WeirError). */
export function rejection(error: unknown): Promise<never> {
  return Promise.reject(
    error instanceof Error
      ? error
      : new WeirError('INTERNAL', 'non-error thrown', { cause: error }),
  );
}
