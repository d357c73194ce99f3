/** Header filter policies: validation, number parsing, and the compiled matcher against a reference. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import {
  compileHeaderFilter,
  parseDecimal,
  validateHeaderFilter,
} from '../../src/broker/header-filter.js';
import {
  parseStoredSubscriptionConfig,
  resolveSubscribe,
} from '../../src/broker/subscription-config.js';
import { HEADER_FILTER_STRING_BYTES_MAX } from '../../src/limits.js';
import type { HeaderCondition, HeaderFilter, Headers } from '../../src/protocol/index.js';

/** The semantics of docs/concepts.md, written the plain way. */
function referenceCondition(condition: HeaderCondition, value: string | undefined): boolean {
  if (typeof condition === 'string') return value === condition;
  if ('exists' in condition) return condition.exists === (value !== undefined);
  if (value === undefined) return false;
  if ('prefix' in condition) return value.startsWith(condition.prefix);
  if ('anything-but' in condition) {
    const operand = condition['anything-but'];
    if (typeof operand === 'string') return value !== operand;
    if (Array.isArray(operand)) return !operand.includes(value);
    return !value.startsWith((operand as { prefix: string }).prefix);
  }
  if (!/^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$/.test(value)) return false;
  const number = Number(value);
  if (!Number.isFinite(number)) return false;
  const comparison = condition.numeric;
  const compare = (operator: string, bound: number): boolean =>
    operator === '='
      ? number === bound
      : operator === '<'
        ? number < bound
        : operator === '<='
          ? number <= bound
          : operator === '>'
            ? number > bound
            : number >= bound;
  return comparison.length === 2
    ? compare(comparison[0], comparison[1])
    : compare(comparison[0], comparison[1]) && compare(comparison[2], comparison[3]);
}

function referenceMatches(policy: HeaderFilter, headers: Headers): boolean {
  return Object.entries(policy).every(([name, rule]) => {
    const value = Object.hasOwn(headers, name) ? headers[name] : undefined;
    return (typeof rule === 'string' ? [rule] : rule).some((condition) =>
      referenceCondition(condition, value),
    );
  });
}

const NAMES = ['a', 'b', 'c'];
const VALUES = ['', 'x', 'xy', 'y', '0', '1', '1.5', '-2', '10', '1e1', 'abc'];
const name = fc.constantFrom(...NAMES);
const text = fc.constantFrom(...VALUES);
const bound = fc.constantFrom(-2, 0, 1, 1.5, 10);
const condition: fc.Arbitrary<HeaderCondition> = fc.oneof(
  text,
  text.filter((value) => value !== '').map((prefix) => ({ prefix })),
  fc.boolean().map((exists) => ({ exists })),
  text.map((value) => ({ 'anything-but': value })),
  fc.array(text, { minLength: 1, maxLength: 3 }).map((values) => ({ 'anything-but': values })),
  text.filter((value) => value !== '').map((prefix) => ({ 'anything-but': { prefix } })),
  fc
    .tuple(fc.constantFrom('=', '<', '<=', '>', '>=' as const), bound)
    .map(([operator, value]) => ({ numeric: [operator, value] as const })),
  fc
    .tuple(fc.constantFrom('>', '>=' as const), bound, fc.constantFrom('<', '<=' as const), bound)
    .filter(([, low, , high]) => low < high)
    .map((range) => ({ numeric: range })),
);
const policy: fc.Arbitrary<HeaderFilter> = fc.dictionary(
  name,
  fc.oneof(text, fc.array(condition, { minLength: 1, maxLength: 4 })),
  { maxKeys: 3 },
);
const headers: fc.Arbitrary<Headers> = fc.dictionary(name, text, { maxKeys: 3 });

test('the compiled matcher agrees with the reference semantics on random policies and headers', () => {
  fc.assert(
    fc.property(policy, fc.array(headers, { minLength: 1, maxLength: 8 }), (input, messages) => {
      const validated = validateHeaderFilter(input);
      const matcher = compileHeaderFilter(validated);
      for (const message of messages) {
        assert.equal(
          matcher.matches(message),
          referenceMatches(input, message),
          `${JSON.stringify(input)} on ${JSON.stringify(message)}`,
        );
      }
    }),
    { numRuns: 500 },
  );
});

