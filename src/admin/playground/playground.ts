/**
 * The admin server's playground: at most one run at a time (playground-run.ts), started,
 * changed and stopped through the HTTP API (routes-playground.ts), and stopped by itself once
 * its duration is over (at most PLAYGROUND_DURATION_MS_MAX). After a run ends its last
 * counters and history stay readable until the next one starts.
 *
 * Concurrency: requests may come at once; every operation runs in one Lane, so a start, a
 * change and a stop never interleave.
 */
import type { Client } from '../../protocol/index.js';
import { Lane, WeirError, type Clock, type Timer } from '../../util/index.js';
import { invalid } from '../http-io.js';
import {
  DEFAULT_PARAMETERS,
  FIXED_PER_RUN,
  applyParameters,
  type PlaygroundParameters,
} from './playground-parameters.js';
import { PRESETS, findPreset, type PlaygroundEventKind } from './playground-presets.js';
import {
  PLAYGROUND_DEAD_LETTER_STREAM,
  PLAYGROUND_STREAM,
  PLAYGROUND_SUBSCRIPTION,
  PlaygroundRun,
  type PlaygroundCounters,
  type PlaygroundEvent,
  type PlaygroundSample,
} from './playground-run.js';

export type PlaygroundState = 'idle' | 'running' | 'finished';

/** Why a run ended. */
export type PlaygroundEndReason = 'stopped' | 'duration' | 'closed';

/** What GET /api/playground answers. */
export interface PlaygroundView {
  readonly state: PlaygroundState;
  readonly preset: string | null;
  readonly parameters: PlaygroundParameters;
  readonly startedAtMs: number | null;
  /** When the run stops by itself. */
  readonly endsAtMs: number | null;
  readonly endedAtMs: number | null;
  readonly endReason: PlaygroundEndReason | null;
  readonly stream: string;
  readonly deadLetterStream: string;
  readonly subscription: string;
  readonly producerRatePerSecond: number;
  readonly counters: PlaygroundCounters | null;
  readonly history: readonly PlaygroundSample[];
  readonly events: readonly PlaygroundEvent[];
  readonly lastError: string | null;
  readonly presets: readonly { name: string; title: string; description: string }[];
}

/** What one POST asks for (already checked). */
export interface PlaygroundRequest {
  readonly preset?: string | undefined;
  /** Parameter fields as given (checked by applyParameters). */
  readonly parameters: Readonly<Record<string, unknown>>;
  readonly event?: PlaygroundEventKind | undefined;
}

export interface PlaygroundOptions {
  /** Makes the run's own client (closed when the run stops). */
  readonly connect: () => Client;
  readonly clock: Clock;
  readonly random?: () => number;
}

interface Ended {
  readonly run: PlaygroundRun;
  readonly preset: string | null;
  readonly endedAtMs: number;
  readonly reason: PlaygroundEndReason;
}

export class Playground {
  readonly #options: PlaygroundOptions;
  readonly #lane = new Lane();
  #run: PlaygroundRun | null = null;
  #preset: string | null = null;
  #ended: Ended | null = null;
  #endTimer: Timer | null = null;
  #closed = false;

  constructor(options: PlaygroundOptions) {
    this.#options = options;
  }

  /** The current run (tests drive it). */
  get run(): PlaygroundRun | null {
    return this.#run;
  }

