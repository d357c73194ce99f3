// A subscription's header filter policy (docs/concepts.md, "Header filter policies") in the
// `weir sub --where` syntax of docs/cli.md, for people: `region=eu and (kind=a or kind=b)`.

function condition(name, item) {
  if (typeof item === 'string') return `${name}=${item}`;
  if ('prefix' in item) return `${name}^=${item.prefix}`;
  if ('exists' in item) return item.exists ? `${name} exists` : `!${name}`;
  if ('numeric' in item) {
    const [operator, bound, upperOperator, upper] = item.numeric;
    const first = `${name}${operator === '=' ? '==' : operator}${bound}`;
    return upperOperator === undefined ? first : `${first} and ${name}${upperOperator}${upper}`;
  }
  const operand = item['anything-but'];
  if (typeof operand === 'string') return `${name}!=${operand}`;
  if (Array.isArray(operand)) return `${name} not in ${operand.join(',')}`;
  return `${name}!^=${operand.prefix}`;
}

export function formatHeaderFilter(policy) {
  const names = Object.entries(policy ?? {}).map(([name, rule]) => {
    const parts = (typeof rule === 'string' ? [rule] : rule).map((item) => condition(name, item));
    return parts.length === 1 ? parts[0] : `(${parts.join(' or ')})`;
  });
  return names.length === 0 ? 'every message' : names.join(' and ');
}
