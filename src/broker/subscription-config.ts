/**
 * A subscription's options, validated once: the subscription-level configuration (shared by
 * every consumer of a durable subscription, stored in subscription.json), the consumer-level
 * `maxInFlight`, and the start position (used only when the subscription is created).
 * `conflictingField` names the first option a consumer gave that differs from the stored
 * configuration (SUBSCRIPTION_EXISTS); options it did not give are taken as stored.
 */
import {
  SUBSCRIPTION_CREATE_OPTION_NAMES,
  checkCircuitBreaker,
  type Backoff,
  type CircuitBreakerSettings,
  type GroupBy,
  type RateLimit,
  type StartPosition,
  type SubscribeOptions,
  type SubscriptionConfig,
} from '../protocol/index.js';
import {
  BACKOFF_DELAYS_MAX,
  BACKOFF_INITIAL_MS_DEFAULT,
  BACKOFF_MAX_MS_DEFAULT,
  BACKOFF_MULTIPLIER_DEFAULT,
  BACKOFF_MULTIPLIER_MAX,
  DELAY_MS_MAX,
  FILTER_PATTERNS_MAX,
  HEADER_NAME_BYTES_MAX,
  IN_FLIGHT_DEFAULT,
  IN_FLIGHT_MAX,
  LEASE_MS_DEFAULT,
  LEASE_MS_MAX,
  LEASE_MS_MIN,
  MAX_DELIVERIES_MAX,
  PARTITIONS_MAX,
  RATE_LIMIT_BURST_MAX,
  RATE_LIMIT_BURST_MS_DEFAULT,
  RATE_LIMIT_INTERVAL_MS_MAX,
  RATE_LIMIT_PER_SECOND_MAX,
} from '../limits.js';
import { validateHeaderFilter } from './header-filter.js';
import { validatePattern, validateSubject } from './subject.js';
import {
  booleanOption,
  deepFreeze,
  integerIn,
  invalid,
  numberIn,
  oneOf,
  optionsObject,
  stringOf,
  validateName,
} from './option-checks.js';

const SUBSCRIBE_OPTIONS = [
  'subscription',
  ...SUBSCRIPTION_CREATE_OPTION_NAMES,
  'maxInFlight',
  'circuitBreaker',
] as const satisfies readonly (keyof SubscribeOptions)[];

/** The fields of SubscriptionConfig, compared one by one. */
const CONFIG_FIELDS = [
  'filter',
  'headerFilter',
  'mode',
  'ack',
  'leaseMs',
  'maxDeliveries',
  'deadLetter',
  'deadLetterExpired',
  'deadLetterOverflow',
  'backoff',
  'maxInFlightTotal',
  'fairBy',
  'rateLimit',
] as const satisfies readonly (keyof SubscriptionConfig)[];

export const DEFAULT_BACKOFF: Backoff = Object.freeze({
  initialMs: BACKOFF_INITIAL_MS_DEFAULT,
  maxMs: BACKOFF_MAX_MS_DEFAULT,
  multiplier: BACKOFF_MULTIPLIER_DEFAULT,
  jitter: 0,
});

export interface ResolvedSubscribe {
  /** null: ephemeral. */
  readonly name: string | null;
  readonly config: SubscriptionConfig;
  /** Which options the caller gave (the rest are defaults or taken from the stored config). */
  readonly given: ReadonlySet<keyof SubscriptionConfig>;
  readonly start: StartPosition;
  readonly maxInFlight: number;
  /** The consumer's circuit breaker, or null for none. */
  readonly circuitBreaker: CircuitBreakerSettings | null;
}

export function validateStart(value: unknown, field: string): StartPosition {
  if (value === 'earliest' || value === 'latest') return value;
  if (typeof value === 'object' && value !== null && !Array.isArray(value)) {
    const position = value as Record<string, unknown>;
    if ('timeMs' in position) {
      optionsObject(position, field, ['timeMs']);
      return { timeMs: integerIn(position.timeMs, `${field}.timeMs`, 0, Number.MAX_SAFE_INTEGER) };
    }
    if ('offset' in position) {
      optionsObject(position, field, ['offset', 'partition']);
      const offset = integerIn(position.offset, `${field}.offset`, 0, Number.MAX_SAFE_INTEGER);
      if (position.partition === undefined) return { offset };
      return {
        offset,
        partition: integerIn(position.partition, `${field}.partition`, 0, PARTITIONS_MAX - 1),
      };
    }
  }
  throw invalid(field, "must be 'earliest', 'latest', { offset, partition? } or { timeMs }");
}

