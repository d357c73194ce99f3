/**
 * Addresses that list a cluster's nodes (`weir://h1:p1,h2:p2`): how they are read (one user
 * information and scheme for all, the port defaulted host by host, a single host exactly as
 * before), what is refused (INVALID_ARGUMENT naming the host, never the password), and the
 * `leader=HOST:PORT` hint a follower's NOT_LEADER carries.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connect, WeirError } from '../../src/client/index.js';
import { HostList } from '../../src/client/host-list.js';
import { parseHostPort, parseWeirUrl, parseWeirUrlList } from '../../src/client/weir-url.js';
import { CLIENT_HOSTS_MAX, SERVER_PORT_DEFAULT } from '../../src/limits.js';
import { TEST_TIMEOUT_MS } from './client-fixture.js';

const options = { timeout: TEST_TIMEOUT_MS };

test('a single host reads exactly as parseWeirUrl reads it', options, () => {
  for (const url of [
    'weir://127.0.0.1',
    'weir://alice:p%40ss@broker.example:7000',
    'weirs://[::1]:7420/',
    'weir://al,ice:pa,ss@host:1', // commas in the user information are not a list
  ]) {
    const single = parseWeirUrl(url);
    assert.deepEqual(parseWeirUrlList(url), {
      ...single,
      addresses: [single.address],
      url: single.address.url,
    });
  }
  assert.equal(parseWeirUrlList('weir://al,ice:pa,ss@host:1').user, 'al,ice');
});

test(
  'a list of hosts: in order, the port defaulted host by host, one user and scheme for all, no password in url',
  options,
  () => {
    const list = parseWeirUrlList('weir://10.0.0.1:7420,node-b,[::1]:7440');
    assert.deepEqual(list, {
      addresses: [
        { host: '10.0.0.1', port: 7420, url: 'weir://10.0.0.1:7420' },
        { host: 'node-b', port: SERVER_PORT_DEFAULT, url: 'weir://node-b' },
        { host: '::1', port: 7440, url: 'weir://[::1]:7440' },
      ],
      url: 'weir://10.0.0.1:7420,node-b,[::1]:7440',
      secure: false,
      user: null,
      password: null,
    });
    const secure = parseWeirUrlList('weirs://al%20ice:p%40ss,w@a:1,b:2/');
    assert.equal(secure.secure, true);
    assert.equal(secure.user, 'al ice');
    assert.equal(secure.password, 'p@ss,w');
    assert.deepEqual(
      secure.addresses.map((address) => address.url),
      ['weirs://a:1', 'weirs://b:2'],
    );
    assert.equal(secure.url, 'weirs://a:1,b:2');
  },
);

test(
  'a bad list is INVALID_ARGUMENT naming the host, and its message never repeats the password',
  options,
  () => {
    const cases: [string, RegExp][] = [
      [
        'weir://alice:s3cret-pw@a:1,b:99999',
        /^host 2 \(b:99999\) of "weir:\/\/\*\*\*@a:1,b:99999" is not an address/,
      ],
      ['weir://alice:s3cret-pw@a:1,,b:2', /host 2 \(empty\) of .* names no host/],
      ['weir://alice:s3cret-pw@a:1,', /host 2 \(empty\) of .* names no host/],
      ['weir://alice:s3cret-pw@a:1,b:2/path', /has a path/],
      ['http://alice:s3cret-pw@a:1,b:2', /does not start with weir:\/\/ or weirs:\/\//],
      ['weir://alice:s3cret-pw@a:7420,b,a', /lists weir:\/\/a twice/],
      ['weir://a:1,b c:2', /host 2 \(b c:2\) of .* is not an address/],
      [`weir://${'h,'.repeat(CLIENT_HOSTS_MAX)}h`, /more than the limit/],
    ];
    for (const [url, message] of cases) {
      assert.throws(
        () => parseWeirUrlList(url),
        (error: WeirError) => {
          assert.equal(error.code, 'INVALID_ARGUMENT', url);
          assert.match(error.message, message, url);
          assert.ok(!error.message.includes('s3cret'), `no password in: ${error.message}`);
          return true;
        },
      );
    }
    assert.throws(() => parseWeirUrlList(['weir://a']), {
      code: 'INVALID_ARGUMENT',
    });
  },
);

test('connect() refuses a bad list before it connects anywhere', options, async () => {
  await assert.rejects(connect('weir://127.0.0.1:1,127.0.0.1:0'), {
    code: 'INVALID_ARGUMENT',
    message:
      /host 2 \(127\.0\.0\.1:0\) of "weir:\/\/127\.0\.0\.1:1,127\.0\.0\.1:0" has no valid port/,
  });
});

test('a leader hint is HOST:PORT at the end of a NOT_LEADER message, or nothing', options, () => {
  assert.deepEqual(parseHostPort('10.0.0.2:7430', false), {
    host: '10.0.0.2',
    port: 7430,
    url: 'weir://10.0.0.2:7430',
  });
  assert.deepEqual(parseHostPort('[fe80::1]:7430', true), {
    host: 'fe80::1',
    port: 7430,
    url: 'weirs://[fe80::1]:7430',
  });
  for (const bad of ['host', 'host:0', 'host:65536', 'host:', ':1', 'a@b:1', 'fe80::1:7430']) {
    assert.equal(parseHostPort(bad, false), null, bad);
  }
  const hosts = new HostList([{ host: 'a', port: 1, url: 'weir://a:1' }], 'weir://a:1', false);
  const hint = (code: 'NOT_LEADER' | 'CLOSED', message: string) =>
    hosts.leaderHint(new WeirError(code, message));
  assert.equal(hint('NOT_LEADER', 'this node is not the leader leader=b:2')?.url, 'weir://b:2');
  assert.equal(
    hint('NOT_LEADER', 'this node is not the leader, and no leader is elected yet'),
    null,
  );
  assert.equal(hint('NOT_LEADER', 'leader=b:2 is not at the end'), null);
  assert.equal(hint('CLOSED', 'this node is not the leader leader=b:2'), null);
});
