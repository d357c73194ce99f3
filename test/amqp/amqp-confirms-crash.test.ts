/**
 * Publisher confirms mean fsync: a file broker over the FaultyFileSystem, an AMQP confirm
 * channel publishing to a durable queue; a crash (every unsynced byte dropped) right after
 * some confirms, then the broker and the AMQP server reopened on what survived: every acked
 * message is there. And a publish whose fsync fails is nacked, never acked.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import amqp from 'amqplib';
import type { ChannelModel, ConfirmChannel } from 'amqplib';
import { Broker } from '../../src/broker/index.js';
import type { AmqpServer } from '../../src/amqp/index.js';
import { MemoryFileSystem } from '../../src/storage/index.js';
import { FaultyFileSystem } from '../helpers/faulty-file-system.js';
import { CHEAP_COST, startServer, waitUntil, within, WAIT_MS } from './amqp-harness.js';

const DATA_DIR = '/weir-data';
const QUEUE = 'ledger';
const PUBLISHES = 60;
/** The crash comes once this many publishes are acked (the rest may be in flight). */
const ACKED_BEFORE_CRASH = 20;

interface Running {
  readonly broker: Broker;
  readonly server: AmqpServer;
  readonly connection: ChannelModel;
  readonly channel: ConfirmChannel;
  stop(): Promise<void>;
}

async function open(fileSystem: FaultyFileSystem): Promise<Running> {
  const broker = await Broker.open({ dataDir: DATA_DIR, fileSystem, passwordCost: CHEAP_COST });
  const server = await startServer(broker, DATA_DIR);
  const connection = await amqp.connect(`amqp://127.0.0.1:${server.address().port}`);
  connection.on('error', () => undefined);
  const channel = await connection.createConfirmChannel();
  channel.on('error', () => undefined);
  return {
    broker,
    server,
    connection,
    channel,
    async stop() {
      await connection.close().catch(() => undefined);
      await server.close().catch(() => undefined);
      await broker.close().catch(() => undefined); // after a crash its file system is fenced
    },
  };
}

test('every publish acked over AMQP before a crash (unsynced bytes dropped) is there after reopening', async (t) => {
  const fileSystem = new FaultyFileSystem(new MemoryFileSystem());
  const first = await open(fileSystem);
  const acked: string[] = [];
  let rebooted: Promise<FaultyFileSystem> | null = null;
  const publish = (body: string): Promise<boolean> =>
    new Promise((resolve) => {
      first.channel.sendToQueue(QUEUE, Buffer.from(body), { persistent: true }, (error) => {
        const ok = error === null || error === undefined;
        if (ok) acked.push(body);
        resolve(ok);
      });
    });
  try {
    await first.channel.assertQueue(QUEUE, { durable: true });
    // One at a time: each acked (so synced) before the next is sent.
    for (let index = 0; index < ACKED_BEFORE_CRASH; index++) {
      assert.equal(await within('a confirm', publish(`entry-${index}`)), true);
    }
    // Then a burst, and the power cut at the first fsync after it: the burst's bytes are
    // written and never synced, so they are dropped; none of them may have been acked.
    fileSystem.hook = (operation) => {
      if (operation === 'sync' && rebooted === null) rebooted = fileSystem.crash();
    };
    for (let index = ACKED_BEFORE_CRASH; index < PUBLISHES; index++) void publish(`entry-${index}`);
    await waitUntil('the crash', () => rebooted !== null);
  } finally {
    fileSystem.hook = null;
    await first.stop();
  }
  const second = await open(await rebooted!);
  try {
    const found = new Set<string>();
    for (let count = 0; count < PUBLISHES + 1; count++) {
      const message = await within('basic.get', second.channel.get(QUEUE, { noAck: true }));
      if (message === false) break;
      found.add(message.content.toString());
    }
    t.diagnostic(`${acked.length} acked, ${found.size} of ${PUBLISHES} found after the crash`);
    assert.ok(
      found.size < PUBLISHES,
      'the crash dropped the unsynced burst (else it proves nothing)',
    );
    const lost = acked.filter((body) => !found.has(body));
    assert.deepEqual(lost, [], 'every acked publish survived the crash');
  } finally {
    await second.stop();
  }
});

test('a publish whose fsync fails is nacked, not acked', async () => {
  const fileSystem = new FaultyFileSystem(new MemoryFileSystem());
  const running = await open(fileSystem);
  try {
    await running.channel.assertQueue(QUEUE, { durable: true });
    const confirm = (body: string): Promise<'ack' | 'nack'> =>
      within(
        `the confirm of ${body}`,
        new Promise((resolve) => {
          running.channel.sendToQueue(QUEUE, Buffer.from(body), { persistent: true }, (error) =>
            resolve(error === null || error === undefined ? 'ack' : 'nack'),
          );
        }),
        WAIT_MS,
      );
    assert.equal(await confirm('healthy'), 'ack');
    fileSystem.failSyncs({ code: 'EIO' });
    assert.equal(await confirm('unsynced'), 'nack');
  } finally {
    fileSystem.heal();
    await running.stop();
  }
});
