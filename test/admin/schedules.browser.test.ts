/**
 * The console's schedules page in a real browser (playwright-core driving Debian's Chromium,
 * headless) against a real broker: a schedule made by the application is listed; one made with
 * the form appears with its next tick and fires when the broker's clock reaches it (the test
 * drives a ManualClock); a bad cron expression is refused with the broker's message; Delete
 * removes a schedule.
 *
 * Without /usr/bin/chromium the tests are skipped, saying so.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { startAdminServer, type AdminServer } from '../../src/admin/index.js';
import { Broker } from '../../src/broker/index.js';
import type { Client } from '../../src/protocol/index.js';
import { ManualClock } from '../../src/util/index.js';
import { CHROMIUM, CHROMIUM_ARGS, CHROMIUM_SKIP, collectPageErrors } from '../helpers/chromium.js';
import { eventually } from './admin-fixture.js';

const skip = CHROMIUM_SKIP;
/** Every wait for the page stays under this. */
const UI_WAIT_MS = 5000;
const START_MS = Date.UTC(2030, 0, 1);

describe('the schedules page in a browser', () => {
  let broker: Broker | null = null;
  let admin: AdminServer | null = null;
  let client: Client | null = null;
  let browser: Browser | null = null;
  let page: Page | null = null;
  const clock = new ManualClock(START_MS);
  const pageErrors: string[] = [];

  before(async () => {
    if (skip) return;
    const { chromium } = await import('playwright-core');
    broker = await Broker.open({ storage: 'memory', clock });
    admin = await startAdminServer({ broker, port: 0, sampleIntervalMs: 100 });
    client = broker.connect();
    await client.streams.create('reports', { subjects: ['reports.>'] });
    browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
    page = await browser.newPage({ viewport: { width: 1280, height: 820 } });
    page.setDefaultTimeout(UI_WAIT_MS);
    collectPageErrors(page, pageErrors);
    page.on('dialog', (dialog) => void dialog.accept());
  });

  after(async () => {
    await browser?.close().catch(() => undefined);
    await client?.close().catch(() => undefined);
    await admin?.close().catch(() => undefined);
    await broker?.close().catch(() => undefined);
  });

  test(
    'lists, creates (and refuses a bad cron), shows a fired tick, and deletes',
    { skip },
    async () => {
      await client!.schedules.create('nightly', { cron: '@daily', subject: 'reports.nightly' });
      await page!.goto(`${admin!.address().url}/#/schedules`);
      const nightly = page!.locator('[data-testid=schedule-row][data-schedule=nightly]');
      await nightly.waitFor();
      assert.match((await nightly.textContent()) ?? '', /@daily \(UTC\)/);

      const form = page!.getByTestId('create-schedule-form');
      await form.locator('input[name=name]').fill('pulse');
      await form.locator('select[name=kind]').selectOption('cron');
      await form.locator('input[name=when]').fill('every minute');
      await form.locator('input[name=subject]').fill('reports.pulse');
      await form.locator('button[type=submit]').click();
      await page!
        .getByTestId('schedule-message')
        .filter({ hasText: /INVALID_ARGUMENT: cron .*not a cron expression/ })
        .waitFor();

      await form.locator('select[name=kind]').selectOption('every');
      await form.locator('input[name=when]').fill('60000');
      await form.locator('textarea[name=body]').fill('beat');
      await form.locator('button[type=submit]').click();
      const pulse = page!.locator('[data-testid=schedule-row][data-schedule=pulse]');
      await pulse.waitFor();
      assert.match((await pulse.textContent()) ?? '', /every 60000 ms/);
      const info = await client!.schedules.info('pulse');
      assert.equal(info.nextFireMs, START_MS + 60_000);
      assert.equal(Buffer.from(info.config.bodyBase64, 'base64').toString(), 'beat');

      clock.advance(60_000);
      await eventually(async () => (await client!.schedules.info('pulse')).fired === 1);
      await pulse
        .getByTestId('schedule-fired')
        .filter({ hasText: /^1$/ })
        .waitFor({ timeout: UI_WAIT_MS });

      await nightly.getByTestId('schedule-delete').click();
      await nightly.waitFor({ state: 'detached' });
      assert.deepEqual(
        (await client!.schedules.list()).map((schedule) => schedule.name),
        ['pulse'],
      );
      // The refused create is the one failed request the browser reports; nothing else failed.
      assert.deepEqual(
        pageErrors.filter((error) => !/status of 400/.test(error)),
        [],
      );
      assert.equal(pageErrors.length, 1, pageErrors.join('\n'));
    },
  );
});
