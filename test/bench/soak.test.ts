/**
 * The soak tool runs end to end: 3 cycles (process, power cut, process) of a small load print a
 * line per cycle and a summary with cycles, confirmed, lost and acked-then-redelivered, and it
 * exits 0 only when nothing was lost or redelivered after its ack. Bad arguments exit 2.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const SOAK = fileURLToPath(new URL('../../bench/soak.js', import.meta.url));
const RUN_MS_MAX = 60_000;

function runSoak(args: readonly string[]): Promise<{ status: number | null; stdout: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [SOAK, ...args], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let stdout = '';
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (chunk: string) => (stdout += chunk));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`the soak did not finish within ${RUN_MS_MAX} ms:\n${stdout}`));
    }, RUN_MS_MAX);
    child.on('exit', (status) => {
      clearTimeout(timer);
      resolve({ status, stdout });
    });
  });
}

test('soak --cycles 3 prints every cycle and a summary with nothing lost or redelivered', async () => {
  const { status, stdout } = await runSoak(['--cycles', '3', '--messages', '200', '--seed', '7']);
  const lines = stdout.trim().split('\n');
  const cycles = lines.filter((line) => line.startsWith('cycle '));
  assert.equal(cycles.length, 3, stdout);
  assert.match(cycles[0]!, /^cycle 1 process: /);
  assert.match(cycles[1]!, /^cycle 2 power-cut: /);
  const summary =
    /^soak: cycles (\d+) confirmed (\d+) lost (\d+) acked-then-redelivered (\d+)/.exec(
      lines[lines.length - 1]!,
    );
  assert.ok(summary, `a summary line ends the output:\n${stdout}`);
  const [, cycleCount, confirmed, lost, ackedThenRedelivered] = summary.map(Number);
  assert.equal(cycleCount, 3);
  assert.ok(confirmed! > 0, 'the load confirmed publishes');
  assert.equal(lost, 0, stdout);
  assert.equal(ackedThenRedelivered, 0, stdout);
  assert.equal(status, 0);
});

test('soak refuses a bad --cycles with exit code 2', () => {
  const result = spawnSync(process.execPath, [SOAK, '--cycles', 'many'], {
    encoding: 'utf8',
    timeout: 20_000,
  });
  assert.equal(result.status, 2);
  assert.match(result.stderr, /--cycles must be an integer/);
});
