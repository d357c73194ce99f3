/** Shared set-up of the SDK tests: a fake server, a connected client, and cleanup of both. */
import { connect, type Client, type ConnectOptions } from '../../src/client/index.js';
import { FakeServer } from './fake-server.js';

/** Every SDK test ends within this. */
export const TEST_TIMEOUT_MS = 15_000;

export async function withClient(
  body: (fake: FakeServer, client: Client) => Promise<void>,
  options: { connect?: ConnectOptions; heartbeatMs?: number } = {},
): Promise<void> {
  const fake = await FakeServer.start(
    options.heartbeatMs === undefined ? {} : { heartbeatMs: options.heartbeatMs },
  );
  let client: Client | null = null;
  try {
    client = await connect(fake.url, { name: 'sdk-test', ...options.connect });
    await body(fake, client);
  } finally {
    await client?.close();
    await fake.stop();
  }
}

/** Resolves with whether `promise` settled within `ms` (it keeps running either way). */
export async function settlesWithin(promise: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), ms)));
  const settled = promise.then(
    () => true,
    () => true,
  );
  const result = await Promise.race([settled, timeout]);
  clearTimeout(timer);
  return result;
}

export function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
