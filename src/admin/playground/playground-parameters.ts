/**
 * What a person sets on the playground: producer rate, consumer count and speed, failure
 * rate, the stream's capacity and overflow policy, and the subscription's max deliveries and
 * lease. Checked once here (INVALID_ARGUMENT naming the field, every bound a named limit),
 * then frozen.
 *
 * `maxDeliveries` and `leaseMs` make the subscription what it is: they are set when a run
 * starts, and a change while it runs is refused naming the field (stop, then start again).
 * Everything else changes live.
 */
import type { OverflowPolicy } from '../../protocol/index.js';
import {
  PLAYGROUND_CAPACITY_MAX,
  PLAYGROUND_CONSUMERS_MAX,
  PLAYGROUND_DURATION_MS_DEFAULT,
  PLAYGROUND_DURATION_MS_MAX,
  PLAYGROUND_DURATION_MS_MIN,
  PLAYGROUND_LEASE_MS_MAX,
  PLAYGROUND_LEASE_MS_MIN,
  PLAYGROUND_MAX_DELIVERIES_MAX,
  PLAYGROUND_PROCESSING_MS_MAX,
  PLAYGROUND_RATE_MAX,
} from '../../limits.js';
import { invalid } from '../http-io.js';

export interface PlaygroundParameters {
  /** Messages per second the producers publish (0..PLAYGROUND_RATE_MAX). */
  readonly ratePerSecond: number;
  /** Consumers of the shared subscription (0..PLAYGROUND_CONSUMERS_MAX). */
  readonly consumers: number;
  /** Time one consumer spends on one message, one at a time (0..PLAYGROUND_PROCESSING_MS_MAX). */
  readonly processingMs: number;
  /** The share of deliveries a consumer fails (nacks), 0..1. */
  readonly failureRate: number;
  /** The stream's maxMessages (1..PLAYGROUND_CAPACITY_MAX). */
  readonly capacity: number;
  /** What a publish past the capacity does: refused (back-pressure) or the oldest dropped. */
  readonly overflow: OverflowPolicy;
  /** Deliveries before a message is dead-lettered (1..PLAYGROUND_MAX_DELIVERIES_MAX). Fixed per run. */
  readonly maxDeliveries: number;
  /** The subscription's lease (PLAYGROUND_LEASE_MS_MIN..MAX). Fixed per run. */
  readonly leaseMs: number;
  /** The run stops by itself this long after it started (PLAYGROUND_DURATION_MS_MIN..MAX). */
  readonly durationMs: number;
}

export const PARAMETER_NAMES = [
  'ratePerSecond',
  'consumers',
  'processingMs',
  'failureRate',
  'capacity',
  'overflow',
  'maxDeliveries',
  'leaseMs',
  'durationMs',
] as const satisfies readonly (keyof PlaygroundParameters)[];

/** Set when a run starts; refused as a change while it runs. */
export const FIXED_PER_RUN: readonly (keyof PlaygroundParameters)[] = ['maxDeliveries', 'leaseMs'];

export const DEFAULT_PARAMETERS: PlaygroundParameters = Object.freeze({
  ratePerSecond: 20,
  consumers: 2,
  processingMs: 50,
  failureRate: 0,
  capacity: 1_000,
  overflow: 'reject-new',
  maxDeliveries: 5,
  leaseMs: 5_000,
  durationMs: PLAYGROUND_DURATION_MS_DEFAULT,
});

const OVERFLOW_POLICIES: readonly OverflowPolicy[] = ['reject-new', 'drop-oldest'];

function integerIn(value: unknown, field: string, min: number, max: number): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min || value > max) {
    throw invalid(field, `must be an integer from ${min} to ${max}`);
  }
  return value;
}

/**
 * `base` with the fields of `input` that are given (undefined ones keep `base`'s), each
 * checked. An unknown field is refused by the caller (onlyKeys), which knows the other
 * fields of its body.
 */
export function applyParameters(
  base: PlaygroundParameters,
  input: Readonly<Record<string, unknown>>,
): PlaygroundParameters {
  const given = (name: keyof PlaygroundParameters): boolean => input[name] !== undefined;
  let failureRate = base.failureRate;
  if (given('failureRate')) {
    const value = input.failureRate;
    if (typeof value !== 'number' || !Number.isFinite(value) || value < 0 || value > 1) {
      throw invalid('failureRate', 'must be a number from 0 to 1');
    }
    failureRate = value;
  }
  let overflow = base.overflow;
  if (given('overflow')) {
    const value = input.overflow;
    if (typeof value !== 'string' || !OVERFLOW_POLICIES.includes(value as OverflowPolicy)) {
      throw invalid('overflow', `must be one of ${OVERFLOW_POLICIES.join(', ')}`);
    }
    overflow = value as OverflowPolicy;
  }
  const integer = (name: keyof PlaygroundParameters, min: number, max: number): number =>
    given(name) ? integerIn(input[name], name, min, max) : (base[name] as number);
  return Object.freeze({
    ratePerSecond: integer('ratePerSecond', 0, PLAYGROUND_RATE_MAX),
    consumers: integer('consumers', 0, PLAYGROUND_CONSUMERS_MAX),
    processingMs: integer('processingMs', 0, PLAYGROUND_PROCESSING_MS_MAX),
    failureRate,
    capacity: integer('capacity', 1, PLAYGROUND_CAPACITY_MAX),
    overflow,
    maxDeliveries: integer('maxDeliveries', 1, PLAYGROUND_MAX_DELIVERIES_MAX),
    leaseMs: integer('leaseMs', PLAYGROUND_LEASE_MS_MIN, PLAYGROUND_LEASE_MS_MAX),
    durationMs: integer('durationMs', PLAYGROUND_DURATION_MS_MIN, PLAYGROUND_DURATION_MS_MAX),
  });
}
