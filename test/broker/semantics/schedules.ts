/**
 * Cron and repeatable messages: schedules fire at their times (the clock driven by the test),
 * every period or on a cron expression read in a time zone (across a DST change), carry the
 * schedule headers and dedup id, are listed, read and deleted, refuse bad options naming the
 * field, and survive a restart. Missed ticks and crashes: test/broker/cron-restart.test.ts.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { Client, Message, Subscription } from '../../../src/protocol/index.js';
import type { PrincipalHarnessFactory } from './permissions.js';
import {
  eventually,
  expectNothing,
  receiveN,
  rejectsWith,
  withBroker,
  type HarnessFactory,
} from './harness.js';

const MINUTE_MS = 60_000;
const DAY_MS = 24 * 60 * MINUTE_MS;

async function reportsStream(client: Client): Promise<Subscription> {
  await client.streams.create('reports', { subjects: ['reports.>'] });
  return client.subscribe('reports', { subscription: 'readers' });
}

function tickOf(message: Message): number {
  return Number(message.headers['weir-schedule-tick']);
}

/** The last Sunday of March of `year`, 00:00 UTC (Europe moves to summer time that day). */
function lastSundayOfMarch(year: number): number {
  const day = new Date(Date.UTC(year, 2, 31));
  day.setUTCDate(31 - day.getUTCDay());
  return day.getTime();
}

