/**
 * A purge is durable: once purge() resolved, no message stored before it comes back after a
 * crash (unsynced bytes dropped) or a restart, even those still in the active segment, and
 * publishes racing the purge do not undo it. New subscriptions from `earliest` start at what
 * was published after the purge.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Broker } from '../../src/broker/index.js';
import type { Client, PublishReceipt } from '../../src/protocol/index.js';
import { MemoryFileSystem, nodeFileSystem } from '../../src/storage/index.js';
import { ManualClock } from '../../src/util/index.js';
import { FaultyFileSystem } from '../helpers/faulty-file-system.js';
import { withTemporaryDirectory } from '../helpers/temporary-directory.js';

const DATA_DIR = '/data';
const BEFORE = 50;
/** Publishes racing one purge, at most. */
const RACING_MAX = 200;
const PARTITIONS = 2;
const RECEIVE_TIMEOUT_MS = 5000;

/** Every message of the stream, read by a new subscription from earliest (bounded by info). */
async function everything(client: Client, stream: string): Promise<string[]> {
  const expected = (await client.streams.info(stream)).messages;
  const subscription = await client.subscribe(stream, {
    subscription: `check-${Math.random().toString(36).slice(2)}`,
    start: 'earliest',
    maxInFlight: 1000,
  });
  const texts: string[] = [];
  try {
    while (texts.length < expected) {
      const message = await subscription.receive({ timeoutMs: RECEIVE_TIMEOUT_MS });
      assert.ok(message, `only ${texts.length} of ${expected} messages were delivered`);
      texts.push(message.text());
      await message.ack();
    }
  } finally {
    await subscription.close();
  }
  return texts;
}

async function publishBefore(client: Client, stream: string): Promise<void> {
  for (let index = 0; index < BEFORE; index++) {
    await client.publish(stream, `before-${index}`, { key: String(index) });
  }
}

/** After reopening: nothing from before the purge; `after` is the first message from earliest. */
async function checkPurged(client: Client, stream: string, survivors: readonly string[]) {
  const info = await client.streams.info(stream);
  assert.equal(info.messages, survivors.length, 'only what came after the purge is stored');
  for (const partition of info.partitions) assert.ok(partition.startOffset > 0);
  await client.publish(stream, 'after');
  const texts = await everything(client, stream);
  assert.deepEqual(
    texts.filter((text) => text.startsWith('before-')),
    [],
    'no message stored before the purge came back',
  );
  assert.deepEqual([...texts].sort(), [...survivors, 'after'].sort());
}

for (const fsync of ['always', 'interval', 'never'] as const) {
  test(`purge then crash (unsynced bytes dropped), fsync ${fsync}: after reopening the stream is empty and earliest starts after it`, async () => {
    const clock = new ManualClock();
    const fileSystem = new FaultyFileSystem(new MemoryFileSystem());
    const broker = await Broker.open({ dataDir: DATA_DIR, fileSystem, clock });
    const client = broker.connect();
    await client.streams.create('logs', { subjects: ['logs'], partitions: PARTITIONS, fsync });
    await publishBefore(client, 'logs');
    await client.streams.purge('logs');
    assert.equal((await client.streams.info('logs')).messages, 0);
    const rebooted = await fileSystem.crash();
    await broker.close().catch(() => undefined); // its file system is gone
    const reopened = await Broker.open({ dataDir: DATA_DIR, fileSystem: rebooted, clock });
    try {
      await checkPurged(reopened.connect(), 'logs', []);
    } finally {
      await reopened.close();
    }
  });
}

/**
 * Publishes BEFORE messages (confirmed), then purges while publishing more: on every file
 * operation of `fileSystem` (so, during the purge's own writes and syncs) and on every turn of
 * the event loop, until the purge resolved (at most RACING_MAX). Returns the racing publishes
 * stored past the purge's start (they survive it); checks that there were some.
 */
async function purgeWhilePublishing(
  client: Client,
  stream: string,
  fileSystem: FaultyFileSystem | null,
): Promise<string[]> {
  await publishBefore(client, stream);
  const racing: Promise<PublishReceipt>[] = [];
  const racingTexts: string[] = [];
  let purged = false;
  const publishRacing = (): void => {
    if (purged || racing.length >= RACING_MAX) return;
    const text = `racing-${racing.length}`;
    racingTexts.push(text);
    racing.push(client.publish(stream, text, { key: String(racing.length) }));
  };
  if (fileSystem) fileSystem.hook = publishRacing;
  try {
    const purge = client.streams.purge(stream).finally(() => {
      purged = true;
    });
    for (let turn = 0; turn < RACING_MAX && !purged; turn++) {
      publishRacing();
      await new Promise((resolve) => setImmediate(resolve));
    }
    await purge;
  } finally {
    if (fileSystem) fileSystem.hook = null;
  }
  const receipts = await Promise.all(racing);
  const starts = (await client.streams.info(stream)).partitions.map((p) => p.startOffset);
  const survivors = racingTexts.filter((_, index) => {
    const receipt = receipts[index]!;
    return receipt.offset >= starts[receipt.partition]!;
  });
  assert.ok(survivors.length > 0, 'some publishes landed while the purge ran');
  return survivors;
}

test('purge racing publishes, then crash: no message confirmed before the purge started comes back', async () => {
  const clock = new ManualClock();
  const fileSystem = new FaultyFileSystem(new MemoryFileSystem());
  const broker = await Broker.open({ dataDir: DATA_DIR, fileSystem, clock });
  const client = broker.connect();
  // One segment per partition: the purged messages and the racing ones share the active one.
  await client.streams.create('logs', { subjects: ['logs'], partitions: PARTITIONS });
  const survivors = await purgeWhilePublishing(client, 'logs', fileSystem);
  const rebooted = await fileSystem.crash();
  await broker.close().catch(() => undefined);
  const reopened = await Broker.open({ dataDir: DATA_DIR, fileSystem: rebooted, clock });
  try {
    await checkPurged(reopened.connect(), 'logs', survivors);
  } finally {
    await reopened.close();
  }
});

test('purge (alone, and racing publishes) then a broker restart on the real disk: nothing purged comes back', async () => {
  await withTemporaryDirectory(async (dataDir) => {
    const clock = new ManualClock();
    // The real disk, seen through a hook that publishes during the purge's file operations.
    const fileSystem = new FaultyFileSystem(nodeFileSystem);
    const first = await Broker.open({ dataDir, fileSystem, clock });
    let survivors: string[];
    try {
      const client = first.connect();
      await client.streams.create('alone', { subjects: ['alone'], partitions: PARTITIONS });
      await client.streams.create('racing', { subjects: ['racing'], partitions: PARTITIONS });
      await publishBefore(client, 'alone');
      await client.streams.purge('alone');
      survivors = await purgeWhilePublishing(client, 'racing', fileSystem);
    } finally {
      await first.close();
    }
    const second = await Broker.open({ dataDir, clock });
    try {
      const client = second.connect();
      await checkPurged(client, 'alone', []);
      await checkPurged(client, 'racing', survivors);
    } finally {
      await second.close();
    }
  }, 'weir-purge-');
});
