/**
 * Fairness across a power cut (file storage over a MemoryFileSystem that keeps only synced
 * bytes): the fairness scan is in memory only and starts again from the ack floor on open, so
 * after reopening tenant B's next message is again among the first deliveries behind tenant
 * A's backlog, and acked messages (some taken ahead of the read position) stay acked.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Broker } from '../../src/broker/index.js';
import type { Client, Message, PublishInput, Subscription } from '../../src/protocol/index.js';
import { MemoryFileSystem } from '../../src/storage/index.js';
import { ManualClock } from '../../src/util/index.js';

const DATA_DIR = '/fairness-restart';
/** More than the read-ahead (READY_RECORDS_MAX): B's messages lie past it. */
const BACKLOG = 5_000;
const RECEIVE_MS = 10_000;

async function publishAll(client: Client, entries: PublishInput[]): Promise<void> {
  for (let start = 0; start < entries.length; start += 1_000) {
    const results = await client.publishBatch(entries.slice(start, start + 1_000));
    for (const result of results) assert.ok(!(result instanceof Error), 'a publish failed');
  }
}

async function receive(subscription: Subscription): Promise<Message> {
  const message = await subscription.receive({ timeoutMs: RECEIVE_MS });
  assert.ok(message, 'a delivery');
  return message;
}

test('fairness holds after a power cut and reopen; acked messages stay acked', async () => {
  const clock = new ManualClock(1_700_000_000_000);
  const fileSystem = new MemoryFileSystem();
  let broker = await Broker.open({ dataDir: DATA_DIR, fileSystem, clock });
  try {
    let client = broker.connect();
    await client.streams.create('jobs', { subjects: ['jobs'], storage: 'file', fsync: 'always' });
    const entries: PublishInput[] = [];
    for (let index = 0; index < BACKLOG; index++)
      entries.push({ subject: 'jobs', body: `A${index}`, options: { key: 'A' } });
    for (let index = 0; index < 3; index++)
      entries.push({ subject: 'jobs', body: `B${index}`, options: { key: 'B' } });
    await publishAll(client, entries);
    const options = { subscription: 'fair', fairBy: 'key', maxInFlight: 1 } as const;
    let worker = await client.subscribe('jobs', options);
    const before: string[] = [];
    for (let index = 0; index < 4; index++) {
      const message = await receive(worker);
      before.push(message.text());
      await message.ack(); // durable once it resolves
    }
    assert.deepEqual(before, ['A0', 'B0', 'A1', 'B1']);
    // The next one (A2) is delivered, not acked: it comes again.
    const unacked = await receive(worker);
    assert.equal(unacked.text(), 'A2');

    fileSystem.crash();
    broker = await Broker.open({ dataDir: DATA_DIR, fileSystem, clock });
    client = broker.connect();
    const info = await client.subscriptions.info('jobs', 'fair');
    assert.equal(info.config.fairBy, 'key', 'the configuration survives');
    worker = await client.subscribe('jobs', options);
    const after: Message[] = [];
    for (let index = 0; index < 3; index++) {
      const message = await receive(worker);
      after.push(message);
      await message.ack();
    }
    // B2 lies 5,000 offsets past the floor: still served in the first round after the reopen.
    assert.deepEqual(
      after.map((message) => message.text()),
      ['A2', 'B2', 'A3'],
    );
    assert.equal(after[1]!.deliveryCount, 1);
    const next = await receive(worker);
    assert.equal(next.text(), 'A4', 'no acked message comes again');
  } finally {
    await broker.close();
  }
});
