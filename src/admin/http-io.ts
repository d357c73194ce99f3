/**
 * Reading requests and writing responses for the admin HTTP API: bounded JSON bodies,
 * query parameters checked with a message naming the parameter, and errors as
 * `{ "error": { "code", "message" } }` with the HTTP status of the code in the error registry
 * (the same codes the wire protocol carries).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { ERROR_CODES, WeirError, isWeirError } from '../util/index.js';

/** Headers every API response carries. */
const API_HEADERS = {
  'cache-control': 'no-store',
  'x-content-type-options': 'nosniff',
} as const;

export function sendJson(response: ServerResponse, status: number, value: unknown): void {
  const text = JSON.stringify(value);
  response.writeHead(status, {
    ...API_HEADERS,
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
  });
  response.end(text);
}

export function asWeirError(error: unknown): WeirError {
  if (isWeirError(error)) return error;
  return new WeirError('INTERNAL', error instanceof Error ? error.message : String(error), {
    cause: error,
  });
}

/**
 * NOT_AUTHORIZED for a request that did not authenticate (no, wrong or expired credentials):
 * answered 401 with `WWW-Authenticate: Basic realm="weir"`, where a refusal of what an
 * authenticated user may not do stays the registry's 403.
 */
export class AuthenticationRequired extends WeirError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('NOT_AUTHORIZED', message, options);
  }
}

/** Unauthorized: HTTP's name for "not authenticated". */
const UNAUTHORIZED_STATUS = 401;

/** The header the console sends on its requests (see sendError). */
export const CONSOLE_REQUEST_HEADER = 'x-weir-console';

/**
 * Browsers answer a 401 carrying `WWW-Authenticate: Basic` with their own password dialog,
 * even for fetch() and EventSource: the console asks with its own login page instead, so the
 * challenge is left out for requests that come from it (its header, or its session cookie).
 */
function wantsChallenge(request: IncomingMessage | undefined): boolean {
  if (request === undefined) return true;
  if (request.headers[CONSOLE_REQUEST_HEADER] !== undefined) return false;
  return !/(?:^|;)\s*weir_session=/.test(request.headers.cookie ?? '');
}

export function sendError(response: ServerResponse, error: unknown): void {
  const weirError = asWeirError(error);
  if (response.headersSent) {
    response.destroy(weirError);
    return;
  }
  const body = { error: { code: weirError.code, message: weirError.message } };
  if (weirError instanceof AuthenticationRequired) {
    if (wantsChallenge(response.req)) response.setHeader('www-authenticate', 'Basic realm="weir"');
    sendJson(response, UNAUTHORIZED_STATUS, body);
    return;
  }
  sendJson(response, ERROR_CODES[weirError.code].httpStatus, body);
}

export function invalid(field: string, problem: string): WeirError {
  return new WeirError('INVALID_ARGUMENT', `${field} ${problem}`);
}

/**
 * Reads the body as JSON: at most `maxBytes` (MESSAGE_TOO_LARGE past it), an empty body is
 * `undefined`. The content type must be application/json, which also keeps other web pages
 * from posting to the API (a cross-origin JSON post needs a CORS preflight this server never
 * grants).
 */
export async function readJsonBody(request: IncomingMessage, maxBytes: number): Promise<unknown> {
  const declared = Number(request.headers['content-length'] ?? 0);
  if (declared > maxBytes) {
    request.resume();
    throw new WeirError('MESSAGE_TOO_LARGE', `the request body is over ${maxBytes} bytes`);
  }
  const chunks: Buffer[] = [];
  let bytes = 0;
  for await (const chunk of request as AsyncIterable<Buffer>) {
    bytes += chunk.length;
    if (bytes > maxBytes) {
      request.resume();
      throw new WeirError('MESSAGE_TOO_LARGE', `the request body is over ${maxBytes} bytes`);
    }
    chunks.push(chunk);
  }
  if (bytes === 0) return undefined;
  const type = request.headers['content-type'] ?? '';
  if (!/^application\/json\b/i.test(type)) {
    throw invalid('Content-Type', 'must be application/json');
  }
  try {
    return JSON.parse(Buffer.concat(chunks, bytes).toString('utf8')) as unknown;
  } catch (error) {
    throw new WeirError('INVALID_ARGUMENT', 'the request body is not valid JSON', { cause: error });
  }
}

/** A plain JSON object (not an array, not null), or INVALID_ARGUMENT naming `what`. */
export function objectBody(value: unknown, what = 'the request body'): Record<string, unknown> {
  if (value === undefined) return {};
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw invalid(what, 'must be a JSON object');
  }
  return value as Record<string, unknown>;
}

/** Rejects keys of `body` not in `allowed`, naming the first. */
export function onlyKeys(body: Record<string, unknown>, allowed: readonly string[]): void {
  for (const key of Object.keys(body)) {
    if (!allowed.includes(key))
      throw invalid(key, `is not a known field (known: ${allowed.join(', ')})`);
  }
}

export function integerQuery(
  query: URLSearchParams,
  name: string,
  min: number,
  max: number,
): number | undefined {
  const text = query.get(name);
  if (text === null || text === '') return undefined;
  const value = Number(text);
  if (!Number.isSafeInteger(value) || value < min || value > max) {
    throw invalid(name, `must be an integer from ${min} to ${max}`);
  }
  return value;
}

/** A time given as ms since the epoch or as an ISO 8601 date. */
export function timeQuery(query: URLSearchParams, name: string): number | undefined {
  const text = query.get(name);
  if (text === null || text === '') return undefined;
  const value = /^\d+$/.test(text) ? Number(text) : Date.parse(text);
  if (!Number.isSafeInteger(value) || value < 0) {
    throw invalid(name, 'must be ms since the epoch or an ISO 8601 date');
  }
  return value;
}
