/**
 * A small etcd v3 client over etcd's JSON gateway (HTTP/1.1, `POST /v3/...`), with node:http
 * only: Weir needs a handful of calls (range, put, delete, txn, leases, watch), not a gRPC
 * stack. Debian ships etcd 3.4; its gateway is at `/v3/` (3.5 keeps it there too).
 *
 * Wire format (grpc-gateway's JSON mapping of etcd's protobufs):
 * - keys and values are base64 of their bytes; Weir's keys and values are UTF-8 text;
 * - int64 fields (revisions, lease ids, TTLs, counts) come as decimal strings, and fields
 *   equal to their zero value are left out (a missing `mod_revision` is 0);
 * - an error is a non-200 status with `{ error, message, code }` (code: a gRPC status);
 * - streaming calls (`/v3/watch`, `/v3/lease/keepalive`) answer with one JSON object per
 *   line, `{ "result": ... }` or `{ "error": ... }`. The request body is one object and then
 *   ends: the gateway answers nothing until it has the whole body.
 *
 * Lease ids stay strings: they are random int64s, past Number.MAX_SAFE_INTEGER.
 *
 * Failure: every unary request has a deadline (ETCD_REQUEST_TIMEOUT_MS unless told) and
 * fails TIMEOUT past it; an endpoint that refuses the connection is skipped for the next one
 * (in turn); when none answers the call fails CLOSED. A request is never re-sent after it may
 * have reached etcd, except on a kept-alive socket that etcd had already closed (Node's
 * documented `reusedSocket` + ECONNRESET case), where nothing was read.
 *
 * Concurrency: any number of calls may be in flight; a watch has its own socket and
 * reconnects by itself (see WatchStream). `close()` ends every watch and fails later calls.
 */
import * as http from 'node:http';
import {
  ETCD_RANGE_KEYS_MAX,
  ETCD_REQUEST_TIMEOUT_MS,
  ETCD_RESPONSE_BYTES_MAX,
  ETCD_SOCKETS_MAX,
  ETCD_WATCH_CREATE_TIMEOUT_MS,
  ETCD_WATCH_RETRY_MS,
  ETCD_WATCH_RETRY_MS_MAX,
  ETCD_WATCH_SOCKET_KEEPALIVE_MS,
} from '../limits.js';
import { WeirError, assert, type ErrorCode } from '../util/index.js';

export interface KeyValue {
  key: string;
  value: string;
  createRevision: number;
  modRevision: number;
  version: number;
  /** The lease the key lives under, '0' for none. */
  lease: string;
}

export type CompareResult = 'equal' | 'not-equal' | 'greater' | 'less';

/**
 * One condition of a txn. `create`/`mod` compare the key's create or mod revision (0 when
 * the key does not exist, so `{ target: 'create', result: 'equal', revision: 0 }` means
 * "absent"), `version` its version, `value` its value, `lease` its lease id.
 */
export type Compare =
  | { key: string; target: 'create' | 'mod' | 'version'; result: CompareResult; revision: number }
  | { key: string; target: 'value'; result: CompareResult; value: string }
  | { key: string; target: 'lease'; result: CompareResult; lease: string };

export type Op =
  | { type: 'put'; key: string; value: string; lease?: string }
  | { type: 'delete'; key: string; prefix?: boolean }
  | { type: 'range'; key: string; prefix?: boolean };

export type OpResponse =
  | { type: 'put'; revision: number }
  | { type: 'delete'; deleted: number }
  | { type: 'range'; kvs: KeyValue[] };

export interface TxnRequest {
  compare: Compare[];
  success: Op[];
  failure?: Op[];
}

export interface TxnResult {
  succeeded: boolean;
  /** The store's revision after the txn (the revision of its writes, if it wrote). */
  revision: number;
  responses: OpResponse[];
}

export interface WatchEvent {
  type: 'put' | 'delete';
  key: string;
  /** The new value; '' for a delete. */
  value: string;
  modRevision: number;
}

export interface WatchOptions {
  /** Deliver events from this revision on (inclusive); default: changes after now. */
  fromRevision?: number;
  /**
   * Read the prefix first and deliver its current keys as puts in one first call (made even
   * when there are none), then the changes after that read. Not with `fromRevision`.
   */
  withCurrent?: boolean;
}

