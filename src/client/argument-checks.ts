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
  HELLO_TOKEN_BYTES_MAX,
  NAME_BYTES_MAX,
  PASSWORD_BYTES_MAX,
} from '../limits.js';
import { PUBLISH_OPTION_NAMES, WeirError, type PublishOptions } from '../protocol/index.js';
import { systemClock, type Clock } from '../util/index.js';
import { PasswordCredentials, type ClientCredentials } from './client-credentials.js';
import type { OpenTelemetryLoader } from '../protocol/tracing.js';

/** TLS settings of `connect()`: PEM text or bytes, as node:tls takes them. */
export interface ClientTlsOptions {
  /** The CA (or self-signed certificate) to trust instead of the system's. */
  readonly ca?: string | Uint8Array;
  /** A client certificate and its key, for a server that requires one (`--tls-ca`). */
  readonly cert?: string | Uint8Array;
  readonly key?: string | Uint8Array;
  /** The name the server's certificate must carry. Default: the host, unless it is an IP. */
  readonly servername?: string;
  /** Refuse a server whose certificate does not verify. Default true; false is for tests only. */
  readonly rejectUnauthorized?: boolean;
}

/** Options of `connect(url, options)`. */
export interface ConnectOptions {
  /** Shown in the server's logs and connection list. Default 'weir-client'. */
  readonly name?: string;
  /**
   * Authenticate as this user (SCRAM-SHA-256: the password never crosses the wire). Default:
   * the address's user information (`weir://user:password@host`); these options win over it.
   */
  readonly user?: string;
  readonly password?: string;
  /** Authenticate with a token (`weir_<id>_<secret>`) instead of a user and password. */
  readonly token?: string;
  /** Speak TLS (also implied by `weirs://`). */
  readonly tls?: ClientTlsOptions;
  /** Reconnect by itself (backoff with full jitter) when the connection drops. Default true. */
  readonly reconnect?: boolean;
  /** Time to reach the server and finish the handshake, per attempt. Default 10000. */
  readonly connectTimeoutMs?: number;
  /**
   * The clock the SDK's own timers run on (circuit-breaker cool-downs): tests pass a
   * ManualClock. Default: the system clock.
   */
  readonly clock?: Clock;
  /**
   * OpenTelemetry spans (publish, deliver, settle; docs/concepts.md, "Tracing with
   * OpenTelemetry"): false turns them off even when `@opentelemetry/api` is installed; true
   * makes them whenever it is; default: on when it is installed and a tracer provider is
   * registered when the client connects.
   */
  readonly tracing?: boolean;
  /** How `@opentelemetry/api` is loaded. Default: `import('@opentelemetry/api')`. */
  readonly openTelemetryLoader?: OpenTelemetryLoader;
}

/** ConnectOptions checked, with defaults filled in. */
export interface ClientSettings {
  readonly name: string;
  readonly credentials: ClientCredentials;
  /** null: plain TCP. */
  readonly tls: ClientTlsOptions | null;
  readonly reconnect: boolean;
  readonly connectTimeoutMs: number;
  readonly clock: Clock;
  /** As given: undefined is the default (on when a tracer provider is registered). */
  readonly tracing: boolean | undefined;
  readonly openTelemetryLoader: OpenTelemetryLoader | undefined;
}

/** What the address itself said (weir-url.ts). */
export interface UrlSettings {
  readonly secure: boolean;
  readonly user: string | null;
  readonly password: string | null;
}

const CLIENT_NAME_DEFAULT = 'weir-client';
const NO_URL_SETTINGS: UrlSettings = { secure: false, user: null, password: null };

