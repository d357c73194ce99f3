import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ManualClock, systemClock, toClock } from '../../src/util/index.js';

test('a manual clock runs due timers in due order, with now() at each due time', () => {
  const clock = new ManualClock(1_000);
  const seen: [string, number][] = [];
  clock.setTimer(30, () => seen.push(['c', clock.now()]));
  clock.setTimer(10, () => seen.push(['a', clock.now()]));
  clock.setTimer(10, () => seen.push(['b', clock.now()])); // same time: creation order
  clock.advance(9);
  assert.deepEqual(seen, []);
  clock.advance(1);
  assert.deepEqual(seen, [
    ['a', 1_010],
    ['b', 1_010],
  ]);
  clock.advance(100);
  assert.deepEqual(seen.at(-1), ['c', 1_030]);
  assert.equal(clock.now(), 1_110);
  assert.equal(clock.pendingTimers, 0);
});

test('a timer set by a running timer fires in the same advance when it falls due', () => {
  const clock = new ManualClock(0);
  const seen: number[] = [];
  clock.setTimer(5, () => {
    seen.push(clock.now());
    clock.setTimer(5, () => seen.push(clock.now()));
  });
  clock.advance(20);
  assert.deepEqual(seen, [5, 10]);
});

test('cancelled timers never run; repeating timers run once per period passed', () => {
  const clock = new ManualClock(0);
  let once = 0;
  let every = 0;
  clock.setTimer(10, () => once++).cancel();
  const repeating = clock.setRepeating(10, () => every++);
  clock.advance(35);
  assert.equal(once, 0);
  assert.equal(every, 3);
  repeating.cancel();
  clock.advance(100);
  assert.equal(every, 3);
  assert.equal(clock.pendingTimers, 0);
});

test('advance refuses negative or non-finite steps, and advanceTo never goes back', () => {
  const clock = new ManualClock(100);
  assert.throws(() => clock.advance(-1));
  assert.throws(() => clock.advance(Number.NaN));
  clock.advanceTo(50);
  assert.equal(clock.now(), 100);
  clock.advanceTo(150);
  assert.equal(clock.now(), 150);
});

test('toClock keeps a bare now() function working, with real timers', async () => {
  const clock = toClock(() => 42);
  assert.equal(clock.now(), 42);
  assert.equal(toClock(undefined), systemClock);
  await new Promise<void>((resolve) => clock.setTimer(1, resolve));
});
