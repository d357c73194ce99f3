/**
 * The console in a real browser (playwright-core driving Debian's Chromium, headless) against a
 * real broker on disk served over TCP, with the network SDK as the application: a stream
 * created over the SDK appears, a publish from the form moves the count, a re-driven dead
 * letter returns to its stream, and the overview shows live charts and the stall detector.
 *
 * Screenshots go to WEIR_ARTIFACTS_DIR (default: a fresh directory under the system temp
 * directory, printed). docs/console.png, the README's picture, is written when it is missing
 * or when WEIR_UPDATE_SCREENSHOTS=1.
 *
 * Without /usr/bin/chromium the tests are skipped, saying so.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { copyFile, mkdir, mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import type { Browser, Page } from 'playwright-core';
import { startAdminServer, type AdminServer } from '../../src/admin/index.js';
import { Broker } from '../../src/broker/index.js';
import { CHROMIUM, CHROMIUM_ARGS, CHROMIUM_SKIP, collectPageErrors } from '../helpers/chromium.js';
import { connect } from '../../src/client/index.js';
import type { Client } from '../../src/protocol/index.js';
import { WeirServer, silentLogger } from '../../src/server/index.js';
import {
  createTemporaryDirectory,
  type TemporaryDirectory,
} from '../helpers/temporary-directory.js';

const skip = CHROMIUM_SKIP;
/** The console should be useful within five seconds: every wait for the page stays under it. */
const UI_WAIT_MS = 5000;
const DOCS_SCREENSHOT = path.resolve(
  path.dirname(fileURLToPath(import.meta.url)),
  '../../../docs/console.png',
);

interface Setup {
  readonly directory: TemporaryDirectory;
  readonly broker: Broker;
  readonly server: WeirServer;
  readonly admin: AdminServer;
  readonly sdk: Client;
  readonly browser: Browser;
  readonly page: Page;
  readonly screenshots: string;
  readonly pageErrors: string[];
}

