/**
 * Checks of what callers pass, for callers in plain JavaScript as much as in TypeScript: a
 * wrong type is refused with INVALID_ARGUMENT naming the field, before anything is queued,
 * so nothing malformed reaches a frame writer. Ranges and formats (subject syntax, priority
 * 0..9, sizes) are the server's to check: it has the stream's configuration.
 */
import {
  CLIENT_CONNECT_TIMEOUT_MS_DEFAULT,
  CLIENT_CONNECT_TIMEOUT_MS_MAX,
  CLIENT_NAME_BYTES_MAX,
} from '../limits.js';
import { PUBLISH_OPTION_NAMES, WeirError, type PublishOptions } from '../protocol/index.js';

/** Options of `connect(url, options)`. */
export interface ConnectOptions {
  /** Shown in the server's logs and connection list. Default 'weir-client'. */
  readonly name?: string;
  /** Sent in HELLO (reserved for authentication): bytes, or a string sent as UTF-8. */
  readonly credentials?: Uint8Array | string;
  /** Reconnect by itself (backoff with full jitter) when the connection drops. Default true. */
  readonly reconnect?: boolean;
  /** Time to reach the server and finish the handshake, per attempt. Default 10000. */
  readonly connectTimeoutMs?: number;
  // The credentials and TLS of the security contract (issue 13). Typed here for the CLI; the
  // SDK's handshake reads them once the SDK side of issue 13 lands.
  /** Log in as this user (SCRAM-SHA-256), with `password`. */
  readonly user?: string;
  readonly password?: string;
  /** Log in with a token (`weir_<id>_<secret>`) instead of a user and password. */
  readonly token?: string;
  /** Connect over TLS (also with a weir:// address); PEM. */
  readonly tls?: {
    readonly ca?: string | Buffer;
    readonly cert?: string | Buffer;
    readonly key?: string | Buffer;
    readonly servername?: string;
    readonly rejectUnauthorized?: boolean;
  };
}

/** ConnectOptions checked, with defaults filled in. */
export interface ClientSettings {
  readonly name: string;
  readonly credentials: Uint8Array | null;
  readonly reconnect: boolean;
  readonly connectTimeoutMs: number;
}

const CLIENT_NAME_DEFAULT = 'weir-client';

function invalid(message: string): WeirError {
  return new WeirError('INVALID_ARGUMENT', message);
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export function checkConnectOptions(options: unknown): ClientSettings {
  if (options === undefined || options === null) options = {};
  if (!isRecord(options)) throw invalid('connect options must be an object');
  const { name = CLIENT_NAME_DEFAULT, credentials, reconnect = true } = options;
  const connectTimeoutMs = options.connectTimeoutMs ?? CLIENT_CONNECT_TIMEOUT_MS_DEFAULT;
  if (typeof name !== 'string' || new TextEncoder().encode(name).length > CLIENT_NAME_BYTES_MAX) {
    throw invalid(`name must be a string of at most ${CLIENT_NAME_BYTES_MAX} bytes`);
  }
  if (
    credentials !== undefined &&
    typeof credentials !== 'string' &&
    !(credentials instanceof Uint8Array)
  ) {
    throw invalid('credentials must be a Uint8Array or a string');
  }
  if (typeof reconnect !== 'boolean') throw invalid('reconnect must be true or false');
  if (
    typeof connectTimeoutMs !== 'number' ||
    !(connectTimeoutMs > 0 && connectTimeoutMs <= CLIENT_CONNECT_TIMEOUT_MS_MAX)
  ) {
    throw invalid(`connectTimeoutMs must be a number in (0, ${CLIENT_CONNECT_TIMEOUT_MS_MAX}]`);
  }
  return Object.freeze({
    name,
    credentials:
      credentials === undefined
        ? null
        : typeof credentials === 'string'
          ? new TextEncoder().encode(credentials)
          : credentials,
    reconnect,
    connectTimeoutMs,
  });
}

/**
 * An integer option in min..max, refused with the embedded broker's own message (its
 * option-checks `integerIn`), so that both transports say the same.
 */
export function checkIntegerIn(value: unknown, field: string, min: number, max: number): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min || value > max) {
    throw invalid(`${field} must be an integer in ${min}..${max} (got ${String(value)})`);
  }
  return value;
}

