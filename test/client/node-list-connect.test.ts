/**
 * Connecting to a cluster through its node list: a follower's NOT_LEADER leader=HOST:PORT is
 * followed to the leader, a host with nothing listening or a follower without a hint is
 * passed over, hints are followed a bounded number of times, a round starts from the host
 * that last worked, and after the node it was on dies the client reconnects through the list
 * to another one, where its subscription resumes. Every server here is on 127.0.0.1, port 0.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connect, WeirError, type Client } from '../../src/client/index.js';
import { HostList } from '../../src/client/host-list.js';
import type { TransportAddress } from '../../src/client/transport.js';
import { CLIENT_LEADER_HOPS_MAX } from '../../src/limits.js';
import { startTestServer, type TestServer } from '../server/in-process-server.js';
import { TEST_TIMEOUT_MS } from './client-fixture.js';
import { deadPort, FakeFollower } from './fake-follower.js';

const options = { timeout: TEST_TIMEOUT_MS };
/** A connect attempt to a local port ends well within this (refused at once, or answered). */
const CONNECT_TIMEOUT_MS = 2_000;

function hostPort(server: TestServer): string {
  return `127.0.0.1:${server.port}`;
}

/** Starts what `body` needs and stops all of it, whatever happens. */
async function withCleanup(
  body: (track: <T extends { stop(): Promise<void> } | Client>(thing: T) => T) => Promise<void>,
): Promise<void> {
  const things: ({ stop(): Promise<void> } | Client)[] = [];
  try {
    await body((thing) => {
      things.push(thing);
      return thing;
    });
  } finally {
    for (const thing of things.reverse()) {
      await ('stop' in thing ? thing.stop() : thing.close());
    }
  }
}

function stoppable(server: TestServer): { stop(): Promise<void>; server: TestServer } {
  let stopped = false;
  return {
    server,
    stop: async () => {
      if (stopped) return;
      stopped = true;
      await server.close();
    },
  };
}

test(
  "a follower's NOT_LEADER leader=HOST:PORT is followed: the client ends on the leader and publishes there",
  options,
  async () => {
    await withCleanup(async (track) => {
      const { server } = track(stoppable(await startTestServer()));
      const follower = track(await FakeFollower.start(hostPort(server)));
      const other = await deadPort();
      const client = track(
        await connect(`weir://${follower.hostPort},127.0.0.1:${other}`, {
          connectTimeoutMs: CONNECT_TIMEOUT_MS,
        }),
      );
      assert.equal(follower.hellos, 1);
      await client.streams.create('orders', { subjects: ['orders.>'] });
      const receipt = await client.publish('orders.eu', 'first');
      assert.equal(receipt.offset, 0);
      const local = server.broker.connect();
      try {
        assert.deepEqual(
          (await local.streams.list()).map((stream) => stream.name),
          ['orders'],
          'the stream was created on the leader the hint named',
        );
      } finally {
        await local.close();
      }
    });
  },
);

test(
  'a host with nothing listening and a follower without a hint are passed over',
  options,
  async () => {
    await withCleanup(async (track) => {
      const { server } = track(stoppable(await startTestServer()));
      const dead = await deadPort();
      const follower = track(await FakeFollower.start(null));
      const url = `weir://127.0.0.1:${dead},${follower.hostPort},${hostPort(server)}`;
      const client = track(await connect(url, { connectTimeoutMs: CONNECT_TIMEOUT_MS }));
      assert.equal(follower.hellos, 1);
      await client.streams.create('orders', { subjects: ['orders'] });
      assert.equal((await client.publish('orders', 'x')).offset, 0);
    });
  },
);

