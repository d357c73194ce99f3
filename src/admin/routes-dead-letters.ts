/**
 * Dead letters: the targets the subscriptions name, browsing one target, re-driving with
 * progress (see redrive-jobs.ts), and deleting.
 *
 * Permissions: listing the targets reads subscription info (any user); browsing and deleting go
 * through the request's client, so the broker checks them (admin only). A re-drive job runs
 * after its request has been answered, on the admin server's own client, so the routes of the
 * jobs check admin themselves before they start, cancel or show one.
 *
 * Deleting needs `deadLetters.delete` on the Client, which the Client API does not have yet:
 * until it does, the endpoint refuses with INVALID_ARGUMENT saying so, and /api/overview
 * reports `capabilities.deadLetterDelete: false` so the console hides the button.
 */
import {
  DEAD_LETTER_HEADERS,
  REDRIVE_TARGETS,
  type DeadLetter,
  type DeadLetterPosition,
  type DeadLetterReason,
  type RedriveTarget,
} from '../protocol/index.js';
import { DEAD_LETTER_LIST_DEFAULT, DEAD_LETTER_LIST_MAX, REDRIVE_RATE_MAX } from '../limits.js';
import { isWeirError } from '../util/index.js';
import type { AdminContext } from './admin-context.js';
import { integerQuery, invalid, objectBody, onlyKeys } from './http-io.js';
import { bodyPreview } from './message-peek.js';
import type { RedriveRequest } from './redrive-jobs.js';
import type { Route } from './router.js';

const REASONS: readonly DeadLetterReason[] = [
  'max-deliveries',
  'terminated',
  'expired',
  'overflow',
];

interface DeadLetterTarget {
  readonly subject: string;
  deadLettered: number;
  readonly subscriptions: { stream: string; name: string; deadLettered: number }[];
}

/** `only`: the dead letters chosen by position (checked again by the broker). */
function positionsOf(value: unknown): DeadLetterPosition[] | undefined {
  if (value === undefined || value === null) return undefined;
  if (!Array.isArray(value) || value.length > DEAD_LETTER_LIST_MAX) {
    throw invalid('only', `must be a list of at most ${DEAD_LETTER_LIST_MAX} positions`);
  }
  return (value as unknown[]).map((position) => {
    const { stream, partition, offset } = (position ?? {}) as Record<string, unknown>;
    if (
      typeof stream !== 'string' ||
      !Number.isSafeInteger(partition) ||
      !Number.isSafeInteger(offset)
    ) {
      throw invalid('only', 'positions need stream, partition and offset');
    }
    return { stream, partition: partition as number, offset: offset as number };
  });
}

function reasonOf(value: unknown, field: string): DeadLetterReason | undefined {
  if (value === undefined || value === null || value === '') return undefined;
  if (typeof value !== 'string' || !REASONS.includes(value as DeadLetterReason)) {
    throw invalid(field, `must be one of ${REASONS.join(', ')}`);
  }
  return value as DeadLetterReason;
}

function targetOf(value: unknown): RedriveTarget | undefined {
  if (value === undefined || value === null || value === '') return undefined;
  if (typeof value !== 'string' || !REDRIVE_TARGETS.includes(value as RedriveTarget)) {
    throw invalid('to', `must be one of ${REDRIVE_TARGETS.join(', ')}`);
  }
  return value as RedriveTarget;
}

function optionalString(value: unknown, field: string): string | undefined {
  if (value === undefined || value === null || value === '') return undefined;
  if (typeof value !== 'string') throw invalid(field, 'must be a string');
  return value;
}

function optionalInteger(
  value: unknown,
  field: string,
  min: number,
  max: number,
): number | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min || value > max) {
    throw invalid(field, `must be an integer from ${min} to ${max}`);
  }
  return value;
}

