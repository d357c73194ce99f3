/**
 * EtcdClient against a real etcd (test/helpers/etcd.ts): the unary calls, txn compares,
 * leases (keepalive, expiry deletes the keys, revoke), and the watch, also across an etcd
 * restart and a compaction. Each test writes under its own key prefix.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import * as http from 'node:http';
import { EtcdClient, type WatchEvent } from '../../src/cluster/etcd-client.js';
import { isWeirError } from '../../src/util/index.js';
import { ETCD_MISSING, startEtcd, waitFor } from '../helpers/etcd.js';

const etcd = await startEtcd();
const client = etcd === null ? null : new EtcdClient([etcd.endpoint]);
after(async () => {
  client?.close();
  await etcd?.stop();
});

/** POST /v3/kv/compaction: not part of the client Weir needs. */
function compact(endpoint: string, revision: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const url = new URL('/v3/kv/compaction', endpoint);
    const request = http.request(url, { method: 'POST', agent: false }, (response) => {
      response.resume();
      response.on('end', () =>
        response.statusCode === 200
          ? resolve()
          : reject(new Error(`compaction: ${response.statusCode}`)),
      );
    });
    request.on('error', reject);
    request.end(JSON.stringify({ revision: String(revision), physical: true }));
  });
}

test('put, get, range by prefix and delete round-trip text keys and values', async (t) => {
  if (client === null) return t.skip(ETCD_MISSING);
  const first = await client.put('/t1/a', 'één');
  const second = await client.put('/t1/b', '{"x":1}');
  await client.put('/t10', 'outside the prefix');
  assert.ok(second > first, 'revisions grow');

  const a = await client.get('/t1/a');
  assert.deepEqual(
    {
      value: a?.value,
      modRevision: a?.modRevision,
      createRevision: a?.createRevision,
      lease: a?.lease,
    },
    { value: 'één', modRevision: first, createRevision: first, lease: '0' },
  );
  assert.equal(await client.get('/t1/missing'), null);

  const kvs = await client.range('/t1/');
  assert.deepEqual(
    kvs.map((kv) => [kv.key, kv.value, kv.modRevision]),
    [
      ['/t1/a', 'één', first],
      ['/t1/b', '{"x":1}', second],
    ],
  );

  await client.delete('/t1/a');
  assert.equal(await client.get('/t1/a'), null);
  assert.deepEqual(
    (await client.range('/t1/')).map((kv) => kv.key),
    ['/t1/b'],
  );
});

test('txn: a create-if-absent succeeds once, then fails and runs the failure ops', async (t) => {
  if (client === null) return t.skip(ETCD_MISSING);
  const request = {
    compare: [
      { key: '/t2/leader', target: 'create' as const, result: 'equal' as const, revision: 0 },
    ],
    success: [{ type: 'put' as const, key: '/t2/leader', value: 'first' }],
    failure: [{ type: 'range' as const, key: '/t2/leader' }],
  };
  const won = await client.txn(request);
  assert.equal(won.succeeded, true);
  assert.deepEqual(won.responses, [{ type: 'put', revision: won.revision }]);

  const lost = await client.txn({
    ...request,
    success: [{ type: 'put', key: '/t2/leader', value: 'second' }],
  });
  assert.equal(lost.succeeded, false);
  assert.equal(lost.revision, won.revision, 'a failed txn writes nothing');
  const [range] = lost.responses;
  assert.equal(range?.type, 'range');
  assert.deepEqual(range.type === 'range' ? range.kvs.map((kv) => kv.value) : null, ['first']);

  // A mod-revision fence: only the writer that read the current revision gets through.
  const fenced = (revision: number) =>
    client.txn({
      compare: [{ key: '/t2/leader', target: 'mod', result: 'equal', revision }],
      success: [{ type: 'put', key: '/t2/leader', value: `after ${revision}` }],
    });
  assert.equal((await fenced(won.revision)).succeeded, true);
  assert.equal((await fenced(won.revision)).succeeded, false, 'the same revision twice');
  assert.equal((await client.get('/t2/leader'))?.value, `after ${won.revision}`);
});

test('a lease keeps its keys while kept alive; expiry and revoke delete them', async (t) => {
  if (client === null) return t.skip(ETCD_MISSING);
  const kept = await client.leaseGrant(2);
  assert.equal(kept.ttl, 2);
  await client.put('/t3/kept', 'x', { lease: kept.id });
  assert.equal((await client.get('/t3/kept'))?.lease, kept.id);
  assert.ok((await client.leaseKeepAlive(kept.id)) > 0);

  const expiring = await client.leaseGrant(1);
  await client.put('/t3/expiring', 'y', { lease: expiring.id });
  const grantedAt = Date.now();
  await waitFor(
    async () => (await client.get('/t3/expiring')) === null,
    'the expired lease to drop its key',
  );
  assert.ok(Date.now() - grantedAt >= 900, 'not before its TTL');
  assert.equal(await client.leaseKeepAlive(expiring.id), 0, 'etcd no longer has the lease');

  await client.leaseRevoke(kept.id);
  assert.equal(await client.get('/t3/kept'), null, 'revoke deletes at once');
  await client.leaseRevoke(kept.id); // a second revoke is no error
  await assert.rejects(client.put('/t3/late', 'z', { lease: kept.id }), (error) =>
    isWeirError(error),
  );
});

