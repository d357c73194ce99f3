/**
 * Re-drives with progress. `deadLetters.redrive` answers only when it is done, so a job
 * re-drives in chunks of about a quarter second's worth (REDRIVE_CHUNKS_PER_SECOND) and
 * reports the count after each: the console shows a progress bar, and a job can be cancelled
 * between chunks (also when the admin server closes). The job paces the chunks itself, so the
 * rate holds across them: chunk n starts no earlier than n * chunk / ratePerSecond seconds in.
 *
 * "All" means the dead letters there are when the job starts: the job counts them first (up
 * to DEAD_LETTER_LIST_MAX) and re-drives that many, so a message that fails again and comes
 * back as a dead letter is not re-driven in a loop. When there are more than the count can
 * see, one last unbounded call takes the rest (the broker bounds it to what is there then).
 *
 * Bounds: ADMIN_REDRIVES_RUNNING_MAX jobs run at once; ADMIN_REDRIVE_JOBS_MAX are remembered
 * (the oldest finished ones go first).
 *
 * Restarts: with a broker on disk the jobs are saved in `<dataDir>/admin/redrive-jobs.json`
 * (json-file.ts: replaced atomically) when one starts or ends and at most every
 * ADMIN_REDRIVE_SAVE_INTERVAL_MS while it makes progress. Closing the admin server stops the
 * running jobs between chunks and saves them as still running; the next admin server on that
 * data directory resumes them. What a job had re-driven is settled in the broker's
 * `_redrive-…` subscription, so it is not re-driven again: a resumed job counts what is left
 * and carries on with its count (after a crash the count may miss the last second's progress;
 * the messages themselves are not re-driven twice, except one whose settle the crash cut off).
 * A memory broker keeps the jobs in memory only.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type {
  Client,
  DeadLetterPosition,
  DeadLetterReason,
  RedriveOptions,
  RedriveResult,
  RedriveTarget,
} from '../protocol/index.js';
import {
  ADMIN_REDRIVE_FILE_BYTES_MAX,
  ADMIN_REDRIVE_JOBS_MAX,
  ADMIN_REDRIVE_SAVE_INTERVAL_MS,
  ADMIN_REDRIVES_RUNNING_MAX,
  DEAD_LETTER_LIST_MAX,
  REDRIVE_RATE_DEFAULT,
} from '../limits.js';
import { WeirError } from '../util/index.js';
import { asWeirError } from './http-io.js';
import { JsonFile } from './json-file.js';

/** Progress is reported about this often per second. */
const REDRIVE_CHUNKS_PER_SECOND = 4;

export interface RedriveRequest {
  readonly subject: string;
  /** Where they go (see RedriveTarget); default 'subscription'. */
  readonly to?: RedriveTarget | undefined;
  /** At most this many (default: all there are when the job starts). */
  readonly limit?: number | undefined;
  readonly ratePerSecond?: number | undefined;
  readonly originStream?: string | undefined;
  readonly reason?: DeadLetterReason | undefined;
  /** Only these dead letters (chosen in the console). */
  readonly only?: readonly DeadLetterPosition[] | undefined;
}

export type RedriveState = 'running' | 'done' | 'failed' | 'cancelled';

export interface RedriveJob {
  readonly id: string;
  readonly subject: string;
  readonly request: RedriveRequest;
  state: RedriveState;
  /** Dead letters the job means to re-drive (null when it could not count them all). */
  total: number | null;
  redriven: number;
  /** Dead letters left in place because what they would go back to is gone. */
  skipped: number;
  readonly startedMs: number;
  finishedMs: number | null;
  error: { readonly code: string; readonly message: string } | null;
}

const STATES: readonly RedriveState[] = ['running', 'done', 'failed', 'cancelled'];
/** The saved file's format; a later one gets a new number. */
const FILE_VERSION = 1;

export class RedriveJobs {
  readonly #client: Client;
  readonly #file: { readonly name: string; readonly json: JsonFile } | null;
  readonly #jobs = new Map<string, RedriveJob>();
  readonly #running = new Map<string, Promise<void>>();
  readonly #cancelled = new Set<string>();
  readonly #stopWaiting = new AbortController();
  #closing = false;
  #nextId = 1;
  #saveTimer: NodeJS.Timeout | null = null;
  #savedMs = 0;

  /** `file`: where the jobs are saved (null: in memory only). */
  constructor(client: Client, file: string | null) {
    this.#client = client;
    this.#file =
      file === null ? null : { name: file, json: new JsonFile(file, ADMIN_REDRIVE_FILE_BYTES_MAX) };
  }

