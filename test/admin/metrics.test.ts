/**
 * /metrics: valid Prometheus text whose counters, gauges and histograms move with traffic on
 * a real broker writing to disk with fsync 'always'.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { eventually, withAdmin, type AdminHarness } from './admin-fixture.js';
import { parsePrometheusText, valueOf, type Family } from './prometheus-text.js';

async function scrape(harness: AdminHarness): Promise<Map<string, Family>> {
  const answer = await harness.request('GET', '/metrics');
  assert.equal(answer.status, 200);
  assert.match(answer.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
  return parsePrometheusText(answer.text);
}

/** Waits until the sampler has seen the broker as it is now (two samples later). */
async function settle(harness: AdminHarness): Promise<void> {
  const first = (await harness.request('GET', '/api/stats')).json.timeMs as number;
  await eventually(
    async () => ((await harness.request('GET', '/api/stats')).json.timeMs as number) > first + 150,
  );
}

describe('/metrics', () => {
  test('the test parser rejects what Prometheus would reject', () => {
    assert.throws(() => parsePrometheusText('weir_x 1\n'), /without a TYPE/);
    assert.throws(() => parsePrometheusText('# TYPE weir_x gauge\nweir_x{a=b} 1\n'), /unquoted/);
    assert.throws(() => parsePrometheusText('# TYPE weir_x gauge\nweir_x one\n'), /bad value/);
    assert.throws(
      () =>
        parsePrometheusText(
          '# TYPE h histogram\nh_bucket{le="1"} 2\nh_bucket{le="+Inf"} 1\nh_count 1\n',
        ),
      /cumulative/,
    );
    const families = parsePrometheusText(
      '# HELP weir_x X.\n# TYPE weir_x counter\nweir_x{s="a"} 3\n',
    );
    assert.equal(valueOf(families, 'weir_x', { s: 'a' }), 3);
  });

  test('parses as Prometheus text and its counters move with traffic', () =>
    withAdmin({ storage: 'file' }, async (harness) => {
      const { client, request } = harness;
      await client.streams.create('orders', { subjects: ['orders.>'], fsync: 'always' });
      await client.streams.create('dead', { subjects: ['dead.>'] });
      const consumer = await client.subscribe('orders', {
        subscription: 'billing',
        maxDeliveries: 2,
        deadLetter: 'dead.orders',
        backoff: [0],
      });
      await settle(harness);
      const before = await scrape(harness);
      const stream = { stream: 'orders' };
      const billing = { stream: 'orders', subscription: 'billing' };
      assert.equal(valueOf(before, 'weir_stream_messages_in_total', stream), 0);
      assert.equal(valueOf(before, 'weir_subscription_acked_total', billing), 0);
      const fsyncsBefore =
        valueOf(before, 'weir_storage_fsync_seconds_count', { log: 'stream' }) ?? 0;

      for (let index = 0; index < 20; index++) {
        await client.publish('orders.eu.created', { index, poison: index === 0 });
      }
      await request('POST', '/api/publish', { subject: 'orders.eu.created', body: { index: 20 } });
      // Ack 10, send the poison one to the dead letters (two nacks), leave the rest waiting.
      let acked = 0;
      let nacked = 0;
      for (let round = 0; round < 40 && (acked < 10 || nacked < 2); round++) {
        const message = await consumer.receive({ timeoutMs: 2000 });
        assert.ok(message, 'a delivery');
        if (message.json<{ poison: boolean }>().poison) {
          await message.nack();
          nacked++;
        } else if (acked < 10) {
          await message.ack();
          acked++;
        }
      }
      await eventually(
        async () => (await client.subscriptions.info('orders', 'billing')).deadLettered === 1,
        5000,
        'the poison message is dead-lettered',
      );
      await consumer.close();
      await settle(harness);

      const after = await scrape(harness);
      assert.equal(valueOf(after, 'weir_stream_messages_in_total', stream), 21);
      assert.equal(valueOf(after, 'weir_stream_messages', stream), 21);
      assert.ok(valueOf(after, 'weir_stream_bytes', stream)! > 0);
      assert.equal(valueOf(after, 'weir_subscription_acked_total', billing), 10);
      assert.equal(valueOf(after, 'weir_subscription_redelivered_total', billing), 1);
      assert.equal(valueOf(after, 'weir_subscription_dead_lettered_total', billing), 1);
      assert.ok(valueOf(after, 'weir_subscription_delivered_total', billing)! >= 12);
      assert.equal(valueOf(after, 'weir_subscription_lag_messages', billing), 10);
      assert.ok(valueOf(after, 'weir_subscription_lag_seconds', billing)! > 0);
      assert.equal(valueOf(after, 'weir_subscription_consumers', billing), 0);
      assert.equal(valueOf(after, 'weir_stream_messages_in_total', { stream: 'dead' }), 1);
      assert.equal(valueOf(after, 'weir_streams'), 2);
      const fsyncsAfter = valueOf(after, 'weir_storage_fsync_seconds_count', { log: 'stream' })!;
      assert.ok(fsyncsAfter > fsyncsBefore, `fsyncs observed: ${fsyncsBefore} -> ${fsyncsAfter}`);
      assert.ok(valueOf(after, 'weir_publish_confirm_seconds_count', { source: 'http' })! >= 1);
      // 22 stream appends (21 publishes and a dead letter): one in 16 is timed.
      assert.ok(valueOf(after, 'weir_publish_confirm_seconds_count', { source: 'broker' })! >= 1);
      assert.ok(valueOf(after, 'process_resident_memory_bytes')! > 0);
      assert.ok(after.has('nodejs_eventloop_lag_seconds'));
      assert.equal(after.get('weir_subscription_acked_total')!.type, 'counter');
      assert.equal(after.get('weir_storage_fsync_seconds')!.type, 'histogram');
    }));

  test('rates per second rise while traffic flows', () =>
    withAdmin({}, async (harness) => {
      const { client } = harness;
      await client.streams.create('events', { subjects: ['events'] });
      const consumer = await client.subscribe('events', { subscription: 'reader' });
      let flowing = true;
      const producer = (async () => {
        for (let index = 0; flowing && index < 100_000; index++) {
          await client.publish('events', 'tick');
          if (index % 20 === 0) await new Promise((resolve) => setTimeout(resolve, 1));
        }
      })();
      const reader = (async () => {
        while (flowing) {
          const message = await consumer.receive({ timeoutMs: 50 });
          await message?.ack();
        }
      })();
      try {
        const families = await eventually(async () => {
          const scraped = await scrape(harness);
          const inRate = valueOf(scraped, 'weir_stream_messages_in_per_second', {
            stream: 'events',
          });
          const outRate = valueOf(scraped, 'weir_subscription_messages_out_per_second', {
            stream: 'events',
            subscription: 'reader',
          });
          return inRate! > 0 && outRate! > 0 ? scraped : null;
        });
        assert.ok(
          valueOf(families, 'weir_stream_messages_out_per_second', { stream: 'events' })! > 0,
        );
      } finally {
        flowing = false;
        await producer;
        await reader;
        await consumer.close();
      }
    }));
});
