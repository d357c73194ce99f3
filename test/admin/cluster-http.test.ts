/**
 * GET /api/cluster answers client.cluster.status() (single node: clusterMode false), and the
 * streams API takes and shows replicas / minInSync, refusing bad ones with 400.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SINGLE_NODE_STATUS } from '../../src/broker/index.js';
import { FakeClusterView } from '../helpers/fake-cluster-view.js';
import { withAdmin } from './admin-fixture.js';

test('GET /api/cluster on a single node answers clusterMode false and nothing else', () =>
  withAdmin({}, async ({ request }) => {
    const answer = await request('GET', '/api/cluster');
    assert.equal(answer.status, 200);
    assert.deepEqual(answer.json, SINGLE_NODE_STATUS);
    const openapi = await request('GET', '/api/openapi.json');
    assert.ok(openapi.json.paths['/api/cluster'].get, 'the route is documented');
  }));

test('GET /api/cluster in a cluster shows nodes, leader, epoch and each stream; streams take replicas', () =>
  withAdmin({ storage: 'file', cluster: new FakeClusterView(3, 2) }, async ({ request }) => {
    const created = await request('POST', '/api/streams', {
      name: 'orders',
      subjects: ['orders.>'],
      replicas: 3,
      minInSync: 3,
    });
    assert.equal(created.status, 201, created.text);
    assert.equal(created.json.config.replicas, 3);
    assert.equal(created.json.config.minInSync, 3);
    const info = await request('GET', '/api/streams/orders');
    assert.equal(info.json.config.minInSync, 3);
    const refused = await request('POST', '/api/streams', { name: 'big', replicas: 4 });
    assert.equal(refused.status, 400);
    assert.equal(refused.json.error.code, 'INVALID_ARGUMENT');
    assert.match(String(refused.json.error.message), /replicas is 4, but the cluster has 3 nodes/);
    const published = await request('POST', '/api/publish', {
      subject: 'orders.a',
      body: 'x',
    });
    assert.equal(published.status, 503, 'minInSync 3 with 2 in sync');
    assert.equal(published.json.error.code, 'NOT_ENOUGH_REPLICAS');

    const answer = await request('GET', '/api/cluster');
    assert.equal(answer.status, 200);
    assert.equal(answer.json.clusterMode, true);
    assert.equal(answer.json.leader, 'n1');
    assert.equal(answer.json.epoch, 7);
    assert.deepEqual(answer.json.isr, ['n1', 'n2']);
    assert.equal(answer.json.nodes.length, 3);
    assert.deepEqual(answer.json.streams, [
      { name: 'orders', replicas: 3, minInSync: 3, leader: 'n1', epoch: 7, isr: ['n1', 'n2'] },
    ]);
  }));
