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

export const urlOption = () =>
  new Option('--url <url>', 'server address (env WEIR_URL)').default(URL_DEFAULT);
