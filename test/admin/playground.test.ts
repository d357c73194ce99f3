/**
 * The playground's engine on a real broker whose clock is a ManualClock shared with the run:
 * time moves only when the test advances it (in small steps, letting the broker's promises
 * settle between them), so every preset's effect is checked without sleeping:
 * spike raises the backlog; a slow consumer fills the stream to its capacity and the overflow
 * policy acts (rejections under reject-new, drops under drop-oldest); the poison message is
 * dead-lettered after maxDeliveries; a crashed consumer's messages are redelivered after the
 * lease. Then the HTTP routes: limits and bad fields refused with 400 naming the field, a
 * start / change / stop round trip, the auto-stop after the duration, admin only with users.
 */
import assert from 'node:assert/strict';
import { afterEach, describe, test } from 'node:test';
import { startAdminServer, type AdminServer } from '../../src/admin/index.js';
import { Playground } from '../../src/admin/playground/playground.js';
import {
  PLAYGROUND_DEAD_LETTER_STREAM,
  PLAYGROUND_STREAM,
  POISON_HEADER,
  type PlaygroundCounters,
} from '../../src/admin/playground/playground-run.js';
import { Broker } from '../../src/broker/index.js';
import {
  PLAYGROUND_CONSUMERS_MAX,
  PLAYGROUND_DURATION_MS_MAX,
  PLAYGROUND_RATE_MAX,
  PLAYGROUND_SPIKE_MS,
} from '../../src/limits.js';
import { ManualClock } from '../../src/util/index.js';
import { request } from './admin-fixture.js';

/** Clock steps: small enough that every consumer settles its messages on time. */
const STEP_MS = 10;

interface Setup {
  readonly broker: Broker;
  readonly clock: ManualClock;
  readonly playground: Playground;
}

const opened: Setup[] = [];

async function setup(random: () => number = () => 1): Promise<Setup> {
  const clock = new ManualClock(1_700_000_000_000);
  const broker = await Broker.open({ storage: 'memory', clock });
  const playground = new Playground({ connect: () => broker.connect(), clock, random });
  const result = { broker, clock, playground };
  opened.push(result);
  return result;
}

afterEach(async () => {
  for (const { broker, playground } of opened.splice(0)) {
    await playground.close();
    await broker.close();
  }
});

/** Lets the promises that the last clock step released run (publishes, acks, receives). */
async function settle(): Promise<void> {
  for (let turn = 0; turn < 3; turn++) await new Promise((resolve) => setImmediate(resolve));
}

/**
 * Advances the clock by `ms` in steps, sampling the counters after each step; returns every
 * sample (bounded: ms / STEP_MS steps).
 */
async function drive(setupValue: Setup, ms: number): Promise<PlaygroundCounters[]> {
  const samples: PlaygroundCounters[] = [];
  const run = setupValue.playground.run;
  assert.ok(run, 'a run is going');
  for (let elapsed = 0; elapsed < ms; elapsed += STEP_MS) {
    setupValue.clock.advance(STEP_MS);
    await settle();
    if (elapsed % 100 === 0) {
      await run.sample();
      samples.push(run.counters);
    }
  }
  await run.sample();
  samples.push(run.counters);
  return samples;
}

const peak = (samples: readonly PlaygroundCounters[], key: keyof PlaygroundCounters): number =>
  Math.max(...samples.map((sample) => sample[key]));

