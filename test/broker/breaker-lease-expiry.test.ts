/**
 * Embedded, a lease that runs out on a message the application took counts as a failure of
 * its consumer's circuit breaker the moment it expires (over TCP the SDK learns of it only when
 * the late settle is refused, so the semantics suite does not hold both to this).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Broker } from '../../src/broker/index.js';
import { ManualClock } from '../../src/util/index.js';

test('an expired lease on a taken message opens a breaker that counts one failure', async () => {
  const clock = new ManualClock();
  const broker = await Broker.open({ storage: 'memory', clock });
  try {
    const client = broker.connect();
    await client.streams.create('jobs', { subjects: ['jobs.>'] });
    await client.publish('jobs.run', { n: 1 });
    await client.publish('jobs.run', { n: 2 });
    const worker = await client.subscribe('jobs', {
      subscription: 'workers',
      leaseMs: 1000,
      circuitBreaker: { failureRate: 1, windowMs: 60_000, cooldownMs: 60_000, minCalls: 1 },
    });
    const taken = await worker.receive({ timeoutMs: 5000 });
    assert.ok(taken);
    const before = await client.subscriptions.info('jobs', 'workers');
    assert.equal(before.consumerList[0]!.breaker, 'closed');
    clock.advance(999);
    assert.equal((await client.subscriptions.info('jobs', 'workers')).consumersPaused, 0);
    clock.advance(1);
    const after = await client.subscriptions.info('jobs', 'workers');
    assert.equal(after.consumerList[0]!.breaker, 'open');
    assert.equal(after.consumersPaused, 1);
    // The untaken second message went back: the worker holds nothing it did not take.
    assert.equal(after.consumerList[0]!.inFlight, 0);
    assert.equal(await worker.receive({ timeoutMs: 0 }), null);
  } finally {
    await broker.close();
  }
});
