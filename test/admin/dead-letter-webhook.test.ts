/**
 * The dead-letter webhook: a notice of new dead letters reaches a local HTTP server (port 0)
 * that fails the first attempts, after retries whose backoff runs on a ManualClock; attempts
 * are bounded; and end to end, dead letters on a real broker are announced once, with their
 * origin stream and target subject.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { DeadLetterWebhook } from '../../src/admin/dead-letter-webhook.js';
import {
  DEAD_LETTER_WEBHOOK_ATTEMPTS_MAX,
  DEAD_LETTER_WEBHOOK_BACKOFF_MS_INITIAL,
  DEAD_LETTER_WEBHOOK_BACKOFF_MS_MAX,
} from '../../src/limits.js';
import { ManualClock, WeirError } from '../../src/util/index.js';
import { createTemporaryDirectory } from '../helpers/temporary-directory.js';
import { eventually, withAdmin } from './admin-fixture.js';
import { parsePrometheusText, valueOf } from './prometheus-text.js';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const DOCS_HEADING = '## Alerts on dead letters';

interface Received {
  readonly headers: http.IncomingHttpHeaders;
  readonly body: Record<string, unknown>;
  readonly status: number;
}

/** A webhook receiver on loopback that answers 500 to the first `failures` POSTs. */
async function withReceiver<T>(
  failures: number,
  body: (url: string, received: Received[]) => Promise<T>,
): Promise<T> {
  const received: Received[] = [];
  const server = http.createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const status = received.length < failures ? 500 : 204;
      received.push({
        headers: request.headers,
        body: JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown>,
        status,
      });
      response.writeHead(status).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  try {
    return await body(`http://127.0.0.1:${port}/hooks/weir`, received);
  } finally {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}

const ARRIVAL = {
  stream: 'orders',
  subscription: 'billing',
  subject: 'dead.orders',
  count: 3,
  atMs: Date.UTC(2026, 0, 2, 3, 4, 5),
};

describe('dead-letter webhook', () => {
  test('refuses a URL that is not http(s) with INVALID_ARGUMENT naming the field', () => {
    assert.throws(
      () => new DeadLetterWebhook({ url: 'ftp://127.0.0.1/x' }),
      (error: unknown) =>
        error instanceof WeirError &&
        error.code === 'INVALID_ARGUMENT' &&
        /deadLetterWebhook\.url/.test(error.message),
    );
    assert.throws(() => new DeadLetterWebhook({ url: 'not a url' }), /deadLetterWebhook\.url/);
  });

  test('a notice the receiver fails twice is retried after a doubling backoff and delivered', () =>
    withReceiver(2, async (url, received) => {
      const clock = new ManualClock();
      const webhook = new DeadLetterWebhook({ url, headers: { authorization: 'Bearer t' } }, clock);
      try {
        webhook.notify(ARRIVAL);
        await eventually(() => received.length === 1 && clock.pendingTimers === 1);
        // Not before its backoff.
        clock.advance(DEAD_LETTER_WEBHOOK_BACKOFF_MS_INITIAL - 1);
        assert.equal(clock.pendingTimers, 1);
        clock.advance(1);
        await eventually(() => received.length === 2 && clock.pendingTimers === 1);
        // The second wait is twice the first.
        clock.advance(2 * DEAD_LETTER_WEBHOOK_BACKOFF_MS_INITIAL - 1);
        assert.equal(clock.pendingTimers, 1);
        assert.equal(received.length, 2);
        clock.advance(1);
        await eventually(() => webhook.stats.delivered === 1);
        assert.equal(received.length, 3);
        assert.deepEqual(
          received.map((entry) => entry.status),
          [500, 500, 204],
        );
        for (const entry of received) {
          assert.deepEqual(entry.body, {
            stream: 'orders',
            subscription: 'billing',
            subject: 'dead.orders',
            count: 3,
            at: '2026-01-02T03:04:05.000Z',
          });
          assert.equal(entry.headers.authorization, 'Bearer t');
          assert.equal(entry.headers['content-type'], 'application/json');
        }
        assert.deepEqual(webhook.stats, {
          delivered: 1,
          failedAttempts: 2,
          dropped: 0,
          waiting: 0,
        });
        assert.equal(clock.pendingTimers, 0);
      } finally {
        await webhook.close();
      }
    }));

  test('gives a notice up after the last attempt, counts it, and sends the next one', () =>
    withReceiver(DEAD_LETTER_WEBHOOK_ATTEMPTS_MAX, async (url, received) => {
      const clock = new ManualClock();
      const webhook = new DeadLetterWebhook({ url }, clock);
      try {
        webhook.notify(ARRIVAL);
        for (let attempt = 1; attempt < DEAD_LETTER_WEBHOOK_ATTEMPTS_MAX; attempt++) {
          await eventually(() => received.length === attempt && clock.pendingTimers === 1);
          // While the first waits, notices for another subscription queue; for the same one they merge.
          if (attempt === 1) {
            webhook.notify({ ...ARRIVAL, subscription: 'audit', count: 1 });
            webhook.notify({ ...ARRIVAL, subscription: 'audit', count: 2 });
            assert.equal(webhook.stats.waiting, 2);
          }
          clock.advance(DEAD_LETTER_WEBHOOK_BACKOFF_MS_MAX);
        }
        await eventually(() => webhook.stats.delivered === 1);
        assert.equal(received.length, DEAD_LETTER_WEBHOOK_ATTEMPTS_MAX + 1);
        assert.equal(webhook.stats.dropped, 1);
        assert.equal(webhook.stats.failedAttempts, DEAD_LETTER_WEBHOOK_ATTEMPTS_MAX);
        const last = received.at(-1)!;
        assert.equal(last.body.subscription, 'audit');
        assert.equal(last.body.count, 3);
      } finally {
        await webhook.close();
      }
    }));

  test('close() stops retrying: no attempt after it, no timer left', () =>
    withReceiver(1, async (url, received) => {
      const clock = new ManualClock();
      const webhook = new DeadLetterWebhook({ url }, clock);
      webhook.notify(ARRIVAL);
      await eventually(() => received.length === 1 && clock.pendingTimers === 1);
      await webhook.close();
      assert.equal(clock.pendingTimers, 0);
      webhook.notify(ARRIVAL);
      assert.equal(webhook.stats.waiting, 0);
      assert.equal(received.length, 1);
    }));

  test('the admin server announces new dead letters of a real broker, retried once', () =>
    withReceiver(1, async (url, received) => {
      const clock = new ManualClock();
      await withAdmin(
        { deadLetterWebhook: { url, headers: { 'x-weir-test': 'yes' } }, clock },
        async ({ client, request }) => {
          await client.streams.create('orders', { subjects: ['orders.>'] });
          await client.streams.create('dead', { subjects: ['dead.>'] });
          const consumer = await client.subscribe('orders', {
            subscription: 'billing',
            maxDeliveries: 1,
            deadLetter: 'dead.orders',
          });
          for (let index = 0; index < 2; index++) {
            await client.publish('orders.eu.created', { index });
            const message = await consumer.receive({ timeoutMs: 2000 });
            await message!.term('cannot bill');
          }
          await consumer.close();
          // The first POST fails; each later backoff is moved past until the receiver has all.
          const delivered = await eventually(
            () => {
              if (clock.pendingTimers > 0) clock.advance(DEAD_LETTER_WEBHOOK_BACKOFF_MS_MAX);
              const accepted = received.filter((entry) => entry.status === 204);
              const count = accepted.reduce((sum, entry) => sum + Number(entry.body.count), 0);
              return count === 2 ? accepted : null;
            },
            10_000,
            'both dead letters announced',
          );
          assert.equal(received[0]!.status, 500);
          for (const entry of delivered) {
            assert.equal(entry.body.stream, 'orders');
            assert.equal(entry.body.subscription, 'billing');
            assert.equal(entry.body.subject, 'dead.orders');
            assert.match(String(entry.body.at), /^\d{4}-\d\d-\d\dT/);
            assert.equal(entry.headers['x-weir-test'], 'yes');
          }
          // /metrics counts the failed attempt and the deliveries.
          const metrics = parsePrometheusText((await request('GET', '/metrics')).text);
          assert.equal(
            valueOf(metrics, 'weir_dead_letter_webhook_delivered_total', {}),
            delivered.length,
          );
          assert.equal(valueOf(metrics, 'weir_dead_letter_webhook_failed_attempts_total', {}), 1);
          assert.equal(valueOf(metrics, 'weir_dead_letter_webhook_dropped_total', {}), 0);
        },
      );
    }));

  test('docs/concepts.md example "Alerts on dead letters" runs and prints what it says', async () => {
    const markdown = readFileSync(join(root, 'docs', 'concepts.md'), 'utf8');
    const at = markdown.indexOf(`\n${DOCS_HEADING}\n`);
    assert.ok(at >= 0, `docs/concepts.md has "${DOCS_HEADING}"`);
    const code = /```js\n([\s\S]*?)```/.exec(markdown.slice(at))?.[1];
    assert.ok(code, 'the section has a js example');
    const url = (file: string) => JSON.stringify(pathToFileURL(join(root, file)).href);
    const program = code
      .replace("from 'weir/admin'", `from ${url('dist/src/admin/index.js')}`)
      .replace("from 'weir'", `from ${url('dist/src/index.js')}`);
    const directory = await createTemporaryDirectory('weir-alerts-docs-');
    try {
      const file = join(directory.path, 'example.mjs');
      writeFileSync(file, program);
      const child = spawnSync(process.execPath, [file], { encoding: 'utf8', timeout: 20_000 });
      assert.equal(child.status, 0, `exit ${child.status}: ${child.stderr}`);
      const expected = [...code.matchAll(/console\.log\([^\n]*\/\/ ([^\n]+)\n/g)].map((match) =>
        match[1]!.trim(),
      );
      assert.equal(expected.length, 2);
      let output = child.stdout;
      for (const line of expected) {
        const found = output.indexOf(line);
        assert.ok(found >= 0, `output lacks "${line}":\n${child.stdout}`);
        output = output.slice(found + line.length);
      }
    } finally {
      await directory.remove();
    }
  });
});
