/** The stored form of a message: system fields round-trip, user headers stay apart, limits hold. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { decodeMessage, encodeMessage } from '../../src/broker/message-codec.js';

function roundTrip(...args: Parameters<typeof encodeMessage>): ReturnType<typeof decodeMessage> {
  const encoded = encodeMessage(...args);
  const record = encoded.record;
  return decodeMessage(
    {
      offset: 7,
      timestamp: 1000,
      key: record.key ?? null,
      headers: record.headers ?? null,
      body: record.body,
    },
    true,
  );
}

test('every publish option survives encoding and decoding', () => {
  const message = roundTrip(
    'orders.eu',
    { total: 12 },
    {
      key: 'customer-7',
      headers: { trace: 'abc', 'weir-x': 'y' },
      id: 'order-1',
      delayMs: 500,
      ttlMs: 2000,
      priority: 7,
      replyTo: '_INBOX.c1',
      correlationId: 'r-1',
    },
    10_000,
  );
  assert.equal(message.subject, 'orders.eu');
  assert.equal(message.key, 'customer-7');
  assert.deepEqual(message.headers, { trace: 'abc', 'weir-x': 'y' });
  assert.deepEqual(JSON.parse(Buffer.from(message.body).toString()), { total: 12 });
  assert.equal(message.id, 'order-1');
  assert.equal(message.deliverAt, 10_500);
  assert.equal(message.expiresAt, 12_000);
  assert.equal(message.priority, 7);
  assert.equal(message.replyTo, '_INBOX.c1');
  assert.equal(message.correlationId, 'r-1');
  assert.equal(message.offset, 7);
});

test('bodies: bytes as is, strings as UTF-8, other values as JSON', () => {
  const bytes = new Uint8Array([0, 255, 7]);
  assert.deepEqual([...roundTrip('s', bytes, undefined, 0).body], [0, 255, 7]);
  assert.equal(Buffer.from(roundTrip('s', 'héllo', undefined, 0).body).toString(), 'héllo');
  assert.equal(
    Buffer.from(roundTrip('s', [1, null, true], undefined, 0).body).toString(),
    '[1,null,true]',
  );
  const plain = roundTrip('s', 'x', undefined, 0);
  assert.equal(plain.key, null);
  assert.equal(plain.id, null);
  assert.equal(plain.priority, 0);
  assert.equal(plain.deliverAt, 0);
  assert.deepEqual(plain.headers, {});
});

test('reserved header names, bad options and unknown options are refused, naming the field', () => {
  const cases: [unknown, RegExp][] = [
    [{ headers: { ':id': 'x' } }, /headers/],
    [{ headers: { a: 1 } }, /headers\.a/],
    [{ priority: 10 }, /priority/],
    [{ delayMs: -1 }, /delayMs/],
    [{ delayMs: 1, deliverAt: 2 }, /delayMs/],
    [{ ttlMs: 0 }, /ttlMs/],
    [{ replyTo: 'a.*' }, /replyTo/],
    [{ key: '' }, /key/],
    [{ id: 'x'.repeat(300) }, /id/],
    [{ priorty: 1 }, /priorty/],
  ];
  for (const [options, field] of cases) {
    assert.throws(
      () => encodeMessage('s', 'x', options as never, 0),
      (error: { code?: string; message: string }) =>
        error.code === 'INVALID_ARGUMENT' && field.test(error.message),
      JSON.stringify(options),
    );
  }
});

test('the size compared with maxMessageBytes counts key, user headers and body', () => {
  const encoded = encodeMessage('s', new Uint8Array(100), { key: 'kk', headers: { ab: 'cd' } }, 0);
  assert.equal(encoded.bytes, 100 + 2 + 4);
});