export interface Watch {
  cancel(): void;
}

export interface RequestOptions {
  /** This request's deadline instead of ETCD_REQUEST_TIMEOUT_MS. */
  timeoutMs?: number;
}

/** An error etcd answered with; `grpcCode` is its gRPC status (5: not found, ...). */
export class EtcdError extends WeirError {
  readonly grpcCode: number;
  readonly etcdMessage: string;

  constructor(path: string, grpcCode: number, etcdMessage: string) {
    super(codeOf(grpcCode), `etcd ${path}: ${etcdMessage} (gRPC code ${grpcCode})`);
    this.grpcCode = grpcCode;
    this.etcdMessage = etcdMessage;
  }
}

export const GRPC_NOT_FOUND = 5;

function codeOf(grpcCode: number): ErrorCode {
  switch (grpcCode) {
    case 4: // DEADLINE_EXCEEDED: "etcdserver: request timed out"
      return 'TIMEOUT';
    case 14: // UNAVAILABLE: no leader, leader changed, stopping
      return 'CLOSED';
    case 8: // RESOURCE_EXHAUSTED: quota, too many requests
      return 'LIMIT_EXCEEDED';
    default:
      return 'INTERNAL';
  }
}

/** Connection errors after which the request certainly did not reach that endpoint. */
const NOT_CONNECTED = new Set([
  'ECONNREFUSED',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EADDRNOTAVAIL',
]);

type Json = Record<string, unknown>;

export function encode(text: string): string {
  return Buffer.from(text, 'utf8').toString('base64');
}

export function decode(base64: unknown): string {
  if (base64 === undefined) return '';
  if (typeof base64 !== 'string') throw protocolError('a key or value is not base64 text');
  return Buffer.from(base64, 'base64').toString('utf8');
}

/** The end of the key range holding every key that starts with `prefix` (etcd's `range_end`). */
export function prefixEnd(prefix: string): string {
  const bytes = Buffer.from(prefix, 'utf8');
  for (let index = bytes.length - 1; index >= 0; index--) {
    if (bytes[index]! < 0xff) {
      const end = bytes.subarray(0, index + 1);
      end[index]! += 1;
      return end.toString('base64');
    }
  }
  return Buffer.from([0]).toString('base64'); // every key
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : JSON.stringify(error);
}

function protocolError(what: string): WeirError {
  return new WeirError('INTERNAL', `etcd answered something unexpected: ${what}`);
}

/** An int64 of the JSON mapping: a decimal string, or absent for 0. */
function int64(value: unknown, field: string): number {
  if (value === undefined) return 0;
  const number = typeof value === 'string' ? Number(value) : value;
  if (typeof number !== 'number' || !Number.isSafeInteger(number)) {
    throw protocolError(`${field} is not an integer: ${JSON.stringify(value)}`);
  }
  return number;
}

function object(value: unknown, field: string): Json {
  if (value === undefined) return {};
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw protocolError(`${field} is not an object`);
  }
  return value as Json;
}

function list(value: unknown, field: string): unknown[] {
  if (value === undefined) return [];
  if (!Array.isArray(value)) throw protocolError(`${field} is not a list`);
  return value;
}

function headerRevision(body: Json): number {
  return int64(object(body['header'], 'header')['revision'], 'header.revision');
}

function keyValue(raw: unknown): KeyValue {
  const kv = object(raw, 'kv');
  const lease = kv['lease'];
  return {
    key: decode(kv['key']),
    value: decode(kv['value']),
    createRevision: int64(kv['create_revision'], 'create_revision'),
    modRevision: int64(kv['mod_revision'], 'mod_revision'),
    version: int64(kv['version'], 'version'),
    lease: typeof lease === 'string' ? lease : '0',
  };
}

function rangeBody(key: string, prefix: boolean): Json {
  const body: Json = { key: encode(key), limit: String(ETCD_RANGE_KEYS_MAX) };
  if (prefix) body['range_end'] = prefixEnd(key);
  return body;
}

function rangeKvs(key: string, response: Json): KeyValue[] {
  if (response['more'] === true) {
    throw new WeirError(
      'LIMIT_EXCEEDED',
      `etcd holds more than ${ETCD_RANGE_KEYS_MAX} keys under ${key}`,
    );
  }
  return list(response['kvs'], 'kvs').map(keyValue);
}

