/**
 * The server stopping (`weir serve` on SIGTERM closes its AmqpServer): every connection gets
 * connection.close 320, and the server's close ends each socket once the client answers or,
 * for a client that never does, after AMQP_CLOSE_TIMEOUT_MS. Before, the close timer was
 * cancelled by the teardown and a silent client (or a publisher whose socket was paused for
 * backpressure, so its close-ok was never read) held `weir serve` open until SIGKILL.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AMQP_CLOSE_TIMEOUT_MS } from '../../src/limits.js';
import { argumentsOf, startAmqp, within } from './amqp-harness.js';

test('stopping with a client that never answers connection.close: 320, and the socket is ended after AMQP_CLOSE_TIMEOUT_MS', async () => {
  const fixture = await startAmqp();
  try {
    const raw = await fixture.raw();
    await raw.handshake();
    await raw.openChannel(1);
    const stopped = fixture.server.close();
    const close = argumentsOf(
      await raw.expect('connection.close', { channel: 0 }),
      'connection.close',
    );
    assert.equal(close.replyCode, 320);
    // No close-ok: the server ends the socket by itself, and its close resolves.
    await within('the server to stop', stopped, AMQP_CLOSE_TIMEOUT_MS * 4);
    await raw.waitFor('the socket to end', () => raw.closed, AMQP_CLOSE_TIMEOUT_MS * 2);
  } finally {
    await fixture.close();
  }
});

test('stopping while an amqplib publisher sends with confirms: 320, its close-ok is read, and the server stops at once', async () => {
  const fixture = await startAmqp();
  try {
    const connection = await fixture.connect();
    const closed = new Promise<Error | undefined>((resolve) => connection.once('close', resolve));
    const channel = await connection.createConfirmChannel();
    await channel.assertQueue('stopping', { durable: false });
    let sending = true;
    const publishing = (async () => {
      for (let index = 0; sending && index < 100_000; index++) {
        channel.sendToQueue('stopping', Buffer.from(`m${index}`));
        if (index % 100 === 99) await new Promise((resolve) => setImmediate(resolve));
      }
    })().catch(() => undefined);
    await new Promise((resolve) => setTimeout(resolve, 50));
    const started = Date.now();
    await within('the server to stop', fixture.server.close(), AMQP_CLOSE_TIMEOUT_MS * 4);
    const error = await within('the client to see the close', closed);
    sending = false;
    await publishing;
    assert.match(String(error), /320/);
    assert.ok(
      Date.now() - started < AMQP_CLOSE_TIMEOUT_MS,
      `a client that answers is not waited on for the close timeout (${Date.now() - started} ms)`,
    );
  } finally {
    await fixture.close();
  }
});
