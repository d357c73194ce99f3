/**
 * Bounded memory: a stream with 1,000,000 un-consumed 1 KiB messages and 3 subscriptions,
 * each with a consumer holding 1000 in flight, keeps the process under 300 MiB RSS, while
 * it is built and after a restart on it. Measured in a child process (memory-child.ts).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const RSS_LIMIT_MIB = 300;

test('1,000,000 un-consumed 1 KiB messages under 3 subscriptions stay under 300 MiB RSS', () => {
  const child = spawnSync(
    process.execPath,
    [fileURLToPath(new URL('./memory-child.js', import.meta.url)), tmpdir(), '1000000'],
    { encoding: 'utf8', timeout: 110_000 },
  );
  assert.equal(child.status, 0, `child failed: ${child.stderr}`);
  const lines = child.stdout.trim().split('\n');
  const figures = JSON.parse(lines[lines.length - 1]!) as {
    messages: number;
    held: number;
    heldAfterRestart: number;
    afterPublishMiB: number;
    afterRestartMiB: number;
    peakMiB: number;
  };
  console.log(`# memory: ${JSON.stringify(figures)}`);
  assert.equal(figures.messages, 1_000_000);
  assert.equal(figures.held, 3000);
  assert.equal(figures.heldAfterRestart, 3000);
  assert.ok(figures.peakMiB < RSS_LIMIT_MIB, `peak RSS ${figures.peakMiB} MiB`);
  assert.ok(
    figures.afterRestartMiB < RSS_LIMIT_MIB,
    `RSS after restart ${figures.afterRestartMiB} MiB`,
  );
});
