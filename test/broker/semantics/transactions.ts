/**
 * Transactions: `client.transaction(fn)` acks inputs and publishes outputs together or not at
 * all. Commit applies every entry; an abort (fn throws) applies none and leaves the inputs
 * held; an expired lease or a refused publish refuses the whole commit with
 * TRANSACTION_ABORTED naming the entry; consume-transform-produce gives each output once.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { Client, Message, Transaction } from '../../../src/protocol/index.js';
import type { PrincipalHarnessFactory } from './permissions.js';
import {
  advanceUntil,
  expectNothing,
  receiveN,
  rejectsWith,
  withBroker,
  type HarnessFactory,
} from './harness.js';

async function setUp(client: Client, options: { leaseMs?: number } = {}) {
  await client.streams.create('in', { subjects: ['in.>'] });
  await client.streams.create('out', { subjects: ['out.>'], partitions: 2 });
  const input = await client.subscribe('in', {
    subscription: 'worker',
    leaseMs: options.leaseMs ?? 60_000,
    backoff: [0],
  });
  const output = await client.subscribe('out', { subscription: 'reader' });
  return { input, output };
}

async function outCount(client: Client): Promise<number> {
  return (await client.streams.info('out')).messages;
}

export function transactionsSuite(factory: HarnessFactory): void {
  describe('transactions', () => {
    test('a commit publishes every output and acks every input, then resolves with fn’s value', () =>
      withBroker(factory, async ({ client, clock }) => {
        const { input, output } = await setUp(client);
        await client.publish('in.a', 'one');
        await client.publish('in.b', 'two');
        const messages = await receiveN(input, 2);
        const value = await client.transaction(async (tx) => {
          for (const message of messages) {
            tx.publish(`out.${message.text()}`, message.text().toUpperCase(), {
              headers: { from: message.subject },
            });
            tx.ack(message);
          }
          await Promise.resolve();
          tx.publish('out.extra', { n: 3 }, { key: 'k' });
          assert.equal(tx.receipts.length, 0, 'no receipts before the commit');
          return 'done';
        });
        assert.equal(value, 'done');
        const outputs = await receiveN(output, 3);
        assert.deepEqual(outputs.map((message) => message.text()).sort(), [
          'ONE',
          'TWO',
          '{"n":3}',
        ]);
        const one = outputs.find((message) => message.text() === 'ONE')!;
        assert.equal(one.headers.from, 'in.a');
        assert.equal(one.headers[':tx'], undefined, 'the reserved tag is not delivered');
        assert.equal(await outCount(client), 3);
        const info = await client.subscriptions.info('in', 'worker');
        assert.equal(info.acked, 2);
        assert.equal(info.pending, 0);
        assert.equal(info.inFlight, 0);
        // Acked: never delivered again, whatever time passes; a second ack is not an error.
        clock.advance(10 * 60_000);
        await expectNothing(input);
        await messages[0]!.ack();
      }));

    test('tx.receipts lists each publish’s receipt after the commit', () =>
      withBroker(factory, async ({ client }) => {
        await setUp(client);
        let kept: Transaction | null = null;
        await client.transaction(async (tx) => {
          kept = tx;
          tx.publish('out.a', 'a', { key: 'same' });
          tx.publish('out.b', 'b', { key: 'same' });
          await Promise.resolve();
        });
        const receipts = (kept as Transaction | null)!.receipts;
        assert.equal(receipts.length, 2);
        assert.equal(receipts[0]!.stream, 'out');
        assert.equal(receipts[0]!.partition, receipts[1]!.partition, 'one key, one partition');
        assert.equal(receipts[1]!.offset, receipts[0]!.offset + 1);
        assert.equal(receipts[0]!.streams.length, 1);
        assert.equal(receipts[0]!.duplicate, false);
      }));

    test('fn throws: nothing is published, nothing acked, the error is rethrown and the inputs stay held', () =>
      withBroker(factory, async ({ client }) => {
        const { input } = await setUp(client);
        await client.publish('in.a', 'one');
        const [message] = await receiveN(input, 1);
        const failure = new Error('transform failed');
        await assert.rejects(
          client.transaction(async (tx) => {
            tx.publish('out.a', 'ONE');
            tx.ack(message!);
            await Promise.resolve();
            throw failure;
          }),
          (error: unknown) => error === failure,
        );
        assert.equal(await outCount(client), 0);
        const info = await client.subscriptions.info('in', 'worker');
        assert.equal(info.acked, 0);
        assert.equal(info.inFlight, 1, 'still held by its consumer');
        await expectNothing(input, 100);
        // The consumer still holds the delivery: it can settle it itself.
        await message!.nack();
        const [again] = await receiveN(input, 1);
        assert.equal(again!.deliveryCount, 2);
        await again!.ack();
      }));

    test('an expired lease refuses the commit with TRANSACTION_ABORTED and nothing of it happens', () =>
      withBroker(factory, async ({ client, clock }) => {
        const { input } = await setUp(client, { leaseMs: 1_000 });
        await client.publish('in.a', 'one');
        const [message] = await receiveN(input, 1);
        // The lease runs from when the application took the message; move time on until the
        // broker hands it out again.
        let redelivered: Message | null = null;
        await advanceUntil(
          clock,
          1_000,
          async () => (redelivered = await input.receive({ timeoutMs: 20 })) !== null,
          'the redelivery',
        );
        assert.equal(redelivered!.deliveryCount, 2);
        await rejectsWith(
          client.transaction(async (tx) => {
            tx.publish('out.a', 'ONE');
            tx.ack(message!);
            await Promise.resolve();
          }),
          'TRANSACTION_ABORTED',
          /ack 0 \(in\/worker 0\/0\): MESSAGE_SETTLED/,
        );
        assert.equal(await outCount(client), 0, 'no output of the aborted commit');
        // The current delivery commits.
        await client.transaction(async (tx) => {
          tx.publish('out.a', 'ONE');
          tx.ack(redelivered!);
          await Promise.resolve();
        });
        assert.equal(await outCount(client), 1);
        assert.equal((await client.subscriptions.info('in', 'worker')).pending, 0);
      }));

    test('a refused publish refuses the whole commit, naming it and its own code', () =>
      withBroker(factory, async ({ client }) => {
        const { input } = await setUp(client);
        await client.streams.create('small', {
          subjects: ['small.>'],
          maxMessages: 2,
          overflow: 'reject-new',
        });
        await client.publish('in.a', 'one');
        const [message] = await receiveN(input, 1);
        await rejectsWith(
          client.transaction(async (tx) => {
            tx.publish('out.a', 'ONE');
            tx.publish('nowhere.x', 'lost');
            tx.ack(message!);
            await Promise.resolve();
          }),
          'TRANSACTION_ABORTED',
          /publish 1 \(nowhere\.x\): NO_ROUTE/,
        );
        // Three publishes to a stream with room for two: the third is refused, counting the
        // transaction's own earlier ones.
        await rejectsWith(
          client.transaction(async (tx) => {
            tx.publish('small.a', '1');
            tx.publish('small.b', '2');
            tx.publish('small.c', '3');
            tx.ack(message!);
            await Promise.resolve();
          }),
          'TRANSACTION_ABORTED',
          /publish 2 \(small\.c\): STREAM_FULL/,
        );
        assert.equal(await outCount(client), 0);
        assert.equal((await client.streams.info('small')).messages, 0);
        const info = await client.subscriptions.info('in', 'worker');
        assert.equal(info.acked, 0);
        assert.equal(info.inFlight, 1);
        await message!.ack();
      }));

    test('an input settled already, or whose consumer closed, refuses the commit', () =>
      withBroker(factory, async ({ client }) => {
        const { input } = await setUp(client);
        await client.publish('in.a', 'one');
        await client.publish('in.b', 'two');
        const [first, second] = await receiveN(input, 2);
        await first!.ack();
        await rejectsWith(
          client.transaction(async (tx) => {
            tx.publish('out.a', 'ONE');
            tx.ack(second!);
            tx.ack(first!);
            await Promise.resolve();
          }),
          'TRANSACTION_ABORTED',
          /ack 1 \(in(\/worker)? 0\/0\): MESSAGE_SETTLED/,
        );
        await input.close();
        await rejectsWith(
          client.transaction(async (tx) => {
            tx.publish('out.b', 'TWO');
            tx.ack(second!);
            await Promise.resolve();
          }),
          'TRANSACTION_ABORTED',
          /ack 0 .*MESSAGE_SETTLED/,
        );
        assert.equal(await outCount(client), 0);
        // The closed consumer handed it back: a new one gets it again.
        const again = await client.subscribe('in', { subscription: 'worker' });
        const [redelivered] = await receiveN(again, 1);
        assert.equal(redelivered!.text(), 'two');
        await redelivered!.ack();
      }));

    test('a message of another client cannot be acked in a transaction; a non-message is INVALID_ARGUMENT', () =>
      withBroker(factory, async ({ client, connect }) => {
        await setUp(client);
        const other = await connect();
        const theirs = await other.subscribe('in', { subscription: 'worker' });
        await client.publish('in.a', 'one');
        const [message] = await receiveN(theirs, 1);
        await rejectsWith(
          client.transaction(async (tx) => {
            tx.publish('out.a', 'ONE');
            tx.ack(message!);
            await Promise.resolve();
          }),
          'TRANSACTION_ABORTED',
          /ack 0/,
        );
        assert.equal(await outCount(client), 0);
        await rejectsWith(
          client.transaction(async (tx) => {
            tx.ack({ subject: 'in.a' } as unknown as Message);
            await Promise.resolve();
          }),
          'INVALID_ARGUMENT',
        );
        await rejectsWith(
          client.transaction(() => Promise.resolve(), { timeoutMs: 0 }),
          'INVALID_ARGUMENT',
          /timeoutMs/,
        );
        await message!.ack();
      }));

    test('fn running past timeoutMs aborts with TIMEOUT; buffering after the end is CLOSED', () =>
      withBroker(factory, async ({ client }) => {
        await setUp(client);
        let release!: () => void;
        const gate = new Promise<void>((resolve) => (release = resolve));
        let late: unknown = null;
        const committing = client.transaction(
          async (tx) => {
            tx.publish('out.a', 'early');
            await gate;
            try {
              tx.publish('out.b', 'late');
            } catch (error) {
              late = error;
            }
          },
          { timeoutMs: 50 },
        );
        await rejectsWith(committing, 'TIMEOUT', /nothing was committed/);
        release();
        await new Promise((resolve) => setImmediate(resolve));
        assert.equal((late as { code?: string } | null)?.code, 'CLOSED');
        assert.equal(await outCount(client), 0);
      }));

    test('consume-transform-produce over 40 inputs gives each output exactly once', () =>
      withBroker(factory, async ({ client }) => {
        const { input, output } = await setUp(client);
        const count = 40;
        for (let index = 0; index < count; index++) await client.publish('in.n', String(index));
        let committed = 0;
        for (let round = 0; round < count && committed < count; round++) {
          const message = await input.receive({ timeoutMs: 10_000 });
          assert.ok(message, `input ${committed} came`);
          await client.transaction(async (tx) => {
            tx.publish('out.squared', String(Number(message.text()) ** 2));
            tx.ack(message);
            await Promise.resolve();
          });
          committed++;
        }
        assert.equal(committed, count);
        const outputs = await receiveN(output, count);
        const values = outputs.map((message) => Number(message.text())).sort((a, b) => a - b);
        assert.deepEqual(
          values,
          Array.from({ length: count }, (_, index) => index * index),
        );
        await expectNothing(output, 100);
        assert.equal(await outCount(client), count);
        const info = await client.subscriptions.info('in', 'worker');
        assert.equal(info.acked, count);
        assert.equal(info.pending, 0);
      }));
  });
}

/** A transaction's publishes are checked against the committing client's permissions. */
export function transactionPermissionsSuite(factory: PrincipalHarnessFactory): void {
  describe('transactions and permissions', () => {
    test('a publish the user may not make refuses the whole commit, naming NOT_AUTHORIZED', () =>
      withBroker(factory, async ({ client, clientAs }) => {
        await setUp(client);
        const worker = await clientAs({
          user: 'worker',
          admin: false,
          allow: ['subscribe:in', 'publish:out.allowed'],
          deny: [],
        });
        const input = await worker.subscribe('in', { subscription: 'worker' });
        await client.publish('in.a', 'one');
        const [message] = await receiveN(input, 1);
        await rejectsWith(
          worker.transaction(async (tx) => {
            tx.publish('out.allowed', 'ok');
            tx.publish('out.secret', 'no');
            tx.ack(message!);
            await Promise.resolve();
          }),
          'TRANSACTION_ABORTED',
          /publish 1 \(out\.secret\): NOT_AUTHORIZED/,
        );
        assert.equal(await outCount(client), 0);
        await worker.transaction(async (tx) => {
          tx.publish('out.allowed', 'ok');
          tx.ack(message!);
          await Promise.resolve();
        });
        assert.equal(await outCount(client), 1);
        assert.equal((await client.subscriptions.info('in', 'worker')).pending, 0);
      }));
  });
}
