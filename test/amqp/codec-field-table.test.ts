/**
 * AMQP field tables with RabbitMQ's errata types: exact bytes for known encodings, every type
 * decoded from hand-made bytes, generated tables round-trip, and malformed or too deeply
 * nested tables fail with 502 syntax-error. Replay a failure with WEIR_SEED=<seed>.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  AmqpFrameError,
  FIELD_TABLE_DEPTH_MAX,
  REPLY_CODES,
  decodeFieldTable,
  encodeFieldTable,
  type FieldTable,
  type FieldValue,
} from '../../src/amqp/codec/index.js';

const SEED = Number(process.env['WEIR_SEED'] ?? Date.now() % 2 ** 31);
const bytes = (...values: number[]): Uint8Array => Uint8Array.from(values);
const ascii = (text: string): number[] => [...Buffer.from(text, 'latin1')];

/** A table of one entry named "k" holding the value bytes `value` (type octet first). */
function oneEntry(value: number[]): Uint8Array {
  return bytes(0, 0, 0, 2 + value.length, 1, 0x6b, ...value);
}

function isSyntaxError(error: unknown): boolean {
  assert.ok(error instanceof AmqpFrameError, `expected an AmqpFrameError, got ${String(error)}`);
  assert.equal(error.replyCode, REPLY_CODES.syntaxError, error.message);
  return true;
}

test('{a: "b"} encodes as 00 00 00 08 01 61 53 00 00 00 01 62, and back', () => {
  const encoded = encodeFieldTable({ a: 'b' });
  assert.deepEqual(encoded, bytes(0, 0, 0, 8, 1, 0x61, 0x53, 0, 0, 0, 1, 0x62));
  assert.deepEqual(decodeFieldTable(encoded), { a: 'b' });
  assert.deepEqual(encodeFieldTable({}), bytes(0, 0, 0, 0));
});

test('each JavaScript value encodes as the documented type', () => {
  const cases: [FieldValue, number[]][] = [
    [true, [0x74, 1]],
    [false, [0x74, 0]],
    [-5, [0x49, 0xff, 0xff, 0xff, 0xfb]],
    [2 ** 31 - 1, [0x49, 0x7f, 0xff, 0xff, 0xff]],
    [2 ** 31, [0x6c, 0, 0, 0, 0, 0x80, 0, 0, 0]],
    [1.5, [0x64, 0x3f, 0xf8, 0, 0, 0, 0, 0, 0]],
    [-0, [0x64, 0x80, 0, 0, 0, 0, 0, 0, 0]],
    [2n ** 60n, [0x6c, 0x10, 0, 0, 0, 0, 0, 0, 0]],
    ['é', [0x53, 0, 0, 0, 2, 0xc3, 0xa9]],
    [bytes(7, 8), [0x78, 0, 0, 0, 2, 7, 8]],
    [new Date(1_700_000_000_999), [0x54, 0, 0, 0, 0, 0x65, 0x53, 0xf1, 0x00]],
    [null, [0x56]],
    [{ decimalPlaces: 2, value: 1234 }, [0x44, 2, 0, 0, 4, 0xd2]],
    [
      [1, 'x'],
      [0x41, 0, 0, 0, 11, 0x49, 0, 0, 0, 1, 0x53, 0, 0, 0, 1, 0x78],
    ],
    [{ z: false }, [0x46, 0, 0, 0, 4, 1, 0x7a, 0x74, 0]],
  ];
  for (const [value, expected] of cases) {
    assert.deepEqual(encodeFieldTable({ k: value }), oneEntry(expected), `type ${expected[0]}`);
  }
  // undefined is void, like null.
  assert.deepEqual(encodeFieldTable({ k: undefined } as unknown as FieldTable), oneEntry([0x56]));
});

