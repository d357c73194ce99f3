/**
 * The console's login in a real browser (playwright-core driving Debian's Chromium, headless)
 * against a broker with users: the login page is shown while the API answers 401, a wrong
 * password is refused, the right one shows the streams with the user's name, and logging out
 * returns to the login page. The tests run in order on one page.
 *
 * Without /usr/bin/chromium the tests are skipped, saying so.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { startAdminServer, type AdminServer } from '../../src/admin/index.js';
import { Broker } from '../../src/broker/index.js';

const CHROMIUM = process.env.WEIR_CHROMIUM ?? '/usr/bin/chromium';
const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];
const skip = existsSync(CHROMIUM)
  ? false
  : `${CHROMIUM} is absent: install Debian's chromium (apt-get install -y chromium) to run the console's browser tests`;
const UI_WAIT_MS = 5000;

interface Setup {
  readonly broker: Broker;
  readonly admin: AdminServer;
  readonly browser: Browser;
  readonly context: BrowserContext;
  readonly page: Page;
  readonly pageErrors: string[];
}

describe('the console behind a login', () => {
  let setup: Setup | null = null;
  const cleanups: (() => Promise<unknown>)[] = [];

  before(async () => {
    if (skip) return;
    const { chromium } = await import('playwright-core');
    const broker = await Broker.open({ storage: 'memory', passwordCost: { N: 1024, r: 8, p: 1 } });
    cleanups.push(() => broker.close());
    const root = broker.connect();
    await root.streams.create('orders', { subjects: ['orders.>'] });
    await root.users.add('alice', { password: 'alice-password', allow: ['subscribe:orders'] });
    await root.close();
    const admin = await startAdminServer({ broker, port: 0, sampleIntervalMs: 250 });
    cleanups.push(() => admin.close());
    const browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
    cleanups.push(() => browser.close());
    const context = await browser.newContext({ viewport: { width: 1280, height: 820 } });
    const page = await context.newPage();
    page.setDefaultTimeout(UI_WAIT_MS);
    const pageErrors: string[] = [];
    // Uncaught errors only: the browser itself logs every 401 it receives as a console error.
    page.on('pageerror', (error) => pageErrors.push(error.message));
    setup = { broker, admin, browser, context, page, pageErrors };
  });

  after(async () => {
    for (const cleanup of cleanups.reverse()) await cleanup().catch(() => undefined);
  });

  test('the login page is shown when the API answers 401', { skip }, async () => {
    const { page, admin } = setup!;
    await page.goto(`${admin.address().url}/#/streams`);
    await page.getByTestId('login-form').waitFor();
    assert.equal(await page.getByTestId('stream-row').count(), 0, 'no streams before login');
    assert.equal(await page.getByTestId('who').isVisible(), false);
    assert.equal(await page.locator('nav').isVisible(), false, 'the navigation is hidden');
  });

  test('a wrong password is refused', { skip }, async () => {
    const { page, context } = setup!;
    await page.getByTestId('login-user').fill('alice');
    await page.getByTestId('login-password').fill('not-the-password');
    await page.getByTestId('login-submit').click();
    await page.getByTestId('login-error').filter({ hasText: 'Wrong user or password' }).waitFor();
    assert.equal(await page.getByTestId('login-form').isVisible(), true);
    assert.deepEqual(await context.cookies(), [], 'no session cookie');
  });

  test('the right password shows the streams and the user', { skip }, async () => {
    const { page, context, pageErrors } = setup!;
    await page.getByTestId('login-user').fill('alice');
    await page.getByTestId('login-password').fill('alice-password');
    await page.getByTestId('login-submit').click();
    await page.locator('[data-testid=stream-row][data-stream=orders]').waitFor();
    assert.equal(await page.getByTestId('who').textContent(), 'alice');
    assert.equal(await page.getByTestId('logout').isVisible(), true);
    await page.getByTestId('live-status').filter({ hasText: 'live' }).waitFor();
    const [cookie, ...others] = await context.cookies();
    assert.equal(others.length, 0);
    assert.equal(cookie?.name, 'weir_session');
    assert.equal(cookie?.httpOnly, true);
    assert.equal(cookie?.sameSite, 'Strict');
    assert.equal(
      await page.evaluate('document.cookie'),
      '',
      'the page cannot read the session cookie',
    );
    // A reload keeps the session: straight to the page, no login.
    await page.reload();
    await page.locator('[data-testid=stream-row][data-stream=orders]').waitFor();
    assert.equal(await page.getByTestId('login-form').count(), 0);
    assert.deepEqual(pageErrors, [], 'no error in the page');
  });

  test('logging out returns to the login page and ends the session', { skip }, async () => {
    const { page, context, admin, pageErrors } = setup!;
    const [before] = await context.cookies();
    assert.ok(before, 'logged in');
    await page.getByTestId('logout').click();
    await page.getByTestId('login-form').waitFor();
    assert.equal(await page.getByTestId('who').isVisible(), false);
    assert.deepEqual(await context.cookies(), [], 'the cookie is cleared');
    // The old cookie no longer opens anything, even sent by hand.
    const response = await fetch(`${admin.address().url}/api/streams`, {
      headers: { cookie: `${before.name}=${before.value}` },
      signal: AbortSignal.timeout(UI_WAIT_MS),
    });
    assert.equal(response.status, 401);
    await page.reload();
    await page.getByTestId('login-form').waitFor();
    assert.deepEqual(pageErrors, [], 'no error in the page');
  });
});
