/**
 * Browsing and re-driving dead letters. The dead letters of a subject are the messages with
 * that subject, carrying the dead-letter headers, in the streams that capture it. What was
 * re-driven is remembered per stream and subject in a broker-owned durable subscription
 * (`_redrive-<hash>`, never consumed): redrive settles each dead letter it re-drove (and
 * every message of another subject it passed over) there, and `list` skips what is settled.
 * A re-driven message keeps its original subject, key, body, user headers, priority, replyTo
 * and correlationId, and goes (at most `ratePerSecond` per second) where `to` says:
 *
 *   subscription  (default) stored in its origin stream, in its original partition when it
 *                 has no key (the key decides otherwise), marked `:for-subscription` so that
 *                 of the durable subscriptions only the one it died in takes it; a dead letter that does not name
 *                 its subscription (older data) is treated as `stream`
 *   stream        stored in its origin stream: every subscription of it receives it again
 *   subject       a normal publish to its original subject: every stream capturing it
 *
 * When that target is gone (origin stream or subscription deleted, no stream captures the
 * subject), the dead letter stays where it is and counts as skipped: it is the only copy, and
 * the caller can pick another `to` for it.
 */
import {
  REDRIVE_TARGETS,
  type DeadLetter,
  type DeadLetterDeleteOptions,
  type DeadLetterListOptions,
  type RedriveOptions,
  type RedriveResult,
} from '../protocol/index.js';
import { WeirError, isWeirError } from '../util/index.js';
import {
  CURSOR_READ_RECORDS_MAX,
  DEAD_LETTER_LIST_DEFAULT,
  DEAD_LETTER_LIST_MAX,
  REDRIVE_RATE_DEFAULT,
  REDRIVE_RATE_MAX,
} from '../limits.js';
import type { BrokerCore } from './broker-core.js';
import { fromDeadLetter } from './dead-letter.js';
import { reencode, type StoredMessage } from './message-codec.js';
import { integerIn, oneOf, optionsObject, validateName } from './option-checks.js';
import { hashKey } from './partition-hash.js';
import type { Stream } from './stream.js';
import { validateSubject } from './subject.js';

function redriveName(subject: string): string {
  return `_redrive-${hashKey(subject).toString(16)}`;
}

export async function listDeadLetters(
  core: BrokerCore,
  subject: string,
  options: DeadLetterListOptions | undefined,
): Promise<DeadLetter[]> {
  validateSubject(subject);
  const input = optionsObject(options, 'list options', ['limit']);
  const limit =
    input.limit === undefined
      ? DEAD_LETTER_LIST_DEFAULT
      : integerIn(input.limit, 'limit', 1, DEAD_LETTER_LIST_MAX);
  const found: DeadLetter[] = [];
  for (const stream of core.streamsFor(subject)) {
    const group = stream.subscriptions.get(redriveName(subject));
    for (let partition = 0; partition < stream.logs.length; partition++) {
      const log = stream.logs[partition]!;
      let offset = group ? group.floor(partition) : stream.startOffset(partition);
      let taken = 0;
      while (taken < limit && offset < log.committedOffset) {
        const messages = await stream.readMessages(partition, offset, CURSOR_READ_RECORDS_MAX);
        if (messages.length === 0) break;
        for (const message of messages) {
          offset = message.offset + 1;
          if (message.subject !== subject || group?.isSettled(partition, message.offset) === true)
            continue;
          const deadLetter = fromDeadLetter(stream.name, partition, message);
          if (deadLetter && taken < limit) {
            found.push({ ...deadLetter, body: deadLetter.body.slice() });
            taken++;
          }
        }
      }
    }
  }
  found.sort((a, b) => a.timestamp - b.timestamp || a.offset - b.offset);
  return found.slice(0, limit);
}

export async function redriveDeadLetters(
  core: BrokerCore,
  subject: string,
  options: RedriveOptions | undefined,
): Promise<RedriveResult> {
  const input = optionsObject(options, 'redrive options', [
    'to',
    'limit',
    'ratePerSecond',
    'originStream',
    'reason',
    'only',
  ]);
  const to = input.to === undefined ? 'subscription' : oneOf(input.to, 'to', REDRIVE_TARGETS);
  const rate =
    input.ratePerSecond === undefined
      ? REDRIVE_RATE_DEFAULT
      : integerIn(input.ratePerSecond, 'ratePerSecond', 1, REDRIVE_RATE_MAX);
  const started = core.now();
  let redriven = 0;
  let skipped = 0;
  await settleDeadLetters(core, subject, input, async (message, deadLetter) => {
    const { origin } = deadLetter;
    const target: Stream | undefined = core.findStream(origin.stream);
    const subscription = to === 'subscription' ? origin.subscription : null;
    if (
      to !== 'subject' &&
      (!target || (subscription !== null && !target.subscriptions.has(subscription)))
    ) {
      skipped++;
      return false;
    }
    const due = started + (redriven * 1000) / rate;
    const wait = due - core.now();
    if (wait > 0) await new Promise<void>((resolve) => core.clock.setTimer(wait, resolve));
    if (to === 'subject') {
      if (!(await publishToSubject(core, message, deadLetter))) {
        skipped++;
        return false;
      }
    } else {
      const redrive = reencode(message, origin.subject, deadLetter.headers, subscription);
      await core.storeIn(target!, redrive, subscription === null ? undefined : origin.partition);
    }
    redriven++;
    return true;
  });
  return { redriven, skipped };
}

