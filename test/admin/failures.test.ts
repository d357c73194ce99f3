/**
 * Issue 11 (9): a failed subscription journal shows in /readyz (503, named) and in /metrics;
 * so does a failed scheduler.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Broker } from '../../src/broker/index.js';
import { startAdminServer } from '../../src/admin/index.js';
import type { Client } from '../../src/protocol/index.js';
import { MemoryFileSystem } from '../../src/storage/index.js';
import { FaultyFileSystem } from '../helpers/faulty-file-system.js';
import { eventually, request, TEST_SAMPLE_INTERVAL_MS } from './admin-fixture.js';

/** A broker on a fault-injecting memory file system with its admin server; closes both. */
async function withFaultyBroker(
  body: (context: { fileSystem: FaultyFileSystem; client: Client; url: string }) => Promise<void>,
): Promise<void> {
  const fileSystem = new FaultyFileSystem(new MemoryFileSystem());
  const broker = await Broker.open({ dataDir: '/data', fileSystem });
  const admin = await startAdminServer({
    broker,
    port: 0,
    sampleIntervalMs: TEST_SAMPLE_INTERVAL_MS,
  });
  try {
    await body({ fileSystem, client: broker.connect(), url: admin.address().url });
  } finally {
    await admin.close();
    await broker.close().catch(() => undefined);
  }
}

test('/readyz answers 503 naming a subscription whose journal failed, and /metrics reports it', async () => {
  await withFaultyBroker(async ({ fileSystem, client, url }) => {
    await client.streams.create('jobs', { subjects: ['jobs'] });
    const subscription = await client.subscribe('jobs', { subscription: 'w' });
    await client.publish('jobs', 'one');
    assert.equal((await request(url, 'GET', '/readyz')).status, 200);
    const message = await subscription.receive({ timeoutMs: 2000 });
    assert.ok(message);
    fileSystem.inject({ operation: 'write', code: 'EIO', path: /subscriptions/ });
    await assert.rejects(message.ack(), { code: 'STORAGE_FAILED' });
    const ready = await request(url, 'GET', '/readyz');
    assert.equal(ready.status, 503);
    assert.equal(ready.json.status, 'failed');
    const failures = ready.json.failures as { what: string; subscription?: string; code: string }[];
    assert.deepEqual(
      failures.map((failure) => [failure.what, failure.subscription, failure.code]),
      [['subscription', 'w', 'STORAGE_FAILED']],
    );
    await eventually(
      async () =>
        (await request(url, 'GET', '/metrics')).text.includes(
          'weir_subscription_failed{stream="jobs",subscription="w"} 1',
        ),
      5000,
      'the failed gauge',
    );
  });
});

test('a scheduler whose schedule failed shows in stream info (scheduleFailure) and /readyz', async () => {
  await withFaultyBroker(async ({ fileSystem, client, url }) => {
    await client.streams.create('jobs', { subjects: ['jobs'] });
    await client.publish('jobs', 'later', { delayMs: 60_000 });
    assert.equal((await client.streams.info('jobs')).partitions[0]!.scheduleFailure, null);
    fileSystem.inject({ operation: 'write', code: 'EIO', path: /schedule/ });
    await assert.rejects(client.publish('jobs', 'never', { delayMs: 60_000 }), {
      code: 'STORAGE_FAILED',
    });
    const [partition] = (await client.streams.info('jobs')).partitions;
    assert.equal(partition!.scheduleFailure?.code, 'STORAGE_FAILED');
    assert.equal(partition!.failure, null, 'the partition log itself is fine');
    await client.publish('jobs', 'now'); // and still takes messages
    const ready = await request(url, 'GET', '/readyz');
    assert.equal(ready.status, 503);
    const failures = ready.json.failures as { what: string; partition?: number; code: string }[];
    assert.deepEqual(
      failures.map((failure) => [failure.what, failure.partition, failure.code]),
      [['schedule', 0, 'STORAGE_FAILED']],
    );
  });
});