  /** Loads the saved jobs and resumes those that were running. Call once, before start(). */
  async open(): Promise<void> {
    if (this.#file === null) return;
    const document = await this.#file.json.load();
    if (document === null) return;
    const { nextId, jobs } = parseSaved(document, this.#file.name);
    this.#nextId = nextId;
    for (const job of jobs) this.#jobs.set(job.id, job);
    for (const job of jobs) {
      if (job.state !== 'running') continue;
      if (this.#running.size < ADMIN_REDRIVES_RUNNING_MAX) this.#launch(job, true);
      else this.#finish(job, 'failed', { code: 'LIMIT_EXCEEDED', message: 'too many to resume' });
    }
  }

  list(): RedriveJob[] {
    return [...this.#jobs.values()].reverse();
  }

  get(id: string): RedriveJob {
    const job = this.#jobs.get(id);
    if (!job) throw new WeirError('INVALID_ARGUMENT', `no re-drive job ${JSON.stringify(id)}`);
    return job;
  }

  /** Starts a job and returns it (state 'running') once it is saved. */
  async start(request: RedriveRequest): Promise<RedriveJob> {
    if (this.#closing) throw new WeirError('CLOSED', 'the admin server is closing');
    if (this.#running.size >= ADMIN_REDRIVES_RUNNING_MAX) {
      throw new WeirError('LIMIT_EXCEEDED', `${ADMIN_REDRIVES_RUNNING_MAX} re-drives are running`);
    }
    this.#prune();
    const job: RedriveJob = {
      id: String(this.#nextId++),
      subject: request.subject,
      request,
      state: 'running',
      total: null,
      redriven: 0,
      skipped: 0,
      startedMs: Date.now(),
      finishedMs: null,
      error: null,
    };
    this.#jobs.set(job.id, job);
    this.#launch(job, false);
    try {
      await this.#saveNow();
    } catch (error) {
      // Not saved, so it could not survive a restart: it stops (within its first chunk).
      this.#cancelled.add(job.id);
      throw error;
    }
    return job;
  }

  cancel(id: string): RedriveJob {
    const job = this.get(id);
    if (job.state === 'running') this.#cancelled.add(id);
    return job;
  }

  /**
   * Stops every running job (each within about one chunk) and saves them as running, so that
   * the next admin server on this data directory resumes them.
   */
  async close(): Promise<void> {
    this.#closing = true;
    this.#stopWaiting.abort();
    await Promise.allSettled([...this.#running.values()]);
    if (this.#saveTimer !== null) clearTimeout(this.#saveTimer);
    this.#saveTimer = null;
    await this.#saveNow().catch(() => undefined); // the last progress only; the file stays valid
  }

  #launch(job: RedriveJob, resumed: boolean): void {
    const running = this.#run(job, resumed).finally(() => {
      this.#running.delete(job.id);
      this.#cancelled.delete(job.id);
    });
    this.#running.set(job.id, running);
  }

  #stopped(job: RedriveJob): boolean {
    return this.#closing || this.#cancelled.has(job.id);
  }

  #finish(
    job: RedriveJob,
    state: Exclude<RedriveState, 'running'>,
    error: RedriveJob['error'] = null,
  ): void {
    job.state = state;
    job.error = error;
    job.finishedMs = Date.now();
    this.#saveNow().catch(() => undefined); // retried with the next save
  }

  /** Waits until `due` (performance.now() time); false when the server closes meanwhile. */
  async #waitUntil(due: number): Promise<boolean> {
    const wait = due - performance.now();
    if (wait <= 0) return true;
    try {
      await sleep(wait, undefined, { signal: this.#stopWaiting.signal });
      return true;
    } catch {
      return false;
    }
  }

  async #run(job: RedriveJob, resumed: boolean): Promise<void> {
    const { subject, to, limit, originStream, reason, only } = job.request;
    const rate = job.request.ratePerSecond ?? REDRIVE_RATE_DEFAULT;
    const filters: RedriveOptions = {
      ...(to === undefined ? {} : { to }),
      ...(originStream === undefined ? {} : { originStream }),
      ...(reason === undefined ? {} : { reason }),
      ...(only === undefined ? {} : { only }),
      ratePerSecond: rate,
    };
    const chosen =
      only === undefined
        ? null
        : new Set(
            only.map((position) => `${position.stream}/${position.partition}/${position.offset}`),
          );
    const count = (result: RedriveResult): void => {
      job.redriven += result.redriven;
      // Each call walks again past the ones left in place: the largest count is the truest.
      job.skipped = Math.max(job.skipped, result.skipped);
      this.#saveSoon();
    };
    try {
      const listed = await this.#client.deadLetters.list(subject, { limit: DEAD_LETTER_LIST_MAX });
      const matching = listed.filter(
        (letter) =>
          (originStream === undefined || letter.origin.stream === originStream) &&
          (reason === undefined || letter.reason === reason) &&
          (chosen === null || chosen.has(`${letter.stream}/${letter.partition}/${letter.offset}`)),
      ).length;
      const countedAll = listed.length < DEAD_LETTER_LIST_MAX;
      /** How many this run re-drives. */
      let target: number;
      if (!resumed) {
        target = limit === undefined ? matching : Math.min(limit, countedAll ? matching : limit);
        job.total = countedAll || limit !== undefined ? target : null;
      } else {
        // What it re-drove before is settled and no longer listed: `matching` is what is left.
        const left =
          job.total !== null
            ? Math.max(0, job.total - job.redriven)
            : limit === undefined
              ? matching
              : Math.max(0, limit - job.redriven);
        target = countedAll ? Math.min(left, matching) : left;
      }
      const chunkSize = Math.max(1, Math.floor(rate / REDRIVE_CHUNKS_PER_SECOND));
      const started = performance.now();
      let moved = 0;
      // Each chunk moves at least one message or ends the loop: at most `target` chunks.
      while (moved < target && !this.#stopped(job)) {
        if (!(await this.#waitUntil(started + (moved * 1000) / rate))) break;
        if (this.#stopped(job)) break;
        const chunk = Math.min(chunkSize, target - moved);
        const result = await this.#client.deadLetters.redrive(subject, {
          ...filters,
          limit: chunk,
        });
        moved += result.redriven;
        count(result);
        if (result.redriven < chunk) break; // none left
      }
      if (!countedAll && limit === undefined && !this.#stopped(job)) {
        count(await this.#client.deadLetters.redrive(subject, filters));
      }
      if (this.#cancelled.has(job.id)) this.#finish(job, 'cancelled');
      else if (!this.#closing) this.#finish(job, 'done');
      // else: the server closes and the job stays 'running', to resume at the next start.
    } catch (error) {
      const weirError = asWeirError(error);
      this.#finish(job, 'failed', { code: weirError.code, message: weirError.message });
    }
  }

  /** Saves within ADMIN_REDRIVE_SAVE_INTERVAL_MS (progress: at most that often). */
  #saveSoon(): void {
    if (this.#file === null || this.#saveTimer !== null || this.#closing) return;
    const wait = Math.max(0, this.#savedMs + ADMIN_REDRIVE_SAVE_INTERVAL_MS - Date.now());
    this.#saveTimer = setTimeout(() => {
      this.#saveTimer = null;
      this.#saveNow().catch(() => undefined); // retried with the next save
    }, wait);
  }

  #saveNow(): Promise<void> {
    if (this.#file === null) return Promise.resolve();
    this.#savedMs = Date.now();
    return this.#file.json.save(() => ({
      version: FILE_VERSION,
      nextId: this.#nextId,
      jobs: [...this.#jobs.values()],
    }));
  }

  #prune(): void {
    for (const [id, job] of this.#jobs) {
      if (this.#jobs.size < ADMIN_REDRIVE_JOBS_MAX) break;
      if (job.state !== 'running') this.#jobs.delete(id);
    }
  }
}

function corrupt(file: string, what: string): WeirError {
  return new WeirError(
    'CORRUPT_DATA',
    `${file}: ${what} (the admin server's saved re-drive jobs; move it away to start without them)`,
  );
}

function isCount(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
}

/** The saved jobs, checked field by field (the requests are checked again by the broker). */
function parseSaved(document: unknown, file: string): { nextId: number; jobs: RedriveJob[] } {
  const { version, nextId, jobs } = (document ?? {}) as Record<string, unknown>;
  if (version !== FILE_VERSION) throw corrupt(file, `unknown version ${String(version)}`);
  if (!isCount(nextId)) throw corrupt(file, 'nextId is not a count');
  if (!Array.isArray(jobs) || jobs.length > ADMIN_REDRIVE_JOBS_MAX) {
    throw corrupt(file, `jobs is not a list of at most ${ADMIN_REDRIVE_JOBS_MAX}`);
  }
  return {
    nextId,
    jobs: (jobs as unknown[]).map((value): RedriveJob => {
      const job = (value ?? {}) as Record<string, unknown>;
      const request = job.request as RedriveRequest | undefined;
      const error = job.error as RedriveJob['error'] | undefined;
      if (
        typeof job.id !== 'string' ||
        typeof job.subject !== 'string' ||
        typeof request !== 'object' ||
        request === null ||
        request.subject !== job.subject ||
        !STATES.includes(job.state as RedriveState) ||
        !(job.total === null || isCount(job.total)) ||
        !isCount(job.redriven) ||
        !isCount(job.skipped) ||
        !isCount(job.startedMs) ||
        !(job.finishedMs === null || isCount(job.finishedMs)) ||
        !(
          error === null ||
          (typeof error === 'object' &&
            typeof error?.code === 'string' &&
            typeof error.message === 'string')
        )
      ) {
        throw corrupt(file, `job ${JSON.stringify(job.id)} is malformed`);
      }
      return {
        id: job.id,
        subject: job.subject,
        request,
        state: job.state as RedriveState,
        total: job.total,
        redriven: job.redriven,
        skipped: job.skipped,
        startedMs: job.startedMs,
        finishedMs: job.finishedMs,
        error,
      };
    }),
  };
}
