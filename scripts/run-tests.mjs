// Runs every compiled test file (dist/test/**/*.test.js) with node:test, whose summary CI reads.
// Usage: node scripts/run-tests.mjs [filter]   (filter: substring of the test file path)
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';

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
const result = spawnSync(
  process.execPath,
  ['--test', '--test-reporter=spec', '--test-concurrency=2', ...files],
  { stdio: 'inherit' },
);
process.exit(result.status ?? 1);
