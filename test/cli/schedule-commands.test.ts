/** `weir schedule add | ls | info | rm`: the same schedules `client.schedules` makes and reads. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { withCli } from './cli-fixture.js';

test('weir schedule add makes a schedule; ls and info show it; rm deletes it; refusals exit non-zero', () =>
  withCli(async ({ client, run }) => {
    const added = await run([
      'schedule',
      'add',
      'morning',
      '--cron',
      '0 9 * * 1-5',
      '--timezone',
      'Europe/Berlin',
      '--subject',
      'reports.morning',
      '--body',
      'hello',
      '--header',
      'team=sales',
      '--priority',
      '3',
      '--missed',
      'skip',
    ]);
    assert.equal(added.code, 0, added.stderr);
    assert.match(
      added.stdout,
      /^morning +cron '0 9 \* \* 1-5' Europe\/Berlin +-> reports\.morning/,
    );
    const info = await client.schedules.info('morning');
    assert.equal(info.config.cron, '0 9 * * 1-5');
    assert.equal(info.config.timezone, 'Europe/Berlin');
    assert.deepEqual(info.config.headers, { team: 'sales' });
    assert.equal(info.config.priority, 3);
    assert.equal(info.config.missed, 'skip');
    assert.equal(Buffer.from(info.config.bodyBase64, 'base64').toString(), 'hello');

    const every = await run(['schedule', 'add', 'pulse', '--every-ms', '5000', '--subject', 'p']);
    assert.equal(every.code, 0, every.stderr);
    const listed = await run(['schedule', 'ls']);
    assert.equal(listed.code, 0, listed.stderr);
    assert.match(listed.stdout, /^morning .*\npulse +every 5000 ms +-> p +next \S+ +fired 0\n$/);
    const json = JSON.parse((await run(['schedule', 'ls', '--json'])).stdout) as { name: string }[];
    assert.deepEqual(
      json.map((schedule) => schedule.name),
      ['morning', 'pulse'],
    );
    const details = await run(['schedule', 'info', 'morning']);
    assert.equal(details.code, 0, details.stderr);
    assert.match(details.stdout, /^cron +0 9 \* \* 1-5 +\(Europe\/Berlin\)$/m);
    assert.match(details.stdout, /^body +hello$/m);
    assert.match(details.stdout, /^missed +skip$/m);

    const badCron = await run(['schedule', 'add', 'bad', '--cron', 'often', '--subject', 'p']);
    assert.equal(badCron.code, 2);
    assert.match(badCron.stderr, /cron .*not a cron expression/);
    const conflict = await run([
      'schedule',
      'add',
      'pulse',
      '--every-ms',
      '6000',
      '--subject',
      'p',
    ]);
    assert.equal(conflict.code, 1, 'not a usage error: exit 1');
    assert.match(conflict.stderr, /SCHEDULE_EXISTS|exists with different options/);

    const removed = await run(['schedule', 'rm', 'pulse']);
    assert.equal(removed.code, 0, removed.stderr);
    assert.equal(removed.stdout, 'deleted schedule pulse\n');
    const missing = await run(['schedule', 'rm', 'pulse']);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /SCHEDULE_NOT_FOUND|does not exist/);
    assert.deepEqual(
      (await client.schedules.list()).map((schedule) => schedule.name),
      ['morning'],
    );
  }));
