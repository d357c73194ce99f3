/**
 * Transport parity: what differed between the embedded client and the network SDK, each case
 * checked on both (test/broker/embedded.parity.test.ts, test/server/tcp.parity.test.ts).
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { isWeirError, type PublishOptions } from '../../../src/protocol/index.js';
import { rejectsWith, WAIT_MS, withBroker, type HarnessFactory } from './harness.js';

export function paritySuite(factory: HarnessFactory): void {
  describe('transport parity', () => {
    test("nack, term and extend of an ack: 'none' delivery are MESSAGE_SETTLED; ack is a no-op", () =>
      withBroker(factory, async ({ client }) => {
        await client.streams.create('metrics', { subjects: ['metrics'], fsync: 'never' });
        const subscription = await client.subscribe('metrics', {
          subscription: 'm',
          ack: 'none',
        });
        await client.publish('metrics', 'v');
        const message = await subscription.receive({ timeoutMs: WAIT_MS });
        assert.ok(message);
        await rejectsWith(message.nack(), 'MESSAGE_SETTLED');
        await rejectsWith(message.term('no'), 'MESSAGE_SETTLED');
        await rejectsWith(message.extend(1000), 'MESSAGE_SETTLED');
        await message.ack();
        await subscription.close();
      }));

    test('timeoutMs is not a publish option: INVALID_ARGUMENT, nothing stored', () =>
      withBroker(factory, async ({ client }) => {
        await client.streams.create('events', { subjects: ['events.>'], fsync: 'never' });
        const options = { timeoutMs: 1000 } as unknown as PublishOptions;
        await rejectsWith(client.publish('events.a', 'x', options), 'INVALID_ARGUMENT');
        assert.equal((await client.streams.info('events')).messages, 0);
      }));

    test('publishBatch resolves with each entry’s receipt or error, in order', () =>
      withBroker(factory, async ({ client }) => {
        await client.streams.create('events', { subjects: ['events.>'], fsync: 'never' });
        const outcomes = await client.publishBatch([
          { subject: 'events.a', body: 'one' },
          { subject: 'nowhere', body: 'lost' },
          { subject: 'events.b', body: 'two', options: { key: 'k' } },
          { subject: 'events.c', body: 'three', options: { confirm: false } },
        ]);
        assert.equal(outcomes.length, 4);
        const [first, refused, second, unconfirmed] = outcomes;
        assert.ok(first && !isWeirError(first));
        assert.equal(first.stream, 'events');
        assert.ok(isWeirError(refused));
        assert.equal(refused.code, 'NO_ROUTE');
        assert.ok(second && !isWeirError(second));
        assert.equal(second.stream, 'events');
        assert.ok(second.offset > first.offset || second.partition !== first.partition);
        assert.ok(unconfirmed && !isWeirError(unconfirmed));
        assert.equal(unconfirmed.stream, '');
        assert.deepEqual(await client.publishBatch([]), []);
      }));
  });
}
