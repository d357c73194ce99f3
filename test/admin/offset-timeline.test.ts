/** The offset timeline behind lag in seconds: exact within a sample, bounded when thinned. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { OffsetTimeline } from '../../src/admin/offset-timeline.js';

test('an offset was appended by the first point whose end offset passed it', () => {
  const timeline = new OffsetTimeline(16);
  timeline.record(1000, 5); // offsets 0..4 existed at the first sample
  timeline.record(2000, 5); // no movement: not kept
  timeline.record(3000, 9); // 5..8 appended between 1000 and 3000
  timeline.record(4000, 12);
  assert.equal(timeline.size, 3);
  assert.equal(timeline.appendedAt(0), 1000, 'older than the first point: its time, a lower bound');
  assert.equal(timeline.appendedAt(4), 1000);
  assert.equal(timeline.appendedAt(5), 3000);
  assert.equal(timeline.appendedAt(8), 3000);
  assert.equal(timeline.appendedAt(9), 4000);
  assert.equal(timeline.appendedAt(12), null, 'not appended yet');
});

test('an end offset going back (the stream was recreated) starts over', () => {
  const timeline = new OffsetTimeline(8);
  timeline.record(1000, 50);
  timeline.record(2000, 3);
  assert.equal(timeline.size, 1);
  assert.equal(timeline.appendedAt(0), 2000);
});

test('thinning keeps memory bounded and the estimate a lower bound of the age', () => {
  fc.assert(
    fc.property(
      fc.array(fc.integer({ min: 1, max: 50 }), { minLength: 1, maxLength: 400 }),
      fc.integer({ min: 4, max: 32 }),
      (steps, capacity) => {
        const timeline = new OffsetTimeline(capacity);
        const appendedTimes: number[] = []; // true time each offset appeared (at its sample)
        let end = 0;
        steps.forEach((step, index) => {
          const time = (index + 1) * 1000;
          for (let offset = end; offset < end + step; offset++) appendedTimes[offset] = time;
          end += step;
          timeline.record(time, end);
          assert.ok(timeline.size <= capacity);
        });
        for (let offset = 0; offset < end; offset++) {
          const estimate = timeline.appendedAt(offset);
          assert.ok(estimate !== null);
          // The estimate is never earlier than the truth: the age is never overstated.
          assert.ok(estimate >= appendedTimes[offset]!, `offset ${offset}`);
        }
        assert.equal(timeline.appendedAt(end), null);
      },
    ),
    { numRuns: 200 },
  );
});
