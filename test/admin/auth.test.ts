/* eslint-disable @typescript-eslint/no-unsafe-call, @typescript-eslint/no-unsafe-argument -- the HTTP API's JSON answers are `any` here; assertions check each field. */
/**
 * The HTTP API behind authentication: on a broker with users every /api route and /metrics
 * needs Basic, Bearer or the console's session cookie (401 NOT_AUTHORIZED with
 * `WWW-Authenticate: Basic realm="weir"` otherwise); each request acts for its user, so a
 * permission allows over HTTP exactly what it names; the Host check refuses a foreign Host
 * (DNS rebinding) even with a matching Origin; the session cookie is HttpOnly and
 * SameSite=Strict and ends at logout, when idle, and when the password changes; HTTPS works
 * with a certificate the test makes, and with a CA a client certificate is required.
 *
 * Requests go through node:http (fetch may not set Host). Every broker is a memory broker
 * with a cheap scrypt cost; every server binds port 0 on loopback.
 */
import assert from 'node:assert/strict';
import * as http from 'node:http';
import * as https from 'node:https';
import { describe, test } from 'node:test';
import { startAdminServer, type AdminServer } from '../../src/admin/index.js';
import { HostCheck } from '../../src/admin/host-check.js';
import { parseAuthorization } from '../../src/admin/credentials.js';
import { Broker } from '../../src/broker/index.js';
import {
  ADMIN_LOGIN_BODY_BYTES_MAX,
  ADMIN_PASSWORD_CACHE_MS,
  ADMIN_SESSION_IDLE_MS,
  AUTH_FAILURES_PER_ADDRESS_MAX,
} from '../../src/limits.js';
import type { Client } from '../../src/protocol/index.js';
import { ManualClock } from '../../src/util/index.js';
import { createTemporaryDirectory } from '../helpers/temporary-directory.js';
import { makeCertificates, opensslMissing } from '../helpers/certificates.js';

const PASSWORD_COST = { N: 1024, r: 8, p: 1 };
const REQUEST_TIMEOUT_MS = 10_000;

interface Answer {
  readonly status: number;
  readonly headers: http.IncomingHttpHeaders;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- JSON answers are checked field by field
  readonly json: any;
  readonly text: string;
}

interface CallOptions {
  readonly method?: string;
  readonly body?: unknown;
  readonly headers?: Record<string, string>;
  /** For https: the CA to trust, and a client certificate. */
  readonly tls?: { ca: string; cert?: string; key?: string };
}

/** One request with full control of the headers (Host among them). */
function call(url: string, path: string, options: CallOptions = {}): Promise<Answer> {
  const target = new URL(path, url);
  const body = options.body === undefined ? undefined : JSON.stringify(options.body);
  const headers: Record<string, string> = { ...options.headers };
  if (body !== undefined) headers['content-type'] ??= 'application/json';
  const transport = target.protocol === 'https:' ? https : http;
  return new Promise((resolve, reject) => {
    const request = transport.request(
      target,
      {
        method: options.method ?? 'GET',
        headers,
        timeout: REQUEST_TIMEOUT_MS,
        agent: false,
        ...(options.tls ?? {}),
      },
      (response) => {
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('error', reject);
        response.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let json: unknown;
          try {
            json = JSON.parse(text);
          } catch {
            json = undefined;
          }
          resolve({ status: response.statusCode ?? 0, headers: response.headers, json, text });
        });
      },
    );
    request.on('timeout', () => request.destroy(new Error('request timed out')));
    request.on('error', reject);
    request.end(body);
  });
}

const basic = (user: string, password: string) => ({
  authorization: `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`,
});
const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

interface Setup {
  readonly broker: Broker;
  readonly admin: AdminServer;
  /** The broker's own client (everything allowed): the test's setup and checks. */
  readonly root: Client;
  readonly url: string;
}

interface SetupOptions {
  readonly users?: boolean;
  readonly clock?: ManualClock;
  readonly allowedHosts?: readonly string[];
  readonly sampleIntervalMs?: number;
}

/**
 * A broker with the users admin (admin), alice (publish:orders.>, subscribe:orders), bob
 * (subscribe:orders:workers only), carol (subscribe:* but deny subscribe:orders), and a
 * stream `orders` holding one message.
 */
