/**
 * Header filter policies (content-based routing), the language of SNS filter policies on
 * message attributes: header name -> an exact string, or a list of conditions of which one
 * must hold (exact, prefix, exists, anything-but, numeric); every name must match.
 * docs/concepts.md, "Header filter policies", states the semantics.
 *
 * A policy is validated once (`validateHeaderFilter`, INVALID_ARGUMENT naming the path of the
 * bad part) and compiled once per subscription (`compileHeaderFilter`) into a matcher that
 * tests each name with sets and plain loops: no parsing or allocation per message, except one
 * number parse per numeric name.
 */
import type {
  HeaderCondition,
  HeaderFilter,
  Headers,
  NumericComparison,
} from '../protocol/index.js';
import {
  HEADER_FILTER_CONDITIONS_MAX,
  HEADER_FILTER_NAMES_MAX,
  HEADER_FILTER_STRING_BYTES_MAX,
  HEADER_FILTER_VALUES_PER_NAME_MAX,
  HEADER_NAME_BYTES_MAX,
} from '../limits.js';
import { assert } from '../util/index.js';
import { invalid } from './option-checks.js';

const CONDITION_KINDS = ['prefix', 'exists', 'anything-but', 'numeric'] as const;
const LOWER_OPERATORS: readonly string[] = ['>', '>='];
const UPPER_OPERATORS: readonly string[] = ['<', '<='];

/**
 * A finite decimal number, as a header carries it: optional sign, digits with an optional
 * fraction, optional exponent. Not '', not hex, not 'Infinity', no surrounding spaces (which
 * Number() would all accept).
 */
const DECIMAL = /^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?$/;

/** The number a header value spells, or null when it is not a finite decimal number. */
export function parseDecimal(text: string): number | null {
  if (!DECIMAL.test(text)) return null;
  const number = Number(text);
  return Number.isFinite(number) ? number : null;
}

// ---- validation ---------------------------------------------------------------------------

function filterString(value: unknown, field: string, allowEmpty: boolean): string {
  if (typeof value !== 'string' || (!allowEmpty && value.length === 0)) {
    throw invalid(field, allowEmpty ? 'must be a string' : 'must be a non-empty string');
  }
  if (Buffer.byteLength(value) > HEADER_FILTER_STRING_BYTES_MAX) {
    throw invalid(field, `is longer than ${HEADER_FILTER_STRING_BYTES_MAX} bytes`);
  }
  return value;
}

function prefixObject(value: unknown, field: string): { prefix: string } {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw invalid(field, 'must be { prefix: string }');
  }
  const keys = Object.keys(value);
  if (keys.length !== 1 || keys[0] !== 'prefix') throw invalid(field, 'must be { prefix: string }');
  return { prefix: filterString((value as { prefix: unknown }).prefix, `${field}.prefix`, false) };
}

function numericBound(value: unknown, field: string): number {
  if (typeof value !== 'number' || !Number.isFinite(value)) {
    throw invalid(field, `must be a finite number (got ${JSON.stringify(value)})`);
  }
  return value;
}

const NUMERIC_FORMS =
  "must be ['=', n], [op, n] with op one of <, <=, >, >=, or a range [> or >=, low, < or <=, high]";

function validateNumeric(value: unknown, field: string): NumericComparison {
  if (!Array.isArray(value)) throw invalid(field, NUMERIC_FORMS);
  const items = value as unknown[];
  if (items.length === 2) {
    const [operator, bound] = items;
    if (
      operator !== '=' &&
      !LOWER_OPERATORS.includes(operator as string) &&
      !UPPER_OPERATORS.includes(operator as string)
    ) {
      throw invalid(field, NUMERIC_FORMS);
    }
    return [operator as NumericComparison[0], numericBound(bound, `${field}[1]`)];
  }
  if (items.length === 4) {
    const [lowerOperator, lower, upperOperator, upper] = items;
    if (
      !LOWER_OPERATORS.includes(lowerOperator as string) ||
      !UPPER_OPERATORS.includes(upperOperator as string)
    ) {
      throw invalid(field, NUMERIC_FORMS);
    }
    const low = numericBound(lower, `${field}[1]`);
    const high = numericBound(upper, `${field}[3]`);
    if (low > high || (low === high && (lowerOperator !== '>=' || upperOperator !== '<='))) {
      throw invalid(field, `is an empty range (${JSON.stringify(value)} matches no number)`);
    }
    return [lowerOperator as '>' | '>=', low, upperOperator as '<' | '<=', high];
  }
  throw invalid(field, NUMERIC_FORMS);
}

