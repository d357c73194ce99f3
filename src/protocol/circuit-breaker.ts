/**
 * A consumer's circuit breaker (SubscribeOptions.circuitBreaker): one state machine that the
 * embedded consumer (src/broker/consumer.ts, on the broker's clock) and the network SDK's
 * subscription (src/client/remote-subscription.ts, on the SDK's clock) both run, so the two
 * transports open, half-open and close alike.
 *
 *   closed ──(≥ minCalls outcomes in windowMs, failures / outcomes ≥ failureRate)──► open
 *   open ──(cooldownMs later)──► half-open: at most halfOpenCalls deliveries held at once
 *   half-open ──(halfOpenCalls successes)──► closed;  ──(any failure)──► open again
 *
 * An outcome is a success (ack) or a failure (nack, term, a lease that expired on a message the
 * application took). Outcomes that arrive while open (messages taken before it opened) are not
 * counted. The breaker only decides; its owner stops taking messages and hands back what it holds.
 *
 * Memory: the window keeps at most CIRCUIT_BREAKER_WINDOW_CALLS_MAX outcome times.
 * Concurrency: runs on the event loop; `onChange` is called synchronously on each change.
 */
import {
  CIRCUIT_BREAKER_HALF_OPEN_CALLS_DEFAULT,
  CIRCUIT_BREAKER_MIN_CALLS_DEFAULT,
  CIRCUIT_BREAKER_MS_MAX,
  CIRCUIT_BREAKER_WINDOW_CALLS_MAX,
} from '../limits.js';
import { WeirError, type Clock, type Timer } from '../util/index.js';
import type { CircuitBreakerOptions, CircuitBreakerState } from './api.js';

/** The options with defaults filled in. */
export interface CircuitBreakerSettings {
  readonly failureRate: number;
  readonly windowMs: number;
  readonly cooldownMs: number;
  readonly minCalls: number;
  readonly halfOpenCalls: number;
}

function invalid(field: string, rule: string): WeirError {
  return new WeirError('INVALID_ARGUMENT', `circuitBreaker.${field} must be ${rule}`);
}

function integerField(value: unknown, field: string, min: number, max: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max)
    throw invalid(field, `an integer in ${min}..${max}`);
  return value;
}

/** Checks `circuitBreaker` of SubscribeOptions (INVALID_ARGUMENT naming the field). */
export function checkCircuitBreaker(options: unknown): CircuitBreakerSettings {
  if (typeof options !== 'object' || options === null || Array.isArray(options))
    throw new WeirError(
      'INVALID_ARGUMENT',
      'circuitBreaker must be an object { failureRate, windowMs, cooldownMs }',
    );
  const given = options as Partial<Record<keyof CircuitBreakerOptions, unknown>>;
  for (const name of Object.keys(given)) {
    if (!['failureRate', 'windowMs', 'cooldownMs', 'minCalls', 'halfOpenCalls'].includes(name))
      throw new WeirError('INVALID_ARGUMENT', `circuitBreaker.${name} is not an option`);
  }
  const failureRate = given.failureRate;
  if (
    typeof failureRate !== 'number' ||
    !Number.isFinite(failureRate) ||
    failureRate <= 0 ||
    failureRate > 1
  )
    throw invalid('failureRate', 'a number in (0, 1]');
  return {
    failureRate,
    windowMs: integerField(given.windowMs, 'windowMs', 1, CIRCUIT_BREAKER_MS_MAX),
    cooldownMs: integerField(given.cooldownMs, 'cooldownMs', 1, CIRCUIT_BREAKER_MS_MAX),
    minCalls:
      given.minCalls === undefined
        ? CIRCUIT_BREAKER_MIN_CALLS_DEFAULT
        : integerField(given.minCalls, 'minCalls', 1, CIRCUIT_BREAKER_WINDOW_CALLS_MAX),
    halfOpenCalls:
      given.halfOpenCalls === undefined
        ? CIRCUIT_BREAKER_HALF_OPEN_CALLS_DEFAULT
        : integerField(given.halfOpenCalls, 'halfOpenCalls', 1, CIRCUIT_BREAKER_WINDOW_CALLS_MAX),
  };
}

export class CircuitBreaker {
  readonly settings: CircuitBreakerSettings;
  readonly #clock: Clock;
  readonly #onChange: (state: CircuitBreakerState) => void;
  #state: CircuitBreakerState = 'closed';
  /** Outcome times and results in the window, oldest first (a ring would do; this is bounded). */
  #times: number[] = [];
  #failed: boolean[] = [];
  #head = 0;
  #failures = 0;
  #trialSuccesses = 0;
  #cooldown: Timer | null = null;
  #stopped = false;
  /** When the breaker last opened (ms on its clock), or null. */
  openedAtMs: number | null = null;
  /** How many times it opened. */
  opened = 0;

  constructor(
    settings: CircuitBreakerSettings,
    clock: Clock,
    onChange: (state: CircuitBreakerState) => void,
  ) {
    this.settings = settings;
    this.#clock = clock;
    this.#onChange = onChange;
  }

  get state(): CircuitBreakerState {
    return this.#state;
  }

  /** How many deliveries the owner may hold now: null no limit, 0 none (open). */
  get limit(): number | null {
    if (this.#state === 'open') return 0;
    if (this.#state === 'half-open') return this.settings.halfOpenCalls;
    return null;
  }

  /** Records one outcome: true a success (ack), false a failure. */
  record(success: boolean): void {
    if (this.#stopped || this.#state === 'open') return;
    if (this.#state === 'half-open') {
      if (!success) this.#open();
      else if (++this.#trialSuccesses >= this.settings.halfOpenCalls) this.#change('closed');
      return;
    }
    const now = this.#clock.now();
    this.#evict(now);
    if (this.#times.length - this.#head >= CIRCUIT_BREAKER_WINDOW_CALLS_MAX) this.#dropOldest();
    this.#times.push(now);
    this.#failed.push(!success);
    if (!success) this.#failures++;
    const calls = this.#times.length - this.#head;
    if (
      !success &&
      calls >= this.settings.minCalls &&
      this.#failures / calls >= this.settings.failureRate
    )
      this.#open();
  }

  /** Stops the cool-down timer; the breaker changes no more. */
  stop(): void {
    this.#stopped = true;
    this.#cooldown?.cancel();
    this.#cooldown = null;
  }

  #evict(now: number): void {
    const oldest = now - this.settings.windowMs;
    while (this.#head < this.#times.length && this.#times[this.#head]! <= oldest)
      this.#dropOldest();
    if (this.#head > 1024 && this.#head * 2 > this.#times.length) {
      this.#times = this.#times.slice(this.#head);
      this.#failed = this.#failed.slice(this.#head);
      this.#head = 0;
    }
  }

  #dropOldest(): void {
    if (this.#failed[this.#head]) this.#failures--;
    this.#head++;
  }

  #open(): void {
    this.#times = [];
    this.#failed = [];
    this.#head = 0;
    this.#failures = 0;
    this.openedAtMs = this.#clock.now();
    this.opened++;
    this.#change('open');
    this.#cooldown?.cancel();
    this.#cooldown = this.#clock.setTimer(
      this.settings.cooldownMs,
      () => {
        this.#cooldown = null;
        if (this.#stopped || this.#state !== 'open') return;
        this.#trialSuccesses = 0;
        this.#change('half-open');
      },
      { unref: true },
    );
  }

  #change(state: CircuitBreakerState): void {
    this.#state = state;
    this.#onChange(state);
  }
}