async function withSetup(options: SetupOptions, body: (setup: Setup) => Promise<void>) {
  const broker = await Broker.open({ storage: 'memory', passwordCost: PASSWORD_COST });
  const root = broker.connect();
  let admin: AdminServer | null = null;
  try {
    await root.streams.create('orders', { subjects: ['orders.>'] });
    await root.streams.create('billing', { subjects: ['billing.>'] });
    await root.publish('orders.eu.created', { order: 1 });
    if (options.users !== false) {
      await root.users.add('admin', { password: 'admin-password', admin: true });
      await root.users.add('alice', {
        password: 'alice-password',
        allow: ['publish:orders.>', 'subscribe:orders'],
      });
      await root.users.add('bob', {
        password: 'bob-password',
        allow: ['subscribe:orders:workers'],
      });
      await root.users.add('carol', {
        password: 'carol-password',
        allow: ['subscribe:*'],
        deny: ['subscribe:orders'],
      });
    }
    admin = await startAdminServer({
      broker,
      port: 0,
      uiDirectory: null,
      ...(options.clock ? { clock: options.clock } : {}),
      ...(options.allowedHosts ? { allowedHosts: options.allowedHosts } : {}),
      ...(options.sampleIntervalMs ? { sampleIntervalMs: options.sampleIntervalMs } : {}),
    });
    await body({ broker, admin, root, url: admin.address().url });
  } finally {
    await admin?.close();
    await root.close();
    await broker.close();
  }
}

describe('HTTP authentication', () => {
  test('no credentials: 401 NOT_AUTHORIZED with a Basic challenge; health and readiness need none', async () => {
    await withSetup({}, async ({ url }) => {
      for (const path of ['/api/streams', '/api/overview', '/metrics', '/api/session']) {
        const answer = await call(url, path);
        assert.equal(answer.status, 401, path);
        assert.equal(answer.json.error.code, 'NOT_AUTHORIZED', path);
        assert.equal(answer.headers['www-authenticate'], 'Basic realm="weir"', path);
      }
      const deleted = await call(url, '/api/streams/orders', { method: 'DELETE' });
      assert.equal(deleted.status, 401);
      assert.equal((await call(url, '/healthz')).status, 200);
      assert.equal((await call(url, '/readyz')).status, 200);
      // The console's requests get no challenge (a browser would show its own password box).
      const fromConsole = await call(url, '/api/streams', { headers: { 'x-weir-console': '1' } });
      assert.equal(fromConsole.status, 401);
      assert.equal(fromConsole.headers['www-authenticate'], undefined);
    });
  });

  test('wrong password, unknown user, wrong token and a malformed header: 401', async () => {
    await withSetup({}, async ({ url }) => {
      const attempts = [
        basic('alice', 'not-her-password'),
        basic('nobody', 'alice-password'),
        bearer('weir_0000_not-a-token'),
        { authorization: 'Digest whatever' },
        { authorization: 'Basic !!!' },
      ];
      for (const headers of attempts) {
        const answer = await call(url, '/api/streams', { headers });
        assert.equal(answer.status, 401, headers.authorization);
        assert.equal(answer.json.error.code, 'NOT_AUTHORIZED');
      }
    });
  });

  test('Basic and Bearer work, and GET /api/session says who the request is', async () => {
    await withSetup({}, async ({ url, root }) => {
      const streams = await call(url, '/api/streams', {
        headers: basic('alice', 'alice-password'),
      });
      assert.equal(streams.status, 200);
      assert.deepEqual(streams.json.map((stream: { name: string }) => stream.name).sort(), [
        'billing',
        'orders',
      ]);
      const { token } = await root.users.addToken('alice');
      const who = await call(url, '/api/session', { headers: bearer(token) });
      assert.equal(who.status, 200);
      assert.equal(who.json.user, 'alice');
      assert.equal(who.json.admin, false);
      assert.deepEqual(who.json.allow, ['publish:orders.>', 'subscribe:orders']);
      assert.equal(who.json.authentication, true);
      const metrics = await call(url, '/metrics', { headers: bearer(token) });
      assert.equal(metrics.status, 200);
      assert.match(metrics.text, /weir_/);
    });
  });

  test('a remembered Basic check ends when the password changes, and expires', async () => {
    const clock = new ManualClock(Date.parse('2026-01-01T00:00:00Z'));
    await withSetup({ clock }, async ({ url, root }) => {
      const old = basic('alice', 'alice-password');
      assert.equal((await call(url, '/api/streams', { headers: old })).status, 200);
      assert.equal((await call(url, '/api/streams', { headers: old })).status, 200);
      await root.users.setPassword('alice', 'alice-new-password');
      assert.equal((await call(url, '/api/streams', { headers: old })).status, 401);
      const renewed = basic('alice', 'alice-new-password');
      assert.equal((await call(url, '/api/streams', { headers: renewed })).status, 200);
      // Past its time the entry is checked again (still right: still 200), and a removed
      // user is refused at once even within it.
      clock.advance(ADMIN_PASSWORD_CACHE_MS);
      assert.equal((await call(url, '/api/streams', { headers: renewed })).status, 200);
      await root.users.delete('alice');
      assert.equal((await call(url, '/api/streams', { headers: renewed })).status, 401);
    });
  });

  test('failed attempts are limited per address; requests without credentials are not counted', async () => {
    await withSetup({}, async ({ url, broker }) => {
      for (let index = 0; index < AUTH_FAILURES_PER_ADDRESS_MAX * 2; index++) {
        assert.equal((await call(url, '/api/streams')).status, 401);
      }
      assert.equal(broker.authenticator.failuresFrom('127.0.0.1'), 0);
      for (let index = 0; index < AUTH_FAILURES_PER_ADDRESS_MAX; index++) {
        await call(url, '/api/streams', { headers: basic('alice', `wrong-${index}-password`) });
      }
      const refused = await call(url, '/api/streams', {
        headers: basic('admin', 'admin-password'),
      });
      assert.equal(
        refused.status,
        401,
        'the right password is refused while the address is blocked',
      );
      assert.match(refused.json.error.message, /too many failed authentications/);
    });
  });

  test('an open broker (no users) needs no credentials and says so', async () => {
    await withSetup({ users: false }, async ({ url }) => {
      assert.equal((await call(url, '/api/streams')).status, 200);
      const who = await call(url, '/api/session');
      assert.equal(who.status, 200);
      assert.deepEqual(who.json, {
        user: null,
        admin: true,
        allow: [],
        deny: [],
        authentication: false,
      });
      const login = await call(url, '/api/session', {
        method: 'POST',
        body: { user: 'x', password: 'whatever-password' },
      });
      assert.equal(login.status, 200);
      assert.equal(login.headers['set-cookie'], undefined, 'nothing to log in to');
    });
  });
});