describe('the playground engine (ManualClock)', () => {
  test('spike: a 10× burst raises the backlog, which the consumers then drain', async () => {
    const s = await setup();
    await s.playground.apply({ preset: 'spike', parameters: {} });
    const before = await drive(s, 1_900); // the spike comes at 2 s
    const during = await drive(s, PLAYGROUND_SPIKE_MS + 200);
    const beforePeak = peak(before, 'backlog');
    const duringPeak = peak(during, 'backlog');
    assert.ok(beforePeak <= 20, `before the spike the consumers keep up (backlog ${beforePeak})`);
    assert.ok(duringPeak >= 300, `the spike piles messages up (backlog ${duringPeak})`);
    assert.ok(
      s.playground.run!.events.some((event) => event.kind === 'spike'),
      'the spike is an event of the run',
    );
    const after = await drive(s, 30_000);
    const final = after[after.length - 1]!;
    assert.ok(final.backlog < duringPeak / 2, `the backlog drains (${final.backlog} left)`);
    assert.equal(final.rejected, 0, 'capacity 5000 was not reached');
  });

  test('slow consumer under reject-new: the stream fills to capacity, then publishes are refused', async () => {
    const s = await setup();
    await s.playground.apply({ preset: 'slow-consumer', parameters: {} });
    const samples = await drive(s, 10_000);
    const final = samples[samples.length - 1]!;
    const capacity = s.playground.run!.parameters.capacity;
    // At capacity a consumer's ack makes room for one more at once: within a message of it.
    assert.ok(peak(samples, 'stored') >= capacity - 1, 'the stream reached its capacity');
    assert.ok(final.rejected > 0, `STREAM_FULL refusals were counted (${final.rejected})`);
    assert.equal(final.dropped, 0, 'reject-new drops nothing');
    const info = await s.broker.connect().streams.info(PLAYGROUND_STREAM);
    assert.equal(info.rejected, final.rejected, 'the broker counted the same refusals');
    assert.ok(info.messages <= capacity);
  });

  test('slow consumer under drop-oldest: the oldest messages are dropped instead', async () => {
    const s = await setup();
    await s.playground.apply({ preset: 'slow-consumer', parameters: { overflow: 'drop-oldest' } });
    const samples = await drive(s, 10_000);
    const final = samples[samples.length - 1]!;
    assert.equal(final.rejected, 0, 'drop-oldest refuses nothing');
    assert.ok(final.dropped > 0, `the stream dropped the oldest (${final.dropped})`);
    assert.ok(peak(samples, 'stored') <= s.playground.run!.parameters.capacity);
  });

  test('poison message: redelivered until maxDeliveries, then dead-lettered', async () => {
    const s = await setup();
    await s.playground.apply({ preset: 'poison', parameters: {} });
    const maxDeliveries = s.playground.run!.parameters.maxDeliveries;
    const samples = await drive(s, 5_000);
    const final = samples[samples.length - 1]!;
    assert.equal(final.deadLettered, 1, 'the one poison message is dead-lettered');
    assert.equal(final.nacked, maxDeliveries, 'each of its deliveries failed');
    assert.ok(final.redelivered >= maxDeliveries - 1, `it was redelivered (${final.redelivered})`);
    assert.ok(final.acked > 0, 'the other messages flowed');
    const letters = await s.broker.connect().deadLetters.list('playground.dead');
    assert.equal(letters.length, 1);
    assert.equal(letters[0]!.headers[POISON_HEADER], 'true');
    assert.equal(letters[0]!.reason, 'max-deliveries');
    assert.equal(letters[0]!.deliveries, maxDeliveries);
  });

  test('consumer crash: its leased messages are redelivered once the lease runs out', async () => {
    const s = await setup();
    await s.playground.apply({ preset: 'crash', parameters: {} });
    const leaseMs = s.playground.run!.parameters.leaseMs;
    // The crash comes at 2 s; until its lease runs out nothing is redelivered.
    const untilLease = await drive(s, 2_000 + leaseMs - 100);
    const beforeExpiry = untilLease[untilLease.length - 1]!;
    assert.equal(beforeExpiry.crashed, 1);
    assert.equal(
      beforeExpiry.redelivered,
      0,
      'no failures, so no redelivery before the lease ends',
    );
    assert.ok(beforeExpiry.inFlight > 0, 'the crashed consumer holds leases');
    assert.equal(beforeExpiry.consumers, 2, 'one of three consumers is gone');
    const after = await drive(s, 3_000);
    const final = after[after.length - 1]!;
    assert.ok(final.redelivered > 0, `its messages were redelivered (${final.redelivered})`);
    assert.equal(final.deadLettered, 0);
    assert.equal(final.consumers, 3, 'a new consumer took its place');
    assert.ok(
      s.playground.run!.events.some((event) => event.kind === 'crash'),
      'the crash is an event of the run',
    );
  });

  test('parameters change live: more consumers, a higher failure rate, a lower capacity', async () => {
    let draws = 0;
    const s = await setup(() => (draws++ % 2 === 0 ? 0.25 : 0.75)); // half the draws < 0.5
    await s.playground.apply({ parameters: { ratePerSecond: 50, consumers: 1, processingMs: 5 } });
    await drive(s, 1_000);
    assert.equal(s.playground.run!.counters.nacked, 0);
    await s.playground.apply({ parameters: { consumers: 4, failureRate: 0.5, capacity: 300 } });
    const samples = await drive(s, 2_000);
    const final = samples[samples.length - 1]!;
    assert.equal(final.consumers, 4);
    assert.ok(final.nacked > 0, `failures came with the new rate (${final.nacked})`);
    const info = await s.broker.connect().streams.info(PLAYGROUND_STREAM);
    assert.equal(info.config.maxMessages, 300);
  });

  test('stop deletes the streams and keeps the last counters', async () => {
    const s = await setup();
    await s.playground.apply({ parameters: { ratePerSecond: 100 } });
    await drive(s, 1_000);
    const view = await s.playground.stop();
    assert.equal(view.state, 'finished');
    assert.equal(view.endReason, 'stopped');
    assert.ok(view.counters!.published > 50, `published ${view.counters!.published}`);
    const names = (await s.broker.connect().streams.list()).map((stream) => stream.name);
    assert.ok(!names.includes(PLAYGROUND_STREAM) && !names.includes(PLAYGROUND_DEAD_LETTER_STREAM));
    const published = view.counters!.published;
    s.clock.advance(1_000);
    await settle();
    assert.equal(s.playground.view().counters!.published, published, 'nothing runs after the stop');
  });
});

