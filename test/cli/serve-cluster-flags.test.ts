/**
 * `weir serve`'s cluster flags (docs/cli.md): what is refused before anything starts (exit 2,
 * INVALID_ARGUMENT naming the flag), and an etcd that cannot be reached (exit 1, saying so).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { withTemporaryDirectory } from '../helpers/temporary-directory.js';
import { runWeir } from './weir-process.js';

test('cluster flags without --etcd, --etcd without --node-id, and --memory in a cluster exit 2', async () => {
  const alone = await runWeir(['serve', '--node-id', 'a', '--port', '0']);
  assert.equal(alone.code, 2);
  assert.match(
    alone.stderr,
    /INVALID_ARGUMENT: --node-id, --advertise and --replication-port need --etcd/,
  );
  const nameless = await runWeir(['serve', '--etcd', 'http://127.0.0.1:9', '--port', '0']);
  assert.equal(nameless.code, 2);
  assert.match(nameless.stderr, /--etcd needs --node-id/);
  const badName = await runWeir(['serve', '--etcd', 'http://127.0.0.1:9', '--node-id', 'a b']);
  assert.equal(badName.code, 2);
  const noAdvertise = await runWeir(['serve', '--etcd', 'http://127.0.0.1:9', '--node-id', 'a']);
  assert.equal(noAdvertise.code, 2);
  assert.match(noAdvertise.stderr, /--etcd needs --advertise HOST:PORT/);
  const memory = await runWeir([
    ...['serve', '--etcd', 'http://127.0.0.1:9', '--node-id', 'a'],
    ...['--advertise', '127.0.0.1:0', '--memory'],
  ]);
  assert.equal(memory.code, 2);
  assert.match(memory.stderr, /drop --memory/);
});

test('an etcd nobody answers at: exit 1, naming it', async () => {
  await withTemporaryDirectory(async (directory) => {
    // Port 9 (discard) on loopback: nothing listens there on a test machine.
    const result = await runWeir([
      ...['serve', '--etcd', 'http://127.0.0.1:9', '--node-id', 'a'],
      ...['--advertise', '127.0.0.1:0', '--port', '0', '--http-port', '0', '--data-dir', directory],
    ]);
    assert.equal(result.code, 1);
    assert.match(result.stderr, /CLOSED: etcd is unreachable \(http:\/\/127\.0\.0\.1:9\/\)/);
  });
});
