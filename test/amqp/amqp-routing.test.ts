/**
 * Routing through the gateway's exchanges (topology.ts, exchange.ts, topic-pattern.ts), over
 * amqplib: direct, fanout, topic, headers, exchange-to-exchange, the default exchange,
 * unbind, mandatory returns, and the channel errors of exchange declares and publishes.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Channel, ConfirmChannel, Message } from 'amqplib';
import { type AmqpFixture, collect, within, withAmqp } from './amqp-harness.js';

/** At most this many messages are read back from one queue. */
const DRAIN_MAX = 100;

/** Every message in `queue` now (basic.get, noAck), in order. */
async function drain(channel: Channel, queue: string): Promise<string[]> {
  const bodies: string[] = [];
  for (let count = 0; count < DRAIN_MAX; count++) {
    const message = await channel.get(queue, { noAck: true });
    if (message === false) return bodies;
    bodies.push(message.content.toString());
  }
  assert.fail(`more than ${DRAIN_MAX} messages in ${queue}`);
}

interface Routing {
  readonly channel: ConfirmChannel;
  /** Publishes each [routing key, body, headers?] and waits for every confirm. */
  publish: (
    exchange: string,
    messages: readonly (readonly [string, string, Record<string, unknown>?])[],
  ) => Promise<void>;
  /** Declares fresh exclusive queues (names as given). */
  queues: (...names: string[]) => Promise<void>;
}

async function routing(fixture: AmqpFixture): Promise<Routing> {
  const connection = await fixture.connect();
  const channel = await connection.createConfirmChannel();
  return {
    channel,
    publish: async (exchange, messages) => {
      for (const [routingKey, body, headers] of messages) {
        channel.publish(exchange, routingKey, Buffer.from(body), headers ? { headers } : {});
      }
      await within('publish confirms', channel.waitForConfirms());
    },
    queues: async (...names) => {
      for (const name of names) await channel.assertQueue(name, { exclusive: true });
    },
  };
}

test('direct: a message reaches the queues bound with exactly its routing key', async () => {
  await withAmqp(async (fixture) => {
    const { channel, publish, queues } = await routing(fixture);
    await channel.assertExchange('orders', 'direct', { durable: false });
    await queues('eu', 'us', 'all');
    await channel.bindQueue('eu', 'orders', 'eu');
    await channel.bindQueue('us', 'orders', 'us');
    await channel.bindQueue('all', 'orders', 'eu');
    await channel.bindQueue('all', 'orders', 'us');
    await publish('orders', [
      ['eu', 'e1'],
      ['us', 'u1'],
      ['asia', 'a1'],
      ['EU', 'case matters'],
      ['eu.x', 'no prefix match'],
    ]);
    assert.deepEqual(await drain(channel, 'eu'), ['e1']);
    assert.deepEqual(await drain(channel, 'us'), ['u1']);
    assert.deepEqual(await drain(channel, 'all'), ['e1', 'u1']);
  });
});

test('a queue bound twice to one exchange (two keys) gets a message matching both once', async () => {
  await withAmqp(async (fixture) => {
    const { channel, publish, queues } = await routing(fixture);
    await channel.assertExchange('events', 'topic', { durable: false });
    await queues('q');
    await channel.bindQueue('q', 'events', 'a.*');
    await channel.bindQueue('q', 'events', '*.b');
    await publish('events', [['a.b', 'once']]);
    assert.deepEqual(await drain(channel, 'q'), ['once']);
  });
});

test('fanout: every bound queue gets every message whatever its routing key', async () => {
  await withAmqp(async (fixture) => {
    const { channel, publish, queues } = await routing(fixture);
    await channel.assertExchange('broadcast', 'fanout', { durable: false });
    await queues('one', 'two', 'unbound');
    await channel.bindQueue('one', 'broadcast', '');
    await channel.bindQueue('two', 'broadcast', 'ignored');
    await publish('broadcast', [
      ['', 'm1'],
      ['anything.at.all', 'm2'],
    ]);
    assert.deepEqual(await drain(channel, 'one'), ['m1', 'm2']);
    assert.deepEqual(await drain(channel, 'two'), ['m1', 'm2']);
    assert.deepEqual(await drain(channel, 'unbound'), []);
  });
});

