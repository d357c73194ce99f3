/**
 * `weir serve` writes what the broker reports on its diagnostics channels as log lines: here,
 * a range of offsets recovery found missing (a segment deleted between two others) must show
 * as a `lost_range` error line on stderr, naming the range — not only in stream info.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, readdir, rm, unlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Broker } from '../../src/broker/index.js';

const MAIN = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));
const START_TIMEOUT_MS = 15_000;

test('weir serve logs a lost_range line for offsets recovery found missing', async () => {
  const dataDir = await mkdtemp(join(tmpdir(), 'weir-serve-reports-'));
  try {
    const broker = await Broker.open({ dataDir });
    const client = broker.connect();
    await client.streams.create('log', { subjects: ['log'], segmentBytes: 64 * 1024 });
    const body = 'x'.repeat(4000);
    for (let index = 0; index < 100; index++) await client.publish('log', body);
    await broker.close();
    const directory = join(dataDir, 'streams', 'log', 'partitions', '0');
    const segments = (await readdir(directory)).filter((name) => name.endsWith('.log')).sort();
    assert.ok(segments.length >= 3, `several segments (${segments.length})`);
    const lostStart = Number(segments[1]!.slice(0, 20));
    const lostEnd = Number(segments[2]!.slice(0, 20));
    await unlink(join(directory, segments[1]!));

    const child = spawn(
      process.execPath,
      [MAIN, 'serve', '--data-dir', dataDir, '--port', '0', '--http-port', '0'],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
    let stderr = '';
    let stdout = '';
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    try {
      const deadline = Date.now() + START_TIMEOUT_MS;
      while (!/listening on/.test(stdout) && Date.now() < deadline && child.exitCode === null)
        await new Promise((resolve) => setTimeout(resolve, 20));
      assert.match(stdout, /listening on/, `the server started (stderr: ${stderr})`);
      const lines = stderr
        .split('\n')
        .filter((line) => line.startsWith('{'))
        .map((line) => JSON.parse(line) as Record<string, unknown>);
      const lost = lines.find((line) => line['event'] === 'lost_range');
      assert.ok(lost, `a lost_range line (stderr: ${stderr})`);
      assert.equal(lost['level'], 'error');
      assert.equal(lost['startOffset'], lostStart);
      assert.equal(lost['endOffset'], lostEnd);
    } finally {
      child.kill('SIGTERM');
      await exited;
    }
  } finally {
    await rm(dataDir, { recursive: true, force: true });
  }
});
