/**
 * Model-based property test (fast-check commands): random sequences of appends, reads,
 * truncations, retention, clean reopens and crashes — some in the middle of appends, some
 * tearing unsynced writes — run against the file log on a FaultyFileSystem over
 * MemoryFileSystem (fsync 'always', small segments) and against a plain array of records.
 *
 * What the API guarantees, and so what is checked after every command:
 * - every record the log returns equals the model's record at that offset;
 * - records at offsets >= the highest requested truncation point are all still there
 *   (startOffset may stay below it: only whole segments go);
 * - endOffset and committedOffset equal the model's end; no confirmed append is lost by a crash.
 *
 * Replay a failure with the seed it prints: WEIR_SEED=<seed> (and WEIR_PATH=<path>, the path
 * fast-check prints, to jump straight to the shrunk case); WEIR_RUNS=<n> runs more or fewer.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  MemoryFileSystem,
  openLog,
  type PartitionLog,
  type RecordInput,
  type StoredRecord,
} from '../../src/storage/index.js';
import { FaultyFileSystem } from '../helpers/faulty-file-system.js';
import { fromInput, fromStored, type Comparable } from '../helpers/comparable-record.js';
import { assertReplayable, replayFromEnvironment } from '../helpers/replayable-property.js';

const DIRECTORY = '/model/log';
const SEGMENT_BYTES = 4096;
const CLOCK_MS = 5_000_000;
const RUNS_DEFAULT = 100;
const TIME_LIMIT_MS = 25_000;
const COMMANDS_MAX = 40;

interface Model {
  /** records[offset]: every record ever appended and confirmed (or found after a crash). */
  records: Comparable[];
  /** Records at offsets >= keepFrom must all be in the log. */
  keepFrom: number;
  /** The log's startOffset as last seen: it never goes down. */
  startOffset: number;
}

interface Real {
  fileSystem: FaultyFileSystem;
  log: PartitionLog;
  readonly tailCacheBytes: number;
}

function open(real: Real): Promise<PartitionLog> {
  return openLog({
    directory: DIRECTORY,
    fileSystem: real.fileSystem,
    fsync: 'always',
    segmentBytes: SEGMENT_BYTES,
    tailCacheBytes: real.tailCacheBytes,
    clock: () => CLOCK_MS,
  });
}

async function readAll(log: PartitionLog): Promise<StoredRecord[]> {
  const all: StoredRecord[] = [];
  let offset = 0;
  for (let page = 0; page < 10_000 && offset < log.committedOffset; page++) {
    const records = await log.read(offset, { maxBytes: 64 * 1024 });
    if (records.length === 0) break;
    all.push(...records);
    offset = records[records.length - 1]!.offset + 1;
  }
  return all;
}

/** The checks that hold after every command. */
async function checkAgainstModel(model: Model, real: Real, after: string): Promise<void> {
  const log = real.log;
  const end = model.records.length;
  assert.equal(log.endOffset, end, `${after}: endOffset`);
  assert.equal(log.committedOffset, end, `${after}: committedOffset`);
  assert.ok(
    log.startOffset <= model.keepFrom,
    `${after}: startOffset ${log.startOffset} > keepFrom ${model.keepFrom}`,
  );
  assert.ok(
    log.startOffset >= model.startOffset,
    `${after}: startOffset went down from ${model.startOffset} to ${log.startOffset}`,
  );
  model.startOffset = log.startOffset;
  const all = (await readAll(log)).map(fromStored);
  assert.deepEqual(all, model.records.slice(log.startOffset), `${after}: the log's records`);
  const stats = log.stats();
  assert.equal(stats.startOffset, log.startOffset, `${after}: stats.startOffset`);
  assert.equal(stats.endOffset, end, `${after}: stats.endOffset`);
}

type LogCommand = fc.AsyncCommand<Model, Real>;

/** What the crashes exercised, over a whole run: a run where they did nothing proves nothing. */
const crashStatistics = { crashes: 0, inFlight: 0, unconfirmedKept: 0, unconfirmedLost: 0 };

class AppendCommand implements LogCommand {
  constructor(
    readonly records: readonly RecordInput[],
    readonly concurrent: boolean,
  ) {}
  check(): boolean {
    return true;
  }
  async run(model: Model, real: Real): Promise<void> {
    const first = model.records.length;
    if (this.concurrent) {
      const offsets = await Promise.all(this.records.map((record) => real.log.append(record)));
      assert.deepEqual(
        offsets,
        this.records.map((_, i) => first + i),
        'concurrent appends take offsets in call order',
      );
    } else {
      assert.equal(await real.log.append(this.records), first);
    }
    this.records.forEach((record, i) => model.records.push(fromInput(first + i, record, CLOCK_MS)));
    await checkAgainstModel(model, real, this.toString());
  }
  toString(): string {
    return `append(${this.records.length}${this.concurrent ? ', concurrent' : ''})`;
  }
}

