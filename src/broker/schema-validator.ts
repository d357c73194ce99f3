/**
 * A stream's JSON Schema: taken from the user (a plain JSON copy, at most SCHEMA_BYTES_MAX,
 * that ajv compiles, else INVALID_ARGUMENT), compiled once per schema version, and checked
 * against each publish's body (SCHEMA_MISMATCH naming ajv's instancePath and the rule).
 *
 * Each compile uses its own Ajv instance: one shared instance would keep every schema it ever
 * compiled (unbounded memory) and refuse two versions that carry the same `$id`.
 */
import { Ajv, type ValidateFunction } from 'ajv';
import type { JsonSchema } from '../protocol/index.js';
import { SCHEMA_BYTES_MAX } from '../limits.js';
import { WeirError } from '../util/index.js';
import { invalid } from './option-checks.js';

/** Compiled validators by the (frozen) schema object of a configuration: one compile per version. */
const compiled = new WeakMap<object, ValidateFunction>();

const decoder = new TextDecoder('utf-8', { fatal: true });

function compile(schema: JsonSchema): ValidateFunction {
  let validate = compiled.get(schema);
  if (validate === undefined) {
    // allErrors false: the first failure is enough to refuse, and costs less on large bodies.
    const ajv = new Ajv({ allErrors: false, strict: true });
    validate = ajv.compile(schema);
    compiled.set(schema, validate);
  }
  return validate;
}

/**
 * The `schema` option: null for none, else a JSON copy of it that compiles (its validator is
 * kept for the stream to use).
 */
export function resolveSchema(value: unknown, field = 'schema'): JsonSchema | null {
  if (value === undefined || value === null) return null;
  if (typeof value !== 'object' || Array.isArray(value)) {
    throw invalid(field, 'must be a JSON Schema object or null');
  }
  let text: string;
  try {
    text = JSON.stringify(value);
  } catch (error) {
    throw new WeirError('INVALID_ARGUMENT', `${field} is not JSON-serialisable`, { cause: error });
  }
  if (Buffer.byteLength(text) > SCHEMA_BYTES_MAX) {
    throw invalid(field, `is larger than ${SCHEMA_BYTES_MAX} bytes (SCHEMA_BYTES_MAX)`);
  }
  const schema = JSON.parse(text) as JsonSchema;
  try {
    compile(schema);
  } catch (error) {
    throw new WeirError(
      'INVALID_ARGUMENT',
      `${field} is not a valid JSON Schema: ${error instanceof Error ? error.message : String(error)}`,
      { cause: error },
    );
  }
  return schema;
}

/** Canonical text of a schema (keys sorted), to compare two schemas as values. */
export function schemaText(schema: unknown): string {
  return JSON.stringify(schema, (_key, value: unknown) => {
    if (value === null || typeof value !== 'object' || Array.isArray(value)) return value;
    const sorted: Record<string, unknown> = {};
    for (const key of Object.keys(value).sort())
      sorted[key] = (value as Record<string, unknown>)[key];
    return sorted;
  });
}

/**
 * Refuses a body that is not UTF-8 JSON or does not match `schema` (version `version` of
 * stream `stream`) with SCHEMA_MISMATCH, naming the failing path and rule.
 */
export function checkBody(
  stream: string,
  version: number,
  schema: JsonSchema,
  body: Uint8Array,
): void {
  let value: unknown;
  try {
    value = JSON.parse(decoder.decode(body));
  } catch (error) {
    throw new WeirError(
      'SCHEMA_MISMATCH',
      `stream ${stream} (schema version ${version}): the body is not JSON: ${error instanceof Error ? error.message : String(error)}`,
    );
  }
  const validate = compile(schema);
  if (validate(value)) return;
  const failure = validate.errors?.[0];
  const where = failure?.instancePath || '/';
  const rule = failure
    ? `${failure.message ?? 'fails'} (${failure.keyword} at ${failure.schemaPath})`
    : 'fails';
  throw new WeirError(
    'SCHEMA_MISMATCH',
    `stream ${stream} (schema version ${version}): the body at ${where} ${rule}`,
  );
}
