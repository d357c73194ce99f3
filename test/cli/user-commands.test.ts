/**
 * `weir user`: on a stopped broker's data directory (the users file opened directly, under
 * the directory's lock) and through a running broker (`client.users` over --url). What the
 * commands print is checked, and what they stored is checked by opening the users file.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { Broker, UserStore } from '../../src/broker/index.js';
import { nodeFileSystem } from '../../src/storage/index.js';
import { withTemporaryDirectory } from '../helpers/temporary-directory.js';
import { runWeir, servedUrl, startServe } from './weir-process.js';

const PASSWORD = 'correct horse battery';

function openUsers(dataDir: string): Promise<UserStore> {
  return UserStore.open({ fileSystem: nodeFileSystem, directory: dataDir });
}

test('user add, ls, info on a data directory: the password is kept as keys only, the file 0600', async () => {
  await withTemporaryDirectory(async (directory) => {
    const dataDir = join(directory, 'data'); // made by the first `user add`
    const added = await runWeir(
      ['user', 'add', 'alice', '--admin', '--password-stdin', '--data-dir', dataDir],
      { stdin: `${PASSWORD}\n` },
    );
    assert.equal(added.code, 0, added.stderr);
    assert.match(added.stdout, /added user alice: everything \(admin\)/);
    const service = await runWeir([
      'user',
      'add',
      'orders-service',
      '--token',
      '--allow',
      'publish:orders.>',
      '--allow',
      'subscribe:orders',
      '--deny',
      'publish:orders.secret',
      '--data-dir',
      dataDir,
    ]);
    assert.equal(service.code, 0, service.stderr);
    const token = /token [0-9a-f]+: (weir_\S+)/.exec(service.stdout)?.[1];
    assert.ok(token, `a token is printed (${service.stdout})`);

    const list = await runWeir(['user', 'ls', '--data-dir', dataDir]);
    assert.equal(list.code, 0, list.stderr);
    const rows = list.stdout.trim().split('\n');
    assert.equal(rows.length, 3, list.stdout);
    assert.match(rows[0]!, /^NAME\s+ADMIN\s+PASSWORD\s+TOKENS\s+PERMISSIONS$/);
    assert.match(rows[1]!, /^alice\s+yes\s+yes\s+0\s+everything \(admin\)$/);
    assert.match(
      rows[2]!,
      /^orders-service\s+no\s+no\s+1\s+allow publish:orders\.>, subscribe:orders; deny publish:orders\.secret$/,
    );
    const json = await runWeir(['user', 'ls', '--json', '--data-dir', dataDir]);
    const users = JSON.parse(json.stdout) as { name: string; admin: boolean }[];
    assert.deepEqual(
      users.map((user) => [user.name, user.admin]),
      [
        ['alice', true],
        ['orders-service', false],
      ],
    );
    const info = await runWeir(['user', 'info', 'orders-service', '--json', '--data-dir', dataDir]);
    const serviceInfo = JSON.parse(info.stdout) as { allow: string[]; tokens: { id: string }[] };
    assert.deepEqual(serviceInfo.allow, ['publish:orders.>', 'subscribe:orders']);
    assert.equal(serviceInfo.tokens.length, 1);
    const human = await runWeir(['user', 'info', 'alice', '--data-dir', dataDir]);
    assert.match(human.stdout, /^user\s+alice$/m);
    assert.match(human.stdout, /^password\s+set$/m);

    const file = join(dataDir, 'users.json');
    assert.equal((await stat(file)).mode & 0o777, 0o600);
    const text = await readFile(file, 'utf8');
    assert.ok(!text.includes(PASSWORD), 'no password in the users file');
    assert.ok(!text.includes(token.slice(-20)), 'no token in the users file');
    const store = await openUsers(dataDir);
    assert.equal((await store.checkPassword('alice', PASSWORD))?.admin, true);
    assert.equal(await store.checkPassword('alice', 'wrong password'), null);
    assert.equal(store.checkToken(token)?.user, 'orders-service');
  });
});

test('user passwd, edit, token add, token rm, rm on a data directory', async () => {
  await withTemporaryDirectory(async (dataDir) => {
    const add = await runWeir(['user', 'add', 'bob', '--password-stdin', '--data-dir', dataDir], {
      stdin: `${PASSWORD}\n`,
    });
    assert.equal(add.code, 0, add.stderr);

    const passwd = await runWeir(
      ['user', 'passwd', 'bob', '--password-stdin', '--data-dir', dataDir],
      {
        stdin: 'a new password\n',
      },
    );
    assert.equal(passwd.code, 0, passwd.stderr);
    assert.match(passwd.stdout, /changed the password of bob/);
    let store = await openUsers(dataDir);
    assert.equal(await store.checkPassword('bob', PASSWORD), null, 'the old password is gone');
    assert.equal((await store.checkPassword('bob', 'a new password'))?.user, 'bob');

    const edit = await runWeir([
      'user',
      'edit',
      'bob',
      '--admin',
      '--allow',
      'subscribe:logs',
      '--json',
      '--data-dir',
      dataDir,
    ]);
    assert.equal(edit.code, 0, edit.stderr);
    const edited = JSON.parse(edit.stdout) as { admin: boolean; allow: string[] };
    assert.equal(edited.admin, true);
    assert.deepEqual(edited.allow, ['subscribe:logs']);
    const back = await runWeir([
      'user',
      'edit',
      'bob',
      '--no-admin',
      '--allow',
      'none',
      '--json',
      '--data-dir',
      dataDir,
    ]);
    const backInfo = JSON.parse(back.stdout) as { admin: boolean; allow: string[] };
    assert.equal(backInfo.admin, false);
    assert.deepEqual(backInfo.allow, [], '--allow none empties the list');
    const nothing = await runWeir(['user', 'edit', 'bob', '--data-dir', dataDir]);
    assert.equal(nothing.code, 2, 'nothing to change is bad usage');
    const badPermission = await runWeir([
      'user',
      'edit',
      'bob',
      '--allow',
      'read:x',
      '--data-dir',
      dataDir,
    ]);
    assert.equal(badPermission.code, 2);
    assert.match(badPermission.stderr, /INVALID_ARGUMENT/);

    const tokenAdd = await runWeir(['user', 'token', 'add', 'bob', '--data-dir', dataDir]);
    assert.equal(tokenAdd.code, 0, tokenAdd.stderr);
    const token = tokenAdd.stdout.trim();
    assert.match(token, /^weir_[0-9a-f]+_\S+$/, 'stdout holds the token alone');
    store = await openUsers(dataDir);
    assert.equal(store.checkToken(token)?.user, 'bob');
    const id = store.get('bob').tokens[0]!.id;
    const tokenRemove = await runWeir(['user', 'token', 'rm', 'bob', id, '--data-dir', dataDir]);
    assert.equal(tokenRemove.code, 0, tokenRemove.stderr);
    store = await openUsers(dataDir);
    assert.equal(store.checkToken(token), null, 'the token no longer logs in');

    const remove = await runWeir(['user', 'rm', 'bob', '--data-dir', dataDir]);
    assert.equal(remove.code, 0, remove.stderr);
    const missing = await runWeir(['user', 'info', 'bob', '--data-dir', dataDir]);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /USER_NOT_FOUND/);
    const list = await runWeir(['user', 'ls', '--data-dir', dataDir]);
    assert.match(list.stdout, /no users/);
  });
});

test('user add refuses a user who could not log in, and two passwords', async () => {
  await withTemporaryDirectory(async (dataDir) => {
    const neither = await runWeir(['user', 'add', 'carol', '--data-dir', dataDir]);
    assert.equal(neither.code, 2);
    assert.match(neither.stderr, /--password-stdin.*--token/);
    const both = await runWeir(
      ['user', 'add', 'carol', '--password', PASSWORD, '--password-stdin', '--data-dir', dataDir],
      { stdin: `${PASSWORD}\n` },
    );
    assert.equal(both.code, 2);
    const emptyStdin = await runWeir([
      'user',
      'add',
      'carol',
      '--password-stdin',
      '--data-dir',
      dataDir,
    ]);
    assert.equal(emptyStdin.code, 2);
    assert.match(emptyStdin.stderr, /stdin holds no password/);
    const tooShort = await runWeir([
      'user',
      'add',
      'carol',
      '--password',
      'short',
      '--data-dir',
      dataDir,
    ]);
    assert.equal(tooShort.code, 2);
    assert.equal((await openUsers(dataDir)).size, 0, 'nothing was added');
  });
});

test('user commands on a data directory a broker holds refuse with DATA_DIR_IN_USE and say to use --url', async () => {
  await withTemporaryDirectory(async (dataDir) => {
    const broker = await Broker.open({ dataDir });
    try {
      const list = await runWeir(['user', 'ls', '--data-dir', dataDir]);
      assert.equal(list.code, 1);
      assert.match(list.stderr, /DATA_DIR_IN_USE/);
      assert.match(list.stderr, /--url/);
      const add = await runWeir(
        ['user', 'add', 'dave', '--password-stdin', '--data-dir', dataDir],
        {
          stdin: `${PASSWORD}\n`,
        },
      );
      assert.equal(add.code, 1);
      assert.match(add.stderr, /DATA_DIR_IN_USE/);
      assert.equal(broker.authenticator.users.size, 0);
    } finally {
      await broker.close();
    }
    // The lock was the broker's: once it is closed the command works, and lets go after.
    const after = await runWeir(
      ['user', 'add', 'dave', '--password-stdin', '--data-dir', dataDir],
      {
        stdin: `${PASSWORD}\n`,
      },
    );
    assert.equal(after.code, 0, after.stderr);
    const reopened = await Broker.open({ dataDir });
    try {
      assert.equal(reopened.authenticator.users.size, 1, 'the broker sees the user added offline');
    } finally {
      await reopened.close();
    }
  });
});

test('user commands without --data-dir go through the running broker (client.users over --url)', async () => {
  await withTemporaryDirectory(async (dataDir) => {
    const serve = startServe(['--port', '0', '--http-port', '0', '--data-dir', dataDir]);
    try {
      await serve.waitFor(/console and HTTP API on/);
      const url = servedUrl(serve);
      // An open broker: the first admin needs no credentials.
      const added = await runWeir(
        [
          'user',
          'add',
          'erin',
          '--admin',
          '--password-stdin',
          '--allow',
          'subscribe:logs',
          '--url',
          url,
        ],
        { stdin: `${PASSWORD}\n` },
      );
      assert.equal(added.code, 0, added.stderr);

      // The broker has a user now: from here on the commands log in as erin (WEIR_PASSWORD).
      const asErin = (args: string[], stdin?: string) =>
        runWeir([...args, '--url', url, '--user', 'erin'], {
          env: { WEIR_PASSWORD: PASSWORD },
          ...(stdin === undefined ? {} : { stdin }),
        });
      const info = await asErin(['user', 'info', 'erin', '--json']);
      assert.equal(info.code, 0, info.stderr);
      assert.deepEqual((JSON.parse(info.stdout) as { allow: string[] }).allow, ['subscribe:logs']);
      const token = await asErin(['user', 'token', 'add', 'erin', '--json']);
      assert.equal(token.code, 0, token.stderr);
      const made = JSON.parse(token.stdout) as { id: string; token: string };
      assert.match(made.token, /^weir_/);
      const passwd = await asErin(
        ['user', 'passwd', 'erin', '--password-stdin'],
        'the next password\n',
      );
      assert.equal(passwd.code, 0, passwd.stderr);
      // On user add, --token makes the new user's token: the admin's own comes from WEIR_TOKEN.
      const service = await runWeir(['user', 'add', 'svc', '--token', '--url', url], {
        env: { WEIR_TOKEN: made.token },
      });
      assert.equal(service.code, 0, service.stderr);
      assert.match(service.stdout, /token [0-9a-f]+: weir_/);
      const list = await runWeir(['user', 'ls', '--json', '--url', url], {
        env: { WEIR_TOKEN: made.token },
      });
      assert.equal(list.code, 0, list.stderr);
      assert.deepEqual(
        (JSON.parse(list.stdout) as { name: string }[]).map((user) => user.name),
        ['erin', 'svc'],
      );
    } finally {
      assert.equal(await serve.stop(), 0, serve.stderr());
    }
    // What was changed through the broker is in its data directory.
    const store = await openUsers(dataDir);
    assert.equal((await store.checkPassword('erin', 'the next password'))?.user, 'erin');
    assert.equal(await store.checkPassword('erin', PASSWORD), null);
    assert.equal(store.get('erin').tokens.length, 1);
    assert.equal(store.get('svc').tokens.length, 1);
  });
});