class ReadCommand implements LogCommand {
  constructor(
    readonly position: number,
    readonly maxBytes: number | undefined,
    readonly maxRecords: number | undefined,
  ) {}
  check(): boolean {
    return true;
  }
  async run(model: Model, real: Real): Promise<void> {
    const end = model.records.length;
    const offset = this.position % (end + 3); // 0 .. end + 2: below, inside and past the log
    const options = {
      ...(this.maxBytes !== undefined ? { maxBytes: this.maxBytes } : {}),
      ...(this.maxRecords !== undefined ? { maxRecords: this.maxRecords } : {}),
    };
    const read = (await real.log.read(offset, options)).map(fromStored);
    const from = Math.max(offset, real.log.startOffset);
    if (from >= end) {
      assert.deepEqual(read, [], `read(${offset}) at or past the end`);
    } else {
      assert.ok(read.length >= 1, `read(${offset}) below the end returns at least one record`);
      if (this.maxRecords !== undefined) assert.ok(read.length <= this.maxRecords);
      assert.deepEqual(
        read,
        model.records.slice(from, from + read.length),
        `read(${offset}, ${JSON.stringify(options)})`,
      );
    }
  }
  toString(): string {
    return `read(${this.position}, ${this.maxBytes ?? '-'}, ${this.maxRecords ?? '-'})`;
  }
}

class TruncateBeforeCommand implements LogCommand {
  constructor(readonly fraction: number) {}
  check(): boolean {
    return true;
  }
  async run(model: Model, real: Real): Promise<void> {
    const end = model.records.length;
    const offset = Math.round(this.fraction * end);
    const before = real.log.startOffset;
    const start = await real.log.truncateBefore(offset);
    assert.equal(start, real.log.startOffset);
    assert.ok(start >= before, 'truncateBefore never moves the start back');
    model.keepFrom = Math.max(model.keepFrom, offset);
    await checkAgainstModel(model, real, this.toString());
  }
  toString(): string {
    return `truncateBefore(${this.fraction.toFixed(2)} of the end)`;
  }
}

class RetentionCommand implements LogCommand {
  constructor(readonly maxRecords: number) {}
  check(): boolean {
    return true;
  }
  async run(model: Model, real: Real): Promise<void> {
    const end = model.records.length;
    const before = real.log.startOffset;
    const result = await real.log.applyRetention({ maxRecords: this.maxRecords });
    const after = real.log.startOffset;
    assert.equal(result.recordsDeleted, after - before);
    assert.ok(
      end - after >= Math.min(this.maxRecords, end - before),
      'at least maxRecords records are kept',
    );
    model.keepFrom = Math.max(model.keepFrom, end - this.maxRecords);
    await checkAgainstModel(model, real, this.toString());
  }
  toString(): string {
    return `applyRetention({ maxRecords: ${this.maxRecords} })`;
  }
}

class ReopenCommand implements LogCommand {
  check(): boolean {
    return true;
  }
  async run(model: Model, real: Real): Promise<void> {
    const start = real.log.startOffset;
    await real.log.close();
    real.log = await open(real);
    assert.equal(real.log.startOffset, start, 'a clean reopen keeps startOffset');
    assert.equal(
      real.log.stats().recoveredTruncatedBytes,
      0,
      'a clean close leaves nothing to cut',
    );
    await checkAgainstModel(model, real, this.toString());
  }
  toString(): string {
    return 'close + reopen';
  }
}

/**
 * Appends `records` one append each, without waiting, and cuts the power at the `crashAt`th
 * file-system call from then on (or once they all settled). Appends that resolved must
 * survive; those that did not may or may not, but if present must be intact and in order.
 */
class CrashCommand implements LogCommand {
  constructor(
    readonly records: readonly RecordInput[],
    readonly crashAt: number,
    readonly tear: boolean,
  ) {}
  check(): boolean {
    return true;
  }
  async run(model: Model, real: Real): Promise<void> {
    const first = model.records.length;
    const old = real.fileSystem;
    const oldLog = real.log;
    let crashed: Promise<FaultyFileSystem> | null = null;
    let countdown = this.crashAt;
    old.hook = () => {
      countdown--;
      if (countdown === 0 && crashed === null)
        crashed = old.crash({ tearUnsyncedWrites: this.tear });
    };
    const settled = await Promise.allSettled(this.records.map((record) => oldLog.append(record)));
    const midway = old.crashed;
    crashed ??= old.crash({ tearUnsyncedWrites: this.tear });
    real.fileSystem = await crashed;
    await oldLog.close().catch(() => undefined);
    let confirmed = 0;
    settled.forEach((outcome, i) => {
      if (outcome.status === 'fulfilled') {
        assert.equal(outcome.value, first + i, 'offsets in call order');
        confirmed = i + 1;
      }
    });
    real.log = await open(real);
    const end = real.log.endOffset;
    assert.ok(
      end >= first + confirmed,
      `crash lost confirmed appends: end ${end} < ${first + confirmed}`,
    );
    assert.ok(end <= first + this.records.length, `records appeared from nowhere: end ${end}`);
    crashStatistics.crashes++;
    if (midway) crashStatistics.inFlight++;
    crashStatistics.unconfirmedKept += end - first - confirmed;
    crashStatistics.unconfirmedLost += first + this.records.length - end;
    for (let offset = first; offset < end; offset++)
      model.records.push(fromInput(offset, this.records[offset - first]!, CLOCK_MS));
    await checkAgainstModel(model, real, this.toString());
  }
  toString(): string {
    return `crash(${this.records.length} appends in flight, at call ${this.crashAt}${this.tear ? ', tearing unsynced writes' : ''})`;
  }
}

