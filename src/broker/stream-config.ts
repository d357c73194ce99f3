/**
 * A stream's configuration: validated once (INVALID_ARGUMENT naming the field), defaults
 * filled in, frozen. `sameStreamConfig` decides whether a second `create` is a no-op or
 * STREAM_EXISTS; `changeStreamConfig` applies the changes `streams.update` may make. The
 * resolved form is what stream.json holds.
 */
import type {
  SchemaVersion,
  StreamChanges,
  StreamConfig,
  StreamOptions,
} from '../protocol/index.js';
import {
  DELAY_MS_MAX,
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
  SCHEMA_VERSIONS_KEPT_MAX,
  STREAM_REPLICAS_DEFAULT_MAX,
  STREAM_REPLICAS_MAX,
  STREAM_SUBJECTS_MAX,
} from '../limits.js';
import { checkBackwardCompatible } from './schema-compatibility.js';
import { resolveSchema, schemaText } from './schema-validator.js';
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
  'ttlMs',
  'schema',
  'schemaCompatibility',
  'replicas',
  'minInSync',
] as const satisfies readonly (keyof StreamOptions)[];

/** What `streams.update` may change: each is read afresh by whatever uses it (stream.ts). */
const CHANGEABLE_OPTIONS = [
  'subjects',
  'maxAgeMs',
  'maxBytes',
  'maxMessages',
  'overflow',
  'dedupWindowMs',
  'maxMessageBytes',
  'ttlMs',
  'schema',
  'schemaCompatibility',
] as const satisfies readonly (keyof StreamChanges & keyof StreamOptions)[];

/** Kept by the broker, not given by the user: the schema versions (see changeStreamConfig). */
const SCHEMA_STATE = ['schemaVersion', 'schemaVersions'] as const;

/** The limits for which null means none (and clears the limit in an update). */
const NULLABLE_OPTIONS = ['maxAgeMs', 'maxBytes', 'maxMessages', 'ttlMs'] as const;

function limitOrNull(value: unknown, field: string, max = Number.MAX_SAFE_INTEGER): number | null {
  if (value === undefined || value === null) return null;
  return integerIn(value, field, 1, max);
}

/**
 * Where a stream is being created, for `replicas` and `minInSync`: the cluster's node count
 * (1 on a single node) bounds replicas and sets the defaults. Null when a stored or updated
 * configuration is read again: its settings were checked at creation (the cluster may have
 * fewer nodes since), and a stream.json from before them reads as 1 / 1.
 */
export interface ReplicationContext {
  /** Nodes in the cluster, >= 1. */
  readonly nodeCount: number;
  /** A cluster (defaults: a majority of min(3, nodeCount)); false: a single node (1 / 1). */
  readonly clustered: boolean;
}

/** replicas and minInSync, validated and defaulted (docs/cluster.md "Streams: replicas and minInSync"). */
function resolveReplication(
  input: Record<string, unknown>,
  storage: 'file' | 'memory',
  context: ReplicationContext | null,
): { replicas: number; minInSync: number } {
  const memory = storage === 'memory';
  let defaultReplicas = 1;
  if (context !== null && context.clustered && !memory) {
    defaultReplicas = Math.min(STREAM_REPLICAS_DEFAULT_MAX, context.nodeCount);
  }
  const replicas =
    input.replicas === undefined
      ? defaultReplicas
      : integerIn(input.replicas, 'replicas', 1, STREAM_REPLICAS_MAX);
  if (context !== null && replicas > 1 && memory) {
    // A memory stream lives in the leader's memory only: no other node holds it.
    throw invalid('replicas', `is ${replicas}, but a memory stream is not replicated (use 1)`);
  }
  if (context !== null && replicas > context.nodeCount) {
    throw invalid(
      'replicas',
      context.clustered
        ? `is ${replicas}, but the cluster has ${context.nodeCount} node${context.nodeCount === 1 ? '' : 's'}`
        : `is ${replicas}, but this broker is a single node (no cluster): use 1`,
    );
  }
  const minInSync =
    input.minInSync === undefined
      ? Math.floor(replicas / 2) + 1
      : integerIn(input.minInSync, 'minInSync', 1, STREAM_REPLICAS_MAX);
  if (minInSync > replicas) {
    throw invalid('minInSync', `is ${minInSync}, more than replicas (${replicas})`);
  }
  return { replicas, minInSync };
}

/**
 * Validates stream options and fills in defaults. `defaultStorage` is the broker's: a memory
 * broker's streams are memory streams. `replication`: see ReplicationContext.
 */
export function resolveStreamConfig(
  name: string,
  options: unknown,
  defaultStorage: 'file' | 'memory' = 'file',
  replication: ReplicationContext | null = null,
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
  const storage =
    input.storage === undefined
      ? defaultStorage
      : oneOf(input.storage, 'storage', ['file', 'memory']);
  const config: StreamConfig = {
    subjects,
    partitions:
      input.partitions === undefined
        ? 1
        : integerIn(input.partitions, 'partitions', 1, PARTITIONS_MAX),
    storage,
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
    ttlMs: limitOrNull(input.ttlMs, 'ttlMs', DELAY_MS_MAX),
    ...firstSchema(resolveSchema(input.schema)),
    schemaCompatibility:
      input.schemaCompatibility === undefined
        ? 'backward'
        : oneOf(input.schemaCompatibility, 'schemaCompatibility', ['backward', 'none']),
    ...resolveReplication(input, storage, replication),
  };
  return deepFreeze(config);
}