/** A dead letter as the API shows it: with the weir-dead-* headers it carries. */
function deadLetterView(letter: DeadLetter): Record<string, unknown> {
  const deadHeaders: Record<string, string> = {
    [DEAD_LETTER_HEADERS.reason]: letter.reason,
    [DEAD_LETTER_HEADERS.deliveries]: String(letter.deliveries),
    [DEAD_LETTER_HEADERS.originStream]: letter.origin.stream,
    [DEAD_LETTER_HEADERS.originSubject]: letter.origin.subject,
    [DEAD_LETTER_HEADERS.originPartition]: String(letter.origin.partition),
    [DEAD_LETTER_HEADERS.originOffset]: String(letter.origin.offset),
  };
  if (letter.error !== null) deadHeaders[DEAD_LETTER_HEADERS.error] = letter.error;
  if (letter.origin.subscription !== null)
    deadHeaders[DEAD_LETTER_HEADERS.originSubscription] = letter.origin.subscription;
  return {
    stream: letter.stream,
    partition: letter.partition,
    offset: letter.offset,
    subject: letter.subject,
    key: letter.key,
    headers: letter.headers,
    deadHeaders,
    timestamp: letter.timestamp,
    reason: letter.reason,
    deliveries: letter.deliveries,
    error: letter.error,
    origin: letter.origin,
    ...bodyPreview(letter.body),
  };
}

