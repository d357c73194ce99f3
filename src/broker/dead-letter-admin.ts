/**
 * Browsing and re-driving dead letters. The dead letters of a subject are the messages with
 * that subject, carrying the dead-letter headers, in the streams that capture it. What was
 * re-driven is remembered per stream and subject in a broker-owned durable subscription
 * (`_redrive-<hash>`, never consumed): redrive settles each dead letter it re-drove (and
 * every message of another subject it passed over) there, and `list` skips what is settled.
 * A re-driven message is stored in its origin stream only (with its original subject, key,
 * body and user headers), at most `ratePerSecond` per second.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { DeadLetter, DeadLetterListOptions, RedriveOptions } from '../protocol/index.js';
import {
  CURSOR_READ_RECORDS_MAX,
  DEAD_LETTER_LIST_DEFAULT,
  DEAD_LETTER_LIST_MAX,
  REDRIVE_RATE_DEFAULT,
  REDRIVE_RATE_MAX,
} from '../limits.js';
import type { BrokerCore } from './broker-core.js';
import { fromDeadLetter } from './dead-letter.js';
import { reencode } from './message-codec.js';
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
): Promise<{ redriven: number }> {
  validateSubject(subject);
  const input = optionsObject(options, 'redrive options', [
    'limit',
    'ratePerSecond',
    'originStream',
    'reason',
  ]);
  const limit =
    input.limit === undefined
      ? Infinity
      : integerIn(input.limit, 'limit', 1, Number.MAX_SAFE_INTEGER);
  const rate =
    input.ratePerSecond === undefined
      ? REDRIVE_RATE_DEFAULT
      : integerIn(input.ratePerSecond, 'ratePerSecond', 1, REDRIVE_RATE_MAX);
  const originStream =
    input.originStream === undefined ? null : validateName(input.originStream, 'originStream');
  const reason =
    input.reason === undefined
      ? null
      : oneOf(input.reason, 'reason', ['max-deliveries', 'terminated', 'expired', 'overflow']);
  const started = core.now();
  let redriven = 0;
  for (const stream of core.streamsFor(subject)) {
    if (redriven >= limit) break;
    const group = await core.internalSubscription(stream, redriveName(subject), subject);
    for (let partition = 0; partition < stream.logs.length && redriven < limit; partition++) {
      // Only what is there now: dead letters arriving meanwhile wait for the next redrive.
      const end = stream.logs[partition]!.committedOffset;
      let offset = group.floor(partition);
      while (offset < end && redriven < limit) {
        const messages = await stream.readMessages(partition, offset, CURSOR_READ_RECORDS_MAX);
        if (messages.length === 0) break;
        const passedOver: Promise<void>[] = [];
        for (const message of messages) {
          if (message.offset >= end || redriven >= limit) break;
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
          const target: Stream | undefined = core.findStream(deadLetter.origin.stream);
          if (!target) continue; // its origin is gone: it stays a dead letter
          const due = started + (redriven * 1000) / rate;
          const wait = due - core.now();
          if (wait > 0) await sleep(wait);
          await core.storeIn(
            target,
            reencode(message, deadLetter.origin.subject, deadLetter.headers),
          );
          await group.settleOffset(partition, message.offset);
          redriven++;
        }
        await Promise.all(passedOver);
      }
    }
  }
  return { redriven };
}
