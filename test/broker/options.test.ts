/** Configuration: defaults, validation naming the field, equality, backoff and the dedup window. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { backoffDelay } from '../../src/broker/backoff.js';
import { DedupWindow } from '../../src/broker/dedup-window.js';
import { resolveStreamConfig, sameStreamConfig } from '../../src/broker/stream-config.js';
import { conflictingField, resolveSubscribe } from '../../src/broker/subscription-config.js';
import { DEDUP_IDS_MAX } from '../../src/limits.js';

test('a stream configuration gets its defaults, is frozen, and compares subjects as a set', () => {
  const config = resolveStreamConfig('orders', { subjects: ['a.>', 'b'] });
  assert.equal(config.partitions, 1);
  assert.equal(config.storage, 'file');
  assert.equal(config.fsync, 'always');
  assert.equal(config.retention, 'limits');
  assert.equal(config.overflow, 'drop-oldest');
  assert.equal(config.maxMessages, null);
  assert.ok(Object.isFrozen(config) && Object.isFrozen(config.subjects));
  assert.ok(sameStreamConfig(config, resolveStreamConfig('orders', { subjects: ['b', 'a.>'] })));
  assert.ok(
    !sameStreamConfig(
      config,
      resolveStreamConfig('orders', { subjects: ['b', 'a.>'], maxMessages: 5 }),
    ),
  );
  assert.deepEqual(resolveStreamConfig('tasks', undefined).subjects, ['tasks']);
});

test('subscribe options: defaults by durability, and conflicts only on the options given', () => {
  const ephemeral = resolveSubscribe({});
  assert.equal(ephemeral.name, null);
  assert.equal(ephemeral.start, 'latest');
  const durable = resolveSubscribe({ subscription: 'billing', mode: 'failover', maxDeliveries: 3 });
  assert.equal(durable.start, 'earliest');
  assert.equal(durable.maxInFlight, 1000);
  assert.equal(
    conflictingField(durable.config, resolveSubscribe({ subscription: 'billing' })),
    null,
  );
  assert.equal(
    conflictingField(durable.config, resolveSubscribe({ subscription: 'billing', maxInFlight: 5 })),
    null,
  );
  assert.equal(
    conflictingField(durable.config, resolveSubscribe({ subscription: 'billing', mode: 'shared' })),
    'mode',
  );
  assert.throws(() => resolveSubscribe({ backoff: { initialMs: 10, maxMs: 5 } }), /backoff\.maxMs/);
  assert.throws(() => resolveSubscribe({ start: { offset: -1 } }), /start\.offset/);
  assert.throws(() => resolveSubscribe({ filter: 'a.>.b' }), /filter/);
  assert.throws(() => resolveSubscribe({ subscription: 'a b' }), /subscription/);
});

test('backoff: a list repeats its last delay; exponential grows to its maximum within its jitter', () => {
  assert.deepEqual(
    [1, 2, 3, 4].map((attempt) => backoffDelay([10, 20, 30], attempt)),
    [10, 20, 30, 30],
  );
  const exponential = { initialMs: 100, maxMs: 1000, multiplier: 2 };
  assert.deepEqual(
    [1, 2, 3, 4, 5, 30].map((attempt) => backoffDelay(exponential, attempt)),
    [100, 200, 400, 800, 1000, 1000],
  );
  for (let attempt = 1; attempt < 50; attempt++) {
    const delay = backoffDelay({ ...exponential, jitter: 0.5 }, 3);
    assert.ok(delay >= 200 && delay <= 600, `jittered delay ${delay}`);
  }
});

test('the dedup window forgets ids after the window and never holds more than DEDUP_IDS_MAX', () => {
  const window = new DedupWindow(1000);
  window.remember('a', 0, { partition: 0, offset: 0 });
  assert.deepEqual(window.find('a', 999), { partition: 0, offset: 0 });
  assert.equal(window.find('a', 1000), null);
  const full = new DedupWindow(60_000);
  for (let index = 0; index < DEDUP_IDS_MAX + 10; index++)
    full.remember(`id${index}`, 1, { partition: 0, offset: index });
  assert.equal(full.size, DEDUP_IDS_MAX);
  assert.equal(full.evicted, 10);
  assert.equal(full.find('id0', 2), null);
  assert.notEqual(full.find(`id${DEDUP_IDS_MAX + 9}`, 2), null);
});