  /**
   * Starts a run (none going, or a preset given: the preset's run replaces the one going), or
   * changes the one going; then runs `event` if one is asked for.
   */
  apply(request: PlaygroundRequest): Promise<PlaygroundView> {
    return this.#lane.run(async () => {
      if (this.#closed) throw new WeirError('CLOSED', 'the admin server is closing');
      const preset = request.preset === undefined ? undefined : findPreset(request.preset);
      if (request.preset !== undefined && preset === undefined) {
        throw invalid('preset', `must be one of ${PRESETS.map((p) => p.name).join(', ')}`);
      }
      const run = this.#run;
      if (run !== null && preset === undefined) {
        const parameters = applyParameters(run.parameters, request.parameters);
        for (const name of FIXED_PER_RUN) {
          if (parameters[name] !== run.parameters[name]) {
            throw invalid(name, 'is set when a run starts: stop the run, then start it again');
          }
        }
        await run.change(parameters);
        this.#armEnd(run);
      } else {
        const parameters = applyParameters(
          preset?.parameters ?? DEFAULT_PARAMETERS,
          request.parameters,
        );
        if (run !== null) await this.#end(run, 'stopped');
        const started = await PlaygroundRun.start({
          client: this.#options.connect(),
          clock: this.#options.clock,
          parameters,
          ...(this.#options.random === undefined ? {} : { random: this.#options.random }),
        });
        this.#run = started;
        this.#preset = preset?.name ?? null;
        this.#ended = null;
        for (const event of preset?.script ?? []) started.schedule(event.afterMs, event.kind);
        this.#armEnd(started);
      }
      if (request.event !== undefined) await this.#run!.trigger(request.event);
      await this.#run!.sample(); // the answer shows what the request changed
      return this.view();
    });
  }

  /** Stops the run going (nothing if none), deleting its streams. */
  stop(reason: PlaygroundEndReason = 'stopped'): Promise<PlaygroundView> {
    return this.#lane.run(async () => {
      if (this.#run !== null) await this.#end(this.#run, reason);
      return this.view();
    });
  }

  /** Stops the run going and takes no more (the admin server closes). */
  async close(): Promise<void> {
    this.#closed = true;
    await this.stop('closed');
  }

  /** `sinceMs`: only the samples taken after that time (a page that has the earlier ones). */
  view(sinceMs = -Infinity): PlaygroundView {
    const run = this.#run ?? this.#ended?.run ?? null;
    return {
      state: this.#run !== null ? 'running' : this.#ended !== null ? 'finished' : 'idle',
      preset: this.#run !== null ? this.#preset : (this.#ended?.preset ?? null),
      parameters: run?.parameters ?? DEFAULT_PARAMETERS,
      startedAtMs: run?.startedAtMs ?? null,
      endsAtMs: this.#run === null ? null : this.#run.startedAtMs + this.#run.parameters.durationMs,
      endedAtMs: this.#ended?.endedAtMs ?? null,
      endReason: this.#ended?.reason ?? null,
      stream: PLAYGROUND_STREAM,
      deadLetterStream: PLAYGROUND_DEAD_LETTER_STREAM,
      subscription: PLAYGROUND_SUBSCRIPTION,
      producerRatePerSecond: this.#run?.producerRatePerSecond ?? 0,
      counters: run?.counters ?? null,
      history: (run?.history ?? []).filter((sample) => sample.timeMs > sinceMs),
      events: run?.events ?? [],
      lastError: run?.lastError ?? null,
      presets: PRESETS.map(({ name, title, description }) => ({ name, title, description })),
    };
  }

  /** (Re)arms the stop at the end of the run's duration, or stops it now if that is past. */
  #armEnd(run: PlaygroundRun): void {
    this.#endTimer?.cancel();
    const left = run.startedAtMs + run.parameters.durationMs - this.#options.clock.now();
    this.#endTimer = this.#options.clock.setTimer(
      Math.max(0, left),
      () => {
        void this.#lane
          .run(async () => {
            if (this.#run === run) await this.#end(run, 'duration');
          })
          .catch(() => undefined); // the run keeps its lastError
      },
      { unref: true },
    );
  }

  async #end(run: PlaygroundRun, reason: PlaygroundEndReason): Promise<void> {
    this.#endTimer?.cancel();
    this.#endTimer = null;
    this.#run = null;
    await run.stop();
    this.#ended = {
      run,
      preset: this.#preset,
      endedAtMs: this.#options.clock.now(),
      reason,
    };
  }
}