function validateBackoff(value: unknown): Backoff {
  if (Array.isArray(value)) {
    if (value.length === 0 || value.length > BACKOFF_DELAYS_MAX) {
      throw invalid('backoff', `as a list must hold 1..${BACKOFF_DELAYS_MAX} delays`);
    }
    return value.map((delay: unknown, index) =>
      integerIn(delay, `backoff[${index}]`, 0, DELAY_MS_MAX),
    );
  }
  const input = optionsObject(value, 'backoff', ['initialMs', 'maxMs', 'multiplier', 'jitter']);
  const initialMs = integerIn(
    input.initialMs ?? BACKOFF_INITIAL_MS_DEFAULT,
    'backoff.initialMs',
    0,
    DELAY_MS_MAX,
  );
  const maxMs = integerIn(
    input.maxMs ?? Math.max(initialMs, BACKOFF_MAX_MS_DEFAULT),
    'backoff.maxMs',
    initialMs,
    DELAY_MS_MAX,
  );
  return {
    initialMs,
    maxMs,
    multiplier: numberIn(
      input.multiplier ?? BACKOFF_MULTIPLIER_DEFAULT,
      'backoff.multiplier',
      1,
      BACKOFF_MULTIPLIER_MAX,
    ),
    jitter: numberIn(input.jitter ?? 0, 'backoff.jitter', 0, 1),
  };
}

function validateFilter(value: unknown): string[] {
  const patterns = typeof value === 'string' ? [value] : value;
  if (!Array.isArray(patterns) || patterns.length > FILTER_PATTERNS_MAX) {
    throw invalid(
      'filter',
      `must be a pattern or a list of at most ${FILTER_PATTERNS_MAX} patterns`,
    );
  }
  return patterns.map((pattern: unknown, index) =>
    validatePattern(pattern, typeof value === 'string' ? 'filter' : `filter[${index}]`),
  );
}

/** `'key'` or `{ header: name }` (a user header: not one of the reserved ':' names). */
function validateGroupBy(value: unknown, field: string): GroupBy {
  if (value === 'key') return 'key';
  if (typeof value === 'object' && value !== null && !Array.isArray(value)) {
    const input = optionsObject(value, field, ['header']);
    const header = stringOf(input.header, `${field}.header`, HEADER_NAME_BYTES_MAX);
    if (header.startsWith(':')) throw invalid(`${field}.header`, "may not start with ':'");
    return { header };
  }
  throw invalid(field, "must be 'key' or { header: name }");
}

function validateRateLimit(value: unknown): RateLimit {
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw invalid('rateLimit', 'must be an object { perSecond, by?, burst? }');
  const input = optionsObject(value, 'rateLimit', ['perSecond', 'by', 'burst']);
  if (input.perSecond === undefined) throw invalid('rateLimit.perSecond', 'is required');
  const perSecond = numberIn(
    input.perSecond,
    'rateLimit.perSecond',
    1000 / RATE_LIMIT_INTERVAL_MS_MAX,
    RATE_LIMIT_PER_SECOND_MAX,
  );
  const by =
    input.by === undefined || input.by === null ? null : validateGroupBy(input.by, 'rateLimit.by');
  const burst =
    input.burst === undefined
      ? Math.max(1, Math.floor((perSecond * RATE_LIMIT_BURST_MS_DEFAULT) / 1000))
      : integerIn(input.burst, 'rateLimit.burst', 1, RATE_LIMIT_BURST_MAX);
  return { perSecond, by, burst };
}

/**
 * Validates subscribe options; throws INVALID_ARGUMENT naming the field. `stored`: a
 * configuration read back from disk (see parseStoredSubscriptionConfig).
 */