describe('HTTP permissions: each request acts for its user', () => {
  test('a non-admin cannot delete or purge a stream (403); an admin can', async () => {
    await withSetup({}, async ({ url, root }) => {
      const alice = basic('alice', 'alice-password');
      const deleted = await call(url, '/api/streams/orders', { method: 'DELETE', headers: alice });
      assert.equal(deleted.status, 403);
      assert.equal(deleted.json.error.code, 'NOT_AUTHORIZED');
      const purged = await call(url, '/api/streams/orders/purge', {
        method: 'POST',
        headers: alice,
      });
      assert.equal(purged.status, 403);
      assert.equal((await root.streams.info('orders')).messages, 1, 'the stream is untouched');
      const byAdmin = await call(url, '/api/streams/orders', {
        method: 'DELETE',
        headers: basic('admin', 'admin-password'),
      });
      assert.equal(byAdmin.status, 200);
      assert.deepEqual(
        (await root.streams.list()).map((stream) => stream.name),
        ['billing'],
      );
    });
  });

  test('publish:orders.> allows publishing to orders.x only', async () => {
    await withSetup({}, async ({ url, root }) => {
      const alice = basic('alice', 'alice-password');
      const allowed = await call(url, '/api/publish', {
        method: 'POST',
        headers: alice,
        body: { subject: 'orders.eu.created', body: { order: 2 } },
      });
      assert.equal(allowed.status, 200);
      assert.equal(allowed.json.stream, 'orders');
      assert.equal(allowed.json.offset, 1);
      const refused = await call(url, '/api/publish', {
        method: 'POST',
        headers: alice,
        body: { subject: 'billing.eu.paid', body: { order: 2 } },
      });
      assert.equal(refused.status, 403);
      assert.equal(refused.json.error.code, 'NOT_AUTHORIZED');
      assert.equal((await root.streams.info('orders')).messages, 2);
      assert.equal((await root.streams.info('billing')).messages, 0);
      // bob may publish nowhere.
      const bob = await call(url, '/api/publish', {
        method: 'POST',
        headers: basic('bob', 'bob-password'),
        body: { subject: 'orders.eu.created', body: 'x' },
      });
      assert.equal(bob.status, 403);
    });
  });

  test('peeking needs subscribe on the stream: subscribe:S allows, S:SUB only and a deny do not', async () => {
    await withSetup({}, async ({ url }) => {
      const path = '/api/streams/orders/messages';
      const alice = await call(url, path, { headers: basic('alice', 'alice-password') });
      assert.equal(alice.status, 200);
      assert.equal(alice.json.messages.length, 1);
      assert.equal(alice.json.messages[0].subject, 'orders.eu.created');
      const others = [
        ['bob', 'subscribe:orders:workers covers that subscription only'],
        ['carol', 'deny subscribe:orders beats allow subscribe:*'],
      ] as const;
      for (const [user, why] of others) {
        const answer = await call(url, path, { headers: basic(user, `${user}-password`) });
        assert.equal(answer.status, 403, why);
        assert.equal(answer.json.error.code, 'NOT_AUTHORIZED');
      }
      // carol's subscribe:* still covers billing.
      const billing = await call(url, '/api/streams/billing/messages', {
        headers: basic('carol', 'carol-password'),
      });
      assert.equal(billing.status, 200);
      assert.equal(billing.json.messages.length, 0);
    });
  });

  test('re-drive jobs are admin only', async () => {
    await withSetup({}, async ({ url }) => {
      const alice = basic('alice', 'alice-password');
      const started = await call(url, '/api/dead-letters/dead.orders/redrive', {
        method: 'POST',
        headers: alice,
        body: {},
      });
      assert.equal(started.status, 403);
      assert.equal((await call(url, '/api/redrives', { headers: alice })).status, 403);
      const byAdmin = await call(url, '/api/redrives', {
        headers: basic('admin', 'admin-password'),
      });
      assert.equal(byAdmin.status, 200);
      assert.deepEqual(byAdmin.json, []);
    });
  });

  test('users over HTTP: an admin adds a user and a token; the token works; a non-admin may not', async () => {
    await withSetup({}, async ({ url }) => {
      const admin = basic('admin', 'admin-password');
      const added = await call(url, '/api/users', {
        method: 'POST',
        headers: admin,
        body: { name: 'scraper', allow: ['subscribe:orders'] },
      });
      assert.equal(added.status, 201);
      assert.equal(added.json.name, 'scraper');
      assert.equal(added.json.hasPassword, false);
      const made = await call(url, '/api/users/scraper/tokens', { method: 'POST', headers: admin });
      assert.equal(made.status, 201);
      assert.match(made.json.token, /^weir_/);
      const who = await call(url, '/api/session', { headers: bearer(made.json.token) });
      assert.equal(who.json.user, 'scraper');
      const changed = await call(url, '/api/users/scraper', {
        method: 'PATCH',
        headers: admin,
        body: { allow: ['subscribe:billing'] },
      });
      assert.deepEqual(changed.json.allow, ['subscribe:billing']);
      const password = await call(url, '/api/users/scraper/password', {
        method: 'PUT',
        headers: admin,
        body: { password: 'scraper-password' },
      });
      assert.equal(password.status, 200);
      const info = await call(url, '/api/users/scraper', { headers: admin });
      assert.equal(info.json.hasPassword, true);
      assert.equal(info.json.tokens.length, 1);
      const tokenGone = await call(url, `/api/users/scraper/tokens/${made.json.id as string}`, {
        method: 'DELETE',
        headers: admin,
      });
      assert.equal(tokenGone.status, 200);
      assert.equal(
        (await call(url, '/api/session', { headers: bearer(made.json.token) })).status,
        401,
        'a deleted token no longer works',
      );
      const alice = basic('alice', 'alice-password');
      assert.equal((await call(url, '/api/users', { headers: alice })).status, 403);
      const byAlice = await call(url, '/api/users', {
        method: 'POST',
        headers: alice,
        body: { name: 'mallory', password: 'mallory-password', admin: true },
      });
      assert.equal(byAlice.status, 403);
      const list = await call(url, '/api/users', { headers: admin });
      assert.deepEqual(
        list.json.map((user: { name: string }) => user.name),
        ['admin', 'alice', 'bob', 'carol', 'scraper'],
      );
      assert.ok(!list.text.includes('storedKey') && !list.text.includes('sha256'));
      const removed = await call(url, '/api/users/scraper', { method: 'DELETE', headers: admin });
      assert.equal(removed.status, 200);
      assert.equal((await call(url, '/api/users/scraper', { headers: admin })).status, 404);
    });
  });
});

