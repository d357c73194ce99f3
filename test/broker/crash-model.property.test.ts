/**
 * Broker-level fault model (property test, fast-check): random seeded sequences of publishes
 * (awaited or left running, some with a priority), consumes that ack what they get (acks awaited), nacks, purges,
 * seeks, clock moves and power cuts, run against the broker on a FaultyFileSystem over a
 * MemoryFileSystem, and against a model of what each message's fate must be. A power cut is
 * `fileSystem.crash()` (every unsynced byte dropped, sometimes a random part of it kept: a
 * torn tail), then `Broker.open` on what survived: the broker that was running is never
 * closed, as in a real power cut.
 *
 * Invariants, checked after every reopen and at the end of each run:
 * - fsync 'always':
 *   - every confirmed publish is in the stream after a crash, unless a resolved purge, or a
 *     seek past it, settled it (retention is `limits` with no limit reached, so nothing else
 *     removes it);
 *   - a resolved purge holds after a crash: no purged message is in the stream again;
 *   - no message whose ack resolved is delivered again (until a seek back before it);
 *   - no message is skipped: at the end, every confirmed message that was not acked, purged
 *     or seeked past is delivered;
 * - every fsync policy ('never' and 'interval' too): every subscription's ack floor is at or
 *   below its partition's end offset after a reopen, the broker reopens after every crash,
 *   nothing is delivered that was never published, and within one run of the broker (between
 *   crashes) an acked message is not delivered again and nothing published is skipped.
 *
 * Replay a failure with the seed it prints: WEIR_SEED=<seed> (and WEIR_PATH=<path>, the path
 * fast-check prints, to go straight to the shrunk case); WEIR_RUNS=<n> runs more or fewer,
 * WEIR_TIME_LIMIT_MS=<ms> gives each scenario more or less wall time (default 20 s).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { Broker } from '../../src/broker/index.js';
import { LEASE_MS_MAX, SEGMENT_BYTES_DEFAULT, SEGMENT_BYTES_MIN } from '../../src/limits.js';
import type { Client, FsyncPolicy, Message } from '../../src/protocol/index.js';
import { MemoryFileSystem } from '../../src/storage/index.js';
import { ManualClock } from '../../src/util/index.js';
import { FaultyFileSystem } from '../helpers/faulty-file-system.js';
import { assertReplayable, replayFromEnvironment } from '../helpers/replayable-property.js';

const DATA_DIR = '/crash-model';
const STREAM = 'jobs';
const SUBSCRIPTION = 'workers';
/** Long enough that no lease runs out while a consume holds a message (the clock jumps less). */
const LEASE_MS = LEASE_MS_MAX;
/** Moves the clock past every nack delay and lease before the final drain. */
const FINAL_ADVANCE_MS = 2 * LEASE_MS;
const RUNS_DEFAULT = 40;
/** Wall time for all runs of one scenario (fast-check stops starting new runs after it). */
const TIME_LIMIT_MS = Number(process.env['WEIR_TIME_LIMIT_MS'] ?? 20_000);
/** The test's own bound: the runs, then shrinking a failure (which can take as long again). */
const TEST_TIMEOUT_MS = 3 * TIME_LIMIT_MS + 30_000;
const OPERATIONS_MAX = 30;
const PUBLISH_COUNT_MAX = 8;
/** Real-time bound for a message that must come (only a failure waits this long). */
const MUST_COME_MS = 3000;
/** Real-time wait after which a consume takes "nothing" for an answer. */
const QUIET_MS = 40;
const MESSAGES_PER_AUDIT_MAX = 10_000;

type Operation =
  | { readonly kind: 'publish'; readonly count: number; readonly awaited: boolean }
  | { readonly kind: 'consume'; readonly count: number }
  | { readonly kind: 'nack'; readonly delayMs: number }
  | { readonly kind: 'purge' }
  | { readonly kind: 'seek'; readonly fraction: number }
  | { readonly kind: 'advance'; readonly ms: number }
  | { readonly kind: 'crash'; readonly tear: boolean };

/** What the model knows of one published message (bodies are unique per run). */
interface Fate {
  readonly body: string;
  /** pending: publish not resolved; maybe: unresolved when the power went; absent: not found after it. */
  state: 'pending' | 'confirmed' | 'maybe' | 'absent';
  offset: number | null;
  /** Its ack resolved (since the last seek that covered it). */
  acked: boolean;
  /** A resolved purge removed it. */
  purged: boolean;
  /** A resolved seek moved the subscription past it. */
  belowSeek: boolean;
  /** fsync 'never' / 'interval' after a crash: what the broker kept of it is not promised. */
  uncertain: boolean;
}

interface Scenario {
  readonly fsync: FsyncPolicy;
  /** The strict invariants hold only when everything confirmed is on disk. */
  readonly durable: boolean;
}

