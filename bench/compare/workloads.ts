/**
 * The five workloads of shared/bench/README.md, written once over `BrokerAdapter`:
 *
 *   W1  durable work queue: 1 producer (window of unconfirmed), 1 consumer acking each message
 *   W2  fan-out: 1 durable producer, `subscribers` groups each getting and acking every message
 *   W3  latency under a fixed rate, durable as W1; e2e latency from the send time in the body
 *   W4  at-most-once: no confirms, no acks, max throughput; messages/s received, losses counted
 *   W5  backlog: publish N durably with no consumer, then drain; broker peak RSS
 *
 * Every loop is bounded by its message count and by the run's deadline.
 */
import { setImmediate as yieldToEventLoop, setTimeout as sleep } from 'node:timers/promises';
import type { BrokerAdapter, DurableProducer, RunningConsumer } from './adapter.js';
import { Meter, processMemory, type CpuReport } from './process-stats.js';
import { LatencyRecorder, type LatencySummary } from './statistics.js';
import { MessageFactory, readMessage } from './test-message.js';

export const WORKLOADS = ['w1', 'w2', 'w3', 'w4', 'w5'] as const;
export type WorkloadId = (typeof WORKLOADS)[number];

export interface WorkloadParameters {
  readonly messages: number;
  readonly size: number;
  readonly window: number;
  readonly subscribers: number;
  readonly ratePerSecond: number;
  readonly durationSeconds: number;
}

/** Context of one run: the broker's PID (null: unknown), the machine's cores, the deadline. */
export interface RunContext {
  readonly brokerPid: number | null;
  readonly cores: number;
  readonly deadline: number;
}

/** W4: stop waiting for the rest once nothing arrived for this long (at-most-once may lose). */
const QUIET_MS_MAX = 3000;
/** Let sockets and consumers run every this many unpaced publishes. */
const YIELD_EVERY_MESSAGES = 256;
/** Settle time before reading the broker's counters after consumers stopped. */
const SETTLE_MS = 300;

export interface WorkloadResult {
  /** The workload's figures (names in workload-figures.ts), all numbers. */
  readonly figures: Record<string, number | null>;
  readonly cpu: CpuReport;
  /** W5 only: the two phases separately. */
  readonly cpuPublish?: CpuReport;
  readonly cpuDrain?: CpuReport;
  readonly confirmLatency?: LatencySummary;
  readonly endToEndLatency?: LatencySummary;
  readonly duplicates: number;
  readonly publishFailures: number;
  readonly verify: Record<string, unknown>;
}

class DeadlineError extends Error {}

function checkDeadline(context: RunContext, what: string): void {
  if (performance.now() > context.deadline)
    throw new DeadlineError(`deadline passed while ${what}`);
}

async function withDeadline<T>(promise: Promise<T>, context: RunContext, what: string): Promise<T> {
  const controller = new AbortController();
  const left = Math.max(1, context.deadline - performance.now());
  try {
    return await Promise.race([
      promise,
      sleep(left, undefined, { signal: controller.signal }).then(() => {
        throw new DeadlineError(`deadline passed while ${what}`);
      }),
    ]);
  } finally {
    controller.abort();
  }
}

interface Deferred {
  readonly promise: Promise<void>;
  readonly resolve: () => void;
}

function deferred(): Deferred {
  let resolve: () => void = () => undefined;
  const promise = new Promise<void>((done) => (resolve = done));
  return { promise, resolve };
}

/** Counts unique sequence numbers received (and duplicates), optionally their e2e latency. */
class Tracker {
  readonly #seen: Uint8Array;
  readonly #latencies: LatencyRecorder | null;
  readonly #complete = deferred();
  unique = 0;
  duplicates = 0;
  total = 0;
  firstAt = 0;
  lastAt = 0;

  constructor(messages: number, latencies: LatencyRecorder | null = null) {
    this.#seen = new Uint8Array(messages);
    this.#latencies = latencies;
  }

  get complete(): Promise<void> {
    return this.#complete.promise;
  }

