/**
 * Cron and repeatable messages: named schedules that publish a message on each tick of a cron
 * expression (in a time zone) or of a fixed period, durably, each tick once.
 *
 * A firing of tick T, in the schedule's own lane (one firing or change of a schedule at a time):
 *
 *   1. intent: the schedule's file gets `intent {T, routes}`, the end offset of every partition
 *      of every stream the subject routes to, fsynced (cron-file.ts);
 *   2. publish: the tick's message (headers weir-schedule, weir-schedule-tick = T, dedup id
 *      `weir-schedule:<name>:<T>`), confirmed under each stream's fsync policy;
 *   3. state: the file gets `doneMs = T`, the counts, no intent.
 *
 * A crash before 1 leaves T unstarted: at open it is a missed tick. A crash after 1 leaves the
 * intent: at open the recorded partitions are read from the recorded offsets (log-scan.ts) for
 * a message of this schedule with tick T, and T is published only to the streams that lack it
 * (so a crash between 2 and 3 does not fire T again, whatever the dedup window remembers). An
 * interrupted tick is finished at open whatever the missed policy: the policy is about ticks
 * the broker never started.
 *
 * Ticks that passed while the broker was closed follow the schedule's `missed` policy at open:
 * skip them, fire the latest once, or fire each in order (at most SCHEDULE_MISSED_TICKS_MAX;
 * the rest are skipped). While the broker runs, a tick that falls due late (the process was
 * busy, the clock jumped) still fires, in order, with the same bound.
 *
 * A publish that is refused (NO_ROUTE, STREAM_FULL, ...) marks the tick failed and is not
 * retried: the next tick is the next chance. A write of the schedule's file that fails stops
 * that schedule (`failure`); its file is as it was and the next open goes on from there.
 *
 * Time comes from the broker's clock; one clock timer per schedule is armed for its next tick.
 * Concurrency: create and delete run one at a time (a Lane); each schedule's firings and its
 * removal run in that schedule's lane, so a delete waits for a firing in progress and no tick
 * fires after it resolves.
 */
import type {
  FailureInfo,
  PublishReceipt,
  ScheduleConfig,
  ScheduleInfo,
} from '../protocol/index.js';
import { SCHEDULE_HEADERS, scheduleTickId } from '../protocol/index.js';
import type { FileSystem } from '../storage/index.js';
import {
  SCHEDULE_MISSED_TICKS_MAX,
  SCHEDULE_RECOVERY_SCAN_RECORDS_MAX,
  SCHEDULES_MAX,
} from '../limits.js';
import { Lane, toWeirError, WeirError, type Clock, type Timer } from '../util/index.js';
import { resolveScheduleConfig, sameScheduleConfig, scheduleBody } from './cron-config.js';
import {
  readScheduleFiles,
  removeScheduleFile,
  writeScheduleFile,
  type FiringIntent,
  type IntentRoute,
  type ScheduleRecord,
  type ScheduleState,
} from './cron-file.js';
import { TickSeries } from './cron-ticks.js';
import { recordsFrom } from './log-scan.js';
import { encodeMessage, type EncodedMessage } from './message-codec.js';
import { invalid, rejection, validateName } from './option-checks.js';
import type { Stream, StoreResult } from './stream.js';
import { isInboxSubject } from './subject.js';

/** What the schedules need of the broker core. */
export interface CronHost {
  readonly clock: Clock;
  /** Where the schedule files live (a memory file system for a memory broker). */
  readonly fileSystem: FileSystem;
  readonly root: string;
  /** A memory broker: nothing to load at open. */
  readonly inMemory: boolean;
  /** Streams capturing `subject`, in creation order. */
  streamsFor(subject: string): readonly Stream[];
  findStream(name: string): Stream | undefined;
  /** Routes the message as a publish does (every stream capturing its subject). */
  publishEncoded(message: EncodedMessage): Promise<PublishReceipt>;
  /** Stores in one stream only (recovery: a stream that lacks an interrupted tick). */
  storeIn(stream: Stream, message: EncodedMessage): Promise<StoreResult>;
}

type CatchUp = ScheduleConfig['missed'];

class ScheduleEntry {
  readonly name: string;
  readonly createdAtMs: number;
  readonly config: ScheduleConfig;
  readonly series: TickSeries;
  readonly lane = new Lane();
  state: ScheduleState;
  timer: Timer | null = null;
  deleted = false;
  failure: FailureInfo | null = null;

