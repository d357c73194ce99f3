/**
 * One playground run: producers and consumers acting on a real Weir stream through an
 * in-process Client, like any application would.
 *
 * What it makes (memory storage only, so a run leaves nothing on disk; `stop` deletes both):
 * - stream `playground` capturing `playground.work`: work-queue retention (what every
 *   subscription settled goes), `maxMessages` = capacity, `overflow` = the chosen policy;
 * - stream `playground-dead` capturing `playground.dead`: the dead letters;
 * - durable shared subscription `workers` with maxDeliveries, the lease, a short retry
 *   backoff, and deadLetter `playground.dead`.
 *
 * Producers: every PLAYGROUND_TICK_MS, one publishBatch of what the rate owes since the last
 * tick (times PLAYGROUND_SPIKE_FACTOR during a spike). A publish refused with STREAM_FULL
 * (reject-new at capacity) is back-pressure: counted `rejected`, not retried. A batch still
 * waiting when the next tick comes holds the next one back (what it owes carries over, at most
 * PUBLISH_BATCH_MESSAGES_MAX).
 *
 * Consumers: playground-consumers.ts (workers that ack, nack at the failure rate, and crash).
 *
 * Counts: published / rejected / nacked / acked are what the producers and consumers saw; the
 * rest (delivered, redelivered, dead-lettered, dropped, backlog, in flight, stored) is the
 * broker's own (stream and subscription info), sampled every PLAYGROUND_SAMPLE_MS into a
 * bounded history.
 *
 * Time: every wait (ticks, processing, samples, the script) is a timer of the injected Clock,
 * the same the broker runs on, so a test moves the whole run with a ManualClock.
 *
 * Concurrency: the methods are called one at a time (playground.ts queues them).
 */
import type { Client, PublishInput, StreamInfo, SubscriptionInfo } from '../../protocol/index.js';
import {
  PLAYGROUND_CAPACITY_MAX,
  PLAYGROUND_EVENTS_MAX,
  PLAYGROUND_HISTORY_MAX,
  PLAYGROUND_SAMPLE_MS,
  PLAYGROUND_SPIKE_FACTOR,
  PLAYGROUND_SPIKE_MS,
  PLAYGROUND_TICK_MS,
  PUBLISH_BATCH_MESSAGES_MAX,
} from '../../limits.js';
import { WeirError, isWeirError, type Clock, type Timer } from '../../util/index.js';
import type { PlaygroundParameters } from './playground-parameters.js';
import { POISON_HEADER, PlaygroundConsumers } from './playground-consumers.js';
import type { PlaygroundEventKind } from './playground-presets.js';

export { POISON_HEADER };

export const PLAYGROUND_STREAM = 'playground';
export const PLAYGROUND_DEAD_LETTER_STREAM = 'playground-dead';
export const PLAYGROUND_SUBSCRIPTION = 'workers';
const WORK_SUBJECT = 'playground.work';
const DEAD_LETTER_SUBJECT = 'playground.dead';

export interface PlaygroundCounters {
  /** Publishes the broker stored. */
  published: number;
  /** Publishes refused with STREAM_FULL (reject-new at capacity): back-pressure. */
  rejected: number;
  /** Publishes refused for another reason. */
  failed: number;
  /** Messages the stream dropped to stay within capacity (drop-oldest). */
  dropped: number;
  delivered: number;
  redelivered: number;
  acked: number;
  nacked: number;
  deadLettered: number;
  /** Messages not yet settled by the subscription. */
  backlog: number;
  /** Delivered and not settled yet. */
  inFlight: number;
  /** Messages stored in the stream now (against the capacity). */
  stored: number;
  /** Consumers working now. */
  consumers: number;
  /** Consumers that crashed since the start. */
  crashed: number;
}

/** One sample of the history: cumulative counters at `timeMs`. */
export interface PlaygroundSample extends PlaygroundCounters {
  readonly timeMs: number;
  /** The producers' rate at that moment (with a spike's factor). */
  readonly producerRatePerSecond: number;
}

export interface PlaygroundEvent {
  readonly timeMs: number;
  readonly kind: PlaygroundEventKind | 'change';
  readonly detail: string;
}