const COMPARE_RESULTS = {
  equal: 'EQUAL',
  'not-equal': 'NOT_EQUAL',
  greater: 'GREATER',
  less: 'LESS',
};

function compareBody(compare: Compare): Json {
  const body: Json = { key: encode(compare.key), result: COMPARE_RESULTS[compare.result] };
  switch (compare.target) {
    case 'create':
      return { ...body, target: 'CREATE', create_revision: String(compare.revision) };
    case 'mod':
      return { ...body, target: 'MOD', mod_revision: String(compare.revision) };
    case 'version':
      return { ...body, target: 'VERSION', version: String(compare.revision) };
    case 'value':
      return { ...body, target: 'VALUE', value: encode(compare.value) };
    case 'lease':
      return { ...body, target: 'LEASE', lease: compare.lease };
  }
}

function opBody(op: Op): Json {
  switch (op.type) {
    case 'put': {
      const put: Json = { key: encode(op.key), value: encode(op.value) };
      if (op.lease !== undefined) put['lease'] = op.lease;
      return { request_put: put };
    }
    case 'delete': {
      const range: Json = { key: encode(op.key) };
      if (op.prefix === true) range['range_end'] = prefixEnd(op.key);
      return { request_delete_range: range };
    }
    case 'range':
      return { request_range: rangeBody(op.key, op.prefix === true) };
  }
}

function opResponse(op: Op, raw: unknown): OpResponse {
  const response = object(raw, 'response');
  switch (op.type) {
    case 'put':
      return {
        type: 'put',
        revision: headerRevision(object(response['response_put'], 'response_put')),
      };
    case 'delete': {
      const deleted = object(response['response_delete_range'], 'response_delete_range');
      return { type: 'delete', deleted: int64(deleted['deleted'], 'deleted') };
    }
    case 'range':
      return {
        type: 'range',
        kvs: rangeKvs(op.key, object(response['response_range'], 'response_range')),
      };
  }
}

/** Parses newline-delimited JSON objects out of a byte stream, bounded per object. */
class LineReader {
  #pending = '';

  /** The complete lines in `chunk` (with what was pending); throws past the size bound. */
  push(chunk: string): string[] {
    this.#pending += chunk;
    const lines = this.#pending.split('\n');
    this.#pending = lines.pop() ?? '';
    if (this.#pending.length > ETCD_RESPONSE_BYTES_MAX) {
      throw new WeirError(
        'LIMIT_EXCEEDED',
        `an etcd message is larger than ${ETCD_RESPONSE_BYTES_MAX} bytes`,
      );
    }
    return lines.filter((line) => line.trim().length > 0);
  }

  /** What is left after the stream ended (a last object without its newline). */
  rest(): string {
    return this.#pending.trim();
  }
}

function parseJson(text: string): Json {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw protocolError(`not JSON: ${text.slice(0, 200)}`);
  }
  return object(parsed, 'body');
}

/** What a WatchStream needs from its client (keeps the client's internals private). */
interface WatchHost {
  endpoint(): URL;
  rotate(): void;
  rangeAt(prefix: string): Promise<{ kvs: KeyValue[]; revision: number }>;
}

export class EtcdClient {
  readonly #endpoints: URL[];
  #current = 0;
  readonly #agent = new http.Agent({ keepAlive: true, maxSockets: ETCD_SOCKETS_MAX });
  readonly #watches = new Set<WatchStream>();
  #closed = false;

