/** `npm run bench -- --help` prints the options and exits 0 (it used to throw on --help). */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const MAIN = fileURLToPath(new URL('../../bench/compare/main.js', import.meta.url));

test('bench/compare --help prints the usage and runs nothing', () => {
  const result = spawnSync(process.execPath, [MAIN, '--help'], {
    encoding: 'utf8',
    timeout: 20_000,
  });
  assert.equal(result.status, 0, result.stderr);
  assert.match(result.stdout, /^usage: npm run bench -- \[--quick\]/);
  for (const option of ['--runs', '--workloads', '--brokers', '--profile', '--from']) {
    assert.ok(result.stdout.includes(option), `mentions ${option}`);
  }
  assert.doesNotMatch(result.stdout, /w1 run/);
});
