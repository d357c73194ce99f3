/**
 * The progress store's bounds: a record lives while its message is unsettled and
 * PROGRESS_KEPT_MS_AFTER_SETTLE after, and past PROGRESS_RECORDS_MAX the oldest settled record
 * goes first, then the oldest of all.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { PROGRESS_KEPT_MS_AFTER_SETTLE, PROGRESS_RECORDS_MAX } from '../../src/limits.js';
import type { StoredMessage } from '../../src/broker/message-codec.js';
import { newEntry, type Entry } from '../../src/broker/partition-cursor.js';
import { checkProgressSelector, ProgressStore } from '../../src/broker/progress-store.js';

function entry(offset: number): Entry {
  const message = { offset, id: `job-${offset}` } as unknown as StoredMessage;
  const made = newEntry(0, message, 1);
  made.state = 'in-flight';
  return made;
}

test('a settled record is kept PROGRESS_KEPT_MS_AFTER_SETTLE, an unsettled one until settled', () => {
  const store = new ProgressStore();
  const settled = entry(1);
  const working = entry(2);
  store.record(settled, 1, 0);
  store.record(working, 0.5, 0);
  store.settled(settled, 100);
  assert.equal(store.find({ id: 'job-1' }, 100)?.state, 'settled');
  assert.equal(store.find({ id: 'job-1' }, 100 + PROGRESS_KEPT_MS_AFTER_SETTLE - 1)?.value, 1);
  assert.equal(store.find({ id: 'job-1' }, 100 + PROGRESS_KEPT_MS_AFTER_SETTLE), null);
  assert.equal(
    store.find({ partition: 0, offset: 2 }, 10 * PROGRESS_KEPT_MS_AFTER_SETTLE)?.value,
    0.5,
  );
  assert.equal(store.size, 1);
});

test('past PROGRESS_RECORDS_MAX the oldest settled record goes first, then the oldest', () => {
  const store = new ProgressStore();
  const entries = Array.from({ length: PROGRESS_RECORDS_MAX }, (_, index) => entry(index));
  for (const each of entries) store.record(each, each.offset, 0);
  store.settled(entries[500]!, 1);
  store.record(entry(PROGRESS_RECORDS_MAX), 'new', 2);
  assert.equal(store.size, PROGRESS_RECORDS_MAX);
  assert.equal(store.find({ id: 'job-500' }, 2), null, 'the settled one went');
  assert.equal(store.find({ id: 'job-0' }, 2)?.value, 0, 'the oldest unsettled stayed');
  store.record(entry(PROGRESS_RECORDS_MAX + 1), 'newer', 3);
  assert.equal(store.size, PROGRESS_RECORDS_MAX);
  assert.equal(store.find({ id: 'job-0' }, 3), null, 'then the oldest of all');
});

test('selectors are checked, naming the field', () => {
  assert.throws(() => checkProgressSelector(null), /selector must be/);
  assert.throws(() => checkProgressSelector({ id: '' }), /selector\.id/);
  assert.throws(() => checkProgressSelector({ partition: -1, offset: 0 }), /selector\.partition/);
  assert.throws(() => checkProgressSelector({ partition: 0 }), /selector must be/);
  assert.deepEqual(checkProgressSelector({ partition: 1, offset: 2 }), { partition: 1, offset: 2 });
});
