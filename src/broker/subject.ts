/**
 * Subjects and subject patterns. A subject is dotted tokens (`orders.eu.created`); a pattern
 * may use `*` for exactly one token and `>` (last token only) for one or more tokens. Tokens
 * are non-empty and hold no whitespace, '.', '*' or '>'. Subjects under `_INBOX.` are
 * reserved for request-reply inboxes: they are never stored, and no pattern may name them.
 */
import { WeirError } from '../util/index.js';
import { SUBJECT_BYTES_MAX, SUBJECT_TOKENS_MAX } from '../limits.js';

export const INBOX_PREFIX = '_INBOX.';

const TOKEN_FORBIDDEN = /[\s.*>]/u;
const encoder = new TextEncoder();

function checkTokens(value: unknown, what: string, pattern: boolean): string[] {
  if (typeof value !== 'string' || value.length === 0) {
    throw new WeirError('INVALID_ARGUMENT', `${what} must be a non-empty string`);
  }
  // A UTF-16 unit takes at most 3 UTF-8 bytes: most subjects need no encoding to be measured.
  if (
    value.length > SUBJECT_BYTES_MAX ||
    (value.length * 3 > SUBJECT_BYTES_MAX && encoder.encode(value).length > SUBJECT_BYTES_MAX)
  ) {
    throw new WeirError('INVALID_ARGUMENT', `${what} is longer than ${SUBJECT_BYTES_MAX} bytes`);
  }
  const tokens = value.split('.');
  if (tokens.length > SUBJECT_TOKENS_MAX) {
    throw new WeirError('INVALID_ARGUMENT', `${what} has more than ${SUBJECT_TOKENS_MAX} tokens`);
  }
  for (let index = 0; index < tokens.length; index++) {
    const token = tokens[index]!;
    if (pattern && token === '*') continue;
    if (pattern && token === '>') {
      if (index !== tokens.length - 1) {
        throw new WeirError('INVALID_ARGUMENT', `${what} "${value}": '>' must be the last token`);
      }
      continue;
    }
    if (token.length === 0 || TOKEN_FORBIDDEN.test(token)) {
      throw new WeirError(
        'INVALID_ARGUMENT',
        `${what} "${value}": token "${token}" must be non-empty, without whitespace, '.'` +
          (pattern ? ", or '*' / '>' other than as a whole token" : ", '*' or '>'"),
      );
    }
  }
  return tokens;
}

/**
 * Subjects validated lately: publishers send the same few subjects again and again, and a
 * Set lookup (the string's hash is cached in it) is cheaper than splitting and testing its
 * tokens. Cleared when full, so it holds at most VALID_SUBJECTS_CACHED.
 */
const VALID_SUBJECTS_CACHED = 1024;
const validSubjects = new Set<string>();

/** Throws INVALID_ARGUMENT (naming `what`) unless `value` is a valid subject (no wildcards). */
export function validateSubject(value: unknown, what = 'subject'): string {
  if (typeof value === 'string' && validSubjects.has(value)) return value;
  checkTokens(value, what, false);
  if (validSubjects.size >= VALID_SUBJECTS_CACHED) validSubjects.clear();
  validSubjects.add(value as string);
  return value as string;
}

/** Throws INVALID_ARGUMENT unless `value` is a valid pattern outside the inbox namespace. */
export function validatePattern(value: unknown, what = 'pattern'): string {
  const tokens = checkTokens(value, what, true);
  if (tokens[0] === INBOX_PREFIX.slice(0, -1)) {
    throw new WeirError(
      'INVALID_ARGUMENT',
      `${what} "${String(value)}": ${INBOX_PREFIX}> is reserved`,
    );
  }
  return value as string;
}

export function isInboxSubject(subject: string): boolean {
  return subject.startsWith(INBOX_PREFIX);
}

/** A compiled pattern: tokens split once, matched many times. */
export class SubjectPattern {
  readonly source: string;
  readonly #tokens: readonly string[];
  readonly #tail: boolean;

  constructor(pattern: string) {
    this.source = pattern;
    const tokens = pattern.split('.');
    this.#tail = tokens[tokens.length - 1] === '>';
    this.#tokens = this.#tail ? tokens.slice(0, -1) : tokens;
  }

  /** Whether `subject` (a valid subject) matches. */
  matches(subject: string): boolean {
    const tokens = this.#tokens;
    let position = 0;
    for (let index = 0; index < tokens.length; index++) {
      if (position > subject.length) return false;
      let end = subject.indexOf('.', position);
      if (end === -1) end = subject.length;
      const token = tokens[index]!;
      if (token !== '*') {
        if (end - position !== token.length || !subject.startsWith(token, position)) return false;
      }
      position = end + 1;
    }
    // All pattern tokens consumed: an exact pattern needs the subject consumed too; a `>` one
    // needs at least one token left.
    return this.#tail ? position <= subject.length : position === subject.length + 1;
  }
}

/** Any of several patterns; an empty list matches everything. */
export class SubjectFilter {
  readonly #patterns: readonly SubjectPattern[];

  constructor(patterns: readonly string[]) {
    this.#patterns = patterns.map((pattern) => new SubjectPattern(pattern));
  }

  get matchesAll(): boolean {
    return this.#patterns.length === 0;
  }

  matches(subject: string): boolean {
    if (this.#patterns.length === 0) return true;
    for (const pattern of this.#patterns) if (pattern.matches(subject)) return true;
    return false;
  }
}