describe('the Host check (DNS rebinding)', () => {
  test('a foreign Host with a matching Origin can no longer delete a stream', async () => {
    await withSetup({ users: false }, async ({ url, admin, root }) => {
      const { port } = admin.address();
      const rebound = await call(url, '/api/streams/orders', {
        method: 'DELETE',
        headers: { host: `attacker.example:${port}`, origin: `http://attacker.example:${port}` },
      });
      assert.equal(rebound.status, 403);
      assert.equal(rebound.json.error.code, 'NOT_AUTHORIZED');
      assert.match(rebound.json.error.message, /attacker\.example/);
      assert.equal((await root.streams.info('orders')).name, 'orders', 'the stream is still there');
      // Reads and the console are refused as well; the loopback names are served.
      assert.equal(
        (await call(url, '/', { headers: { host: `attacker.example:${port}` } })).status,
        403,
      );
      for (const host of [`localhost:${port}`, `127.0.0.1:${port}`, `[::1]:${port}`]) {
        assert.equal((await call(url, '/api/streams', { headers: { host } })).status, 200, host);
      }
      assert.equal(
        (await call(url, '/api/streams', { headers: { host: `localhost:${port + 1}` } })).status,
        403,
        'another port is another server',
      );
    });
  });

  test('allowedHosts adds names, with or without a port', async () => {
    await withSetup(
      { users: false, allowedHosts: ['weir.example', 'proxy.example:8443'] },
      async ({ url, admin }) => {
        const { port } = admin.address();
        const status = async (host: string) =>
          (await call(url, '/api/streams', { headers: { host } })).status;
        assert.equal(await status(`weir.example:${port}`), 200);
        assert.equal(await status('weir.example'), 200);
        assert.equal(await status('proxy.example:8443'), 200);
        assert.equal(await status('proxy.example:8444'), 403);
        assert.equal(await status('evil.example'), 403);
      },
    );
  });

  test('bound to every address: the interfaces and the host name; bound to one: only it', () => {
    const any = new HostCheck({ address: '0.0.0.0', port: 7421, secure: false });
    assert.ok(any.allows('127.0.0.1:7421'));
    assert.ok(any.allows('localhost:7421'));
    assert.ok(!any.allows('attacker.example:7421'));
    assert.ok(!any.allows(undefined));
    const one = new HostCheck({ address: '192.0.2.10', port: 80, secure: false });
    assert.ok(one.allows('192.0.2.10'), 'the default port may be left out');
    assert.ok(one.allows('192.0.2.10:80'));
    assert.ok(!one.allows('localhost:80'), 'not bound to loopback: localhost is not this server');
    const v6 = new HostCheck({ address: '2001:db8::1', port: 7421, secure: true });
    assert.ok(v6.allows('[2001:db8::1]:7421'));
    assert.ok(!v6.allows('[2001:db8::2]:7421'));
  });
});

