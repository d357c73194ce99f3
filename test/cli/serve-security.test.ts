/**
 * `weir serve`'s safe defaults (issue 13): without users it serves only loopback (dev mode,
 * said once in the log); bound to any other address it refuses to start — before listening —
 * unless --insecure; with users it may bind anywhere. Audit events are JSON log lines. TLS
 * flags are read and checked before the broker opens.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { makeCertificates, opensslMissing } from '../helpers/certificates.js';
import { withTemporaryDirectory } from '../helpers/temporary-directory.js';
import { runWeir, servedUrl, startServe } from './weir-process.js';

const PORTS = ['--port', '0', '--http-port', '0'];
const PASSWORD = 'correct horse battery';

test('serve on 0.0.0.0 with no users exits 1 with how to fix it, without listening', async () => {
  await withTemporaryDirectory(async (dataDir) => {
    const result = await runWeir(['serve', '--host', '0.0.0.0', ...PORTS, '--data-dir', dataDir]);
    assert.equal(result.code, 1, result.stderr);
    assert.match(result.stderr, /NOT_AUTHORIZED: refusing to listen on 0\.0\.0\.0 with no users/);
    assert.match(result.stderr, /weir user add NAME --admin --password-stdin --data-dir/);
    assert.match(result.stderr, /--insecure/);
    assert.doesNotMatch(result.stdout, /listening on/);
    assert.ok(
      !result.stderr.split('\n').some((line) => line.includes('"event":"listening"')),
      'no listening log line',
    );
  });
});

test('serve refuses a non-loopback --http-host with no users, and --memory on 0.0.0.0', async () => {
  await withTemporaryDirectory(async (dataDir) => {
    const http = await runWeir([
      'serve',
      '--http-host',
      '0.0.0.0',
      ...PORTS,
      '--data-dir',
      dataDir,
    ]);
    assert.equal(http.code, 1, http.stderr);
    assert.match(http.stderr, /refusing to listen on 0\.0\.0\.0/);
    assert.doesNotMatch(http.stdout, /listening on/);
    const memory = await runWeir(['serve', '--host', '::', '--memory', ...PORTS]);
    assert.equal(memory.code, 1, memory.stderr);
    assert.match(memory.stderr, /memory broker has no users file/);
  });
});

test('serve on 0.0.0.0 with --insecure starts, and says it is open', async () => {
  await withTemporaryDirectory(async (dataDir) => {
    const serve = startServe(['--host', '0.0.0.0', '--insecure', ...PORTS, '--data-dir', dataDir]);
    try {
      await serve.waitFor(/listening on/);
      await serve.waitFor(/console and HTTP API on/);
      const insecure = serve.logLines().filter((line) => line['event'] === 'insecure');
      assert.equal(insecure.length, 1, serve.stderr());
      assert.deepEqual(insecure[0]!['addresses'], ['0.0.0.0']);
    } finally {
      assert.equal(await serve.stop(), 0, serve.stderr());
    }
  });
});

test('serve on loopback with no users starts and logs dev mode once', async () => {
  await withTemporaryDirectory(async (dataDir) => {
    const serve = startServe([...PORTS, '--data-dir', dataDir]);
    try {
      await serve.waitFor(/console and HTTP API on/);
      assert.match(serve.stdout(), /listening on weir:\/\/127\.0\.0\.1:\d+/);
      const devMode = serve.logLines().filter((line) => line['event'] === 'dev_mode');
      assert.equal(devMode.length, 1, serve.stderr());
      assert.equal(devMode[0]!['level'], 'warn');
    } finally {
      assert.equal(await serve.stop(), 0, serve.stderr());
    }
  });
});

test('serve on 0.0.0.0 starts without --insecure once the data directory has users', async () => {
  await withTemporaryDirectory(async (dataDir) => {
    const added = await runWeir(
      ['user', 'add', 'admin', '--admin', '--password-stdin', '--data-dir', dataDir],
      { stdin: `${PASSWORD}\n` },
    );
    assert.equal(added.code, 0, added.stderr);
    const serve = startServe(['--host', '0.0.0.0', ...PORTS, '--data-dir', dataDir]);
    try {
      await serve.waitFor(/console and HTTP API on/);
      const lines = serve.logLines();
      const authentication = lines.find((line) => line['event'] === 'authentication');
      assert.equal(authentication?.['users'], 1, serve.stderr());
      assert.ok(!lines.some((line) => line['event'] === 'dev_mode'));
    } finally {
      assert.equal(await serve.stop(), 0, serve.stderr());
    }
  });
});

test('an admin action through the CLI is one audit line in the serve log, whatever the log level', async () => {
  await withTemporaryDirectory(async (dataDir) => {
    const serve = startServe([...PORTS, '--log-level', 'error', '--data-dir', dataDir]);
    try {
      await serve.waitFor(/console and HTTP API on/);
      const url = servedUrl(serve);
      const added = await runWeir(
        ['user', 'add', 'ops', '--admin', '--password-stdin', '--url', url],
        {
          stdin: `${PASSWORD}\n`,
        },
      );
      assert.equal(added.code, 0, added.stderr);
      await serve.waitFor(/"event":"audit"/);
      const audits = serve.logLines().filter((line) => line['event'] === 'audit');
      assert.equal(audits.length, 1, serve.stderr());
      const line = audits[0]!;
      assert.equal(line['action'], 'users.add');
      assert.equal(line['target'], 'ops');
      assert.equal(line['outcome'], 'ok');
      assert.equal(line['level'], 'info');
      assert.ok('remote' in line && 'user' in line, 'the line names who and from where');
    } finally {
      assert.equal(await serve.stop(), 0, serve.stderr());
    }
  });
});

test('serve checks its TLS flags before the broker opens', async () => {
  await withTemporaryDirectory(async (directory) => {
    const dataDir = join(directory, 'data');
    const certOnly = await runWeir([
      'serve',
      ...PORTS,
      '--tls-cert',
      join(directory, 'cert.pem'),
      '--data-dir',
      dataDir,
    ]);
    assert.equal(certOnly.code, 2, certOnly.stderr);
    assert.match(certOnly.stderr, /TLS needs both --tls-cert and --tls-key/);
    const missing = await runWeir([
      'serve',
      ...PORTS,
      '--tls-cert',
      join(directory, 'cert.pem'),
      '--tls-key',
      join(directory, 'key.pem'),
      '--data-dir',
      dataDir,
    ]);
    assert.equal(missing.code, 2, missing.stderr);
    assert.match(missing.stderr, /--tls-cert .*cert\.pem: .*ENOENT/);
    const caOnly = await runWeir([
      'serve',
      ...PORTS,
      '--tls-ca',
      join(directory, 'ca.pem'),
      '--data-dir',
      dataDir,
    ]);
    assert.equal(caOnly.code, 2, caOnly.stderr);
    assert.doesNotMatch(missing.stdout + certOnly.stdout + caOnly.stdout, /listening on/);
  });
});

/**
 * Certificate files for 127.0.0.1 and localhost (test/helpers/certificates.ts writes them into
 * `directory`): the server's certificate and key, and the CA that signed it. Null without openssl.
 */
