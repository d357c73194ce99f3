/** Request-reply over a per-client inbox with correlation ids; TIMEOUT without a reply. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { REQUEST_HEADERS } from '../../../src/protocol/index.js';
import {
  eventually,
  expectNothing,
  rejectsWith,
  sleep,
  WAIT_MS,
  withBroker,
  type HarnessFactory,
} from './harness.js';

export function requestReplySuite(factory: HarnessFactory): void {
  describe('request-reply', () => {
    test('a request gets the reply its responder sends, matched by correlation id', () =>
      withBroker(factory, async ({ client, connect }) => {
        await client.streams.create('rpc', { subjects: ['rpc.>'], fsync: 'never' });
        const server = await connect();
        const requests = await server.subscribe('rpc', { subscription: 'pricing' });
        const serving = (async () => {
          for (let handled = 0; handled < 3; handled++) {
            const message = await requests.receive({ timeoutMs: 5000 });
            assert.ok(message);
            assert.ok(message.replyTo);
            assert.ok(message.correlationId);
            const { sku } = message.json<{ sku: string }>();
            await message.respond(
              { sku, price: sku.length * 10 },
              { headers: { currency: 'EUR' } },
            );
            await message.ack();
          }
        })();
        const replies = await Promise.all(
          ['a', 'bb', 'ccc'].map((sku) =>
            client.request('rpc.price', { sku }, { timeoutMs: 5000 }),
          ),
        );
        await serving;
        assert.deepEqual(
          replies.map((reply) => reply.json()),
          [
            { sku: 'a', price: 10 },
            { sku: 'bb', price: 20 },
            { sku: 'ccc', price: 30 },
          ],
        );
        assert.equal(replies[0]!.headers.currency, 'EUR');
      }));

    test('a request nobody answers fails with TIMEOUT', () =>
      withBroker(factory, async ({ client, clock }) => {
        await client.streams.create('rpc', { subjects: ['rpc.>'] });
        let settled = false;
        // Over a network the SDK sends what is left of the timeout (less the real time it took
        // to send it), so the test checks a margin, not the exact millisecond.
        const request = client.request('rpc.nobody', 'hello?', { timeoutMs: 10_000 });
        const failed = rejectsWith(request, 'TIMEOUT').finally(() => {
          settled = true;
        });
        // The request is stored (it shows in the stream) and waits: nothing has timed out yet.
        await eventually(async () => (await client.streams.info('rpc')).messages === 1);
        clock.advance(9_000);
        await sleep(50);
        assert.equal(settled, false, 'the request timed out before its time');
        clock.advance(1_000);
        await failed;
      }));

    test('a request whose requester timed out is never delivered to a later responder', () =>
      withBroker(factory, async ({ client, connect, clock }) => {
        await client.streams.create('rpc', { subjects: ['rpc.>'] });
        const request = client.request('rpc.late', 'hello?', { timeoutMs: 100 });
        const failed = rejectsWith(request, 'TIMEOUT');
        await eventually(async () => (await client.streams.info('rpc')).messages === 1);
        clock.advance(200);
        await failed;
        const server = await connect();
        const requests = await server.subscribe('rpc', { subscription: 'late-responder' });
        await expectNothing(requests);
        await requests.close();
      }));

    test('a request carries its deadline in the weir-deadline header', () =>
      withBroker(factory, async ({ client, connect, clock }) => {
        await client.streams.create('rpc', { subjects: ['rpc.>'] });
        const server = await connect();
        const requests = await server.subscribe('rpc', { subscription: 'deadline' });
        const before = clock.now();
        const reply = client.request('rpc.deadline', 'x', { timeoutMs: 5000 });
        const message = await requests.receive({ timeoutMs: WAIT_MS });
        assert.ok(message);
        const deadline = Number(message.headers[REQUEST_HEADERS.deadline]);
        // Over TCP the server gets what is left of the timeout, a little less.
        assert.ok(deadline > before + 4000 && deadline <= before + 5000, String(deadline));
        await message.respond('ok');
        await message.ack();
        assert.equal((await reply).text(), 'ok');
      }));

    test('respond() to a requester that closed resolves: the reply is dropped', () =>
      withBroker(factory, async ({ client, connect }) => {
        await client.streams.create('rpc', { subjects: ['rpc.>'] });
        const requester = await connect();
        const requests = await client.subscribe('rpc', { subscription: 'gone' });
        const waiting = rejectsWith(
          requester.request('rpc.gone', 'x', { timeoutMs: 5000 }),
          'CLOSED',
        );
        const message = await requests.receive({ timeoutMs: WAIT_MS });
        assert.ok(message);
        await requester.close();
        await waiting;
        await message.respond('too late');
        await message.ack();
        // The responder carries on: the next request is answered.
        const again = client.request('rpc.next', 'y', { timeoutMs: 5000 });
        const next = await requests.receive({ timeoutMs: WAIT_MS });
        assert.ok(next);
        await next.respond('answered');
        await next.ack();
        assert.equal((await again).text(), 'answered');
      }));

    test('a request to a subject no stream captures fails with NO_ROUTE', () =>
      withBroker(factory, async ({ client }) => {
        await rejectsWith(client.request('nowhere', 'x', { timeoutMs: 1000 }), 'NO_ROUTE');
      }));

    test('a closed client fails its waiting requests with CLOSED', () =>
      withBroker(factory, async ({ client, connect }) => {
        await client.streams.create('rpc', { subjects: ['rpc.>'] });
        const other = await connect();
        const waiting = other.request('rpc.slow', 'x', { timeoutMs: 5000 });
        // Handle the rejection before closing: close() rejects it while it is being awaited.
        const failed = rejectsWith(waiting, 'CLOSED');
        await new Promise((resolve) => setTimeout(resolve, 20));
        await other.close();
        await failed;
        await rejectsWith(other.publish('rpc.x', 'y'), 'CLOSED');
      }));
  });
}