test('topic: * is exactly one word, # zero or more, also in the middle, and empty words count', async () => {
  await withAmqp(async (fixture) => {
    const { channel, publish, queues } = await routing(fixture);
    await channel.assertExchange('topics', 'topic', { durable: false });
    const patterns: Record<string, string> = {
      star: 'a.*',
      hashTail: 'a.#',
      hashMiddle: 'a.#.z',
      hashAll: '#',
      starMiddle: 'a.*.c',
      emptyWord: 'a..b',
      literal: 'a.b',
      twoHashes: '#.#.q',
    };
    await queues(...Object.keys(patterns));
    for (const [queue, pattern] of Object.entries(patterns)) {
      await channel.bindQueue(queue, 'topics', pattern);
    }
    const keys = [
      'a',
      'a.b',
      'a.b.c',
      'a.z',
      'a.b.z',
      'a.b.c.z',
      'b.z',
      'a..b',
      'a..c',
      '',
      'q',
      'x.q',
    ];
    await publish(
      'topics',
      keys.map((key) => [key, `<${key}>`] as const),
    );
    const expected: Record<string, string[]> = {
      star: ['a.b', 'a.z'],
      hashTail: ['a', 'a.b', 'a.b.c', 'a.z', 'a.b.z', 'a.b.c.z', 'a..b', 'a..c'],
      hashMiddle: ['a.z', 'a.b.z', 'a.b.c.z'],
      hashAll: keys,
      starMiddle: ['a.b.c', 'a..c'],
      emptyWord: ['a..b'],
      literal: ['a.b'],
      twoHashes: ['q', 'x.q'],
    };
    for (const [queue, routed] of Object.entries(expected)) {
      assert.deepEqual(
        await drain(channel, queue),
        routed.map((key) => `<${key}>`),
        `queue ${queue} (${patterns[queue]})`,
      );
    }
  });
});

test('headers: x-match all needs every bound header, any needs one; the routing key is ignored', async () => {
  await withAmqp(async (fixture) => {
    const { channel, publish, queues } = await routing(fixture);
    await channel.assertExchange('by-headers', 'headers', { durable: false });
    await queues('all', 'any', 'default');
    await channel.bindQueue('all', 'by-headers', '', {
      'x-match': 'all',
      format: 'pdf',
      type: 'report',
    });
    await channel.bindQueue('any', 'by-headers', 'ignored', {
      'x-match': 'any',
      format: 'pdf',
      type: 'log',
    });
    // No x-match: all, as in RabbitMQ.
    await channel.bindQueue('default', 'by-headers', '', { format: 'pdf', type: 'report' });
    await publish('by-headers', [
      ['k', 'both', { format: 'pdf', type: 'report' }],
      ['k', 'pdf-only', { format: 'pdf' }],
      ['k', 'log', { type: 'log', extra: 'x' }],
      ['k', 'wrong-value', { format: 'zip', type: 'report' }],
      ['k', 'none'],
    ]);
    assert.deepEqual(await drain(channel, 'all'), ['both']);
    assert.deepEqual(await drain(channel, 'any'), ['both', 'pdf-only', 'log']);
    assert.deepEqual(await drain(channel, 'default'), ['both']);
  });
});

test('headers: numeric header values match a numeric binding value', async () => {
  await withAmqp(async (fixture) => {
    const { channel, publish, queues } = await routing(fixture);
    await channel.assertExchange('numbers', 'headers', { durable: false });
    await queues('answer');
    await channel.bindQueue('answer', 'numbers', '', { 'x-match': 'all', value: 42 });
    await publish('numbers', [
      ['', 'forty-two', { value: 42 }],
      ['', 'forty-three', { value: 43 }],
    ]);
    assert.deepEqual(await drain(channel, 'answer'), ['forty-two']);
  });
});

test('exchange-to-exchange: a message goes on through the bound exchange, and stops after unbind', async () => {
  await withAmqp(async (fixture) => {
    const { channel, publish, queues } = await routing(fixture);
    await channel.assertExchange('front', 'direct', { durable: false });
    await channel.assertExchange('back', 'fanout', { durable: false });
    await channel.assertExchange('deep', 'topic', { durable: false });
    await queues('from-back', 'from-deep');
    await channel.bindExchange('back', 'front', 'go');
    await channel.bindExchange('deep', 'back', '');
    await channel.bindQueue('from-back', 'back', '');
    await channel.bindQueue('from-deep', 'deep', 'go');
    await publish('front', [
      ['go', 'm1'],
      ['stay', 'not routed'],
    ]);
    assert.deepEqual(await drain(channel, 'from-back'), ['m1']);
    assert.deepEqual(await drain(channel, 'from-deep'), ['m1']);
    await channel.unbindExchange('back', 'front', 'go');
    await publish('front', [['go', 'm2']]);
    assert.deepEqual(await drain(channel, 'from-back'), []);
    assert.deepEqual(await drain(channel, 'from-deep'), []);
  });
});

test('an exchange-to-exchange cycle delivers a message to each queue once and does not loop', async () => {
  await withAmqp(async (fixture) => {
    const { channel, publish, queues } = await routing(fixture);
    await channel.assertExchange('x1', 'fanout', { durable: false });
    await channel.assertExchange('x2', 'fanout', { durable: false });
    await channel.bindExchange('x2', 'x1', '');
    await channel.bindExchange('x1', 'x2', '');
    await queues('cycled');
    await channel.bindQueue('cycled', 'x2', '');
    await publish('x1', [['', 'round']]);
    assert.deepEqual(await drain(channel, 'cycled'), ['round']);
  });
});

