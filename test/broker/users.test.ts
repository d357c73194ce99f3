/**
 * The user store and the authenticator: what is kept of a password (never the password), that
 * the right secret and only it gives the principal, that tokens are kept as hashes, that the
 * file survives a reopen and a corrupt one is refused, and that failed attempts from one
 * address are limited.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, stat, writeFile } from 'node:fs/promises';
import * as path from 'node:path';
import { Broker } from '../../src/broker/index.js';
import { Access, OPEN_PRINCIPAL, parsePermission } from '../../src/broker/access.js';
import { Authenticator } from '../../src/broker/authenticator.js';
import { FailedAttempts } from '../../src/broker/failed-attempts.js';
import { UserStore } from '../../src/broker/users.js';
import { AUTH_FAILURE_WINDOW_MS, AUTH_FAILURES_PER_ADDRESS_MAX } from '../../src/limits.js';
import { MemoryFileSystem, nodeFileSystem } from '../../src/storage/index.js';
import { isWeirError } from '../../src/util/index.js';
import { withTemporaryDirectory } from '../helpers/temporary-directory.js';

const CHEAP = { N: 1024, r: 8, p: 1 } as const;

function memoryStore(): Promise<UserStore> {
  return UserStore.open({ fileSystem: new MemoryFileSystem(), directory: null, scryptCost: CHEAP });
}

function code(error: unknown): string {
  return isWeirError(error) ? error.code : String(error);
}

test('users.json keeps scrypt-derived keys and token hashes, never a password or token, mode 0600, and reopens', async () => {
  await withTemporaryDirectory(async (directory) => {
    const store = await UserStore.open({
      fileSystem: nodeFileSystem,
      directory,
      scryptCost: CHEAP,
    });
    assert.equal(store.enabled, false);
    await store.add('alice', { password: 'correct horse battery', allow: ['publish:orders.>'] });
    const { token } = await store.addToken('alice');
    const file = path.join(directory, 'users.json');
    const text = await readFile(file, 'utf8');
    assert.ok(!text.includes('correct horse battery'), 'the password is not stored');
    assert.ok(!text.includes(token.split('_')[2]!), 'the token secret is not stored');
    assert.equal((await stat(file)).mode & 0o777, 0o600);

    const reopened = await UserStore.open({ fileSystem: nodeFileSystem, directory });
    assert.equal(reopened.enabled, true);
    assert.equal((await reopened.checkPassword('alice', 'correct horse battery'))?.user, 'alice');
    assert.equal(await reopened.checkPassword('alice', 'correct horse batterY'), null);
    assert.deepEqual(reopened.checkToken(token)?.allow, ['publish:orders.>']);
    assert.equal(reopened.checkToken(token.slice(0, -1) + (token.endsWith('A') ? 'B' : 'A')), null);
    assert.equal(reopened.checkToken('weir_nothing_here'), null);
  });
});

test('a users file that is not users is refused with CORRUPT_DATA, not read as no users', async () => {
  await withTemporaryDirectory(async (directory) => {
    await writeFile(path.join(directory, 'users.json'), '{"version":1,"users":[{"name":"a b"}]}');
    await assert.rejects(
      UserStore.open({ fileSystem: nodeFileSystem, directory }),
      (error) => code(error) === 'CORRUPT_DATA',
    );
    await writeFile(path.join(directory, 'users.json'), 'not json');
    await assert.rejects(
      UserStore.open({ fileSystem: nodeFileSystem, directory }),
      (error) => code(error) === 'CORRUPT_DATA',
    );
  });
});

test('user changes: exists, not found, bad names, short passwords and bad permissions are refused with their codes', async () => {
  const store = await memoryStore();
  await store.add('bob', { password: 'password-1' });
  await assert.rejects(store.add('bob', {}), (error) => code(error) === 'USER_EXISTS');
  await assert.rejects(store.remove('carol'), (error) => code(error) === 'USER_NOT_FOUND');
  await assert.rejects(store.add('no spaces', {}), (error) => code(error) === 'INVALID_ARGUMENT');
  await assert.rejects(
    store.add('dan', { password: 'short' }),
    (error) => code(error) === 'INVALID_ARGUMENT',
  );
  await assert.rejects(
    store.add('erin', { allow: ['write:orders'] }),
    (error) => code(error) === 'INVALID_ARGUMENT',
  );
  await assert.rejects(
    store.removeToken('bob', 'nope'),
    (error) => code(error) === 'USER_NOT_FOUND',
  );
  await store.setPassword('bob', 'password-2');
  assert.equal(await store.checkPassword('bob', 'password-1'), null);
  assert.equal((await store.checkPassword('bob', 'password-2'))?.user, 'bob');
  const changed = await store.update('bob', { admin: true, deny: ['publish:secret.>'] });
  assert.equal(changed.admin, true);
  assert.deepEqual(changed.deny, ['publish:secret.>']);
  const { id, token } = await store.addToken('bob');
  await store.removeToken('bob', id);
  assert.equal(store.checkToken(token), null);
  await store.remove('bob');
  assert.equal(store.enabled, false);
});

test('permissions: publish patterns, subscribe stream and subscription globs, deny beats allow, admin has all', () => {
  const access = new Access({
    user: 'u',
    admin: false,
    allow: [
      'publish:orders.>',
      'publish:audit.*',
      'subscribe:orders',
      'subscribe:billing:workers',
      'subscribe:logs-*',
    ],
    deny: ['publish:orders.secret.>', 'subscribe:logs-private'],
  });
  assert.equal(access.mayPublish('orders.created'), true);
  assert.equal(access.mayPublish('orders.a.b'), true);
  assert.equal(access.mayPublish('orders.secret.x'), false);
  assert.equal(access.mayPublish('orders'), false);
  assert.equal(access.mayPublish('audit.x'), true);
  assert.equal(access.mayPublish('audit.x.y'), false);
  assert.equal(access.mayPublish('billing.x'), false);
  assert.equal(access.maySubscribe('orders', 'any'), true);
  assert.equal(access.maySubscribe('orders', null), true);
  assert.equal(access.maySubscribe('billing', 'workers'), true);
  assert.equal(access.maySubscribe('billing', 'other'), false);
  assert.equal(access.maySubscribe('billing', null), false);
  assert.equal(access.maySubscribe('logs-app', null), true);
  assert.equal(access.maySubscribe('logs-private', null), false);
  assert.equal(access.maySubscribe('ordersx', null), false);
  assert.throws(
    () => access.checkAdmin('delete streams'),
    (error) => code(error) === 'NOT_AUTHORIZED',
  );
  const open = new Access(OPEN_PRINCIPAL);
  assert.equal(open.mayPublish('anything.at.all'), true);
  assert.doesNotThrow(() => open.checkAdmin('delete streams'));
  for (const bad of [
    'publish:',
    'subscribe:',
    'subscribe:a:b:c',
    'read:x',
    'subscribe:a.b',
    'publish:a..b',
    7,
  ]) {
    assert.throws(
      () => parsePermission(bad),
      (error) => code(error) === 'INVALID_ARGUMENT',
      String(bad),
    );
  }
});

test('failed attempts: past the limit an address is refused until its window ends; other addresses are not', () => {
  let now = 1_000_000;
  const attempts = new FailedAttempts(() => now);
  for (let index = 0; index < AUTH_FAILURES_PER_ADDRESS_MAX; index++) {
    attempts.check('10.0.0.1');
    attempts.fail('10.0.0.1');
  }
  assert.throws(
    () => attempts.check('10.0.0.1'),
    (error) => code(error) === 'NOT_AUTHORIZED',
  );
  assert.doesNotThrow(() => attempts.check('10.0.0.2'));
  assert.doesNotThrow(() => attempts.check(null));
  now += AUTH_FAILURE_WINDOW_MS;
  assert.doesNotThrow(() => attempts.check('10.0.0.1'));
});

test('authenticator: an open broker lets anyone in; with users, no credentials, a wrong password and an unknown user are refused alike', async () => {
  const store = await memoryStore();
  const authenticator = new Authenticator(store, () => 0);
  assert.equal(authenticator.anonymous('1.1.1.1', 'tcp'), OPEN_PRINCIPAL);
  await store.add('alice', { password: 'correct horse' });
  assert.throws(
    () => authenticator.anonymous('1.1.1.1', 'tcp'),
    (error) => code(error) === 'NOT_AUTHORIZED',
  );
  const wrong = await authenticator
    .password('alice', 'wrong horse', '1.1.1.1', 'http')
    .catch((error: unknown) => error);
  const unknown = await authenticator
    .password('mallory', 'wrong horse', '1.1.1.1', 'http')
    .catch((error: unknown) => error);
  assert.equal(code(wrong), 'NOT_AUTHORIZED');
  assert.equal(code(unknown), 'NOT_AUTHORIZED');
  assert.equal(
    (wrong as Error).message,
    (unknown as Error).message,
    'the refusal does not tell whether the user exists',
  );
  assert.equal(
    (await authenticator.password('alice', 'correct horse', '1.1.1.1', 'http')).user,
    'alice',
  );
  assert.equal(authenticator.failuresFrom('1.1.1.1'), 3);
});

test('the broker keeps its users across a restart and acts for the principal a client is connected with', async () => {
  await withTemporaryDirectory(async (directory) => {
    let broker = await Broker.open({ dataDir: directory, passwordCost: CHEAP });
    const admin = broker.connect();
    await admin.users.add('worker', { password: 'worker-password', allow: ['subscribe:jobs'] });
    await broker.close();
    broker = await Broker.open({ dataDir: directory });
    try {
      const principal = await broker.authenticator.password(
        'worker',
        'worker-password',
        null,
        'tcp',
      );
      const worker = broker.connect({ principal });
      assert.deepEqual(await worker.users.whoami(), {
        user: 'worker',
        admin: false,
        allow: ['subscribe:jobs'],
        deny: [],
      });
      await assert.rejects(worker.users.list(), (error) => code(error) === 'NOT_AUTHORIZED');
      await assert.rejects(
        worker.users.add('mallory', { admin: true }),
        (error) => code(error) === 'NOT_AUTHORIZED',
      );
      assert.equal((await broker.connect().users.list()).length, 1);
    } finally {
      await broker.close();
    }
  });
});
