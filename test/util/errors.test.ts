/**
 * The error registry is a contract with code outside the project: SDK users branch on the
 * code, the wire carries the number, the HTTP API answers with the status. This checks the
 * registry is consistent and that docs/errors.md documents every code exactly as registered
 * (fastify's error-list test, nats-server's errors.json).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { STATUS_CODES } from 'node:http';
import {
  ERROR_CODES,
  WeirError,
  errorCodeFromNumber,
  isErrorCode,
  isWeirError,
  type ErrorCode,
} from '../../src/util/errors.js';

// Compiled to dist/test/util/, so the repository root is three levels up.
const ERRORS_DOCUMENT = new URL('../../../docs/errors.md', import.meta.url);
const HTTP_ERROR_STATUS_MIN = 400;
const HTTP_ERROR_STATUS_MAX = 599;
/** Numbers stay small enough for a u16 field in a wire error frame. */
const ERROR_NUMBER_MAX = 0xffff;

const codes = Object.keys(ERROR_CODES) as ErrorCode[];

interface DocumentedCode {
  readonly number: number;
  readonly retriable: boolean;
  readonly httpStatus: number;
  readonly meaning: string;
  readonly raisedWhere: string;
}

/** The rows of the table in docs/errors.md: | `CODE` | number | yes/no | status | meaning | where | */
function documentedCodes(): Map<string, DocumentedCode> {
  const rows = new Map<string, DocumentedCode>();
  for (const line of readFileSync(ERRORS_DOCUMENT, 'utf8').split('\n')) {
    const match = /^\|\s*`([A-Z_]+)`\s*\|(.*)\|\s*$/.exec(line);
    if (match === null) continue;
    const cells = match[2]!.split('|').map((cell) => cell.trim());
    assert.equal(cells.length, 5, `docs/errors.md row for ${match[1]} has six columns`);
    const [number, retriable, httpStatus, meaning, raisedWhere] = cells as [
      string,
      string,
      string,
      string,
      string,
    ];
    assert.ok(!rows.has(match[1]!), `docs/errors.md lists ${match[1]} once`);
    assert.ok(retriable === 'yes' || retriable === 'no', `${match[1]}: retriable is yes or no`);
    rows.set(match[1]!, {
      number: Number(number),
      retriable: retriable === 'yes',
      httpStatus: Number(httpStatus),
      meaning,
      raisedWhere,
    });
  }
  return rows;
}

test('every error code has a unique positive number that fits the wire', () => {
  const seen = new Map<number, ErrorCode>();
  for (const code of codes) {
    const { number } = ERROR_CODES[code];
    assert.ok(Number.isInteger(number) && number > 0 && number <= ERROR_NUMBER_MAX, code);
    assert.equal(seen.get(number), undefined, `${code} reuses number ${number}`);
    seen.set(number, code);
  }
});

test('every error code maps to a valid HTTP error status', () => {
  for (const code of codes) {
    const { httpStatus } = ERROR_CODES[code];
    assert.ok(
      httpStatus >= HTTP_ERROR_STATUS_MIN && httpStatus <= HTTP_ERROR_STATUS_MAX,
      `${code}: ${httpStatus} is a 4xx or 5xx status`,
    );
    assert.ok(STATUS_CODES[httpStatus] !== undefined, `${code}: ${httpStatus} is a known status`);
  }
});

test('every error code is an upper-case name with a message', () => {
  for (const code of codes) {
    assert.match(code, /^[A-Z][A-Z0-9_]*$/);
    assert.ok(ERROR_CODES[code].message.length > 0, `${code} has a message`);
  }
});

test('every error code is documented in docs/errors.md as registered', () => {
  const documented = documentedCodes();
  for (const code of codes) {
    const row = documented.get(code);
    assert.ok(row !== undefined, `${code} is missing from docs/errors.md`);
    const registered = ERROR_CODES[code];
    assert.equal(row.number, registered.number, `${code}: number`);
    assert.equal(row.retriable, registered.retriable, `${code}: retriable`);
    assert.equal(row.httpStatus, registered.httpStatus, `${code}: HTTP status`);
    assert.ok(row.meaning.length > 0, `${code}: meaning`);
    assert.ok(row.raisedWhere.length > 0, `${code}: where it is raised`);
  }
  for (const code of documented.keys()) {
    assert.ok(isErrorCode(code), `docs/errors.md documents ${code}, which is not in ERROR_CODES`);
  }
});

test('numbers map back to their codes, and an unknown number to INTERNAL', () => {
  for (const code of codes) assert.equal(errorCodeFromNumber(ERROR_CODES[code].number), code);
  const unused = Math.max(...codes.map((code) => ERROR_CODES[code].number)) + 1;
  assert.equal(errorCodeFromNumber(unused), 'INTERNAL');
  assert.equal(errorCodeFromNumber(0), 'INTERNAL');
});

test('isErrorCode accepts registered codes only', () => {
  for (const code of codes) assert.ok(isErrorCode(code));
  for (const value of ['', 'not_found', 'toString', 'constructor', 42, null, undefined]) {
    assert.ok(!isErrorCode(value), String(value));
  }
});

test('WeirError carries its code, retriable flag, default message and cause', () => {
  const cause = new Error('EIO: i/o error, fdatasync');
  for (const code of codes) {
    const error = new WeirError(code, undefined, { cause });
    assert.ok(error instanceof Error);
    assert.equal(error.name, 'WeirError');
    assert.equal(error.code, code);
    assert.equal(error.retriable, ERROR_CODES[code].retriable);
    assert.equal(error.message, ERROR_CODES[code].message);
    assert.equal(error.cause, cause);
    assert.ok(isWeirError(error));
    assert.ok(isWeirError(error, code));
  }
  const custom = new WeirError('INVALID_ARGUMENT', 'segmentBytes must be at least 4096');
  assert.equal(custom.message, 'segmentBytes must be at least 4096');
  assert.ok(!isWeirError(custom, 'STREAM_NOT_FOUND'));
  assert.ok(!isWeirError(new Error('plain')));
});
