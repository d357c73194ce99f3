/**
 * The console's Cluster page in a real browser (playwright-core driving Debian's Chromium,
 * headless) against real brokers: a single node says so and shows no tables; a broker with a
 * (fake) cluster view shows the leader and epoch, a row per node and a row per stream.
 *
 * Without /usr/bin/chromium the tests are skipped, saying so.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { startAdminServer, type AdminServer } from '../../src/admin/index.js';
import { Broker, type BrokerOptions } from '../../src/broker/index.js';
import { CHROMIUM, CHROMIUM_ARGS, CHROMIUM_SKIP, collectPageErrors } from '../helpers/chromium.js';
import { FakeClusterView } from '../helpers/fake-cluster-view.js';
import {
  createTemporaryDirectory,
  type TemporaryDirectory,
} from '../helpers/temporary-directory.js';

const skip = CHROMIUM_SKIP;
/** Every wait for the page stays under this. */
const UI_WAIT_MS = 5000;

describe('the cluster page in a browser', () => {
  let browser: Browser | null = null;
  let page: Page | null = null;
  const pageErrors: string[] = [];
  const opened: { broker: Broker; admin: AdminServer }[] = [];
  let directory: TemporaryDirectory | null = null;

  async function serve(options: BrokerOptions): Promise<string> {
    const broker = await Broker.open(options);
    const admin = await startAdminServer({ broker, port: 0, sampleIntervalMs: 100 });
    opened.push({ broker, admin });
    return admin.address().url;
  }

  before(async () => {
    if (skip) return;
    const { chromium } = await import('playwright-core');
    browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
    page = await browser.newPage({ viewport: { width: 1280, height: 820 } });
    page.setDefaultTimeout(UI_WAIT_MS);
    collectPageErrors(page, pageErrors);
  });

  after(async () => {
    await browser?.close().catch(() => undefined);
    for (const { broker, admin } of opened) {
      await admin.close().catch(() => undefined);
      await broker.close().catch(() => undefined);
    }
    await directory?.remove();
  });

  test('a single node says single node and shows no node table', { skip }, async () => {
    const url = await serve({ storage: 'memory' });
    await page!.goto(`${url}/#/cluster`);
    await page!
      .getByTestId('cluster-summary')
      .filter({ hasText: /^Single node \(no cluster\)/ })
      .waitFor();
    assert.equal(await page!.getByTestId('cluster-details').isHidden(), true);
    assert.equal(await page!.locator('nav a.active').textContent(), 'Cluster');
    assert.deepEqual(pageErrors, []);
  });

  test('a cluster shows the leader, epoch, nodes and streams', { skip }, async () => {
    directory = await createTemporaryDirectory('weir-cluster-page-');
    const url = await serve({ dataDir: directory.path, cluster: new FakeClusterView(3, 2) });
    const client = opened.at(-1)!.broker.connect();
    await client.streams.create('orders', { subjects: ['orders.>'] });
    await page!.goto(`${url}/#/cluster`);
    await page!
      .getByTestId('cluster-summary')
      .filter({ hasText: /Leader n1, epoch 7; this node n1; in sync: n1, n2/ })
      .waitFor();
    assert.equal(await page!.getByTestId('cluster-node').count(), 3);
    const offline = page!.locator('[data-testid=cluster-node][data-node=n3]');
    assert.match((await offline.textContent()) ?? '', /follower\s*no\s*30\s*12 ops, 1500 ms/);
    const orders = page!.locator('[data-testid=cluster-stream][data-stream=orders]');
    assert.match((await orders.textContent()) ?? '', /orders\s*3\s*2\s*n1\s*7\s*n1, n2/);
    await client.close();
    assert.deepEqual(pageErrors, []);
  });
});
