/**
 * The console's Playground page in a real browser (playwright-core driving Debian's Chromium,
 * headless) against a real broker and admin server: start the poison preset, see the
 * dead-letter counter pass 0 and the charts draw, change the consumer count live, stop.
 *
 * The run goes on the system clock here (a person's view of it); every wait polls with a
 * deadline. Without /usr/bin/chromium the test is skipped, saying so.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { startAdminServer, type AdminServer } from '../../src/admin/index.js';
import { Broker } from '../../src/broker/index.js';
import { CHROMIUM, CHROMIUM_ARGS, CHROMIUM_SKIP, collectPageErrors } from '../helpers/chromium.js';
import { eventually, request } from './admin-fixture.js';

const skip = CHROMIUM_SKIP;
/** Every wait for the page stays under this (the poison is dead-lettered in about a second). */
const UI_WAIT_MS = 15_000;
const SAMPLE_INTERVAL_MS = 200;

describe('the playground page in a browser', () => {
  let broker: Broker | null = null;
  let admin: AdminServer | null = null;
  let browser: Browser | null = null;
  let page: Page | null = null;
  const pageErrors: string[] = [];

  before(async () => {
    if (skip) return;
    const { chromium } = await import('playwright-core');
    broker = await Broker.open({ storage: 'memory' });
    admin = await startAdminServer({ broker, port: 0, sampleIntervalMs: SAMPLE_INTERVAL_MS });
    browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
    page = await browser.newPage({ viewport: { width: 1280, height: 1400 } });
    page.setDefaultTimeout(UI_WAIT_MS);
    collectPageErrors(page, pageErrors);
  });

  after(async () => {
    await browser?.close().catch(() => undefined);
    await admin?.close().catch(() => undefined);
    await broker?.close().catch(() => undefined);
  });

  /** The number a counter card of the page shows. */
  async function counter(key: string): Promise<number> {
    const text = await page!
      .getByTestId(`playground-counter-${key}`)
      .locator('.stat-value')
      .textContent();
    return Number(text);
  }

  test(
    'poison preset: dead letters counted and charted; a live change; stop',
    { skip },
    async () => {
      const url = admin!.address().url;
      await page!.goto(`${url}/#/playground`);
      await page!.getByTestId('playground-state').filter({ hasText: 'idle' }).waitFor();
      assert.equal(await page!.locator('nav a.active').textContent(), 'Playground');
      assert.equal(
        await page!.getByLabel('Consumers', { exact: true }).getAttribute('type'),
        'range',
        'the inputs are labelled',
      );

      await page!.getByTestId('playground-preset-poison').click();
      await page!.getByTestId('playground-state').filter({ hasText: 'running · poison' }).waitFor();
      assert.equal(
        await page!.getByTestId('playground-start').isDisabled(),
        true,
        'one run at a time',
      );
      assert.equal(await page!.getByTestId('playground-input-maxDeliveries').isDisabled(), true);
      await eventually(
        async () => (await counter('deadLettered')) > 0,
        UI_WAIT_MS,
        'a dead letter',
      );
      assert.ok((await counter('redelivered')) > 0, 'the poison message was redelivered first');
      assert.ok((await counter('published')) > 0);

      // The charts draw lines once there are samples; the failure chart's dead-letter line rises.
      await eventually(
        async () => {
          const points = await page!
            .getByTestId('playground-chart-failures')
            .locator('polyline')
            .nth(1)
            .getAttribute('points');
          return (points ?? '').trim().split(' ').length >= 2;
        },
        UI_WAIT_MS,
        'the dead-letter line',
      );
      const legend = await page!
        .getByTestId('playground-chart-failures')
        .locator('.legend')
        .textContent();
      assert.match(legend ?? '', /dead-lettered [1-9]/);
      const level = await page!.getByTestId('playground-level').getAttribute('height');
      assert.ok(level !== null, 'the stream tank is drawn');
      // WEIR_PLAYGROUND_SCREENSHOT=file: a picture of the page running (docs/playground.png).
      const screenshot = process.env.WEIR_PLAYGROUND_SCREENSHOT;
      if (screenshot) await page!.screenshot({ path: screenshot, fullPage: true });

      // A live change: the consumer slider to 4; the run follows, the page shows it.
      const slider = page!.getByTestId('playground-input-consumers');
      await slider.fill('4');
      await eventually(
        async () =>
          (await request(url, 'GET', '/api/playground')).json.counters.consumers === 4 &&
          (await counter('consumers')) === 4,
        UI_WAIT_MS,
        'four consumers',
      );
      assert.equal((await request(url, 'GET', '/api/playground')).json.state, 'running');

      await page!.getByTestId('playground-stop').click();
      await page!.getByTestId('playground-state').filter({ hasText: 'finished' }).waitFor();
      assert.equal(await page!.getByTestId('playground-start').isDisabled(), false);
      const ended = await request(url, 'GET', '/api/playground');
      assert.equal(ended.json.state, 'finished');
      assert.equal(ended.json.endReason, 'stopped');
      const streams = (await request(url, 'GET', '/api/streams')).json as { name: string }[];
      assert.ok(!streams.some((stream) => stream.name === 'playground'), 'its streams are gone');
      assert.deepEqual(pageErrors, []);
    },
  );
});
