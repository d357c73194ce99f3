/**
 * Schedules (cron and repeatable messages) over HTTP, the same operations as
 * `client.schedules.*` (and `weir schedule …`). Listing and reading are open to every user;
 * creating or deleting one needs what publishing to its subject needs (the broker checks:
 * NOT_AUTHORIZED, 403). A body travels as JSON or text (`body`); the answer shows the bytes a
 * tick publishes as `config.bodyBase64`.
 */
import { SCHEDULE_OPTION_NAMES } from '../protocol/index.js';
import { invalid, objectBody, onlyKeys } from './http-io.js';
import type { Route } from './router.js';

const SCHEDULE_EXAMPLE = {
  name: 'daily-report',
  cron: '0 9 * * 1-5',
  timezone: 'Europe/Berlin',
  subject: 'reports.daily',
  body: { report: 'sales' },
};

export function scheduleRoutes(): Route[] {
  return [
    {
      method: 'GET',
      path: '/api/schedules',
      tag: 'schedules',
      summary:
        'Every schedule, by name: config (cron or everyMs, timezone, subject, bodyBase64, headers, key, priority, ttlMs, missed), createdAtMs, nextFireMs, lastFiredMs, fired, skipped, failed, lastError, failure.',
      handler: ({ client }) => client.schedules.list(),
    },
    {
      method: 'POST',
      path: '/api/schedules',
      tag: 'schedules',
      summary:
        "Creates a schedule: name, exactly one of cron (5 fields, or 6 with seconds) and everyMs, subject, body, headers, key, priority, ttlMs, timezone (IANA, default 'UTC'; only with cron), missed ('skip' | 'once' | 'all', default 'once'). The same options again answer the schedule; different ones SCHEDULE_EXISTS. Needs publish permission on the subject.",
      body: {
        description:
          '{ name, cron? | everyMs?, subject, body?, headers?, key?, priority?, ttlMs?, timezone?, missed? }',
        example: SCHEDULE_EXAMPLE,
      },
      status: 201,
      handler: async ({ client, body }) => {
        const { name, ...options } = objectBody(await body());
        onlyKeys(options, [...SCHEDULE_OPTION_NAMES]);
        if (typeof name !== 'string') throw invalid('name', 'must be a string');
        return client.schedules.create(name, options as never);
      },
    },
    {
      method: 'GET',
      path: '/api/schedules/{schedule}',
      tag: 'schedules',
      summary: 'One schedule (SCHEDULE_NOT_FOUND if there is none).',
      handler: ({ client, params }) => client.schedules.info(params.schedule!),
    },
    {
      method: 'DELETE',
      path: '/api/schedules/{schedule}',
      tag: 'schedules',
      summary:
        'Removes the schedule: no tick fires after the answer. Needs publish permission on its subject.',
      handler: async ({ client, params }) => {
        await client.schedules.delete(params.schedule!);
        return { deleted: params.schedule };
      },
    },
  ];
}
