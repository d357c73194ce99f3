/** Subjects and patterns: validation, and matching against a token-by-token reference (fast-check). */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import {
  SubjectFilter,
  SubjectPattern,
  validatePattern,
  validateSubject,
} from '../../src/broker/subject.js';

/** The reference: `*` one token, `>` one or more tokens at the end. */
function referenceMatch(pattern: string, subject: string): boolean {
  const patternTokens = pattern.split('.');
  const subjectTokens = subject.split('.');
  for (let index = 0; index < patternTokens.length; index++) {
    const token = patternTokens[index]!;
    if (token === '>') return subjectTokens.length > index;
    if (index >= subjectTokens.length) return false;
    if (token !== '*' && token !== subjectTokens[index]) return false;
  }
  return patternTokens.length === subjectTokens.length;
}

const token = fc.constantFrom('a', 'b', 'ab', 'orders', 'eu', 'x1');
const subject = fc.array(token, { minLength: 1, maxLength: 5 }).map((tokens) => tokens.join('.'));
const pattern = fc
  .tuple(fc.array(fc.oneof(token, fc.constant('*')), { minLength: 0, maxLength: 4 }), fc.boolean())
  .filter(([tokens, tail]) => tokens.length > 0 || tail)
  .map(([tokens, tail]) => [...tokens, ...(tail ? ['>'] : [])].join('.'));

test('pattern matching agrees with a token-by-token reference on random subjects', () => {
  fc.assert(
    fc.property(pattern, subject, (patternText, subjectText) => {
      assert.equal(
        new SubjectPattern(validatePattern(patternText)).matches(validateSubject(subjectText)),
        referenceMatch(patternText, subjectText),
        `${patternText} vs ${subjectText}`,
      );
    }),
    { numRuns: 5000 },
  );
});

test('subjects and patterns are validated token by token', () => {
  for (const good of ['a', 'a.b', 'orders.eu-1.created', '_INBOX.c1'])
    assert.equal(validateSubject(good), good);
  for (const bad of [
    '',
    '.',
    'a.',
    '.a',
    'a..b',
    'a b',
    'a.*',
    'a.>',
    'a*b',
    'x'.repeat(257),
    'a.'.repeat(16) + 'a',
  ]) {
    assert.throws(() => validateSubject(bad), { code: 'INVALID_ARGUMENT' }, JSON.stringify(bad));
  }
  for (const good of ['>', '*', 'a.*', 'a.>', '*.*.b', 'a.*.>'])
    assert.equal(validatePattern(good), good);
  for (const bad of ['a.>.b', '>.a', 'a*', 'a.b>', '', '_INBOX.>', '_INBOX.x']) {
    assert.throws(() => validatePattern(bad), { code: 'INVALID_ARGUMENT' }, JSON.stringify(bad));
  }
});

test('an empty filter matches everything; a filter matches if any pattern does', () => {
  assert.ok(new SubjectFilter([]).matches('anything.at.all'));
  const filter = new SubjectFilter(['a.*', 'b.>']);
  assert.ok(filter.matches('a.x'));
  assert.ok(filter.matches('b.x.y'));
  assert.ok(!filter.matches('a.x.y'));
  assert.ok(!filter.matches('c'));
});
