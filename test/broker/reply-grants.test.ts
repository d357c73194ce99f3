/** Reply grants: one reply each, until the request's deadline, at most a bounded number. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ReplyGrants } from '../../src/broker/reply-grants.js';
import { REPLY_GRANTS_PER_CLIENT_MAX, REQUEST_TIMEOUT_MS_MAX } from '../../src/limits.js';
import { REQUEST_HEADERS } from '../../src/protocol/index.js';
import { ManualClock } from '../../src/util/index.js';

const INBOX = '_INBOX.0123456789abcdef0123456789abcdef';

function deadline(at: number): Record<string, string> {
  return { [REQUEST_HEADERS.deadline]: String(at) };
}

test('a grant allows one reply to its inbox and correlation id, before its deadline', () => {
  const clock = new ManualClock();
  const grants = new ReplyGrants(clock);
  grants.grant(INBOX, 'c-1', deadline(clock.now() + 1000));
  assert.equal(grants.use(INBOX, 'c-2'), false, 'another correlation id');
  assert.equal(grants.use(`${INBOX}x`, 'c-1'), false, 'another inbox');
  assert.equal(grants.use(INBOX, 'c-1'), true);
  assert.equal(grants.use(INBOX, 'c-1'), false, 'used up');
  grants.grant(INBOX, 'c-3', deadline(clock.now() + 1000));
  clock.advance(1000);
  assert.equal(grants.use(INBOX, 'c-3'), false, 'expired at its deadline');
  grants.grant(INBOX, 'c-4', deadline(clock.now() - 1));
  assert.equal(grants.size, 0, 'a request past its deadline grants nothing');
});

test('a grant without a deadline header lasts at most REQUEST_TIMEOUT_MS_MAX', () => {
  const clock = new ManualClock();
  const grants = new ReplyGrants(clock);
  grants.grant(INBOX, 'c-1', {});
  grants.grant(INBOX, 'c-2', deadline(clock.now() + 10 * REQUEST_TIMEOUT_MS_MAX));
  clock.advance(REQUEST_TIMEOUT_MS_MAX);
  assert.equal(grants.use(INBOX, 'c-1'), false);
  assert.equal(grants.use(INBOX, 'c-2'), false, 'a far deadline is capped');
});

test('grants stay within REPLY_GRANTS_PER_CLIENT_MAX: expired ones go first, then the oldest', () => {
  const clock = new ManualClock();
  const grants = new ReplyGrants(clock);
  grants.grant(INBOX, 'short', deadline(clock.now() + 10));
  for (let index = 1; index < REPLY_GRANTS_PER_CLIENT_MAX; index++) {
    grants.grant(INBOX, `c-${index}`, deadline(clock.now() + 60_000));
  }
  assert.equal(grants.size, REPLY_GRANTS_PER_CLIENT_MAX);
  clock.advance(10);
  grants.grant(INBOX, 'one more', deadline(clock.now() + 60_000));
  assert.equal(grants.size, REPLY_GRANTS_PER_CLIENT_MAX, 'the expired grant made room');
  assert.equal(grants.use(INBOX, 'c-1'), true, 'no live grant was dropped for it');
  grants.grant(INBOX, 'c-1', deadline(clock.now() + 60_000));
  grants.grant(INBOX, 'newest', deadline(clock.now() + 60_000));
  assert.equal(grants.size, REPLY_GRANTS_PER_CLIENT_MAX);
  assert.equal(grants.use(INBOX, 'c-2'), false, 'full: the oldest grant went');
  assert.equal(grants.use(INBOX, 'newest'), true);
  assert.equal(grants.use(INBOX, 'c-1'), true, 'granted again: moved to the back');
});
