/** Subscription modes: shared, key-shared, failover, exclusive. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { Message, Subscription } from '../../../src/protocol/index.js';
import {
  expectNothing,
  receiveN,
  rejectsWith,
  sleep,
  withBroker,
  type HarnessFactory,
} from './harness.js';

/** Drains a consumer into `into`, acking each message, until `stop` says so. */
async function drain(
  subscription: Subscription,
  into: Message[],
  stop: () => boolean,
  delayMs = 0,
): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!stop() && Date.now() < deadline) {
    const message = await subscription.receive({ timeoutMs: 50 });
    if (!message) continue;
    into.push(message);
    if (delayMs > 0) await sleep(delayMs);
    await message.ack();
  }
}

export function modesSuite(factory: HarnessFactory): void {
  describe('subscription modes', () => {
    test('shared: each message goes to exactly one consumer of the group', () =>
      withBroker(factory, async ({ client, connect }) => {
        await client.streams.create('work', { subjects: ['work'], partitions: 2, fsync: 'never' });
        const other = await connect();
        const a = await client.subscribe('work', { subscription: 'workers', maxInFlight: 5 });
        const b = await other.subscribe('work', { subscription: 'workers', maxInFlight: 5 });
        await Promise.all(
          Array.from({ length: 100 }, (_, index) => client.publish('work', `w${index}`)),
        );
        const gotA: Message[] = [];
        const gotB: Message[] = [];
        const done = (): boolean => gotA.length + gotB.length >= 100;
        await Promise.all([drain(a, gotA, done, 1), drain(b, gotB, done, 1)]);
        const bodies = [...gotA, ...gotB].map((message) => message.text()).sort();
        assert.equal(bodies.length, 100);
        assert.equal(new Set(bodies).size, 100, 'no message twice');
        assert.ok(
          gotA.length > 0 && gotB.length > 0,
          `both consumers worked (${gotA.length}/${gotB.length})`,
        );
        await expectNothing(a);
        await expectNothing(b);
      }));

    test('key-shared: one key at a time to one consumer, in order', () =>
      withBroker(factory, async ({ client, connect }) => {
        await client.streams.create('events', { subjects: ['events'], fsync: 'never' });
        const other = await connect();
        const options = { subscription: 'per-key', mode: 'key-shared', maxInFlight: 4 } as const;
        const a = await client.subscribe('events', options);
        const b = await other.subscribe('events', options);
        const publishes = [];
        for (let index = 0; index < 120; index++) {
          publishes.push(client.publish('events', String(index), { key: `key-${index % 8}` }));
        }
        await Promise.all(publishes);
        const gotA: Message[] = [];
        const gotB: Message[] = [];
        const done = (): boolean => gotA.length + gotB.length >= 120;
        await Promise.all([drain(a, gotA, done, 1), drain(b, gotB, done, 1)]);
        for (const got of [gotA, gotB]) {
          const last = new Map<string, number>();
          for (const message of got) {
            const value = Number(message.text());
            assert.ok(value > (last.get(message.key!) ?? -1), `key ${message.key} in order`);
            last.set(message.key!, value);
          }
        }
        const keysA = new Set(gotA.map((message) => message.key));
        const keysB = new Set(gotB.map((message) => message.key));
        for (const key of keysA) assert.ok(!keysB.has(key), `key ${key} went to one consumer`);
        assert.equal(gotA.length + gotB.length, 120);
        assert.ok(keysA.size > 0 && keysB.size > 0, 'keys are spread over both consumers');
      }));

    test('failover: one active consumer; the next takes over with no loss when it leaves', () =>
      withBroker(factory, async ({ client, connect }) => {
        await client.streams.create('ledger', { subjects: ['ledger'], fsync: 'never' });
        const other = await connect();
        // backoff [0]: what a leaving consumer took and did not settle is retried after the
        // backoff, so only a zero delay keeps partition order across the takeover.
        const options = {
          subscription: 'book',
          mode: 'failover',
          maxInFlight: 3,
          backoff: [0],
        } as const;
        const active = await client.subscribe('ledger', options);
        const standby = await other.subscribe('ledger', options);
        for (let index = 0; index < 10; index++) await client.publish('ledger', String(index));
        const first = await receiveN(active, 3);
        assert.deepEqual(
          first.map((message) => message.text()),
          ['0', '1', '2'],
        );
        await expectNothing(standby);
        await first[0]!.ack(); // 1 and 2 stay unacked when the active consumer leaves
        await active.close();
        const got: string[] = [];
        const deadline = Date.now() + 5000;
        while (got.length < 9 && Date.now() < deadline) {
          const message = await standby.receive({ timeoutMs: 100 });
          if (!message) continue;
          got.push(message.text());
          await message.ack();
        }
        assert.deepEqual(got, ['1', '2', '3', '4', '5', '6', '7', '8', '9'], 'no loss, in order');
      }));

    test('exclusive: a second consumer is refused with CONSUMER_EXCLUSIVE', () =>
      withBroker(factory, async ({ client, connect }) => {
        await client.streams.create('single', { subjects: ['single'] });
        const first = await client.subscribe('single', { subscription: 'only', mode: 'exclusive' });
        const other = await connect();
        await rejectsWith(
          other.subscribe('single', { subscription: 'only', mode: 'exclusive' }),
          'CONSUMER_EXCLUSIVE',
        );
        await rejectsWith(
          other.subscribe('single', { subscription: 'only' }),
          'CONSUMER_EXCLUSIVE',
        );
        await first.close();
        const second = await other.subscribe('single', { subscription: 'only' });
        await client.publish('single', 'x');
        assert.equal((await receiveN(second, 1))[0]!.text(), 'x');
      }));

    test('a consumer asking for another mode of an existing subscription gets SUBSCRIPTION_EXISTS', () =>
      withBroker(factory, async ({ client }) => {
        await client.streams.create('s', { subjects: ['s'] });
        await client.subscribe('s', { subscription: 'g', mode: 'shared' });
        await rejectsWith(
          client.subscribe('s', { subscription: 'g', mode: 'failover' }),
          'SUBSCRIPTION_EXISTS',
          /mode/,
        );
      }));
  });
}
