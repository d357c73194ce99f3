/* eslint-disable @typescript-eslint/no-unsafe-call, @typescript-eslint/no-unsafe-argument -- the HTTP API's JSON answers are `any` here; assertions check each field. */
/**
 * Schedules over HTTP: create (201, again the same: 201, different: 409 SCHEDULE_EXISTS), list,
 * info, delete (404 SCHEDULE_NOT_FOUND after), bad options 400 naming the field, and a
 * schedule made over HTTP fires (the broker's clock driven by the test).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ManualClock } from '../../src/util/index.js';
import { Broker } from '../../src/broker/index.js';
import { startAdminServer } from '../../src/admin/index.js';
import { eventually, request } from './admin-fixture.js';

test('HTTP API: schedules are created, listed, read and deleted, and fire', async () => {
  const clock = new ManualClock(Date.UTC(2030, 0, 1));
  const broker = await Broker.open({ storage: 'memory', clock });
  const admin = await startAdminServer({ broker, port: 0 });
  try {
    const url = admin.address().url;
    const client = broker.connect();
    await client.streams.create('reports', { subjects: ['reports.>'] });
    const options = {
      name: 'daily',
      cron: '0 9 * * *',
      timezone: 'Europe/Berlin',
      subject: 'reports.daily',
      body: { report: 'sales' },
    };
    const created = await request(url, 'POST', '/api/schedules', options);
    assert.equal(created.status, 201, created.text);
    assert.equal(created.json.name, 'daily');
    assert.equal(created.json.config.timezone, 'Europe/Berlin');
    assert.equal(created.json.nextFireMs, Date.UTC(2030, 0, 1, 8));
    assert.equal((await request(url, 'POST', '/api/schedules', options)).status, 201);
    const conflict = await request(url, 'POST', '/api/schedules', { ...options, body: 'other' });
    assert.equal(conflict.status, 409);
    assert.equal(conflict.json.error.code, 'SCHEDULE_EXISTS');

    const bad = await request(url, 'POST', '/api/schedules', {
      ...options,
      name: 'bad',
      cron: 'nope',
    });
    assert.equal(bad.status, 400);
    assert.equal(bad.json.error.code, 'INVALID_ARGUMENT');
    assert.match(bad.json.error.message, /^cron /);
    const unknown = await request(url, 'POST', '/api/schedules', { ...options, colour: 'red' });
    assert.equal(unknown.status, 400);
    assert.match(unknown.json.error.message, /colour/);

    await request(url, 'POST', '/api/schedules', {
      name: 'often',
      everyMs: 1000,
      subject: 'reports.often',
    });
    const list = await request(url, 'GET', '/api/schedules');
    assert.equal(list.status, 200);
    assert.deepEqual(
      list.json.map((schedule: { name: string }) => schedule.name),
      ['daily', 'often'],
    );
    clock.advance(1000);
    await eventually(
      async () => (await request(url, 'GET', '/api/schedules/often')).json.fired === 1,
    );
    assert.equal((await client.streams.info('reports')).messages, 1);

    const deleted = await request(url, 'DELETE', '/api/schedules/often');
    assert.equal(deleted.status, 200);
    assert.deepEqual(deleted.json, { deleted: 'often' });
    const gone = await request(url, 'GET', '/api/schedules/often');
    assert.equal(gone.status, 404);
    assert.equal(gone.json.error.code, 'SCHEDULE_NOT_FOUND');
    assert.equal((await request(url, 'DELETE', '/api/schedules/often')).status, 404);
  } finally {
    await admin.close();
    await broker.close();
  }
});