/** A normal publish of the dead letter to its original subject; false when nothing captures it. */
async function publishToSubject(
  core: BrokerCore,
  message: StoredMessage,
  deadLetter: DeadLetter,
): Promise<boolean> {
  try {
    await core.publish(deadLetter.origin.subject, message.body, {
      headers: deadLetter.headers,
      ...(message.key === null ? {} : { key: message.key }),
      ...(message.priority > 0 ? { priority: message.priority } : {}),
      ...(message.replyTo === null ? {} : { replyTo: message.replyTo }),
      ...(message.correlationId === null ? {} : { correlationId: message.correlationId }),
    });
    return true;
  } catch (error) {
    if (isWeirError(error, 'NO_ROUTE')) return false;
    throw error;
  }
}

export async function deleteDeadLetters(
  core: BrokerCore,
  subject: string,
  options: DeadLetterDeleteOptions | undefined,
): Promise<{ deleted: number }> {
  const input = optionsObject(options, 'delete options', [
    'limit',
    'originStream',
    'reason',
    'only',
  ]);
  let deleted = 0;
  await settleDeadLetters(core, subject, input, () => {
    deleted++;
    return Promise.resolve(true);
  });
  return { deleted };
}

function positionKey(stream: string, partition: number, offset: number): string {
  return `${stream}/${partition}/${offset}`;
}

function parseOnly(value: unknown): Set<string> | null {
  if (value === undefined) return null;
  if (!Array.isArray(value) || value.length > DEAD_LETTER_LIST_MAX) {
    throw new WeirError(
      'INVALID_ARGUMENT',
      `only must be a list of at most ${DEAD_LETTER_LIST_MAX} positions`,
    );
  }
  const keys = new Set<string>();
  for (const position of value as unknown[]) {
    const { stream, partition, offset } = (position ?? {}) as Record<string, unknown>;
    if (
      typeof stream !== 'string' ||
      !Number.isSafeInteger(partition) ||
      !Number.isSafeInteger(offset)
    ) {
      throw new WeirError(
        'INVALID_ARGUMENT',
        'only: each position needs stream, partition and offset',
      );
    }
    keys.add(positionKey(stream, partition as number, offset as number));
  }
  return keys;
}

/**
 * Walks the dead letters of `subject` that are there now, in the selection (limit, origin
 * stream, reason, only), and settles in the broker-owned `_redrive-…` subscription each one
 * `act` took (act returns false to leave it), and every message of another subject passed
 * over, so that `list` and later walks skip them.
 */
async function settleDeadLetters(
  core: BrokerCore,
  subject: string,
  input: Record<string, unknown>,
  act: (message: StoredMessage, deadLetter: DeadLetter) => Promise<boolean>,
): Promise<void> {
  validateSubject(subject);
  const limit =
    input.limit === undefined
      ? Infinity
      : integerIn(input.limit, 'limit', 1, Number.MAX_SAFE_INTEGER);
  const originStream =
    input.originStream === undefined ? null : validateName(input.originStream, 'originStream');
  const reason =
    input.reason === undefined
      ? null
      : oneOf(input.reason, 'reason', ['max-deliveries', 'terminated', 'expired', 'overflow']);
  const only = parseOnly(input.only);
  let taken = 0;
  for (const stream of core.streamsFor(subject)) {
    if (taken >= limit) break;
    const group = await core.internalSubscription(stream, redriveName(subject), subject);
    for (let partition = 0; partition < stream.logs.length && taken < limit; partition++) {
      // Only what is there now: dead letters arriving meanwhile wait for the next walk.
      const end = stream.logs[partition]!.committedOffset;
      let offset = group.floor(partition);
      while (offset < end && taken < limit) {
        const messages = await stream.readMessages(partition, offset, CURSOR_READ_RECORDS_MAX);
        if (messages.length === 0) break;
        const passedOver: Promise<void>[] = [];
        for (const message of messages) {
          if (message.offset >= end || taken >= limit) break;
          offset = message.offset + 1;
          if (group.isSettled(partition, message.offset)) continue;
          const deadLetter =
            message.subject === subject ? fromDeadLetter(stream.name, partition, message) : null;
          if (deadLetter === null) {
            passedOver.push(group.settleOffset(partition, message.offset));
            continue;
          }
          if (originStream !== null && deadLetter.origin.stream !== originStream) continue;
          if (reason !== null && deadLetter.reason !== reason) continue;
          if (only !== null && !only.has(positionKey(stream.name, partition, message.offset)))
            continue;
          if (!(await act(message, deadLetter))) continue;
          await group.settleOffset(partition, message.offset);
          taken++;
        }
        await Promise.all(passedOver);
      }
    }
  }
}
