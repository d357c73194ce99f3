/**
 * The AMQP method codec: every method of the table round-trips (hand-written arguments, which
 * the compiler checks are complete, and fast-check-generated ones), bits pack into octets,
 * and malformed method payloads fail with the reply code the codec documents.
 * Replay a failure with WEIR_SEED=<seed> (the seed is in the test name and fast-check's report).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  AmqpFrameError,
  FRAME_END,
  FRAME_MIN_SIZE,
  FrameDecoder,
  METHOD_NAMES,
  METHOD_SPECS,
  REPLY_CODES,
  decodeMethod,
  encodeMethodFrame,
  methodHasContent,
  type AmqpMethod,
  type ArgumentKind,
  type FieldTable,
  type MethodArguments,
  type MethodName,
} from '../../src/amqp/codec/index.js';

const SEED = Number(process.env['WEIR_SEED'] ?? Date.now() % 2 ** 31);
const bytes = (...values: number[]): Uint8Array => Uint8Array.from(values);

/** One complete set of arguments per method: a missing field here is a compile error. */
const EXAMPLES: { [N in MethodName]: MethodArguments[N] } = {
  'connection.start': {
    versionMajor: 0,
    versionMinor: 9,
    serverProperties: { product: 'Weir', capabilities: { publisher_confirms: true } },
    mechanisms: 'PLAIN AMQPLAIN',
    locales: 'en_US',
  },
  'connection.start-ok': {
    clientProperties: { product: 'test' },
    mechanism: 'PLAIN',
    response: bytes(0, 0x75, 0, 0x70),
    locale: 'en_US',
  },
  'connection.secure': { challenge: bytes(1, 2, 3) },
  'connection.secure-ok': { response: bytes(4, 5) },
  'connection.tune': { channelMax: 2047, frameMax: 131072, heartbeat: 60 },
  'connection.tune-ok': { channelMax: 2047, frameMax: 131072, heartbeat: 60 },
  'connection.open': { virtualHost: '/', capabilities: '', insist: true },
  'connection.open-ok': { knownHosts: '' },
  'connection.close': { replyCode: 320, replyText: 'CONNECTION_FORCED', classId: 0, methodId: 0 },
  'connection.close-ok': {},
  'connection.blocked': { reason: 'low on memory' },
  'connection.unblocked': {},
  'connection.update-secret': { newSecret: bytes(9, 9), reason: 'rotation' },
  'connection.update-secret-ok': {},
  'channel.open': { outOfBand: '' },
  'channel.open-ok': { channelId: '' },
  'channel.flow': { active: true },
  'channel.flow-ok': { active: false },
  'channel.close': { replyCode: 404, replyText: 'NOT_FOUND', classId: 50, methodId: 10 },
  'channel.close-ok': {},
  'exchange.declare': {
    ticket: 0,
    exchange: 'orders',
    type: 'topic',
    passive: false,
    durable: true,
    autoDelete: false,
    internal: true,
    nowait: false,
    arguments: { 'alternate-exchange': 'unrouted' },
  },
  'exchange.declare-ok': {},
  'exchange.delete': { ticket: 0, exchange: 'orders', ifUnused: true, nowait: false },
  'exchange.delete-ok': {},
  'exchange.bind': {
    ticket: 0,
    destination: 'a',
    source: 'b',
    routingKey: 'k.#',
    nowait: true,
    arguments: {},
  },
  'exchange.bind-ok': {},
  'exchange.unbind': {
    ticket: 0,
    destination: 'a',
    source: 'b',
    routingKey: 'k.*',
    nowait: false,
    arguments: { x: 1 },
  },
  'exchange.unbind-ok': {},
  'queue.declare': {
    ticket: 0,
    queue: 'work',
    passive: false,
    durable: true,
    exclusive: false,
    autoDelete: true,
    nowait: false,
    arguments: { 'x-queue-type': 'quorum', 'x-max-length': 1000 },
  },
  'queue.declare-ok': { queue: 'work', messageCount: 12, consumerCount: 3 },
  'queue.bind': {
    ticket: 0,
    queue: 'work',
    exchange: 'orders',
    routingKey: 'eu',
    nowait: false,
    arguments: {},
  },
  'queue.bind-ok': {},
  'queue.purge': { ticket: 0, queue: 'work', nowait: true },
  'queue.purge-ok': { messageCount: 7 },
  'queue.delete': { ticket: 0, queue: 'work', ifUnused: false, ifEmpty: true, nowait: false },
  'queue.delete-ok': { messageCount: 0 },
  'queue.unbind': { ticket: 0, queue: 'work', exchange: 'orders', routingKey: 'eu', arguments: {} },
  'queue.unbind-ok': {},
  'basic.qos': { prefetchSize: 0, prefetchCount: 100, global: false },
  'basic.qos-ok': {},
  'basic.consume': {
    ticket: 0,
    queue: 'work',
    consumerTag: 'ctag-1',
    noLocal: false,
    noAck: true,
    exclusive: false,
    nowait: false,
    arguments: { 'x-priority': 5 },
  },
  'basic.consume-ok': { consumerTag: 'ctag-1' },
  'basic.cancel': { consumerTag: 'ctag-1', nowait: false },
  'basic.cancel-ok': { consumerTag: 'ctag-1' },
  'basic.publish': {
    ticket: 0,
    exchange: '',
    routingKey: 'work',
    mandatory: true,
    immediate: false,
  },
  'basic.return': { replyCode: 312, replyText: 'NO_ROUTE', exchange: 'x', routingKey: 'k' },
  'basic.deliver': {
    consumerTag: 'ctag-1',
    deliveryTag: Number.MAX_SAFE_INTEGER,
    redelivered: true,
    exchange: '',
    routingKey: 'work',
  },
  'basic.get': { ticket: 0, queue: 'work', noAck: false },
  'basic.get-ok': {
    deliveryTag: 1,
    redelivered: false,
    exchange: '',
    routingKey: 'work',
    messageCount: 4,
  },
  'basic.get-empty': { clusterId: '' },
  'basic.ack': { deliveryTag: 2 ** 40, multiple: true },
  'basic.reject': { deliveryTag: 3, requeue: false },
  'basic.recover-async': { requeue: true },
  'basic.recover': { requeue: false },
  'basic.recover-ok': {},
  'basic.nack': { deliveryTag: 4, multiple: false, requeue: true },
  'confirm.select': { nowait: false },
  'confirm.select-ok': {},
  'tx.select': {},
  'tx.select-ok': {},
  'tx.commit': {},
  'tx.commit-ok': {},
  'tx.rollback': {},
  'tx.rollback-ok': {},
};

