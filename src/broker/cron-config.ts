/**
 * `schedules.create` options, validated once (INVALID_ARGUMENT naming the field) into a frozen
 * ScheduleConfig with every default filled in; the same rules read a config back from a
 * schedule's file.
 *
 * The message part (subject, body, headers, key, priority, ttlMs) is checked by the same codec
 * a publish goes through (message-codec.ts), so a schedule that is accepted publishes a message
 * the broker accepts; user headers may not take the names the broker sets on each tick.
 */
import {
  SCHEDULE_HEADERS,
  SCHEDULE_OPTION_NAMES,
  type Body,
  type MissedTicksPolicy,
  type ScheduleConfig,
} from '../protocol/index.js';
import {
  DELAY_MS_MAX,
  SCHEDULE_BODY_BYTES_MAX,
  SCHEDULE_CRON_BYTES_MAX,
  SCHEDULE_EVERY_MS_MIN,
} from '../limits.js';
import { compileCron } from './cron-ticks.js';
import { encodeBody, encodeMessage } from './message-codec.js';
import { deepFreeze, integerIn, invalid, oneOf, optionsObject, stringOf } from './option-checks.js';

export const MISSED_TICKS_POLICIES: readonly MissedTicksPolicy[] = ['skip', 'once', 'all'];
/**
 * 'once' by default: a restart after downtime makes up for what it missed with one message
 * (a daily report is not lost to a night of maintenance), and never floods a consumer with a
 * backlog of identical ticks.
 */
export const MISSED_TICKS_DEFAULT: MissedTicksPolicy = 'once';

export function resolveScheduleConfig(options: unknown): ScheduleConfig {
  if (options === undefined || options === null) {
    throw invalid('schedule options', 'must be an object with cron or everyMs, and subject');
  }
  const input = optionsObject(options, 'schedule options', [...SCHEDULE_OPTION_NAMES]);
  const hasCron = input.cron !== undefined;
  const hasEvery = input.everyMs !== undefined;
  if (hasCron === hasEvery) throw invalid('cron', 'or everyMs: exactly one of them must be given');
  let cron: string | null = null;
  let everyMs: number | null = null;
  let timezone: string | null = null;
  if (hasCron) {
    cron = stringOf(input.cron, 'cron', SCHEDULE_CRON_BYTES_MAX).trim();
    timezone =
      input.timezone === undefined
        ? 'UTC'
        : stringOf(input.timezone, 'timezone', SCHEDULE_CRON_BYTES_MAX);
    compileCron(cron, timezone);
  } else {
    everyMs = integerIn(input.everyMs, 'everyMs', SCHEDULE_EVERY_MS_MIN, DELAY_MS_MAX);
    if (input.timezone !== undefined) throw invalid('timezone', 'is only for cron schedules');
  }
  const missed =
    input.missed === undefined
      ? MISSED_TICKS_DEFAULT
      : oneOf(input.missed, 'missed', MISSED_TICKS_POLICIES);
  const body = bodyBytes(input.body);
  if (body.length > SCHEDULE_BODY_BYTES_MAX) {
    throw invalid('body', `is larger than ${SCHEDULE_BODY_BYTES_MAX} bytes`);
  }
  const headers = input.headers === undefined ? {} : input.headers;
  if (typeof headers === 'object' && headers !== null && !Array.isArray(headers)) {
    for (const name of Object.keys(headers)) {
      if (name === SCHEDULE_HEADERS.name || name === SCHEDULE_HEADERS.tick) {
        throw invalid('headers', `may not set ${name}: the broker sets it on each tick`);
      }
    }
  }
  // The message each tick publishes, checked as a publish is (names the bad field).
  if (typeof input.subject !== 'string') throw invalid('subject', 'must be a string');
  encodeMessage(
    input.subject,
    body,
    {
      headers: headers as Record<string, string>,
      ...(input.key === undefined ? {} : { key: input.key as string }),
      ...(input.priority === undefined ? {} : { priority: input.priority as number }),
      ...(input.ttlMs === undefined ? {} : { ttlMs: input.ttlMs as number }),
    },
    0,
  );
  return deepFreeze({
    cron,
    everyMs,
    timezone,
    subject: input.subject,
    bodyBase64: Buffer.from(body.buffer, body.byteOffset, body.byteLength).toString('base64'),
    headers: sortedHeaders(headers as Record<string, string>),
    key: input.key === undefined ? null : (input.key as string),
    priority: input.priority === undefined ? 0 : (input.priority as number),
    ttlMs: input.ttlMs === undefined ? null : (input.ttlMs as number),
    missed,
  });
}

function bodyBytes(body: unknown): Uint8Array {
  if (body === undefined) return new Uint8Array(0);
  try {
    return encodeBody(body as Body);
  } catch (error) {
    throw invalid('body', error instanceof Error ? error.message : 'cannot be encoded');
  }
}

function sortedHeaders(headers: Record<string, string>): Record<string, string> {
  const sorted: Record<string, string> = {};
  for (const name of Object.keys(headers).sort()) {
    Object.defineProperty(sorted, name, {
      value: headers[name],
      enumerable: true,
      writable: true,
      configurable: true,
    });
  }
  return sorted;
}

/** Two configs are the same schedule (create again is then not an error). */
export function sameScheduleConfig(a: ScheduleConfig, b: ScheduleConfig): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

/** The schedule's body as the bytes a tick publishes. */
export function scheduleBody(config: ScheduleConfig): Uint8Array {
  return new Uint8Array(Buffer.from(config.bodyBase64, 'base64'));
}

/** A config read back from a schedule's file: the same checks, so a damaged file cannot fire. */
export function parseStoredScheduleConfig(value: unknown): ScheduleConfig {
  const stored = (value ?? {}) as Partial<ScheduleConfig>;
  return resolveScheduleConfig({
    ...(stored.cron === null || stored.cron === undefined ? {} : { cron: stored.cron }),
    ...(stored.everyMs === null || stored.everyMs === undefined ? {} : { everyMs: stored.everyMs }),
    ...(stored.timezone === null || stored.timezone === undefined
      ? {}
      : { timezone: stored.timezone }),
    subject: stored.subject,
    body: new Uint8Array(Buffer.from(String(stored.bodyBase64 ?? ''), 'base64')),
    headers: stored.headers ?? {},
    ...(stored.key === null || stored.key === undefined ? {} : { key: stored.key }),
    ...(stored.priority === undefined ? {} : { priority: stored.priority }),
    ...(stored.ttlMs === null || stored.ttlMs === undefined ? {} : { ttlMs: stored.ttlMs }),
    ...(stored.missed === undefined ? {} : { missed: stored.missed }),
  });
}
