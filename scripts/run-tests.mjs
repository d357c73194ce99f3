// Runs every compiled test file (dist/test/**/*.test.js) with node:test, whose summary CI reads.
// Usage: node scripts/run-tests.mjs [filter]   (filter: substring of the test file path)
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { spawn } from 'node:child_process';
import { setTimeout, clearTimeout } from 'node:timers';

function find(directory) {
  const files = [];
  for (const name of readdirSync(directory)) {
    const full = join(directory, name);
    if (statSync(full).isDirectory()) files.push(...find(full));
    else if (name.endsWith('.test.js')) files.push(full);
  }
  return files;
}

const filter = process.argv[2] ?? '';
const files = find(join('dist', 'test'))
  .filter((file) => file.includes(filter))
  .sort();
if (files.length === 0) {
  console.error(`no test files match "${filter}" under dist/test`);
  process.exit(1);
}
// Bounds: a test that runs past TEST_TIMEOUT_MS fails (node:test cancels it); a file whose
// process never ends (a loop that starves its own timers, a handle left open) cannot be
// cancelled from inside, so the whole run is stopped at SUITE_TIMEOUT_MS, saying so.
const TEST_TIMEOUT_MS = 5 * 60_000;
const SUITE_TIMEOUT_MS = 30 * 60_000;
const child = spawn(
  process.execPath,
  [
    '--test',
    '--test-reporter=spec',
    '--test-concurrency=2',
    `--test-timeout=${TEST_TIMEOUT_MS}`,
    ...files,
  ],
  { stdio: 'inherit', detached: true },
);
const watchdog = setTimeout(() => {
  console.error(
    `run-tests: the suite ran past ${SUITE_TIMEOUT_MS / 60_000} minutes; stopping it. ` +
      'The first test file whose results are missing above is the one that did not end.',
  );
  process.kill(-child.pid, 'SIGKILL');
}, SUITE_TIMEOUT_MS);
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => {
    process.kill(-child.pid, 'SIGKILL');
    process.exit(1);
  });
}
child.on('exit', (code, signal) => {
  clearTimeout(watchdog);
  process.exit(code ?? (signal ? 1 : 0));
});
