/**
 * Permissions (issue 13): each permission allows exactly what it names, a deny beats an allow,
 * admin actions are admin only, replies go only to who was asked (NATS' allow_responses), inbox
 * subjects cannot be guessed, and admin actions are audited. Runs embedded and over TCP: the
 * checks live in the broker core's client, which every transport acts through.
 */
import assert from 'node:assert/strict';
import * as diagnosticsChannel from 'node:diagnostics_channel';
import { describe, test } from 'node:test';
import { AUDIT_CHANNEL_NAME, type AuditEvent, type Principal } from '../../../src/broker/index.js';
import type { Client, PublishReceipt } from '../../../src/protocol/index.js';
import { receiveN, rejectsWith, WAIT_MS, type Harness } from './harness.js';

/** A harness whose broker hands out clients acting for a given principal. */
export interface PrincipalHarness extends Harness {
  /** A client acting for `principal` (its audit lines name `remote`). */
  readonly clientAs: (principal: Principal, remote?: string | null) => Promise<Client>;
}

export type PrincipalHarnessFactory = () => Promise<PrincipalHarness>;

async function withPrincipals(
  factory: PrincipalHarnessFactory,
  body: (harness: PrincipalHarness) => Promise<void>,
): Promise<void> {
  const harness = await factory();
  try {
    await body(harness);
  } finally {
    await harness.close();
  }
}

/** A user who is not admin, with these allow (and deny) permissions. */
function user(name: string, allow: string[], deny: string[] = []): Principal {
  return { user: name, admin: false, allow, deny };
}

function codeOf(outcome: PublishReceipt | Error): string | null {
  return outcome instanceof Error ? ((outcome as { code?: string }).code ?? 'no code') : null;
}

const INBOX = /^_INBOX\.[0-9a-f]{32}$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

