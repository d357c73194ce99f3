/**
 * Stream replicas and minInSync (docs/cluster.md "Streams: replicas and minInSync"): validated,
 * defaulted on a single node and in a cluster, persisted, fixed at creation; the publish gate
 * (NOT_ENOUGH_REPLICAS) under a ClusterView whose in-sync count the test moves; and
 * client.cluster.status. Runs embedded and over TCP: `factory(view)` opens a fresh broker with
 * that cluster view (undefined: a single node).
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { ClusterView } from '../../../src/broker/index.js';
import { SINGLE_NODE_STATUS } from '../../../src/broker/index.js';
import { isWeirError } from '../../../src/protocol/index.js';
import { FakeClusterView } from '../../helpers/fake-cluster-view.js';
import { rejectsWith, withBroker, type HarnessFactory } from './harness.js';

export type ClusterHarnessFactory = (cluster: ClusterView | undefined) => HarnessFactory;

export function replicationSuite(factory: ClusterHarnessFactory): void {
  describe('replicas and minInSync on a single node', () => {
    test('both default to 1, are kept across a restart and cannot be changed', () =>
      withBroker(factory(undefined), async (harness) => {
        const info = await harness.client.streams.create('orders', { subjects: ['orders.>'] });
        assert.equal(info.config.replicas, 1);
        assert.equal(info.config.minInSync, 1);
        const explicit = await harness.client.streams.create('audit', {
          replicas: 1,
          minInSync: 1,
        });
        assert.equal(explicit.config.replicas, 1);
        // The same create again, with or without them, is a no-op.
        await harness.client.streams.create('orders', { subjects: ['orders.>'], replicas: 1 });
        await rejectsWith(
          harness.client.streams.update('orders', { replicas: 1 } as never),
          'INVALID_ARGUMENT',
          /replicas cannot be changed on a live stream/,
        );
        await rejectsWith(
          harness.client.streams.update('orders', { minInSync: 1 } as never),
          'INVALID_ARGUMENT',
          /minInSync cannot be changed/,
        );
        const client = await harness.restart!();
        const reopened = await client.streams.info('orders');
        assert.equal(reopened.config.replicas, 1);
        assert.equal(reopened.config.minInSync, 1);
      }));

    test('bad values are INVALID_ARGUMENT naming the field and why', () =>
      withBroker(factory(undefined), async ({ client }) => {
        await rejectsWith(
          client.streams.create('s', { replicas: 2 }),
          'INVALID_ARGUMENT',
          /^replicas is 2, but this broker is a single node/,
        );
        await rejectsWith(
          client.streams.create('s', { minInSync: 2 }),
          'INVALID_ARGUMENT',
          /^minInSync is 2, more than replicas \(1\)/,
        );
        for (const replicas of [0, -1, 1.5, '1', null, 33]) {
          await rejectsWith(
            client.streams.create('s', { replicas: replicas as never }),
            'INVALID_ARGUMENT',
            /^replicas must be an integer in 1\.\.32/,
          );
        }
        await rejectsWith(
          client.streams.create('s', { minInSync: 0 }),
          'INVALID_ARGUMENT',
          /^minInSync must be an integer/,
        );
        await rejectsWith(client.streams.info('s'), 'STREAM_NOT_FOUND');
      }));

    test('publishes are never gated, and cluster.status says single node', () =>
      withBroker(factory(undefined), async ({ client }) => {
        await client.streams.create('orders', { subjects: ['orders.>'] });
        const receipt = await client.publish('orders.a', 'x');
        assert.equal(receipt.offset, 0);
        assert.deepEqual(await client.cluster.status(), SINGLE_NODE_STATUS);
      }));
  });

  describe('replicas and minInSync in a cluster', () => {
    test('default to min(3, nodes) and a majority of that, and are recorded in the cluster', async () => {
      const view = new FakeClusterView(5);
      await withBroker(factory(view), async (harness) => {
        const { client } = harness;
        const big = await client.streams.create('big', {});
        assert.deepEqual([big.config.replicas, big.config.minInSync], [3, 2]);
        view.nodes = 2;
        const small = await client.streams.create('small', {});
        assert.deepEqual([small.config.replicas, small.config.minInSync], [2, 2]);
        view.nodes = 1;
        const single = await client.streams.create('single', {});
        assert.deepEqual([single.config.replicas, single.config.minInSync], [1, 1]);
        view.nodes = 5;
        const four = await client.streams.create('four', { replicas: 4 });
        assert.deepEqual([four.config.replicas, four.config.minInSync], [4, 3]);
        const loose = await client.streams.create('loose', { replicas: 5, minInSync: 1 });
        assert.deepEqual([loose.config.replicas, loose.config.minInSync], [5, 1]);
        assert.deepEqual(view.recorded, [
          { name: 'big', replicas: 3, minInSync: 2 },
          { name: 'small', replicas: 2, minInSync: 2 },
          { name: 'single', replicas: 1, minInSync: 1 },
          { name: 'four', replicas: 4, minInSync: 3 },
          { name: 'loose', replicas: 5, minInSync: 1 },
        ]);
        // A create repeating the stream is a no-op even though the defaults moved with the
        // node count; it records the stream again (idempotent).
        view.nodes = 2;
        const again = await client.streams.create('big', {});
        assert.deepEqual([again.config.replicas, again.config.minInSync], [3, 2]);
        assert.deepEqual(view.recorded.at(-1), { name: 'big', replicas: 3, minInSync: 2 });
        await rejectsWith(
          client.streams.create('small', { minInSync: 1 }),
          'STREAM_EXISTS',
          /different configuration/,
        );
        // Stored: a restart reads them back, whatever the node count is now.
        const reopened = await harness.restart!();
        const info = await reopened.streams.info('four');
        assert.deepEqual([info.config.replicas, info.config.minInSync], [4, 3]);
      });
    });

    test('replicas above the node count and minInSync above replicas are INVALID_ARGUMENT', async () => {
      const view = new FakeClusterView(3);
      await withBroker(factory(view), async ({ client }) => {
        await rejectsWith(
          client.streams.create('s', { replicas: 4 }),
          'INVALID_ARGUMENT',
          /^replicas is 4, but the cluster has 3 nodes/,
        );
        await rejectsWith(
          client.streams.create('s', { replicas: 2, minInSync: 3 }),
          'INVALID_ARGUMENT',
          /^minInSync is 3, more than replicas \(2\)/,
        );
        // A memory stream lives on the leader only.
        const memory = await client.streams.create('m', { storage: 'memory' });
        assert.deepEqual([memory.config.replicas, memory.config.minInSync], [1, 1]);
        await rejectsWith(
          client.streams.create('m2', { storage: 'memory', replicas: 2 }),
          'INVALID_ARGUMENT',
          /^replicas is 2, but a memory stream is not replicated/,
        );
        assert.deepEqual(
          view.recorded.map((entry) => entry.name),
          ['m'],
        );
      });
    });

    test('a create whose recording fails rejects with its error; creating again records it', async () => {
      const view = new FakeClusterView(3);
      await withBroker(factory(view), async ({ client }) => {
        view.recordFailure = new Error('etcd is unreachable');
        await assert.rejects(client.streams.create('orders', {}), /etcd is unreachable/);
        const info = await client.streams.create('orders', {});
        assert.equal(info.config.replicas, 3);
        assert.deepEqual(view.recorded, [{ name: 'orders', replicas: 3, minInSync: 2 }]);
      });
    });

    test('publishes to a stream short of minInSync are NOT_ENOUGH_REPLICAS until a node is back', async () => {
      const view = new FakeClusterView(3);
      await withBroker(factory(view), async ({ client }) => {
        await client.streams.create('orders', { subjects: ['orders.>'] }); // 3 / 2
        await client.streams.create('logs', { subjects: ['logs.>'], minInSync: 1 });
        assert.equal((await client.publish('orders.a', 'before')).offset, 0);
        view.inSync = 1;
        await rejectsWith(
          client.publish('orders.a', 'refused'),
          'NOT_ENOUGH_REPLICAS',
          /^stream orders needs 2 in-sync replicas \(minInSync\), 1 is in sync/,
        );
        await assert.rejects(client.publish('orders.a', 'refused'), (error: unknown) => {
          assert.ok(isWeirError(error, 'NOT_ENOUGH_REPLICAS'));
          assert.equal(error.retriable, true);
          return true;
        });
        // A stream whose minInSync is met takes publishes meanwhile.
        assert.equal((await client.publish('logs.a', 'fine')).offset, 0);
        const outcomes = await client.publishBatch([
          { subject: 'orders.a', body: 'refused' },
          { subject: 'logs.a', body: 'fine' },
        ]);
        assert.ok(isWeirError(outcomes[0], 'NOT_ENOUGH_REPLICAS'), JSON.stringify(outcomes[0]));
        assert.ok(!(outcomes[1] instanceof Error), JSON.stringify(outcomes[1]));
        // A transaction is refused as a whole, with the retriable code itself.
        await rejectsWith(
          client.transaction(async (tx) => {
            tx.publish('logs.a', 'in a transaction');
            tx.publish('orders.a', 'in a transaction');
            return Promise.resolve();
          }),
          'NOT_ENOUGH_REPLICAS',
          /stream orders needs 2/,
        );
        view.inSync = 2;
        assert.equal((await client.publish('orders.a', 'after')).offset, 1);
        await client.transaction(async (tx) => {
          tx.publish('orders.a', 'in a transaction');
          return Promise.resolve();
        });
        const info = await client.streams.info('orders');
        assert.equal(info.messages, 3, 'nothing refused was stored');
        assert.equal((await client.streams.info('logs')).messages, 2);
      });
    });

    test('cluster.status is the view’s, with the broker’s streams filled in', async () => {
      const view = new FakeClusterView(3, 2);
      await withBroker(factory(view), async ({ client }) => {
        await client.streams.create('orders', { subjects: ['orders.>'] });
        const status = await client.cluster.status();
        assert.equal(status.clusterMode, true);
        assert.equal(status.leader, 'n1');
        assert.equal(status.epoch, 7);
        assert.deepEqual(status.isr, ['n1', 'n2']);
        assert.deepEqual(
          status.nodes.map((node) => [node.nodeId, node.role, node.inSync, node.lagOps]),
          [
            ['n1', 'leader', true, 0],
            ['n2', 'follower', true, 0],
            ['n3', 'follower', false, 12],
          ],
        );
        assert.deepEqual(status.streams, [
          { name: 'orders', replicas: 3, minInSync: 2, leader: 'n1', epoch: 7, isr: ['n1', 'n2'] },
        ]);
      });
    });
  });
}
