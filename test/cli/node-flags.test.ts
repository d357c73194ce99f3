/**
 * `npm start` runs `weir serve` with the NODE_FLAGS the benchmarks use, and the bin's shebang
 * stays a plain `node` (portable: BusyBox's env has no -S).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { NODE_FLAGS } from '../../src/cli/node-flags.js';

test('npm start passes NODE_FLAGS; the shebang is a plain node', () => {
  const main = readFileSync(new URL('../../src/cli/main.js', import.meta.url), 'utf8');
  assert.equal(main.split('\n')[0], '#!/usr/bin/env node');
  const manifest = JSON.parse(
    readFileSync(new URL('../../../package.json', import.meta.url), 'utf8'),
  ) as { scripts: Record<string, string> };
  assert.ok(
    manifest.scripts.start!.includes(`node ${NODE_FLAGS.join(' ')} dist/src/cli/main.js serve`),
    manifest.scripts.start,
  );
});
