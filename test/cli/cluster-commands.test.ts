/**
 * `weir cluster status` (human and --json) on a single node and on a broker with a (fake)
 * cluster view; `weir stream add --replicas --min-in-sync` and the replicas row of
 * `weir stream info`.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SINGLE_NODE_STATUS } from '../../src/broker/index.js';
import { FakeClusterView } from '../helpers/fake-cluster-view.js';
import { withTemporaryDirectory } from '../helpers/temporary-directory.js';
import { withCli } from './cli-fixture.js';

test('weir cluster status on a single node says so; --json prints the single-node status', () =>
  withCli(async ({ run }) => {
    const human = await run(['cluster', 'status']);
    assert.equal(human.code, 0, human.stderr);
    assert.equal(human.stdout, 'single node (no cluster)\n');
    const json = await run(['cluster', 'status', '--json']);
    assert.equal(json.code, 0, json.stderr);
    assert.deepEqual(JSON.parse(json.stdout), SINGLE_NODE_STATUS);
  }));

test('weir cluster status in a cluster prints the leader and epoch, a node table and a stream table', () =>
  withTemporaryDirectory(async (dataDir) => {
    const view = new FakeClusterView(3, 2);
    await withCli(
      async ({ client, run }) => {
        const added = await run([
          'stream',
          'add',
          'orders',
          '--subjects',
          'orders.>',
          '--replicas',
          '3',
          '--min-in-sync',
          '3',
        ]);
        assert.equal(added.code, 0, added.stderr);
        assert.equal((await client.streams.info('orders')).config.minInSync, 3);
        const info = await run(['stream', 'info', 'orders']);
        assert.match(info.stdout, /^replicas +3, min in sync 3$/m);
        const refused = await run(['stream', 'add', 'big', '--replicas', '4']);
        assert.equal(refused.code, 2);
        assert.match(
          refused.stderr,
          /INVALID_ARGUMENT: replicas is 4, but the cluster has 3 nodes/,
        );

        const human = await run(['cluster', 'status']);
        assert.equal(human.code, 0, human.stderr);
        const lines = human.stdout.split('\n');
        assert.equal(
          lines[0],
          'cluster: leader n1, epoch 7, node n1, leader seq 42, in sync n1, n2',
        );
        assert.match(lines[2]!, /^NODE +ROLE +IN-SYNC +ACKED +LAG$/);
        assert.match(lines[3]!, /^n1 +leader +yes +42 +0 ops, 0 ms$/);
        assert.match(lines[5]!, /^n3 +follower +no +30 +12 ops, 1500 ms$/);
        assert.match(human.stdout, /^STREAM +REPLICAS +MIN-IN-SYNC +LEADER +EPOCH +ISR$/m);
        assert.match(human.stdout, /^orders +3 +3 +n1 +7 +n1, n2$/m);
        const json = await run(['cluster', 'status', '--json']);
        assert.equal(json.code, 0, json.stderr);
        assert.deepEqual(
          JSON.parse(json.stdout),
          JSON.parse(JSON.stringify(await client.cluster.status())),
        );
      },
      { dataDir, cluster: view },
    );
  }, 'weir-cli-cluster-'));