test('every errata type decodes to its documented JavaScript value', () => {
  const cases: [number[], FieldValue][] = [
    [[0x74, 2], true],
    [[0x62, 0xff], -1],
    [[0x42, 0xff], 255],
    [[0x73, 0x80, 0], -32768],
    [[0x75, 0x80, 0], 32768],
    [[0x49, 0x80, 0, 0, 0], -(2 ** 31)],
    [[0x69, 0xff, 0xff, 0xff, 0xff], 2 ** 32 - 1],
    [[0x6c, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xfe], -2],
    [[0x6c, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff], 2n ** 63n - 1n],
    [[0x6c, 0x80, 0, 0, 0, 0, 0, 0, 0], -(2n ** 63n)],
    [[0x66, 0x3f, 0xc0, 0, 0], 1.5],
    [[0x64, 0x40, 0x09, 0x21, 0xfb, 0x54, 0x44, 0x2d, 0x18], Math.PI],
    [[0x44, 3, 0xff, 0xff, 0xff, 0xff], { decimalPlaces: 3, value: 2 ** 32 - 1 }],
    [[0x53, 0, 0, 0, 3, ...ascii('abc')], 'abc'],
    [
      [0x41, 0, 0, 0, 3, 0x74, 1, 0x56],
      [true, null],
    ],
    [[0x54, 0, 0, 0, 0, 0, 0, 0, 60], new Date(60_000)],
    [[0x46, 0, 0, 0, 0], {}],
    [[0x56], null],
    [[0x78, 0, 0, 0, 1, 0xff], bytes(0xff)],
  ];
  for (const [encoded, expected] of cases) {
    assert.deepEqual(decodeFieldTable(oneEntry(encoded)), { k: expected }, `type ${encoded[0]}`);
  }
});

test('a name "__proto__" is an own entry, not a prototype, and a repeated name keeps its last value', () => {
  const table = decodeFieldTable(
    encodeFieldTable(JSON.parse('{"__proto__": {"x": 1}}') as FieldTable),
  );
  assert.equal(Object.getPrototypeOf(table), Object.prototype);
  assert.deepEqual(Object.keys(table), ['__proto__']);
  assert.deepEqual(Object.getOwnPropertyDescriptor(table, '__proto__')?.value, { x: 1 });
  const repeated = bytes(0, 0, 0, 12, 1, 0x6b, 0x74, 1, 1, 0x6b, 0x49, 0, 0, 0, 9, 0);
  assert.throws(() => decodeFieldTable(repeated), isSyntaxError); // size 12 stops inside an entry
  assert.deepEqual(
    decodeFieldTable(bytes(0, 0, 0, 11, 1, 0x6b, 0x74, 1, 1, 0x6b, 0x49, 0, 0, 0, 9)),
    { k: 9 },
  );
});

const key = fc
  .string({ unit: 'binary', maxLength: 40 })
  .filter((name) => Buffer.byteLength(name) <= 255);
const { table: tableArbitrary } = fc.letrec<{ value: FieldValue; table: FieldTable }>((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', maxDepth: 4 },
    fc.boolean(),
    fc.integer(),
    fc.maxSafeInteger(),
    fc.double(),
    fc
      .bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n })
      .filter(
        (value) =>
          value < BigInt(Number.MIN_SAFE_INTEGER) || value > BigInt(Number.MAX_SAFE_INTEGER),
      ),
    fc.string({ unit: 'binary', maxLength: 50 }),
    fc.uint8Array({ maxLength: 50 }),
    fc.integer({ min: 0, max: 8.64e12 }).map((seconds) => new Date(seconds * 1000)),
    fc.constant(null),
    fc.record(
      {
        decimalPlaces: fc.integer({ min: 0, max: 255 }),
        value: fc.integer({ min: 0, max: 2 ** 32 - 1 }),
      },
      { noNullPrototype: true },
    ),
    fc.array(tie('value'), { maxLength: 4 }),
    tie('table'),
  ),
  table: fc.dictionary(key, tie('value'), { maxKeys: 5, noNullPrototype: true }),
}));

