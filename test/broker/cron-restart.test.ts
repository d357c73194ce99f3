/**
 * Schedules across power cuts and downtime, on an embedded broker over the fault-injecting
 * file system (FaultyFileSystem over MemoryFileSystem: a crash keeps only synced bytes):
 *
 * - a power cut before each file-system call of a firing (the intent write, the publish to two
 *   streams, the state write): after the reopen the tick is in each stream exactly once, with
 *   the streams' dedup window off, so only the intent's recovery scan can prevent a repeat;
 * - the missed policies after the broker was closed while the clock moved on: skip, once, all,
 *   and all past its bound.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Broker } from '../../src/broker/index.js';
import { SCHEDULE_MISSED_TICKS_MAX } from '../../src/limits.js';
import type { Client, MissedTicksPolicy } from '../../src/protocol/index.js';
import { MemoryFileSystem } from '../../src/storage/index.js';
import { ManualClock } from '../../src/util/index.js';
import { FaultyFileSystem, type FaultOperation } from '../helpers/faulty-file-system.js';
import { eventually } from './semantics/harness.js';

const DATA_DIR = '/cron-restart';
const START_MS = Date.UTC(2030, 0, 1);
const MINUTE_MS = 60_000;

/** Every tick of schedule `name` in stream `stream`, sorted (partitions interleave). */
async function ticksIn(client: Client, stream: string, name: string): Promise<number[]> {
  const subscription = await client.subscribe(stream, { start: 'earliest', ack: 'none' });
  const ticks: number[] = [];
  try {
    for (let count = 0; count < 10_000; count++) {
      const message = await subscription.receive({ timeoutMs: 150 });
      if (message === null) break;
      if (message.headers['weir-schedule'] === name) {
        ticks.push(Number(message.headers['weir-schedule-tick']));
      }
    }
  } finally {
    await subscription.close();
  }
  return ticks.sort((a, b) => a - b);
}

async function openBroker(fileSystem: FaultyFileSystem, clock: ManualClock): Promise<Broker> {
  return Broker.open({ dataDir: DATA_DIR, fileSystem, clock });
}

/** A broker with two streams capturing `reports.>` (no dedup) and a per-minute schedule. */
async function setUp(missed: MissedTicksPolicy = 'once') {
  const fileSystem = new FaultyFileSystem(new MemoryFileSystem());
  const clock = new ManualClock(START_MS);
  const broker = await openBroker(fileSystem, clock);
  const client = broker.connect();
  for (const stream of ['reports', 'audit']) {
    await client.streams.create(stream, {
      subjects: ['reports.>'],
      partitions: 2,
      fsync: 'always',
      dedupWindowMs: 0,
    });
  }
  await client.schedules.create('minutely', {
    everyMs: MINUTE_MS,
    subject: 'reports.minutely',
    body: 'tick',
    missed,
  });
  return { fileSystem, clock, broker, client };
}

const FIRST_TICK = START_MS + MINUTE_MS;

describe('schedules across power cuts', () => {
  test('a power cut before any file-system call of a firing leaves the tick in each stream exactly once', async () => {
    // A dry run: the calls one firing makes.
    const calls: string[] = [];
    {
      const { fileSystem, clock, broker, client } = await setUp();
      fileSystem.hook = (operation: FaultOperation, file: string) => {
        calls.push(`${operation} ${file}`);
      };
      clock.advance(MINUTE_MS);
      await eventually(async () => (await client.schedules.info('minutely')).fired === 1);
      fileSystem.hook = null;
      await broker.close();
    }
    assert.ok(calls.some((call) => call.startsWith('rename') && call.includes('schedules')));
    assert.ok(calls.some((call) => call.startsWith('sync') && call.includes('streams')));
    for (let step = 0; step < calls.length; step++) {
      const { fileSystem, clock } = await setUp();
      let seen = 0;
      let next = null as Promise<FaultyFileSystem> | null;
      fileSystem.hook = () => {
        if (seen++ === step) next = fileSystem.crash(); // fences this one at once
      };
      clock.advance(MINUTE_MS);
      await eventually(() => next !== null, 10_000, `the crash before call ${step}`);
      // The crashed broker is abandoned, never closed; a new process opens what survived.
      const reopenedClock = new ManualClock(clock.now());
      const broker = await openBroker(await next!, reopenedClock);
      try {
        const reopened = broker.connect();
        await eventually(async () => (await reopened.schedules.info('minutely')).fired === 1);
        const where = `crash before call ${step} (${calls[step]})`;
        assert.deepEqual(await ticksIn(reopened, 'reports', 'minutely'), [FIRST_TICK], where);
        assert.deepEqual(await ticksIn(reopened, 'audit', 'minutely'), [FIRST_TICK], where);
        // And it goes on from there: the next tick once, the first not again.
        reopenedClock.advance(MINUTE_MS);
        await eventually(async () => (await reopened.schedules.info('minutely')).fired === 2);
        assert.deepEqual(
          await ticksIn(reopened, 'reports', 'minutely'),
          [FIRST_TICK, FIRST_TICK + MINUTE_MS],
          where,
        );
      } finally {
        await broker.close();
      }
    }
  });
});