export function schedulesSuite(factory: HarnessFactory): void {
  describe('schedules', () => {
    test('an everyMs schedule fires once per period with its headers and dedup id', () =>
      withBroker(factory, async ({ client, clock }) => {
        const subscription = await reportsStream(client);
        const created = await client.schedules.create('heartbeat', {
          everyMs: MINUTE_MS,
          subject: 'reports.heartbeat',
          body: { ok: true },
          headers: { source: 'cron' },
        });
        assert.equal(created.nextFireMs, created.createdAtMs + MINUTE_MS);
        assert.equal(created.fired, 0);
        assert.equal(created.lastFiredMs, null);
        clock.advance(MINUTE_MS - 1);
        await expectNothing(subscription);
        clock.advance(1);
        const [first] = await receiveN(subscription, 1);
        assert.equal(first!.subject, 'reports.heartbeat');
        assert.deepEqual(first!.json(), { ok: true });
        assert.equal(first!.headers.source, 'cron');
        assert.equal(first!.headers['weir-schedule'], 'heartbeat');
        assert.equal(tickOf(first!), created.createdAtMs + MINUTE_MS);
        assert.equal(first!.id, `weir-schedule:heartbeat:${created.createdAtMs + MINUTE_MS}`);
        await first!.ack();
        clock.advance(2 * MINUTE_MS);
        const later = await receiveN(subscription, 2);
        assert.deepEqual(
          later.map(tickOf),
          [2, 3].map((k) => created.createdAtMs + k * MINUTE_MS),
          'each tick once, in order',
        );
        await expectNothing(subscription);
        await eventually(async () => (await client.schedules.info('heartbeat')).fired === 3);
        const info = await client.schedules.info('heartbeat');
        assert.equal(info.lastFiredMs, created.createdAtMs + 3 * MINUTE_MS);
        assert.equal(info.nextFireMs, created.createdAtMs + 4 * MINUTE_MS);
        assert.equal(info.skipped, 0);
      }));

    test('a cron schedule fires at the times of its expression', () =>
      withBroker(factory, async ({ client, clock }) => {
        const subscription = await reportsStream(client);
        const created = await client.schedules.create('five-minutes', {
          cron: '*/5 * * * *',
          subject: 'reports.five',
          body: 'tick',
        });
        const first = created.nextFireMs!;
        assert.ok(first > clock.now() && first - clock.now() <= 5 * MINUTE_MS);
        assert.equal(first % (5 * MINUTE_MS), 0, 'on a five-minute boundary (UTC)');
        assert.equal(created.config.timezone, 'UTC');
        clock.advanceTo(first - 1);
        await expectNothing(subscription);
        clock.advance(1);
        const [message] = await receiveN(subscription, 1);
        assert.equal(tickOf(message!), first);
        assert.equal(message!.text(), 'tick');
        await message!.ack(); // or its lease runs out while the clock moves on, and it comes again
        clock.advance(10 * MINUTE_MS);
        const more = await receiveN(subscription, 2);
        assert.deepEqual(more.map(tickOf), [first + 5 * MINUTE_MS, first + 10 * MINUTE_MS]);
        await expectNothing(subscription);
      }));

    test('a cron at 09:00 Europe/Berlin fires at 08:00 UTC in winter, 07:00 UTC after the DST change', () =>
      withBroker(factory, async ({ client, clock }) => {
        const year = new Date(clock.now()).getUTCFullYear() + 1;
        const sunday = lastSundayOfMarch(year);
        clock.advanceTo(sunday - 2 * DAY_MS); // the Friday before, 00:00 UTC
        const subscription = await reportsStream(client);
        const created = await client.schedules.create('morning', {
          cron: '0 9 * * *',
          timezone: 'Europe/Berlin',
          subject: 'reports.morning',
        });
        assert.equal(created.config.timezone, 'Europe/Berlin');
        assert.equal(created.nextFireMs, sunday - 2 * DAY_MS + 8 * 60 * MINUTE_MS);
        clock.advance(3 * DAY_MS);
        const messages = await receiveN(subscription, 3);
        assert.deepEqual(
          messages.map((message) => new Date(tickOf(message)).toISOString()),
          [
            sunday - 2 * DAY_MS + 8 * 60 * MINUTE_MS, // Friday, CET (UTC+1)
            sunday - DAY_MS + 8 * 60 * MINUTE_MS, // Saturday, CET
            sunday + 7 * 60 * MINUTE_MS, // Sunday, CEST (UTC+2)
          ].map((time) => new Date(time).toISOString()),
        );
        await expectNothing(subscription);
      }));

    test('the message carries the schedule key, priority, ttl and a byte body', () =>
      withBroker(factory, async ({ client, clock }) => {
        const subscription = await reportsStream(client);
        await client.schedules.create('bytes', {
          everyMs: 1000,
          subject: 'reports.bytes',
          body: new Uint8Array([0, 1, 2, 255]),
          key: 'k1',
          priority: 7,
          ttlMs: 60_000,
        });
        const info = await client.schedules.info('bytes');
        assert.equal(info.config.bodyBase64, 'AAEC/w==');
        clock.advance(1000);
        const [message] = await receiveN(subscription, 1);
        assert.deepEqual([...message!.body], [0, 1, 2, 255]);
        assert.equal(message!.key, 'k1');
        assert.equal(message!.priority, 7);
      }));

    test('list, info and delete; no tick fires after a delete; SCHEDULE_NOT_FOUND', () =>
      withBroker(factory, async ({ client, clock }) => {
        const subscription = await reportsStream(client);
        await client.schedules.create('b-second', { everyMs: MINUTE_MS, subject: 'reports.b' });
        await client.schedules.create('a-first', {
          cron: '0 0 * * *',
          subject: 'reports.a',
          missed: 'all',
        });
        const list = await client.schedules.list();
        assert.deepEqual(
          list.map((schedule) => schedule.name),
          ['a-first', 'b-second'],
        );
        const info = await client.schedules.info('a-first');
        assert.deepEqual(info.config, {
          cron: '0 0 * * *',
          everyMs: null,
          timezone: 'UTC',
          subject: 'reports.a',
          bodyBase64: '',
          headers: {},
          key: null,
          priority: 0,
          ttlMs: null,
          missed: 'all',
        });
        assert.equal((await client.schedules.info('b-second')).config.missed, 'once');
        assert.equal((await client.schedules.info('b-second')).config.timezone, null);
        await client.schedules.delete('b-second');
        await rejectsWith(client.schedules.info('b-second'), 'SCHEDULE_NOT_FOUND', /b-second/);
        await rejectsWith(client.schedules.delete('b-second'), 'SCHEDULE_NOT_FOUND');
        assert.deepEqual(
          (await client.schedules.list()).map((schedule) => schedule.name),
          ['a-first'],
        );
        clock.advance(3 * MINUTE_MS);
        await expectNothing(subscription);
      }));

    test('the same options again are not an error; different ones are SCHEDULE_EXISTS', () =>
      withBroker(factory, async ({ client, clock }) => {
        const options = { everyMs: 5000, subject: 'reports.same', body: 'x' } as const;
        const first = await client.schedules.create('same', options);
        clock.advance(10);
        const again = await client.schedules.create('same', { ...options });
        assert.equal(again.createdAtMs, first.createdAtMs);
        await rejectsWith(
          client.schedules.create('same', { ...options, body: 'y' }),
          'SCHEDULE_EXISTS',
          /same/,
        );
        assert.equal((await client.schedules.list()).length, 1);
      }));

    test('bad options are INVALID_ARGUMENT naming the field', () =>
      withBroker(factory, async ({ client }) => {
        const subject = 'reports.x';
        const cases: [unknown, RegExp][] = [
          [{ cron: 'not a cron', subject }, /^cron .*not a cron expression/],
          [{ cron: '61 * * * *', subject }, /^cron /],
          [{ cron: '* * * * *', everyMs: 1000, subject }, /^cron or everyMs/],
          [{ subject }, /^cron or everyMs/],
          [{ cron: '* * * * *', timezone: 'Mars/Olympus', subject }, /^timezone /],
          [{ everyMs: 1000, timezone: 'UTC', subject }, /^timezone is only for cron/],
          [{ everyMs: 10, subject }, /^everyMs must be an integer/],
          [{ everyMs: 1000, subject, missed: 'sometimes' }, /^missed must be one of/],
          [{ everyMs: 1000, subject: 'bad subject!' }, /subject/],
          [{ everyMs: 1000 }, /^subject/],
          [{ everyMs: 1000, subject, priority: 12 }, /^priority/],
          [{ everyMs: 1000, subject, headers: { 'weir-schedule': 'x' } }, /^headers may not/],
          [{ everyMs: 1000, subject, colour: 'red' }, /schedule options\.colour is not an option/],
        ];
        for (const [options, message] of cases) {
          await rejectsWith(
            client.schedules.create('bad', options as never),
            'INVALID_ARGUMENT',
            message,
          );
        }
        await rejectsWith(
          client.schedules.create('no spaces', { everyMs: 1000, subject }),
          'INVALID_ARGUMENT',
          /schedule name/,
        );
        assert.deepEqual(await client.schedules.list(), []);
      }));

    test('a tick with no stream to go to fails alone; the next one publishes', () =>
      withBroker(factory, async ({ client, clock }) => {
        await client.schedules.create('early', { everyMs: 1000, subject: 'reports.early' });
        clock.advance(1000);
        await eventually(async () => (await client.schedules.info('early')).failed === 1);
        const failed = await client.schedules.info('early');
        assert.equal(failed.lastError?.code, 'NO_ROUTE');
        assert.equal(failed.fired, 0);
        const subscription = await reportsStream(client);
        clock.advance(1000);
        const [message] = await receiveN(subscription, 1);
        assert.equal(tickOf(message!), failed.createdAtMs + 2000);
        await eventually(async () => (await client.schedules.info('early')).fired === 1);
        assert.equal((await client.schedules.info('early')).lastError, null);
      }));

    test('schedules survive a restart and go on firing from where they stood', () =>
      withBroker(factory, async (harness) => {
        const { clock } = harness;
        let client = harness.client;
        let subscription = await reportsStream(client);
        const created = await client.schedules.create('durable', {
          everyMs: MINUTE_MS,
          subject: 'reports.durable',
        });
        clock.advance(MINUTE_MS);
        const [first] = await receiveN(subscription, 1);
        await first!.ack();
        await eventually(async () => (await client.schedules.info('durable')).fired === 1);
        client = await harness.restart!();
        const info = await client.schedules.info('durable');
        assert.equal(info.fired, 1);
        assert.equal(info.createdAtMs, created.createdAtMs);
        assert.equal(info.nextFireMs, created.createdAtMs + 2 * MINUTE_MS);
        subscription = await client.subscribe('reports', { subscription: 'readers' });
        await expectNothing(subscription);
        clock.advance(MINUTE_MS);
        const [second] = await receiveN(subscription, 1);
        assert.equal(tickOf(second!), created.createdAtMs + 2 * MINUTE_MS);
      }));
  });
}

