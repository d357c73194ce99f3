/**
 * Over TCP a settle names its delivery by token, not only by (partition, offset): after a
 * lease expires and the message is delivered again to the same consumer, the application's
 * late ack / nack / term / extend of the first delivery is refused with MESSAGE_SETTLED, as
 * the embedded broker refuses it, and the new delivery is untouched (a stale term used to
 * dead-letter the message being worked on).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Broker } from '../../src/broker/index.js';
import { connect } from '../../src/client/index.js';
import { silentLogger, WeirServer } from '../../src/server/index.js';
import { ManualClock } from '../../src/util/index.js';

const LEASE_MS = 1000;
const BACKOFF_MS = 10;
const RECEIVE_TIMEOUT_MS = 5000;

test('after a lease expiry and redelivery on the same consumer, settles of the old delivery are MESSAGE_SETTLED and the new one is unaffected', async () => {
  const dataDir = await mkdtemp(join(tmpdir(), 'weir-stale-settle-'));
  const clock = new ManualClock();
  const broker = await Broker.open({ dataDir, clock });
  const server = await WeirServer.listen({
    connectClient: () => broker.connect(),
    port: 0,
    logger: silentLogger,
  });
  const client = await connect(`weir://127.0.0.1:${server.address().port}`, {
    name: 'stale-settle',
    reconnect: false,
  });
  try {
    await client.streams.create('jobs', { subjects: ['jobs.>'] });
    await client.streams.create('dead', { subjects: ['dead.>'] });
    const subscription = await client.subscribe('jobs', {
      subscription: 'workers',
      leaseMs: LEASE_MS,
      backoff: [BACKOFF_MS],
      deadLetter: 'dead.jobs',
    });
    await client.publish('jobs.one', 'work');
    const first = await subscription.receive({ timeoutMs: RECEIVE_TIMEOUT_MS });
    assert.ok(first, 'first delivery');
    assert.equal(first.deliveryCount, 1);
    // The lease starts when the server hears that the application took the message (a SETTLE
    // take, sent ahead of this extend): answered, the lease runs from now.
    await first.extend(LEASE_MS);

    clock.advance(LEASE_MS + 1); // the lease expires: the message waits out its backoff
    clock.advance(BACKOFF_MS + 1); // and goes to the only consumer again
    const second = await subscription.receive({ timeoutMs: RECEIVE_TIMEOUT_MS });
    assert.ok(second, 'redelivery');
    assert.equal(second.deliveryCount, 2);
    assert.deepEqual([second.partition, second.offset], [first.partition, first.offset]);

    for (const [name, settle] of [
      ['term', () => first.term('stale worker gave up')],
      ['nack', () => first.nack()],
      ['extend', () => first.extend(LEASE_MS)],
      ['ack', () => first.ack()],
    ] as const) {
      await assert.rejects(settle(), (error: unknown) => {
        assert.equal(
          (error as { code?: string }).code,
          'MESSAGE_SETTLED',
          `${name}: ${String(error)}`,
        );
        return true;
      });
    }

    await second.ack();
    const info = await client.subscriptions.info('jobs', 'workers');
    assert.equal(info.deadLettered, 0, 'the stale term dead-lettered nothing');
    assert.equal(info.acked, 1, 'the new delivery was acked');
    assert.equal((await client.streams.info('dead')).messages, 0, 'no dead letter was stored');
    await subscription.close();
  } finally {
    await client.close();
    await server.close();
    await broker.close();
    await rm(dataDir, { recursive: true, force: true });
  }
});