/** One condition, copied; returns it and how many values it counts for. */
function validateCondition(value: unknown, field: string): [HeaderCondition, number] {
  if (typeof value === 'string') return [filterString(value, field, true), 1];
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw invalid(
      field,
      'must be a string (exact match) or one of { prefix }, { exists }, { anything-but }, { numeric }',
    );
  }
  const keys = Object.keys(value);
  const kind = keys[0];
  if (keys.length !== 1 || !(CONDITION_KINDS as readonly string[]).includes(kind!)) {
    throw invalid(
      field,
      `must hold exactly one of ${CONDITION_KINDS.join(', ')} (got ${JSON.stringify(keys)})`,
    );
  }
  const operand = (value as Record<string, unknown>)[kind!];
  const path = `${field}.${kind}`;
  switch (kind as (typeof CONDITION_KINDS)[number]) {
    case 'prefix':
      return [{ prefix: filterString(operand, path, false) }, 1];
    case 'exists':
      if (typeof operand !== 'boolean') throw invalid(path, 'must be true or false');
      return [{ exists: operand }, 1];
    case 'numeric':
      return [{ numeric: validateNumeric(operand, path) }, 1];
    case 'anything-but': {
      if (typeof operand === 'string') {
        return [{ 'anything-but': filterString(operand, path, true) }, 1];
      }
      if (Array.isArray(operand)) {
        if (operand.length === 0) throw invalid(path, 'must list at least one value');
        if (operand.length > HEADER_FILTER_VALUES_PER_NAME_MAX) {
          throw invalid(path, `lists more than ${HEADER_FILTER_VALUES_PER_NAME_MAX} values`);
        }
        const values = operand.map((item: unknown, index) =>
          filterString(item, `${path}[${index}]`, true),
        );
        return [{ 'anything-but': values }, values.length];
      }
      if (typeof operand === 'object' && operand !== null) {
        return [{ 'anything-but': prefixObject(operand, path) }, 1];
      }
      throw invalid(path, 'must be a string, a list of strings or { prefix: string }');
    }
  }
}

/**
 * Validates a policy; throws INVALID_ARGUMENT naming the path of the bad part
 * (`headerFilter.price[0].numeric`). Returns a copy with the names sorted, so that two equal
 * policies compare equal, and each condition as given (a plain string stays a string, so a
 * policy of today's `{ name: value }` form is stored unchanged). `stored`: read back from
 * disk, where a plain string value written before HEADER_FILTER_STRING_BYTES_MAX existed is
 * taken whatever its size.
 */
export function validateHeaderFilter(
  value: unknown,
  field = 'headerFilter',
  origin: 'given' | 'stored' = 'given',
): HeaderFilter {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw invalid(field, 'must be an object of header name -> a string or a list of conditions');
  }
  const entries = Object.entries(value as Record<string, unknown>).sort(([a], [b]) =>
    a < b ? -1 : a > b ? 1 : 0,
  );
  if (entries.length > HEADER_FILTER_NAMES_MAX) {
    throw invalid(field, `tests more than ${HEADER_FILTER_NAMES_MAX} header names`);
  }
  let total = 0;
  const copied: [string, string | HeaderCondition[]][] = [];
  for (const [name, rule] of entries) {
    if (name.length === 0 || Buffer.byteLength(name) > HEADER_NAME_BYTES_MAX) {
      throw invalid(field, `has a bad header name ${JSON.stringify(name.slice(0, 64))}`);
    }
    const path = `${field}.${name}`;
    if (typeof rule === 'string' && origin === 'stored') {
      // Today's `{ name: value }` form had no bound on the value: a stored one keeps working.
      copied.push([name, rule]);
      total += 1;
    } else if (typeof rule === 'string') {
      copied.push([name, filterString(rule, path, true)]);
      total += 1;
    } else if (Array.isArray(rule)) {
      if (rule.length === 0) throw invalid(path, 'must list at least one condition');
      if (rule.length > HEADER_FILTER_VALUES_PER_NAME_MAX) {
        throw invalid(path, `holds more than ${HEADER_FILTER_VALUES_PER_NAME_MAX} values`);
      }
      let count = 0;
      const conditions = rule.map((item: unknown, index) => {
        const [condition, values] = validateCondition(item, `${path}[${index}]`);
        count += values;
        return condition;
      });
      if (count > HEADER_FILTER_VALUES_PER_NAME_MAX) {
        throw invalid(path, `holds more than ${HEADER_FILTER_VALUES_PER_NAME_MAX} values`);
      }
      copied.push([name, conditions]);
      total += count;
    } else {
      throw invalid(path, 'must be a string (exact match) or a list of conditions');
    }
    if (total > HEADER_FILTER_CONDITIONS_MAX) {
      throw invalid(field, `holds more than ${HEADER_FILTER_CONDITIONS_MAX} conditions`);
    }
  }
  // fromEntries defines own properties: a name such as "__proto__" stays a plain key.
  return Object.fromEntries(copied);
}

