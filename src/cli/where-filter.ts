/**
 * `weir sub --where EXPR` (repeatable, ANDed) and `--header-filter JSON`: the CLI's way to a
 * subscription's header filter policy (docs/concepts.md, "Header filter policies"). The syntax
 * is in docs/cli.md:
 *
 *   name=value            exact              name in a,b,c         any of
 *   name^=prefix          prefix             name not in a,b,c     anything but these
 *   name!=value           anything but       name!^=prefix         anything but the prefix
 *   name exists           present            !name                 absent
 *   name==5  name>5  name>=5  name<5  name<=5                      numeric
 *
 * A name is one or more characters other than whitespace and `=<>!^,`; whitespace around an
 * operator is skipped; a value runs to the end of the argument, verbatim. `in` lists are split
 * at commas and each item trimmed. What this cannot spell (a name or list value with those
 * characters) goes through --header-filter. The broker validates the result.
 */
import type { HeaderCondition, HeaderFilter, NumericComparison } from '../protocol/index.js';
import { WeirError } from '../util/index.js';

const NAME = /^[^\s=<>!^,]+/;
/** Longest first, so that `>=` is not read as `>` and a value `=…`. */
const OPERATORS = ['!^=', '^=', '!=', '==', '>=', '<=', '=', '>', '<'] as const;
type Operator = (typeof OPERATORS)[number];
const DECIMAL = /^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?$/;

/** One --where: a header name and one condition on it. */
export interface WhereClause {
  readonly name: string;
  readonly condition:
    | { readonly kind: 'exact'; readonly values: readonly string[] }
    | { readonly kind: 'anything-but'; readonly values: readonly string[] }
    | { readonly kind: 'prefix' | 'anything-but-prefix'; readonly prefix: string }
    | { readonly kind: 'exists'; readonly exists: boolean }
    | {
        readonly kind: 'numeric';
        readonly operator: '=' | '<' | '<=' | '>' | '>=';
        readonly bound: number;
      };
}

function refuse(expression: string, why: string): WeirError {
  return new WeirError('INVALID_ARGUMENT', `--where ${JSON.stringify(expression)}: ${why}`);
}

function list(text: string): string[] {
  return text.split(',').map((item) => item.trim());
}

/** Parses one --where expression. */
export function parseWhere(expression: string): WhereClause {
  const text = expression.trim();
  if (text.startsWith('!')) {
    const name = NAME.exec(text.slice(1))?.[0];
    if (name === undefined || name.length !== text.length - 1) {
      throw refuse(expression, "'!name' takes a header name only");
    }
    return { name, condition: { kind: 'exists', exists: false } };
  }
  const name = NAME.exec(text)?.[0];
  if (name === undefined) throw refuse(expression, 'must start with a header name');
  const rest = text.slice(name.length);
  const afterSpace = rest.trimStart();
  const operator = OPERATORS.find((candidate) => afterSpace.startsWith(candidate));
  if (operator === undefined) {
    if (rest === '' || afterSpace === rest) {
      throw refuse(
        expression,
        `needs an operator after ${JSON.stringify(name)} (see weir sub --help)`,
      );
    }
    if (afterSpace === 'exists') return { name, condition: { kind: 'exists', exists: true } };
    const anyOf = /^in\s+(.*)$/s.exec(afterSpace);
    if (anyOf) return { name, condition: { kind: 'exact', values: list(anyOf[1]!) } };
    const noneOf = /^not\s+in\s+(.*)$/s.exec(afterSpace);
    if (noneOf) return { name, condition: { kind: 'anything-but', values: list(noneOf[1]!) } };
    throw refuse(
      expression,
      "after the name comes an operator, 'exists', 'in LIST' or 'not in LIST'",
    );
  }
  const value = afterSpace.slice(operator.length).trimStart();
  return { name, condition: operatorCondition(expression, operator, value) };
}

function operatorCondition(
  expression: string,
  operator: Operator,
  value: string,
): WhereClause['condition'] {
  switch (operator) {
    case '=':
      return { kind: 'exact', values: [value] };
    case '!=':
      return { kind: 'anything-but', values: [value] };
    case '^=':
    case '!^=':
      if (value === '') throw refuse(expression, 'a prefix must not be empty');
      return { kind: operator === '^=' ? 'prefix' : 'anything-but-prefix', prefix: value };
    default: {
      const number = DECIMAL.test(value) ? Number(value) : NaN;
      if (!Number.isFinite(number)) {
        throw refuse(
          expression,
          `${operator} needs a finite decimal number (got ${JSON.stringify(value)})`,
        );
      }
      return { kind: 'numeric', operator: operator === '==' ? '=' : operator, bound: number };
    }
  }
}