test('the default exchange routes by queue name, and no queue may be bound to it (403)', async () => {
  await withAmqp(async (fixture) => {
    const { channel, publish, queues } = await routing(fixture);
    await queues('named');
    await publish('', [
      ['named', 'direct to it'],
      ['unnamed', 'nowhere'],
    ]);
    assert.deepEqual(await drain(channel, 'named'), ['direct to it']);
    await assert.rejects(channel.bindQueue('named', '', 'other'), /403/);
  });
});

test('unbind: a queue unbound from an exchange gets nothing more from it', async () => {
  await withAmqp(async (fixture) => {
    const { channel, publish, queues } = await routing(fixture);
    await channel.assertExchange('u', 'direct', { durable: false });
    await queues('q');
    await channel.bindQueue('q', 'u', 'k');
    await publish('u', [['k', 'before']]);
    await channel.unbindQueue('q', 'u', 'k');
    await publish('u', [['k', 'after']]);
    assert.deepEqual(await drain(channel, 'q'), ['before']);
  });
});

test('mandatory and unroutable: basic.return with 312 NO_ROUTE and the message; a plain channel too', async () => {
  await withAmqp(async (fixture) => {
    const connection = await fixture.connect();
    const channel = await connection.createChannel();
    await channel.assertExchange('sparse', 'direct', { durable: false });
    const returned = collect<Message>('basic.return', 1, (push) => channel.on('return', push));
    channel.publish('sparse', 'no-such-key', Buffer.from('bounce'), {
      mandatory: true,
      headers: { tag: 'r1' },
    });
    channel.publish('sparse', 'no-such-key', Buffer.from('silent'), { mandatory: false });
    const [message] = await returned;
    assert.equal(message!.content.toString(), 'bounce');
    assert.equal(message!.fields.exchange, 'sparse');
    assert.equal(message!.fields.routingKey, 'no-such-key');
    assert.equal((message!.fields as unknown as { replyCode: number }).replyCode, 312);
    assert.equal(message!.properties.headers?.['tag'], 'r1');
  });
});

test('mandatory and unroutable on a confirm channel: basic.return, then the publish is still acked', async () => {
  await withAmqp(async (fixture) => {
    const connection = await fixture.connect();
    const channel = await connection.createConfirmChannel();
    const events: string[] = [];
    channel.on('return', () => events.push('return'));
    const confirmed = new Promise<Error | null>((resolve) => {
      channel.publish('amq.direct', 'unbound', Buffer.from('x'), { mandatory: true }, (error) => {
        events.push(error ? 'nack' : 'ack');
        resolve(error as Error | null);
      });
    });
    assert.equal(await within('the confirm', confirmed), null);
    assert.deepEqual(events, ['return', 'ack'], 'the return comes before the ack');
    // Not mandatory: acked, no return.
    channel.publish('amq.direct', 'unbound', Buffer.from('y'));
    await within('confirms', channel.waitForConfirms());
    assert.deepEqual(events, ['return', 'ack']);
  });
});

test('publish to a missing exchange closes the channel with 404 NOT_FOUND; the connection goes on', async () => {
  await withAmqp(async (fixture) => {
    const connection = await fixture.connect();
    const channel = await connection.createChannel();
    const failed = within(
      'the channel error',
      new Promise<Error>((resolve) => channel.once('error', resolve)),
    );
    channel.publish('no-such-exchange', 'k', Buffer.from('lost'));
    const error = (await failed) as Error & { code?: number };
    assert.equal(error.code, 404);
    assert.match(error.message, /NOT_FOUND/);
    const other = await connection.createChannel();
    await other.assertQueue('alive', { exclusive: true });
  });
});

test("declaring an exchange named 'amq.…' is refused with 403 ACCESS_REFUSED", async () => {
  await withAmqp(async (fixture) => {
    const connection = await fixture.connect();
    const channel = await connection.createChannel();
    await assert.rejects(channel.assertExchange('amq.foo', 'direct'), /403/);
    // The pre-declared ones can be declared with their own type (passive or equivalent).
    const again = await connection.createChannel();
    await again.checkExchange('amq.topic');
    await again.assertExchange('amq.fanout', 'fanout');
  });
});

test('redeclaring an exchange with another type is refused with 406 PRECONDITION_FAILED', async () => {
  await withAmqp(async (fixture) => {
    const connection = await fixture.connect();
    const channel = await connection.createChannel();
    await channel.assertExchange('typed', 'direct', { durable: false });
    await channel.assertExchange('typed', 'direct', { durable: false }); // same: fine
    await assert.rejects(channel.assertExchange('typed', 'fanout', { durable: false }), /406/);
  });
});

test('a passive declare of a missing exchange closes the channel with 404', async () => {
  await withAmqp(async (fixture) => {
    const connection = await fixture.connect();
    const channel = await connection.createChannel();
    await assert.rejects(channel.checkExchange('never-declared'), /404/);
  });
});

test('binding a queue to a missing exchange is refused with 404', async () => {
  await withAmqp(async (fixture) => {
    const connection = await fixture.connect();
    const channel = await connection.createChannel();
    await channel.assertQueue('lonely', { exclusive: true });
    await assert.rejects(channel.bindQueue('lonely', 'no-exchange', 'k'), /404/);
  });
});