describe('console sessions', () => {
  const login = (url: string, user: string, password: string, headers = {}) =>
    call(url, '/api/session', { method: 'POST', body: { user, password }, headers });
  const cookieOf = (answer: Answer): string => {
    const header = answer.headers['set-cookie']?.[0];
    assert.ok(header, 'a Set-Cookie header');
    return header.split(';')[0]!;
  };

  test('login sets an HttpOnly, SameSite=Strict cookie that acts as the user', async () => {
    await withSetup({}, async ({ url }) => {
      const answer = await login(url, 'alice', 'alice-password');
      assert.equal(answer.status, 200);
      assert.equal(answer.json.user, 'alice');
      const header = answer.headers['set-cookie']![0]!;
      const attributes = header.split(';').map((part) => part.trim());
      assert.match(attributes[0]!, /^weir_session=[A-Za-z0-9_-]{40,}$/);
      assert.ok(attributes.includes('HttpOnly'), header);
      assert.ok(attributes.includes('SameSite=Strict'), header);
      assert.ok(attributes.includes('Path=/'), header);
      assert.ok(!attributes.includes('Secure'), 'not over plain HTTP');
      const cookie = cookieOf(answer);
      const who = await call(url, '/api/session', { headers: { cookie } });
      assert.equal(who.json.user, 'alice');
      const peek = await call(url, '/api/streams/orders/messages', { headers: { cookie } });
      assert.equal(peek.status, 200);
      const deleted = await call(url, '/api/streams/orders', {
        method: 'DELETE',
        headers: { cookie },
      });
      assert.equal(deleted.status, 403, 'the session has alice’s permissions');
    });
  });

  test('a wrong password opens no session', async () => {
    await withSetup({}, async ({ url }) => {
      const answer = await login(url, 'alice', 'wrong-password', { 'x-weir-console': '1' });
      assert.equal(answer.status, 401);
      assert.equal(answer.json.error.code, 'NOT_AUTHORIZED');
      assert.equal(answer.headers['set-cookie'], undefined);
      assert.equal(answer.headers['www-authenticate'], undefined);
      // Read before anyone is authenticated, a login body is kept to a login's size.
      const large = await login(url, 'alice', 'x'.repeat(ADMIN_LOGIN_BODY_BYTES_MAX));
      assert.equal(large.status, 413);
      assert.equal(large.json.error.code, 'MESSAGE_TOO_LARGE');
    });
  });

  test('a cookie-authenticated change from another origin is refused', async () => {
    await withSetup({}, async ({ url }) => {
      const cookie = cookieOf(await login(url, 'admin', 'admin-password'));
      const answer = await call(url, '/api/streams/orders', {
        method: 'DELETE',
        headers: { cookie, origin: 'http://elsewhere.example' },
      });
      assert.equal(answer.status, 403);
      assert.match(answer.json.error.message, /cross-origin/);
    });
  });

  test('logout ends the session; so do idle time and a password change', async () => {
    const clock = new ManualClock(Date.parse('2026-01-01T00:00:00Z'));
    await withSetup({ clock }, async ({ url, root }) => {
      const cookie = cookieOf(await login(url, 'alice', 'alice-password'));
      assert.equal((await call(url, '/api/streams', { headers: { cookie } })).status, 200);
      const out = await call(url, '/api/session', { method: 'DELETE', headers: { cookie } });
      assert.equal(out.status, 200);
      assert.equal(out.json.loggedOut, true);
      assert.match(out.headers['set-cookie']![0]!, /^weir_session=;.*Max-Age=0/);
      const after = await call(url, '/api/streams', { headers: { cookie } });
      assert.equal(after.status, 401);
      assert.equal(after.headers['www-authenticate'], undefined, 'no browser password box');

      const idle = cookieOf(await login(url, 'alice', 'alice-password'));
      clock.advance(ADMIN_SESSION_IDLE_MS - 1);
      assert.equal((await call(url, '/api/streams', { headers: { cookie: idle } })).status, 200);
      clock.advance(ADMIN_SESSION_IDLE_MS - 1);
      assert.equal(
        (await call(url, '/api/streams', { headers: { cookie: idle } })).status,
        200,
        'each request restarts the idle time',
      );
      clock.advance(ADMIN_SESSION_IDLE_MS);
      assert.equal((await call(url, '/api/streams', { headers: { cookie: idle } })).status, 401);

      const changed = cookieOf(await login(url, 'alice', 'alice-password'));
      await root.users.setPassword('alice', 'alice-new-password');
      assert.equal((await call(url, '/api/streams', { headers: { cookie: changed } })).status, 401);
    });
  });
});

