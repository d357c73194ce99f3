/**
 * The examples of docs/concepts.md run as they are written: every ```js block that opens a
 * memory broker is run in a child process (with `from 'weir'` pointed at the build) and must
 * exit cleanly; its `// expected` comments on console.log lines are checked against the output.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const entry = join(root, 'dist', 'src', 'index.js');
const adminEntry = join(root, 'dist', 'src', 'admin', 'index.js');
const markdown = readFileSync(join(root, 'docs', 'concepts.md'), 'utf8');
/** Each runnable block with the heading it stands under. */
const blocks = [...markdown.matchAll(/```js\n([\s\S]*?)```/g)]
  .map((match) => {
    const before = markdown.slice(0, match.index);
    const heading = before.slice(before.lastIndexOf('\n## ') + 4).split('\n')[0]!;
    return { code: match[1]!, heading };
  })
  .filter(({ code }) => code.includes("Broker.open({ storage: 'memory' })"));

test('docs/concepts.md has runnable examples', () => {
  assert.ok(blocks.length >= 6, `${blocks.length} runnable examples`);
});

for (const { code, heading } of blocks) {
  test(`docs/concepts.md example "${heading}" runs and prints what it says`, () => {
    const directory = mkdtempSync(join(tmpdir(), 'weir-docs-'));
    try {
      const file = join(directory, 'example.mjs');
      writeFileSync(
        file,
        code
          .replace("from 'weir'", `from ${JSON.stringify(entry)}`)
          .replace("from 'weir/admin'", `from ${JSON.stringify(adminEntry)}`),
      );
      const child = spawnSync(process.execPath, [file], { encoding: 'utf8', timeout: 20_000 });
      assert.equal(child.status, 0, `exit ${child.status}: ${child.stderr}`);
      // `console.log(x); // a, b` lines: the output has those values in that order.
      const expected = [...code.matchAll(/console\.log\([^\n]*\/\/ ([^:\n]+?)(?::[^\n]*)?\n/g)].map(
        (match) => match[1]!.trim(),
      );
      let output = child.stdout;
      for (const line of expected) {
        for (const item of line.split(/, /)) {
          const at = output.indexOf(item.replace(/\.\.\.$/, '').trim());
          assert.ok(at >= 0, `output lacks "${item}":\n${child.stdout}`);
          output = output.slice(at);
        }
      }
    } finally {
      rmSync(directory, { recursive: true, force: true });
    }
  });
}