  readonly onMessage = (body: Uint8Array): void => {
    const { sequence, ageMs } = readMessage(body);
    const now = performance.now();
    this.#latencies?.record(ageMs);
    this.total++;
    if (sequence < this.#seen.length && this.#seen[sequence] === 0) {
      this.#seen[sequence] = 1;
      if (++this.unique === this.#seen.length) this.#complete.resolve();
    } else {
      this.duplicates++;
    }
    if (this.firstAt === 0) this.firstAt = now;
    this.lastAt = now;
  };
}

interface PublishOutcome {
  readonly startedAt: number;
  readonly sentAt: number;
  readonly confirmedAt: number;
  readonly confirmed: number;
  readonly failed: number;
}

/**
 * Publishes `messages` durably with at most `window` unconfirmed; paced at `ratePerSecond`
 * when given (W3). Records publish→confirm latency.
 */
async function publishWindowed(
  producer: DurableProducer,
  factory: MessageFactory,
  messages: number,
  options: { window: number; ratePerSecond?: number; latencies: LatencyRecorder },
  context: RunContext,
): Promise<PublishOutcome> {
  let outstanding = 0;
  let confirmed = 0;
  let failed = 0;
  let firstError: unknown = null;
  let wake: (() => void) | null = null;
  const allConfirmed = deferred();
  const send = (sequence: number): void => {
    const sentAt = performance.now();
    outstanding++;
    producer.publish(factory.make(sequence), (error) => {
      outstanding--;
      if (error) {
        failed++;
        firstError ??= error;
      } else {
        confirmed++;
        options.latencies.record(performance.now() - sentAt);
      }
      if (wake && outstanding < options.window) {
        const resume = wake;
        wake = null;
        resume();
      }
      if (confirmed + failed === messages) allConfirmed.resolve();
    });
  };
  // No timer per wait (that would cost every broker's client a timer and an AbortController
  // per message once the window is full): the loop checks the deadline, and run-one's hard
  // timer ends a run whose broker stopped confirming.
  const roomInWindow = (): Promise<void> => new Promise<void>((resolve) => (wake = resolve));
  const startedAt = performance.now();
  const rate = options.ratePerSecond ?? 0;
  let next = 0;
  while (next < messages) {
    checkDeadline(context, 'publishing');
    if (rate > 0) {
      const due = Math.min(
        messages,
        Math.floor(((performance.now() - startedAt) / 1000) * rate) + 1,
      );
      while (next < due) {
        if (outstanding >= options.window) await roomInWindow();
        send(next++);
      }
      if (next < messages) await sleep(1);
    } else {
      if (outstanding >= options.window) await roomInWindow();
      send(next++);
      if (next % YIELD_EVERY_MESSAGES === 0) await yieldToEventLoop();
    }
  }
  const sentAt = performance.now();
  if (messages > 0) await withDeadline(allConfirmed.promise, context, 'waiting for confirms');
  if (failed > 0) console.error(`${failed} publishes failed; the first:`, firstError);
  return { startedAt, sentAt, confirmedAt: performance.now(), confirmed, failed };
}

const perSecond = (count: number, milliseconds: number): number =>
  Math.round(count / Math.max(milliseconds / 1000, 1e-9));

async function stopAll(consumers: readonly RunningConsumer[]): Promise<void> {
  for (const consumer of consumers) await consumer.stop();
}

/** W1 (one group) and W2 (`groups` groups): figures from first publish to the last ack. */
async function durableFlow(
  adapter: BrokerAdapter,
  parameters: WorkloadParameters,
  context: RunContext,
  fanOut: boolean,
): Promise<WorkloadResult> {
  const groups = fanOut ? parameters.subscribers : 1;
  const target = await adapter.setupDurable(fanOut ? 'bench_w2' : 'bench_w1', groups);
  const trackers = target.groups.map(() => new Tracker(parameters.messages));
  const consumers: RunningConsumer[] = [];
  for (const [index, group] of target.groups.entries()) {
    consumers.push(await adapter.consume(target, group, trackers[index]!.onMessage));
  }
  const producer = await adapter.durableProducer(target);
  const latencies = new LatencyRecorder(parameters.messages);
  const factory = new MessageFactory(parameters.size);
  const meter = new Meter(context.brokerPid, context.cores).start();
  try {
    const published = await publishWindowed(
      producer,
      factory,
      parameters.messages,
      { window: parameters.window, latencies },
      context,
    );
    await withDeadline(
      Promise.all(trackers.map((tracker) => tracker.complete)),
      context,
      'consuming',
    );
    await withDeadline(
      Promise.all(consumers.map((consumer) => consumer.sync())),
      context,
      'syncing acks',
    );
    const elapsedMs = performance.now() - published.startedAt;
    const cpu = meter.stop();
    await stopAll(consumers);
    await sleep(SETTLE_MS);
    const verify = await adapter.verify(target);
    await adapter.cleanup(target);
    const confirmLatency = latencies.summary();
    const deliveries = trackers.reduce((sum, tracker) => sum + tracker.unique, 0);
    const figures: Record<string, number | null> = {
      elapsedSeconds: Math.round(elapsedMs) / 1000,
      msgsPerSecond: perSecond(parameters.messages, elapsedMs),
      confirmP50Ms: confirmLatency.p50Ms,
      confirmP99Ms: confirmLatency.p99Ms,
      publishConfirmedPerSecond: perSecond(
        parameters.messages,
        published.confirmedAt - published.startedAt,
      ),
    };
    if (fanOut) figures.deliveriesPerSecond = perSecond(deliveries, elapsedMs);
    return {
      figures,
      cpu,
      confirmLatency,
      duplicates: trackers.reduce((sum, tracker) => sum + tracker.duplicates, 0),
      publishFailures: published.failed,
      verify,
    };
  } finally {
    meter.dispose();
  }
}

/** W3: a fixed send rate; end-to-end latency from the send time carried in each message. */
async function latencyUnderLoad(
  adapter: BrokerAdapter,
  parameters: WorkloadParameters,
  context: RunContext,
): Promise<WorkloadResult> {
  const messages = Math.round(parameters.ratePerSecond * parameters.durationSeconds);
  const target = await adapter.setupDurable('bench_w3', 1);
  const endToEnd = new LatencyRecorder(messages * 2);
  const tracker = new Tracker(messages, endToEnd);
  const consumer = await adapter.consume(target, target.groups[0]!, tracker.onMessage);
  const producer = await adapter.durableProducer(target);
  const latencies = new LatencyRecorder(messages);
  const factory = new MessageFactory(parameters.size);
  const meter = new Meter(context.brokerPid, context.cores).start();
  try {
    const published = await publishWindowed(
      producer,
      factory,
      messages,
      { window: parameters.window, ratePerSecond: parameters.ratePerSecond, latencies },
      context,
    );
    await withDeadline(tracker.complete, context, 'consuming');
    await withDeadline(consumer.sync(), context, 'syncing acks');
    const cpu = meter.stop();
    await consumer.stop();
    await sleep(SETTLE_MS);
    const verify = await adapter.verify(target);
    await adapter.cleanup(target);
    const endToEndLatency = endToEnd.summary();
    const confirmLatency = latencies.summary();
    return {
      figures: {
        achievedSendRate: perSecond(messages, published.sentAt - published.startedAt),
        e2eP50Ms: endToEndLatency.p50Ms,
        e2eP99Ms: endToEndLatency.p99Ms,
        e2eP999Ms: endToEndLatency.p999Ms,
        e2eMaxMs: endToEndLatency.maxMs,
        confirmP50Ms: confirmLatency.p50Ms,
        confirmP99Ms: confirmLatency.p99Ms,
      },
      cpu,
      confirmLatency,
      endToEndLatency,
      duplicates: tracker.duplicates,
      publishFailures: published.failed,
      verify,
    };
  } finally {
    meter.dispose();
  }
}

/** W4: at-most-once, as fast as the producer's flow control allows. */
async function atMostOnce(
  adapter: BrokerAdapter,
  parameters: WorkloadParameters,
  context: RunContext,
): Promise<WorkloadResult> {
  const target = await adapter.setupFast('bench_w4');
  const tracker = new Tracker(parameters.messages);
  const subscriber = await adapter.fastSubscribe(target, tracker.onMessage);
  const producer = await adapter.fastProducer(target);
  const factory = new MessageFactory(parameters.size);
  const meter = new Meter(context.brokerPid, context.cores).start();
  try {
    const startedAt = performance.now();
    for (let sequence = 0; sequence < parameters.messages; sequence++) {
      if (!producer.publish(factory.make(sequence))) {
        await producer.drain(); // bounded by the hard timer, as roomInWindow
      } else if ((sequence & 1023) === 1023) {
        await yieldToEventLoop();
      }
      if ((sequence & 4095) === 0) checkDeadline(context, 'publishing');
    }
    await withDeadline(producer.flush(), context, 'flushing');
    const publishedAt = performance.now();
    // Until everything arrived, or nothing arrived for QUIET_MS_MAX (losses are allowed).
    let lastTotal = -1;
    let lastChangeAt = performance.now();
    while (tracker.unique < parameters.messages) {
      await sleep(20);
      if (tracker.total !== lastTotal) {
        lastTotal = tracker.total;
        lastChangeAt = performance.now();
      }
      if (performance.now() - lastChangeAt > QUIET_MS_MAX || performance.now() > context.deadline)
        break;
    }
    const cpu = meter.stop();
    await subscriber.stop();
    const verify = await adapter.verify(target);
    await adapter.cleanup(target);
    const receiveMs = (tracker.lastAt || performance.now()) - startedAt;
    return {
      figures: {
        msgsPerSecond: perSecond(tracker.unique, receiveMs),
        publishPerSecond: perSecond(parameters.messages, publishedAt - startedAt),
        received: tracker.unique,
        lost: parameters.messages - tracker.unique,
        elapsedSeconds: Math.round(receiveMs) / 1000,
      },
      cpu,
      duplicates: tracker.duplicates,
      publishFailures: 0,
      verify,
    };
  } finally {
    meter.dispose();
  }
}

/** W5: publish a backlog with no consumer, then drain it. */
async function backlog(
  adapter: BrokerAdapter,
  parameters: WorkloadParameters,
  context: RunContext,
): Promise<WorkloadResult> {
  const target = await adapter.setupDurable('bench_w5', 1);
  const producer = await adapter.durableProducer(target);
  const latencies = new LatencyRecorder(parameters.messages);
  const factory = new MessageFactory(parameters.size);
  const rssBefore = context.brokerPid === null ? null : processMemory(context.brokerPid);
  const total = new Meter(context.brokerPid, context.cores).start();
  const publishMeter = new Meter(context.brokerPid, context.cores).start();
  const drainMeter = new Meter(context.brokerPid, context.cores);
  try {
    const published = await publishWindowed(
      producer,
      factory,
      parameters.messages,
      { window: parameters.window, latencies },
      context,
    );
    const cpuPublish = publishMeter.stop();
    const tracker = new Tracker(parameters.messages);
    drainMeter.start();
    const drainStartedAt = performance.now();
    const consumer = await adapter.consume(target, target.groups[0]!, tracker.onMessage);
    await withDeadline(tracker.complete, context, 'draining');
    await withDeadline(consumer.sync(), context, 'syncing acks');
    const drainMs = performance.now() - drainStartedAt;
    const cpuDrain = drainMeter.stop();
    const cpu = total.stop();
    await consumer.stop();
    await sleep(SETTLE_MS);
    const verify = await adapter.verify(target);
    await adapter.cleanup(target);
    const confirmLatency = latencies.summary();
    const highWater = context.brokerPid === null ? null : processMemory(context.brokerPid);
    return {
      figures: {
        publishPerSecond: perSecond(
          parameters.messages,
          published.confirmedAt - published.startedAt,
        ),
        drainPerSecond: perSecond(parameters.messages, drainMs),
        brokerPeakRssMiB: Math.max(cpuPublish.brokerRssPeakMiB, cpuDrain.brokerRssPeakMiB),
        brokerRssBeforeMiB: rssBefore ? Math.round(rssBefore.rssMiB * 10) / 10 : null,
        brokerHighWaterMiB: highWater ? Math.round(highWater.highWaterMiB * 10) / 10 : null,
        confirmP50Ms: confirmLatency.p50Ms,
        confirmP99Ms: confirmLatency.p99Ms,
      },
      cpu,
      cpuPublish,
      cpuDrain,
      confirmLatency,
      duplicates: tracker.duplicates,
      publishFailures: published.failed,
      verify,
    };
  } finally {
    publishMeter.dispose();
    drainMeter.dispose();
    total.dispose();
  }
}

export function runWorkload(
  workload: WorkloadId,
  adapter: BrokerAdapter,
  parameters: WorkloadParameters,
  context: RunContext,
): Promise<WorkloadResult> {
  switch (workload) {
    case 'w1':
      return durableFlow(adapter, parameters, context, false);
    case 'w2':
      return durableFlow(adapter, parameters, context, true);
    case 'w3':
      return latencyUnderLoad(adapter, parameters, context);
    case 'w4':
      return atMostOnce(adapter, parameters, context);
    case 'w5':
      return backlog(adapter, parameters, context);
  }
}