export function deadLetterRoutes(context: AdminContext): Route[] {
  return [
    {
      method: 'GET',
      path: '/api/dead-letters',
      tag: 'dead letters',
      summary:
        'The dead-letter subjects the subscriptions name, with the subscriptions that send there and how many they sent.',
      handler: async ({ client }) => {
        const targets = new Map<string, DeadLetterTarget>();
        for (const stream of await client.streams.list()) {
          let subscriptions;
          try {
            subscriptions = await client.subscriptions.list(stream.name);
          } catch (error) {
            if (isWeirError(error, 'STREAM_NOT_FOUND')) continue; // deleted meanwhile
            throw error;
          }
          for (const subscription of subscriptions) {
            const subject = subscription.config.deadLetter;
            if (subject === null) continue;
            let target = targets.get(subject);
            if (!target) {
              target = { subject, deadLettered: 0, subscriptions: [] };
              targets.set(subject, target);
            }
            target.deadLettered += subscription.deadLettered;
            target.subscriptions.push({
              stream: subscription.stream,
              name: subscription.name,
              deadLettered: subscription.deadLettered,
            });
          }
        }
        return [...targets.values()].sort((a, b) => (a.subject < b.subject ? -1 : 1));
      },
    },
    {
      method: 'GET',
      path: '/api/dead-letters/{subject}',
      tag: 'dead letters',
      summary:
        'Dead letters published to the subject and not yet re-driven, oldest first, with reason, error, attempts and origin.',
      query: {
        limit: `at most this many, 1..${DEAD_LETTER_LIST_MAX} (default ${DEAD_LETTER_LIST_DEFAULT})`,
        originStream: 'only those that came from this stream',
        reason: `only those with this reason (${REASONS.join(', ')})`,
      },
      handler: async ({ client, params, query }) => {
        const limit =
          integerQuery(query, 'limit', 1, DEAD_LETTER_LIST_MAX) ?? DEAD_LETTER_LIST_DEFAULT;
        const originStream = optionalString(query.get('originStream'), 'originStream');
        const reason = reasonOf(query.get('reason'), 'reason');
        const filtered = originStream !== undefined || reason !== undefined;
        const listed = await client.deadLetters.list(params.subject!, {
          limit: filtered ? DEAD_LETTER_LIST_MAX : limit,
        });
        const matching = listed.filter(
          (letter) =>
            (originStream === undefined || letter.origin.stream === originStream) &&
            (reason === undefined || letter.reason === reason),
        );
        return {
          subject: params.subject,
          deadLetters: matching.slice(0, limit).map(deadLetterView),
          /** true: there are more than the page shows. */
          more: matching.length > limit || (!filtered && listed.length === limit),
        };
      },
    },
    {
      method: 'POST',
      path: '/api/dead-letters/{subject}/redrive',
      tag: 'dead letters',
      summary:
        "Starts re-driving dead letters at a bounded rate: all of them, or a selection by origin stream, reason and count (oldest first). to: 'subscription' (default) back to the subscription each died in only, 'stream' to every subscription of its origin stream, 'subject' a normal publish to its original subject. Answers the job; follow it at /api/redrives/{id}.",
      body: {
        description:
          "{ to?: 'subscription' | 'stream' | 'subject', limit?, ratePerSecond?, originStream?, reason?, only?: [{ stream, partition, offset }] }",
        example: { to: 'subscription', ratePerSecond: 100, reason: 'max-deliveries' },
      },
      status: 202,
      handler: async ({ access, params, body }) => {
        access.checkAdmin('re-drive dead letters');
        const input = objectBody(await body());
        onlyKeys(input, ['to', 'limit', 'ratePerSecond', 'originStream', 'reason', 'only']);
        const request: RedriveRequest = {
          subject: params.subject!,
          to: targetOf(input.to),
          limit: optionalInteger(input.limit, 'limit', 1, Number.MAX_SAFE_INTEGER),
          ratePerSecond: optionalInteger(input.ratePerSecond, 'ratePerSecond', 1, REDRIVE_RATE_MAX),
          originStream: optionalString(input.originStream, 'originStream'),
          reason: reasonOf(input.reason, 'reason'),
          only: positionsOf(input.only),
        };
        return context.redrives.start(request);
      },
    },
    {
      method: 'DELETE',
      path: '/api/dead-letters/{subject}',
      tag: 'dead letters',
      summary:
        'Deletes dead letters without re-driving them (all, or a selection by origin stream, reason and count).',
      query: {
        limit: 'at most this many (oldest first)',
        originStream: 'only those that came from this stream',
        reason: `only those with this reason (${REASONS.join(', ')})`,
      },
      handler: async ({ client, params, query }) => {
        const limit = integerQuery(query, 'limit', 1, Number.MAX_SAFE_INTEGER);
        const originStream = optionalString(query.get('originStream'), 'originStream');
        const reason = reasonOf(query.get('reason'), 'reason');
        return client.deadLetters.delete(params.subject!, {
          ...(limit === undefined ? {} : { limit }),
          ...(originStream === undefined ? {} : { originStream }),
          ...(reason === undefined ? {} : { reason }),
        });
      },
    },
    {
      method: 'POST',
      path: '/api/dead-letters/{subject}/delete',
      tag: 'dead letters',
      summary:
        'Deletes the chosen dead letters (only: their stream, partition and offset, as listed) or a selection, without re-driving them.',
      body: {
        description: '{ limit?, originStream?, reason?, only?: [{ stream, partition, offset }] }',
        example: { only: [{ stream: 'dead', partition: 0, offset: 3 }] },
      },
      handler: async ({ client, params, body }) => {
        const input = objectBody(await body());
        onlyKeys(input, ['limit', 'originStream', 'reason', 'only']);
        const limit = optionalInteger(input.limit, 'limit', 1, Number.MAX_SAFE_INTEGER);
        const originStream = optionalString(input.originStream, 'originStream');
        const reason = reasonOf(input.reason, 'reason');
        const only = positionsOf(input.only);
        return client.deadLetters.delete(params.subject!, {
          ...(limit === undefined ? {} : { limit }),
          ...(originStream === undefined ? {} : { originStream }),
          ...(reason === undefined ? {} : { reason }),
          ...(only === undefined ? {} : { only }),
        });
      },
    },
    {
      method: 'GET',
      path: '/api/redrives',
      tag: 'dead letters',
      summary:
        'Re-drive jobs, newest first: state, total, re-driven and skipped so far (kept across restarts of a broker on disk).',
      handler: ({ access }) => {
        access.checkAdmin('read re-drive jobs');
        return context.redrives.list();
      },
    },
    {
      method: 'GET',
      path: '/api/redrives/{id}',
      tag: 'dead letters',
      summary: "One re-drive job's progress.",
      handler: ({ access, params }) => {
        access.checkAdmin('read re-drive jobs');
        return context.redrives.get(params.id!);
      },
    },
    {
      method: 'POST',
      path: '/api/redrives/{id}/cancel',
      tag: 'dead letters',
      summary: 'Stops a re-drive job after the chunk in progress (about one second).',
      handler: ({ access, params }) => {
        access.checkAdmin('cancel re-drive jobs');
        return context.redrives.cancel(params.id!);
      },
    },
  ];
}
