/**
 * The example of docs/concepts.md "Transactional outbox" runs as it is written, against the
 * local PostgreSQL (skipped, saying why, without it): in a child process, with `weir`,
 * `weir/outbox` and `pg` pointed at the build and this package's pg, and its table names made
 * unique (and dropped afterwards). Its `// expected` comments on console.log lines are checked
 * against the output, as test/broker/docs-examples.test.ts does for the other sections.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import pg from 'pg';
import { dropOutboxTableDdl } from '../../src/outbox/index.js';
import { createTemporaryDirectory } from '../helpers/temporary-directory.js';
import { PG_URL, postgresProblem } from './postgres-fixture.js';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const HEADING = '## Transactional outbox';

function example(): string {
  const markdown = readFileSync(join(root, 'docs', 'concepts.md'), 'utf8');
  const section = markdown.slice(markdown.indexOf(`\n${HEADING}\n`));
  const match = /```js\n([\s\S]*?)```/.exec(section);
  assert.ok(markdown.includes(`\n${HEADING}\n`) && match, `docs/concepts.md has "${HEADING}"`);
  return match[1]!;
}

test('docs/concepts.md example "Transactional outbox" runs and prints what it says', async (t) => {
  const code = example();
  const problem = await postgresProblem();
  if (problem !== null) {
    t.skip(`PostgreSQL is not reachable on 127.0.0.1:5432: ${problem}`);
    return;
  }
  const suffix = randomBytes(5).toString('hex');
  const outbox = `shop_outbox_${suffix}`;
  const orders = `shop_orders_${suffix}`;
  const url = (path: string) => JSON.stringify(pathToFileURL(path).href);
  const program = code
    .replaceAll('shop_outbox', outbox)
    .replaceAll('shop_orders', orders)
    .replace("from 'weir/outbox'", `from ${url(join(root, 'dist', 'src', 'outbox', 'index.js'))}`)
    .replace("from 'weir'", `from ${url(join(root, 'dist', 'src', 'index.js'))}`)
    .replace("from 'pg'", `from ${url(createRequire(join(root, 'package.json')).resolve('pg'))}`);
  const pool = new pg.Pool({ connectionString: PG_URL, max: 1 });
  const directory = await createTemporaryDirectory('weir-outbox-docs-');
  try {
    const file = join(directory.path, 'example.mjs');
    writeFileSync(file, program);
    const child = spawnSync(process.execPath, [file], {
      encoding: 'utf8',
      timeout: 20_000,
      env: { ...process.env, DATABASE_URL: PG_URL },
    });
    assert.equal(child.status, 0, `exit ${child.status}: ${child.stderr}`);
    const expected = [...code.matchAll(/console\.log\([^\n]*\/\/ ([^\n]+)\n/g)].map((line) =>
      line[1]!.trim(),
    );
    assert.ok(expected.length >= 2, 'the example says what it prints');
    let output = child.stdout;
    for (const line of expected) {
      for (const item of line.split(/, /)) {
        const at = output.indexOf(item.trim());
        assert.ok(at >= 0, `output lacks "${item}":\n${child.stdout}`);
        output = output.slice(at);
      }
    }
  } finally {
    await directory.remove();
    await pool.query(`${dropOutboxTableDdl(outbox)} DROP TABLE IF EXISTS "${orders}";`);
    await pool.end();
  }
});
