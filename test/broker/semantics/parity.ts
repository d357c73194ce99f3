/**
 * Transport parity: what differed between the embedded client and the network SDK, each case
 * checked on both (test/broker/embedded.parity.test.ts, test/server/tcp.parity.test.ts).
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { REQUEST_TIMEOUT_MS_MAX } from '../../../src/limits.js';
import {
  isWeirError,
  type Client,
  type NackOptions,
  type PublishInput,
  type PublishOptions,
  type ReceiveOptions,
  type RequestOptions,
  type StartPosition,
  type StreamOptions,
  type SubscribeOptions,
} from '../../../src/protocol/index.js';
import {
  eventually,
  expectNothing,
  publishMany,
  receiveN,
  rejectsWith,
  sleep,
  WAIT_MS,
  withBroker,
  type HarnessFactory,
} from './harness.js';

export function paritySuite(factory: HarnessFactory): void {
  describe('transport parity', () => {
    test("nack, term and extend of an ack: 'none' delivery are MESSAGE_SETTLED; ack is a no-op", () =>
      withBroker(factory, async ({ client }) => {
        await client.streams.create('metrics', { subjects: ['metrics'], fsync: 'never' });
        const subscription = await client.subscribe('metrics', {
          subscription: 'm',
          ack: 'none',
        });
        await client.publish('metrics', 'v');
        const message = await subscription.receive({ timeoutMs: WAIT_MS });
        assert.ok(message);
        await rejectsWith(message.nack(), 'MESSAGE_SETTLED');
        await rejectsWith(message.term('no'), 'MESSAGE_SETTLED');
        await rejectsWith(message.extend(1000), 'MESSAGE_SETTLED');
        await message.ack();
        await subscription.close();
      }));

    test('timeoutMs is not a publish option: INVALID_ARGUMENT, nothing stored', () =>
      withBroker(factory, async ({ client }) => {
        await client.streams.create('events', { subjects: ['events.>'], fsync: 'never' });
        const options = { timeoutMs: 1000 } as unknown as PublishOptions;
        await rejectsWith(client.publish('events.a', 'x', options), 'INVALID_ARGUMENT');
        assert.equal((await client.streams.info('events')).messages, 0);
      }));

    test('publishBatch resolves with each entry’s receipt or error, in order', () =>
      withBroker(factory, async ({ client }) => {
        await client.streams.create('events', { subjects: ['events.>'], fsync: 'never' });
        const outcomes = await client.publishBatch([
          { subject: 'events.a', body: 'one' },
          { subject: 'nowhere', body: 'lost' },
          { subject: 'events.b', body: 'two', options: { key: 'k' } },
          { subject: 'events.c', body: 'three', options: { confirm: false } },
        ]);
        assert.equal(outcomes.length, 4);
        const [first, refused, second, unconfirmed] = outcomes;
        assert.ok(first && !isWeirError(first));
        assert.equal(first.stream, 'events');
        assert.ok(isWeirError(refused));
        assert.equal(refused.code, 'NO_ROUTE');
        assert.ok(second && !isWeirError(second));
        assert.equal(second.stream, 'events');
        assert.ok(second.offset > first.offset || second.partition !== first.partition);
        assert.ok(unconfirmed && !isWeirError(unconfirmed));
        assert.equal(unconfirmed.stream, '');
        assert.deepEqual(await client.publishBatch([]), []);
      }));

    test("closing an ack: 'none' consumer hands back what the application never took", () =>
      withBroker(factory, async ({ client, connect }) => {
        await client.streams.create('metrics', { subjects: ['metrics'], fsync: 'never' });
        const leaving = await client.subscribe('metrics', {
          subscription: 'm',
          ack: 'none',
          maxInFlight: 10,
        });
        await publishMany(client, 'metrics', 5);
        const [taken] = await receiveN(leaving, 1);
        assert.equal(taken!.text(), 'm0');
        // The other four wait in the consumer's buffer (embedded) or the SDK's (TCP), unsettled.
        await eventually(
          async () => (await client.subscriptions.info('metrics', 'm')).inFlight === 4,
          undefined,
          'four buffered, unsettled',
        );
        await leaving.close();
        const other = await connect();
        const staying = await other.subscribe('metrics', { subscription: 'm', ack: 'none' });
        const rest = await receiveN(staying, 4);
        assert.deepEqual(
          rest.map((message) => message.text()),
          ['m1', 'm2', 'm3', 'm4'],
        );
        for (const message of rest) assert.equal(message.deliveryCount, 1, message.text());
        await expectNothing(staying);
        const info = await client.subscriptions.info('metrics', 'm');
        assert.equal(info.acked, 5);
        assert.equal(info.inFlight, 0);
        assert.equal(info.redelivered, 0);
      }));

    test("client.close() right after receive: an ack: 'none' message taken is not delivered again", () =>
      withBroker(factory, async ({ client, connect }) => {
        await client.streams.create('metrics', { subjects: ['metrics'], fsync: 'never' });
        const closing = await connect();
        const leaving = await closing.subscribe('metrics', {
          subscription: 'm',
          ack: 'none',
          maxInFlight: 10,
        });
        await publishMany(client, 'metrics', 3);
        await eventually(
          async () => (await client.subscriptions.info('metrics', 'm')).inFlight === 3,
          undefined,
          'three buffered',
        );
        const [taken] = await receiveN(leaving, 1);
        assert.equal(taken!.text(), 'm0');
        await closing.close(); // no tick between: over TCP the take is still queued in the SDK
        const staying = await client.subscribe('metrics', { subscription: 'm', ack: 'none' });
        const rest = await receiveN(staying, 2);
        assert.deepEqual(
          rest.map((message) => message.text()),
          ['m1', 'm2'],
        );
        await expectNothing(staying);
      }));

    test('client.close() right after receive and ack: the ack is recorded, the taken one counts', () =>
      withBroker(factory, async ({ client, clock, connect }) => {
        await client.streams.create('tasks', { subjects: ['tasks'] });
        const closing = await connect();
        const leaving = await closing.subscribe('tasks', {
          subscription: 'w',
          maxInFlight: 10,
          backoff: [1000],
        });
        await publishMany(client, 'tasks', 3);
        const [acked, kept] = await receiveN(leaving, 2);
        assert.equal(acked!.text(), 'm0');
        assert.equal(kept!.text(), 'm1');
        const ack = acked!.ack(); // not awaited: still queued in the SDK over TCP
        await closing.close();
        await ack;
        const staying = await client.subscribe('tasks', { subscription: 'w' });
        // The one never taken comes back at once, uncounted.
        const [untaken] = await receiveN(staying, 1);
        assert.equal(untaken!.text(), 'm2');
        assert.equal(untaken!.deliveryCount, 1);
        await untaken!.ack();
        await expectNothing(staying);
        // The one taken and not settled failed as a nack would: back after the backoff.
        clock.advance(1000);
        const [again] = await receiveN(staying, 1);
        assert.equal(again!.text(), 'm1');
        assert.equal(again!.deliveryCount, 2);
        await again!.ack();
        await expectNothing(staying);
      }));

    test('request timeoutMs must be an integer in 1..max: INVALID_ARGUMENT on both, nothing sent', () =>
      withBroker(factory, async ({ client, clock }) => {
        await client.streams.create('rpc', { subjects: ['rpc.>'], fsync: 'never' });
        const responder = await client.subscribe('rpc', { subscription: 'r' });
        for (const timeoutMs of [0.5, 1.5, Number.NaN, -1, 0, '100', REQUEST_TIMEOUT_MS_MAX + 1]) {
          const options = { timeoutMs } as unknown as RequestOptions;
          let outcome: string | null = null;
          void client.request('rpc.ask', 'q', options).then(
            () => (outcome = 'replied'),
            (error: { code?: string }) => (outcome = error.code ?? 'no code'),
          );
          // A request let through would wait for the broker's clock: move it, so that one ends
          // with TIMEOUT instead of hanging the test.
          const deadline = Date.now() + WAIT_MS;
          while (outcome === null && Date.now() < deadline) {
            clock.advance(1000);
            await sleep(10);
          }
          assert.equal(outcome, 'INVALID_ARGUMENT', `timeoutMs ${String(timeoutMs)}`);
        }
        assert.equal((await client.streams.info('rpc')).messages, 0);
        await expectNothing(responder);
      }));

    test('receive timeoutMs must be an integer in 0..max: a rejection on both, even with a message waiting', () =>
      withBroker(factory, async ({ client }) => {
        await client.streams.create('tasks', { subjects: ['tasks'], fsync: 'never' });
        const subscription = await client.subscribe('tasks', { subscription: 'w' });
        await client.publish('tasks', 'waiting');
        const [first] = await receiveN(subscription, 1);
        await first!.nack({ delayMs: 0 });
        await eventually(
          async () => (await client.subscriptions.info('tasks', 'w')).inFlight === 1,
          undefined,
          'redelivered to the buffer',
        );
        for (const timeoutMs of [1.5, -1, Number.NaN, Infinity, '5', REQUEST_TIMEOUT_MS_MAX + 1]) {
          const options = { timeoutMs } as unknown as ReceiveOptions;
          let outcome: Promise<unknown>;
          try {
            outcome = subscription.receive(options);
          } catch (error) {
            assert.fail(`receive threw instead of rejecting: ${String(error)}`);
          }
          await rejectsWith(outcome, 'INVALID_ARGUMENT', /timeoutMs/);
        }
        const [again] = await receiveN(subscription, 1);
        assert.equal(again!.text(), 'waiting');
        await again!.ack();
      }));

    test('nack delayMs, extend ms and term reason of the wrong kind: INVALID_ARGUMENT, the message stays unsettled', () =>
      withBroker(factory, async ({ client }) => {
        await client.streams.create('tasks', { subjects: ['tasks'], fsync: 'never' });
        const subscription = await client.subscribe('tasks', {
          subscription: 'w',
          backoff: [60_000],
        });
        await client.publish('tasks', 'job');
        const [message] = await receiveN(subscription, 1);
        for (const delayMs of [Number.NaN, '5', null, 1.5, -1]) {
          const options = { delayMs } as unknown as NackOptions;
          await rejectsWith(message!.nack(options), 'INVALID_ARGUMENT', /delayMs/);
        }
        for (const ms of [Number.NaN, '5', null, 0, 1.5]) {
          await rejectsWith(message!.extend(ms as unknown as number), 'INVALID_ARGUMENT', /ms/);
        }
        for (const reason of [5, null, {}]) {
          await rejectsWith(
            message!.term(reason as unknown as string),
            'INVALID_ARGUMENT',
            /reason/,
          );
        }
        // None of them settled it: the ack is the first settlement.
        await message!.ack();
        // Once settled, MESSAGE_SETTLED comes before any look at the argument.
        const notANumber = { delayMs: Number.NaN } as NackOptions;
        await rejectsWith(message!.nack(notANumber), 'MESSAGE_SETTLED');
        await rejectsWith(message!.term(5 as unknown as string), 'MESSAGE_SETTLED');
        await rejectsWith(message!.extend(Number.NaN), 'MESSAGE_SETTLED');
        const info = await client.subscriptions.info('tasks', 'w');
        assert.equal(info.acked, 1);
        assert.equal(info.deadLettered, 0);
        assert.equal(info.redelivered, 0);
      }));

    test('NaN, Infinity and functions in options are INVALID_ARGUMENT on both (JSON would make them "not given")', () =>
      withBroker(factory, async ({ client }) => {
        const streamOptions: unknown[] = [
          { subjects: ['a'], maxAgeMs: Infinity },
          { subjects: ['a'], maxAgeMs: Number.NaN },
          { subjects: ['a'], maxBytes: -Infinity },
          { subjects: ['a'], partitions: () => 2 },
        ];
        for (const options of streamOptions) {
          await rejectsWith(
            client.streams.create('a', options as StreamOptions),
            'INVALID_ARGUMENT',
          );
        }
        assert.deepEqual(await client.streams.list(), []);
        await client.streams.create('tasks', { subjects: ['tasks'], fsync: 'never' });
        const subscribeOptions = {
          subscription: 'w',
          extra: () => 1,
        } as unknown as SubscribeOptions;
        await rejectsWith(client.subscribe('tasks', subscribeOptions), 'INVALID_ARGUMENT');
        const position = { offset: Number.NaN } as StartPosition;
        await client.subscribe('tasks', { subscription: 'x' }).then((created) => created.close());
        await rejectsWith(client.subscriptions.seek('tasks', 'x', position), 'INVALID_ARGUMENT');
        assert.deepEqual(
          (await client.subscriptions.list('tasks')).map((info) => info.name),
          ['x'],
        );
      }));

    test('publish options that are an array, or confirm not a boolean: INVALID_ARGUMENT, nothing stored', () =>
      withBroker(factory, async ({ client }) => {
        await client.streams.create('events', { subjects: ['events.>'], fsync: 'never' });
        const refused = [[], { confirm: 1 }, { confirm: 'yes' }] as unknown as PublishOptions[];
        for (const options of refused) {
          await rejectsWith(client.publish('events.a', 'x', options), 'INVALID_ARGUMENT');
        }
        const outcomes = await client.publishBatch(
          refused.map((options) => ({ subject: 'events.a', body: 'x', options })),
        );
        for (const outcome of outcomes) {
          assert.ok(isWeirError(outcome));
          assert.equal(outcome.code, 'INVALID_ARGUMENT');
        }
        assert.equal((await client.streams.info('events')).messages, 0);
      }));

    test('publishBatch of a non-array rejects; a non-object entry fails only itself', () =>
      withBroker(factory, async ({ client }) => {
        await client.streams.create('events', { subjects: ['events.>'], fsync: 'never' });
        const batch = (entries: unknown): ReturnType<Client['publishBatch']> =>
          client.publishBatch(entries as PublishInput[]);
        await rejectsWith(batch('events.a'), 'INVALID_ARGUMENT');
        await rejectsWith(batch(null), 'INVALID_ARGUMENT');
        const entries = [null, { subject: 'events.a', body: 'ok' }, 5] as unknown as PublishInput[];
        const outcomes = await client.publishBatch(entries);
        assert.equal(outcomes.length, 3);
        assert.ok(isWeirError(outcomes[0]));
        assert.equal(outcomes[0].code, 'INVALID_ARGUMENT');
        assert.ok(!isWeirError(outcomes[1]));
        assert.ok(isWeirError(outcomes[2]));
        assert.equal(outcomes[2].code, 'INVALID_ARGUMENT');
        assert.equal((await client.streams.info('events')).messages, 1);
      }));

    test("names: subscribe('') is STREAM_NOT_FOUND, a subscription name not a string INVALID_ARGUMENT", () =>
      withBroker(factory, async ({ client }) => {
        await client.streams.create('tasks', { subjects: ['tasks'], fsync: 'never' });
        await rejectsWith(client.subscribe(''), 'STREAM_NOT_FOUND');
        await rejectsWith(client.streams.info(''), 'STREAM_NOT_FOUND');
        await rejectsWith(client.subscribe(5 as unknown as string), 'INVALID_ARGUMENT');
        const notAName = 5 as unknown as string;
        await rejectsWith(client.subscriptions.info('tasks', notAName), 'INVALID_ARGUMENT');
        await rejectsWith(client.subscriptions.delete('tasks', notAName), 'INVALID_ARGUMENT');
        await rejectsWith(
          client.subscriptions.seek('tasks', notAName, 'earliest'),
          'INVALID_ARGUMENT',
        );
        await rejectsWith(client.subscriptions.info('tasks', 'none'), 'SUBSCRIPTION_NOT_FOUND');
      }));
  });
}