  /** `endpoints`: etcd client URLs, e.g. 'http://127.0.0.1:2379' (http only). */
  constructor(endpoints: string[]) {
    if (endpoints.length === 0) throw new WeirError('INVALID_ARGUMENT', 'etcd: no endpoint given');
    this.#endpoints = endpoints.map((endpoint) => {
      let url: URL;
      try {
        url = new URL(endpoint);
      } catch (error) {
        throw new WeirError('INVALID_ARGUMENT', `etcd endpoint ${endpoint} is not a URL`, {
          cause: error,
        });
      }
      if (url.protocol !== 'http:') {
        throw new WeirError(
          'INVALID_ARGUMENT',
          `etcd endpoint ${endpoint}: only http:// is supported`,
        );
      }
      return url;
    });
  }

  async get(key: string, options?: RequestOptions): Promise<KeyValue | null> {
    const response = await this.#call('/v3/kv/range', { key: encode(key) }, options);
    const kvs = list(response['kvs'], 'kvs');
    return kvs.length === 0 ? null : keyValue(kvs[0]);
  }

  /** Every key under `prefix`, in key order (at most ETCD_RANGE_KEYS_MAX, else LIMIT_EXCEEDED). */
  async range(prefix: string, options?: RequestOptions): Promise<KeyValue[]> {
    return (await this.rangeAt(prefix, options)).kvs;
  }

  /** `range`, with the store revision it was read at. */
  async rangeAt(
    prefix: string,
    options?: RequestOptions,
  ): Promise<{ kvs: KeyValue[]; revision: number }> {
    const response = await this.#call('/v3/kv/range', rangeBody(prefix, true), options);
    return { kvs: rangeKvs(prefix, response), revision: headerRevision(response) };
  }

  /** Returns the revision of the write. */
  async put(
    key: string,
    value: string,
    options?: { lease?: string } & RequestOptions,
  ): Promise<number> {
    const body: Json = { key: encode(key), value: encode(value) };
    if (options?.lease !== undefined) body['lease'] = options.lease;
    return headerRevision(await this.#call('/v3/kv/put', body, options));
  }

  async delete(key: string, options?: RequestOptions): Promise<void> {
    await this.#call('/v3/kv/deleterange', { key: encode(key) }, options);
  }

  async txn(request: TxnRequest, options?: RequestOptions): Promise<TxnResult> {
    const failure = request.failure ?? [];
    const response = await this.#call(
      '/v3/kv/txn',
      {
        compare: request.compare.map(compareBody),
        success: request.success.map(opBody),
        failure: failure.map(opBody),
      },
      options,
    );
    const succeeded = response['succeeded'] === true;
    const ops = succeeded ? request.success : failure;
    const raw = list(response['responses'], 'responses');
    if (raw.length !== ops.length)
      throw protocolError(`${raw.length} txn responses for ${ops.length} ops`);
    return {
      succeeded,
      revision: headerRevision(response),
      responses: ops.map((op, index) => opResponse(op, raw[index])),
    };
  }

  async leaseGrant(ttlS: number, options?: RequestOptions): Promise<{ id: string; ttl: number }> {
    assert(
      Number.isSafeInteger(ttlS) && ttlS > 0,
      'a lease TTL is a positive whole number of seconds',
    );
    const response = await this.#call('/v3/lease/grant', { TTL: String(ttlS) }, options);
    const error = response['error'];
    if (typeof error === 'string' && error.length > 0)
      throw new EtcdError('/v3/lease/grant', 0, error);
    const id = response['ID'];
    if (typeof id !== 'string' || !/^-?[0-9]+$/.test(id) || id === '0') {
      throw protocolError('lease grant without an ID');
    }
    return { id, ttl: int64(response['TTL'], 'TTL') };
  }

  /** One keepalive; the lease's remaining TTL in seconds, 0 when etcd no longer has it. */
  async leaseKeepAlive(id: string, options?: RequestOptions): Promise<number> {
    const response = await this.#call('/v3/lease/keepalive', { ID: id }, options, true);
    return int64(response['TTL'], 'TTL');
  }

  /** Ends the lease and deletes every key under it; a lease etcd does not have is no error. */
  async leaseRevoke(id: string, options?: RequestOptions): Promise<void> {
    try {
      await this.#call('/v3/lease/revoke', { ID: id }, options);
    } catch (error) {
      if (error instanceof EtcdError && error.grpcCode === GRPC_NOT_FOUND) return;
      throw error;
    }
  }

  /**
   * Watches every key under `prefix` (streaming POST /v3/watch). `onEvents` gets each batch in
   * revision order. The watch reconnects by itself (backoff ETCD_WATCH_RETRY_MS..._MAX) from
   * the revision after the last one it delivered, so a restart of etcd loses nothing; if
   * etcd compacted that revision away, it reads the prefix again and delivers every current
   * key as a put, and a delete for each key it had delivered that is gone. `onEvents` must
   * not throw (it is rethrown on its own stack: an uncaught exception).
   */
  watch(prefix: string, onEvents: (events: WatchEvent[]) => void, options?: WatchOptions): Watch {
    if (this.#closed) throw new WeirError('CLOSED', 'the etcd client is closed');
    const from = options?.fromRevision;
    if (from !== undefined) {
      assert(Number.isSafeInteger(from) && from > 0, 'a watch starts at a positive revision');
      assert(options?.withCurrent !== true, 'a watch takes fromRevision or withCurrent, not both');
    }
    const host: WatchHost = {
      endpoint: () => this.#endpoints[this.#current]!,
      rotate: () => this.#rotate(),
      rangeAt: (key) => this.rangeAt(key),
    };
    const stream = new WatchStream(
      host,
      prefix,
      onEvents,
      from,
      options?.withCurrent === true,
      () => this.#watches.delete(stream),
    );
    this.#watches.add(stream);
    stream.start();
    return { cancel: () => stream.cancel() };
  }

  /** Ends every watch, closes the sockets; later calls fail CLOSED. Idempotent. */
  close(): void {
    this.#closed = true;
    for (const stream of [...this.#watches]) stream.cancel();
    this.#agent.destroy();
  }

  #rotate(): void {
    this.#current = (this.#current + 1) % this.#endpoints.length;
  }

  /** One request, trying the endpoints in turn while they refuse the connection. */
  async #call(
    path: string,
    body: Json,
    options: RequestOptions | undefined,
    stream = false,
  ): Promise<Json> {
    const timeoutMs = options?.timeoutMs ?? ETCD_REQUEST_TIMEOUT_MS;
    assert(timeoutMs > 0, 'an etcd request has a positive timeout');
    const deadline = performance.now() + timeoutMs;
    const payload = JSON.stringify(body);
    let lastError: unknown = null;
    for (let attempt = 0; attempt < this.#endpoints.length + 1; attempt++) {
      if (this.#closed) throw new WeirError('CLOSED', 'the etcd client is closed');
      const remainingMs = deadline - performance.now();
      if (remainingMs <= 0) break;
      const endpoint = this.#endpoints[this.#current]!;
      try {
        return await this.#send(endpoint, path, payload, remainingMs, stream);
      } catch (error) {
        if (error instanceof WeirError) throw error;
        const code = (error as NodeJS.ErrnoException).code;
        const stale = error instanceof StaleSocketError;
        if (!stale && (code === undefined || !NOT_CONNECTED.has(code))) {
          // The connection broke after the request may have reached etcd: not sent again.
          throw new WeirError(
            'CLOSED',
            `etcd ${path}: the connection was lost (${describe(error)})`,
            {
              cause: error,
            },
          );
        }
        lastError = stale ? error.cause : error;
        if (!stale) this.#rotate();
        if (!stale && attempt >= this.#endpoints.length - 1) break;
      }
    }
    if (lastError === null)
      throw new WeirError('TIMEOUT', `etcd ${path} did not answer within ${timeoutMs} ms`);
    throw new WeirError(
      'CLOSED',
      `etcd is unreachable (${this.#endpoints.map(String).join(', ')}): ${describe(lastError)}`,
      { cause: lastError },
    );
  }

  #send(
    endpoint: URL,
    path: string,
    payload: string,
    timeoutMs: number,
    stream: boolean,
  ): Promise<Json> {
    return new Promise<Json>((resolve, reject) => {
      let settled = false;
      const finish = (error: unknown, result?: Json): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        if (error === null) resolve(result!);
        else {
          request.destroy();
          reject(error instanceof Error ? error : new Error(describe(error)));
        }
      };
      const request = http.request({
        agent: this.#agent,
        host: endpoint.hostname,
        port: endpoint.port === '' ? 2379 : Number(endpoint.port),
        method: 'POST',
        path,
        headers: {
          'content-type': 'application/json',
          'content-length': Buffer.byteLength(payload),
        },
      });
      const timer = setTimeout(
        () =>
          finish(
            new WeirError(
              'TIMEOUT',
              `etcd ${path} did not answer within ${Math.round(timeoutMs)} ms`,
            ),
          ),
        timeoutMs,
      );
      request.on('error', (error: NodeJS.ErrnoException) => {
        if (request.reusedSocket && error.code === 'ECONNRESET')
          finish(new StaleSocketError(error));
        else finish(error);
      });
      request.on('response', (response) => {
        response.setEncoding('utf8');
        const reader = new LineReader();
        let text = '';
        // An error before the stream began is a plain JSON answer with a non-200 status.
        const streaming = stream && response.statusCode === 200;
        response.on('data', (chunk: string) => {
          try {
            if (streaming) {
              // A streaming call: the first complete object is the answer.
              const [first] = reader.push(chunk);
              if (first !== undefined) finish(null, streamResult(path, parseJson(first)));
            } else {
              text += chunk;
              if (text.length > ETCD_RESPONSE_BYTES_MAX) {
                throw new WeirError(
                  'LIMIT_EXCEEDED',
                  `etcd ${path} answered more than ${ETCD_RESPONSE_BYTES_MAX} bytes`,
                );
              }
            }
          } catch (error) {
            finish(error);
          }
        });
        response.on('end', () => {
          try {
            if (streaming) {
              const rest = reader.rest();
              if (rest.length === 0) throw protocolError(`${path} ended without an answer`);
              finish(null, streamResult(path, parseJson(rest)));
              return;
            }
            const parsed = parseJson(text);
            if (response.statusCode !== 200) throw errorOf(path, parsed);
            finish(null, parsed);
          } catch (error) {
            finish(error);
          }
        });
        response.on('error', (error) => finish(error));
        response.on('close', () => {
          if (!response.complete) finish(new WeirError('CLOSED', `etcd closed ${path} mid-answer`));
        });
      });
      request.end(payload);
    });
  }
}

