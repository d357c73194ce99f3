/**
 * A consumer's circuit breaker (SubscribeOptions.circuitBreaker): it opens once the failure rate
 * of its outcomes in the window reaches failureRate, hands back the deliveries it holds untaken
 * with their delivery count unchanged (another consumer gets them as first deliveries), shows
 * in SubscriptionInfo, half-opens after the cool-down (on the clock) with halfOpenCalls
 * deliveries, closes on success and opens again on a failure.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { Client, Subscription } from '../../../src/protocol/index.js';
import {
  eventually,
  expectNothing,
  receiveN,
  rejectsWith,
  withBroker,
  type HarnessFactory,
} from './harness.js';

const BREAKER = { failureRate: 0.5, windowMs: 10_000, cooldownMs: 5_000, minCalls: 2 };
/** Nacked messages wait this long: longer than any test moves the clock. */
const NACK_DELAY_MS = 600_000;

async function breakerState(client: Client): Promise<string | null | undefined> {
  const info = await client.subscriptions.info('jobs', 'workers');
  return info.consumerList.find((consumer) => consumer.breaker !== null)?.breaker;
}

/** A stream of `count` jobs and a consumer with a breaker that fails its first two. */
async function openBreaker(client: Client, count: number): Promise<Subscription> {
  await client.streams.create('jobs', { subjects: ['jobs.>'], fsync: 'never' });
  for (let index = 0; index < count; index++) await client.publish('jobs.run', { index });
  const worker = await client.subscribe('jobs', {
    subscription: 'workers',
    maxInFlight: 10,
    circuitBreaker: BREAKER,
  });
  const failing = await receiveN(worker, 2);
  for (const message of failing) await message.nack({ delayMs: NACK_DELAY_MS });
  await eventually(async () => (await breakerState(client)) === 'open', undefined, 'breaker open');
  return worker;
}

export function circuitBreakerSuite(factory: HarnessFactory): void {
  describe('circuit breaker', () => {
    test('opens at the failure rate and hands back what it holds untaken, uncounted', () =>
      withBroker(factory, async ({ client }) => {
        const worker = await openBreaker(client, 10);
        const info = await client.subscriptions.info('jobs', 'workers');
        assert.equal(info.consumersPaused, 1);
        await expectNothing(worker);
        const other = await client.subscribe('jobs', { subscription: 'workers' });
        const handedBack = await receiveN(other, 8);
        assert.deepEqual(
          handedBack.map((message) => message.deliveryCount),
          new Array(8).fill(1),
          'the held-not-taken messages come as first deliveries',
        );
        assert.deepEqual(
          handedBack
            .map((message) => message.json<{ index: number }>().index)
            .sort((a, b) => a - b),
          [2, 3, 4, 5, 6, 7, 8, 9],
        );
        for (const message of handedBack) await message.ack();
        await expectNothing(worker);
        const after = await client.subscriptions.info('jobs', 'workers');
        assert.equal(after.redelivered, 0, 'nothing counted a redelivery');
      }));

    test('stays closed below the failure rate or below minCalls', () =>
      withBroker(factory, async ({ client }) => {
        await client.streams.create('jobs', { subjects: ['jobs.>'], fsync: 'never' });
        for (let index = 0; index < 6; index++) await client.publish('jobs.run', { index });
        const worker = await client.subscribe('jobs', {
          subscription: 'workers',
          circuitBreaker: { failureRate: 0.5, windowMs: 10_000, cooldownMs: 5_000, minCalls: 4 },
        });
        const messages = await receiveN(worker, 6);
        // fail, ok, ok, ok, fail: 2 of 5 < 0.5; the first fail came below minCalls.
        await messages[0]!.nack({ delayMs: NACK_DELAY_MS });
        await messages[1]!.ack();
        await messages[2]!.ack();
        await messages[3]!.ack();
        await messages[4]!.nack({ delayMs: NACK_DELAY_MS });
        assert.equal(await breakerState(client), 'closed');
        // A third failure in six: 3 of 6 reaches 0.5.
        await messages[5]!.term('broken');
        await eventually(async () => (await breakerState(client)) === 'open');
      }));

    test('half-opens after the cool-down with halfOpenCalls deliveries, closes on success', () =>
      withBroker(factory, async ({ client, clock }) => {
        const worker = await openBreaker(client, 2);
        for (let index = 0; index < 3; index++) await client.publish('jobs.run', { late: index });
        await expectNothing(worker);
        clock.advance(BREAKER.cooldownMs - 1);
        assert.equal(await breakerState(client), 'open', 'still cooling down');
        await expectNothing(worker, 50);
        clock.advance(1);
        await eventually(async () => (await breakerState(client)) === 'half-open');
        const [trial] = await receiveN(worker, 1);
        assert.equal(trial!.deliveryCount, 1);
        await expectNothing(worker); // one trial delivery at a time (halfOpenCalls 1)
        await trial!.ack();
        await eventually(async () => (await breakerState(client)) === 'closed');
        const rest = await receiveN(worker, 2);
        assert.deepEqual(
          [trial!, ...rest].map((message) => message.json<{ late: number }>().late).sort(),
          [0, 1, 2],
        );
        assert.equal((await client.subscriptions.info('jobs', 'workers')).consumersPaused, 0);
      }));

    test('a failure in half-open opens it again for another cool-down', () =>
      withBroker(factory, async ({ client, clock }) => {
        const worker = await openBreaker(client, 2);
        await client.publish('jobs.run', { late: 0 });
        await client.publish('jobs.run', { late: 1 });
        clock.advance(BREAKER.cooldownMs);
        await eventually(async () => (await breakerState(client)) === 'half-open');
        const [trial] = await receiveN(worker, 1);
        await trial!.nack({ delayMs: NACK_DELAY_MS });
        await eventually(async () => (await breakerState(client)) === 'open');
        await expectNothing(worker);
        clock.advance(BREAKER.cooldownMs);
        await eventually(async () => (await breakerState(client)) === 'half-open');
        const [second] = await receiveN(worker, 1);
        assert.deepEqual(second!.json(), { late: 1 });
        assert.equal(second!.deliveryCount, 1);
      }));

    test('bad breaker options are INVALID_ARGUMENT naming the field', () =>
      withBroker(factory, async ({ client }) => {
        await client.streams.create('jobs', { subjects: ['jobs.>'] });
        await rejectsWith(
          client.subscribe('jobs', {
            subscription: 'workers',
            circuitBreaker: { failureRate: 2, windowMs: 1000, cooldownMs: 1000 },
          }),
          'INVALID_ARGUMENT',
          /circuitBreaker\.failureRate/,
        );
        await rejectsWith(
          client.subscribe('jobs', {
            subscription: 'workers',
            circuitBreaker: { failureRate: 0.5, windowMs: 1000 } as never,
          }),
          'INVALID_ARGUMENT',
          /circuitBreaker\.cooldownMs/,
        );
        await rejectsWith(
          client.subscribe('jobs', {
            subscription: 'workers',
            circuitBreaker: { failureRate: 0.5, windowMs: 1000, cooldownMs: 1000, minCalls: 0 },
          }),
          'INVALID_ARGUMENT',
          /circuitBreaker\.minCalls/,
        );
        await rejectsWith(
          client.subscribe('jobs', { subscription: 'workers', circuitBreaker: 'on' as never }),
          'INVALID_ARGUMENT',
          /circuitBreaker/,
        );
      }));
  });
}
