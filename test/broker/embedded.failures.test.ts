/**
 * Issue 11 failure handling, embedded: floors past the log end after a power cut, recovery's
 * lost ranges, dead letters whose publish failed, a journal that failed under an ack.
 */
import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm, unlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { Broker } from '../../src/broker/index.js';
import type { Message, Subscription } from '../../src/protocol/index.js';
import { MemoryFileSystem } from '../../src/storage/index.js';
import { ManualClock } from '../../src/util/index.js';
import { FaultyFileSystem } from '../helpers/faulty-file-system.js';

const RECEIVE_TIMEOUT_MS = 2000;

async function receiveN(subscription: Subscription, count: number): Promise<Message[]> {
  const messages: Message[] = [];
  for (let index = 0; index < count; index++) {
    const message = await subscription.receive({ timeoutMs: RECEIVE_TIMEOUT_MS });
    assert.ok(message, `message ${index + 1} of ${count} arrived`);
    messages.push(message);
  }
  return messages;
}

async function withDataDir(run: (dataDir: string) => Promise<void>): Promise<void> {
  const dataDir = await mkdtemp(join(tmpdir(), 'weir-failures-'));
  try {
    await run(dataDir);
  } finally {
    await rm(dataDir, { recursive: true, force: true });
  }
}

test('a floor past the log end after the log lost its tail is clamped and reported; new messages are all delivered', () =>
  withDataDir(async (dataDir) => {
    let broker = await Broker.open({ dataDir });
    let client = broker.connect();
    await client.streams.create('jobs', { subjects: ['jobs'], fsync: 'never' });
    let subscription = await client.subscribe('jobs', { subscription: 'w' });
    for (let index = 0; index < 10; index++) await client.publish('jobs', `old ${index}`);
    for (const message of await receiveN(subscription, 10)) await message.ack();
    await broker.close();
    // The log lost everything (its unsynced bytes), the journal kept floor 10.
    const partitionDirectory = await findDirectory(dataDir, 'partitions');
    for (const name of await readdir(join(partitionDirectory, '0'))) {
      await unlink(join(partitionDirectory, '0', name));
    }

    broker = await Broker.open({ dataDir });
    client = broker.connect();
    let info = await client.subscriptions.info('jobs', 'w');
    assert.equal(info.partitions[0]!.ackFloor, 0, 'floor brought back to the log end');
    assert.equal(info.partitions[0]!.floorClamped, 10, 'the clamp is reported');
    subscription = await client.subscribe('jobs', { subscription: 'w' });
    for (let index = 0; index < 5; index++) await client.publish('jobs', `new ${index}`);
    const received = await receiveN(subscription, 5);
    assert.deepEqual(
      received.map((message) => message.text()),
      ['new 0', 'new 1', 'new 2', 'new 3', 'new 4'],
    );
    await received[0]!.ack();
    await received[1]!.ack();
    await broker.close();

    // The clamp was journalled: the next open resumes from 2, not from the old floor 10.
    broker = await Broker.open({ dataDir });
    client = broker.connect();
    info = await client.subscriptions.info('jobs', 'w');
    assert.equal(info.partitions[0]!.ackFloor, 2);
    assert.equal(info.partitions[0]!.floorClamped, 0);
    subscription = await client.subscribe('jobs', { subscription: 'w' });
    const again = await receiveN(subscription, 3);
    assert.deepEqual(
      again.map((message) => message.text()),
      ['new 2', 'new 3', 'new 4'],
    );
    await broker.close();
  }));

async function findDirectory(root: string, name: string): Promise<string> {
  const entries = await readdir(root, { withFileTypes: true, recursive: true });
  const found = entries.find((entry) => entry.isDirectory() && entry.name === name);
  assert.ok(found, `${name} under ${root}`);
  return join(found.parentPath, found.name);
}

test('a segment missing between two others is reported as a lost range; a subscription counts what it skipped', () =>
  withDataDir(async (dataDir) => {
    let broker = await Broker.open({ dataDir });
    let client = broker.connect();
    await client.streams.create('log', { subjects: ['log'], segmentBytes: 64 * 1024 });
    const body = 'x'.repeat(4000);
    for (let index = 0; index < 100; index++) await client.publish('log', body);
    await broker.close();
    const directory = join(await findDirectory(dataDir, 'partitions'), '0');
    const segments = (await readdir(directory)).filter((name) => name.endsWith('.log')).sort();
    assert.ok(segments.length >= 3, `several segments (${segments.length})`);
    const middle = segments[1]!;
    const lostStart = Number(middle.slice(0, 20));
    const lostEnd = Number(segments[2]!.slice(0, 20));
    await unlink(join(directory, middle));

    broker = await Broker.open({ dataDir });
    client = broker.connect();
    const info = await client.streams.info('log');
    assert.deepEqual(info.partitions[0]!.lostRanges, [
      { startOffset: lostStart, endOffset: lostEnd },
    ]);
    assert.equal(info.partitions[0]!.lost, lostEnd - lostStart);
    const subscription = await client.subscribe('log', { subscription: 'r', start: 'earliest' });
    const expected = 100 - (lostEnd - lostStart);
    const received = await receiveN(subscription, expected);
    for (const message of received) await message.ack();
    const subscriptionInfo = await client.subscriptions.info('log', 'r');
    assert.equal(subscriptionInfo.lost, lostEnd - lostStart, 'skipped offsets counted as lost');
    assert.equal(subscriptionInfo.dropped, 0);
    await broker.close();
  }));

