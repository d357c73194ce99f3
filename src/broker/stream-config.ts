/**
 * A stream's configuration: validated once (INVALID_ARGUMENT naming the field), defaults
 * filled in, frozen. `sameStreamConfig` decides whether a second `create` is a no-op or
 * STREAM_EXISTS. The resolved form is what stream.json holds.
 */
import type { StreamConfig, StreamOptions } from '../protocol/index.js';
import {
  DEDUP_WINDOW_MS_DEFAULT,
  DEDUP_WINDOW_MS_MAX,
  FSYNC_INTERVAL_MS_DEFAULT,
  FSYNC_INTERVAL_MS_MAX,
  MESSAGE_BYTES_DEFAULT,
  MESSAGE_BYTES_MAX,
  PARTITIONS_MAX,
  SEGMENT_BYTES_DEFAULT,
  SEGMENT_BYTES_MAX,
  SEGMENT_BYTES_MIN,
  STREAM_SUBJECTS_MAX,
} from '../limits.js';
import { validatePattern } from './subject.js';
import { deepFreeze, integerIn, invalid, oneOf, optionsObject } from './option-checks.js';

const STREAM_OPTIONS = [
  'subjects',
  'partitions',
  'storage',
  'fsync',
  'fsyncIntervalMs',
  'retention',
  'maxAgeMs',
  'maxBytes',
  'maxMessages',
  'overflow',
  'dedupWindowMs',
  'maxMessageBytes',
  'segmentBytes',
] as const satisfies readonly (keyof StreamOptions)[];

function limitOrNull(value: unknown, field: string): number | null {
  if (value === undefined || value === null) return null;
  return integerIn(value, field, 1, Number.MAX_SAFE_INTEGER);
}

/** Validates `options` for the stream `name`; returns the frozen configuration with defaults. */
/**
 * Validates stream options and fills in defaults. `defaultStorage` is the broker's: a memory
 * broker's streams are memory streams.
 */
export function resolveStreamConfig(
  name: string,
  options: unknown,
  defaultStorage: 'file' | 'memory' = 'file',
): StreamConfig {
  const input = optionsObject(options, 'stream options', STREAM_OPTIONS);
  let subjects: string[];
  if (input.subjects === undefined) {
    subjects = [name];
  } else {
    if (!Array.isArray(input.subjects) || input.subjects.length === 0) {
      throw invalid('subjects', 'must be a non-empty array of subject patterns');
    }
    if (input.subjects.length > STREAM_SUBJECTS_MAX) {
      throw invalid('subjects', `holds more than ${STREAM_SUBJECTS_MAX} patterns`);
    }
    subjects = input.subjects.map((pattern: unknown, index) =>
      validatePattern(pattern, `subjects[${index}]`),
    );
    if (new Set(subjects).size !== subjects.length) throw invalid('subjects', 'repeats a pattern');
  }
  const config: StreamConfig = {
    subjects,
    partitions:
      input.partitions === undefined
        ? 1
        : integerIn(input.partitions, 'partitions', 1, PARTITIONS_MAX),
    storage:
      input.storage === undefined
        ? defaultStorage
        : oneOf(input.storage, 'storage', ['file', 'memory']),
    fsync:
      input.fsync === undefined
        ? 'always'
        : oneOf(input.fsync, 'fsync', ['always', 'interval', 'never']),
    fsyncIntervalMs:
      input.fsyncIntervalMs === undefined
        ? FSYNC_INTERVAL_MS_DEFAULT
        : integerIn(input.fsyncIntervalMs, 'fsyncIntervalMs', 1, FSYNC_INTERVAL_MS_MAX),
    retention:
      input.retention === undefined
        ? 'limits'
        : oneOf(input.retention, 'retention', ['limits', 'work-queue']),
    maxAgeMs: limitOrNull(input.maxAgeMs, 'maxAgeMs'),
    maxBytes: limitOrNull(input.maxBytes, 'maxBytes'),
    maxMessages: limitOrNull(input.maxMessages, 'maxMessages'),
    overflow:
      input.overflow === undefined
        ? 'drop-oldest'
        : oneOf(input.overflow, 'overflow', ['drop-oldest', 'reject-new']),
    dedupWindowMs:
      input.dedupWindowMs === undefined
        ? DEDUP_WINDOW_MS_DEFAULT
        : integerIn(input.dedupWindowMs, 'dedupWindowMs', 0, DEDUP_WINDOW_MS_MAX),
    maxMessageBytes:
      input.maxMessageBytes === undefined
        ? MESSAGE_BYTES_DEFAULT
        : integerIn(input.maxMessageBytes, 'maxMessageBytes', 1, MESSAGE_BYTES_MAX),
    segmentBytes:
      input.segmentBytes === undefined
        ? SEGMENT_BYTES_DEFAULT
        : integerIn(input.segmentBytes, 'segmentBytes', SEGMENT_BYTES_MIN, SEGMENT_BYTES_MAX),
  };
  return deepFreeze(config);
}

/** Re-validates a configuration read back from stream.json (it may be from an older version or edited). */
export function parseStoredStreamConfig(name: string, value: unknown): StreamConfig {
  const stored = { ...(value as Record<string, unknown>) };
  for (const field of ['maxAgeMs', 'maxBytes', 'maxMessages'] as const) {
    if (stored[field] === null) delete stored[field];
  }
  return resolveStreamConfig(name, stored);
}

/** Equal configurations: subjects compared as a set. */
export function sameStreamConfig(a: StreamConfig, b: StreamConfig): boolean {
  const subjectsA = [...a.subjects].sort();
  const subjectsB = [...b.subjects].sort();
  if (subjectsA.join('\n') !== subjectsB.join('\n')) return false;
  for (const field of STREAM_OPTIONS) {
    if (field === 'subjects') continue;
    if (a[field] !== b[field]) return false;
  }
  return true;
}
