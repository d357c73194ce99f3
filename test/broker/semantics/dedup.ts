/** De-duplication by producer id within the stream's window, surviving a restart. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { receiveN, withBroker, type HarnessFactory } from './harness.js';

export function dedupSuite(factory: HarnessFactory): void {
  describe('de-duplication', () => {
    test('a publish with an id seen in the window is not stored again; its receipt says duplicate', () =>
      withBroker(factory, async ({ client }) => {
        await client.streams.create('payments', { subjects: ['payments'], partitions: 3 });
        const first = await client.publish('payments', 'pay 10', { id: 'payment-1' });
        const again = await client.publish('payments', 'pay 10', { id: 'payment-1' });
        assert.equal(first.duplicate, false);
        assert.equal(again.duplicate, true);
        assert.equal(again.partition, first.partition);
        assert.equal(again.offset, first.offset);
        await client.publish('payments', 'pay 20', { id: 'payment-2' });
        const info = await client.streams.info('payments');
        assert.equal(info.messages, 2);
        assert.equal(info.duplicates, 1);
        const subscription = await client.subscribe('payments', { subscription: 'w' });
        const messages = await receiveN(subscription, 2);
        assert.deepEqual(messages.map((message) => message.id).sort(), ['payment-1', 'payment-2']);
      }));

    test('concurrent publishes with one id store it once', () =>
      withBroker(factory, async ({ client }) => {
        await client.streams.create('payments', { subjects: ['payments'] });
        const receipts = await Promise.all(
          Array.from({ length: 10 }, () => client.publish('payments', 'x', { id: 'same' })),
        );
        assert.equal(receipts.filter((receipt) => !receipt.duplicate).length, 1);
        assert.equal(new Set(receipts.map((receipt) => receipt.offset)).size, 1);
        assert.equal((await client.streams.info('payments')).messages, 1);
      }));

    test('after the window an id is stored again', () =>
      withBroker(factory, async ({ client, clock }) => {
        await client.streams.create('payments', { subjects: ['payments'], dedupWindowMs: 100 });
        await client.publish('payments', 'x', { id: 'p' });
        clock.advance(50);
        const within = await client.publish('payments', 'x', { id: 'p' });
        assert.equal(within.duplicate, true, 'inside the window the id is a duplicate');
        clock.advance(150);
        const later = await client.publish('payments', 'x', { id: 'p' });
        assert.equal(later.duplicate, false);
        assert.equal((await client.streams.info('payments')).messages, 2);
      }));

    test('the window survives a restart', (context) =>
      withBroker(factory, async ({ client, restart }) => {
        if (!restart) return context.skip('this broker cannot restart');
        await client.streams.create('payments', { subjects: ['payments'] });
        const first = await client.publish('payments', 'x', { id: 'before-restart' });
        const reopened = await restart();
        const again = await reopened.publish('payments', 'x', { id: 'before-restart' });
        assert.equal(again.duplicate, true);
        assert.equal(again.offset, first.offset);
        assert.equal((await reopened.streams.info('payments')).messages, 1);
      }));
  });
}
