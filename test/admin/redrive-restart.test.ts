/* eslint-disable @typescript-eslint/no-unsafe-call, @typescript-eslint/no-unsafe-return -- the HTTP API's JSON answers are `any` here; assertions check each field. */
/** Re-drive jobs of a broker on disk survive a restart of the broker and its admin server. */
import assert from 'node:assert/strict';
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { describe, test } from 'node:test';
import { Broker } from '../../src/broker/index.js';
import { startAdminServer, type AdminServer } from '../../src/admin/index.js';
import type { Client, SubscribeOptions } from '../../src/protocol/index.js';
import { withTemporaryDirectory } from '../helpers/temporary-directory.js';
import { eventually, request, TEST_SAMPLE_INTERVAL_MS } from './admin-fixture.js';

const BILLING: SubscribeOptions = {
  subscription: 'billing',
  maxDeliveries: 1,
  deadLetter: 'dead.orders',
};

/** `count` orders, each dead-lettered by billing (one delivery allowed, then a nack). */
async function deadLetters(client: Client, count: number): Promise<void> {
  await client.streams.create('orders', { subjects: ['orders.>'] });
  await client.streams.create('dead', { subjects: ['dead.>'] });
  const billing = await client.subscribe('orders', BILLING);
  for (let index = 0; index < count; index++) await client.publish('orders.x', `o${index}`);
  for (let index = 0; index < count; index++) {
    const message = await billing.receive({ timeoutMs: 5000 });
    assert.ok(message, `order ${index} delivered`);
    await message.nack();
  }
  await billing.close();
}

async function open(dataDir: string): Promise<{ broker: Broker; admin: AdminServer }> {
  const broker = await Broker.open({ dataDir });
  try {
    const admin = await startAdminServer({
      broker,
      port: 0,
      uiDirectory: null,
      sampleIntervalMs: TEST_SAMPLE_INTERVAL_MS,
    });
    return { broker, admin };
  } catch (error) {
    await broker.close();
    throw error;
  }
}

describe('re-drive jobs across a restart', () => {
  test('a job stopped by the restart is listed, resumes, finishes with its total and re-drives nothing twice; finished jobs stay listed', () =>
    withTemporaryDirectory(async (dataDir) => {
      let { broker, admin } = await open(dataDir);
      try {
        const client = broker.connect();
        await deadLetters(client, 8);
        const call = (method: string, route: string, body?: unknown) =>
          request(admin.address().url, method, route, body);
        await eventually(
          async () =>
            (await call('GET', '/api/dead-letters/dead.orders')).json.deadLetters.length === 8,
        );
        const quick = await call('POST', '/api/dead-letters/dead.orders/redrive', { limit: 1 });
        assert.equal(quick.status, 202, quick.text);
        await eventually(
          async () => (await call('GET', `/api/redrives/${quick.json.id}`)).json.state === 'done',
        );
        // 7 at 4 per second: one every 250 ms, so the restart comes in the middle.
        const slow = await call('POST', '/api/dead-letters/dead.orders/redrive', {
          ratePerSecond: 4,
        });
        assert.equal(slow.status, 202, slow.text);
        await eventually(
          async () => (await call('GET', `/api/redrives/${slow.json.id}`)).json.redriven >= 2,
          5000,
          'two re-driven before the restart',
        );
        await admin.close();
        await broker.close();

        const saved = JSON.parse(
          await fs.readFile(path.join(dataDir, 'admin', 'redrive-jobs.json'), 'utf8'),
        );
        const savedSlow = saved.jobs.find((job: { id: string }) => job.id === slow.json.id);
        assert.equal(savedSlow.state, 'running', 'saved as running when the server closed');
        assert.equal(savedSlow.total, 7);
        assert.ok(
          savedSlow.redriven >= 2 && savedSlow.redriven < 7,
          `stopped mid-job after ${savedSlow.redriven}`,
        );

        ({ broker, admin } = await open(dataDir));
        const listed = (await call('GET', '/api/redrives')).json;
        assert.deepEqual(
          listed.map((job: { id: string }) => job.id),
          [slow.json.id, quick.json.id],
          'both jobs are listed after the restart, newest first',
        );
        assert.equal(listed[1].state, 'done');
        assert.equal(listed[1].redriven, 1);
        const finished = await eventually(
          async () => {
            const job = (await call('GET', `/api/redrives/${slow.json.id}`)).json;
            return job.state === 'running' ? null : job;
          },
          10_000,
          'the resumed job to finish',
        );
        assert.equal(finished.state, 'done');
        assert.equal(finished.total, 7);
        assert.equal(finished.redriven, 7, 'the count carried on across the restart');
        assert.equal(finished.skipped, 0);

        const again = broker.connect();
        assert.equal((await again.deadLetters.list('dead.orders')).length, 0);
        assert.equal((await again.streams.info('orders')).messages, 16, '8 orders + 8 re-driven');
        const billing = await again.subscribe('orders', BILLING);
        const bodies: string[] = [];
        for (let index = 0; index < 8; index++) {
          const message = await billing.receive({ timeoutMs: 5000 });
          assert.ok(message, `re-driven order ${index} delivered`);
          bodies.push(message.text());
          await message.ack();
        }
        assert.equal(await billing.receive({ timeoutMs: 200 }), null, 'nothing re-driven twice');
        assert.deepEqual(
          bodies.sort(),
          [0, 1, 2, 3, 4, 5, 6, 7].map((index) => `o${index}`),
        );
        const id = Number(slow.json.id);
        const next = await call('POST', '/api/dead-letters/dead.orders/redrive', {});
        assert.equal(Number(next.json.id), id + 1, 'ids go on after the restart');
      } finally {
        await admin.close();
        await broker.close();
      }
    }));

  test('a saved jobs file that is not what the admin server wrote stops it with CORRUPT_DATA naming the file', () =>
    withTemporaryDirectory(async (dataDir) => {
      const broker = await Broker.open({ dataDir });
      try {
        await fs.mkdir(path.join(dataDir, 'admin'));
        const file = path.join(dataDir, 'admin', 'redrive-jobs.json');
        for (const text of ['{"version":1,', '{"version":99,"nextId":1,"jobs":[]}']) {
          await fs.writeFile(file, text);
          await assert.rejects(
            startAdminServer({ broker, port: 0, uiDirectory: null }),
            (error: unknown) => {
              assert.equal((error as { code?: unknown }).code, 'CORRUPT_DATA');
              assert.match((error as Error).message, /redrive-jobs\.json/);
              return true;
            },
          );
        }
      } finally {
        await broker.close();
      }
    }));
});
