/** The indexed heap against a sorted-array model under random push / pop / remove / update. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { IndexedHeap } from '../../src/broker/indexed-heap.js';

interface Item {
  heapIndex: number;
  key: number;
  id: number;
}

test('push, pop, remove and update keep heap order and positions (model-based)', () => {
  const operation = fc.oneof(
    fc.record({ kind: fc.constant('push' as const), key: fc.integer({ min: 0, max: 50 }) }),
    fc.record({ kind: fc.constant('pop' as const) }),
    fc.record({ kind: fc.constant('remove' as const), pick: fc.nat() }),
    fc.record({
      kind: fc.constant('update' as const),
      pick: fc.nat(),
      key: fc.integer({ min: 0, max: 50 }),
    }),
  );
  fc.assert(
    fc.property(fc.array(operation, { maxLength: 200 }), (operations) => {
      const heap = new IndexedHeap<Item>(
        (a, b) => a.key < b.key || (a.key === b.key && a.id < b.id),
      );
      let model: Item[] = [];
      let nextId = 0;
      for (const step of operations) {
        if (step.kind === 'push') {
          const item = { heapIndex: -1, key: step.key, id: nextId++ };
          heap.push(item);
          model.push(item);
        } else if (step.kind === 'pop') {
          const expected = [...model].sort((a, b) => a.key - b.key || a.id - b.id)[0];
          assert.equal(heap.pop(), expected);
          model = model.filter((item) => item !== expected);
          if (expected) assert.equal(expected.heapIndex, -1);
        } else if (model.length > 0) {
          const item = model[step.pick % model.length]!;
          if (step.kind === 'remove') {
            heap.remove(item);
            model = model.filter((other) => other !== item);
            assert.equal(heap.has(item), false);
          } else {
            item.key = step.key;
            heap.update(item);
          }
        }
        assert.equal(heap.size, model.length);
        for (const item of model) assert.ok(heap.has(item));
      }
      const drained: Item[] = [];
      for (let item = heap.pop(); item; item = heap.pop()) drained.push(item);
      assert.deepEqual(
        drained,
        [...model].sort((a, b) => a.key - b.key || a.id - b.id),
      );
    }),
    { numRuns: 300 },
  );
});
