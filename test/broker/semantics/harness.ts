/**
 * What the broker-semantics suite runs against: a factory that gives a connected client on a
 * fresh, empty broker. The same suite runs embedded (test/broker/embedded.*.test.ts) and, with
 * the network issue, over TCP: nothing here may depend on how the client reaches the broker.
 */
import assert from 'node:assert/strict';
import type { Client, Message, Subscription } from '../../../src/protocol/index.js';
import type { ManualClock } from '../../../src/util/index.js';

export interface Harness {
  readonly client: Client;
  /**
   * The broker's clock (the same object across restarts). Leases, delays, TTL, retention
   * ticks, dedup windows, request timeouts and redrive pacing move only when a test calls
   * `clock.advance(ms)`: a test never sleeps to wait for them. Receive timeouts stay real time,
   * as upper bounds that only a failure reaches.
   */
  readonly clock: ManualClock;
  /** Another client of the same broker (another connection, over a network). */
  readonly connect: () => Promise<Client>;
  /** Closes and reopens the broker on the same data; returns a client of the new one. */
  readonly restart?: () => Promise<Client>;
  /** Closes everything and removes the broker's data. */
  readonly close: () => Promise<void>;
}

export type HarnessFactory = () => Promise<Harness>;

/** Runs `body` with a fresh harness and always closes it. */
export async function withBroker<H extends Harness = Harness>(
  factory: () => Promise<H>,
  body: (harness: H) => Promise<void>,
): Promise<void> {
  const harness = await factory();
  try {
    await body(harness);
  } finally {
    await harness.close();
  }
}

/**
 * How long a test waits, in real time, for something that must happen (a delivery, an async
 * write): generous, because only a failure waits that long, and a busy machine is slow.
 */
export const WAIT_MS = 10_000;

/** Receives exactly `count` messages, failing if they do not come within `timeoutMs`. */
export async function receiveN(
  subscription: Subscription,
  count: number,
  timeoutMs = WAIT_MS,
): Promise<Message[]> {
  const messages: Message[] = [];
  const deadline = Date.now() + timeoutMs;
  while (messages.length < count) {
    const left = deadline - Date.now();
    const message = left > 0 ? await subscription.receive({ timeoutMs: left }) : null;
    assert.ok(message, `expected ${count} messages, got ${messages.length} within ${timeoutMs} ms`);
    messages.push(message);
  }
  return messages;
}

/** Asserts that nothing is delivered within `ms`. */
export async function expectNothing(subscription: Subscription, ms = 150): Promise<void> {
  const message = await subscription.receive({ timeoutMs: ms });
  assert.equal(message, null, `expected no message, got ${message?.subject} @${message?.offset}`);
}

/** Asserts that `promise` rejects with a WeirError of `code` (and optionally a message matching). */
export async function rejectsWith(
  promise: Promise<unknown>,
  code: string,
  message?: RegExp,
): Promise<void> {
  await assert.rejects(promise, (error: unknown) => {
    assert.equal(
      (error as { code?: unknown }).code,
      code,
      `expected code ${code}, got ${String(error)}`,
    );
    if (message) assert.match((error as Error).message, message);
    return true;
  });
}

/** Polls `condition` until it holds (at most `timeoutMs`). */
export async function eventually(
  condition: () => Promise<boolean> | boolean,
  timeoutMs = WAIT_MS,
  what = 'condition',
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    assert.ok(Date.now() < deadline, `${what} did not hold within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * Moves the broker's clock by `stepMs` until `condition` holds, letting the event loop run
 * between steps (what falls due may finish asynchronously: a retention pass deletes files, a
 * redrive publishes). Fails after `stepsMax` steps or WAIT_MS of real time.
 */
export async function advanceUntil(
  clock: ManualClock,
  stepMs: number,
  condition: () => Promise<boolean> | boolean,
  what = 'condition',
  stepsMax = 100,
): Promise<void> {
  const deadline = Date.now() + WAIT_MS;
  for (let step = 0; !(await condition()); step++) {
    assert.ok(step < stepsMax, `${what} did not hold after ${stepsMax} steps of ${stepMs} ms`);
    assert.ok(Date.now() < deadline, `${what} did not hold within ${WAIT_MS} ms of real time`);
    clock.advance(stepMs);
    await new Promise((resolve) => setImmediate(resolve));
  }
}

/** Publishes `count` messages with bodies `${prefix}${i}` in order, one after another. */
export async function publishMany(
  client: Client,
  subject: string,
  count: number,
  prefix = 'm',
  options: Parameters<Client['publish']>[2] = {},
): Promise<void> {
  const receipts = [];
  for (let index = 0; index < count; index++)
    receipts.push(client.publish(subject, `${prefix}${index}`, options));
  await Promise.all(receipts);
}
