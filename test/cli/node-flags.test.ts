/**
 * `weir` runs Node with NODE_FLAGS wherever it is started: the bin's shebang and `npm start`
 * carry the same flags as the constant the benchmarks use.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { NODE_FLAGS } from '../../src/cli/node-flags.js';

test('the shebang and npm start pass NODE_FLAGS', () => {
  const main = readFileSync(new URL('../../src/cli/main.js', import.meta.url), 'utf8');
  assert.equal(main.split('\n')[0], `#!/usr/bin/env -S node ${NODE_FLAGS.join(' ')}`);
  const manifest = JSON.parse(
    readFileSync(new URL('../../../package.json', import.meta.url), 'utf8'),
  ) as { scripts: Record<string, string> };
  assert.ok(
    manifest.scripts.start!.includes(`node ${NODE_FLAGS.join(' ')} dist/src/cli/main.js serve`),
    manifest.scripts.start,
  );
});