test('an event stream opened with a session ends when the session does', async () => {
  await withSetup({ sampleIntervalMs: 50 }, async ({ url }) => {
    const login = await call(url, '/api/session', {
      method: 'POST',
      body: { user: 'alice', password: 'alice-password' },
    });
    const cookie = login.headers['set-cookie']![0]!.split(';')[0]!;
    const target = new URL('/api/events', url);
    const events = await new Promise<http.IncomingMessage>((resolve, reject) => {
      http
        .get(target, { headers: { cookie }, agent: false }, resolve)
        .on('error', reject)
        .setTimeout(REQUEST_TIMEOUT_MS);
    });
    try {
      assert.equal(events.statusCode, 200);
      let received = '';
      const ended = new Promise<void>((resolve, reject) => {
        const timer = setTimeout(
          () => reject(new Error('the event stream did not end')),
          REQUEST_TIMEOUT_MS,
        );
        events.on('data', (chunk: Buffer) => (received += chunk.toString('utf8')));
        events.on('end', () => {
          clearTimeout(timer);
          resolve();
        });
      });
      const out = await call(url, '/api/session', { method: 'DELETE', headers: { cookie } });
      assert.equal(out.json.loggedOut, true);
      await ended;
      assert.match(received, /event: stats/, 'it was fed while the session lived');
    } finally {
      events.destroy();
    }
  });
});

