/**
 * A request over TCP whose reply times out before its publish is durable (timeoutMs 1 on a
 * file stream with fsync 'always') rejects with TIMEOUT and is never an unhandled rejection
 * in the server process; the server keeps answering.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Broker } from '../../src/broker/index.js';
import { connect } from '../../src/client/index.js';
import { silentLogger, WeirServer } from '../../src/server/index.js';

const REQUESTS = 50;

test('50 requests with a 1 ms timeout to a captured subject: each rejects TIMEOUT, none is unhandled', async () => {
  const dataDir = await mkdtemp(join(tmpdir(), 'weir-request-timeout-'));
  const unhandled: unknown[] = [];
  const onUnhandled = (reason: unknown) => unhandled.push(reason);
  process.on('unhandledRejection', onUnhandled);
  const broker = await Broker.open({ dataDir });
  const server = await WeirServer.listen({
    connectClient: () => broker.connect(),
    port: 0,
    logger: silentLogger,
  });
  const client = await connect(`weir://127.0.0.1:${server.address().port}`, {
    name: 'request-timeout',
    reconnect: false,
  });
  try {
    await client.streams.create('jobs', { subjects: ['jobs.>'], storage: 'file', fsync: 'always' });
    const outcomes = await Promise.allSettled(
      Array.from({ length: REQUESTS }, (_, index) =>
        client.request(`jobs.${index}`, 'ping', { timeoutMs: 1 }),
      ),
    );
    for (const outcome of outcomes) {
      assert.equal(outcome.status, 'rejected', 'no responder: nothing can answer');
      assert.equal((outcome.reason as { code?: string }).code, 'TIMEOUT', String(outcome.reason));
    }
    // Wait (bounded) until every request's publish is stored: a rejection left unobserved
    // would have surfaced by then.
    let stored = 0;
    for (let attempt = 0; attempt < 200 && stored < REQUESTS; attempt++) {
      stored = (await client.streams.info('jobs')).messages;
    }
    assert.equal(stored, REQUESTS, 'every request was stored');
    await new Promise((resolve) => setImmediate(resolve));
    assert.deepEqual(unhandled, [], 'no unhandled rejection in the server process');
    assert.deepEqual(
      (await client.streams.list()).map((stream) => stream.name),
      ['jobs'],
      'the server still answers',
    );
  } finally {
    process.off('unhandledRejection', onUnhandled);
    await client.close();
    await server.close();
    await broker.close();
    await rm(dataDir, { recursive: true, force: true });
  }
});