// ---- matching -----------------------------------------------------------------------------

interface NumericRange {
  readonly low: number;
  readonly lowInclusive: boolean;
  readonly high: number;
  readonly highInclusive: boolean;
}

interface AnythingBut {
  /** Matches a value not in this set (null: see prefix). */
  readonly values: ReadonlySet<string> | null;
  /** Matches a value that does not start with this. */
  readonly prefix: string | null;
}

/** One name's conditions, grouped by kind; any one that holds matches. */
interface NameTest {
  readonly name: string;
  /** The rule is one exact string (today's common form): compared directly. */
  readonly only: string | null;
  readonly whenAbsent: boolean;
  readonly whenPresent: boolean;
  readonly exact: ReadonlySet<string>;
  readonly prefixes: readonly string[];
  readonly anythingBut: readonly AnythingBut[];
  readonly ranges: readonly NumericRange[];
}

function range(comparison: NumericComparison): NumericRange {
  if (comparison.length === 4) {
    const [lowerOperator, low, upperOperator, high] = comparison;
    return {
      low,
      lowInclusive: lowerOperator === '>=',
      high,
      highInclusive: upperOperator === '<=',
    };
  }
  const [operator, bound] = comparison;
  switch (operator) {
    case '=':
      return { low: bound, lowInclusive: true, high: bound, highInclusive: true };
    case '>':
    case '>=':
      return { low: bound, lowInclusive: operator === '>=', high: Infinity, highInclusive: false };
    case '<':
    case '<=':
      return { low: -Infinity, lowInclusive: false, high: bound, highInclusive: operator === '<=' };
  }
}

function nameTest(name: string, rule: string | readonly HeaderCondition[]): NameTest {
  const exact = new Set<string>();
  const prefixes: string[] = [];
  const anythingBut: AnythingBut[] = [];
  const ranges: NumericRange[] = [];
  let whenAbsent = false;
  let whenPresent = false;
  for (const condition of typeof rule === 'string' ? [rule] : rule) {
    if (typeof condition === 'string') exact.add(condition);
    else if ('prefix' in condition) prefixes.push(condition.prefix);
    else if ('exists' in condition) {
      if (condition.exists) whenPresent = true;
      else whenAbsent = true;
    } else if ('numeric' in condition) ranges.push(range(condition.numeric));
    else {
      const operand = condition['anything-but'];
      if (typeof operand === 'string')
        anythingBut.push({ values: new Set([operand]), prefix: null });
      else if (Array.isArray(operand)) {
        anythingBut.push({ values: new Set(operand as readonly string[]), prefix: null });
      } else {
        anythingBut.push({ values: null, prefix: (operand as { prefix: string }).prefix });
      }
    }
  }
  const only =
    typeof rule === 'string'
      ? rule
      : rule.length === 1 && typeof rule[0] === 'string'
        ? rule[0]
        : null;
  return { name, only, whenAbsent, whenPresent, exact, prefixes, anythingBut, ranges };
}

function inRange(number: number, range: NumericRange): boolean {
  return (
    (range.lowInclusive ? number >= range.low : number > range.low) &&
    (range.highInclusive ? number <= range.high : number < range.high)
  );
}

function valueMatches(test: NameTest, value: string | undefined): boolean {
  // Every condition but exists:false needs the header: SNS's rule, anything-but included.
  if (value === undefined) return test.whenAbsent;
  if (test.whenPresent || test.exact.has(value)) return true;
  for (const prefix of test.prefixes) if (value.startsWith(prefix)) return true;
  for (const but of test.anythingBut) {
    if (but.values !== null ? !but.values.has(value) : !value.startsWith(but.prefix!)) return true;
  }
  if (test.ranges.length > 0) {
    const number = parseDecimal(value);
    if (number !== null) for (const range of test.ranges) if (inRange(number, range)) return true;
  }
  return false;
}

export interface HeaderMatcher {
  /** true when the headers match the policy (always, for the empty policy). */
  matches(headers: Headers): boolean;
}

/** Compiles a validated policy (validateHeaderFilter's result) into a matcher. */
export function compileHeaderFilter(policy: HeaderFilter): HeaderMatcher {
  const tests = Object.entries(policy).map(([name, rule]) => nameTest(name, rule));
  assert(tests.length <= HEADER_FILTER_NAMES_MAX, 'a compiled header filter was validated');
  return {
    matches(headers: Headers): boolean {
      for (const test of tests) {
        const value = headers[test.name];
        if (test.only !== null) {
          if (value !== test.only) return false;
          continue;
        }
        // typeof: a name such as "constructor" must not find the object's prototype.
        if (!valueMatches(test, typeof value === 'string' ? value : undefined)) return false;
      }
      return true;
    },
  };
}
