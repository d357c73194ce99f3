/**
 * The console's subscription view shows each consumer's circuit breaker and the progress its
 * consumers reported (a real broker behind a TCP server, the network SDK as the application,
 * Debian's Chromium driven headless). Without /usr/bin/chromium the test is skipped, saying so.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { startAdminServer, type AdminServer } from '../../src/admin/index.js';
import { Broker } from '../../src/broker/index.js';
import { connect } from '../../src/client/index.js';
import type { Client } from '../../src/protocol/index.js';
import { WeirServer, silentLogger } from '../../src/server/index.js';
import { CHROMIUM, CHROMIUM_ARGS, CHROMIUM_SKIP } from '../helpers/chromium.js';
import { createTemporaryDirectory } from '../helpers/temporary-directory.js';

const skip = CHROMIUM_SKIP;
const UI_WAIT_MS = 5000;
const WAIT_MS = 10_000;

describe('the console shows breakers and progress', () => {
  let admin: AdminServer | null = null;
  let sdk: Client | null = null;
  let page: Page | null = null;
  const pageErrors: string[] = [];
  const cleanups: (() => Promise<unknown>)[] = [];

  before(async () => {
    if (skip) return;
    const { chromium } = await import('playwright-core');
    const directory = await createTemporaryDirectory('weir-breaker-console-test-');
    cleanups.push(() => directory.remove());
    const broker = await Broker.open({ dataDir: directory.path });
    cleanups.push(() => broker.close());
    const server = await WeirServer.listen({
      connectClient: () => broker.connect(),
      port: 0,
      logger: silentLogger,
    });
    cleanups.push(() => server.close());
    admin = await startAdminServer({ broker, port: 0, sampleIntervalMs: 250, version: 'test' });
    const started = admin;
    cleanups.push(() => started.close());
    const client = await connect(`weir://127.0.0.1:${server.address().port}`, {
      name: 'breaker-console-test',
    });
    sdk = client;
    cleanups.push(() => client.close());
    const browser: Browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: CHROMIUM_ARGS,
    });
    cleanups.push(() => browser.close());
    page = await browser.newPage({ viewport: { width: 1280, height: 820 } });
    page.setDefaultTimeout(UI_WAIT_MS);
    page.on('pageerror', (error) => pageErrors.push(error.message));
  });

  after(async () => {
    for (const cleanup of cleanups.reverse()) await cleanup().catch(() => undefined);
  });

  test('an open breaker and an in-flight job at 50 %', { skip }, async () => {
    const client = sdk!;
    await client.streams.create('jobs', { subjects: ['jobs.>'], fsync: 'never' });
    for (let index = 0; index < 3; index++) {
      await client.publish('jobs.run', { index }, { id: `job-${index}` });
    }
    const failing = await client.subscribe('jobs', {
      subscription: 'workers',
      maxInFlight: 1,
      // Opens on its first failure; the cool-down outlasts the test.
      circuitBreaker: { failureRate: 1, windowMs: 60_000, cooldownMs: 3_600_000, minCalls: 1 },
    });
    const first = await failing.receive({ timeoutMs: WAIT_MS });
    assert.ok(first);
    await first.nack({ delayMs: 3_600_000 });
    const working = await client.subscribe('jobs', { subscription: 'workers', maxInFlight: 1 });
    const job = await working.receive({ timeoutMs: WAIT_MS });
    assert.ok(job);
    await job.progress(0.5);
    const deadline = Date.now() + WAIT_MS;
    for (;;) {
      const info = await client.subscriptions.info('jobs', 'workers');
      if (info.consumersPaused === 1) break;
      assert.ok(Date.now() < deadline, 'the breaker shows as open');
      await new Promise((resolve) => setTimeout(resolve, 20));
    }

    await page!.goto(`${admin!.address().url}/#/subscriptions/jobs/workers`);
    const detail = page!.getByTestId('subscription-detail');
    await detail.getByTestId('breaker-state').filter({ hasText: 'open' }).waitFor();
    assert.match(
      (await detail.getByTestId('breakers').textContent()) ?? '',
      /1 consumer\(s\) paused by an open breaker/,
    );
    const value = detail.getByTestId('progress-value');
    await value.filter({ hasText: '50%' }).waitFor();
    assert.match((await detail.getByTestId('progress').textContent()) ?? '', /in-flight/);
    assert.match((await detail.getByTestId('progress').textContent()) ?? '', new RegExp(job.id!));
    assert.deepEqual(pageErrors, [], 'no error in the page');
    await job.ack();
    await working.close();
    await failing.close();
  });
});
