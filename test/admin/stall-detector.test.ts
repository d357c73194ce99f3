/* eslint-disable @typescript-eslint/no-unsafe-call, @typescript-eslint/no-unsafe-return -- the HTTP API's JSON answers are `any` here; assertions check each field. */
/**
 * The stall detector: its rules on their own, then each reason found on a real broker, in the
 * live stats a console reads.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { classifyStall, type StallInput } from '../../src/admin/stall-detector.js';
import { eventually, withAdmin, type AdminHarness } from './admin-fixture.js';

const QUIET: StallInput = {
  consumers: 1,
  pending: 10,
  inFlight: 0,
  delayed: 0,
  maxInFlightTotal: null,
  leaseMs: 30_000,
  redeliveredSince: 0,
  deadLetteredSince: 0,
  creditLeft: null,
};

describe('stall detector rules', () => {
  test('each situation gets its reason', () => {
    const cases: [Partial<StallInput>, string][] = [
      [{ consumers: 0 }, 'no-consumers'],
      [{ redeliveredSince: 3, inFlight: 2 }, 'consumer-erroring'],
      [{ deadLetteredSince: 1 }, 'consumer-erroring'],
      [{ delayed: 10 }, 'messages-delayed'],
      [{ inFlight: 10 }, 'all-leased'],
      [{ inFlight: 4, delayed: 6 }, 'all-leased'],
      [{ inFlight: 5 }, 'credit-exhausted'],
      [{ inFlight: 2, maxInFlightTotal: 2 }, 'credit-exhausted'],
      [{ creditLeft: 0 }, 'credit-exhausted'],
      [{}, 'consumers-idle'],
    ];
    for (const [change, reason] of cases) {
      const found = classifyStall({ ...QUIET, ...change });
      assert.equal(found.reason, reason, JSON.stringify(change));
      assert.ok(found.message.length > 10, 'a sentence for the operator');
    }
  });

  test('no consumers wins over everything else', () => {
    assert.equal(
      classifyStall({ ...QUIET, consumers: 0, redeliveredSince: 5, inFlight: 10 }).reason,
      'no-consumers',
    );
  });
});

async function stallOf(harness: AdminHarness, stream: string, name: string): Promise<string> {
  const found = await eventually(
    async () => {
      const snapshot = (await harness.request('GET', '/api/stats')).json;
      const subscription = snapshot.subscriptions.find(
        (entry: { stream: string; name: string }) => entry.stream === stream && entry.name === name,
      );
      return subscription?.stall ?? null;
    },
    5000,
    `a stall of ${stream}/${name}`,
  );
  return found.reason as string;
}

describe('stall detector on a live broker', () => {
  test('a backlog without consumers, a consumer that nacks, one that holds, delayed messages', () =>
    withAdmin({ stallAfterMs: 300 }, async (harness) => {
      const { client } = harness;
      await client.streams.create('jobs', { subjects: ['jobs.>'] });
      // no-consumers: a durable subscription nobody reads.
      await (await client.subscribe('jobs', { subscription: 'idle', filter: 'jobs.idle' })).close();
      await client.publish('jobs.idle', 'waiting');
      assert.equal(await stallOf(harness, 'jobs', 'idle'), 'no-consumers');

      // consumer-erroring: every delivery is nacked.
      const failing = await client.subscribe('jobs', {
        subscription: 'failing',
        filter: 'jobs.fail',
        backoff: [20],
      });
      await client.publish('jobs.fail', 'boom');
      let nacking = true;
      const nacker = (async () => {
        while (nacking) {
          const message = await failing.receive({ timeoutMs: 50 });
          await message?.nack();
        }
      })();
      try {
        assert.equal(await stallOf(harness, 'jobs', 'failing'), 'consumer-erroring');
      } finally {
        nacking = false;
        await nacker;
        await failing.close();
      }

      // credit-exhausted: the consumer holds all it may (maxInFlight 1) and more are ready.
      const holding = await client.subscribe('jobs', {
        subscription: 'holding',
        filter: 'jobs.hold',
        maxInFlight: 1,
      });
      await client.publish('jobs.hold', 'one');
      await client.publish('jobs.hold', 'two');
      const held = await holding.receive({ timeoutMs: 2000 });
      assert.ok(held);
      assert.equal(await stallOf(harness, 'jobs', 'holding'), 'credit-exhausted');

      // all-leased: the only message is leased and never settled.
      const leasing = await client.subscribe('jobs', {
        subscription: 'leasing',
        filter: 'jobs.lease',
      });
      await client.publish('jobs.lease', 'mine');
      assert.ok(await leasing.receive({ timeoutMs: 2000 }));
      assert.equal(await stallOf(harness, 'jobs', 'leasing'), 'all-leased');

      // messages-delayed: everything waits for a retry backoff. (A publish with a delay waits
      // in the stream's schedule since issue 12: the subscription holds nothing until it is due.)
      const waiting = await client.subscribe('jobs', {
        subscription: 'waiting',
        filter: 'jobs.later',
      });
      await client.publish('jobs.later', 'tomorrow');
      const retried = await waiting.receive({ timeoutMs: 2000 });
      assert.ok(retried);
      await retried.nack({ delayMs: 60_000 });
      assert.equal(await stallOf(harness, 'jobs', 'waiting'), 'messages-delayed');

      const overview = (await harness.request('GET', '/api/stats')).json;
      assert.ok(overview.totals.stalled >= 4);
      const metrics = (await harness.request('GET', '/metrics')).text;
      assert.match(metrics, /weir_subscription_stalled\{stream="jobs",subscription="idle"\} 1/);

      // Progress clears a stall: ack what is held and the subscription drains.
      await held.ack();
      const next = await holding.receive({ timeoutMs: 2000 });
      await next!.ack();
      await eventually(async () => {
        const snapshot = (await harness.request('GET', '/api/stats')).json;
        const holdingStats = snapshot.subscriptions.find(
          (entry: { name: string }) => entry.name === 'holding',
        );
        return holdingStats.stall === null;
      });
      await holding.close();
      await leasing.close();
      await waiting.close();
    }));
});