test(
  'when no node takes the connection, connect() rejects with the last failure, naming the list',
  options,
  async () => {
    await withCleanup(async (track) => {
      // Two followers that name each other: each is asked once, then the round is over.
      const first = track(await FakeFollower.start(null));
      const second = track(await FakeFollower.start(first.hostPort));
      first.leader = second.hostPort;
      const url = `weir://${first.hostPort},${second.hostPort}`;
      await assert.rejects(
        connect(url, { connectTimeoutMs: CONNECT_TIMEOUT_MS }),
        (error: WeirError) => {
          assert.equal(error.code, 'NOT_LEADER');
          assert.equal(error.retriable, true);
          assert.match(error.message, /not the leader.*\(tried weir:\/\/127\.0\.0\.1:\d+,127/);
          return true;
        },
      );
      assert.deepEqual([first.hellos, second.hellos], [1, 1]);
      const dead = await deadPort();
      await assert.rejects(
        connect(`weir://127.0.0.1:${dead},127.0.0.1:${await deadPort()}`, {
          connectTimeoutMs: CONNECT_TIMEOUT_MS,
        }),
        { code: 'CLOSED', message: /ECONNREFUSED \(tried weir:\/\// },
      );
    });
  },
);

const address = (name: string): TransportAddress => ({
  host: name,
  port: 1,
  url: `weir://${name}:1`,
});

test(
  'a round starts from the host that last worked and follows at most CLIENT_LEADER_HOPS_MAX hints',
  options,
  async () => {
    const hosts = new HostList(['a', 'b', 'c'].map(address), 'weir://a:1,b:1,c:1', false);
    const tried: string[] = [];
    let up = 'b';
    const attempt = (target: TransportAddress): Promise<string> => {
      tried.push(target.host);
      return target.host === up
        ? Promise.resolve(target.host)
        : Promise.reject(new WeirError('CLOSED', `cannot reach ${target.url}: ECONNREFUSED`));
    };
    const never = () => false;
    assert.equal(await hosts.connect(attempt, never, never), 'b');
    assert.deepEqual(tried.splice(0), ['a', 'b']);
    up = 'a';
    assert.equal(await hosts.connect(attempt, never, never), 'a');
    assert.deepEqual(tried.splice(0), ['b', 'c', 'a'], 'from b, the last that worked');

    // Followers that each name a new leader, none of which is up: the hops are bounded.
    let hint = 0;
    const chasing = (target: TransportAddress): Promise<string> => {
      tried.push(target.host);
      return Promise.reject(
        new WeirError('NOT_LEADER', `this node is not the leader leader=hint${++hint}:1`),
      );
    };
    await assert.rejects(hosts.connect(chasing, never, never), { code: 'NOT_LEADER' });
    assert.equal(tried.filter((host) => host.startsWith('hint')).length, CLIENT_LEADER_HOPS_MAX);
    assert.deepEqual(
      tried.filter((host) => !host.startsWith('hint')),
      ['a', 'b', 'c'],
    );
    tried.length = 0;

    // A hint off the list that worked is where the next round starts, then its referrer on.
    const toLeader = (target: TransportAddress): Promise<string> => {
      tried.push(target.host);
      if (target.host === 'leader') return Promise.resolve('leader');
      return Promise.reject(
        new WeirError('NOT_LEADER', 'this node is not the leader leader=leader:1'),
      );
    };
    assert.equal(await hosts.connect(toLeader, never, never), 'leader');
    assert.deepEqual(tried.splice(0), ['a', 'leader']);
    assert.equal(await hosts.connect(attempt, never, never), 'a');
    assert.deepEqual(tried.splice(0), ['leader', 'a'], 'the leader first, then a (up again)');

    // A final refusal (the credentials) ends the round at once; so does a closed client.
    const refusing = (target: TransportAddress): Promise<string> => {
      tried.push(target.host);
      return Promise.reject(new WeirError('NOT_AUTHORIZED', 'bad password'));
    };
    await assert.rejects(
      hosts.connect(refusing, (error) => error.code === 'NOT_AUTHORIZED', never),
      { code: 'NOT_AUTHORIZED', message: 'bad password' },
    );
    assert.equal(tried.splice(0).length, 1);
    up = 'none';
    await assert.rejects(
      hosts.connect(attempt, never, () => true),
      { code: 'CLOSED' },
    );
    assert.equal(tried.splice(0).length, 1);
  },
);

test(
  'after its node dies the client reconnects through the list to another node, and its subscription resumes there',
  options,
  async () => {
    await withCleanup(async (track) => {
      const first = track(stoppable(await startTestServer()));
      const second = track(stoppable(await startTestServer()));
      const url = `weir://${hostPort(first.server)},${hostPort(second.server)}`;
      const client = track(await connect(url, { connectTimeoutMs: CONNECT_TIMEOUT_MS }));
      // The stream on both nodes (a cluster replicates it; these are two plain brokers).
      await client.streams.create('orders', { subjects: ['orders'] });
      const setup = second.server.broker.connect();
      await setup.streams.create('orders', { subjects: ['orders'] });
      await setup.close();
      const subscription = await client.subscribe('orders', { subscription: 'workers' });
      await client.publish('orders', 'on the first');
      const before = await subscription.receive({ timeoutMs: 2_000 });
      assert.equal(before?.text(), 'on the first');
      await before.ack();

      // Publishes in flight as the node goes: each is confirmed or fails CLOSED (retriable).
      const inFlight = [1, 2, 3].map((index) =>
        client.publish('orders', `in flight ${index}`).then(
          () => 'confirmed',
          (error: WeirError) => {
            assert.equal(error.code, 'CLOSED');
            assert.equal(error.retriable, true);
            return 'closed';
          },
        ),
      );
      await first.stop();
      for (const outcome of await Promise.all(inFlight)) {
        assert.ok(outcome === 'confirmed' || outcome === 'closed');
      }

      const receipt = await client.publish('orders', 'on the second');
      assert.equal(receipt.stream, 'orders');
      const check = second.server.broker.connect();
      try {
        assert.deepEqual(
          (await check.subscriptions.list('orders')).map((listed) => listed.name),
          ['workers'],
          'the subscription was created again on the second node',
        );
      } finally {
        await check.close();
      }
      const seen: string[] = [];
      const deadline = Date.now() + 5_000;
      while (!seen.includes('on the second') && Date.now() < deadline) {
        const message = await subscription.receive({ timeoutMs: 500 });
        if (message === null) continue;
        seen.push(message.text());
        await message.ack();
      }
      assert.ok(seen.includes('on the second'), `received: ${seen.join(', ')}`);
      assert.equal(subscription.closed, false);
      await subscription.close();
    });
  },
);