function decodeFrames(frame: Uint8Array): AmqpMethod {
  const decoder = new FrameDecoder({ frameMax: FRAME_MIN_SIZE * 32 });
  const frames = decoder.push(frame);
  assert.equal(frames.length, 1);
  const [decoded] = frames;
  assert.ok(decoded?.type === 'method');
  return decoded.method;
}

function isFault(replyCode: number): (error: unknown) => boolean {
  return (error) => {
    assert.ok(error instanceof AmqpFrameError, `expected an AmqpFrameError, got ${String(error)}`);
    assert.equal(error.replyCode, replyCode, error.message);
    return true;
  };
}

test('the table has every RabbitMQ 0-9-1 method, each id pair once, unbind-ok at 40/51', () => {
  assert.equal(METHOD_NAMES.length, 64); // connection 14, channel 6, exchange 8, queue 10, basic 18, confirm 2, tx 6
  const ids = new Set(
    METHOD_NAMES.map((name) => `${METHOD_SPECS[name].classId}/${METHOD_SPECS[name].methodId}`),
  );
  assert.equal(ids.size, METHOD_NAMES.length);
  assert.equal(METHOD_SPECS['exchange.unbind-ok'].methodId, 51);
  assert.deepEqual(METHOD_NAMES.filter(methodHasContent), [
    'basic.publish',
    'basic.return',
    'basic.deliver',
    'basic.get-ok',
  ]);
});