  constructor(record: ScheduleRecord) {
    this.name = record.name;
    this.createdAtMs = record.createdAtMs;
    this.config = record.config;
    this.state = record.state;
    this.series = new TickSeries({
      cron: record.config.cron,
      everyMs: record.config.everyMs,
      timezone: record.config.timezone,
      anchorMs: record.createdAtMs,
    });
  }

  get record(): ScheduleRecord {
    return {
      name: this.name,
      createdAtMs: this.createdAtMs,
      config: this.config,
      state: this.state,
    };
  }

  info(): ScheduleInfo {
    return {
      name: this.name,
      config: this.config,
      createdAtMs: this.createdAtMs,
      nextFireMs: this.failure === null ? this.series.nextAfter(this.state.doneMs) : null,
      lastFiredMs: this.state.lastFiredMs,
      fired: this.state.fired,
      skipped: this.state.skipped,
      failed: this.state.failed,
      lastError: this.state.lastError,
      failure: this.failure,
    };
  }
}

export class CronSchedules {
  readonly #host: CronHost;
  readonly #entries = new Map<string, ScheduleEntry>();
  readonly #changes = new Lane();
  #closed = false;

  private constructor(host: CronHost) {
    this.#host = host;
  }

  /** Loads every schedule, finishes interrupted ticks, applies missed policies, arms timers. */
  static async open(host: CronHost): Promise<CronSchedules> {
    const schedules = new CronSchedules(host);
    if (host.inMemory) return schedules;
    const records = await readScheduleFiles(host.fileSystem, host.root);
    for (const record of records) schedules.#entries.set(record.name, new ScheduleEntry(record));
    // Interrupted ticks and missed ones are handled in each schedule's lane, after open
    // returns: a long catch-up does not hold the broker's open up, and a create, delete or
    // close queues behind it.
    for (const entry of schedules.#entries.values()) {
      schedules.#run(entry, async () => {
        const intent = entry.state.intent;
        if (intent !== null) await schedules.#finishInterrupted(entry, intent);
        await schedules.#catchUp(entry, entry.config.missed);
      });
    }
    return schedules;
  }

  // ---- the API -------------------------------------------------------------------------

  create(name: string, options: unknown): Promise<ScheduleInfo> {
    return this.#change(async () => {
      validateScheduleName(name);
      const config = resolveScheduleConfig(options);
      if (isInboxSubject(config.subject)) {
        throw invalid('subject', 'may not be an inbox (_INBOX.…)');
      }
      const existing = this.#entries.get(name);
      if (existing) {
        if (sameScheduleConfig(existing.config, config)) return existing.info();
        throw new WeirError('SCHEDULE_EXISTS', `schedule ${name} exists with different options`);
      }
      if (this.#entries.size >= SCHEDULES_MAX) {
        throw new WeirError('LIMIT_EXCEEDED', `the broker holds ${SCHEDULES_MAX} schedules`);
      }
      const now = this.#host.clock.now();
      const entry = new ScheduleEntry({
        name,
        createdAtMs: now,
        config,
        state: {
          doneMs: now,
          lastFiredMs: null,
          fired: 0,
          skipped: 0,
          failed: 0,
          lastError: null,
          intent: null,
        },
      });
      await writeScheduleFile(this.#host.fileSystem, this.#host.root, entry.record);
      this.#entries.set(name, entry);
      this.#arm(entry);
      return entry.info();
    });
  }

  info(name: string): Promise<ScheduleInfo> {
    try {
      return Promise.resolve(this.#entry(name).info());
    } catch (error) {
      return rejection(error);
    }
  }

  /** The schedule's subject (a client checks its principal may publish there before a delete). */
  subjectOf(name: string): string {
    return this.#entry(name).config.subject;
  }

  list(): Promise<ScheduleInfo[]> {
    return Promise.resolve(
      [...this.#entries.values()]
        .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
        .map((entry) => entry.info()),
    );
  }

  delete(name: string): Promise<void> {
    return this.#change(async () => {
      const entry = this.#entry(name);
      entry.deleted = true;
      entry.timer?.cancel();
      entry.timer = null;
      // After a firing in progress: its state write must not bring the file back.
      await entry.lane.run(() => removeScheduleFile(this.#host.fileSystem, this.#host.root, name));
      this.#entries.delete(name);
    });
  }

  /** Stops every timer and waits for firings in progress (before the streams close). */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#changes.idle();
    for (const entry of this.#entries.values()) {
      entry.timer?.cancel();
      entry.timer = null;
    }
    for (const entry of this.#entries.values()) await entry.lane.idle();
  }

  #change<T>(operation: () => Promise<T>): Promise<T> {
    return this.#changes.run(() => {
      if (this.#closed) throw new WeirError('CLOSED', 'the broker is closed');
      return operation();
    });
  }

  #entry(name: string): ScheduleEntry {
    if (typeof name !== 'string') throw invalid('schedule name', 'must be a string');
    const entry = this.#entries.get(name);
    if (!entry) {
      throw new WeirError('SCHEDULE_NOT_FOUND', `schedule ${JSON.stringify(name)} does not exist`);
    }
    return entry;
  }

  // ---- firing --------------------------------------------------------------------------

  #arm(entry: ScheduleEntry): void {
    entry.timer?.cancel();
    entry.timer = null;
    if (this.#closed || entry.deleted || entry.failure !== null) return;
    const next = entry.series.nextAfter(entry.state.doneMs);
    if (next === null) return;
    const clock = this.#host.clock;
    entry.timer = clock.setTimer(next - clock.now(), () => {
      entry.timer = null;
      this.#run(entry, () => this.#catchUp(entry, 'all'));
    });
  }

  /**
   * Runs a firing pass in the schedule's lane, then arms its timer. A pass records its own
   * failures; anything it throws besides stops the schedule (so a broken one cannot spin).
   */
  #run(entry: ScheduleEntry, pass: () => Promise<void>): void {
    void entry.lane
      .run(pass)
      .catch((error: unknown) => {
        const weirError = toWeirError(error);
        entry.failure ??= { code: weirError.code, message: weirError.message };
      })
      .then(() => this.#arm(entry));
  }

  #stopped(entry: ScheduleEntry): boolean {
    return this.#closed || entry.deleted || entry.failure !== null;
  }

  /**
   * Handles the ticks in (doneMs, now] by `policy` ('all' while running: each late tick fires);
   * loops because firing takes time, during which more may fall due.
   */
  async #catchUp(entry: ScheduleEntry, policy: CatchUp): Promise<void> {
    let firedNow = 0;
    for (;;) {
      if (this.#stopped(entry)) return;
      const now = this.#host.clock.now();
      const next = entry.series.nextAfter(entry.state.doneMs);
      if (next === null || next > now) return;
      if (policy === 'skip' || (policy === 'all' && firedNow >= SCHEDULE_MISSED_TICKS_MAX)) {
        await this.#skipTo(entry, now);
        continue;
      }
      if (policy === 'once') {
        // Skip all but the latest; what falls due while it fires is late, not missed.
        const last = entry.series.lastIn(entry.state.doneMs, now);
        if (last !== null && last > next) await this.#skipTo(entry, last - 1);
        policy = 'all';
        continue;
      }
      await this.#fire(entry, next);
      firedNow++;
    }
  }

  /** Marks every tick in (doneMs, untilMs] skipped (counting at most SCHEDULE_MISSED_TICKS_MAX). */
  async #skipTo(entry: ScheduleEntry, untilMs: number): Promise<void> {
    const from = entry.state.doneMs;
    const last = entry.series.lastIn(from, untilMs);
    if (last === null) return;
    let count = 0;
    for (let at: number | null = entry.series.nextAfter(from); at !== null && at <= last;) {
      count++;
      if (count >= SCHEDULE_MISSED_TICKS_MAX) break;
      at = entry.series.nextAfter(at);
    }
    await this.#save(entry, { ...entry.state, doneMs: last, skipped: entry.state.skipped + count });
  }

  /** The message tick `tickMs` publishes (its ttl counted from now). */
  #message(entry: ScheduleEntry, tickMs: number): EncodedMessage {
    const config = entry.config;
    return encodeMessage(
      config.subject,
      scheduleBody(config),
      {
        headers: {
          ...config.headers,
          [SCHEDULE_HEADERS.name]: entry.name,
          [SCHEDULE_HEADERS.tick]: String(tickMs),
        },
        id: scheduleTickId(entry.name, tickMs),
        ...(config.key === null ? {} : { key: config.key }),
        ...(config.priority === 0 ? {} : { priority: config.priority }),
        ...(config.ttlMs === null ? {} : { ttlMs: config.ttlMs }),
      },
      this.#host.clock.now(),
    );
  }

  async #fire(entry: ScheduleEntry, tickMs: number): Promise<void> {
    const streams = this.#host.streamsFor(entry.config.subject);
    const routes: IntentRoute[] = [];
    for (const stream of streams) {
      stream.logs.forEach((log, partition) => {
        routes.push({ stream: stream.name, partition, endOffset: log.endOffset });
      });
    }
    const before = entry.state;
    if (streams.length > 0) {
      await this.#save(entry, { ...before, intent: { tickMs, routes } });
      if (entry.failure !== null || entry.deleted) return;
    }
    let error: FailureInfo | null = null;
    try {
      await this.#host.publishEncoded(this.#message(entry, tickMs));
    } catch (caught) {
      const weirError = toWeirError(caught);
      error = { code: weirError.code, message: weirError.message };
    }
    await this.#save(entry, finished(before, tickMs, error));
  }

  /** An intent found at open: publish tick T to each recorded stream that does not have it. */
  async #finishInterrupted(entry: ScheduleEntry, intent: FiringIntent): Promise<void> {
    const tick = String(intent.tickMs);
    const byStream = new Map<string, IntentRoute[]>();
    for (const route of intent.routes) {
      const list = byStream.get(route.stream) ?? [];
      list.push(route);
      byStream.set(route.stream, list);
    }
    let stored = false;
    let error: FailureInfo | null = null;
    for (const [name, routes] of byStream) {
      const stream = this.#host.findStream(name);
      if (!stream) continue; // deleted since
      if (await this.#holdsTick(stream, routes, entry.name, tick)) {
        stored = true;
        continue;
      }
      try {
        await this.#host.storeIn(stream, this.#message(entry, intent.tickMs));
        stored = true;
      } catch (caught) {
        const weirError = toWeirError(caught);
        error = { code: weirError.code, message: weirError.message };
      }
    }
    if (!stored && error === null) {
      error = { code: 'NO_ROUTE', message: 'every stream the tick was routed to was deleted' };
    }
    await this.#save(entry, finished(entry.state, intent.tickMs, stored ? null : error));
  }

  /** Whether a stream's recorded partitions hold schedule `name`'s tick, from the recorded offsets on. */
  async #holdsTick(
    stream: Stream,
    routes: readonly IntentRoute[],
    name: string,
    tick: string,
  ): Promise<boolean> {
    for (const route of routes) {
      const log = stream.logs[route.partition];
      if (!log) continue;
      for await (const record of recordsFrom(
        log,
        route.endOffset,
        SCHEDULE_RECOVERY_SCAN_RECORDS_MAX,
      )) {
        const headers = record.headers;
        if (headers?.[SCHEDULE_HEADERS.name] === name && headers[SCHEDULE_HEADERS.tick] === tick) {
          return true;
        }
      }
    }
    return false;
  }

  /** Writes the schedule's file with `state`; a failed write stops the schedule. */
  async #save(entry: ScheduleEntry, state: ScheduleState): Promise<void> {
    if (entry.deleted) return;
    try {
      await writeScheduleFile(this.#host.fileSystem, this.#host.root, {
        ...entry.record,
        state,
      });
      entry.state = state;
    } catch (caught) {
      const weirError = fileError(caught);
      entry.failure = { code: weirError.code, message: weirError.message };
      entry.timer?.cancel();
      entry.timer = null;
    }
  }
}

/** The state once tick `tickMs` is handled: fired, or failed with `error`. */
function finished(before: ScheduleState, tickMs: number, error: FailureInfo | null): ScheduleState {
  return {
    ...before,
    doneMs: tickMs,
    intent: null,
    ...(error === null
      ? { fired: before.fired + 1, lastFiredMs: tickMs, lastError: null }
      : { failed: before.failed + 1, lastError: error }),
  };
}

/** A failed write of a schedule's file as a typed error: DISK_FULL or STORAGE_FAILED. */
function fileError(error: unknown): WeirError {
  if (error instanceof WeirError) return error;
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  if (code === 'ENOSPC' || code === 'EDQUOT') {
    return new WeirError('DISK_FULL', "disk full: the schedule's file cannot be written", {
      cause: error,
    });
  }
  return new WeirError(
    'STORAGE_FAILED',
    `storage failed (${code ?? 'unknown'}): the schedule's file cannot be written; it fires no more until the broker is reopened`,
    { cause: error },
  );
}

function validateScheduleName(name: unknown): void {
  validateName(name, 'schedule name');
  if ((name as string).startsWith('_')) throw invalid('schedule name', "may not start with '_'");
}
