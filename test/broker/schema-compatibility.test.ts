/**
 * The backward compatibility check on its own: what it proves and what it refuses. Each
 * accepted change is also checked with ajv on sample bodies the old schema accepts (a sound
 * check never accepts a change that refuses one of them).
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Ajv } from 'ajv';
import { checkBackwardCompatible } from '../../src/broker/schema-compatibility.js';

function refuses(next: unknown, old: unknown, why: RegExp): void {
  assert.throws(
    () => checkBackwardCompatible(next, old),
    (error: unknown) => {
      assert.equal((error as { code?: unknown }).code, 'INVALID_ARGUMENT');
      assert.match((error as Error).message, why);
      return true;
    },
  );
}

/** Accepted, and every sample the old schema takes the new one takes too. */
function accepts(next: object, old: object, samples: unknown[]): void {
  checkBackwardCompatible(next, old);
  const ajv = new Ajv({ strict: false });
  const oldValidate = ajv.compile(old);
  const newValidate = ajv.compile(next);
  let taken = 0;
  for (const sample of samples) {
    if (!oldValidate(sample)) continue;
    taken++;
    assert.ok(newValidate(sample), `old accepted ${JSON.stringify(sample)}, new refuses it`);
  }
  assert.ok(taken > 0, 'at least one sample is accepted by the old schema');
}

describe('schema compatibility (backward)', () => {
  test('widening changes are accepted', () => {
    accepts({ type: 'number' }, { type: 'integer' }, [1, 2, 'x']);
    accepts({ type: ['string', 'null'] }, { type: 'string' }, ['a', null]);
    accepts({ enum: ['a', 'b', 'c'] }, { enum: ['a', 'b'] }, ['a', 'b', 'z']);
    accepts({ type: 'string' }, { type: 'string', minLength: 3 }, ['abcd', 'ab']);
    accepts({ type: 'object', required: ['id'] }, { type: 'object', required: ['id', 'name'] }, [
      { id: 1, name: 'x' },
      { id: 1 },
    ]);
    accepts(
      {
        type: 'object',
        properties: { id: { type: 'string' }, note: { type: 'string' } },
        additionalProperties: false,
      },
      { type: 'object', properties: { id: { type: 'string' } }, additionalProperties: false },
      [{ id: 'a' }, { id: 'a', note: 5 }, {}],
    );
    accepts(
      { type: 'array', items: { type: 'number' } },
      { type: 'array', items: { type: 'integer' } },
      [[1, 2], [1.5]],
    );
    accepts({}, { type: 'string' }, ['a']);
    accepts({ title: 'anything', type: 'string' }, { type: 'string' }, ['a']);
  });

  test('narrowing changes are refused, naming where and why', () => {
    refuses({ type: 'integer' }, { type: 'number' }, /#\/type: type narrowed: number/);
    refuses({ type: 'string' }, {}, /old schema accepted any value/);
    refuses({ enum: ['a'] }, { enum: ['a', 'b'] }, /enum value "b" was removed/);
    refuses({ enum: ['a'] }, { type: 'string' }, /an enum was added/);
    refuses(
      { type: 'object', required: ['id', 'name'] },
      { type: 'object', required: ['id'] },
      /property name is newly required/,
    );
    refuses(
      { type: 'object', properties: { note: { type: 'string' } } },
      { type: 'object' },
      /#\/properties\/note: the old schema accepted any value/,
    );
    refuses(
      { type: 'object', additionalProperties: false },
      { type: 'object', properties: { id: { type: 'string' } } },
      /additionalProperties \(for id\)/,
    );
    refuses(
      { type: 'array', items: { type: 'integer' } },
      { type: 'array', items: { type: 'number' } },
      /#\/items\/type/,
    );
    refuses({ type: 'string', minLength: 2 }, { type: 'string' }, /keyword minLength/);
    refuses(false, true, /accepts nothing/);
  });

  test('keywords that widen the old schema are not reasoned about', () => {
    refuses(
      { type: 'object', additionalProperties: false },
      { type: 'object', patternProperties: { '^x': {} }, additionalProperties: false },
      /patternProperties/,
    );
    refuses({ type: 'array', items: { type: 'string' } }, { type: 'array', items: [{}] }, /tuple/);
    // An unchanged part is fine whatever it holds.
    accepts(
      { type: 'object', properties: { a: { type: 'string', pattern: '^x' } }, required: [] },
      { type: 'object', properties: { a: { type: 'string', pattern: '^x' } }, required: ['a'] },
      [{ a: 'xy' }, { a: 'y' }],
    );
  });

  test('nesting deeper than the limit is refused, not recursed without end', () => {
    let old: object = { type: 'string' };
    let next: object = { type: 'string' };
    for (let depth = 0; depth < 40; depth++) {
      old = { type: 'object', properties: { a: old } };
      next = { type: 'object', properties: { a: next }, description: 'changed' };
    }
    refuses(next, old, /nested too deeply/);
  });
});
