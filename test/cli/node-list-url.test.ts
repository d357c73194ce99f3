/**
 * The CLI takes a cluster's node list in `--url` and in WEIR_URL as the SDK does: a dead node
 * is passed over and a follower's NOT_LEADER leader=HOST:PORT is followed to the leader.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { startTestServer } from '../server/in-process-server.js';
import { deadPort, FakeFollower } from '../client/fake-follower.js';
import { CLI_RUN_MS, type CliResult } from './cli-fixture.js';

const MAIN = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));

function runCli(args: readonly string[], weirUrl: string | null): Promise<CliResult> {
  const environment: NodeJS.ProcessEnv = { ...process.env };
  delete environment.WEIR_URL;
  if (weirUrl !== null) environment.WEIR_URL = weirUrl;
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [MAIN, ...args],
      { timeout: CLI_RUN_MS, env: environment },
      (error, stdout, stderr) => {
        const code = error === null ? 0 : typeof error.code === 'number' ? error.code : -1;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

test(
  '--url and WEIR_URL take a node list: a dead node is passed over, a follower points at the leader',
  { timeout: 4 * CLI_RUN_MS },
  async () => {
    const server = await startTestServer();
    const follower = await FakeFollower.start(`127.0.0.1:${server.port}`);
    try {
      const list = `weir://127.0.0.1:${await deadPort()},${follower.hostPort}`;
      const added = await runCli(
        ['stream', 'add', 'orders', '--subjects', 'orders', '--url', list],
        null,
      );
      assert.equal(added.code, 0, added.stderr);
      const local = server.broker.connect();
      try {
        assert.deepEqual(
          (await local.streams.list()).map((stream) => stream.name),
          ['orders'],
        );
      } finally {
        await local.close();
      }
      const info = await runCli(['stream', 'info', 'orders'], list);
      assert.equal(info.code, 0, info.stderr);
      assert.match(info.stdout, /orders/);
      assert.equal(follower.hellos, 2);

      const bad = await runCli(['stream', 'info', 'orders', '--url', 'weir://127.0.0.1:1,'], null);
      assert.notEqual(bad.code, 0);
      assert.match(bad.stderr, /host 2 \(empty\) of "weir:\/\/127\.0\.0\.1:1," names no host/);
    } finally {
      await follower.stop();
      await server.close();
    }
  },
);
