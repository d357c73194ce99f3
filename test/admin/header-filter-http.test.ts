/* eslint-disable @typescript-eslint/no-unsafe-argument -- the HTTP API's JSON answers are `any` here; assertions check each field. */
/**
 * The HTTP API and header filter policies: POST /api/streams/{stream}/subscriptions creates a
 * durable subscription with one (moving nothing), info shows it, and a bad policy is refused
 * with 400 INVALID_ARGUMENT naming the path of the bad part.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { withAdmin } from './admin-fixture.js';

const POLICY = {
  kind: ['created', 'updated'],
  price: [{ numeric: ['>=', 100, '<', 200] }],
  region: 'eu',
};

test('POST /api/streams/{stream}/subscriptions creates a subscription with a header filter policy', () =>
  withAdmin({}, async ({ request, client }) => {
    await client.streams.create('orders', { subjects: ['orders'] });
    await client.publish('orders', 'cheap', {
      headers: { kind: 'created', price: '5', region: 'eu' },
    });
    await client.publish('orders', 'big', {
      headers: { kind: 'created', price: '150', region: 'eu' },
    });

    const created = await request('POST', '/api/streams/orders/subscriptions', {
      name: 'big-eu',
      headerFilter: { region: 'eu', price: POLICY.price, kind: POLICY.kind },
    });
    assert.equal(created.status, 201, created.text);
    assert.equal(created.json.name, 'big-eu');
    assert.equal(created.json.durable, true);
    assert.deepEqual(created.json.config.headerFilter, POLICY);
    assert.equal(created.json.consumers, 0);
    assert.equal(created.json.delivered, 0, 'creating delivered nothing');

    const info = await request('GET', '/api/streams/orders/subscriptions/big-eu');
    assert.equal(info.status, 200);
    assert.deepEqual(info.json.config.headerFilter, POLICY);

    const again = await request('POST', '/api/streams/orders/subscriptions', {
      name: 'big-eu',
      headerFilter: POLICY,
    });
    assert.equal(again.status, 201, 'the same configuration again is not an error');
    const other = await request('POST', '/api/streams/orders/subscriptions', {
      name: 'big-eu',
      headerFilter: { region: 'us' },
    });
    assert.equal(other.status, 409);
    assert.equal(other.json.error.code, 'SUBSCRIPTION_EXISTS');

    // The subscription starts at the earliest message and delivers only what matches.
    const consumer = await client.subscribe('orders', { subscription: 'big-eu' });
    const message = await consumer.receive({ timeoutMs: 5000 });
    assert.equal(message?.text(), 'big');
    assert.equal(message.deliveryCount, 1, 'the creating consumer did not count a delivery');
    await message.ack();
    assert.equal(await consumer.receive({ timeoutMs: 150 }), null);
    await consumer.close();
  }));

test('a bad policy or option is refused with 400 INVALID_ARGUMENT naming it; nothing is created', () =>
  withAdmin({}, async ({ request, client }) => {
    await client.streams.create('orders', { subjects: ['orders'] });
    const refused: [unknown, RegExp][] = [
      [
        { name: 'a', headerFilter: { price: [{ numeric: ['>', 5, '<', 1] }] } },
        /^headerFilter\.price\[0\]\.numeric is an empty range/,
      ],
      [{ name: 'a', headerFilter: { sku: [{ prefix: '' }] } }, /^headerFilter\.sku\[0\]\.prefix/],
      [{ name: 'a', headerFilter: 'kind=a' }, /^headerFilter must be an object/],
      [{ name: 'a', maxInFlight: 5 }, /^maxInFlight is not a known field/],
      [{ headerFilter: {} }, /^name must be a string/],
    ];
    for (const [body, message] of refused) {
      const answer = await request('POST', '/api/streams/orders/subscriptions', body);
      assert.equal(answer.status, 400, JSON.stringify(body));
      assert.equal(answer.json.error.code, 'INVALID_ARGUMENT');
      assert.match(answer.json.error.message, message);
    }
    assert.deepEqual(await client.subscriptions.list('orders'), []);
    const missing = await request('POST', '/api/streams/nope/subscriptions', { name: 'a' });
    assert.equal(missing.status, 404);
  }));
