/**
 * Lines of stdin, read through one reader for the whole process: `--password-stdin` takes the
 * first line and `weir pub` (no body) publishes the rest. Two readers would each buffer ahead,
 * and what one buffered the other would never see.
 */
import * as readline from 'node:readline';
import { WeirError } from '../util/index.js';

let input: readline.Interface | null = null;
let lines: AsyncIterator<string> | null = null;

function reader(): AsyncIterator<string> {
  if (lines === null) {
    input = readline.createInterface({ input: process.stdin, crlfDelay: Infinity });
    lines = input[Symbol.asyncIterator]();
  }
  return lines;
}

/**
 * Lets go of stdin once the command is done (main.ts): a reader left open on a terminal
 * would keep the process alive after `--password-stdin` read its one line.
 */
export function closeStandardInput(): void {
  input?.close();
  input = null;
  lines = null;
}

/** The next line of stdin, or null at its end. */
export async function nextStandardInputLine(): Promise<string | null> {
  const next = await reader().next();
  return next.done === true ? null : next.value;
}

/** Every line of stdin not read yet. */
export async function* remainingStandardInputLines(): AsyncGenerator<string> {
  for (;;) {
    const line = await nextStandardInputLine();
    if (line === null) return;
    yield line;
  }
}

/** The first line of stdin as a secret (`--password-stdin`); INVALID_ARGUMENT if stdin is empty. */
export async function readSecretLine(what: string): Promise<string> {
  const line = await nextStandardInputLine();
  if (line === null || line.length === 0) {
    throw new WeirError('INVALID_ARGUMENT', `--password-stdin: stdin holds no ${what}`);
  }
  return line;
}