const opensslAbsent = await opensslMissing();

describe('HTTPS', { skip: opensslAbsent ?? false }, () => {
  test('the API answers over TLS, the cookie is Secure, and a CA requires client certificates', async () => {
    const directory = await createTemporaryDirectory('weir-admin-tls-');
    const broker = await Broker.open({ storage: 'memory', passwordCost: PASSWORD_COST });
    const servers: AdminServer[] = [];
    try {
      const certificates = await makeCertificates(directory.path);
      const root = broker.connect();
      await root.users.add('alice', { password: 'alice-password' });
      await root.close();
      const plain = await startAdminServer({
        broker,
        port: 0,
        uiDirectory: null,
        tls: { cert: certificates.serverCert, key: certificates.serverKey },
      });
      servers.push(plain);
      const url = plain.address().url;
      assert.match(url, /^https:\/\/127\.0\.0\.1:\d+$/);
      const tls = { ca: certificates.caCert };
      const answer = await call(url, '/api/session', {
        method: 'POST',
        body: { user: 'alice', password: 'alice-password' },
        tls,
      });
      assert.equal(answer.status, 200);
      assert.ok(answer.headers['set-cookie']![0]!.split('; ').includes('Secure'));
      await assert.rejects(call(url, '/healthz'), 'a client that does not trust the CA fails');
      await assert.rejects(
        call(url.replace('https:', 'http:'), '/healthz'),
        'plain HTTP to the TLS port fails',
      );

      const mutual = await startAdminServer({
        broker,
        port: 0,
        uiDirectory: null,
        tls: {
          cert: certificates.serverCert,
          key: certificates.serverKey,
          ca: certificates.caCert,
        },
      });
      servers.push(mutual);
      const mutualUrl = mutual.address().url;
      await assert.rejects(call(mutualUrl, '/healthz', { tls }), 'no client certificate');
      const withCertificate = await call(mutualUrl, '/healthz', {
        tls: { ...tls, cert: certificates.clientCert, key: certificates.clientKey },
      });
      assert.equal(withCertificate.status, 200);
    } finally {
      for (const server of servers) await server.close();
      await broker.close();
      await directory.remove();
    }
  });
});

test('Authorization headers are read as RFC 7617 and RFC 6750 say', () => {
  const encoded = Buffer.from('alice:pass:with:colons').toString('base64');
  assert.deepEqual(parseAuthorization(`Basic ${encoded}`), {
    kind: 'basic',
    user: 'alice',
    password: 'pass:with:colons',
  });
  assert.deepEqual(parseAuthorization('bearer abc'), { kind: 'bearer', token: 'abc' });
  assert.deepEqual(parseAuthorization('Basic ' + Buffer.from(':x').toString('base64')), {
    kind: 'malformed',
  });
  assert.deepEqual(parseAuthorization('Bearer'), { kind: 'malformed' });
});