test('a dead letter whose publish failed is published again later and never delivered to a consumer again', async () => {
  const clock = new ManualClock();
  const broker = await Broker.open({ storage: 'memory', clock });
  try {
    const client = broker.connect();
    await client.streams.create('orders', { subjects: ['orders.>'] });
    const subscription = await client.subscribe('orders', {
      subscription: 'b',
      deadLetter: 'dead.orders',
    });
    await client.publish('orders.x', 'bad');
    const [message] = await receiveN(subscription, 1);
    // No stream captures dead.orders yet: the dead letter's publish fails (NO_ROUTE).
    await assert.rejects(message!.term('bad'), { code: 'NO_ROUTE' });
    await client.streams.create('dead', { subjects: ['dead.>'] });
    // Past the retry delay (the longest backoff delay, 60 s by default), a second at a time.
    for (let step = 0; step < 70; step++) {
      clock.advance(1000);
      await new Promise((resolve) => setImmediate(resolve));
    }
    assert.equal(await subscription.receive({ timeoutMs: 0 }), null, 'not delivered again');
    const deadline = Date.now() + RECEIVE_TIMEOUT_MS;
    while ((await client.deadLetters.list('dead.orders')).length === 0 && Date.now() < deadline) {
      await new Promise((resolve) => setImmediate(resolve));
    }
    const letters = await client.deadLetters.list('dead.orders');
    assert.equal(letters.length, 1, 'the dead letter went on the retry');
    assert.equal(letters[0]!.reason, 'terminated');
    const info = await client.subscriptions.info('orders', 'b');
    assert.equal(info.delivered, 1);
    assert.equal(info.deadLettered, 1);
  } finally {
    await broker.close();
  }
});

test('after the journal failed with DISK_FULL a retried ack rejects, the subscription stops and info shows it', async () => {
  const fileSystem = new FaultyFileSystem(new MemoryFileSystem());
  const broker = await Broker.open({ dataDir: '/data', fileSystem });
  try {
    const client = broker.connect();
    await client.streams.create('jobs', { subjects: ['jobs'] });
    const subscription = await client.subscribe('jobs', { subscription: 'w' });
    await client.publish('jobs', 'one');
    await client.publish('jobs', 'two');
    const [first] = await receiveN(subscription, 1);
    fileSystem.inject({ operation: 'write', code: 'ENOSPC', path: /subscriptions/ });
    await assert.rejects(first!.ack(), { code: 'DISK_FULL' });
    await assert.rejects(first!.ack(), { code: 'DISK_FULL' }, 'a retried ack is not durable');
    const info = await client.subscriptions.info('jobs', 'w');
    assert.equal(info.failure?.code, 'DISK_FULL');
    assert.equal(await subscription.receive({ timeoutMs: 0 }), null, 'the consumer ended');
    await assert.rejects(client.subscribe('jobs', { subscription: 'w' }), {
      code: 'SUBSCRIPTION_FAILED',
    });
  } finally {
    await broker.close().catch(() => undefined);
  }
});

test('work-queue retention keeps what lies above the durable ack floor: an ack whose journal write failed frees nothing', async () => {
  const fileSystem = new FaultyFileSystem(new MemoryFileSystem());
  const broker = await Broker.open({ dataDir: '/data', fileSystem });
  try {
    const client = broker.connect();
    await client.streams.create('tasks', { subjects: ['tasks'], retention: 'work-queue' });
    const subscription = await client.subscribe('tasks', { subscription: 'w' });
    for (let index = 0; index < 3; index++) await client.publish('tasks', `task ${index}`);
    const [first, second] = await receiveN(subscription, 2);
    await first!.ack();
    assert.equal((await client.streams.info('tasks')).partitions[0]!.startOffset, 1);
    fileSystem.inject({ operation: 'write', code: 'ENOSPC', path: /subscriptions/ });
    await assert.rejects(second!.ack(), { code: 'DISK_FULL' });
    const info = await client.streams.info('tasks');
    assert.equal(info.partitions[0]!.startOffset, 1, 'offset 1 is not settled on disk');
    const subscriptionInfo = await client.subscriptions.info('tasks', 'w');
    assert.equal(subscriptionInfo.partitions[0]!.ackFloor, 2);
    assert.equal(subscriptionInfo.partitions[0]!.durableAckFloor, 1);
  } finally {
    await broker.close().catch(() => undefined);
  }
});
