/**
 * The log's durable-waiter list stays bounded under steady load: every flush resolves the
 * waiters it made durable while another append is already outstanding, so the list is never
 * empty, and yet its slots stay within a small multiple of what is outstanding.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MemoryFileSystem, openLog } from '../../src/storage/index.js';
import { DURABLE_WAITERS_COMPACT_AT } from '../../src/limits.js';
import { FaultyFileSystem } from '../helpers/faulty-file-system.js';

/** Flushes observed: enough for an uncompacted list to pass its bound several times over. */
const FLUSHES = 4 * DURABLE_WAITERS_COMPACT_AT;
const TIME_LIMIT_MS = 20_000;

test('under steady load (an append always outstanding) the durable-waiter list stays bounded', async () => {
  const fileSystem = new FaultyFileSystem(new MemoryFileSystem());
  const log = await openLog({ directory: '/log', fileSystem, tailCacheBytes: 0 });
  const body = new Uint8Array(16);
  const outstanding: Promise<number>[] = [];
  // Every write lets one more append in (it lands while the flush awaits the write): when the
  // flush resolves its waiters, that one is still outstanding.
  fileSystem.hook = (operation) => {
    if (operation === 'write') outstanding.push(log.append({ body }));
  };
  let maxSlots = 0;
  let maxOutstanding = 0;
  let flushes = 0;
  const deadline = Date.now() + TIME_LIMIT_MS;
  try {
    await log.append({ body });
    while (flushes < FLUSHES && Date.now() < deadline) {
      await log.durable(log.endOffset);
      flushes++;
      const stats = log.stats();
      maxSlots = Math.max(maxSlots, stats.durableWaiterSlots);
      maxOutstanding = Math.max(maxOutstanding, stats.durableWaitersOutstanding);
    }
    assert.equal(flushes, FLUSHES, `only ${flushes} flushes within ${TIME_LIMIT_MS} ms`);
    assert.ok(maxOutstanding >= 1, 'a waiter was outstanding after every flush');
    const bound = DURABLE_WAITERS_COMPACT_AT + 4 * maxOutstanding;
    assert.ok(
      maxSlots <= bound,
      `the list reached ${maxSlots} slots (${maxOutstanding} outstanding at most, bound ${bound})`,
    );
  } finally {
    fileSystem.hook = null;
    await Promise.allSettled(outstanding);
    await log.close();
  }
  const offsets = await Promise.all(outstanding);
  assert.deepEqual(
    offsets,
    offsets.map((_, index) => offsets[0]! + index),
    'every append resolved with its offset, in order',
  );
});

test('durable() waiters inserted out of order still resolve in order of their end after compaction', async () => {
  const log = await openLog({ directory: '/log', fileSystem: new MemoryFileSystem() });
  try {
    const body = new Uint8Array(8);
    // Pass the compaction threshold with waiters that resolve while others are outstanding.
    for (let round = 0; round < 3 * DURABLE_WAITERS_COMPACT_AT; round++) {
      const first = log.append({ body });
      const second = log.append({ body });
      await first;
      await second;
    }
    const resolved: number[] = [];
    const base = log.enqueue([{ body }, { body }, { body }, { body }]);
    const waits = [base + 4, base + 1, base + 3, base + 2].map((end) =>
      log.durable(end).then(() => resolved.push(end)),
    );
    await Promise.all(waits);
    assert.deepEqual(resolved, [base + 1, base + 2, base + 3, base + 4]);
    assert.equal(log.stats().durableWaitersOutstanding, 0);
  } finally {
    await log.close();
  }
});