test('every method round-trips with hand-written arguments, through the decoder and decodeMethod', () => {
  for (const name of METHOD_NAMES) {
    const args = EXAMPLES[name];
    const frame = encodeMethodFrame(7, name, args);
    assert.equal(frame[0], 1, name);
    assert.equal(frame.at(-1), FRAME_END, name);
    const method = decodeFrames(frame);
    const spec = METHOD_SPECS[name];
    assert.deepEqual(method, { name, classId: spec.classId, methodId: spec.methodId, args }, name);
    assert.deepEqual(decodeMethod(7, frame.subarray(7, -1)), method, name);
  }
});

const shortString = fc
  .string({ unit: 'binary', maxLength: 80 })
  .filter((value) => Buffer.byteLength(value) <= 255);
const flatTable: fc.Arbitrary<FieldTable> = fc.dictionary(
  shortString,
  fc.oneof(fc.string({ unit: 'binary' }), fc.integer(), fc.boolean(), fc.constant(null)),
  { maxKeys: 5, noNullPrototype: true },
);
const KIND_ARBITRARIES: { readonly [K in ArgumentKind]: fc.Arbitrary<unknown> } = {
  octet: fc.integer({ min: 0, max: 0xff }),
  short: fc.integer({ min: 0, max: 0xffff }),
  long: fc.integer({ min: 0, max: 2 ** 32 - 1 }),
  longlong: fc.maxSafeNat(),
  timestamp: fc.maxSafeNat(),
  shortstr: shortString,
  longstr: fc.string({ unit: 'binary', maxLength: 300 }),
  bytes: fc.uint8Array({ maxLength: 300 }),
  bit: fc.boolean(),
  table: flatTable,
};

function argumentsArbitrary(name: MethodName): fc.Arbitrary<Record<string, unknown>> {
  const fields = METHOD_SPECS[name].fields as readonly (readonly [string, ArgumentKind])[];
  return fc.record(
    Object.fromEntries(fields.map(([field, kind]) => [field, KIND_ARBITRARIES[kind]])),
    {
      noNullPrototype: true,
    },
  );
}

test(`every method round-trips with generated arguments (seed ${SEED})`, () => {
  const method = fc.constantFrom(...METHOD_NAMES).chain((name) =>
    fc.record({
      name: fc.constant(name),
      channel: fc.integer({ min: 0, max: 0xffff }),
      args: argumentsArbitrary(name),
    }),
  );
  fc.assert(
    fc.property(method, ({ name, channel, args }) => {
      const frame = encodeMethodFrame(channel, name, args as never);
      const decoded = decodeMethod(channel, frame.subarray(7, -1));
      assert.equal(decoded.name, name);
      assert.deepEqual(decoded.args, args);
      assert.equal((frame[1]! << 8) | frame[2]!, channel);
      assert.equal(new DataView(frame.buffer, frame.byteOffset).getUint32(3), frame.length - 8);
    }),
    { seed: SEED, numRuns: 1500 },
  );
});

test('queue.declare packs its five bits into one octet, the first bit lowest', () => {
  const frame = encodeMethodFrame(1, 'queue.declare', {
    ticket: 0,
    queue: 'q',
    passive: true,
    durable: false,
    exclusive: true,
    autoDelete: false,
    nowait: true,
    arguments: {},
  });
  // type, channel, size | class 50, method 10, ticket 0, "q", bits, empty table | frame-end
  assert.deepEqual(
    frame,
    bytes(1, 0, 1, 0, 0, 0, 13, 0, 50, 0, 10, 0, 0, 1, 0x71, 0b10101, 0, 0, 0, 0, 0xce),
  );
  const method = decodeMethod(1, frame.subarray(7, -1));
  assert.ok(method.name === 'queue.declare');
  assert.deepEqual(
    [
      method.args.passive,
      method.args.durable,
      method.args.exclusive,
      method.args.autoDelete,
      method.args.nowait,
    ],
    [true, false, true, false, true],
  );
});

test('basic.nack packs multiple and requeue after its delivery tag; a bit after a non-bit starts a new octet', () => {
  const frame = encodeMethodFrame(2, 'basic.nack', {
    deliveryTag: 258,
    multiple: false,
    requeue: true,
  });
  assert.deepEqual(
    frame,
    bytes(1, 0, 2, 0, 0, 0, 13, 0, 60, 0, 120, 0, 0, 0, 0, 0, 0, 1, 2, 0b10, 0xce),
  );
  const deliver = encodeMethodFrame(0, 'basic.deliver', {
    consumerTag: '',
    deliveryTag: 1,
    redelivered: true,
    exchange: '',
    routingKey: '',
  });
  // ids, "", tag 1, bits 0b1, "", "": the bit octet sits between the longlong and the strings.
  assert.deepEqual(
    deliver.subarray(7, -1),
    bytes(0, 60, 0, 60, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 0, 0),
  );
});

