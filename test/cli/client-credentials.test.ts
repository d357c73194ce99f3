/**
 * The credentials of every client command (client-connection.ts): which flags and variables
 * become the SDK's `connect(url, { user, password, token, tls })`, that every command with
 * --url takes them, and that --password-stdin takes only the first line of stdin.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { connectOptions } from '../../src/cli/client-connection.js';
import { withTemporaryDirectory } from '../helpers/temporary-directory.js';
import { runWeir, servedUrl, startServe } from './weir-process.js';

const URL = 'weir://127.0.0.1:1';
const PASSWORD = 'correct horse battery';

/** Runs `body` with these WEIR_ variables set (and the others unset), then puts them back. */
async function withEnvironment(
  variables: Record<string, string>,
  body: () => Promise<void>,
): Promise<void> {
  const names = ['WEIR_PASSWORD', 'WEIR_TOKEN'];
  const saved = Object.fromEntries(names.map((name) => [name, process.env[name]]));
  for (const name of names) delete process.env[name];
  Object.assign(process.env, variables);
  try {
    await body();
  } finally {
    for (const name of names) {
      if (saved[name] === undefined) delete process.env[name];
      else process.env[name] = saved[name];
    }
  }
}

test('--user takes its password from WEIR_PASSWORD; without one it is refused', async () => {
  await withEnvironment({ WEIR_PASSWORD: 'secret password' }, async () => {
    assert.deepEqual(await connectOptions({ url: URL, user: 'alice' }), {
      user: 'alice',
      password: 'secret password',
    });
  });
  await withEnvironment({}, async () => {
    await assert.rejects(connectOptions({ url: URL, user: 'alice' }), {
      code: 'INVALID_ARGUMENT',
      message: /WEIR_PASSWORD or pass --password-stdin/,
    });
  });
});

test('--token, or WEIR_TOKEN; --user beats WEIR_TOKEN; --user and --token together are refused', async () => {
  await withEnvironment(
    { WEIR_TOKEN: 'weir_env_token', WEIR_PASSWORD: 'secret password' },
    async () => {
      assert.deepEqual(await connectOptions({ url: URL }), { token: 'weir_env_token' });
      assert.deepEqual(await connectOptions({ url: URL, token: 'weir_flag_token' }), {
        token: 'weir_flag_token',
      });
      assert.deepEqual(await connectOptions({ url: URL, user: 'bob' }), {
        user: 'bob',
        password: 'secret password',
      });
      await assert.rejects(connectOptions({ url: URL, user: 'bob', token: 'weir_x_y' }), {
        code: 'INVALID_ARGUMENT',
      });
      await assert.rejects(connectOptions({ url: URL, passwordStdin: true }), {
        code: 'INVALID_ARGUMENT',
        message: /--password-stdin is the password of --user/,
      });
    },
  );
  await withEnvironment({}, async () => {
    assert.deepEqual(await connectOptions({ url: URL }), {}, 'no credentials: none sent');
  });
});

test('--tls-ca reads the CA file into tls.ca; a missing file is INVALID_ARGUMENT', async () => {
  await withTemporaryDirectory(async (directory) => {
    const file = join(directory, 'ca.pem');
    await writeFile(file, '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n');
    await withEnvironment({}, async () => {
      const options = await connectOptions({ url: URL, tlsCa: file });
      assert.match(String(options.tls?.ca), /BEGIN CERTIFICATE/);
      await assert.rejects(connectOptions({ url: URL, tlsCa: join(directory, 'none.pem') }), {
        code: 'INVALID_ARGUMENT',
        message: /--tls-ca .*none\.pem/,
      });
    });
  });
});

test('every command with --url takes --user, --password-stdin, --token and --tls-ca', async () => {
  // One command of each registration path (main.ts, queue-, subscription-, user-program.ts);
  // addCredentialOptions walks the whole tree, so the others are the same code.
  const commands = [
    ['stream', 'edit'],
    ['pub'],
    ['sub'],
    ['sub', 'seek'],
    ['queue', 'add'],
    ['reply'],
    ['dlq', 'redrive'],
    ['bench'],
    ['user', 'ls'],
    ['user', 'token', 'rm'],
  ];
  const results = [];
  // A few at a time: each is a node process.
  for (let index = 0; index < commands.length; index += 4) {
    const batch = commands.slice(index, index + 4);
    results.push(...(await Promise.all(batch.map((command) => runWeir([...command, '--help'])))));
  }
  results.forEach((result, index) => {
    const name = commands[index]!.join(' ');
    assert.equal(result.code, 0, `${name}: ${result.stderr}`);
    for (const flag of ['--url', '--user', '--password-stdin', '--token', '--tls-ca']) {
      assert.ok(result.stdout.includes(flag), `weir ${name} --help lists ${flag}`);
    }
  });
  // `user add --token` makes a token for the new user (the admin's own comes from WEIR_TOKEN).
  const add = await runWeir(['user', 'add', '--help']);
  assert.match(add.stdout, /--token\s+make a token for the user/);
  assert.match(add.stdout, /--user <name>/);
});

test('--password-stdin takes the first line of stdin: weir pub publishes the lines after it', async () => {
  await withTemporaryDirectory(async (dataDir) => {
    const added = await runWeir(
      ['user', 'add', 'ops', '--admin', '--password-stdin', '--data-dir', dataDir],
      { stdin: `${PASSWORD}\n` },
    );
    assert.equal(added.code, 0, added.stderr);
    const serve = startServe(['--port', '0', '--http-port', '0', '--data-dir', dataDir]);
    try {
      await serve.waitFor(/console and HTTP API on/);
      const url = servedUrl(serve);
      const asOps = (args: string[], stdin?: string) =>
        runWeir([...args, '--url', url, '--user', 'ops'], {
          env: { WEIR_PASSWORD: PASSWORD },
          ...(stdin === undefined ? {} : { stdin }),
        });
      const created = await asOps(['stream', 'add', 'events', '--subjects', 'events.>']);
      assert.equal(created.code, 0, created.stderr);
      const published = await runWeir(
        ['pub', 'events.created', '--url', url, '--user', 'ops', '--password-stdin'],
        { stdin: `${PASSWORD}\nfirst\nsecond\n` },
      );
      assert.equal(published.code, 0, published.stderr);
      assert.match(published.stdout, /published 2 message\(s\)/);
      const info = await asOps(['stream', 'info', 'events', '--json']);
      assert.equal(info.code, 0, info.stderr);
      assert.equal(
        (JSON.parse(info.stdout) as { messages: number }).messages,
        2,
        'the password was not published',
      );

      const refused = await runWeir([
        'stream',
        'ls',
        '--url',
        url,
        '--user',
        'ops',
        '--password-stdin',
      ]);
      assert.equal(refused.code, 2);
      assert.match(refused.stderr, /stdin holds no password/);
    } finally {
      assert.equal(await serve.stop(), 0, serve.stderr());
    }
  });
});