describe('the console in a browser', () => {
  let setup: Setup | null = null;
  const cleanups: (() => Promise<unknown>)[] = [];

  before(async () => {
    if (skip) return;
    const { chromium } = await import('playwright-core');
    const directory = await createTemporaryDirectory('weir-console-test-');
    cleanups.push(() => directory.remove());
    const broker = await Broker.open({ dataDir: directory.path });
    cleanups.push(() => broker.close());
    const server = await WeirServer.listen({
      connectClient: () => broker.connect(),
      port: 0,
      logger: silentLogger,
    });
    cleanups.push(() => server.close());
    const admin = await startAdminServer({
      broker,
      port: 0,
      sampleIntervalMs: 250,
      stallAfterMs: 1000,
      version: 'test',
      connections: {
        list: () =>
          server.connections().map((connection) => ({
            id: connection.id,
            remote: connection.remote,
            clientName: connection.clientName,
            consumerCount: connection.consumerCount,
          })),
      },
    });
    cleanups.push(() => admin.close());
    const sdk = await connect(`weir://127.0.0.1:${server.address().port}`, {
      name: 'console-test',
    });
    cleanups.push(() => sdk.close());
    const browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
    cleanups.push(() => browser.close());
    const page = await browser.newPage({ viewport: { width: 1280, height: 820 } });
    page.setDefaultTimeout(UI_WAIT_MS);
    const pageErrors: string[] = [];
    collectPageErrors(page, pageErrors);
    const screenshots =
      process.env.WEIR_ARTIFACTS_DIR ??
      (await mkdtemp(path.join(tmpdir(), 'weir-console-screenshots-')));
    await mkdir(screenshots, { recursive: true });
    console.log(`# console screenshots: ${screenshots}`);
    setup = { directory, broker, server, admin, sdk, browser, page, screenshots, pageErrors };
  });

  after(async () => {
    // In reverse: browser, SDK, admin, TCP server, broker, directory.
    for (const cleanup of cleanups.reverse()) await cleanup().catch(() => undefined);
  });

  const open = async (hash: string): Promise<Page> => {
    const { page, admin } = setup!;
    await page.goto(`${admin.address().url}/${hash}`);
    return page;
  };
  const shoot = (name: string) =>
    setup!.page.screenshot({ path: path.join(setup!.screenshots, `${name}.png`), fullPage: true });

  test('a stream created over the SDK appears on the Streams page', { skip }, async () => {
    const page = await open('#/streams');
    await page.getByTestId('live-status').filter({ hasText: 'live' }).waitFor();
    const row = page.locator('[data-testid=stream-row][data-stream=orders]');
    assert.equal(await row.count(), 0);
    await setup!.sdk.streams.create('orders', { subjects: ['orders.>'], partitions: 2 });
    await row.waitFor();
    assert.equal(await row.getByTestId('stream-messages').textContent(), '0');
    await shoot('streams');
  });

  test('publishing from the form moves the stream message count', { skip }, async () => {
    const page = await open('#/publish');
    await page.getByTestId('publish-subject').fill('orders.eu.created');
    await page.getByTestId('publish-body').fill('{"orderId": 42, "from": "the console"}');
    await page.getByTestId('publish-submit').click();
    await page.getByTestId('publish-result').filter({ hasText: 'Published' }).waitFor();
    assert.match(
      (await page.getByTestId('publish-result').textContent()) ?? '',
      /orders \(partition \d, offset 0\)/,
    );
    await shoot('publish');
    await page.goto(`${setup!.admin.address().url}/#/streams`);
    await page
      .locator('[data-testid=stream-row][data-stream=orders] [data-testid=stream-messages]')
      .filter({ hasText: /^1$/ })
      .waitFor();
    const info = await setup!.sdk.streams.info('orders');
    assert.equal(info.messages, 1);
    // The message browser shows it, body as JSON, without consuming it.
    const streamPage = await open('#/streams/orders');
    const message = streamPage.getByTestId('message').first();
    await message.waitFor();
    await message.locator('summary').click();
    assert.match((await message.locator('pre').textContent()) ?? '', /"orderId": 42/);
    await shoot('stream');
  });

  test('a re-driven dead letter returns to its stream', { skip }, async () => {
    const { sdk } = setup!;
    await sdk.streams.create('dead', { subjects: ['dead.>'] });
    const billing = await sdk.subscribe('orders', {
      subscription: 'billing',
      maxDeliveries: 1,
      deadLetter: 'dead.orders',
    });
    try {
      const poisoned = await billing.receive({ timeoutMs: 5000 });
      assert.ok(poisoned, 'the published message is delivered');
      await poisoned.term('cannot bill order 42');
    } finally {
      await billing.close();
    }
    const page = await open('#/dead-letters/dead.orders');
    const row = page.getByTestId('dead-letter-row');
    await row.first().waitFor();
    assert.equal(await row.count(), 1);
    assert.match((await row.first().textContent()) ?? '', /terminated.*cannot bill order 42/);
    await shoot('dead-letters');
    await page.getByTestId('redrive-all').click();
    await page.locator('[data-testid=redrive-state][data-state=done]').waitFor();
    await page.getByTestId('no-dead-letters').waitFor();
    assert.match(
      (await page.getByTestId('redrive-progress').textContent()) ?? '',
      /1 of 1 re-driven/,
    );
    await shoot('dead-letters-redriven');
    // Back in its origin stream: a second copy, at the next offset of its partition.
    const streamPage = await open('#/streams/orders');
    await streamPage.getByTestId('stream-message-count').filter({ hasText: '2' }).waitFor();
    await streamPage.getByTestId('message').nth(1).waitFor();
    const info = await sdk.subscriptions.info('orders', 'billing');
    assert.equal(info.pending, 1, 'billing gets the re-driven message again');
  });

  test('ticked dead letters can be deleted, and re-driven, one by one', { skip }, async () => {
    const { sdk } = setup!;
    await sdk.streams.create('jobs', { subjects: ['jobs.>'] });
    await sdk.streams.create('dead', { subjects: ['dead.>'] });
    const workers = await sdk.subscribe('jobs', {
      subscription: 'workers',
      deadLetter: 'dead.jobs',
    });
    try {
      for (const name of ['first', 'second']) {
        await sdk.publish(`jobs.${name}`, name);
        const message = await workers.receive({ timeoutMs: 5000 });
        assert.ok(message, `${name} is delivered`);
        await message.term(`${name} failed`);
      }
    } finally {
      await workers.close();
    }
    const page = await open('#/dead-letters/dead.jobs');
    page.on('dialog', (dialog) => void dialog.accept());
    const rows = page.getByTestId('dead-letter-row');
    await rows.nth(1).waitFor();
    assert.equal(await rows.count(), 2);
    await rows.nth(0).getByTestId('dead-letter-check').check();
    await page.getByTestId('delete-checked').click();
    await page.getByTestId('redrive-progress').filter({ hasText: '1 deleted' }).waitFor();
    await rows.nth(1).waitFor({ state: 'detached' });
    assert.match((await rows.first().textContent()) ?? '', /second failed/);
    await rows.first().getByTestId('dead-letter-check').check();
    await page.getByTestId('redrive-to').selectOption('stream');
    await page.getByTestId('redrive-checked').click();
    await page.locator('[data-testid=redrive-state][data-state=done]').waitFor();
    await page.getByTestId('no-dead-letters').waitFor();
    const [job] = (await (await fetch(`${setup!.admin.address().url}/api/redrives`)).json()) as {
      request: { to?: string };
    }[];
    assert.equal(job?.request.to, 'stream', 'the chosen target goes with the re-drive');
    const back = await sdk.streams.info('jobs');
    assert.equal(
      back.messages,
      3,
      'the re-driven one is stored in its origin again; the deleted one is not',
    );
  });

  test(
    'the overview shows live charts and flags a stalled subscription, and the flow view draws it',
    { skip },
    async () => {
      const { sdk } = setup!;
      await sdk.streams.create('payments', { subjects: ['payments.>'], partitions: 3 });
      const worker = await sdk.subscribe('payments', { subscription: 'ledger' });
      await (await sdk.subscribe('payments', { subscription: 'audit' })).close(); // nobody reads it
      let flowing = true;
      const producer = (async () => {
        for (let index = 0; flowing && index < 1_000_000; index++) {
          await sdk.publish(`payments.${index % 3 === 0 ? 'eu' : 'us'}.captured`, {
            index,
            amount: index % 97,
          });
          // A rate that rises and falls, so the charts have a shape.
          await sleep(2 + Math.round(3 * (1 + Math.sin(index / 150))));
        }
      })();
      const consumer = (async () => {
        while (flowing) {
          const message = await worker.receive({ timeoutMs: 100 });
          await message?.ack();
        }
      })();
      try {
        const page = await open('#/');
        const stall = page.locator('[data-testid=stall][data-subscription="payments/audit"]');
        await stall.waitFor();
        assert.equal(await stall.getAttribute('data-reason'), 'no-consumers');
        assert.match((await stall.textContent()) ?? '', /no consumer is attached/);
        await page
          .getByTestId('total-in')
          .filter({ hasNotText: /^Publish rate0\/s$/ })
          .waitFor();
        await sleep(6000); // let the charts gather a few seconds of history
        const points = await page
          .locator('[data-testid=chart-rates] polyline')
          .first()
          .getAttribute('points');
        assert.ok((points ?? '').split(' ').length > 10, 'the rate chart has a line');
        await shoot('overview');
        if (!existsSync(DOCS_SCREENSHOT) || process.env.WEIR_UPDATE_SCREENSHOTS === '1') {
          await copyFile(path.join(setup!.screenshots, 'overview.png'), DOCS_SCREENSHOT);
        }
        const flow = await open('#/flow');
        await flow.locator('[data-testid=flow-node][data-node="sub:payments/audit"]').waitFor();
        await flow.locator('.flow-stalled').first().waitFor();
        await sleep(500);
        await shoot('flow');
        await open('#/subscriptions/payments/ledger');
        await setup!.page.getByTestId('subscription-detail').waitFor();
        await shoot('subscriptions');
      } finally {
        flowing = false;
        await producer;
        await consumer;
        await worker.close();
      }
      assert.deepEqual(setup!.pageErrors, [], 'no error in the page');
    },
  );

  test(
    'a subscription page shows its header filter policy in the --where syntax',
    { skip },
    async () => {
      const { sdk } = setup!;
      await sdk.streams.create('shop', { subjects: ['shop.>'] });
      await (
        await sdk.subscribe('shop', {
          subscription: 'big',
          headerFilter: {
            kind: ['created', { prefix: 'up' }],
            price: [{ numeric: ['>=', 100, '<', 200] }],
          },
        })
      ).close();
      const page = await open('#/subscriptions/shop/big');
      const detail = page.getByTestId('subscription-detail');
      await detail.getByText('price>=100').waitFor();
      assert.match(
        (await detail.textContent()) ?? '',
        /header filter\(kind=created or kind\^=up\) and price>=100 and price<200/,
      );
      assert.deepEqual(setup!.pageErrors, [], 'no error in the page');
    },
  );
});