/** A kept-alive socket etcd had closed before this request was read: safe to send again. */
class StaleSocketError extends Error {
  constructor(cause: Error) {
    super('stale keep-alive socket', { cause });
  }
}

function errorOf(path: string, body: Json): EtcdError {
  const message = body['message'] ?? body['error'];
  const code = body['code'];
  return new EtcdError(
    path,
    typeof code === 'number' ? code : 2,
    typeof message === 'string' ? message : 'error',
  );
}

function streamResult(path: string, message: Json): Json {
  if (message['error'] !== undefined) throw errorOf(path, object(message['error'], 'error'));
  return object(message['result'], 'result');
}

/**
 * One watch: a long-lived POST /v3/watch on its own socket. States: reading (optional: the
 * prefix, for withCurrent or after a compaction) → connecting (until `created`) → streaming;
 * any failure → waiting (backoff) → connecting again, on the next endpoint. `#nextRevision`
 * is where a new stream starts: one past the last revision delivered (or, for a watch from
 * "now", one past the revision etcd said at `created`), so no event is lost or repeated.
 */
class WatchStream {
  readonly #host: WatchHost;
  readonly #prefix: string;
  readonly #onEvents: (events: WatchEvent[]) => void;
  readonly #onEnd: () => void;
  #nextRevision: number | undefined;
  #needRead: boolean;
  #first: boolean;
  /** Keys known to exist (delivered as puts, not since deleted): a re-read's deletes. */
  readonly #alive = new Set<string>();
  #request: http.ClientRequest | null = null;
  #timer: NodeJS.Timeout | null = null;
  #retryMs = ETCD_WATCH_RETRY_MS;
  #cancelled = false;