test(`generated tables round-trip, and re-encoding the decoded table gives the same bytes (seed ${SEED})`, () => {
  fc.assert(
    fc.property(tableArbitrary, (table) => {
      const encoded = encodeFieldTable(table);
      const decoded = decodeFieldTable(encoded);
      assert.deepEqual(decoded, table);
      assert.deepEqual(encodeFieldTable(decoded), encoded);
    }),
    { seed: SEED, numRuns: 1000 },
  );
});

test(`a table cut short anywhere fails with 502 syntax-error (seed ${SEED})`, () => {
  fc.assert(
    fc.property(tableArbitrary, fc.nat(), (table, cutSeed) => {
      const encoded = encodeFieldTable(table);
      const cut = cutSeed % encoded.length;
      assert.throws(() => decodeFieldTable(encoded.subarray(0, cut)), isSyntaxError);
    }),
    { seed: SEED, numRuns: 500 },
  );
});

test('an unknown type octet, an entry overrunning its table and bytes after it fail with 502', () => {
  assert.throws(() => decodeFieldTable(oneEntry([0x5a])), isSyntaxError); // 'Z'
  assert.throws(
    () => decodeFieldTable(bytes(0, 0, 0, 4, 1, 0x6b, 0x49, 0, 0, 0, 1)),
    isSyntaxError,
  );
  assert.throws(() => decodeFieldTable(bytes(0, 0, 0, 0, 0)), isSyntaxError);
  assert.throws(() => decodeFieldTable(bytes(0xff, 0xff, 0xff, 0xff)), isSyntaxError);
  // An array whose item overruns the array's size, though not the table's.
  assert.throws(
    () => decodeFieldTable(bytes(0, 0, 0, 10, 1, 0x6b, 0x41, 0, 0, 0, 1, 0x74, 1, 0)),
    isSyntaxError,
  );
  // A timestamp beyond the range of Date.
  assert.throws(() => decodeFieldTable(oneEntry([0x54, 0, 0x10, 0, 0, 0, 0, 0, 0])), isSyntaxError);
});

function nested(depth: number): FieldTable {
  let table: FieldTable = { leaf: 1 };
  for (let level = 1; level < depth; level++) table = { inner: table };
  return table;
}

test(`tables nest at most FIELD_TABLE_DEPTH_MAX (${FIELD_TABLE_DEPTH_MAX}) deep, counting arrays`, () => {
  const deepest = nested(FIELD_TABLE_DEPTH_MAX);
  assert.deepEqual(decodeFieldTable(encodeFieldTable(deepest)), deepest);
  assert.throws(() => encodeFieldTable(nested(FIELD_TABLE_DEPTH_MAX + 1)), RangeError);
  assert.throws(() => encodeFieldTable({ a: [[nested(FIELD_TABLE_DEPTH_MAX - 2)]] }), RangeError);
  // Decoding counts the same way: build a too-deep table by hand.
  let encoded = encodeFieldTable({ leaf: 1 });
  for (let level = 1; level <= FIELD_TABLE_DEPTH_MAX; level++) {
    const entry = bytes(1, 0x69, 0x46, ...encoded);
    encoded = bytes(0, 0, (entry.length >> 8) & 0xff, entry.length & 0xff, ...entry);
  }
  assert.throws(() => decodeFieldTable(encoded), isSyntaxError);
  const cyclic: Record<string, FieldValue> = {};
  cyclic['self'] = cyclic;
  assert.throws(() => encodeFieldTable(cyclic), RangeError);
});

test('values the wire cannot carry are refused when encoding', () => {
  assert.throws(() => encodeFieldTable({ ['x'.repeat(256)]: 1 }), RangeError);
  assert.throws(() => encodeFieldTable({ k: 2n ** 63n }), RangeError);
  assert.throws(() => encodeFieldTable({ k: new Date(-1000) }), RangeError);
  assert.throws(() => encodeFieldTable({ k: new Date(Number.NaN) }), RangeError);
  assert.throws(() => encodeFieldTable({ k: Symbol('s') } as unknown as FieldTable), RangeError);
});
