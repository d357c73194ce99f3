/**
 * A real broker with the admin server on port 0, and a small HTTP client for the tests.
 * `withAdmin` closes the admin server, the broker and its directory whatever the test does.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { Broker, type ClusterView } from '../../src/broker/index.js';
import {
  startAdminServer,
  type AdminServer,
  type AdminServerOptions,
} from '../../src/admin/index.js';
import type { Client } from '../../src/protocol/index.js';
import { createTemporaryDirectory } from '../helpers/temporary-directory.js';

export interface AdminHarness {
  readonly broker: Broker;
  readonly admin: AdminServer;
  /** An in-process client of the same broker (what an application would use). */
  readonly client: Client;
  readonly url: string;
  readonly request: (method: string, path: string, body?: unknown) => Promise<HttpAnswer>;
}

export interface HttpAnswer {
  readonly status: number;
  readonly headers: Headers;
  readonly text: string;
  /** The body parsed as JSON (undefined when it is not JSON). */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- JSON answers are checked field by field
  readonly json: any;
}

export interface HarnessOptions extends Partial<Omit<AdminServerOptions, 'broker'>> {
  /** 'file': a broker on a fresh temporary directory (fsync always); default 'memory'. */
  readonly storage?: 'memory' | 'file';
  /** A cluster view for the broker (a fake one: test/helpers/fake-cluster-view.ts). */
  readonly cluster?: ClusterView;
}

/** Samples fast so tests see rates and stalls quickly. */
export const TEST_SAMPLE_INTERVAL_MS = 100;

export async function withAdmin<T>(
  options: HarnessOptions,
  body: (harness: AdminHarness) => Promise<T>,
): Promise<T> {
  const { storage = 'memory', cluster, ...adminOptions } = options;
  const directory = storage === 'file' ? await createTemporaryDirectory('weir-admin-test-') : null;
  const broker = await Broker.open({
    ...(directory ? { dataDir: directory.path } : { storage: 'memory' }),
    ...(cluster === undefined ? {} : { cluster }),
  });
  let admin: AdminServer | null = null;
  try {
    admin = await startAdminServer({
      broker,
      port: 0,
      sampleIntervalMs: TEST_SAMPLE_INTERVAL_MS,
      ...adminOptions,
    });
    const url = admin.address().url;
    const harness: AdminHarness = {
      broker,
      admin,
      client: broker.connect(),
      url,
      request: (method, path, requestBody) => request(url, method, path, requestBody),
    };
    return await body(harness);
  } finally {
    await admin?.close();
    await broker.close();
    await directory?.remove();
  }
}

export async function request(
  base: string,
  method: string,
  path: string,
  body?: unknown,
): Promise<HttpAnswer> {
  const response = await fetch(base + path, {
    method,
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    body: body === undefined ? null : JSON.stringify(body),
    signal: AbortSignal.timeout(10_000),
  });
  const text = await response.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: response.status, headers: response.headers, text, json };
}

/** Polls `check` until it returns a truthy value (returned) or `timeoutMs` passes (throws). */
export async function eventually<T>(
  check: () => Promise<T> | T,
  timeoutMs = 5000,
  what = 'the condition',
): Promise<NonNullable<T>> {
  const deadline = performance.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value) return value;
    } catch (error) {
      last = error;
    }
    if (performance.now() > deadline) {
      throw new Error(`${what} did not hold within ${timeoutMs} ms`, { cause: last });
    }
    await sleep(25);
  }
}
