/**
 * Utf8Cache decodes exactly as TextDecoder does, cached or not: random byte strings (valid
 * and invalid UTF-8, short and long, repeated so that cache hits and slot collisions happen)
 * and slices of a larger buffer at any offset.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { Utf8Cache } from '../../src/util/index.js';

const decoder = new TextDecoder();

test('decodes like TextDecoder, hit or miss', () => {
  const pool = fc.array(fc.uint8Array({ maxLength: 80 }), { minLength: 1, maxLength: 40 });
  fc.assert(
    fc.property(pool, fc.array(fc.nat(), { minLength: 1, maxLength: 200 }), (strings, picks) => {
      const cache = new Utf8Cache();
      for (const pick of picks) {
        const bytes = strings[pick % strings.length]!;
        // Embedded at an offset in a larger buffer, as in a frame or a batch.
        const buffer = new Uint8Array(bytes.length + 7);
        buffer.set(bytes, 3);
        assert.equal(cache.decode(buffer, 3, 3 + bytes.length), decoder.decode(bytes));
      }
    }),
    { numRuns: 200 },
  );
});

test('a cached string is not changed by later writes to the bytes it came from', () => {
  const cache = new Utf8Cache();
  const bytes = new TextEncoder().encode('orders.eu.created');
  assert.equal(cache.decode(bytes, 0, bytes.length), 'orders.eu.created');
  bytes[0] = 0x4f; // 'O'
  assert.equal(cache.decode(bytes, 0, bytes.length), 'Orders.eu.created');
});