/** A new stream's schema is version 1 (0: none). */
function firstSchema(
  schema: StreamConfig['schema'],
): Pick<StreamConfig, 'schema' | 'schemaVersion' | 'schemaVersions'> {
  if (schema === null) return { schema, schemaVersion: 0, schemaVersions: [] };
  return { schema, schemaVersion: 1, schemaVersions: [{ version: 1, schema }] };
}

/** The stored schema versions, checked: positive increasing versions, each schema compiling. */
function storedSchemaVersions(value: unknown): SchemaVersion[] {
  if (!Array.isArray(value)) return [];
  const versions: SchemaVersion[] = [];
  for (const entry of value.slice(-SCHEMA_VERSIONS_KEPT_MAX) as unknown[]) {
    const { version, schema } = (entry ?? {}) as { version?: unknown; schema?: unknown };
    const last = versions.at(-1)?.version ?? 0;
    if (typeof version !== 'number' || !Number.isSafeInteger(version) || version <= last) {
      throw invalid('schemaVersions', 'in stream.json must hold increasing positive versions');
    }
    versions.push({ version, schema: resolveSchema(schema, `schemaVersions[${version}]`) });
  }
  return versions;
}

/** Re-validates a configuration read back from stream.json (it may be from an older version or edited). */
export function parseStoredStreamConfig(name: string, value: unknown): StreamConfig {
  const stored = { ...(value as Record<string, unknown>) };
  for (const field of NULLABLE_OPTIONS) {
    if (stored[field] === null) delete stored[field];
  }
  const versions = storedSchemaVersions(stored.schemaVersions);
  const version = stored.schemaVersion;
  for (const field of SCHEMA_STATE) delete stored[field];
  const config = resolveStreamConfig(name, stored);
  // A stream.json from before schemas has none of it; one from this version names its version.
  if (typeof version !== 'number' || !Number.isSafeInteger(version) || version < 0) return config;
  const current = versions.at(-1);
  if (current !== undefined && current.version !== version) {
    throw invalid(
      'schemaVersion',
      `in stream.json is ${version}, its last kept version ${current.version}`,
    );
  }
  // The current version shares the configuration's schema object (and its compiled validator).
  const shared = versions.map((entry) =>
    entry === current ? { version: entry.version, schema: config.schema } : entry,
  );
  return deepFreeze({ ...config, schemaVersion: version, schemaVersions: shared });
}

/**
 * The configuration `current` becomes with `changes` (streams.update), validated as create
 * validates it. A field that cannot change on a live stream is INVALID_ARGUMENT naming it,
 * even when given its current value: an update says what it changes.
 */
export function changeStreamConfig(
  name: string,
  current: StreamConfig,
  changes: unknown,
): StreamConfig {
  if (changes === undefined || changes === null || typeof changes !== 'object') {
    throw invalid('changes', 'must be an object');
  }
  if (Array.isArray(changes)) throw invalid('changes', 'must be an object');
  const input = changes as Record<string, unknown>;
  const changeable: readonly string[] = CHANGEABLE_OPTIONS;
  const known: readonly string[] = STREAM_OPTIONS;
  for (const field of Object.keys(input)) {
    if (input[field] === undefined || changeable.includes(field)) continue;
    if (known.includes(field)) {
      throw invalid(field, 'cannot be changed on a live stream (it is fixed at creation)');
    }
    throw invalid(`changes.${field}`, `is not an option (changeable: ${changeable.join(', ')})`);
  }
  const merged: Record<string, unknown> = { ...current };
  for (const field of CHANGEABLE_OPTIONS) {
    if (input[field] !== undefined) merged[field] = input[field];
  }
  for (const field of NULLABLE_OPTIONS) {
    if (merged[field] === null) delete merged[field];
  }
  for (const field of SCHEMA_STATE) delete merged[field];
  // An unchanged schema keeps its object, and so its compiled validator (one compile a version).
  if (input.schema === undefined) delete merged.schema;
  const changed = resolveStreamConfig(name, merged, current.storage);
  if (input.schema === undefined || schemaText(changed.schema) === schemaText(current.schema)) {
    return deepFreeze({
      ...changed,
      schema: current.schema,
      schemaVersion: current.schemaVersion,
      schemaVersions: current.schemaVersions,
    });
  }
  // A schema after none has nothing to be compatible with (the stream checked no body).
  if (changed.schemaCompatibility === 'backward' && current.schema !== null) {
    checkBackwardCompatible(changed.schema, current.schema);
  }
  const version = current.schemaVersion + 1;
  return deepFreeze({
    ...changed,
    schemaVersion: version,
    schemaVersions: [...current.schemaVersions, { version, schema: changed.schema }].slice(
      -SCHEMA_VERSIONS_KEPT_MAX,
    ),
  });
}

/** Equal configurations: subjects compared as a set. */
export function sameStreamConfig(a: StreamConfig, b: StreamConfig): boolean {
  const subjectsA = [...a.subjects].sort();
  const subjectsB = [...b.subjects].sort();
  if (subjectsA.join('\n') !== subjectsB.join('\n')) return false;
  for (const field of STREAM_OPTIONS) {
    if (field === 'subjects') continue;
    if (field === 'schema') {
      // The versions are history, not configuration: a create repeating the current schema is a no-op.
      if (schemaText(a.schema) !== schemaText(b.schema)) return false;
      continue;
    }
    if (a[field] !== b[field]) return false;
  }
  return true;
}