test('a method payload cut short anywhere fails with 502 syntax-error, naming its ids once read', () => {
  for (const name of METHOD_NAMES) {
    const payload = encodeMethodFrame(3, name, EXAMPLES[name]).subarray(7, -1);
    for (let cut = 0; cut < payload.length; cut++) {
      assert.throws(
        () => decodeMethod(3, payload.subarray(0, cut)),
        (error) => {
          isFault(REPLY_CODES.syntaxError)(error);
          const fault = error as AmqpFrameError;
          assert.equal(fault.channel, 3);
          if (cut >= 4) assert.equal(fault.classId, METHOD_SPECS[name].classId);
          return true;
        },
        `${name} cut at ${cut}`,
      );
    }
  }
});

test('bytes after the last argument fail with 502 syntax-error', () => {
  const payload = encodeMethodFrame(0, 'basic.ack', { deliveryTag: 1, multiple: false }).subarray(
    7,
    -1,
  );
  const longer = new Uint8Array(payload.length + 1);
  longer.set(payload);
  assert.throws(() => decodeMethod(0, longer), isFault(REPLY_CODES.syntaxError));
});

test('an unknown class or method fails with 540 not-implemented and its ids', () => {
  for (const [classId, methodId] of [
    [30, 10], // access.request: RabbitMQ dropped the access class
    [60, 121],
    [99, 10],
  ] as const) {
    assert.throws(
      () => decodeMethod(5, bytes(0, classId, 0, methodId)),
      (error) => {
        isFault(REPLY_CODES.notImplemented)(error);
        assert.equal((error as AmqpFrameError).classId, classId);
        assert.equal((error as AmqpFrameError).methodId, methodId);
        assert.equal((error as AmqpFrameError).channel, 5);
        return true;
      },
    );
  }
});

test('a delivery tag above 2^53 - 1 fails with 502 syntax-error', () => {
  const payload = bytes(0, 60, 0, 80, 0, 0x20, 0, 0, 0, 0, 0, 0, 0);
  assert.throws(() => decodeMethod(1, payload), isFault(REPLY_CODES.syntaxError));
  const safe = bytes(0, 60, 0, 80, 0, 0x1f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0);
  const method = decodeMethod(1, safe);
  assert.ok(method.name === 'basic.ack');
  assert.equal(method.args.deliveryTag, Number.MAX_SAFE_INTEGER);
});

test('arguments the wire cannot carry are refused when encoding', () => {
  assert.throws(
    () => encodeMethodFrame(1, 'queue.purge', { ticket: 0, queue: 'x'.repeat(256), nowait: false }),
    RangeError,
  );
  assert.throws(
    () => encodeMethodFrame(1, 'basic.ack', { deliveryTag: -1, multiple: false }),
    RangeError,
  );
  assert.throws(
    () => encodeMethodFrame(1, 'basic.ack', { deliveryTag: 2 ** 53, multiple: false }),
    RangeError,
  );
  assert.throws(() => encodeMethodFrame(65536, 'tx.select', {}), RangeError);
  assert.throws(
    () =>
      encodeMethodFrame(1, 'basic.qos', { prefetchSize: 0, prefetchCount: 70000, global: false }),
    RangeError,
  );
  assert.throws(
    () =>
      encodeMethodFrame(1, 'channel.flow', {
        active: 1,
      } as unknown as MethodArguments['channel.flow']),
    TypeError,
  );
  // 255 bytes of UTF-8 fit a shortstr exactly.
  const queue = 'é'.repeat(127) + 'a';
  const method = decodeMethod(
    1,
    encodeMethodFrame(1, 'queue.purge', { ticket: 0, queue, nowait: false }).subarray(7, -1),
  );
  assert.ok(method.name === 'queue.purge');
  assert.equal(method.args.queue, queue);
});