const recordArbitrary: fc.Arbitrary<RecordInput> = fc
  .record({
    timestamp: fc.option(fc.integer({ min: CLOCK_MS - 10_000, max: CLOCK_MS }), { nil: undefined }),
    key: fc.option(fc.uint8Array({ maxLength: 16 }), { nil: null }),
    headers: fc.option(
      fc.dictionary(fc.string({ minLength: 1, maxLength: 6 }), fc.string({ maxLength: 8 }), {
        maxKeys: 3,
      }),
      { nil: null },
    ),
    body: fc.uint8Array({ maxLength: 400 }),
  })
  .map(({ timestamp, key, headers, body }) => ({
    key,
    headers,
    body,
    ...(timestamp !== undefined ? { timestamp } : {}),
  }));

const commandArbitraries = [
  fc
    .tuple(fc.array(recordArbitrary, { minLength: 1, maxLength: 8 }), fc.boolean())
    .map(([records, concurrent]) => new AppendCommand(records, concurrent)),
  fc
    .tuple(
      fc.nat(),
      fc.option(fc.integer({ min: 1, max: 3000 }), { nil: undefined }),
      fc.option(fc.integer({ min: 1, max: 10 }), { nil: undefined }),
    )
    .map(([position, maxBytes, maxRecords]) => new ReadCommand(position, maxBytes, maxRecords)),
  fc.double({ min: 0, max: 1, noNaN: true }).map((fraction) => new TruncateBeforeCommand(fraction)),
  fc.integer({ min: 0, max: 60 }).map((maxRecords) => new RetentionCommand(maxRecords)),
  fc.constant(new ReopenCommand()),
  fc
    .tuple(
      fc.array(recordArbitrary, { minLength: 1, maxLength: 10 }),
      fc.integer({ min: 1, max: 8 }),
      fc.boolean(),
    )
    .map(([records, crashAt, tear]) => new CrashCommand(records, crashAt, tear)),
];

test(
  'the file log matches an in-memory model under appends, reads, truncation, retention, reopens and crashes',
  { timeout: 90_000 },
  async (t) => {
    const replay = replayFromEnvironment(RUNS_DEFAULT);
    const { seed, numRuns, path } = replay;
    t.diagnostic(`seed ${seed} (replay with WEIR_SEED=${seed})`);
    let runs = 0;
    let commandsRun = 0;
    const property = fc.asyncProperty(
      fc.commands(commandArbitraries, { maxCommands: COMMANDS_MAX, size: 'max' }),
      fc.constantFrom(0, 1024, 64 * 1024),
      fc.integer(),
      async (commands, tailCacheBytes, fileSystemSeed) => {
        runs++;
        const fileSystem = new FaultyFileSystem(new MemoryFileSystem(), { seed: fileSystemSeed });
        const real: Real = { fileSystem, log: null as unknown as PartitionLog, tailCacheBytes };
        real.log = await open(real);
        const model: Model = { records: [], keepFrom: 0, startOffset: 0 };
        try {
          await fc.asyncModelRun(() => ({ model, real }), commands);
          commandsRun += [...commands].length;
        } finally {
          await real.log.close().catch(() => undefined);
        }
      },
    );
    await assertReplayable('log model property', property, replay, TIME_LIMIT_MS);
    t.diagnostic(
      `${runs} runs, ${commandsRun} commands, crashes: ${JSON.stringify(crashStatistics)}`,
    );
    if (!path && runs >= 50) {
      assert.ok(crashStatistics.inFlight > 0, 'some crashes hit appends in flight');
      assert.ok(crashStatistics.unconfirmedLost > 0, 'some crashes lost unconfirmed appends');
      assert.ok(crashStatistics.unconfirmedKept > 0, 'some crashes kept unconfirmed appends');
    }
    assert.ok(
      runs >= Math.min(numRuns, 10),
      `only ${runs} runs finished within ${TIME_LIMIT_MS} ms`,
    );
  },
);