/**
 * Who may make and remove schedules: a schedule publishes as the broker, so creating or deleting
 * one needs publish permission on its subject; listing and reading are open to every user.
 */
export function schedulePermissionsSuite(factory: PrincipalHarnessFactory): void {
  describe('schedules: permissions', () => {
    test('create and delete need publish permission on the subject; list and info are open', () =>
      withBroker(factory, async ({ client, clientAs }) => {
        const producer = await clientAs({
          user: 'producer',
          admin: false,
          allow: ['publish:reports.>'],
          deny: ['publish:reports.secret'],
        });
        const reader = await clientAs({ user: 'reader', admin: false, allow: [], deny: [] });
        const made = await producer.schedules.create('mine', {
          everyMs: 1000,
          subject: 'reports.mine',
        });
        assert.equal(made.name, 'mine');
        await rejectsWith(
          producer.schedules.create('other', { everyMs: 1000, subject: 'billing.run' }),
          'NOT_AUTHORIZED',
          /producer may not create schedule other: it publishes to billing\.run/,
        );
        await rejectsWith(
          producer.schedules.create('secret', { everyMs: 1000, subject: 'reports.secret' }),
          'NOT_AUTHORIZED',
        );
        await client.schedules.create('admins', { everyMs: 1000, subject: 'billing.run' });
        assert.deepEqual(
          (await reader.schedules.list()).map((schedule) => schedule.name),
          ['admins', 'mine'],
        );
        assert.equal((await reader.schedules.info('admins')).config.subject, 'billing.run');
        await rejectsWith(reader.schedules.delete('mine'), 'NOT_AUTHORIZED', /reader may not/);
        await rejectsWith(producer.schedules.delete('admins'), 'NOT_AUTHORIZED');
        await rejectsWith(producer.schedules.delete('missing'), 'SCHEDULE_NOT_FOUND');
        await producer.schedules.delete('mine');
        await client.schedules.delete('admins');
        assert.deepEqual(await reader.schedules.list(), []);
      }));
  });
}
