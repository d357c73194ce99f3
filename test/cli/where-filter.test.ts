/** The `--where` syntax and `--header-filter`: what each expression means, and what is refused. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  formatHeaderFilter,
  headerFilterFromFlags,
  parseWhere,
} from '../../src/cli/where-filter.js';

test('each --where form gives its condition', () => {
  const cases: [string, unknown][] = [
    ['region=eu', { region: ['eu'] }],
    ['region = eu', { region: ['eu'] }],
    ['note=a=b c', { note: ['a=b c'] }],
    ['empty=', { empty: [''] }],
    ['kind in created,updated', { kind: ['created', 'updated'] }],
    ['kind in created, updated ,x', { kind: ['created', 'updated', 'x'] }],
    ['sku^=AB-', { sku: [{ prefix: 'AB-' }] }],
    ['trace exists', { trace: [{ exists: true }] }],
    ['!debug', { debug: [{ exists: false }] }],
    ['status!=cancelled', { status: [{ 'anything-but': ['cancelled'] }] }],
    ['status not in cancelled,failed', { status: [{ 'anything-but': ['cancelled', 'failed'] }] }],
    ['env!^=test-', { env: [{ 'anything-but': { prefix: 'test-' } }] }],
    ['price>=100', { price: [{ numeric: ['>=', 100] }] }],
    ['price > 0', { price: [{ numeric: ['>', 0] }] }],
    ['price<2.5', { price: [{ numeric: ['<', 2.5] }] }],
    ['price<=-1e3', { price: [{ numeric: ['<=', -1000] }] }],
    ['size==5', { size: [{ numeric: ['=', 5] }] }],
    ['x-trace.id exists', { 'x-trace.id': [{ exists: true }] }],
  ];
  for (const [expression, expected] of cases) {
    assert.deepEqual(headerFilterFromFlags([expression], undefined), expected, expression);
  }
});

test('--where flags are ANDed; two bounds on one name make a range, several != one list', () => {
  assert.deepEqual(
    headerFilterFromFlags(
      ['region=eu', 'price>=100', 'price<200', 'status!=cancelled', 'status not in failed,x'],
      undefined,
    ),
    {
      region: ['eu'],
      price: [{ numeric: ['>=', 100, '<', 200] }],
      status: [{ 'anything-but': ['cancelled', 'failed', 'x'] }],
    },
  );
  // The upper bound may come first.
  assert.deepEqual(headerFilterFromFlags(['p<=9', 'p>1'], undefined), {
    p: [{ numeric: ['>', 1, '<=', 9] }],
  });
});

test('--header-filter takes a whole policy, and adds to --where on other names', () => {
  assert.equal(headerFilterFromFlags([], undefined), undefined);
  assert.deepEqual(headerFilterFromFlags([], '{"kind":["a",{"prefix":"b"}]}'), {
    kind: ['a', { prefix: 'b' }],
  });
  assert.deepEqual(headerFilterFromFlags(['region=eu'], '{"kind":"a"}'), {
    kind: 'a',
    region: ['eu'],
  });
});

test('what --where cannot mean is refused with INVALID_ARGUMENT naming the expression', () => {
  const refused: [string[], string | undefined, RegExp][] = [
    [['region'], undefined, /--where "region": needs an operator/],
    [['region eu'], undefined, /--where "region eu": after the name comes/],
    [['=eu'], undefined, /must start with a header name/],
    [['!'], undefined, /'!name' takes a header name only/],
    [['!a=b'], undefined, /'!name' takes a header name only/],
    [['price>=cheap'], undefined, />= needs a finite decimal number/],
    [['price>='], undefined, />= needs a finite decimal number/],
    [['price>0x10'], undefined, /> needs a finite decimal number/],
    [['sku^='], undefined, /a prefix must not be empty/],
    [['a=1', 'a=2'], undefined, /"a" is given twice/],
    [['a=1', 'a exists'], undefined, /"a" is given twice/],
    [['p>1', 'p>2'], undefined, /numeric comparisons on "p" must be one, or a lower/],
    [['p==1', 'p<2'], undefined, /numeric comparisons on "p"/],
    [['p>1', 'p<2', 'p<3'], undefined, /numeric comparisons on "p"/],
    [['kind=a'], '{"kind":"b"}', /the name is in --header-filter too/],
    [[], '{kind', /--header-filter is not JSON/],
    [[], '["a"]', /--header-filter must be a JSON object/],
  ];
  for (const [where, json, message] of refused) {
    assert.throws(
      () => headerFilterFromFlags(where, json),
      (error: Error & { code?: string }) => {
        assert.equal(error.code, 'INVALID_ARGUMENT', `${where.join(' ')}: ${error.message}`);
        assert.match(error.message, message);
        return true;
      },
      where.join(' '),
    );
  }
});

test('parseWhere names the header and keeps a value verbatim after the operator', () => {
  assert.deepEqual(parseWhere('  note= a b  '), {
    name: 'note',
    condition: { kind: 'exact', values: ['a b'] },
  });
});

test('formatHeaderFilter writes a policy back in the --where syntax', () => {
  assert.equal(formatHeaderFilter({}), 'every message');
  assert.equal(
    formatHeaderFilter({
      region: 'eu',
      kind: ['a', { prefix: 'b' }],
      price: [{ numeric: ['>=', 100, '<', 200] }],
      size: [{ numeric: ['=', 5] }],
      trace: [{ exists: true }],
      debug: [{ exists: false }],
      status: [{ 'anything-but': ['x', 'y'] }],
      one: [{ 'anything-but': 'z' }],
      env: [{ 'anything-but': { prefix: 'test-' } }],
    }),
    'region=eu and (kind=a or kind^=b) and price>=100 and price<200 and size==5 and trace exists and !debug and status not in x,y and one!=z and env!^=test-',
  );
});
