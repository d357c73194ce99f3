/**
 * What the broker-semantics suite runs against: a factory that gives a connected client on a
 * fresh, empty broker. The same suite runs embedded (test/broker/embedded.*.test.ts) and, with
 * the network issue, over TCP: nothing here may depend on how the client reaches the broker.
 */
import assert from 'node:assert/strict';
import type { Client, Message, Subscription } from '../../../src/protocol/index.js';

export interface Harness {
  readonly client: Client;
  /** Another client of the same broker (another connection, over a network). */
  readonly connect: () => Promise<Client>;
  /** Closes and reopens the broker on the same data; returns a client of the new one. */
  readonly restart?: () => Promise<Client>;
  /** Closes everything and removes the broker's data. */
  readonly close: () => Promise<void>;
}

export type HarnessFactory = () => Promise<Harness>;

/** Runs `body` with a fresh harness and always closes it. */
export async function withBroker(
  factory: HarnessFactory,
  body: (harness: Harness) => Promise<void>,
): Promise<void> {
  const harness = await factory();
  try {
    await body(harness);
  } finally {
    await harness.close();
  }
}

/** Receives exactly `count` messages, failing if they do not come within `timeoutMs`. */
export async function receiveN(
  subscription: Subscription,
  count: number,
  timeoutMs = 5000,
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
  timeoutMs = 5000,
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
