/**
 * The backward compatibility check of a schema change: the new schema must accept every body
 * the old one accepted. Deciding that for all of JSON Schema is hard, so this proves it on a
 * subset and refuses whatever it cannot prove (sound and conservative: a refusal may be a
 * change that was in fact compatible, an acceptance never lets an old body fail).
 *
 * Keywords it reasons about: type, properties, required, enum, additionalProperties, items (a
 * single schema). Annotations (title, description, default, examples, $comment, $schema, $id)
 * change nothing. Any other keyword in the NEW schema is refused unless that part of the
 * schema is unchanged; in the OLD schema a further constraint (minimum, pattern, ...) only
 * narrows what it accepted, so it may be ignored, except keywords that widen what
 * additionalProperties or items allow (patternProperties, a tuple items, ...): a part of the
 * old schema that carries one must stay unchanged.
 */
import { SCHEMA_COMPATIBILITY_DEPTH_MAX } from '../limits.js';
import { WeirError } from '../util/index.js';
import { schemaText } from './schema-validator.js';

const ANNOTATIONS = new Set([
  'title',
  'description',
  'default',
  'examples',
  '$comment',
  '$schema',
  '$id',
  'readOnly',
  'writeOnly',
  'deprecated',
]);
const REASONED = new Set([
  'type',
  'properties',
  'required',
  'enum',
  'additionalProperties',
  'items',
]);
/** Old-schema keywords that let through what the reasoned ones alone would not. */
const WIDENING = new Set([
  'patternProperties',
  'additionalItems',
  'prefixItems',
  'unevaluatedProperties',
  'unevaluatedItems',
  '$ref',
  '$dynamicRef',
  'definitions',
  '$defs',
]);
const ALL_TYPES = ['array', 'boolean', 'integer', 'null', 'number', 'object', 'string'];

type Node = boolean | Record<string, unknown>;

function refuse(where: string, why: string): never {
  throw new WeirError(
    'INVALID_ARGUMENT',
    `schema change is not provably backward compatible at ${where}: ${why} (use schemaCompatibility 'none' to allow it)`,
  );
}

/** The schema as a node: true (accepts all) for an object with only annotations. */
function node(value: unknown): Node {
  if (typeof value === 'boolean') return value;
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return true;
  const record = value as Record<string, unknown>;
  if (Object.keys(record).every((key) => ANNOTATIONS.has(key))) return true;
  return record;
}

function types(schema: Record<string, unknown>): Set<string> {
  const type = schema.type;
  if (type === undefined) return new Set(ALL_TYPES);
  const list = Array.isArray(type) ? (type as string[]) : [type as string];
  const set = new Set(list);
  if (set.has('number')) set.add('integer'); // every integer is a number
  return set;
}

/** What the old schema allows for property `name` of an object it accepts. */
function oldProperty(old: Record<string, unknown>, name: string): Node {
  const properties = old.properties as Record<string, unknown> | undefined;
  if (properties !== undefined && Object.hasOwn(properties, name)) return node(properties[name]);
  return old.additionalProperties === undefined ? true : node(old.additionalProperties);
}

/** Throws INVALID_ARGUMENT unless every value `oldValue` accepts, `newValue` accepts. */
function covers(newValue: unknown, oldValue: unknown, where: string, depth: number): void {
  if (depth > SCHEMA_COMPATIBILITY_DEPTH_MAX)
    refuse(where, 'the schema is nested too deeply to check');
  const next = node(newValue);
  const old = node(oldValue);
  if (next === true || old === false) return;
  if (schemaText(next) === schemaText(old)) return;
  if (next === false) refuse(where, 'the new schema accepts nothing here');
  if (old === true)
    refuse(where, 'the old schema accepted any value here, the new one constrains it');
  for (const key of Object.keys(next)) {
    if (!REASONED.has(key) && !ANNOTATIONS.has(key)) {
      refuse(where, `the keyword ${key} is outside what the checker covers`);
    }
  }
  for (const key of Object.keys(old)) {
    if (WIDENING.has(key))
      refuse(where, `the old schema's ${key} is outside what the checker covers`);
  }
  if (Array.isArray(old.items))
    refuse(where, "the old schema's tuple items are outside what the checker covers");
  if (Array.isArray(next.items)) refuse(where, 'tuple items are outside what the checker covers');

  if (next.type !== undefined) {
    const oldTypes = types(old);
    const newTypes = types(next);
    for (const type of oldTypes) {
      if (!newTypes.has(type))
        refuse(`${where}/type`, `type narrowed: ${type} is no longer accepted`);
    }
  }
  if (next.enum !== undefined) {
    if (!Array.isArray(old.enum)) refuse(`${where}/enum`, 'an enum was added');
    const allowed = new Set((next.enum as unknown[]).map(schemaText));
    for (const value of old.enum as unknown[]) {
      if (!allowed.has(schemaText(value))) {
        refuse(`${where}/enum`, `the enum value ${schemaText(value)} was removed`);
      }
    }
  }
  if (next.required !== undefined) {
    const oldRequired = new Set(Array.isArray(old.required) ? (old.required as string[]) : []);
    for (const name of next.required as string[]) {
      // A property the old schema forbade cannot be in an old object: requiring it refuses it.
      if (!oldRequired.has(name))
        refuse(`${where}/required`, `the property ${name} is newly required`);
    }
  }
  const newProperties = (next.properties ?? {}) as Record<string, unknown>;
  for (const name of Object.keys(newProperties)) {
    covers(newProperties[name], oldProperty(old, name), `${where}/properties/${name}`, depth + 1);
  }
  if (next.additionalProperties !== undefined) {
    const additional = next.additionalProperties;
    const oldProperties = (old.properties ?? {}) as Record<string, unknown>;
    for (const name of Object.keys(oldProperties)) {
      if (Object.hasOwn(newProperties, name)) continue;
      covers(
        additional,
        oldProperties[name],
        `${where}/additionalProperties (for ${name})`,
        depth + 1,
      );
    }
    covers(
      additional,
      old.additionalProperties === undefined ? true : old.additionalProperties,
      `${where}/additionalProperties`,
      depth + 1,
    );
  }
  if (next.items !== undefined) {
    covers(next.items, old.items === undefined ? true : old.items, `${where}/items`, depth + 1);
  }
}

/** Refuses (INVALID_ARGUMENT naming where and why) a new schema that may refuse an old body. */
export function checkBackwardCompatible(newSchema: unknown, oldSchema: unknown): void {
  covers(newSchema, oldSchema, '#', 0);
}