export function resolveSubscribe(options: unknown, stored = false): ResolvedSubscribe {
  const input = optionsObject(options, 'subscribe options', SUBSCRIBE_OPTIONS);
  const name =
    input.subscription === undefined ? null : validateName(input.subscription, 'subscription');
  const given = new Set<keyof SubscriptionConfig>();
  for (const field of CONFIG_FIELDS) if (input[field] !== undefined) given.add(field);
  const config: SubscriptionConfig = {
    filter: input.filter === undefined ? [] : validateFilter(input.filter),
    headerFilter:
      input.headerFilter === undefined
        ? {}
        : validateHeaderFilter(input.headerFilter, 'headerFilter', stored ? 'stored' : 'given'),
    mode:
      input.mode === undefined
        ? 'shared'
        : oneOf(input.mode, 'mode', ['shared', 'key-shared', 'failover', 'exclusive']),
    ack: input.ack === undefined ? 'explicit' : oneOf(input.ack, 'ack', ['explicit', 'none']),
    leaseMs:
      input.leaseMs === undefined
        ? LEASE_MS_DEFAULT
        : integerIn(input.leaseMs, 'leaseMs', LEASE_MS_MIN, LEASE_MS_MAX),
    maxDeliveries:
      input.maxDeliveries === undefined
        ? null
        : integerIn(input.maxDeliveries, 'maxDeliveries', 1, MAX_DELIVERIES_MAX),
    deadLetter:
      input.deadLetter === undefined ? null : validateSubject(input.deadLetter, 'deadLetter'),
    deadLetterExpired:
      input.deadLetterExpired === undefined
        ? false
        : booleanOption(input.deadLetterExpired, 'deadLetterExpired'),
    deadLetterOverflow:
      input.deadLetterOverflow === undefined
        ? false
        : booleanOption(input.deadLetterOverflow, 'deadLetterOverflow'),
    backoff: input.backoff === undefined ? DEFAULT_BACKOFF : validateBackoff(input.backoff),
    maxInFlightTotal:
      input.maxInFlightTotal === undefined
        ? null
        : integerIn(input.maxInFlightTotal, 'maxInFlightTotal', 1, Number.MAX_SAFE_INTEGER),
    fairBy: input.fairBy === undefined ? null : validateGroupBy(input.fairBy, 'fairBy'),
    rateLimit: input.rateLimit === undefined ? null : validateRateLimit(input.rateLimit),
  };
  // key-shared keeps each key's order; groups by a header would mix keys across groups.
  if (config.mode === 'key-shared' && config.fairBy !== null && config.fairBy !== 'key') {
    throw invalid(
      'fairBy',
      "with mode 'key-shared' must be 'key' (a header would break key order)",
    );
  }
  const start =
    input.start === undefined
      ? name === null
        ? 'latest'
        : 'earliest'
      : validateStart(input.start, 'start');
  const maxInFlight =
    input.maxInFlight === undefined
      ? IN_FLIGHT_DEFAULT
      : integerIn(input.maxInFlight, 'maxInFlight', 1, IN_FLIGHT_MAX);
  const circuitBreaker =
    input.circuitBreaker === undefined ? null : checkCircuitBreaker(input.circuitBreaker);
  return {
    name,
    config: deepFreeze(config),
    given,
    start: deepFreeze(start),
    maxInFlight,
    circuitBreaker,
  };
}

/**
 * Re-validates a configuration read back from subscription.json. A header filter written
 * before its string bound existed may exceed it: it is taken, so that the broker still opens.
 */
export function parseStoredSubscriptionConfig(value: unknown): SubscriptionConfig {
  const stored = { ...(value as Record<string, unknown>) };
  for (const field of [
    'maxDeliveries',
    'deadLetter',
    'maxInFlightTotal',
    'fairBy',
    'rateLimit',
  ] as const) {
    if (stored[field] === null) delete stored[field];
  }
  return resolveSubscribe(stored, true).config;
}

/** The first given option whose value differs from `stored`, or null when they agree. */
export function conflictingField(
  stored: SubscriptionConfig,
  requested: ResolvedSubscribe,
): keyof SubscriptionConfig | null {
  for (const field of CONFIG_FIELDS) {
    if (!requested.given.has(field)) continue;
    if (JSON.stringify(stored[field]) !== JSON.stringify(requested.config[field])) return field;
  }
  return null;
}