describe('the playground over HTTP', () => {
  let broker: Broker | null = null;
  let admin: AdminServer | null = null;

  afterEach(async () => {
    await admin?.close();
    await broker?.close();
    admin = null;
    broker = null;
  });

  async function open(clock = new ManualClock()): Promise<string> {
    broker = await Broker.open({ storage: 'memory', clock });
    admin = await startAdminServer({ broker, port: 0, clock, uiDirectory: null });
    return admin.address().url;
  }

  test('bad parameters and limits: 400 INVALID_ARGUMENT naming the field', async () => {
    const url = await open();
    const cases: [Record<string, unknown>, string][] = [
      [{ ratePerSecond: PLAYGROUND_RATE_MAX + 1 }, 'ratePerSecond'],
      [{ ratePerSecond: -1 }, 'ratePerSecond'],
      [{ consumers: PLAYGROUND_CONSUMERS_MAX + 1 }, 'consumers'],
      [{ processingMs: 1.5 }, 'processingMs'],
      [{ failureRate: 2 }, 'failureRate'],
      [{ capacity: 0 }, 'capacity'],
      [{ overflow: 'explode' }, 'overflow'],
      [{ maxDeliveries: 0 }, 'maxDeliveries'],
      [{ leaseMs: 1 }, 'leaseMs'],
      [{ durationMs: PLAYGROUND_DURATION_MS_MAX + 1 }, 'durationMs'],
      [{ preset: 'stampede' }, 'preset'],
      [{ event: 'meteor' }, 'event'],
      [{ speed: 3 }, 'speed'],
    ];
    for (const [body, field] of cases) {
      const answer = await request(url, 'POST', '/api/playground', body);
      assert.equal(answer.status, 400, JSON.stringify(body));
      assert.equal(answer.json.error.code, 'INVALID_ARGUMENT');
      assert.match(
        answer.json.error.message as string,
        new RegExp(`^${field} `),
        JSON.stringify(body),
      );
    }
    const idle = await request(url, 'GET', '/api/playground');
    assert.equal(idle.json.state, 'idle', 'no bad request started a run');
  });

  test('start, change live, refuse a per-run field, stop; auto-stop after the duration', async () => {
    const clock = new ManualClock();
    const url = await open(clock);
    const started = await request(url, 'POST', '/api/playground', {
      preset: 'slow-consumer',
      durationMs: 5_000,
    });
    assert.equal(started.status, 200, started.text);
    assert.equal(started.json.state, 'running');
    assert.equal(started.json.preset, 'slow-consumer');
    assert.equal(started.json.parameters.durationMs, 5_000);
    assert.equal(started.json.counters.consumers, 1);

    const changed = await request(url, 'POST', '/api/playground', { consumers: 3, event: 'spike' });
    assert.equal(changed.status, 200, changed.text);
    assert.equal(changed.json.parameters.consumers, 3);
    assert.equal(changed.json.counters.consumers, 3);
    const events = changed.json.events as { kind: string }[];
    assert.ok(events.some((event) => event.kind === 'spike'));

    const fixed = await request(url, 'POST', '/api/playground', { maxDeliveries: 9 });
    assert.equal(fixed.status, 400);
    assert.match(fixed.json.error.message as string, /^maxDeliveries /);

    for (let step = 0; step < 40; step++) {
      clock.advance(100);
      await settle();
    }
    const running = await request(url, 'GET', '/api/playground');
    assert.equal(running.json.state, 'running');
    assert.ok(running.json.counters.published > 0);
    assert.ok(running.json.history.length > 0, 'samples were taken');

    clock.advance(1_100); // past the 5 s duration
    for (let turn = 0; turn < 20; turn++) {
      await settle();
      if ((await request(url, 'GET', '/api/playground')).json.state !== 'running') break;
    }
    const ended = await request(url, 'GET', '/api/playground');
    assert.equal(ended.json.state, 'finished');
    assert.equal(ended.json.endReason, 'duration');
    const streams = await request(url, 'GET', '/api/streams');
    const names = (streams.json as { name: string }[]).map((stream) => stream.name);
    assert.ok(!names.includes(PLAYGROUND_STREAM), 'the run deleted its streams');

    await request(url, 'POST', '/api/playground', {});
    const stopped = await request(url, 'DELETE', '/api/playground');
    assert.equal(stopped.status, 200);
    assert.equal(stopped.json.state, 'finished');
    assert.equal(stopped.json.endReason, 'stopped');
  });

  test("a stream named playground that is not the playground's is refused and left alone", async () => {
    const url = await open();
    const root = broker!.connect();
    await root.streams.create(PLAYGROUND_STREAM, { subjects: ['mine.>'] });
    await root.publish('mine.one', 'keep me');
    const refused = await request(url, 'POST', '/api/playground', { preset: 'poison' });
    assert.equal(refused.status, 409, refused.text);
    assert.equal(refused.json.error.code, 'STREAM_EXISTS');
    const info = await root.streams.info(PLAYGROUND_STREAM);
    assert.equal(info.messages, 1, 'the stream and its message are still there');
    assert.equal((await request(url, 'GET', '/api/playground')).json.state, 'idle');
    await root.close();
  });

  test('GET ?since= answers only the newer samples', async () => {
    const clock = new ManualClock();
    const url = await open(clock);
    await request(url, 'POST', '/api/playground', { ratePerSecond: 10 });
    for (let step = 0; step < 20; step++) {
      clock.advance(100);
      await settle();
    }
    const all = (await request(url, 'GET', '/api/playground')).json.history as { timeMs: number }[];
    assert.ok(all.length >= 3, `samples: ${all.length}`);
    const since = all[1]!.timeMs;
    const newer = (await request(url, 'GET', `/api/playground?since=${since}`)).json.history as {
      timeMs: number;
    }[];
    assert.deepEqual(
      newer.map((sample) => sample.timeMs),
      all.slice(2).map((sample) => sample.timeMs),
    );
    const bad = await request(url, 'GET', '/api/playground?since=soon');
    assert.equal(bad.status, 400);
    assert.match(bad.json.error.message as string, /^since /);
  });

  test('admin only once the broker has users', async () => {
    const url = await open();
    const root = broker!.connect();
    await root.users.add('admin', { password: 'admin-password', admin: true });
    await root.users.add('alice', { password: 'alice-password', allow: ['subscribe:orders'] });
    const basic = (user: string, password: string): Record<string, string> => ({
      authorization: `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`,
      'content-type': 'application/json',
    });
    const post = (headers: Record<string, string>) =>
      fetch(`${url}/api/playground`, {
        method: 'POST',
        headers,
        body: JSON.stringify({ ratePerSecond: 1 }),
        signal: AbortSignal.timeout(10_000),
      });
    assert.equal((await post({ 'content-type': 'application/json' })).status, 401);
    const refused = await post(basic('alice', 'alice-password'));
    assert.equal(refused.status, 403);
    assert.equal(
      ((await refused.json()) as { error: { code: string } }).error.code,
      'NOT_AUTHORIZED',
    );
    const allowed = await post(basic('admin', 'admin-password'));
    assert.equal(allowed.status, 200);
    await root.close();
  });
});
