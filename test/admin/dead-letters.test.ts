/* eslint-disable @typescript-eslint/no-unsafe-call, @typescript-eslint/no-unsafe-return, @typescript-eslint/no-unsafe-argument -- the HTTP API's JSON answers are `any` here; assertions check each field. */
/** Dead letters over HTTP: targets, browsing with the weir-dead-* headers, re-drive with progress. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { Client } from '../../src/protocol/index.js';
import { eventually, withAdmin, type AdminHarness } from './admin-fixture.js';

/** Two streams and a subscription whose failures go to dead.orders. */
async function deadLetterSetup(client: Client, count: number): Promise<void> {
  await client.streams.create('orders', { subjects: ['orders.>'] });
  await client.streams.create('refunds', { subjects: ['refunds.>'] });
  await client.streams.create('dead', { subjects: ['dead.>'] });
  const orders = await client.subscribe('orders', {
    subscription: 'billing',
    maxDeliveries: 1,
    deadLetter: 'dead.orders',
  });
  const refunds = await client.subscribe('refunds', {
    subscription: 'refunder',
    deadLetter: 'dead.orders',
  });
  for (let index = 0; index < count; index++) {
    await client.publish(
      'orders.eu.created',
      { index },
      { key: `k${index}`, headers: { trace: `t${index}` } },
    );
  }
  await client.publish('refunds.eu', { refund: 1 });
  for (let index = 0; index < count; index++) {
    const message = await orders.receive({ timeoutMs: 2000 });
    await message!.nack(); // one delivery allowed: straight to the dead letters
  }
  const refund = await refunds.receive({ timeoutMs: 2000 });
  await refund!.term('card declined');
  await orders.close();
  await refunds.close();
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- JSON answers are checked field by field
type Json = any;

async function list(harness: AdminHarness, query = ''): Promise<Json[]> {
  const answer = await harness.request('GET', `/api/dead-letters/dead.orders${query}`);
  assert.equal(answer.status, 200, answer.text);
  return answer.json.deadLetters as Json[];
}

describe('dead letters over HTTP', () => {
  test('targets and browsing show reason, error, attempts, origin and the weir-dead-* headers', () =>
    withAdmin({}, async (harness) => {
      await deadLetterSetup(harness.client, 3);
      const targets = await eventually(async () => {
        const answer = await harness.request('GET', '/api/dead-letters');
        return answer.json.length === 1 && answer.json[0].deadLettered === 4 ? answer.json : null;
      });
      assert.equal(targets[0].subject, 'dead.orders');
      assert.deepEqual(
        targets[0].subscriptions.map(
          (entry: { stream: string; name: string }) => `${entry.stream}/${entry.name}`,
        ),
        ['orders/billing', 'refunds/refunder'],
      );

      const letters = await list(harness);
      assert.equal(letters.length, 4);
      const first = letters[0];
      assert.equal(first.reason, 'max-deliveries');
      assert.equal(first.deliveries, 1);
      assert.deepEqual(first.origin, {
        stream: 'orders',
        subject: 'orders.eu.created',
        partition: 0,
        offset: 0,
        subscription: 'billing',
      });
      assert.equal(first.deadHeaders['weir-origin-subscription'], 'billing');
      assert.equal(first.key, 'k0');
      assert.deepEqual(first.headers, { trace: 't0' });
      assert.equal(first.deadHeaders['weir-dead-reason'], 'max-deliveries');
      assert.equal(first.deadHeaders['weir-origin-stream'], 'orders');
      assert.deepEqual(JSON.parse(first.text), { index: 0 });
      const refund = letters.find((letter) => letter.origin.stream === 'refunds');
      assert.equal(refund.reason, 'terminated');
      assert.equal(refund.error, 'card declined');
      assert.equal(refund.deadHeaders['weir-dead-error'], 'card declined');

      assert.equal((await list(harness, '?reason=terminated')).length, 1);
      assert.equal((await list(harness, '?originStream=orders')).length, 3);
      assert.equal((await list(harness, '?limit=2')).length, 2);
      const bad = await harness.request('GET', '/api/dead-letters/dead.orders?reason=bored');
      assert.equal(bad.status, 400);
    }));

  test('re-drive a selection, then all, with progress; they return to their streams', () =>
    withAdmin({}, async (harness) => {
      const { client, request } = harness;
      await deadLetterSetup(client, 5);
      const started = await request('POST', '/api/dead-letters/dead.orders/redrive', {
        originStream: 'orders',
        limit: 2,
        ratePerSecond: 1000,
      });
      assert.equal(started.status, 202);
      assert.equal(started.json.state, 'running');
      const done = await eventually(async () => {
        const job = (await request('GET', `/api/redrives/${started.json.id}`)).json;
        return job.state === 'running' ? null : job;
      });
      assert.equal(done.state, 'done');
      assert.equal(done.total, 2);
      assert.equal(done.redriven, 2);
      assert.equal((await client.streams.info('orders')).messages, 7, 'two came back to orders');
      assert.equal((await list(harness)).length, 4, 'the oldest two are gone from the list');

      const slow = await request('POST', '/api/dead-letters/dead.orders/redrive', {
        ratePerSecond: 10,
      });
      assert.equal(slow.json.state, 'running');
      const progress = await eventually(
        async () => {
          const job = (await request('GET', `/api/redrives/${slow.json.id}`)).json;
          return job.redriven > 0 && job.state === 'running' ? job : null;
        },
        5000,
        'progress while running',
      );
      assert.equal(progress.total, 4);
      const finished = await eventually(
        async () => {
          const job = (await request('GET', `/api/redrives/${slow.json.id}`)).json;
          return job.state === 'running' ? null : job;
        },
        5000,
        'the slow re-drive to finish',
      );
      assert.equal(finished.redriven, 4);
      const tookMs = finished.finishedMs - finished.startedMs;
      assert.ok(tookMs >= 250, `4 at 10 per second took ${tookMs} ms: the rate holds`);
      assert.equal((await list(harness)).length, 0);
      assert.equal((await client.streams.info('orders')).messages, 10);
      assert.equal((await client.streams.info('refunds')).messages, 2);
      const jobs = (await request('GET', '/api/redrives')).json;
      assert.deepEqual(
        jobs.map((job: { id: string }) => job.id),
        [slow.json.id, started.json.id],
        'newest first',
      );
    }));

  test("re-drive goes to the subscription by default, to every subscription with to: 'stream'; a bad to is refused", () =>
    withAdmin({}, async (harness) => {
      const { client, request } = harness;
      await deadLetterSetup(client, 2);
      const audit = await client.subscribe('orders', { subscription: 'audit' });
      const original = await audit.receive({ timeoutMs: 2000 });
      const second = await audit.receive({ timeoutMs: 2000 });
      await original!.ack();
      await second!.ack();
      const bad = await request('POST', '/api/dead-letters/dead.orders/redrive', { to: 'queue' });
      assert.equal(bad.status, 400);
      assert.match(bad.json.error.message, /to/);
      const run = async (body: Record<string, unknown>): Promise<Json> => {
        const started = await request('POST', '/api/dead-letters/dead.orders/redrive', body);
        assert.equal(started.status, 202, started.text);
        return eventually(async () => {
          const job = (await request('GET', `/api/redrives/${started.json.id}`)).json;
          return job.state === 'running' ? null : job;
        });
      };
      const toBilling = await run({ originStream: 'orders', limit: 1 });
      assert.equal(toBilling.state, 'done');
      assert.equal(toBilling.redriven, 1);
      assert.equal(await audit.receive({ timeoutMs: 200 }), null, 'only billing gets it back');
      const toStream = await run({ originStream: 'orders', limit: 1, to: 'stream' });
      assert.equal(toStream.request.to, 'stream');
      assert.equal(toStream.redriven, 1);
      const copy = await audit.receive({ timeoutMs: 2000 });
      assert.equal(JSON.parse(copy!.text()).index, 1, "to: 'stream' reaches audit too");
      await copy!.ack();
      await audit.close();
    }));

  test('a re-drive can be cancelled between chunks', () =>
    withAdmin({}, async (harness) => {
      const { request } = harness;
      await deadLetterSetup(harness.client, 6);
      const started = await request('POST', '/api/dead-letters/dead.orders/redrive', {
        ratePerSecond: 2,
      });
      const cancelled = await request('POST', `/api/redrives/${started.json.id}/cancel`);
      assert.equal(cancelled.status, 200);
      const stopped = await eventually(
        async () => {
          const job = (await request('GET', `/api/redrives/${started.json.id}`)).json;
          return job.state === 'running' ? null : job;
        },
        5000,
        'the job to stop',
      );
      assert.equal(stopped.state, 'cancelled');
      assert.ok(stopped.redriven < 7, `stopped after ${stopped.redriven}`);
      assert.equal((await list(harness)).length, 7 - stopped.redriven);
    }));

  test('delete removes the selected dead letters without re-driving them', () =>
    withAdmin({}, async (harness) => {
      await deadLetterSetup(harness.client, 1);
      const overview = await harness.request('GET', '/api/overview');
      assert.equal(overview.json.capabilities.deadLetterDelete, true);
      const answer = await harness.request(
        'DELETE',
        '/api/dead-letters/dead.orders?reason=terminated',
      );
      assert.equal(answer.status, 200);
      assert.equal(answer.json.deleted, 1);
      assert.equal((await list(harness)).length, 1);
    }));
});
