/**
 * Reconnect: the server is killed and restarted while a client publishes and consumes. The
 * client carries on without the application doing anything: its subscription is re-created,
 * publishes after the restart succeed, and no publish promise hangs — each one resolves or
 * rejects (CLOSED) within a bounded time.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from '../../src/client/index.js';
import { killServer, startServer } from './child-server.js';

const SETTLE_TIMEOUT_MS = 35_000;

test('a client carries on across a server kill and restart, and no publish promise hangs', async () => {
  const dataDir = await mkdtemp(join(tmpdir(), 'weir-reconnect-'));
  let server = await startServer(dataDir);
  const url = `weir://127.0.0.1:${server.port}`;
  const client = await connect(url, { name: 'steady' });
  try {
    await client.streams.create('jobs', { subjects: ['jobs'] });
    const subscription = await client.subscribe('jobs', { subscription: 'workers' });
    const outcomes: Promise<'confirmed' | 'closed'>[] = [];
    const received = new Set<string>();
    let running = true;
    const consuming = (async () => {
      while (running) {
        const message = await subscription.receive({ timeoutMs: 100 });
        if (message === null) continue;
        received.add(message.text());
        message.ack().catch(() => undefined);
      }
    })();
    let sequence = 0;
    const publishing = (async () => {
      while (running) {
        const id = `j${sequence++}`;
        const outcome = client.publish('jobs', id).then(
          () => 'confirmed' as const,
          (error: unknown) => {
            assert.equal((error as { code?: string }).code, 'CLOSED');
            return 'closed' as const;
          },
        );
        outcomes.push(outcome);
        await new Promise((resolve) => setTimeout(resolve, 2));
      }
    })();
    await new Promise((resolve) => setTimeout(resolve, 300));
    await killServer(server, 'SIGKILL');
    await new Promise((resolve) => setTimeout(resolve, 200));
    server = await startServer(dataDir, server.port);
    // After the restart, new publishes are confirmed and delivered again.
    const afterRestart = await client.publish('jobs', 'after-restart');
    assert.equal(afterRestart.stream, 'jobs');
    const deadline = Date.now() + 10_000;
    while (!received.has('after-restart')) {
      assert.ok(
        Date.now() < deadline,
        'the re-created subscription got the message published after the restart',
      );
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    running = false;
    await publishing;
    await consuming;
    // Every publish promise settles: none hangs.
    const timer = new Promise<'hung'>((resolve) =>
      setTimeout(() => resolve('hung'), SETTLE_TIMEOUT_MS).unref(),
    );
    const settled = await Promise.race([Promise.all(outcomes), timer]);
    assert.notEqual(settled, 'hung', 'some publish promise never settled');
    const results = settled as ('confirmed' | 'closed')[];
    assert.ok(results.filter((result) => result === 'confirmed').length > 10);
    await subscription.close();
  } finally {
    await client.close();
    await killServer(server, 'SIGKILL');
    await rm(dataDir, { recursive: true, force: true });
  }
});