test('the empty policy matches every message', () => {
  const matcher = compileHeaderFilter(validateHeaderFilter({}));
  assert.equal(matcher.matches({}), true);
  assert.equal(matcher.matches({ any: 'thing' }), true);
});

test('parseDecimal takes finite decimal numbers only', () => {
  for (const [input, expected] of [
    ['0', 0],
    ['-0.5', -0.5],
    ['+7', 7],
    ['.25', 0.25],
    ['3.', 3],
    ['1e3', 1000],
    ['2.5E-1', 0.25],
  ] as const) {
    assert.equal(parseDecimal(input), expected, input);
  }
  for (const input of ['', ' 1', '1 ', '0x10', '0b1', 'Infinity', '-Infinity', 'NaN', '1e999']) {
    assert.equal(parseDecimal(input), null, JSON.stringify(input));
  }
  for (const input of ['1,5', '1_000', '--1', '.', 'e5', '1e', '١']) {
    assert.equal(parseDecimal(input), null, JSON.stringify(input));
  }
});

test('names that are properties of every object are plain header names', () => {
  const policy = validateHeaderFilter(
    JSON.parse('{"__proto__": "x", "constructor": [{"exists": true}]}'),
  );
  assert.deepEqual(Object.keys(policy), ['__proto__', 'constructor']);
  assert.equal(Object.getPrototypeOf(policy), Object.prototype);
  const matcher = compileHeaderFilter(policy);
  assert.equal(matcher.matches({}), false, 'constructor is absent from an empty header map');
  assert.equal(
    matcher.matches(JSON.parse('{"__proto__": "x", "constructor": "y"}') as Headers),
    true,
  );
  const absent = compileHeaderFilter(validateHeaderFilter({ toString: [{ exists: false }] }));
  assert.equal(absent.matches({}), true);
});

test('validation copies the policy with its names sorted and keeps each condition as given', () => {
  const input = {
    z: 'exact',
    a: [{ numeric: ['>', 1] }, 'v', { 'anything-but': { prefix: 'p' } }],
  };
  const validated = validateHeaderFilter(input);
  assert.deepEqual(Object.keys(validated), ['a', 'z']);
  assert.deepEqual(validated, input);
  assert.notEqual(validated.a, input.a);
});

test('a condition object with an unknown extra key is refused, naming it', () => {
  assert.throws(
    () => validateHeaderFilter({ a: [{ prefix: 'x', other: 1 }] }),
    (error: Error & { code?: string }) =>
      error.code === 'INVALID_ARGUMENT' &&
      /headerFilter\.a\[0\] must hold exactly one/.test(error.message),
  );
  assert.throws(
    () => validateHeaderFilter({ a: [{ 'anything-but': { prefix: 'x', other: 1 } }] }),
    /headerFilter\.a\[0\]\.anything-but must be \{ prefix: string \}/,
  );
});

test('a stored { name: value } filter of the original form opens whatever the size of its value', () => {
  const long = 'x'.repeat(HEADER_FILTER_STRING_BYTES_MAX + 1);
  assert.throws(
    () => resolveSubscribe({ subscription: 's', headerFilter: { tag: long } }),
    /headerFilter\.tag is longer than/,
  );
  // subscription.json as the broker before header filter policies wrote it.
  const config = parseStoredSubscriptionConfig({
    filter: [],
    headerFilter: { tag: long, region: 'eu' },
    mode: 'shared',
    ack: 'explicit',
    leaseMs: 30000,
    maxDeliveries: null,
    deadLetter: null,
    deadLetterExpired: false,
    deadLetterOverflow: false,
    backoff: { initialMs: 100, maxMs: 60000, multiplier: 2, jitter: 0 },
    maxInFlightTotal: null,
  });
  assert.deepEqual(config.headerFilter, { region: 'eu', tag: long });
  assert.equal(compileHeaderFilter(config.headerFilter).matches({ region: 'eu', tag: long }), true);
});
