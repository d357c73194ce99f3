/**
 * InProcessClient.publishBatch (what the server does with a PUBLISH frame): outcomes in the
 * order of the entries, each the receipt publish() would give or that entry's error, with the
 * one-stream fast path, the promise path (several streams, duplicates) and fire-and-forget
 * entries mixed in one batch; every stored message is there, once, in order.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Broker } from '../../src/broker/index.js';
import type { InProcessClient } from '../../src/broker/client.js';
import { isWeirError } from '../../src/util/index.js';
import { UNCONFIRMED_RECEIPT, type PublishReceipt } from '../../src/protocol/index.js';

const encoder = new TextEncoder();
const body = (text: string): Uint8Array => encoder.encode(text);

test('a batch publishes in order, one outcome per entry', async () => {
  const broker = await Broker.open({ storage: 'memory' });
  try {
    const client = broker.connect() as InProcessClient;
    await client.streams.create('orders', { subjects: ['orders.>'], dedupWindowMs: 60_000 });
    await client.streams.create('audit', { subjects: ['orders.eu.>'] });
    const outcomes = await client.publishBatch([
      { subject: 'orders.us.created', body: body('a') },
      { subject: 'nowhere', body: body('b') },
      { subject: 'orders.eu.created', body: body('c') }, // two streams: the promise path
      { subject: 'orders.us.created', body: body('d'), options: { id: 'x' } },
      { subject: 'orders.us.created', body: body('e'), options: { id: 'x' } }, // duplicate
      { subject: 'orders.us.created', body: body('f'), options: { confirm: false } },
      { subject: 'orders.us.created', body: body('g'), options: { priority: -1 } }, // invalid
    ]);
    assert.equal(outcomes.length, 7);
    const receipt = (index: number): PublishReceipt => {
      const outcome = outcomes[index]!;
      assert.ok(
        !isWeirError(outcome),
        `entry ${index}: ${isWeirError(outcome) ? outcome.code : ''}`,
      );
      return outcome;
    };
    assert.deepEqual(
      [receipt(0).stream, receipt(0).offset, receipt(0).duplicate],
      ['orders', 0, false],
    );
    assert.ok(isWeirError(outcomes[1], 'NO_ROUTE'));
    assert.deepEqual(
      receipt(2).streams.map((stored) => [stored.stream, stored.offset]),
      [
        ['orders', 1],
        ['audit', 0],
      ],
    );
    assert.equal(receipt(3).offset, 2);
    assert.deepEqual([receipt(4).offset, receipt(4).duplicate], [2, true]);
    assert.equal(receipt(5), UNCONFIRMED_RECEIPT);
    assert.ok(isWeirError(outcomes[6], 'INVALID_ARGUMENT'));

    const info = await client.streams.info('orders');
    assert.equal(info.messages, 4, 'a, c, d and f are stored; the duplicate and the errors not');
    const subscription = await client.subscribe('orders', { start: 'earliest', ack: 'none' });
    const bodies: string[] = [];
    for (let index = 0; index < 4; index++) {
      const message = await subscription.receive({ timeoutMs: 2000 });
      assert.ok(message);
      bodies.push(message.text());
    }
    assert.deepEqual(bodies, ['a', 'c', 'd', 'f']);

    await client.close();
    const closed = await client.publishBatch([{ subject: 'orders.us.created', body: body('h') }]);
    assert.ok(isWeirError(closed[0], 'CLOSED'));
  } finally {
    await broker.close();
  }
});
