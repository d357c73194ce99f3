/**
 * Graceful shutdown: on SIGTERM the server stops accepting, finishes what is in flight, hands
 * leases back and syncs, then exits 0. Messages a consumer held unsettled (with a long lease)
 * are available at once after the restart, not after their lease would have run out.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from '../../src/client/index.js';
import { killServer, startServer } from './child-server.js';

const LONG_LEASE_MS = 120_000;
const HELD = 5;

test('SIGTERM exits 0 and hands leases back: held messages come at once after a restart', async () => {
  const dataDir = await mkdtemp(join(tmpdir(), 'weir-shutdown-'));
  let server = await startServer(dataDir);
  try {
    const url = `weir://127.0.0.1:${server.port}`;
    const client = await connect(url, { name: 'holder', reconnect: false });
    await client.streams.create('jobs', { subjects: ['jobs'] });
    for (let i = 0; i < HELD; i++) await client.publish('jobs', `job ${i}`);
    const subscription = await client.subscribe('jobs', {
      subscription: 'workers',
      leaseMs: LONG_LEASE_MS,
    });
    for (let i = 0; i < HELD; i++) assert.ok(await subscription.receive({ timeoutMs: 2000 }));
    const code = await killServer(server, 'SIGTERM');
    assert.equal(code, 0, 'the server exits 0 on SIGTERM');
    await client.close().catch(() => undefined);
    server = await startServer(dataDir);
    const again = await connect(`weir://127.0.0.1:${server.port}`, {
      name: 'after',
      reconnect: false,
    });
    const resumed = await again.subscribe('jobs', {
      subscription: 'workers',
      leaseMs: LONG_LEASE_MS,
    });
    const started = Date.now();
    for (let i = 0; i < HELD; i++) {
      const message = await resumed.receive({ timeoutMs: 3000 });
      assert.ok(message, `held message ${i} is available again after the restart`);
      assert.equal(message.deliveryCount, 2);
      await message.ack();
    }
    assert.ok(Date.now() - started < 3000, 'without waiting for the old leases');
    await resumed.close();
    await again.close();
  } finally {
    await killServer(server, 'SIGKILL');
    await rm(dataDir, { recursive: true, force: true });
  }
});