  constructor(
    host: WatchHost,
    prefix: string,
    onEvents: (events: WatchEvent[]) => void,
    fromRevision: number | undefined,
    withCurrent: boolean,
    onEnd: () => void,
  ) {
    this.#host = host;
    this.#prefix = prefix;
    this.#onEvents = onEvents;
    this.#nextRevision = fromRevision;
    this.#needRead = withCurrent;
    this.#first = withCurrent;
    this.#onEnd = onEnd;
  }

  start(): void {
    if (this.#needRead) void this.#read();
    else this.#connect();
  }

  cancel(): void {
    if (this.#cancelled) return;
    this.#cancelled = true;
    this.#clearTimer();
    this.#request?.destroy();
    this.#request = null;
    this.#onEnd();
  }

  #clearTimer(): void {
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#timer = null;
  }

  #deliver(events: WatchEvent[]): void {
    if (this.#cancelled) return;
    try {
      this.#onEvents(events);
    } catch (error) {
      queueMicrotask(() => {
        throw error;
      });
    }
  }

  /** Reads the prefix and delivers it as puts (and deletes for keys gone), then streams. */
  async #read(): Promise<void> {
    let snapshot: { kvs: KeyValue[]; revision: number };
    try {
      snapshot = await this.#host.rangeAt(this.#prefix);
    } catch {
      this.#retry();
      return;
    }
    if (this.#cancelled) return;
    const events: WatchEvent[] = snapshot.kvs.map((kv) => ({
      type: 'put',
      key: kv.key,
      value: kv.value,
      modRevision: kv.modRevision,
    }));
    const present = new Set(snapshot.kvs.map((kv) => kv.key));
    for (const key of this.#alive) {
      if (!present.has(key))
        events.push({ type: 'delete', key, value: '', modRevision: snapshot.revision });
    }
    this.#alive.clear();
    for (const key of present) this.#alive.add(key);
    this.#needRead = false;
    this.#nextRevision = snapshot.revision + 1;
    if (events.length > 0 || this.#first) {
      this.#first = false;
      this.#deliver(events);
    }
    if (!this.#cancelled) this.#connect();
  }

  #retry(): void {
    if (this.#cancelled) return;
    this.#request?.destroy();
    this.#request = null;
    this.#clearTimer();
    this.#host.rotate();
    const delayMs = this.#retryMs;
    this.#retryMs = Math.min(ETCD_WATCH_RETRY_MS_MAX, this.#retryMs * 2);
    this.#timer = setTimeout(() => {
      this.#timer = null;
      if (this.#needRead) void this.#read();
      else this.#connect();
    }, delayMs);
  }

  #connect(): void {
    if (this.#cancelled) return;
    const endpoint = this.#host.endpoint();
    const create: Json = { key: encode(this.#prefix), range_end: prefixEnd(this.#prefix) };
    if (this.#nextRevision !== undefined) create['start_revision'] = String(this.#nextRevision);
    const payload = JSON.stringify({ create_request: create });
    const request = http.request({
      agent: false,
      host: endpoint.hostname,
      port: endpoint.port === '' ? 2379 : Number(endpoint.port),
      method: 'POST',
      path: '/v3/watch',
      headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) },
    });
    this.#request = request;
    let created = false;
    this.#timer = setTimeout(() => {
      this.#timer = null;
      if (!created) this.#retry();
    }, ETCD_WATCH_CREATE_TIMEOUT_MS);
    const fail = (): void => {
      if (this.#request === request) this.#retry();
    };
    request.on('socket', (socket) => socket.setKeepAlive(true, ETCD_WATCH_SOCKET_KEEPALIVE_MS));
    request.on('error', fail);
    request.on('close', fail);
    request.on('response', (response) => {
      if (response.statusCode !== 200) {
        response.resume();
        fail();
        return;
      }
      response.setEncoding('utf8');
      const reader = new LineReader();
      response.on('data', (chunk: string) => {
        if (this.#request !== request) return;
        try {
          for (const line of reader.push(chunk)) {
            if (this.#request !== request) return;
            const message = streamResult('/v3/watch', parseJson(line));
            if (message['created'] === true) {
              created = true;
              this.#clearTimer();
              this.#retryMs = ETCD_WATCH_RETRY_MS;
              this.#nextRevision ??= headerRevision(message) + 1;
            }
            if (message['canceled'] === true) {
              // Compacted past where this watch would start: read the prefix again.
              if (int64(message['compact_revision'], 'compact_revision') > 0) this.#needRead = true;
              this.#retryMs = ETCD_WATCH_RETRY_MS;
              fail();
              return;
            }
            this.#onMessage(message);
          }
        } catch {
          fail();
        }
      });
      response.on('error', fail);
      response.on('end', fail);
    });
    request.end(payload);
  }

  #onMessage(message: Json): void {
    const raw = list(message['events'], 'events');
    if (raw.length === 0) return;
    const events: WatchEvent[] = raw.map((entry) => {
      const event = object(entry, 'event');
      const kv = keyValue(event['kv']);
      const type = event['type'] === 'DELETE' ? 'delete' : 'put';
      return {
        type,
        key: kv.key,
        value: type === 'delete' ? '' : kv.value,
        modRevision: kv.modRevision,
      };
    });
    for (const event of events) {
      if (event.type === 'put') this.#alive.add(event.key);
      else this.#alive.delete(event.key);
    }
    this.#nextRevision = events[events.length - 1]!.modRevision + 1;
    this.#deliver(events);
  }
}