/** Two numeric clauses on one name: a lower and an upper bound make a range. */
function range(
  name: string,
  bounds: readonly { operator: string; bound: number }[],
): NumericComparison {
  if (bounds.length === 1) {
    const [only] = bounds;
    return [only!.operator as NumericComparison[0], only!.bound];
  }
  const lower = bounds.find((item) => item.operator === '>' || item.operator === '>=');
  const upper = bounds.find((item) => item.operator === '<' || item.operator === '<=');
  if (bounds.length !== 2 || lower === undefined || upper === undefined) {
    throw new WeirError(
      'INVALID_ARGUMENT',
      `--where: numeric comparisons on ${JSON.stringify(name)} must be one, or a lower (> or >=) and an upper (< or <=) bound`,
    );
  }
  return [lower.operator as '>' | '>=', lower.bound, upper.operator as '<' | '<=', upper.bound];
}

/**
 * The policy of every --where (ANDed) and --header-filter together. The clauses on one name
 * become that name's one rule: several `!=` / `not in` make one anything-but list, two numeric
 * bounds a range; other repeats of a name cannot be ANDed in a policy and are refused.
 */
export function headerFilterFromFlags(
  where: readonly string[],
  json: string | undefined,
): HeaderFilter | undefined {
  let base: Record<string, unknown> = {};
  if (json !== undefined) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(json);
    } catch (error) {
      throw new WeirError(
        'INVALID_ARGUMENT',
        `--header-filter is not JSON: ${(error as Error).message}`,
      );
    }
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
      throw new WeirError('INVALID_ARGUMENT', '--header-filter must be a JSON object (a policy)');
    }
    base = parsed as Record<string, unknown>;
  }
  if (where.length === 0) return json === undefined ? undefined : (base as HeaderFilter);
  const byName = new Map<string, WhereClause['condition'][]>();
  for (const expression of where) {
    const clause = parseWhere(expression);
    if (Object.hasOwn(base, clause.name)) {
      throw new WeirError(
        'INVALID_ARGUMENT',
        `--where on ${JSON.stringify(clause.name)}: the name is in --header-filter too`,
      );
    }
    const conditions = byName.get(clause.name) ?? [];
    conditions.push(clause.condition);
    byName.set(clause.name, conditions);
  }
  const policy: [string, unknown][] = Object.entries(base);
  for (const [name, conditions] of byName) policy.push([name, rule(name, conditions)]);
  return Object.fromEntries(policy) as HeaderFilter;
}

function rule(name: string, conditions: readonly WhereClause['condition'][]): HeaderCondition[] {
  const numeric = conditions.flatMap((item) => (item.kind === 'numeric' ? [item] : []));
  if (numeric.length === conditions.length) return [{ numeric: range(name, numeric) }];
  const excluded = conditions.flatMap((item) => (item.kind === 'anything-but' ? item.values : []));
  if (conditions.every((item) => item.kind === 'anything-but')) {
    return [{ 'anything-but': [...new Set(excluded)] }];
  }
  if (conditions.length > 1) {
    throw new WeirError(
      'INVALID_ARGUMENT',
      `--where: ${JSON.stringify(name)} is given twice; several != on a name, or a lower and an upper numeric bound, combine; for any of use 'name in a,b', for more --header-filter`,
    );
  }
  const condition = conditions[0]!;
  switch (condition.kind) {
    case 'exact':
      return [...condition.values];
    case 'prefix':
      return [{ prefix: condition.prefix }];
    case 'anything-but-prefix':
      return [{ 'anything-but': { prefix: condition.prefix } }];
    case 'exists':
      return [{ exists: condition.exists }];
    default:
      throw new WeirError('INVALID_ARGUMENT', `--where: no rule for ${JSON.stringify(name)}`);
  }
}

function condition(name: string, item: HeaderCondition): string {
  if (typeof item === 'string') return `${name}=${item}`;
  if ('prefix' in item) return `${name}^=${item.prefix}`;
  if ('exists' in item) return item.exists ? `${name} exists` : `!${name}`;
  if ('numeric' in item) {
    const numeric = item.numeric;
    const first = `${name}${numeric[0] === '=' ? '==' : numeric[0]}${numeric[1]}`;
    return numeric.length === 2 ? first : `${first} and ${name}${numeric[2]}${numeric[3]}`;
  }
  const operand = item['anything-but'];
  if (typeof operand === 'string') return `${name}!=${operand}`;
  if (Array.isArray(operand)) return `${name} not in ${(operand as string[]).join(',')}`;
  return `${name}!^=${(operand as { prefix: string }).prefix}`;
}

/** A policy in the --where syntax, for people: `region=eu and (kind=a or kind=b)`. */
export function formatHeaderFilter(policy: HeaderFilter): string {
  const names = Object.entries(policy).map(([name, rule]) => {
    const parts = (typeof rule === 'string' ? [rule] : rule).map((item) => condition(name, item));
    return parts.length === 1 ? parts[0]! : `(${parts.join(' or ')})`;
  });
  return names.length === 0 ? 'every message' : names.join(' and ');
}
