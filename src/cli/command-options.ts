/** Option parsers and options the `weir` commands share. */
import { InvalidArgumentError, Option } from 'commander';
import { SERVER_PORT_DEFAULT } from '../limits.js';

export const URL_DEFAULT = process.env.WEIR_URL ?? `weir://127.0.0.1:${SERVER_PORT_DEFAULT}`;

/** A parser of integers ≥ `min` for the option `name`. */
export function integer(name: string, min = 0) {
  return (value: string): number => {
    const number = Number(value);
    if (!Number.isSafeInteger(number) || number < min)
      throw new InvalidArgumentError(`${name} must be an integer ≥ ${min}`);
    return number;
  };
}

/** For repeatable options: collects every value given. */
export function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

/** A cluster is given as its nodes, `weir://h1:p1,h2:p2`; the SDK finds the leader. */
export const urlOption = () =>
  new Option(
    '--url <url>',
    'server address, weir:// or weirs:// for TLS; a cluster: weir://host1:port1,host2:port2 (env WEIR_URL)',
  ).default(URL_DEFAULT);

/** A stream's overflow policy (`stream add`, `stream edit`). */
export const overflowOption = () =>
  new Option('--overflow <policy>', 'drop-oldest or reject-new').choices([
    'drop-oldest',
    'reject-new',
  ]);

/**
 * A parser of a limit for `weir stream edit`: an integer ≥ `min`, or `none` (kept as the
 * string: commander turns a parsed null into ''; `noneToNull` makes it null for the API).
 */
export function limitOrNone(name: string, min = 1) {
  const parse = integer(name, min);
  return (value: string): number | 'none' => {
    if (value === 'none') return 'none';
    try {
      return parse(value);
    } catch {
      throw new InvalidArgumentError(`${name} must be an integer ≥ ${min}, or none`);
    }
  };
}

/** Options parsed with `limitOrNone`: 'none' becomes null (clears the limit). */
export function noneToNull(options: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(
    Object.entries(options).map(([name, value]) => [name, value === 'none' ? null : value]),
  );
}