/**
 * JSON of arguments for the server. JSON turns NaN and Infinity into null and drops functions,
 * which the broker would then take as "not given" (its default), where the embedded broker,
 * seeing the value itself, refuses it: refused here the same way.
 */
export function toArgumentsJson(value: unknown, what: string): string {
  try {
    return JSON.stringify(value, (key, item: unknown) => {
      if (typeof item === 'number' && !Number.isFinite(item)) {
        throw invalid(`${key || what} must be a finite number (got ${String(item)})`);
      }
      if (typeof item === 'function' || typeof item === 'symbol') {
        throw invalid(`${key || what} cannot be a ${typeof item}`);
      }
      return item;
    });
  } catch (error) {
    if (error instanceof WeirError) throw error;
    throw new WeirError('INVALID_ARGUMENT', `${what} cannot be written as JSON`, {
      cause: error,
    });
  }
}

/** A name the server looks up (a stream, say): only its type is checked here. */
export function checkString(value: unknown, field: string): string {
  if (typeof value !== 'string') throw invalid(`${field} must be a string`);
  return value;
}

export function checkName(value: unknown, field: string): string {
  if (typeof value !== 'string' || value === '')
    throw invalid(`${field} must be a non-empty string`);
  return value;
}

const STRING_OPTIONS = ['key', 'id', 'replyTo', 'correlationId'] as const;
/** Publish options only: timeoutMs is a request option (the request path takes it off first). */
const PUBLISH_OPTIONS: ReadonlySet<string> = PUBLISH_OPTION_NAMES;
const NUMBER_OPTIONS = ['delayMs', 'deliverAt', 'ttlMs', 'priority'] as const;

/** Publish options (and a request's, less timeoutMs): types only; {} for undefined or null. */
export function checkPublishOptions(options: unknown): PublishOptions {
  if (options === undefined || options === null) return {};
  if (!isRecord(options)) throw invalid('publish options must be an object');
  for (const field of Object.keys(options)) {
    if (!PUBLISH_OPTIONS.has(field)) {
      throw invalid(
        `publish options.${field} is not an option (known: ${[...PUBLISH_OPTIONS].join(', ')})`,
      );
    }
  }
  for (const field of STRING_OPTIONS) {
    const value = options[field];
    if (value !== undefined && typeof value !== 'string')
      throw invalid(`${field} must be a string`);
  }
  for (const field of NUMBER_OPTIONS) {
    const value = options[field];
    if (value !== undefined && (typeof value !== 'number' || !Number.isFinite(value))) {
      throw invalid(`${field} must be a finite number`);
    }
  }
  const priority = options.priority;
  // The wire carries a u8: anything else would arrive as another number.
  if (
    typeof priority === 'number' &&
    !(Number.isInteger(priority) && priority >= 0 && priority <= 255)
  ) {
    throw invalid('priority must be an integer 0..9');
  }
  const headers = options.headers;
  if (headers !== undefined) {
    if (!isRecord(headers)) throw invalid('headers must be an object of strings');
    for (const [name, value] of Object.entries(headers)) {
      if (typeof value !== 'string') throw invalid(`header ${name} must be a string`);
    }
  }
  if (options.confirm !== undefined && typeof options.confirm !== 'boolean') {
    throw invalid('confirm must be true or false');
  }
  return options;
}

/** A rejected promise for what a check threw (always an Error; anything else is wrapped). */
export function rejectWith(error: unknown): Promise<never> {
  return Promise.reject(error instanceof Error ? error : new WeirError('INTERNAL', String(error)));
}