async function certificateFiles(
  directory: string,
): Promise<{ cert: string; key: string; ca: string } | null> {
  if ((await opensslMissing()) !== null) return null;
  await makeCertificates(directory);
  return {
    cert: join(directory, 'server.crt'),
    key: join(directory, 'server.key'),
    ca: join(directory, 'ca.crt'),
  };
}

test('serve --tls-cert/--tls-key: the CLI reaches it with weirs:// and --tls-ca; plain TCP is refused', async (context) => {
  await withTemporaryDirectory(async (directory) => {
    const certificate = await certificateFiles(directory);
    if (certificate === null) {
      context.skip('openssl is missing: no certificate to test with');
      return;
    }
    const serve = startServe([
      ...PORTS,
      '--tls-cert',
      certificate.cert,
      '--tls-key',
      certificate.key,
      '--data-dir',
      join(directory, 'data'),
    ]);
    try {
      await serve.waitFor(/console and HTTP API on/);
      const url = servedUrl(serve);
      assert.match(url, /^weirs:\/\//);
      const listening = serve.logLines().find((line) => line['event'] === 'listening');
      assert.equal(listening?.['tls'], true);
      const overTls = await runWeir(['stream', 'ls', '--url', url, '--tls-ca', certificate.ca]);
      assert.equal(overTls.code, 0, overTls.stderr);
      assert.match(overTls.stdout, /no streams/);
      const plain = await runWeir(['stream', 'ls', '--url', url.replace('weirs:', 'weir:')]);
      assert.equal(plain.code, 1, 'plain TCP to a TLS port fails');
    } finally {
      assert.equal(await serve.stop(), 0, serve.stderr());
    }
  });
});

test('weir stream rm through the CLI is an audit line naming the stream', async () => {
  await withTemporaryDirectory(async (dataDir) => {
    const serve = startServe([...PORTS, '--data-dir', dataDir]);
    try {
      await serve.waitFor(/console and HTTP API on/);
      const url = servedUrl(serve);
      assert.equal((await runWeir(['stream', 'add', 'orders', '--url', url])).code, 0);
      const removed = await runWeir(['stream', 'rm', 'orders', '--url', url]);
      assert.equal(removed.code, 0, removed.stderr);
      await serve.waitFor(/"action":"streams\.delete"/, 5_000);
      const line = serve.logLines().find((entry) => entry['action'] === 'streams.delete');
      assert.equal(line?.['outcome'], 'ok');
    } finally {
      assert.equal(await serve.stop(), 0, serve.stderr());
    }
  });
});
