/**
 * CRC-32C guards every batch on disk: a wrong table or a slip in the 8-bytes-at-a-time loop
 * would make every checksum wrong in the same way (so round trips still pass) while breaking
 * compatibility with every other CRC-32C. Known vectors pin the polynomial; a bit-by-bit
 * reference pins every length, every alignment and the incremental form the log relies on.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { crc32c } from '../../src/util/crc32c.js';

/** The reflected Castagnoli polynomial, as RFC 3720 (iSCSI) defines it. */
const POLYNOMIAL_REFLECTED = 0x82f63b78;
/** Lengths checked one by one: covers every remainder of the 8-byte loop many times over. */
const EVERY_LENGTH_MAX = 100;
const RUNS_PER_LENGTH = 10;
const LARGE_LENGTH_MAX = 10_000;
const LARGE_RUNS = 50;

/** One bit at a time: slow, but too simple to share a bug with the table-driven version. */
function referenceCrc32c(bytes: Uint8Array, crc = 0): number {
  let value = ~crc >>> 0;
  for (const byte of bytes) {
    value ^= byte;
    for (let bit = 0; bit < 8; bit++) {
      value = value & 1 ? (value >>> 1) ^ POLYNOMIAL_REFLECTED : value >>> 1;
    }
  }
  return ~value >>> 0;
}

function filled(length: number, byte: (index: number) => number): Uint8Array {
  return Uint8Array.from({ length }, (_, index) => byte(index));
}

// RFC 3720 appendix B.4 gives the last three; "123456789" is the usual check value.
const KNOWN_VECTORS: readonly { name: string; bytes: Uint8Array; crc: number }[] = [
  { name: '"123456789"', bytes: new TextEncoder().encode('123456789'), crc: 0xe3069283 },
  { name: '32 zero bytes', bytes: filled(32, () => 0x00), crc: 0x8a9136aa },
  { name: '32 0xFF bytes', bytes: filled(32, () => 0xff), crc: 0x62a8ab43 },
  { name: 'ascending 0..31', bytes: filled(32, (index) => index), crc: 0x46dd794e },
];

test('crc32c matches the published CRC-32C check values', () => {
  for (const vector of KNOWN_VECTORS) {
    assert.equal(crc32c(vector.bytes), vector.crc, vector.name);
    assert.equal(referenceCrc32c(vector.bytes), vector.crc, `reference: ${vector.name}`);
  }
});

test('crc32c of no bytes is 0, and continuing over no bytes changes nothing', () => {
  assert.equal(crc32c(new Uint8Array(0)), 0);
  assert.equal(crc32c(new Uint8Array(0), 0xe3069283), 0xe3069283);
});

test('crc32c always returns an unsigned 32-bit integer', () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => {
      const crc = crc32c(bytes);
      assert.ok(Number.isInteger(crc) && crc >= 0 && crc <= 0xffffffff, `crc ${crc}`);
    }),
  );
});

test('crc32c agrees with a bit-by-bit reference at every length from 0 to 100', () => {
  for (let length = 0; length <= EVERY_LENGTH_MAX; length++) {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: length, maxLength: length }), (bytes) => {
        assert.equal(crc32c(bytes), referenceCrc32c(bytes));
      }),
      { numRuns: RUNS_PER_LENGTH },
    );
  }
});

test('crc32c agrees with the reference on larger inputs', () => {
  fc.assert(
    fc.property(
      fc.uint8Array({ minLength: 101, maxLength: LARGE_LENGTH_MAX, size: 'max' }),
      (bytes) => {
        assert.equal(crc32c(bytes), referenceCrc32c(bytes));
      },
    ),
    { numRuns: LARGE_RUNS },
  );
});

test('crc32c continues incrementally: crc(a + b) == crc32c(b, crc32c(a))', () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 300 }), fc.uint8Array({ maxLength: 300 }), (a, b) => {
      const joined = new Uint8Array(a.length + b.length);
      joined.set(a, 0);
      joined.set(b, a.length);
      assert.equal(crc32c(b, crc32c(a)), crc32c(joined));
      assert.equal(referenceCrc32c(b, referenceCrc32c(a)), crc32c(joined));
    }),
  );
});

test('crc32c over [start, end) equals crc32c of that slice, whatever the alignment', () => {
  fc.assert(
    fc.property(
      fc.uint8Array({ maxLength: 300 }),
      fc.nat(),
      fc.nat(),
      fc.nat({ max: 0xffffffff }),
      (bytes, first, second, previous) => {
        const start = first % (bytes.length + 1);
        const end = start + (second % (bytes.length - start + 1));
        const slice = bytes.slice(start, end);
        assert.equal(crc32c(bytes, 0, start, end), referenceCrc32c(slice));
        // A slice that starts at an odd byte inside a larger buffer is how the log checks a
        // batch in place; the view must not matter either.
        assert.equal(crc32c(bytes.subarray(start, end)), referenceCrc32c(slice));
        assert.equal(crc32c(bytes, previous, start, end), referenceCrc32c(slice, previous));
      },
    ),
  );
});

test('crc32c with only a start reads to the end of the buffer', () => {
  const bytes = filled(40, (index) => index * 7);
  for (let start = 0; start <= bytes.length; start++) {
    assert.equal(crc32c(bytes, 0, start), referenceCrc32c(bytes.subarray(start)));
  }
});

test('crc32c detects every single-bit flip in a 64-byte message', () => {
  const bytes = filled(64, (index) => (index * 31 + 5) & 0xff);
  const original = crc32c(bytes);
  for (let bitIndex = 0; bitIndex < bytes.length * 8; bitIndex++) {
    const flipped = bytes.slice();
    flipped[bitIndex >> 3]! ^= 1 << (bitIndex & 7);
    assert.notEqual(crc32c(flipped), original, `bit ${bitIndex}`);
  }
});