function invalid(message: string): WeirError {
  return new WeirError('INVALID_ARGUMENT', message);
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function byteLength(text: string): number {
  return new TextEncoder().encode(text).length;
}

function checkCredentials(options: Record<string, unknown>, url: UrlSettings): ClientCredentials {
  if (options.credentials !== undefined) {
    throw invalid('credentials was removed (protocol 5): pass user and password, or token');
  }
  const user = options.user ?? url.user ?? undefined;
  const password = options.password ?? url.password ?? undefined;
  const { token } = options;
  if (
    user !== undefined &&
    (typeof user !== 'string' || user === '' || byteLength(user) > NAME_BYTES_MAX)
  ) {
    throw invalid(`user must be a non-empty string of at most ${NAME_BYTES_MAX} bytes`);
  }
  if (
    password !== undefined &&
    (typeof password !== 'string' || password === '' || byteLength(password) > PASSWORD_BYTES_MAX)
  ) {
    throw invalid(`password must be a non-empty string of at most ${PASSWORD_BYTES_MAX} bytes`);
  }
  if (
    token !== undefined &&
    (typeof token !== 'string' || token === '' || byteLength(token) > HELLO_TOKEN_BYTES_MAX)
  ) {
    throw invalid(`token must be a non-empty string of at most ${HELLO_TOKEN_BYTES_MAX} bytes`);
  }
  if (token !== undefined && (user !== undefined || password !== undefined)) {
    throw invalid('token: give either a user and password or a token, not both');
  }
  if (password !== undefined && user === undefined) throw invalid('password needs a user');
  if (user !== undefined && password === undefined) throw invalid('user needs a password');
  if (typeof token === 'string') return { kind: 'token', token };
  if (typeof user === 'string' && typeof password === 'string') {
    return { kind: 'password', password: new PasswordCredentials(user, password) };
  }
  return { kind: 'none' };
}

const TLS_OPTION_NAMES = new Set(['ca', 'cert', 'key', 'servername', 'rejectUnauthorized']);

function checkTls(value: unknown, secure: boolean): ClientTlsOptions | null {
  if (value === undefined) return secure ? Object.freeze({}) : null;
  if (!isRecord(value)) throw invalid('tls must be an object');
  for (const name of Object.keys(value)) {
    if (!TLS_OPTION_NAMES.has(name)) throw invalid(`tls.${name} is not an option`);
  }
  for (const name of ['ca', 'cert', 'key'] as const) {
    const pem = value[name];
    if (pem !== undefined && typeof pem !== 'string' && !(pem instanceof Uint8Array)) {
      throw invalid(`tls.${name} must be PEM text (a string) or bytes (a Uint8Array)`);
    }
  }
  if ((value.cert === undefined) !== (value.key === undefined)) {
    throw invalid('tls.cert and tls.key go together');
  }
  if (value.servername !== undefined && typeof value.servername !== 'string') {
    throw invalid('tls.servername must be a string');
  }
  if (value.rejectUnauthorized !== undefined && typeof value.rejectUnauthorized !== 'boolean') {
    throw invalid('tls.rejectUnauthorized must be true or false');
  }
  return Object.freeze({ ...value });
}

export function checkConnectOptions(
  options: unknown,
  url: UrlSettings = NO_URL_SETTINGS,
): ClientSettings {
  if (options === undefined || options === null) options = {};
  if (!isRecord(options)) throw invalid('connect options must be an object');
  const { name = CLIENT_NAME_DEFAULT, reconnect = true } = options;
  const connectTimeoutMs = options.connectTimeoutMs ?? CLIENT_CONNECT_TIMEOUT_MS_DEFAULT;
  if (typeof name !== 'string' || byteLength(name) > CLIENT_NAME_BYTES_MAX) {
    throw invalid(`name must be a string of at most ${CLIENT_NAME_BYTES_MAX} bytes`);
  }
  const credentials = checkCredentials(options, url);
  const tls = checkTls(options.tls, url.secure);
  if (typeof reconnect !== 'boolean') throw invalid('reconnect must be true or false');
  if (
    typeof connectTimeoutMs !== 'number' ||
    !(connectTimeoutMs > 0 && connectTimeoutMs <= CLIENT_CONNECT_TIMEOUT_MS_MAX)
  ) {
    throw invalid(`connectTimeoutMs must be a number in (0, ${CLIENT_CONNECT_TIMEOUT_MS_MAX}]`);
  }
  const clock = options.clock ?? systemClock;
  if (
    typeof clock !== 'object' ||
    clock === null ||
    typeof (clock as Clock).now !== 'function' ||
    typeof (clock as Clock).setTimer !== 'function'
  ) {
    throw invalid('clock must be a Clock (now, setTimer, setRepeating)');
  }
  const { tracing, openTelemetryLoader } = options;
  if (tracing !== undefined && typeof tracing !== 'boolean') {
    throw invalid('tracing must be true or false');
  }
  if (openTelemetryLoader !== undefined && typeof openTelemetryLoader !== 'function') {
    throw invalid('openTelemetryLoader must be a function returning a promise of the api');
  }
  return Object.freeze({
    name,
    credentials,
    tls,
    reconnect,
    connectTimeoutMs,
    clock: clock as Clock,
    tracing,
    openTelemetryLoader: openTelemetryLoader as OpenTelemetryLoader | undefined,
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
