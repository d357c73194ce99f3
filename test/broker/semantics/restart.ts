/** Restart: streams, messages, positions, acks, delivery counts and pending delays come back. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { expectNothing, receiveN, withBroker, type HarnessFactory } from './harness.js';

export function restartSuite(factory: HarnessFactory): void {
  describe('restart', () => {
    test('acked messages stay acked, unacked ones come back with their delivery counts', (context) =>
      withBroker(factory, async ({ client, restart }) => {
        if (!restart) return context.skip('this broker cannot restart');
        await client.streams.create('orders', { subjects: ['orders.>'], partitions: 2 });
        await client.streams.create('audit', { subjects: ['orders.>', 'audit'], storage: 'file' });
        for (let index = 0; index < 10; index++)
          await client.publish('orders.x', `o${index}`, { key: `k${index}` });
        const subscription = await client.subscribe('orders', {
          subscription: 'billing',
          backoff: [0],
        });
        const first = await receiveN(subscription, 10);
        const acked = new Set<string>();
        for (const message of first) {
          const index = Number(message.text().slice(1));
          if (index % 3 === 0) {
            await message.ack();
            acked.add(message.text());
          } else if (index % 3 === 1) {
            await message.nack(); // delivered once, back at once: delivered a second time below
          }
        }
        const second = await receiveN(subscription, 3);
        for (const message of second) assert.equal(message.deliveryCount, 2);

        const reopened = await restart();
        assert.deepEqual(
          (await reopened.streams.list()).map((info) => [info.name, info.messages]),
          [
            ['orders', 10],
            ['audit', 10],
          ],
        );
        const info = await reopened.subscriptions.info('orders', 'billing');
        assert.equal(info.pending, 6);
        const again = await reopened.subscribe('orders', { subscription: 'billing' });
        const redelivered = await receiveN(again, 6);
        await expectNothing(again);
        for (const message of redelivered) {
          assert.ok(!acked.has(message.text()), `${message.text()} was acked before the restart`);
          const index = Number(message.text().slice(1));
          assert.equal(
            message.deliveryCount,
            index % 3 === 1 ? 3 : 2,
            `deliveryCount of ${message.text()}`,
          );
          await message.ack();
        }
      }));

    test('a pending delay survives a restart', (context) =>
      withBroker(factory, async ({ client, restart, clock }) => {
        if (!restart) return context.skip('this broker cannot restart');
        await client.streams.create('jobs', { subjects: ['jobs'] });
        const subscription = await client.subscribe('jobs', { subscription: 'w' });
        await client.publish('jobs', 'retry later');
        await client.publish('jobs', 'scheduled', { delayMs: 600 });
        const [message] = await receiveN(subscription, 1);
        await message!.nack({ delayMs: 400 });
        const reopened = await restart();
        const again = await reopened.subscribe('jobs', { subscription: 'w' });
        clock.advance(399);
        await expectNothing(again);
        clock.advance(1);
        const [retried] = await receiveN(again, 1);
        assert.equal(retried!.text(), 'retry later');
        assert.equal(retried!.deliveryCount, 2);
        clock.advance(199);
        await expectNothing(again);
        clock.advance(1);
        const [scheduled] = await receiveN(again, 1);
        assert.equal(scheduled!.text(), 'scheduled');
      }));

    test('subscription positions survive repeated restarts', (context) =>
      withBroker(factory, async ({ client, restart }) => {
        if (!restart) return context.skip('this broker cannot restart');
        await client.streams.create('log', { subjects: ['log'], fsync: 'never' });
        let current = client;
        let next = 0;
        for (let round = 0; round < 3; round++) {
          await Promise.all(
            Array.from({ length: 2000 }, (_, index) => current.publish('log', `${round}:${index}`)),
          );
          const subscription = await current.subscribe('log', {
            subscription: 'reader',
            maxInFlight: 500,
          });
          for (let batch = 0; batch < 4; batch++) {
            const messages = await receiveN(subscription, 500, 10_000);
            for (const message of messages) assert.equal(message.offset, next++);
            await Promise.all(messages.map((message) => message.ack()));
          }
          current = await restart();
        }
        const subscription = await current.subscribe('log', { subscription: 'reader' });
        await expectNothing(subscription);
      }));
  });
}