export function permissionsSuite(factory: PrincipalHarnessFactory): void {
  describe('permissions', () => {
    test('publish:orders.> allows orders.x and orders.eu.x, refuses billing.x (publish, batch, request)', () =>
      withPrincipals(factory, async ({ client, clientAs }) => {
        await client.streams.create('orders', { subjects: ['orders.>'], fsync: 'never' });
        await client.streams.create('billing', { subjects: ['billing.>'], fsync: 'never' });
        const alice = await clientAs(user('alice', ['publish:orders.>']));
        await alice.publish('orders.x', 'one');
        await alice.publish('orders.eu.x', 'two');
        await rejectsWith(
          alice.publish('billing.x', 'no'),
          'NOT_AUTHORIZED',
          /alice may not publish to billing\.x/,
        );
        // In one batch a refused entry fails only itself.
        const outcomes = await alice.publishBatch([
          { subject: 'orders.a', body: 'three' },
          { subject: 'billing.a', body: 'no' },
          { subject: 'orders.b', body: 'four' },
        ]);
        assert.deepEqual(outcomes.map(codeOf), [null, 'NOT_AUTHORIZED', null]);
        await rejectsWith(
          alice.request('billing.quote', 'no', { timeoutMs: WAIT_MS }),
          'NOT_AUTHORIZED',
          /billing\.quote/,
        );
        assert.equal((await client.streams.info('orders')).messages, 4);
        assert.equal((await client.streams.info('billing')).messages, 0);
        // Publishing is all alice may do: consuming is refused.
        await rejectsWith(
          alice.subscribe('orders'),
          'NOT_AUTHORIZED',
          /consume from stream orders/,
        );
      }));

    test('subscribe:orders allows every subscription of orders (and ephemeral ones), not other streams', () =>
      withPrincipals(factory, async ({ client, clientAs }) => {
        await client.streams.create('orders', { subjects: ['orders.>'], fsync: 'never' });
        await client.streams.create('billing', { subjects: ['billing.>'], fsync: 'never' });
        const bob = await clientAs(user('bob', ['subscribe:orders']));
        const workers = await bob.subscribe('orders', { subscription: 'workers' });
        const audit = await bob.subscribe('orders', { subscription: 'audit' });
        const ephemeral = await bob.subscribe('orders');
        await client.publish('orders.x', 'hello');
        for (const subscription of [workers, audit, ephemeral]) {
          const [message] = await receiveN(subscription, 1);
          assert.equal(message!.text(), 'hello');
          await message!.ack();
        }
        await rejectsWith(
          bob.subscribe('billing', { subscription: 'workers' }),
          'NOT_AUTHORIZED',
          /bob may not consume from billing through subscription workers/,
        );
        await rejectsWith(bob.subscribe('billing'), 'NOT_AUTHORIZED', /stream billing/);
        await rejectsWith(bob.publish('orders.x', 'no'), 'NOT_AUTHORIZED', /orders\.x/);
        assert.equal((await client.subscriptions.info('orders', 'workers')).pending, 0);
      }));

    test('subscribe:orders:workers allows that subscription only (and seeking it)', () =>
      withPrincipals(factory, async ({ client, clientAs }) => {
        await client.streams.create('orders', { subjects: ['orders.>'], fsync: 'never' });
        await (await client.subscribe('orders', { subscription: 'audit' })).close();
        const carol = await clientAs(user('carol', ['subscribe:orders:workers']));
        const workers = await carol.subscribe('orders', { subscription: 'workers' });
        await client.publish('orders.x', 'job');
        const [message] = await receiveN(workers, 1);
        await message!.ack();
        await rejectsWith(
          carol.subscribe('orders', { subscription: 'audit' }),
          'NOT_AUTHORIZED',
          /through subscription audit/,
        );
        await rejectsWith(carol.subscribe('orders'), 'NOT_AUTHORIZED', /stream orders/);
        // Seeking is allowed where consuming is: the acked job comes back.
        await carol.subscriptions.seek('orders', 'workers', 'earliest');
        const [again] = await receiveN(workers, 1);
        assert.equal(again!.text(), 'job');
        await again!.ack();
        await rejectsWith(
          carol.subscriptions.seek('orders', 'audit', 'latest'),
          'NOT_AUTHORIZED',
          /seek subscription audit of stream orders/,
        );
      }));

    test('a deny beats an allow, for publishing and for consuming', () =>
      withPrincipals(factory, async ({ client, clientAs }) => {
        await client.streams.create('orders', { subjects: ['orders.>'], fsync: 'never' });
        await client.streams.create('billing', { subjects: ['billing.>'], fsync: 'never' });
        const dave = await clientAs(
          user(
            'dave',
            ['publish:>', 'subscribe:*'],
            ['publish:orders.secret.>', 'subscribe:billing', 'subscribe:orders:audit'],
          ),
        );
        await dave.publish('orders.open', 'yes');
        await dave.publish('billing.x', 'yes');
        await rejectsWith(dave.publish('orders.secret.x', 'no'), 'NOT_AUTHORIZED', /secret/);
        await (await dave.subscribe('orders', { subscription: 'workers' })).close();
        await (await dave.subscribe('orders')).close();
        await rejectsWith(dave.subscribe('billing'), 'NOT_AUTHORIZED', /billing/);
        await rejectsWith(
          dave.subscribe('billing', { subscription: 'workers' }),
          'NOT_AUTHORIZED',
          /billing/,
        );
        await rejectsWith(
          dave.subscribe('orders', { subscription: 'audit' }),
          'NOT_AUTHORIZED',
          /audit/,
        );
        assert.equal((await client.streams.info('orders')).messages, 1);
      }));

    test('a user who is not admin cannot create, change, purge or delete streams, delete subscriptions, touch dead letters or manage users', () =>
      withPrincipals(factory, async ({ client, clientAs }) => {
        await client.streams.create('orders', { subjects: ['orders.>'], fsync: 'never' });
        await client.streams.create('dead', { subjects: ['dead.>'], fsync: 'never' });
        await (await client.subscribe('orders', { subscription: 'workers' })).close();
        await client.publish('orders.x', 'keep me');
        // Everything a user can be given, and still not admin.
        const eve = await clientAs(user('eve', ['publish:>', 'subscribe:*']));
        const refusals: [string, () => Promise<unknown>][] = [
          ['create stream', () => eve.streams.create('other', { subjects: ['other.>'] })],
          ['update stream', () => eve.streams.update('orders', { maxMessages: 1 })],
          ['purge stream', () => eve.streams.purge('orders')],
          ['delete stream', () => eve.streams.delete('orders')],
          ['delete subscription', () => eve.subscriptions.delete('orders', 'workers')],
          ['list dead letters', () => eve.deadLetters.list('dead.orders')],
          ['redrive dead letters', () => eve.deadLetters.redrive('dead.orders')],
          ['delete dead letters', () => eve.deadLetters.delete('dead.orders')],
          ['list users', () => eve.users.list()],
          ['read users', () => eve.users.info('eve')],
          ['users.add', () => eve.users.add('mallory', { password: 'long enough', admin: true })],
          ['users.update', () => eve.users.update('eve', { admin: true })],
          ['users.delete', () => eve.users.delete('eve')],
          ['users.addToken', () => eve.users.addToken('eve')],
        ];
        for (const [what, refused] of refusals) {
          await rejectsWith(refused(), 'NOT_AUTHORIZED', new RegExp(`eve may not ${what}`));
        }
        // Reading is allowed; nothing changed.
        const orders = await eve.streams.info('orders');
        assert.equal(orders.messages, 1);
        assert.equal(
          orders.config.maxMessages,
          (await client.streams.info('orders')).config.maxMessages,
        );
        assert.deepEqual(
          (await eve.streams.list()).map((stream) => stream.name),
          ['orders', 'dead'],
        );
        assert.deepEqual(
          (await eve.subscriptions.list('orders')).map((subscription) => subscription.name),
          ['workers'],
        );
        assert.equal((await eve.subscriptions.info('orders', 'workers')).pending, 1);
        assert.deepEqual(await eve.users.whoami(), {
          user: 'eve',
          admin: false,
          allow: ['publish:>', 'subscribe:*'],
          deny: [],
        });
        // An admin principal may do all of it.
        const root = await clientAs({ user: 'root', admin: true, allow: [], deny: [] });
        assert.deepEqual(await root.deadLetters.list('dead.orders'), []);
        await root.streams.purge('orders');
        await root.subscriptions.delete('orders', 'workers');
        await root.streams.delete('orders');
        assert.deepEqual(
          (await client.streams.list()).map((stream) => stream.name),
          ['dead'],
        );
      }));

    test('only the client that was delivered a request can reply to it, once', () =>
      withPrincipals(factory, async ({ client, clientAs }) => {
        await client.streams.create('rpc', { subjects: ['rpc.>'], fsync: 'never' });
        const alice = await clientAs(user('alice', ['publish:rpc.>']));
        const bob = await clientAs(user('bob', ['subscribe:rpc']));
        // mallory may publish anywhere, and has somehow learnt the inbox and correlation id.
        const mallory = await clientAs(user('mallory', ['publish:>', 'subscribe:rpc']));
        const requests = await bob.subscribe('rpc', { subscription: 'pricing' });
        const reply = alice.request('rpc.price', 'sku-1', { timeoutMs: WAIT_MS });
        const [request] = await receiveN(requests, 1);
        const replyTo = request!.replyTo!;
        const correlationId = request!.correlationId!;
        assert.match(replyTo, INBOX);
        await rejectsWith(
          mallory.publish(replyTo, 'forged', { correlationId }),
          'NOT_AUTHORIZED',
          /mallory may not publish to _INBOX\./,
        );
        const forgedBatch = await mallory.publishBatch([
          { subject: replyTo, body: 'forged', options: { correlationId } },
        ]);
        assert.deepEqual(forgedBatch.map(codeOf), ['NOT_AUTHORIZED']);
        // bob's grant is for that correlation id only.
        await rejectsWith(
          bob.publish(replyTo, 'wrong id', { correlationId: 'another' }),
          'NOT_AUTHORIZED',
        );
        await bob.publish(replyTo, 'genuine', { correlationId });
        assert.equal((await reply).text(), 'genuine');
        await rejectsWith(
          bob.publish(replyTo, 'again', { correlationId }),
          'NOT_AUTHORIZED',
          /bob may not publish to _INBOX\./,
        );
        await request!.ack();
      }));

    test('msg.respond() of a responder that is not admin works once, and only within its publish rights elsewhere', () =>
      withPrincipals(factory, async ({ client, clientAs }) => {
        await client.streams.create('rpc', { subjects: ['rpc.>'], fsync: 'never' });
        await client.streams.create('audit', { subjects: ['audit.>'], fsync: 'never' });
        const alice = await clientAs(user('alice', ['publish:rpc.>']));
        const bob = await clientAs(user('bob', ['subscribe:rpc']));
        const requests = await bob.subscribe('rpc', { subscription: 'pricing' });
        const reply = alice.request('rpc.price', { sku: 'a' }, { timeoutMs: WAIT_MS });
        const [request] = await receiveN(requests, 1);
        await request!.respond({ price: 10 }, { headers: { currency: 'EUR' } });
        const answer = await reply;
        assert.deepEqual(answer.json(), { price: 10 });
        assert.equal(answer.headers.currency, 'EUR');
        await rejectsWith(request!.respond({ price: 11 }), 'NOT_AUTHORIZED', /_INBOX\./);
        await request!.ack();
        // A message whose replyTo is an ordinary subject: responding is publishing there, which
        // bob may not do (a reply is no way around publish permissions).
        await client.publish('rpc.note', 'reply elsewhere', { replyTo: 'audit.x' });
        const [note] = await receiveN(requests, 1);
        await rejectsWith(
          note!.respond('sneaky'),
          'NOT_AUTHORIZED',
          /bob may not publish to audit\.x/,
        );
        await note!.ack();
        assert.equal((await client.streams.info('audit')).messages, 0);
      }));

    test("a reply grant expires with its request's deadline", () =>
      withPrincipals(factory, async ({ client, clientAs, clock }) => {
        await client.streams.create('rpc', { subjects: ['rpc.>'], fsync: 'never' });
        const alice = await clientAs(user('alice', ['publish:rpc.>']));
        const bob = await clientAs(user('bob', ['subscribe:rpc']));
        const requests = await bob.subscribe('rpc', { subscription: 'pricing' });
        const timeoutMs = 30_000;
        const reply = alice.request('rpc.slow', 'hello?', { timeoutMs });
        const timedOut = rejectsWith(reply, 'TIMEOUT');
        const [request] = await receiveN(requests, 1);
        clock.advance(timeoutMs + 1);
        await timedOut;
        await rejectsWith(
          bob.publish(request!.replyTo!, 'too late', { correlationId: request!.correlationId! }),
          'NOT_AUTHORIZED',
        );
        await request!.ack();
      }));

    test('inbox subjects and correlation ids are random, not derived from the client', () =>
      withPrincipals(factory, async ({ client, clientAs, clock, connect }) => {
        await client.streams.create('rpc', { subjects: ['rpc.>'], fsync: 'never' });
        const alice = await clientAs(user('alice', ['publish:rpc.>']));
        const other = await connect();
        const requests = await client.subscribe('rpc', { subscription: 'pricing' });
        const timeoutMs = 30_000;
        const pending = [
          alice.request('rpc.a', '1', { timeoutMs }),
          alice.request('rpc.a', '2', { timeoutMs }),
          other.request('rpc.b', '3', { timeoutMs }),
        ].map((request) => rejectsWith(request, 'TIMEOUT'));
        const delivered = await receiveN(requests, 3);
        const byBody = new Map(delivered.map((message) => [message.text(), message]));
        const [first, second, third] = ['1', '2', '3'].map((body) => byBody.get(body)!);
        for (const message of [first!, second!, third!]) {
          assert.match(message.replyTo!, INBOX);
          assert.match(message.correlationId!, UUID);
          await message.ack();
        }
        // One inbox per client, a different random one for another client.
        assert.equal(first!.replyTo, second!.replyTo);
        assert.notEqual(first!.replyTo, third!.replyTo);
        assert.notEqual(first!.correlationId, second!.correlationId);
        clock.advance(timeoutMs + 1);
        await Promise.all(pending);
      }));

    test('a worker that is not admin opens an existing queue; creating one is refused', () =>
      withPrincipals(factory, async ({ client, clientAs }) => {
        await client.queue('tasks', { fsync: 'never' });
        const producer = await clientAs(user('producer', ['publish:tasks']));
        const worker = await clientAs(user('worker', ['subscribe:tasks:tasks']));
        const jobs = await producer.queue('tasks');
        await jobs.publish('job-1');
        const work = await worker.queue('tasks');
        const consumer = await work.consume();
        const [job] = await receiveN(consumer, 1);
        assert.equal(job!.text(), 'job-1');
        await job!.ack();
        assert.equal((await work.info()).pending, 0);
        await rejectsWith(jobs.consume(), 'NOT_AUTHORIZED', /producer may not consume/);
        await rejectsWith(work.publish('job-2'), 'NOT_AUTHORIZED', /worker may not publish/);
        await rejectsWith(work.purge(), 'NOT_AUTHORIZED', /purge stream tasks/);
        await rejectsWith(
          worker.queue('other'),
          'NOT_AUTHORIZED',
          /worker may not create stream other/,
        );
        // Options that would create or change the queue need admin too.
        await rejectsWith(worker.queue('tasks', { partitions: 2 }), 'NOT_AUTHORIZED');
        assert.deepEqual(
          (await client.streams.list()).map((stream) => stream.name),
          ['tasks'],
        );
      }));

    test('every admin action is one audit event: user, remote, action, target, outcome', async () => {
      const events: AuditEvent[] = [];
      const listen = (event: unknown): void => {
        const audited = event as AuditEvent;
        if (audited.user === 'root' || audited.user === 'bob') events.push(audited);
      };
      diagnosticsChannel.subscribe(AUDIT_CHANNEL_NAME, listen);
      try {
        await withPrincipals(factory, async ({ client, clientAs }) => {
          await client.streams.create('dead', { subjects: ['dead.>'], fsync: 'never' });
          const root = await clientAs(
            { user: 'root', admin: true, allow: [], deny: [] },
            '192.0.2.7:4000',
          );
          const bob = await clientAs(user('bob', ['subscribe:orders']), '192.0.2.8:5000');
          await root.streams.create('orders', { subjects: ['orders.>'], fsync: 'never' });
          await root.streams.update('orders', { maxMessages: 100 });
          await (await bob.subscribe('orders', { subscription: 'workers' })).close();
          await bob.subscriptions.seek('orders', 'workers', 'earliest');
          await rejectsWith(bob.streams.purge('orders'), 'NOT_AUTHORIZED');
          await rejectsWith(bob.subscriptions.delete('orders', 'workers'), 'NOT_AUTHORIZED');
          await rejectsWith(bob.deadLetters.redrive('dead.orders'), 'NOT_AUTHORIZED');
          await root.deadLetters.delete('dead.orders');
          await root.streams.purge('orders');
          await root.subscriptions.delete('orders', 'workers');
          await rejectsWith(root.streams.delete('missing'), 'STREAM_NOT_FOUND');
          await root.streams.delete('orders');
        });
      } finally {
        diagnosticsChannel.unsubscribe(AUDIT_CHANNEL_NAME, listen);
      }
      const root = { user: 'root', remote: '192.0.2.7:4000' };
      const bob = { user: 'bob', remote: '192.0.2.8:5000' };
      const refused = { outcome: 'refused', code: 'NOT_AUTHORIZED' };
      assert.deepEqual(
        events.map(({ action, user, remote, target, outcome, code }) => ({
          action,
          user,
          remote,
          target,
          outcome,
          ...(code === undefined ? {} : { code }),
        })),
        [
          { action: 'streams.create', ...root, target: 'orders', outcome: 'ok' },
          { action: 'streams.update', ...root, target: 'orders', outcome: 'ok' },
          { action: 'subscriptions.seek', ...bob, target: 'orders/workers', outcome: 'ok' },
          { action: 'streams.purge', ...bob, target: 'orders', ...refused },
          { action: 'subscriptions.delete', ...bob, target: 'orders/workers', ...refused },
          { action: 'deadLetters.redrive', ...bob, target: 'dead.orders', ...refused },
          { action: 'deadLetters.delete', ...root, target: 'dead.orders', outcome: 'ok' },
          { action: 'streams.purge', ...root, target: 'orders', outcome: 'ok' },
          { action: 'subscriptions.delete', ...root, target: 'orders/workers', outcome: 'ok' },
          {
            action: 'streams.delete',
            ...root,
            target: 'missing',
            outcome: 'refused',
            code: 'STREAM_NOT_FOUND',
          },
          { action: 'streams.delete', ...root, target: 'orders', outcome: 'ok' },
        ],
      );
    });
  });
}
