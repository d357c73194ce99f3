/**
 * The one registry of Weir's error codes. A code is part of the contract: SDK users branch on
 * `err.code`, the wire carries `number`, the HTTP API maps to `httpStatus`. Codes are never
 * renamed or renumbered; new ones are appended. A test checks numbers are unique and every
 * code is documented in docs/errors.md.
 *
 * It lives in `util` (not `protocol`) because the storage layer raises `STORAGE_FAILED` and
 * `DISK_FULL` and may import only `util`; `protocol` re-exports it.
 */
export const ERROR_CODES = {
  INVALID_ARGUMENT: { number: 1, retriable: false, httpStatus: 400, message: 'invalid argument' },
  STREAM_NOT_FOUND: { number: 2, retriable: false, httpStatus: 404, message: 'stream not found' },
  STREAM_EXISTS: {
    number: 3,
    retriable: false,
    httpStatus: 409,
    message: 'a stream with this name exists with a different configuration',
  },
  NO_ROUTE: {
    number: 4,
    retriable: false,
    httpStatus: 404,
    message: 'no stream captures the subject',
  },
  MESSAGE_TOO_LARGE: { number: 5, retriable: false, httpStatus: 413, message: 'message too large' },
  STREAM_FULL: { number: 6, retriable: true, httpStatus: 507, message: 'stream is full' },
  TIMEOUT: { number: 7, retriable: true, httpStatus: 504, message: 'timed out' },
  CLOSED: { number: 8, retriable: true, httpStatus: 503, message: 'closed' },
  STORAGE_FAILED: {
    number: 9,
    retriable: false,
    httpStatus: 500,
    message: 'storage failed; the log refuses appends',
  },
  DISK_FULL: {
    number: 10,
    // Not retriable: a log (or journal) whose write failed never takes appends again until the
    // broker is reopened, so retrying the same call cannot succeed (docs/errors.md).
    retriable: false,
    httpStatus: 507,
    message: 'disk full; the log refuses appends until the broker is reopened',
  },
  CORRUPT_DATA: {
    number: 11,
    retriable: false,
    httpStatus: 500,
    message: 'stored data failed its checksum',
  },
  OFFSET_OUT_OF_RANGE: {
    number: 12,
    retriable: false,
    httpStatus: 416,
    message: 'offset is outside the log',
  },
  SUBSCRIPTION_NOT_FOUND: {
    number: 13,
    retriable: false,
    httpStatus: 404,
    message: 'subscription not found',
  },
  SUBSCRIPTION_EXISTS: {
    number: 14,
    retriable: false,
    httpStatus: 409,
    message: 'a subscription with this name exists with a different configuration',
  },
  CONSUMER_EXCLUSIVE: {
    number: 15,
    retriable: false,
    httpStatus: 409,
    message: 'the subscription is exclusive and already has a consumer',
  },
  MESSAGE_SETTLED: {
    number: 16,
    retriable: false,
    httpStatus: 409,
    message: 'the message was already settled or its lease has passed to another consumer',
  },
  NOT_AUTHORIZED: { number: 17, retriable: false, httpStatus: 403, message: 'not authorized' },
  PROTOCOL_ERROR: { number: 18, retriable: false, httpStatus: 400, message: 'protocol error' },
  LIMIT_EXCEEDED: { number: 19, retriable: true, httpStatus: 429, message: 'a limit was exceeded' },
  INTERNAL: { number: 20, retriable: false, httpStatus: 500, message: 'internal error' },
  DATA_DIR_IN_USE: {
    number: 21,
    retriable: false,
    httpStatus: 409,
    message: 'another live broker process has this data directory open',
  },
  SUBSCRIPTION_FAILED: {
    number: 22,
    retriable: false,
    httpStatus: 500,
    message: 'the subscription stopped: its journal or a read of its stream failed',
  },
  USER_NOT_FOUND: { number: 23, retriable: false, httpStatus: 404, message: 'user not found' },
  USER_EXISTS: { number: 24, retriable: false, httpStatus: 409, message: 'the user exists' },
  SCHEMA_MISMATCH: {
    number: 25,
    retriable: false,
    httpStatus: 400,
    message: "the message body does not match the stream's schema",
  },
  TRANSACTION_ABORTED: {
    number: 26,
    // Not retriable: an ack whose delivery is no longer current, or a publish the broker
    // refuses, fails the same way again; the application takes the message again (it is
    // redelivered) and runs a new transaction.
    retriable: false,
    httpStatus: 409,
    message: 'the transaction was aborted: nothing of it took effect',
  },
  SCHEDULE_NOT_FOUND: {
    number: 27,
    retriable: false,
    httpStatus: 404,
    message: 'schedule not found',
  },
  SCHEDULE_EXISTS: {
    number: 28,
    retriable: false,
    httpStatus: 409,
    message: 'a schedule with this name exists with different options',
  },
  NOT_LEADER: {
    number: 29,
    retriable: true,
    httpStatus: 503,
    message: 'this node is not the leader',
  },
  NOT_ENOUGH_REPLICAS: {
    number: 30,
    retriable: true,
    httpStatus: 503,
    message: 'not enough in-sync replicas',
  },
} as const satisfies Record<
  string,
  { number: number; retriable: boolean; httpStatus: number; message: string }
>;

export type ErrorCode = keyof typeof ERROR_CODES;

export function isErrorCode(value: unknown): value is ErrorCode {
  return typeof value === 'string' && Object.hasOwn(ERROR_CODES, value);
}

const CODE_BY_NUMBER = new Map<number, ErrorCode>(
  (Object.keys(ERROR_CODES) as ErrorCode[]).map((code) => [ERROR_CODES[code].number, code]),
);

export function errorCodeFromNumber(number: number): ErrorCode {
  return CODE_BY_NUMBER.get(number) ?? 'INTERNAL';
}

/** The error every Weir refusal reaches the caller as. Branch on `code`, never on `message`. */
export class WeirError extends Error {
  override readonly name = 'WeirError';
  readonly code: ErrorCode;
  readonly retriable: boolean;

  constructor(code: ErrorCode, message?: string, options?: { cause?: unknown }) {
    super(message ?? ERROR_CODES[code].message, options);
    this.code = code;
    this.retriable = ERROR_CODES[code].retriable;
  }
}

export function isWeirError(error: unknown, code?: ErrorCode): error is WeirError {
  return error instanceof WeirError && (code === undefined || error.code === code);
}

/** `error` if it is a WeirError, else an INTERNAL one carrying its message. */
export function toWeirError(error: unknown): WeirError {
  return isWeirError(error)
    ? error
    : new WeirError('INTERNAL', error instanceof Error ? error.message : String(error));
}