export interface PlaygroundRunOptions {
  /** The run's own client (it closes it when it stops). */
  readonly client: Client;
  readonly clock: Clock;
  readonly parameters: PlaygroundParameters;
  /** Draws in [0, 1) for the failure rate. Default Math.random. */
  readonly random?: () => number;
}

export class PlaygroundRun {
  readonly startedAtMs: number;
  readonly #client: Client;
  readonly #clock: Clock;
  readonly #random: () => number;
  #parameters: PlaygroundParameters;
  readonly #counters: PlaygroundCounters = {
    published: 0,
    rejected: 0,
    failed: 0,
    dropped: 0,
    delivered: 0,
    redelivered: 0,
    acked: 0,
    nacked: 0,
    deadLettered: 0,
    backlog: 0,
    inFlight: 0,
    stored: 0,
    consumers: 0,
    crashed: 0,
  };
  /** The counters of the last sample (the local ones taken then, with the broker's view). */
  #latest: PlaygroundCounters;
  readonly #history: PlaygroundSample[] = [];
  readonly #events: PlaygroundEvent[] = [];
  readonly #consumers: PlaygroundConsumers;
  readonly #timers = new Set<Timer>();
  /** The streams this run made (only those are deleted when it stops). */
  readonly #created = new Set<string>();
  /** Resolvers of the consumers' processing waits, so that stop ends them. */
  readonly #waits = new Set<() => void>();
  #nextSequence = 1;
  #owed = 0;
  #spikeUntilMs = 0;
  #publishing: Promise<void> | null = null;
  #sampling: Promise<void> | null = null;
  #stopped = false;
  /** The last error a producer or consumer met that is not part of the simulation. */
  lastError: string | null = null;

  private constructor(options: PlaygroundRunOptions) {
    this.#client = options.client;
    this.#clock = options.clock;
    this.#random = options.random ?? Math.random;
    this.#parameters = options.parameters;
    this.startedAtMs = options.clock.now();
    this.#latest = { ...this.#counters };
    this.#consumers = new PlaygroundConsumers({
      client: this.#client,
      stream: PLAYGROUND_STREAM,
      subscription: PLAYGROUND_SUBSCRIPTION,
      deadLetterSubject: DEAD_LETTER_SUBJECT,
      parameters: () => this.#parameters,
      stopped: () => this.#stopped,
      random: () => this.#random(),
      wait: (ms) => this.#wait(ms),
      once: (ms, callback) => this.#once(ms, callback),
      settled: (outcome) => this.#counters[outcome]++,
      crashed: (detail) => {
        this.#counters.crashed++;
        this.#event('crash', detail);
      },
      failed: (error) => this.#failed(error),
    });
  }

  /** Creates the streams and the subscription, starts the consumers, the producers and the sampler. */
  static async start(options: PlaygroundRunOptions): Promise<PlaygroundRun> {
    const run = new PlaygroundRun(options);
    const { client, parameters } = options;
    try {
      // Streams of these names that the run did not make are someone's: never taken over,
      // never deleted (creating with the same configuration would not say it exists).
      for (const name of [PLAYGROUND_DEAD_LETTER_STREAM, PLAYGROUND_STREAM]) {
        if (await exists(client, name)) {
          throw new WeirError(
            'STREAM_EXISTS',
            `a stream named ${name} exists: the playground makes and deletes its own, delete or rename that one first`,
          );
        }
      }
      await client.streams.create(PLAYGROUND_DEAD_LETTER_STREAM, {
        subjects: [DEAD_LETTER_SUBJECT],
        storage: 'memory',
        maxMessages: PLAYGROUND_CAPACITY_MAX,
        overflow: 'drop-oldest',
      });
      run.#created.add(PLAYGROUND_DEAD_LETTER_STREAM);
      await client.streams.create(PLAYGROUND_STREAM, {
        subjects: [WORK_SUBJECT],
        storage: 'memory',
        retention: 'work-queue',
        maxMessages: parameters.capacity,
        overflow: parameters.overflow,
        dedupWindowMs: 0,
      });
      run.#created.add(PLAYGROUND_STREAM);
      await run.#consumers.reconcile();
      await run.sample();
    } catch (error) {
      await run.stop();
      throw error;
    }
    run.#repeat(PLAYGROUND_TICK_MS, () => run.#tick());
    run.#repeat(PLAYGROUND_SAMPLE_MS, () => {
      run.#sampling ??= run.sample().finally(() => (run.#sampling = null));
    });
    return run;
  }

  get parameters(): PlaygroundParameters {
    return this.#parameters;
  }

  get stopped(): boolean {
    return this.#stopped;
  }

  /** The counters at the last sample (every PLAYGROUND_SAMPLE_MS, and when the run stops). */
  get counters(): Readonly<PlaygroundCounters> {
    return { ...this.#latest };
  }

  get history(): readonly PlaygroundSample[] {
    return this.#history;
  }

  get events(): readonly PlaygroundEvent[] {
    return this.#events;
  }

  /** The producers' rate now, with a spike's factor. */
  get producerRatePerSecond(): number {
    if (this.#stopped) return 0;
    const spiking = this.#clock.now() < this.#spikeUntilMs;
    return this.#parameters.ratePerSecond * (spiking ? PLAYGROUND_SPIKE_FACTOR : 1);
  }

  /** Applies new parameters live: rate, consumer count, speed and failure rate, capacity and overflow. */
  async change(parameters: PlaygroundParameters): Promise<void> {
    if (this.#stopped) return;
    const before = this.#parameters;
    this.#parameters = parameters;
    const changed = (Object.keys(parameters) as (keyof PlaygroundParameters)[]).filter(
      (name) => parameters[name] !== before[name],
    );
    if (changed.length === 0) return;
    this.#event('change', changed.map((name) => `${name} ${String(parameters[name])}`).join(', '));
    if (parameters.capacity !== before.capacity || parameters.overflow !== before.overflow) {
      await this.#client.streams.update(PLAYGROUND_STREAM, {
        maxMessages: parameters.capacity,
        overflow: parameters.overflow,
      });
    }
    await this.#consumers.reconcile();
  }

  /** Runs one event now: a spike, a poison message, a consumer crash. */
  async trigger(kind: PlaygroundEventKind): Promise<void> {
    if (this.#stopped) return;
    switch (kind) {
      case 'spike':
        this.#spikeUntilMs = this.#clock.now() + PLAYGROUND_SPIKE_MS;
        this.#event(
          'spike',
          `${PLAYGROUND_SPIKE_FACTOR}× the rate for ${PLAYGROUND_SPIKE_MS / 1000} s`,
        );
        return;
      case 'poison':
        await this.#publishPoison();
        return;
      case 'crash':
        if (!(await this.#consumers.crash())) this.#event('crash', 'no consumer is working');
        return;
    }
  }

  /** Schedules `kind` `afterMs` from now (a preset's script). */
  schedule(afterMs: number, kind: PlaygroundEventKind): void {
    this.#once(afterMs, () => {
      this.trigger(kind).catch((error: unknown) => this.#failed(error));
    });
  }

  /** Reads the broker's view of the stream and subscription, and adds a sample to the history. */
  async sample(): Promise<void> {
    if (!this.#stopped) await this.#read();
  }

  async #read(): Promise<void> {
    // What the producers and consumers counted is taken first, the broker's view after: so
    // a sample never shows more acked than delivered.
    const counters: PlaygroundCounters = { ...this.#counters };
    let stream: StreamInfo;
    let subscription: SubscriptionInfo;
    try {
      stream = await this.#client.streams.info(PLAYGROUND_STREAM);
      subscription = await this.#client.subscriptions.info(
        PLAYGROUND_STREAM,
        PLAYGROUND_SUBSCRIPTION,
      );
    } catch (error) {
      if (!this.#stopped) this.#failed(error);
      return;
    }
    counters.stored = stream.messages;
    counters.dropped = stream.dropped;
    counters.delivered = subscription.delivered;
    counters.redelivered = subscription.redelivered;
    counters.deadLettered = subscription.deadLettered;
    counters.backlog = subscription.pending;
    counters.inFlight = subscription.inFlight;
    counters.consumers = this.#consumers.working;
    this.#latest = counters;
    this.#history.push({
      timeMs: this.#clock.now(),
      producerRatePerSecond: this.producerRatePerSecond,
      ...counters,
    });
    if (this.#history.length > PLAYGROUND_HISTORY_MAX) this.#history.shift();
  }

  /** Stops producers and consumers and deletes the run's streams; idempotent. */
  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    for (const timer of this.#timers) timer.cancel();
    this.#timers.clear();
    for (const resolve of this.#waits) resolve();
    this.#waits.clear();
    await this.#consumers.close();
    await this.#publishing?.catch(() => undefined);
    await this.#sampling?.catch(() => undefined);
    // The last sample, with everything stopped, before the streams go.
    if (this.#created.has(PLAYGROUND_STREAM)) await this.#read();
    for (const name of [PLAYGROUND_STREAM, PLAYGROUND_DEAD_LETTER_STREAM]) {
      if (!this.#created.has(name)) continue;
      try {
        await this.#client.streams.delete(name);
      } catch (error) {
        if (!isWeirError(error, 'STREAM_NOT_FOUND')) this.#failed(error);
      }
    }
    await this.#client.close();
  }

  // -------------------------------------------------------------------------------------
  // Producers
  // -------------------------------------------------------------------------------------

  #tick(): void {
    const owed = this.#owed + (this.producerRatePerSecond * PLAYGROUND_TICK_MS) / 1000;
    this.#owed = Math.min(PUBLISH_BATCH_MESSAGES_MAX, owed);
    if (this.#publishing !== null) return;
    const count = Math.floor(this.#owed);
    if (count === 0) return;
    this.#owed -= count;
    const entries: PublishInput[] = [];
    for (let index = 0; index < count; index++) {
      entries.push({ subject: WORK_SUBJECT, body: { sequence: this.#nextSequence++ } });
    }
    this.#publishing = this.#publish(entries).finally(() => (this.#publishing = null));
  }

  async #publish(entries: readonly PublishInput[]): Promise<void> {
    let results;
    try {
      results = await this.#client.publishBatch(entries);
    } catch (error) {
      this.#counters.failed += entries.length;
      if (!this.#stopped) this.#failed(error);
      return;
    }
    for (const result of results) this.#count(result);
  }

  #count(result: unknown): void {
    if (isWeirError(result, 'STREAM_FULL')) this.#counters.rejected++;
    else if (isWeirError(result)) {
      this.#counters.failed++;
      if (!this.#stopped) this.#failed(result);
    } else this.#counters.published++;
  }

  async #publishPoison(): Promise<void> {
    const sequence = this.#nextSequence++;
    try {
      await this.#client.publish(
        WORK_SUBJECT,
        { sequence, poison: true },
        { headers: { [POISON_HEADER]: 'true' } },
      );
      this.#counters.published++;
      this.#event('poison', `message ${sequence} fails every delivery`);
    } catch (error) {
      this.#count(error);
      this.#event('poison', `message ${sequence} was refused: ${String(error)}`);
    }
  }

  // -------------------------------------------------------------------------------------
  // Time and bookkeeping
  // -------------------------------------------------------------------------------------

  /** Resolves after `ms` on the clock, or when the run stops. */
  #wait(ms: number): Promise<void> {
    if (ms <= 0 || this.#stopped) return Promise.resolve();
    return new Promise((resolve) => {
      const done = (): void => {
        this.#waits.delete(done);
        this.#timers.delete(timer);
        resolve();
      };
      const timer = this.#clock.setTimer(ms, done, { unref: true });
      this.#timers.add(timer);
      this.#waits.add(done);
    });
  }

  #once(ms: number, callback: () => void): void {
    const timer = this.#clock.setTimer(
      ms,
      () => {
        this.#timers.delete(timer);
        if (!this.#stopped) callback();
      },
      { unref: true },
    );
    this.#timers.add(timer);
  }

  #repeat(ms: number, callback: () => void): void {
    this.#timers.add(
      this.#clock.setRepeating(
        ms,
        () => {
          if (!this.#stopped) callback();
        },
        { unref: true },
      ),
    );
  }

  #event(kind: PlaygroundEvent['kind'], detail: string): void {
    this.#events.push({ timeMs: this.#clock.now(), kind, detail });
    if (this.#events.length > PLAYGROUND_EVENTS_MAX) this.#events.shift();
  }

  #failed(error: unknown): void {
    this.lastError = error instanceof Error ? error.message : String(error);
  }
}

async function exists(client: Client, name: string): Promise<boolean> {
  try {
    await client.streams.info(name);
    return true;
  } catch (error) {
    if (isWeirError(error, 'STREAM_NOT_FOUND')) return false;
    throw error;
  }
}
