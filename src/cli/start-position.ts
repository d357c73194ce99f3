/**
 * The CLI's `--start` value: `earliest`, `latest`, an offset (`42`, in every partition, or
 * `P:42` for one partition) or an ISO 8601 time (`2026-12-02T13:00:00Z`, `2026-12-02`).
 * Anything else is refused here, naming the flag, before anything reaches the server.
 */
import type { StartPosition } from '../protocol/index.js';
import { WeirError } from '../util/index.js';

/** Digits only: an offset (a number like `1e3` or `-1` is not one). */
const OFFSET_PATTERN = /^\d+$/;
/** `partition:offset`. */
const PARTITION_OFFSET_PATTERN = /^(\d+):(\d+)$/;
/** What counts as ISO 8601 here: a calendar date first (Date.parse alone takes far more). */
const ISO_DATE_PATTERN = /^\d{4}-\d{2}-\d{2}(?:[T ]|$)/;

function safeInteger(text: string, flag: string, what: string): number {
  const value = Number(text);
  if (!Number.isSafeInteger(value)) {
    throw new WeirError('INVALID_ARGUMENT', `${flag}: ${what} ${text} is too large`);
  }
  return value;
}

export function parseStartPosition(text: string, flag = '--start'): StartPosition {
  if (text === 'earliest' || text === 'latest') return text;
  if (OFFSET_PATTERN.test(text)) return { offset: safeInteger(text, flag, 'offset') };
  const partitioned = PARTITION_OFFSET_PATTERN.exec(text);
  if (partitioned) {
    return {
      partition: safeInteger(partitioned[1]!, flag, 'partition'),
      offset: safeInteger(partitioned[2]!, flag, 'offset'),
    };
  }
  if (ISO_DATE_PATTERN.test(text)) {
    const timeMs = Date.parse(text);
    if (!Number.isNaN(timeMs)) return { timeMs };
  }
  throw new WeirError(
    'INVALID_ARGUMENT',
    `${flag} must be earliest, latest, an offset (N or PARTITION:N) or an ISO 8601 time, not "${text}"`,
  );
}
