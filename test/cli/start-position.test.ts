/** `--start`: earliest, latest, N, PARTITION:N or an ISO 8601 time; anything else refused. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseStartPosition } from '../../src/cli/start-position.js';

test('--start parses positions, offsets and ISO 8601 times', () => {
  assert.equal(parseStartPosition('earliest'), 'earliest');
  assert.equal(parseStartPosition('latest'), 'latest');
  assert.deepEqual(parseStartPosition('42'), { offset: 42 });
  assert.deepEqual(parseStartPosition('3:42'), { partition: 3, offset: 42 });
  assert.deepEqual(parseStartPosition('2026-12-02T13:00:00Z'), {
    timeMs: Date.UTC(2026, 11, 2, 13),
  });
  assert.deepEqual(parseStartPosition('2026-12-02'), { timeMs: Date.UTC(2026, 11, 2) });
});

test('--start refuses garbage with INVALID_ARGUMENT naming the flag', () => {
  for (const text of [
    '',
    'yesterday',
    '-1',
    '1e3',
    '2026-13-45',
    'Dec 2 2026',
    '99999999999999999999',
  ]) {
    assert.throws(
      () => parseStartPosition(text),
      (error: unknown) => {
        assert.equal((error as { code?: unknown }).code, 'INVALID_ARGUMENT', text);
        assert.match((error as Error).message, /--start/);
        return true;
      },
    );
  }
});
