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
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type {
  Client,
  DeadLetterPosition,
  DeadLetterReason,
  RedriveOptions,
} from '../protocol/index.js';
import {
  ADMIN_REDRIVE_JOBS_MAX,
  ADMIN_REDRIVES_RUNNING_MAX,
  DEAD_LETTER_LIST_MAX,
  REDRIVE_RATE_DEFAULT,
} from '../limits.js';
import { WeirError } from '../util/index.js';
import { asWeirError } from './http-io.js';

/** Progress is reported about this often per second. */
const REDRIVE_CHUNKS_PER_SECOND = 4;

export interface RedriveRequest {
  readonly subject: string;
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
  readonly startedMs: number;
  finishedMs: number | null;
  error: { readonly code: string; readonly message: string } | null;
}

export class RedriveJobs {
  readonly #client: Client;
  readonly #jobs = new Map<string, RedriveJob>();
  readonly #running = new Map<string, Promise<void>>();
  readonly #cancelled = new Set<string>();
  readonly #stopWaiting = new AbortController();
  #nextId = 1;

  constructor(client: Client) {
    this.#client = client;
  }

  list(): RedriveJob[] {
    return [...this.#jobs.values()].reverse();
  }

  get(id: string): RedriveJob {
    const job = this.#jobs.get(id);
    if (!job) throw new WeirError('INVALID_ARGUMENT', `no re-drive job ${JSON.stringify(id)}`);
    return job;
  }

  /** Starts a job and returns it at once (state 'running'). */
  start(request: RedriveRequest): RedriveJob {
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
      startedMs: Date.now(),
      finishedMs: null,
      error: null,
    };
    this.#jobs.set(job.id, job);
    const running = this.#run(job).finally(() => {
      this.#running.delete(job.id);
      this.#cancelled.delete(job.id);
      job.finishedMs = Date.now();
    });
    this.#running.set(job.id, running);
    return job;
  }

  cancel(id: string): RedriveJob {
    const job = this.get(id);
    if (job.state === 'running') this.#cancelled.add(id);
    return job;
  }

  /** Cancels every running job and waits for them to stop (each within about one chunk). */
  async close(): Promise<void> {
    for (const id of this.#running.keys()) this.#cancelled.add(id);
    this.#stopWaiting.abort();
    await Promise.allSettled([...this.#running.values()]);
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

  async #run(job: RedriveJob): Promise<void> {
    const { subject, limit, originStream, reason, only } = job.request;
    const rate = job.request.ratePerSecond ?? REDRIVE_RATE_DEFAULT;
    const filters: RedriveOptions = {
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
    try {
      const listed = await this.#client.deadLetters.list(subject, { limit: DEAD_LETTER_LIST_MAX });
      const matching = listed.filter(
        (letter) =>
          (originStream === undefined || letter.origin.stream === originStream) &&
          (reason === undefined || letter.reason === reason) &&
          (chosen === null || chosen.has(`${letter.stream}/${letter.partition}/${letter.offset}`)),
      ).length;
      const countedAll = listed.length < DEAD_LETTER_LIST_MAX;
      const target =
        limit === undefined ? matching : Math.min(limit, countedAll ? matching : limit);
      job.total = countedAll || limit !== undefined ? target : null;
      const chunkSize = Math.max(1, Math.floor(rate / REDRIVE_CHUNKS_PER_SECOND));
      const started = performance.now();
      // Each chunk moves at least one message or ends the loop: at most `target` chunks.
      while (job.redriven < target && !this.#cancelled.has(job.id)) {
        if (!(await this.#waitUntil(started + (job.redriven * 1000) / rate))) break;
        if (this.#cancelled.has(job.id)) break;
        const chunk = Math.min(chunkSize, target - job.redriven);
        const { redriven } = await this.#client.deadLetters.redrive(subject, {
          ...filters,
          limit: chunk,
        });
        job.redriven += redriven;
        if (redriven < chunk) break; // none left
      }
      if (!countedAll && limit === undefined && !this.#cancelled.has(job.id)) {
        const { redriven } = await this.#client.deadLetters.redrive(subject, filters);
        job.redriven += redriven;
      }
      job.state = this.#cancelled.has(job.id) ? 'cancelled' : 'done';
    } catch (error) {
      const weirError = asWeirError(error);
      job.state = 'failed';
      job.error = { code: weirError.code, message: weirError.message };
    }
  }

  #prune(): void {
    for (const [id, job] of this.#jobs) {
      if (this.#jobs.size < ADMIN_REDRIVE_JOBS_MAX) break;
      if (job.state !== 'running') this.#jobs.delete(id);
    }
  }
}
