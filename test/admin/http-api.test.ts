/* eslint-disable @typescript-eslint/no-unsafe-call, @typescript-eslint/no-unsafe-return, @typescript-eslint/no-unsafe-argument -- the HTTP API's JSON answers are `any` here; assertions check each field. */
/**
 * The HTTP API over real HTTP against a real broker: streams, subscriptions, seek, consumers,
 * peek and publish, errors with the registry's codes and statuses, and the guards (cross-origin
 * writes, body size, content type).
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ERROR_CODES } from '../../src/util/index.js';
import type { ConnectionSnapshot } from '../../src/admin/index.js';
import { eventually, withAdmin } from './admin-fixture.js';

describe('HTTP API: streams', () => {
  test('create, list, info, purge and delete a stream', () =>
    withAdmin({}, async ({ request, client }) => {
      const created = await request('POST', '/api/streams', {
        name: 'orders',
        subjects: ['orders.>'],
        partitions: 2,
      });
      assert.equal(created.status, 201);
      assert.equal(created.json.name, 'orders');
      assert.equal(created.json.config.partitions, 2);

      const again = await request('POST', '/api/streams', {
        name: 'orders',
        subjects: ['orders.>'],
        partitions: 2,
      });
      assert.equal(again.status, 201, 'the same configuration again is not an error');

      await client.publish('orders.eu.created', { id: 1 });
      await client.publish('orders.us.created', { id: 2 });
      const list = await request('GET', '/api/streams');
      assert.equal(list.status, 200);
      assert.deepEqual(
        list.json.map((stream: { name: string }) => stream.name),
        ['orders'],
      );
      assert.equal(list.json[0].messages, 2);
      assert.equal(typeof list.json[0].inPerSecond, 'number');

      const info = await request('GET', '/api/streams/orders');
      assert.equal(info.status, 200);
      assert.equal(info.json.messages, 2);
      assert.equal(info.json.partitions.length, 2);
      assert.deepEqual(info.json.subscriptionDetails, []);

      const purged = await request('POST', '/api/streams/orders/purge');
      assert.equal(purged.status, 200);
      assert.equal((await client.streams.info('orders')).messages, 0);

      const deleted = await request('DELETE', '/api/streams/orders');
      assert.equal(deleted.status, 200);
      assert.deepEqual(await client.streams.list(), []);
    }));

  test('PATCH /api/streams/{stream} changes a live stream and answers its new info', () =>
    withAdmin({}, async ({ url, request, client }) => {
      await client.streams.create('orders', { subjects: ['orders.eu'] });
      for (let index = 0; index < 5; index++) await client.publish('orders.eu', `o${index}`);
      const changed = await request('PATCH', '/api/streams/orders', {
        subjects: ['orders.eu', 'orders.us'],
        maxMessages: 2,
        ttlMs: 60_000,
      });
      assert.equal(changed.status, 200);
      assert.deepEqual(changed.json.config.subjects, ['orders.eu', 'orders.us']);
      assert.equal(changed.json.config.maxMessages, 2);
      assert.equal(changed.json.config.ttlMs, 60_000);
      assert.equal(changed.json.messages, 2);
      assert.equal(typeof changed.json.inPerSecond, 'number');
      await client.publish('orders.us', 'routed now');

      const cleared = await request('PATCH', '/api/streams/orders', { maxMessages: null });
      assert.equal(cleared.json.config.maxMessages, null);

      const fixed = await request('PATCH', '/api/streams/orders', { partitions: 3 });
      assert.equal(fixed.status, 400);
      assert.equal(fixed.json.error.code, 'INVALID_ARGUMENT');
      assert.match(fixed.json.error.message, /partitions/);
      const missing = await request('PATCH', '/api/streams/nope', { maxMessages: 1 });
      assert.equal(missing.status, 404);
      assert.equal(missing.json.error.code, 'STREAM_NOT_FOUND');

      const crossOrigin = await fetch(`${url}/api/streams/orders`, {
        method: 'PATCH',
        headers: { 'content-type': 'application/json', origin: 'http://evil.example' },
        body: JSON.stringify({ maxMessages: 1 }),
      });
      assert.equal(crossOrigin.status, 403);
      assert.equal((await client.streams.info('orders')).config.maxMessages, null);

      const openapi = await request('GET', '/api/openapi.json');
      assert.ok(openapi.json.paths['/api/streams/{stream}'].patch, 'the route is documented');
    }));

  test('refusals carry the wire code and the HTTP status of the error registry', () =>
    withAdmin({}, async ({ request }) => {
      const missing = await request('GET', '/api/streams/nope');
      assert.equal(missing.status, ERROR_CODES.STREAM_NOT_FOUND.httpStatus);
      assert.equal(missing.json.error.code, 'STREAM_NOT_FOUND');
      assert.match(missing.json.error.message, /nope/);

      const bad = await request('POST', '/api/streams', { name: 'x', partitions: 0 });
      assert.equal(bad.status, 400);
      assert.equal(bad.json.error.code, 'INVALID_ARGUMENT');
      assert.match(bad.json.error.message, /partitions/, 'the message names the field');

      await request('POST', '/api/streams', { name: 'orders', subjects: ['orders.>'] });
      const conflict = await request('POST', '/api/streams', { name: 'orders', subjects: ['o.>'] });
      assert.equal(conflict.status, ERROR_CODES.STREAM_EXISTS.httpStatus);
      assert.equal(conflict.json.error.code, 'STREAM_EXISTS');

      const noRoute = await request('POST', '/api/publish', { subject: 'nowhere', body: 'x' });
      assert.equal(noRoute.status, ERROR_CODES.NO_ROUTE.httpStatus);
      assert.equal(noRoute.json.error.code, 'NO_ROUTE');

      const noSubscription = await request('GET', '/api/streams/orders/subscriptions/nobody');
      assert.equal(noSubscription.status, 404);
      assert.equal(noSubscription.json.error.code, 'SUBSCRIPTION_NOT_FOUND');

      const unknownEndpoint = await request('GET', '/api/nothing-here');
      assert.equal(unknownEndpoint.json.error.code, 'INVALID_ARGUMENT');
      const wrongMethod = await request('DELETE', '/api/streams');
      assert.equal(wrongMethod.json.error.code, 'INVALID_ARGUMENT');
      assert.match(wrongMethod.json.error.message, /DELETE is not allowed/);
    }));

  test('malformed, oversized, non-JSON and cross-origin requests are refused', () =>
    withAdmin({}, async ({ url, request }) => {
      const notJson = await fetch(`${url}/api/streams`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: '{"name": ',
      });
      assert.equal(notJson.status, 400);
      assert.equal(
        ((await notJson.json()) as { error: { code: string } }).error.code,
        'INVALID_ARGUMENT',
      );

      const plainText = await fetch(`${url}/api/streams`, {
        method: 'POST',
        headers: { 'content-type': 'text/plain' },
        body: '{"name":"sneaky"}',
      });
      assert.equal(plainText.status, 400, 'a form-encoded or text post cannot create streams');

      const crossOrigin = await fetch(`${url}/api/streams`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', origin: 'http://evil.example' },
        body: JSON.stringify({ name: 'sneaky' }),
      });
      assert.equal(crossOrigin.status, 403);
      assert.equal(
        ((await crossOrigin.json()) as { error: { code: string } }).error.code,
        'NOT_AUTHORIZED',
      );
      assert.equal((await request('GET', '/api/streams')).json.length, 0, 'nothing was created');

      const huge = await fetch(`${url}/api/publish`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ subject: 'x', body: 'y'.repeat(40 * 1024 * 1024) }),
      });
      assert.equal(huge.status, 413);
      assert.equal(
        ((await huge.json()) as { error: { code: string } }).error.code,
        'MESSAGE_TOO_LARGE',
      );

      const unknownField = await request('POST', '/api/publish', {
        subject: 'x',
        body: 'y',
        colour: 1,
      });
      assert.equal(unknownField.status, 400);
      assert.match(unknownField.json.error.message, /colour/);
    }));
});

describe('HTTP API: messages', () => {
  test('publish with each body encoding and read the messages back by peeking', () =>
    withAdmin({}, async ({ request }) => {
      await request('POST', '/api/streams', { name: 'orders', subjects: ['orders.>'] });
      const json = await request('POST', '/api/publish', {
        subject: 'orders.eu.created',
        body: { orderId: 42 },
        key: 'customer-7',
        headers: { source: 'test' },
        priority: 3,
      });
      assert.equal(json.status, 200);
      assert.deepEqual(
        { stream: json.json.stream, partition: json.json.partition, offset: json.json.offset },
        { stream: 'orders', partition: 0, offset: 0 },
      );
      await request('POST', '/api/publish', { subject: 'orders.us.created', body: 'plain text' });
      await request('POST', '/api/publish', {
        subject: 'orders.eu.refunded',
        body: Buffer.from([0, 1, 2, 255]).toString('base64'),
        encoding: 'base64',
      });
      const badBase64 = await request('POST', '/api/publish', {
        subject: 'orders.x',
        body: 'not base64!',
        encoding: 'base64',
      });
      assert.equal(badBase64.status, 400);

      const peek = await request('GET', '/api/streams/orders/messages');
      assert.equal(peek.status, 200);
      assert.equal(peek.json.messages.length, 3);
      assert.equal(peek.json.complete, true);
      const [first, second, third] = peek.json.messages;
      assert.equal(first.subject, 'orders.eu.created');
      assert.equal(first.key, 'customer-7');
      assert.deepEqual(first.headers, { source: 'test' });
      assert.equal(first.priority, 3);
      assert.deepEqual(JSON.parse(first.text), { orderId: 42 });
      assert.equal(second.text, 'plain text');
      assert.equal(third.text, null, 'bytes that are not UTF-8 have no text');
      assert.deepEqual([...Buffer.from(third.body, 'base64')], [0, 1, 2, 255]);
      assert.deepEqual(peek.json.nextOffsets, { '0': 3 });
    }));

  test('peek by offset, by time and by subject filter consumes nothing', () =>
    withAdmin({}, async ({ request, client }) => {
      await client.streams.create('orders', { subjects: ['orders.>'], partitions: 2 });
      const subscription = await client.subscribe('orders', { subscription: 'billing' });
      await subscription.close();
      for (let index = 0; index < 10; index++) {
        await client.publish(
          index % 2 === 0 ? 'orders.eu.created' : 'orders.us.created',
          { index },
          {
            key: `k${index}`,
          },
        );
      }
      await new Promise((resolve) => setTimeout(resolve, 5));
      const middle = Date.now();
      await new Promise((resolve) => setTimeout(resolve, 5));
      for (let index = 10; index < 14; index++) {
        await client.publish('orders.eu.created', { index }, { key: `k${index}` });
      }
      const info = await client.streams.info('orders');

      const all = await request('GET', '/api/streams/orders/messages?limit=100');
      assert.equal(all.json.messages.length, 14);
      const partition = info.partitions.find((entry) => entry.messages > 2)!;
      const fromOffset = await request(
        'GET',
        `/api/streams/orders/messages?partition=${partition.partition}&offset=2&limit=100`,
      );
      assert.equal(fromOffset.json.messages.length, partition.messages - 2);
      for (const message of fromOffset.json.messages) {
        assert.equal(message.partition, partition.partition);
        assert.ok(message.offset >= 2);
      }

      const limited = await request('GET', '/api/streams/orders/messages?limit=3');
      assert.equal(limited.json.messages.length, 3);

      const byTime = await request('GET', `/api/streams/orders/messages?time=${middle}&limit=100`);
      assert.deepEqual(
        byTime.json.messages
          .map((message: { text: string }) => JSON.parse(message.text).index)
          .sort((a: number, b: number) => a - b),
        [10, 11, 12, 13],
      );
      const isoTime = await request(
        'GET',
        `/api/streams/orders/messages?time=${new Date(middle).toISOString()}&limit=100`,
      );
      assert.equal(isoTime.json.messages.length, 4);

      const filtered = await request(
        'GET',
        '/api/streams/orders/messages?filter=orders.us.*&limit=100',
      );
      assert.equal(filtered.json.messages.length, 5);
      for (const message of filtered.json.messages)
        assert.equal(message.subject, 'orders.us.created');

      const billing = await client.subscriptions.info('orders', 'billing');
      assert.equal(billing.pending, 14, 'peeking moved no subscription');
      assert.equal(billing.delivered, 0);
      const bad = await request('GET', '/api/streams/orders/messages?partition=9');
      assert.equal(bad.status, 400);
      const badLimit = await request('GET', '/api/streams/orders/messages?limit=0');
      assert.equal(badLimit.json.error.code, 'INVALID_ARGUMENT');
      assert.match(badLimit.json.error.message, /limit/);
      const internal = await request('GET', '/api/streams/orders/subscriptions?internal=true');
      assert.deepEqual(
        internal.json.map((entry: { name: string }) => entry.name),
        ['billing'],
        'the peeks left no subscription behind',
      );
    }));
});

describe('HTTP API: subscriptions and consumers', () => {
  test('subscription info has lag, in-flight and redelivery counts; seek replays', () =>
    withAdmin({}, async ({ request, client }) => {
      await client.streams.create('tasks', { subjects: ['tasks'] });
      const consumer = await client.subscribe('tasks', { subscription: 'workers', backoff: [0] });
      await client.publish('tasks', 'task 0');
      const first = await consumer.receive({ timeoutMs: 2000 });
      await first!.nack();
      const again = await consumer.receive({ timeoutMs: 2000 });
      assert.equal(again!.deliveryCount, 2);
      await again!.ack();
      for (let index = 1; index < 5; index++) await client.publish('tasks', `task ${index}`);
      const held = await consumer.receive({ timeoutMs: 2000 });
      assert.ok(held);

      const answer = await eventually(async () => {
        const one = await request('GET', '/api/streams/tasks/subscriptions/workers');
        return one.json.lagSeconds !== null ? one : null;
      });
      assert.equal(answer.status, 200);
      assert.equal(answer.json.name, 'workers');
      assert.equal(answer.json.redelivered, 1);
      assert.equal(answer.json.acked, 1);
      assert.equal(answer.json.lagMessages, 4);
      assert.ok(answer.json.inFlight >= 1);
      assert.ok(answer.json.lagSeconds >= 0);
      assert.equal(answer.json.consumers, 1);
      assert.equal(answer.json.consumerDetails, null, 'an embedded broker has no connections');

      const all = await request('GET', '/api/subscriptions');
      assert.deepEqual(
        all.json.map((entry: { stream: string; name: string }) => `${entry.stream}/${entry.name}`),
        ['tasks/workers'],
      );
      await held.ack();
      await consumer.close();

      const seek = await request('POST', '/api/streams/tasks/subscriptions/workers/seek', {
        position: 'earliest',
      });
      assert.equal(seek.status, 200);
      const after = await client.subscriptions.info('tasks', 'workers');
      assert.equal(after.pending, 5, 'everything is delivered again');
      const badPosition = await request('POST', '/api/streams/tasks/subscriptions/workers/seek', {
        position: 'sideways',
      });
      assert.equal(badPosition.status, 400);
      const noPosition = await request('POST', '/api/streams/tasks/subscriptions/workers/seek', {});
      assert.match(noPosition.json.error.message, /position/);

      const removed = await request('DELETE', '/api/streams/tasks/subscriptions/workers');
      assert.equal(removed.status, 200);
      assert.deepEqual(await client.subscriptions.list('tasks'), []);
    }));

  test('consumers come from the connections view, with their credit', async () => {
    const connections: ConnectionSnapshot[] = [
      {
        id: 7,
        remote: '10.0.0.5:50211',
        clientName: 'billing-worker',
        connectedAtMs: 1,
        consumerCount: 1,
        consumers: [
          { id: 1, stream: 'orders', subscription: 'billing', credit: 0, unsettled: 1000 },
        ],
      },
    ];
    await withAdmin({ connections: { list: () => connections } }, async ({ request, client }) => {
      await client.streams.create('orders', { subjects: ['orders'] });
      const subscription = await client.subscribe('orders', { subscription: 'billing' });
      await subscription.close();
      const answer = await request('GET', '/api/consumers');
      assert.deepEqual(answer.json.connections, connections);
      const detail = await request('GET', '/api/streams/orders/subscriptions/billing');
      assert.equal(detail.json.consumerDetails.length, 1);
      assert.equal(detail.json.consumerDetails[0].clientName, 'billing-worker');
      assert.equal(detail.json.consumerDetails[0].credit, 0);
      const overview = await request('GET', '/api/overview');
      assert.equal(overview.json.capabilities.connections, true);
      await eventually(
        async () => (await request('GET', '/api/stats')).json.totals.connections === 1,
      );
    });
  });
});

describe('HTTP API: health, docs and the console files', () => {
  test('/healthz answers, /readyz is ready while the broker is open and 503 CLOSED after', () =>
    withAdmin({}, async ({ request, broker }) => {
      const health = await request('GET', '/healthz');
      assert.equal(health.status, 200);
      assert.equal(health.json.status, 'ok');
      const ready = await request('GET', '/readyz');
      assert.equal(ready.status, 200);
      assert.equal(ready.json.status, 'ready');
      await broker.close();
      const notReady = await request('GET', '/readyz');
      assert.equal(notReady.status, 503);
      assert.equal(notReady.json.error.code, 'CLOSED');
      assert.equal((await request('GET', '/healthz')).status, 200, 'still alive');
    }));

  test('/api/openapi.json describes every route', () =>
    withAdmin({}, async ({ request }) => {
      const answer = await request('GET', '/api/openapi.json');
      assert.equal(answer.json.openapi, '3.1.0');
      for (const path of [
        '/api/streams',
        '/api/streams/{stream}/messages',
        '/api/dead-letters/{subject}/redrive',
        '/api/events',
        '/metrics',
        '/readyz',
      ]) {
        assert.ok(answer.json.paths[path], `${path} is documented`);
      }
      const seek =
        answer.json.paths['/api/streams/{stream}/subscriptions/{subscription}/seek'].post;
      assert.deepEqual(
        seek.parameters.map((parameter: { name: string }) => parameter.name),
        ['stream', 'subscription'],
      );
    }));

  test('the console is served with a strict content security policy and no outside assets', () =>
    withAdmin({}, async ({ url }) => {
      const page = await fetch(`${url}/`);
      assert.equal(page.status, 200);
      assert.match(page.headers.get('content-type') ?? '', /text\/html/);
      assert.match(page.headers.get('content-security-policy') ?? '', /script-src 'self'/);
      const html = await page.text();
      assert.match(html, /<script type="module" src="app.js">/);
      assert.doesNotMatch(html, /https?:\/\//, 'no CDN');
      const script = await fetch(`${url}/app.js`);
      assert.match(script.headers.get('content-type') ?? '', /javascript/);
      const etag = script.headers.get('etag')!;
      await script.text();
      const cached = await fetch(`${url}/app.js`, { headers: { 'if-none-match': etag } });
      assert.equal(cached.status, 304);
      const escape = await fetch(`${url}/..%2Fpackage.json`);
      assert.equal(escape.status, 404);
      await escape.text();
    }));
});