describe('missed ticks after downtime', () => {
  /** Fires the first tick, closes the broker, moves the clock `downMs`, reopens. */
  async function downtime(missed: MissedTicksPolicy, downMs: number, everyMs = MINUTE_MS) {
    const fileSystem = new FaultyFileSystem(new MemoryFileSystem());
    const clock = new ManualClock(START_MS);
    let broker = await openBroker(fileSystem, clock);
    let client = broker.connect();
    await client.streams.create('reports', { subjects: ['reports.>'], dedupWindowMs: 0 });
    await client.schedules.create('job', { everyMs, subject: 'reports.job', missed });
    clock.advance(everyMs);
    await eventually(async () => (await client.schedules.info('job')).fired === 1);
    await broker.close();
    clock.advance(downMs); // nothing runs: the broker is closed
    broker = await openBroker(fileSystem, clock);
    client = broker.connect();
    return { broker, client, clock };
  }

  test('skip: the ticks missed while closed are not published, and counted', async () => {
    const { broker, client } = await downtime('skip', 10 * MINUTE_MS);
    try {
      // The catch-up runs in the schedule's lane once the broker is open.
      await eventually(async () => (await client.schedules.info('job')).skipped === 10);
      const info = await client.schedules.info('job');
      assert.equal(info.fired, 1);
      assert.equal(info.skipped, 10);
      assert.equal(info.nextFireMs, FIRST_TICK + 11 * MINUTE_MS);
      assert.deepEqual(await ticksIn(client, 'reports', 'job'), [FIRST_TICK]);
    } finally {
      await broker.close();
    }
  });

  test('once (the default): the latest missed tick is published once', async () => {
    const { broker, client } = await downtime('once', 10 * MINUTE_MS + 30_000);
    try {
      await eventually(async () => (await client.schedules.info('job')).fired === 2);
      const info = await client.schedules.info('job');
      assert.equal(info.skipped, 9);
      assert.equal(info.lastFiredMs, FIRST_TICK + 10 * MINUTE_MS);
      assert.deepEqual(await ticksIn(client, 'reports', 'job'), [
        FIRST_TICK,
        FIRST_TICK + 10 * MINUTE_MS,
      ]);
    } finally {
      await broker.close();
    }
  });

  test('all: every missed tick is published, in order', async () => {
    const { broker, client, clock } = await downtime('all', 5 * MINUTE_MS);
    try {
      await eventually(async () => (await client.schedules.info('job')).fired === 6);
      assert.equal((await client.schedules.info('job')).skipped, 0);
      const expected = [0, 1, 2, 3, 4, 5].map((k) => FIRST_TICK + k * MINUTE_MS);
      assert.deepEqual(await ticksIn(client, 'reports', 'job'), expected);
      clock.advance(MINUTE_MS);
      await eventually(async () => (await client.schedules.info('job')).fired === 7);
    } finally {
      await broker.close();
    }
  });

  test('all is bounded: past SCHEDULE_MISSED_TICKS_MAX the rest are skipped', async () => {
    const everyMs = 1000;
    const missed = SCHEDULE_MISSED_TICKS_MAX + 500;
    const { broker, client } = await downtime('all', missed * everyMs, everyMs);
    try {
      await eventually(
        async () => (await client.schedules.info('job')).fired === 1 + SCHEDULE_MISSED_TICKS_MAX,
        30_000,
      );
      await eventually(async () => (await client.schedules.info('job')).skipped === 500);
      const ticks = await ticksIn(client, 'reports', 'job');
      assert.equal(ticks.length, 1 + SCHEDULE_MISSED_TICKS_MAX);
      assert.equal(ticks[1], START_MS + 2 * everyMs, 'the first missed ones, in order');
    } finally {
      await broker.close();
    }
  });

  test('a daily cron closed over three days fires once on reopen, for the last midnight', async () => {
    const fileSystem = new FaultyFileSystem(new MemoryFileSystem());
    const clock = new ManualClock(START_MS + 12 * 60 * MINUTE_MS); // noon
    let broker = await openBroker(fileSystem, clock);
    let client = broker.connect();
    await client.streams.create('reports', { subjects: ['reports.>'] });
    await client.schedules.create('daily', { cron: '@daily', subject: 'reports.daily' });
    await broker.close();
    clock.advance(3 * 24 * 60 * MINUTE_MS);
    broker = await openBroker(fileSystem, clock);
    client = broker.connect();
    try {
      await eventually(async () => (await client.schedules.info('daily')).fired === 1);
      const info = await client.schedules.info('daily');
      assert.equal(info.skipped, 2);
      const lastMidnight = START_MS + 3 * 24 * 60 * MINUTE_MS;
      assert.equal(info.lastFiredMs, lastMidnight);
      assert.deepEqual(await ticksIn(client, 'reports', 'daily'), [lastMidnight]);
    } finally {
      await broker.close();
    }
  });
});