class Violation extends Error {}

function violated(condition: boolean, message: string): asserts condition {
  if (!condition) throw new Violation(message);
}

const operationArbitrary: fc.Arbitrary<Operation> = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.record({
      kind: fc.constant('publish' as const),
      count: fc.integer({ min: 1, max: PUBLISH_COUNT_MAX }),
      awaited: fc.boolean(),
    }),
  },
  {
    weight: 3,
    arbitrary: fc.record({
      kind: fc.constant('consume' as const),
      count: fc.integer({ min: 1, max: 6 }),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('nack' as const),
      delayMs: fc.constantFrom(0, 1000, 60_000),
    }),
  },
  { weight: 1, arbitrary: fc.constant({ kind: 'purge' as const }) },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('seek' as const),
      fraction: fc.double({ min: 0, max: 1, noNaN: true }),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('advance' as const),
      ms: fc.constantFrom(100, 1000, 60_000),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({ kind: fc.constant('crash' as const), tear: fc.boolean() }),
  },
);

/** One run: the broker as it stands, and the model of every message's fate. */
class Run {
  readonly #scenario: Scenario;
  readonly #segmentBytes: number;
  readonly #fates = new Map<string, Fate>();
  readonly #pending = new Set<Promise<void>>();
  #fileSystem: FaultyFileSystem;
  #clock = new ManualClock(1_000_000);
  #broker: Broker | null = null;
  #client: Client | null = null;
  /** Bumped at every crash: a publish resolving after it no longer counts as confirmed. */
  #epoch = 0;
  #published = 0;
  crashes = 0;
  delivered = 0;

  constructor(scenario: Scenario, segmentBytes: number, fileSystemSeed: number) {
    this.#scenario = scenario;
    this.#segmentBytes = segmentBytes;
    this.#fileSystem = new FaultyFileSystem(new MemoryFileSystem(), { seed: fileSystemSeed });
  }

  get client(): Client {
    assert.ok(this.#client, 'the broker is open');
    return this.#client;
  }

  async start(): Promise<void> {
    await this.#open();
    await this.client.streams.create(STREAM, {
      subjects: [STREAM],
      partitions: 1,
      fsync: this.#scenario.fsync,
      segmentBytes: this.#segmentBytes,
      // A limit far away: the retention tick runs (on the manual clock), nothing is dropped.
      maxMessages: 1_000_000,
      ...(this.#scenario.fsync === 'interval' ? { fsyncIntervalMs: 5 } : {}),
    });
    // The durable subscription exists from the start, with no consumer.
    await (await this.#subscribe(1)).close();
  }

  async #open(): Promise<void> {
    this.#broker = await Broker.open({
      dataDir: DATA_DIR,
      fileSystem: this.#fileSystem,
      clock: this.#clock,
    });
    this.#client = this.#broker.connect();
  }

