/**
 * A producer that outpaces the disk is slowed by backpressure, not buffered without bound:
 * over a file system whose fsync is slow, a client firing large no-confirm publish frames as
 * fast as it can sees the server stop reading its socket once CONNECTION_PUBLISH_BYTES_MAX
 * bytes wait for storage; what waits never grows past that plus one frame; and everything
 * sent is stored in the end.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Broker } from '../../src/broker/index.js';
import { connect } from '../../src/client/index.js';
import { FLAG_NO_CONFIRM, OPCODES } from '../../src/protocol/frame.js';
import { writePublishEntry } from '../../src/protocol/frames.js';
import { CONNECTION_PUBLISH_BYTES_MAX } from '../../src/limits.js';
import { nodeFileSystem, type FileSystem } from '../../src/storage/index.js';
import { silentLogger, WeirServer } from '../../src/server/index.js';
import { encodeFrame, RawClient } from '../helpers/raw-client.js';

const SYNC_DELAY_MS = 30;
const FRAMES = 48;
const MESSAGES_PER_FRAME = 16;
const BODY_BYTES = 64 * 1024;
const TIME_LIMIT_MS = 60_000;

/** The real disk, with every fsync taking SYNC_DELAY_MS longer: a disk slower than the producer. */
const slowDisk: FileSystem = {
  ...nodeFileSystem,
  async open(file) {
    const handle = await nodeFileSystem.open(file);
    return {
      read: (...args) => handle.read(...args),
      write: (...args) => handle.write(...args),
      truncate: (length) => handle.truncate(length),
      size: () => handle.size(),
      close: () => handle.close(),
      async sync() {
        await new Promise((resolve) => setTimeout(resolve, SYNC_DELAY_MS));
        await handle.sync();
      },
    };
  },
};

test('a producer faster than the disk is held back by TCP, with bounded bytes waiting in the server', async () => {
  const dataDir = await mkdtemp(join(tmpdir(), 'weir-backpressure-'));
  const broker = await Broker.open({ dataDir, fileSystem: slowDisk });
  const server = await WeirServer.listen({
    connectClient: () => broker.connect(),
    port: 0,
    logger: silentLogger,
  });
  const port = server.address().port;
  try {
    const admin = await connect(`weir://127.0.0.1:${port}`, { reconnect: false });
    await admin.streams.create('bulk', { subjects: ['bulk'], fsync: 'always' });
    const raw = await RawClient.connect(port);
    await raw.hello('firehose');
    const body = new Uint8Array(BODY_BYTES).fill(7);
    const frame = encodeFrame(
      OPCODES.PUBLISH,
      0,
      (writer) => {
        writer.u32(MESSAGES_PER_FRAME);
        for (let i = 0; i < MESSAGES_PER_FRAME; i++) writePublishEntry(writer, 'bulk', body, {});
      },
      FLAG_NO_CONFIRM,
    );
    for (let i = 0; i < FRAMES; i++) raw.send(frame);
    const connection = server
      .connections()
      .find((candidate) => candidate.clientName === 'firehose');
    assert.ok(connection);
    let mostWaiting = 0;
    let paused = false;
    const started = Date.now();
    const expected = FRAMES * MESSAGES_PER_FRAME;
    while ((await admin.streams.info('bulk')).messages < expected) {
      assert.ok(Date.now() - started < TIME_LIMIT_MS, 'everything sent is stored in the end');
      mostWaiting = Math.max(mostWaiting, connection.publishBytesWaiting);
      paused ||= connection.readingPaused;
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    assert.ok(paused, 'the server stopped reading the socket while storage was behind');
    assert.ok(
      mostWaiting <= CONNECTION_PUBLISH_BYTES_MAX + frame.length,
      `${mostWaiting} bytes waited for storage (limit ${CONNECTION_PUBLISH_BYTES_MAX} + one frame)`,
    );
    raw.close();
    await admin.close();
  } finally {
    await server.close();
    await broker.close();
    await rm(dataDir, { recursive: true, force: true });
  }
});
