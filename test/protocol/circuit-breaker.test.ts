/**
 * The circuit breaker state machine both transports run (src/protocol/circuit-breaker.ts), on a
 * ManualClock: outcomes older than the window do not count, nothing counts while open, the
 * cool-down half-opens it, and its window stays bounded.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { CIRCUIT_BREAKER_WINDOW_CALLS_MAX } from '../../src/limits.js';
import {
  CircuitBreaker,
  checkCircuitBreaker,
  type CircuitBreakerState,
} from '../../src/protocol/index.js';
import { ManualClock } from '../../src/util/index.js';

function breaker(options: Parameters<typeof checkCircuitBreaker>[0]): {
  breaker: CircuitBreaker;
  clock: ManualClock;
  changes: CircuitBreakerState[];
} {
  const clock = new ManualClock();
  const changes: CircuitBreakerState[] = [];
  const made = new CircuitBreaker(checkCircuitBreaker(options), clock, (state) =>
    changes.push(state),
  );
  return { breaker: made, clock, changes };
}

describe('CircuitBreaker', () => {
  test('failures that left the window no longer count', () => {
    const {
      breaker: b,
      clock,
      changes,
    } = breaker({
      failureRate: 0.6,
      windowMs: 1000,
      cooldownMs: 500,
      minCalls: 3,
    });
    b.record(false);
    b.record(false);
    clock.advance(1000); // both leave the window
    b.record(true);
    b.record(false);
    assert.equal(b.state, 'closed', '1 of 2 in the window, below minCalls');
    b.record(false); // 2 of 3 = 0.67 >= 0.6
    assert.equal(b.state, 'open');
    assert.deepEqual(changes, ['open']);
    assert.equal(b.limit, 0);
  });

  test('outcomes while open are ignored; the cool-down half-opens it, successes close it', () => {
    const {
      breaker: b,
      clock,
      changes,
    } = breaker({
      failureRate: 1,
      windowMs: 1000,
      cooldownMs: 500,
      minCalls: 1,
      halfOpenCalls: 2,
    });
    b.record(false);
    assert.equal(b.state, 'open');
    b.record(true);
    b.record(false);
    clock.advance(499);
    assert.equal(b.state, 'open');
    clock.advance(1);
    assert.equal(b.state, 'half-open');
    assert.equal(b.limit, 2);
    b.record(true);
    assert.equal(b.state, 'half-open', 'one of two trial successes');
    b.record(true);
    assert.equal(b.state, 'closed');
    assert.equal(b.limit, null);
    assert.deepEqual(changes, ['open', 'half-open', 'closed']);
    assert.equal(b.opened, 1);
  });

  test('stop() cancels the cool-down', () => {
    const { breaker: b, clock } = breaker({
      failureRate: 1,
      windowMs: 1000,
      cooldownMs: 500,
      minCalls: 1,
    });
    b.record(false);
    b.stop();
    clock.advance(1000);
    assert.equal(b.state, 'open');
  });

  test('the window keeps at most CIRCUIT_BREAKER_WINDOW_CALLS_MAX outcomes', () => {
    const { breaker: b } = breaker({
      failureRate: 0.5,
      windowMs: 60_000,
      cooldownMs: 500,
      minCalls: CIRCUIT_BREAKER_WINDOW_CALLS_MAX,
    });
    // One failure first, then successes past the cap: the failure is pushed out.
    b.record(false);
    for (let index = 0; index < CIRCUIT_BREAKER_WINDOW_CALLS_MAX + 10; index++) b.record(true);
    // Half the cap in failures would now open it only if the old failure still counted extra.
    for (let index = 0; index < CIRCUIT_BREAKER_WINDOW_CALLS_MAX / 2 - 1; index++) b.record(false);
    assert.equal(b.state, 'closed');
    b.record(false);
    assert.equal(b.state, 'open');
  });

  test('options are checked, naming the field', () => {
    assert.throws(() => checkCircuitBreaker(null), /circuitBreaker must be an object/);
    assert.throws(
      () => checkCircuitBreaker({ failureRate: 0, windowMs: 1, cooldownMs: 1 }),
      /circuitBreaker\.failureRate/,
    );
    assert.throws(
      () => checkCircuitBreaker({ failureRate: 0.5, windowMs: 1.5, cooldownMs: 1 }),
      /circuitBreaker\.windowMs/,
    );
    assert.throws(
      () => checkCircuitBreaker({ failureRate: 0.5, windowMs: 1, cooldownMs: 1, extra: 1 }),
      /circuitBreaker\.extra is not an option/,
    );
    assert.deepEqual(checkCircuitBreaker({ failureRate: 0.5, windowMs: 1, cooldownMs: 2 }), {
      failureRate: 0.5,
      windowMs: 1,
      cooldownMs: 2,
      minCalls: 10,
      halfOpenCalls: 1,
    });
  });
});