test('a watch sees puts and deletes under its prefix, in order, nothing outside it', async (t) => {
  if (client === null) return t.skip(ETCD_MISSING);
  const events: WatchEvent[] = [];
  let current: WatchEvent[] | null = null;
  const watch = client.watch('/t4/', (batch) => events.push(...batch));
  const withCurrent = client.watch('/t4/', (batch) => (current = batch), { withCurrent: true });
  t.after(() => {
    watch.cancel();
    withCurrent.cancel();
  });
  await waitFor(() => current !== null, 'the current values (none)');
  assert.deepEqual(current, []);

  // The plain watch starts at "now": wait until it is created by seeing a first probe put
  // (events of later probes may still arrive: they are filtered out below).
  await waitFor(async () => {
    await client.put('/t4/probe', 'p');
    return events.length > 0;
  }, 'the watch to be created');
  const put = await client.put('/t4/a', '1');
  await client.put('/t5/outside', 'no');
  const deleted = (await client.txn({ compare: [], success: [{ type: 'delete', key: '/t4/a' }] }))
    .revision;
  const seen = () => events.filter((event) => event.key !== '/t4/probe');
  await waitFor(() => seen().length >= 2, 'a put and a delete');
  assert.deepEqual(seen(), [
    { type: 'put', key: '/t4/a', value: '1', modRevision: put },
    { type: 'delete', key: '/t4/a', value: '', modRevision: deleted },
  ]);
});

test('a watch survives an etcd restart: it resumes after the last revision it delivered', async (t) => {
  if (client === null || etcd === null) return t.skip(ETCD_MISSING);
  const events: WatchEvent[] = [];
  const before = await client.put('/t6/a', 'before');
  const watch = client.watch('/t6/', (batch) => events.push(...batch), { fromRevision: before });
  t.after(() => watch.cancel());
  await waitFor(() => events.length === 1, 'the put before the restart');

  etcd.kill();
  try {
    // SIGKILL takes a moment: poll until a call fails, and it fails retriable.
    await waitFor(
      () =>
        client.get('/t6/a').then(
          () => false,
          (error: unknown) => {
            assert.ok(isWeirError(error) && error.retriable, String(error));
            return true;
          },
        ),
      'etcd to be gone',
    );
  } finally {
    await etcd.restart();
  }
  const afterRestart = await client.put('/t6/b', 'after');
  await waitFor(() => events.length === 2, 'the put after the restart');
  assert.deepEqual(
    events.map((event) => [event.key, event.value, event.modRevision]),
    [
      ['/t6/a', 'before', before],
      ['/t6/b', 'after', afterRestart],
    ],
    'each event once, in order',
  );
});

test('a watch from a compacted revision re-reads the prefix and delivers the current values', async (t) => {
  if (client === null || etcd === null) return t.skip(ETCD_MISSING);
  const first = await client.put('/t7/a', '1');
  const second = await client.put('/t7/a', '2');
  const third = await client.put('/t7/b', '3');
  await compact(etcd.endpoint, third);
  const events: WatchEvent[] = [];
  const watch = client.watch('/t7/', (batch) => events.push(...batch), { fromRevision: first });
  t.after(() => watch.cancel());
  await waitFor(() => events.length >= 2, 'the current values');
  assert.deepEqual(
    events.map((event) => [event.type, event.key, event.value, event.modRevision]),
    [
      ['put', '/t7/a', '2', second],
      ['put', '/t7/b', '3', third],
    ],
  );
  const later = await client.put('/t7/a', '4');
  await waitFor(() => events.length === 3, 'the change after the re-read');
  assert.deepEqual(events[2], { type: 'put', key: '/t7/a', value: '4', modRevision: later });
});

test('a refused connection fails CLOSED (retriable) within the request timeout', async (t) => {
  if (etcd === null) return t.skip(ETCD_MISSING);
  // Port 1 on loopback: nothing listens there. Then the live endpoint is tried in turn.
  const both = new EtcdClient(['http://127.0.0.1:1', etcd.endpoint]);
  const dead = new EtcdClient(['http://127.0.0.1:1']);
  t.after(() => {
    both.close();
    dead.close();
  });
  await both.put('/t8/a', 'x');
  assert.equal((await both.get('/t8/a'))?.value, 'x');
  await assert.rejects(dead.get('/t8/a'), (error) => isWeirError(error) && error.code === 'CLOSED');
});
