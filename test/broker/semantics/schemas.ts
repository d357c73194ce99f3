/**
 * Schemas on streams: a stream's JSON Schema refuses bodies that do not match (SCHEMA_MISMATCH
 * naming the path), changes make versions under the backward compatibility rule, consumers see
 * the version a message was checked against, and the versions survive a restart.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { receiveN, rejectsWith, withBroker, type HarnessFactory } from './harness.js';

const ORDER_V1 = {
  type: 'object',
  properties: {
    id: { type: 'string' },
    quantity: { type: 'integer' },
    size: { enum: ['small', 'large'] },
  },
  required: ['id', 'quantity'],
  // Closed: without it a new optional property is not backward (an old body may hold it with any value).
  additionalProperties: false,
};

/** v1 widened: quantity may be any number, a third size, an optional note. */
const ORDER_V2 = {
  type: 'object',
  properties: {
    id: { type: 'string' },
    quantity: { type: 'number' },
    size: { enum: ['small', 'large', 'medium'] },
    note: { type: 'string' },
  },
  required: ['id'],
  additionalProperties: false,
};

export function schemasSuite(factory: HarnessFactory): void {
  describe('schemas', () => {
    test('a matching publish is stored with version 1; a mismatch is refused naming the path', () =>
      withBroker(factory, async ({ client }) => {
        const info = await client.streams.create('orders', {
          subjects: ['orders.>'],
          schema: ORDER_V1,
        });
        assert.equal(info.config.schemaVersion, 1);
        assert.equal(info.config.schemaCompatibility, 'backward');
        assert.deepEqual(info.config.schema, ORDER_V1);
        const subscription = await client.subscribe('orders', { subscription: 'billing' });
        await client.publish('orders.new', { id: 'a1', quantity: 2, size: 'small' });
        await rejectsWith(
          client.publish('orders.new', { id: 'a2', quantity: 'two' }),
          'SCHEMA_MISMATCH',
          /at \/quantity .*integer/,
        );
        await rejectsWith(
          client.publish('orders.new', { id: 'a3', quantity: 1, size: 'huge' }),
          'SCHEMA_MISMATCH',
          /at \/size .*enum/,
        );
        await rejectsWith(
          client.publish('orders.new', { quantity: 1 }),
          'SCHEMA_MISMATCH',
          /at \/ .*required property 'id'/,
        );
        const [message] = await receiveN(subscription, 1);
        assert.deepEqual(message!.json(), { id: 'a1', quantity: 2, size: 'small' });
        assert.equal(message!.headers['weir-schema-version'], '1');
        assert.equal((await client.streams.info('orders')).messages, 1, 'refused ones not stored');
      }));

    test('a body that is not JSON is refused, and a refusal stores in no stream', () =>
      withBroker(factory, async ({ client }) => {
        await client.streams.create('orders', { subjects: ['orders.>'], schema: ORDER_V1 });
        await client.streams.create('audit', { subjects: ['orders.>'] });
        await rejectsWith(
          client.publish('orders.new', '{"id": "a1",'),
          'SCHEMA_MISMATCH',
          /not JSON/,
        );
        await rejectsWith(
          client.publish('orders.new', new Uint8Array([0xff, 0xfe])),
          'SCHEMA_MISMATCH',
          /not JSON/,
        );
        assert.equal((await client.streams.info('audit')).messages, 0);
        // A stream without a schema takes anything and adds no version header.
        const audit = await client.subscribe('audit', { subscription: 'all' });
        await client.publish('orders.new', { id: 'ok', quantity: 1 });
        const [message] = await receiveN(audit, 1);
        assert.equal(message!.headers['weir-schema-version'], undefined);
      }));

    test('a backward-compatible update makes version 2: new messages carry 2, old ones 1', () =>
      withBroker(factory, async ({ client }) => {
        await client.streams.create('orders', { subjects: ['orders.>'], schema: ORDER_V1 });
        const subscription = await client.subscribe('orders', { subscription: 'billing' });
        await client.publish('orders.new', { id: 'old', quantity: 1 });
        const updated = await client.streams.update('orders', { schema: ORDER_V2 });
        assert.equal(updated.config.schemaVersion, 2);
        assert.deepEqual(
          updated.config.schemaVersions.map((entry) => entry.version),
          [1, 2],
        );
        // Only version 2 accepts these.
        await client.publish('orders.new', { id: 'new', quantity: 1.5, note: 'gift' });
        const [first, second] = await receiveN(subscription, 2);
        assert.equal(first!.json<{ id: string }>().id, 'old');
        assert.equal(first!.headers['weir-schema-version'], '1');
        assert.equal(second!.json<{ id: string }>().id, 'new');
        assert.equal(second!.headers['weir-schema-version'], '2');
        // The same schema again is no new version.
        const again = await client.streams.update('orders', { schema: ORDER_V2 });
        assert.equal(again.config.schemaVersion, 2);
      }));

    test('an incompatible update is refused naming why; schemaCompatibility none allows it', () =>
      withBroker(factory, async ({ client }) => {
        await client.streams.create('orders', { subjects: ['orders.>'], schema: ORDER_V1 });
        await rejectsWith(
          client.streams.update('orders', {
            schema: { ...ORDER_V1, required: ['id', 'quantity', 'size'] },
          }),
          'INVALID_ARGUMENT',
          /property size is newly required/,
        );
        await rejectsWith(
          client.streams.update('orders', {
            schema: {
              ...ORDER_V1,
              properties: { ...ORDER_V1.properties, id: { type: 'integer' } },
            },
          }),
          'INVALID_ARGUMENT',
          /properties\/id\/type.*narrowed/,
        );
        await rejectsWith(
          client.streams.update('orders', {
            schema: {
              ...ORDER_V1,
              properties: { ...ORDER_V1.properties, size: { enum: ['small'] } },
            },
          }),
          'INVALID_ARGUMENT',
          /enum value "large" was removed/,
        );
        // An open schema (no additionalProperties: false) allowed any value of a new property.
        await client.streams.create('open', { schema: { type: 'object' } });
        await rejectsWith(
          client.streams.update('open', {
            schema: { type: 'object', properties: { note: { type: 'string' } } },
          }),
          'INVALID_ARGUMENT',
          /properties\/note: the old schema accepted any value/,
        );
        const info = await client.streams.info('orders');
        assert.equal(info.config.schemaVersion, 1, 'a refused update changes nothing');
        const forced = await client.streams.update('orders', {
          schema: { ...ORDER_V1, required: ['id', 'quantity', 'size'] },
          schemaCompatibility: 'none',
        });
        assert.equal(forced.config.schemaVersion, 2);
        await rejectsWith(
          client.publish('orders.new', { id: 'a', quantity: 1 }),
          'SCHEMA_MISMATCH',
          /required property 'size'/,
        );
      }));

    test('an invalid or too large schema is refused at create', () =>
      withBroker(factory, async ({ client }) => {
        await rejectsWith(
          client.streams.create('bad', { schema: { type: 'no-such-type' } }),
          'INVALID_ARGUMENT',
          /schema is not a valid JSON Schema/,
        );
        await rejectsWith(
          client.streams.create('big', {
            schema: { description: 'x'.repeat(70 * 1024) },
          }),
          'INVALID_ARGUMENT',
          /SCHEMA_BYTES_MAX/,
        );
        assert.deepEqual(await client.streams.list(), []);
      }));

    test('the schema versions survive a restart', (context) =>
      withBroker(factory, async ({ client, restart }) => {
        if (!restart) return context.skip('this broker cannot restart');
        await client.streams.create('orders', {
          subjects: ['orders.>'],
          schema: ORDER_V1,
          storage: 'file',
        });
        await client.publish('orders.new', { id: 'old', quantity: 1 });
        await client.streams.update('orders', { schema: ORDER_V2 });
        await client.publish('orders.new', { id: 'new', quantity: 0.5 });
        const reopened = await restart();
        const info = await reopened.streams.info('orders');
        assert.equal(info.config.schemaVersion, 2);
        assert.deepEqual(info.config.schema, ORDER_V2);
        assert.deepEqual(
          info.config.schemaVersions.map((entry) => entry.version),
          [1, 2],
        );
        // Still enforced after the restart, and the next version is 3.
        await rejectsWith(
          reopened.publish('orders.new', { quantity: 1 }),
          'SCHEMA_MISMATCH',
          /required property 'id'/,
        );
        const subscription = await reopened.subscribe('orders', {
          subscription: 'replay',
          start: 'earliest',
        });
        const [first, second] = await receiveN(subscription, 2);
        assert.equal(first!.headers['weir-schema-version'], '1');
        assert.equal(second!.headers['weir-schema-version'], '2');
        const third = await reopened.streams.update('orders', {
          schema: { ...ORDER_V2, properties: { ...ORDER_V2.properties, tag: { type: 'string' } } },
        });
        assert.equal(third.config.schemaVersion, 3);
      }));
  });
}
