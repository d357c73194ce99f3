/**
 * /metrics shows, per subscription, how many consumers have an open circuit breaker
 * (weir_subscription_consumers_breaker_open), and the HTTP subscription view shows each
 * consumer's breaker and the progress reported for its messages.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { eventually, withAdmin, type AdminHarness } from './admin-fixture.js';
import { parsePrometheusText, valueOf } from './prometheus-text.js';

async function gauge(harness: AdminHarness): Promise<number | undefined> {
  const answer = await harness.request('GET', '/metrics');
  assert.equal(answer.status, 200);
  return valueOf(parsePrometheusText(answer.text), 'weir_subscription_consumers_breaker_open', {
    stream: 'jobs',
    subscription: 'workers',
  });
}

describe('circuit breaker in /metrics and the HTTP API', () => {
  test('the gauge counts consumers with an open breaker', () =>
    withAdmin({}, async (harness) => {
      const { client, request } = harness;
      await client.streams.create('jobs', { subjects: ['jobs.>'] });
      for (let index = 0; index < 3; index++) await client.publish('jobs.run', { index });
      const worker = await client.subscribe('jobs', {
        subscription: 'workers',
        circuitBreaker: { failureRate: 1, windowMs: 60_000, cooldownMs: 3_600_000, minCalls: 1 },
      });
      await eventually(async () => (await gauge(harness)) === 0);
      const message = await worker.receive({ timeoutMs: 5000 });
      assert.ok(message);
      await message.nack({ delayMs: 3_600_000 });
      await eventually(async () => (await gauge(harness)) === 1);

      const other = await client.subscribe('jobs', { subscription: 'workers' });
      const job = await other.receive({ timeoutMs: 5000 });
      assert.ok(job);
      assert.equal(job.deliveryCount, 1, 'handed back uncounted');
      await job.progress({ done: 3, of: 4 });
      const view = (await request('GET', '/api/streams/jobs/subscriptions/workers')).json;
      assert.equal(view.consumersPaused, 1);
      const consumerList = view.consumerList as { breaker: string | null }[];
      assert.deepEqual(
        consumerList.map((consumer) => consumer.breaker),
        ['open', null],
      );
      assert.equal(view.progress.length, 1);
      assert.deepEqual(view.progress[0].value, { done: 3, of: 4 });
      assert.equal(view.progress[0].state, 'in-flight');

      await worker.close();
      await eventually(async () => (await gauge(harness)) === 0);
    }));
});