  #subscribe(maxInFlight: number): ReturnType<Client['subscribe']> {
    return this.client.subscribe(STREAM, {
      subscription: SUBSCRIPTION,
      leaseMs: LEASE_MS,
      maxInFlight,
    });
  }

  async apply(operation: Operation): Promise<void> {
    switch (operation.kind) {
      case 'publish':
        return this.#publish(operation.count, operation.awaited);
      case 'consume':
        return this.#consume(operation.count);
      case 'nack':
        return this.#nack(operation.delayMs);
      case 'purge':
        return this.#purge();
      case 'seek':
        return this.#seek(operation.fraction);
      case 'advance':
        this.#clock.advance(operation.ms);
        return;
      case 'crash':
        return this.#crash(operation.tear);
    }
  }

  async #publish(count: number, awaited: boolean): Promise<void> {
    const epoch = this.#epoch;
    const publishes: Promise<void>[] = [];
    for (let index = 0; index < count; index++) {
      // Some with a priority, so priority lanes (their walks, floors and journal) are in play.
      const priority = this.#published % 3 === 0 ? 0 : (this.#published % 9) + 1;
      const body = `m${this.#published++}`;
      const fate: Fate = {
        body,
        state: 'pending',
        offset: null,
        acked: false,
        purged: false,
        belowSeek: false,
        uncertain: false,
      };
      this.#fates.set(body, fate);
      const publish = this.client.publish(STREAM, body, { priority }).then(
        (receipt) => {
          if (this.#epoch !== epoch) return; // the power went before we heard
          fate.state = 'confirmed';
          fate.offset = receipt.offset;
        },
        (error: unknown) => {
          if (this.#epoch !== epoch) return;
          throw new Violation(`publish of ${body} failed with no fault: ${String(error)}`);
        },
      );
      publishes.push(publish);
    }
    const all = Promise.all(publishes).then(() => undefined);
    if (awaited) return all;
    const tracked = all.finally(() => this.#pending.delete(tracked));
    tracked.catch(() => undefined); // surfaced by #settlePublishes
    this.#pending.add(tracked);
  }

  /** Waits for the publishes left running (before purge / seek / the end). */
  async #settlePublishes(): Promise<void> {
    const running = [...this.#pending];
    this.#pending.clear();
    await Promise.all(running);
  }

  /** Checks a delivery against the model. */
  #delivered(message: Message): Fate {
    this.delivered++;
    const fate = this.#fates.get(message.text());
    violated(fate !== undefined, `delivered ${message.text()} was never published`);
    violated(!fate.acked, `${fate.body} @${message.offset} delivered again after its ack resolved`);
    violated(!fate.purged, `${fate.body} @${message.offset} delivered after a resolved purge`);
    violated(!fate.belowSeek, `${fate.body} @${message.offset} delivered after a seek past it`);
    if (fate.offset === null) fate.offset = message.offset;
    if (fate.state === 'maybe' || fate.state === 'absent') fate.state = 'confirmed';
    return fate;
  }

  async #consume(count: number): Promise<void> {
    const subscription = await this.#subscribe(count);
    try {
      for (let index = 0; index < count; index++) {
        const message = await subscription.receive({ timeoutMs: QUIET_MS });
        if (!message) break;
        const fate = this.#delivered(message);
        await message.ack();
        fate.acked = true;
      }
    } finally {
      await subscription.close();
    }
  }

  async #nack(delayMs: number): Promise<void> {
    const subscription = await this.#subscribe(1);
    try {
      const message = await subscription.receive({ timeoutMs: QUIET_MS });
      if (!message) return;
      this.#delivered(message);
      await message.nack({ delayMs });
    } finally {
      await subscription.close();
    }
  }

  async #purge(): Promise<void> {
    await this.#settlePublishes();
    await this.client.streams.purge(STREAM);
    for (const fate of this.#fates.values()) fate.purged = true;
  }

  async #seek(fraction: number): Promise<void> {
    await this.#settlePublishes();
    const partition = (await this.client.streams.info(STREAM)).partitions[0]!;
    const span = partition.endOffset - partition.startOffset;
    const target = partition.startOffset + Math.min(span, Math.floor(fraction * (span + 1)));
    await this.client.subscriptions.seek(STREAM, SUBSCRIPTION, { offset: target });
    for (const fate of this.#fates.values()) {
      if (fate.offset === null || fate.purged) continue;
      fate.belowSeek = fate.offset < target;
      if (!fate.belowSeek) fate.acked = false;
    }
  }

  async #crash(tear: boolean): Promise<void> {
    this.#epoch++;
    this.crashes++;
    for (const fate of this.#fates.values()) if (fate.state === 'pending') fate.state = 'maybe';
    for (const running of this.#pending) running.catch(() => undefined);
    this.#pending.clear();
    // The running broker is abandoned, never closed; its clock stops with it (a fresh one
    // carries the time on), so none of its timers fire into the next boot.
    this.#fileSystem = await this.#fileSystem.crash({ tearUnsyncedWrites: tear });
    this.#clock = new ManualClock(this.#clock.now());
    this.#broker = null;
    this.#client = null;
    try {
      await this.#open();
    } catch (error) {
      throw new Violation(`the broker did not reopen after a crash: ${String(error)}`);
    }
    await this.#audit();
  }

  /** After a reopen: floors, and what the stream holds against what it must hold. */
  async #audit(): Promise<void> {
    const stream = await this.client.streams.info(STREAM);
    const ends = stream.partitions.map((partition) => partition.endOffset);
    const subscription = await this.client.subscriptions.info(STREAM, SUBSCRIPTION);
    for (const { partition, ackFloor } of subscription.partitions) {
      violated(
        ackFloor <= ends[partition]!,
        `after a crash the ack floor of partition ${partition} is ${ackFloor}, past the log's end ${ends[partition]}`,
      );
    }
    const present = await this.#readAll(stream.messages);
    const durable = this.#scenario.durable;
    for (const fate of this.#fates.values()) {
      const offset = present.get(fate.body);
      if (durable) {
        if (fate.purged) {
          violated(offset === undefined, `purged ${fate.body} is in the stream after a crash`);
          continue;
        }
        if (fate.state === 'confirmed' && !fate.belowSeek) {
          violated(
            offset !== undefined,
            `confirmed ${fate.body} @${fate.offset} is lost after a crash`,
          );
        }
      } else {
        // Nothing is promised across a crash: start trusting what is there now.
        fate.uncertain = true;
        fate.acked = false;
        fate.purged = false;
        fate.belowSeek = false;
      }
      if (offset !== undefined) {
        if (fate.offset !== null)
          violated(fate.offset === offset, `${fate.body} moved from @${fate.offset} to @${offset}`);
        fate.offset = offset;
        fate.state = 'confirmed';
      } else if (fate.state === 'maybe' || !durable) {
        fate.state = 'absent';
      }
    }
  }

  /** Every message the stream holds (an ephemeral reader from the earliest), body -> offset. */
  async #readAll(expected: number): Promise<Map<string, number>> {
    const reader = await this.client.subscribe(STREAM, {
      start: 'earliest',
      ack: 'none',
      maxInFlight: 1000,
    });
    const found = new Map<string, number>();
    try {
      for (let count = 0; count < MESSAGES_PER_AUDIT_MAX; count++) {
        const wait = found.size < expected ? MUST_COME_MS : QUIET_MS;
        const message = await reader.receive({ timeoutMs: wait });
        if (!message) break;
        found.set(message.text(), message.offset);
      }
    } finally {
      await reader.close();
    }
    return found;
  }

  /** The end of a run: everything that must be delivered is, and nothing that must not. */
  async finish(): Promise<void> {
    await this.#settlePublishes();
    this.#clock.advance(FINAL_ADVANCE_MS);
    const strict = this.#scenario.durable;
    const owed = (): Fate[] =>
      [...this.#fates.values()].filter(
        (fate) =>
          fate.state === 'confirmed' &&
          !fate.acked &&
          !fate.purged &&
          !fate.belowSeek &&
          (strict || !fate.uncertain),
      );
    const subscription = await this.#subscribe(100);
    try {
      for (let count = 0; count < MESSAGES_PER_AUDIT_MAX; count++) {
        const wait = owed().length > 0 ? MUST_COME_MS : QUIET_MS;
        const message = await subscription.receive({ timeoutMs: wait });
        if (!message) break;
        const fate = this.#delivered(message);
        await message.ack();
        fate.acked = true;
      }
    } finally {
      await subscription.close();
    }
    const skipped = owed();
    violated(
      skipped.length === 0,
      `never delivered: ${skipped.map((fate) => `${fate.body} @${fate.offset}`).join(', ')}`,
    );
    const info = await this.client.subscriptions.info(STREAM, SUBSCRIPTION);
    for (const { partition, ackFloor, endOffset } of info.partitions)
      violated(ackFloor <= endOffset, `ack floor ${ackFloor} past end ${endOffset} (${partition})`);
  }

  async close(): Promise<void> {
    await Promise.allSettled([...this.#pending]);
    await this.#broker?.close().catch(() => undefined);
  }
}

async function checkScenario(
  context: { diagnostic(message: string): void },
  scenarios: fc.Arbitrary<Scenario>,
  name: string,
): Promise<void> {
  const replay = replayFromEnvironment(RUNS_DEFAULT);
  const { seed } = replay;
  context.diagnostic(`${name}: seed ${seed} (replay with WEIR_SEED=${seed})`);
  const totals = { runs: 0, operations: 0, crashes: 0, delivered: 0 };
  const property = fc.asyncProperty(
    scenarios,
    fc.array(operationArbitrary, { minLength: 1, maxLength: OPERATIONS_MAX, size: 'max' }),
    fc.constantFrom(SEGMENT_BYTES_MIN, SEGMENT_BYTES_DEFAULT),
    fc.integer(),
    async (scenario, operations, segmentBytes, fileSystemSeed) => {
      totals.runs++;
      const run = new Run(scenario, segmentBytes, fileSystemSeed);
      try {
        await run.start();
        for (const operation of operations) await run.apply(operation);
        await run.finish();
      } finally {
        totals.operations += operations.length;
        totals.crashes += run.crashes;
        totals.delivered += run.delivered;
        await run.close();
      }
    },
  );
  try {
    await assertReplayable(name, property, replay, TIME_LIMIT_MS);
  } finally {
    context.diagnostic(`${name}: ${JSON.stringify(totals)}`);
  }
  assert.ok(totals.runs > 0, 'at least one run');
}

test(
  "fsync 'always': confirmed publishes, resolved acks, purges and seeks survive power cuts; nothing is skipped",
  { timeout: TEST_TIMEOUT_MS },
  (context) =>
    checkScenario(context, fc.constant({ fsync: 'always', durable: true }), "fsync 'always'"),
);

test(
  "fsync 'never' and 'interval': after power cuts every ack floor stays within the log, nothing unknown is delivered",
  { timeout: TEST_TIMEOUT_MS },
  (context) =>
    checkScenario(
      context,
      fc.constantFrom<Scenario>(
        { fsync: 'never', durable: false },
        { fsync: 'interval', durable: false },
      ),
      "fsync 'never' / 'interval'",
    ),
);