test('a memory broker keeps its schedules in memory and fires them', async () => {
  const clock = new ManualClock(START_MS);
  const broker = await Broker.open({ storage: 'memory', clock });
  try {
    const client = broker.connect();
    await client.streams.create('reports', { subjects: ['reports.>'] });
    await client.schedules.create('memory', { everyMs: 1000, subject: 'reports.memory' });
    clock.advance(2000);
    await eventually(async () => (await client.schedules.info('memory')).fired === 2);
    assert.deepEqual(await ticksIn(client, 'reports', 'memory'), [
      START_MS + 1000,
      START_MS + 2000,
    ]);
  } finally {
    await broker.close();
  }
});

test('a schedule whose file cannot be written stops (failure), and the next open goes on from its file', async () => {
  const fileSystem = new FaultyFileSystem(new MemoryFileSystem());
  const clock = new ManualClock(START_MS);
  let broker = await openBroker(fileSystem, clock);
  try {
    let client = broker.connect();
    await client.streams.create('reports', { subjects: ['reports.>'] });
    await client.schedules.create('job', { everyMs: MINUTE_MS, subject: 'reports.job' });
    const heal = fileSystem.inject({ operation: 'rename', code: 'EIO', path: /schedules/ });
    clock.advance(MINUTE_MS);
    await eventually(async () => (await client.schedules.info('job')).failure !== null);
    const failed = await client.schedules.info('job');
    assert.equal(failed.failure?.code, 'STORAGE_FAILED');
    assert.equal(failed.nextFireMs, null);
    assert.equal(failed.fired, 0);
    assert.deepEqual(
      await ticksIn(client, 'reports', 'job'),
      [],
      'the intent was not written: no publish',
    );
    clock.advance(MINUTE_MS);
    assert.equal((await client.schedules.info('job')).fired, 0, 'a failed schedule fires no more');
    heal();
    await broker.close();
    broker = await openBroker(fileSystem, clock);
    client = broker.connect();
    // Both ticks passed while it could not fire: missed, so 'once' publishes the latest.
    await eventually(async () => (await client.schedules.info('job')).fired === 1);
    const info = await client.schedules.info('job');
    assert.equal(info.failure, null);
    assert.equal(info.lastFiredMs, FIRST_TICK + MINUTE_MS);
    assert.deepEqual(await ticksIn(client, 'reports', 'job'), [FIRST_TICK + MINUTE_MS]);
  } finally {
    await broker.close();
  }
});
