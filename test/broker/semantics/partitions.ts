/** Partitions: a key always lands in one partition, no key spreads evenly, order per partition. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { receiveN, withBroker, type HarnessFactory } from './harness.js';

export function partitionsSuite(factory: HarnessFactory): void {
  describe('partitions', () => {
    test('the same key always lands in the same partition', () =>
      withBroker(factory, async ({ client }) => {
        await client.streams.create('orders', { subjects: ['orders'], partitions: 4 });
        const partitionOf = new Map<string, number>();
        for (let round = 0; round < 3; round++) {
          for (let key = 0; key < 20; key++) {
            const receipt = await client.publish('orders', 'x', { key: `customer-${key}` });
            const seen = partitionOf.get(`customer-${key}`);
            if (seen === undefined) partitionOf.set(`customer-${key}`, receipt.partition);
            else assert.equal(receipt.partition, seen);
          }
        }
        assert.ok(new Set(partitionOf.values()).size > 1, 'keys use more than one partition');
      }));

    test('messages without a key spread evenly over the partitions', () =>
      withBroker(factory, async ({ client }) => {
        await client.streams.create('spread', {
          subjects: ['spread'],
          partitions: 3,
          fsync: 'never',
        });
        await Promise.all(
          Array.from({ length: 300 }, (_, index) => client.publish('spread', `m${index}`)),
        );
        const info = await client.streams.info('spread');
        assert.deepEqual(
          info.partitions.map((partition) => partition.messages),
          [100, 100, 100],
        );
      }));

    test('order is kept within a partition, and per key across consumers in order', () =>
      withBroker(factory, async ({ client }) => {
        await client.streams.create('ordered', {
          subjects: ['ordered'],
          partitions: 3,
          fsync: 'never',
        });
        const publishes = [];
        for (let index = 0; index < 90; index++) {
          publishes.push(client.publish('ordered', String(index), { key: `k${index % 7}` }));
        }
        const receipts = await Promise.all(publishes);
        // Confirmed publishes of one producer keep its order: offsets grow per partition.
        const lastOffset = new Map<number, number>();
        for (const receipt of receipts) {
          assert.ok(receipt.offset > (lastOffset.get(receipt.partition) ?? -1));
          lastOffset.set(receipt.partition, receipt.offset);
        }
        const subscription = await client.subscribe('ordered', {
          subscription: 'reader',
          mode: 'exclusive',
        });
        const messages = await receiveN(subscription, 90);
        const lastByKey = new Map<string, number>();
        const lastByPartition = new Map<number, number>();
        for (const message of messages) {
          const value = Number(message.text());
          assert.ok(value > (lastByKey.get(message.key!) ?? -1), `key ${message.key} in order`);
          assert.ok(
            message.offset > (lastByPartition.get(message.partition) ?? -1),
            'partition order',
          );
          lastByKey.set(message.key!, value);
          lastByPartition.set(message.partition, message.offset);
          await message.ack();
        }
      }));
  });
}
