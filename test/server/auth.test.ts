/**
 * Authentication on the TCP port (protocol 5): a broker with users refuses a connection with no
 * credentials, a wrong password, an unknown user or a wrong token (NOT_AUTHORIZED, and the SDK
 * does not retry), lets the right password (SCRAM-SHA-256) or token in as that user, refuses an
 * address past AUTH_FAILURES_PER_ADDRESS_MAX failures even with the right password, never sends
 * the password itself, refuses a server that cannot prove it holds the user's keys, and
 * authenticates again when it reconnects.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as net from 'node:net';
import { randomBytes } from 'node:crypto';
import * as diagnostics from 'node:diagnostics_channel';
import { AUDIT_CHANNEL_NAME, Broker } from '../../src/broker/index.js';
import { connect, WeirError, type Client } from '../../src/client/index.js';
import { Reader } from '../../src/protocol/codec.js';
import { FrameDecoder, OPCODES } from '../../src/protocol/frame.js';
import {
  decodeCredentials,
  encodeCredentials,
  writeAuthChallenge,
} from '../../src/protocol/frames.js';
import {
  AUTH_FAILURE_WINDOW_MS,
  AUTH_FAILURES_PER_ADDRESS_MAX,
  FRAME_BYTES_MAX,
  PRE_HELLO_FRAME_BYTES_MAX,
} from '../../src/limits.js';
import { silentLogger, WeirServer, type ClientIdentity } from '../../src/server/index.js';
import { ManualClock } from '../../src/util/index.js';
import { encodeFrame, errorOf, RawClient } from '../helpers/raw-client.js';
import { PROTOCOL_VERSION } from '../../src/protocol/frame.js';

const PASSWORD = 'correct horse battery';
const CHEAP_COST = { N: 1024, r: 8, p: 1 };

interface Fixture {
  readonly broker: Broker;
  readonly server: WeirServer;
  readonly clock: ManualClock;
  readonly url: string;
  readonly port: number;
  /** Who connectClient was called for, in order. */
  readonly identities: ClientIdentity[];
  readonly token: string;
  readonly clients: Client[];
  close(): Promise<void>;
}

async function start(options: { users?: boolean; authenticator?: boolean } = {}): Promise<Fixture> {
  const clock = new ManualClock();
  const broker = await Broker.open({ storage: 'memory', passwordCost: CHEAP_COST, clock });
  let token = '';
  if (options.users !== false) {
    await broker.authenticator.users.add('alice', { password: PASSWORD, admin: true });
    await broker.authenticator.users.add('bob', {
      password: 'bobs password',
      allow: ['publish:orders.>'],
    });
    token = (await broker.authenticator.users.addToken('alice')).token;
  }
  const identities: ClientIdentity[] = [];
  const server = await WeirServer.listen({
    connectClient: (identity) => {
      identities.push(identity);
      return broker.connect(identity);
    },
    ...(options.authenticator === false ? {} : { authenticator: broker.authenticator }),
    port: 0,
    logger: silentLogger,
  });
  const port = server.address().port;
  const clients: Client[] = [];
  return {
    broker,
    server,
    clock,
    port,
    url: `weir://127.0.0.1:${port}`,
    identities,
    token,
    clients,
    close: async () => {
      for (const client of clients) await client.close().catch(() => undefined);
      await server.close();
      await broker.close();
    },
  };
}

/** Waits, at most 10 s, for `condition` (checked every 10 ms). */
async function waitUntil(condition: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!condition()) {
    if (Date.now() > deadline) assert.fail(`timed out: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

async function refusal(attempt: Promise<Client>): Promise<WeirError> {
  try {
    const client = await attempt;
    await client.close();
  } catch (error) {
    assert.ok(error instanceof WeirError, `a WeirError, not ${String(error)}`);
    return error;
  }
  assert.fail('the connection was accepted');
}

test('no credentials on a broker with users: NOT_AUTHORIZED, and no broker client is made', async () => {
  const fixture = await start();
  try {
    const error = await refusal(connect(fixture.url, { reconnect: false }));
    assert.equal(error.code, 'NOT_AUTHORIZED');
    assert.match(error.message, /requires credentials/);
    assert.equal(fixture.identities.length, 0, 'connectClient only after authentication');
  } finally {
    await fixture.close();
  }
});

test('a wrong password and an unknown user are refused alike; the right password gets in as that user', async () => {
  const fixture = await start();
  try {
    const wrong = await refusal(connect(fixture.url, { user: 'alice', password: 'not it at all' }));
    const unknown = await refusal(connect(fixture.url, { user: 'mallory', password: PASSWORD }));
    assert.equal(wrong.code, 'NOT_AUTHORIZED');
    assert.equal(unknown.code, 'NOT_AUTHORIZED');
    assert.equal(
      unknown.message,
      wrong.message,
      'nothing tells an unknown user from a wrong password',
    );
    assert.equal(fixture.identities.length, 0);

    const client = await connect(fixture.url, { user: 'alice', password: PASSWORD });
    fixture.clients.push(client);
    assert.equal((await client.users.whoami()).user, 'alice');
    assert.equal(fixture.identities.length, 1);
    assert.equal(fixture.identities[0]!.principal.user, 'alice');
    assert.equal(fixture.identities[0]!.remote, '127.0.0.1', 'the address, without the port');
  } finally {
    await fixture.close();
  }
});

test('weir://user:password@host (percent-encoded) authenticates; the principal limits what the connection may do', async () => {
  const fixture = await start();
  try {
    await fixture.broker.authenticator.users.setPassword('bob', 'p@ss:w/rd%');
    const admin = await connect(
      `weir://alice:${encodeURIComponent(PASSWORD)}@127.0.0.1:${fixture.port}`,
    );
    fixture.clients.push(admin);
    await admin.streams.create('orders', { subjects: ['orders.>', 'billing.>'] });
    const bob = await connect(
      `weir://bob:${encodeURIComponent('p@ss:w/rd%')}@127.0.0.1:${fixture.port}`,
    );
    fixture.clients.push(bob);
    assert.equal((await bob.users.whoami()).user, 'bob');
    const receipt = await bob.publish('orders.eu', 'allowed');
    assert.equal(receipt.streams[0]!.stream, 'orders');
    // The broker checks every frame against the principal the handshake proved.
    await assert.rejects(bob.publish('billing.eu', 'not allowed'), { code: 'NOT_AUTHORIZED' });
    await assert.rejects(bob.streams.delete('orders'), { code: 'NOT_AUTHORIZED' });
    await assert.rejects(bob.users.list(), { code: 'NOT_AUTHORIZED' });
    assert.equal((await admin.users.list()).length, 2);
  } finally {
    await fixture.close();
  }
});

test('a token gets in as its user; a wrong token is refused', async () => {
  const fixture = await start();
  try {
    const client = await connect(fixture.url, { token: fixture.token });
    fixture.clients.push(client);
    assert.equal((await client.users.whoami()).user, 'alice');
    const forged = fixture.token.slice(0, -4) + 'AAAA';
    const error = await refusal(connect(fixture.url, { token: forged }));
    assert.equal(error.code, 'NOT_AUTHORIZED');
    const garbage = await refusal(connect(fixture.url, { token: 'weir_nope' }));
    assert.equal(garbage.code, 'NOT_AUTHORIZED');
  } finally {
    await fixture.close();
  }
});

test(`after ${AUTH_FAILURES_PER_ADDRESS_MAX} failures in a minute an address is refused even with the right password, until the window ends`, async () => {
  const fixture = await start();
  try {
    for (let attempt = 0; attempt < AUTH_FAILURES_PER_ADDRESS_MAX; attempt++) {
      const error = await refusal(
        connect(fixture.url, { user: 'alice', password: `wrong ${attempt}!` }),
      );
      assert.equal(error.code, 'NOT_AUTHORIZED');
      assert.match(error.message, /wrong credentials/);
    }
    const blocked = await refusal(connect(fixture.url, { user: 'alice', password: PASSWORD }));
    assert.equal(blocked.code, 'NOT_AUTHORIZED');
    assert.match(blocked.message, /too many failed authentications/);
    const blockedToken = await refusal(connect(fixture.url, { token: fixture.token }));
    assert.match(blockedToken.message, /too many failed authentications/);
    assert.equal(fixture.identities.length, 0);

    fixture.clock.advance(AUTH_FAILURE_WINDOW_MS);
    const client = await connect(fixture.url, { user: 'alice', password: PASSWORD });
    fixture.clients.push(client);
    assert.equal((await client.users.whoami()).user, 'alice');
  } finally {
    await fixture.close();
  }
});

/** A TCP proxy that records every byte the client sends. */
async function recordingProxy(
  targetPort: number,
): Promise<{ port: number; sent: Buffer[]; close(): Promise<void> }> {
  const sent: Buffer[] = [];
  const sockets = new Set<net.Socket>();
  const proxy = net.createServer((inbound) => {
    const outbound = net.connect(targetPort, '127.0.0.1');
    for (const socket of [inbound, outbound]) {
      sockets.add(socket);
      socket.on('error', () => undefined);
      socket.on('close', () => sockets.delete(socket));
    }
    inbound.on('data', (chunk: Buffer) => {
      sent.push(Buffer.from(chunk));
      outbound.write(chunk);
    });
    outbound.pipe(inbound);
    inbound.on('close', () => outbound.destroy());
    outbound.on('close', () => inbound.destroy());
  });
  await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
  return {
    port: (proxy.address() as net.AddressInfo).port,
    sent,
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => proxy.close(() => resolve()));
    },
  };
}

test('the password never crosses the wire: the bytes the SDK sends contain neither it nor its UTF-16 form', async () => {
  const fixture = await start();
  const proxy = await recordingProxy(fixture.port);
  try {
    const client = await connect(`weir://127.0.0.1:${proxy.port}`, {
      user: 'alice',
      password: PASSWORD,
    });
    fixture.clients.push(client);
    assert.equal(
      (await client.users.whoami()).user,
      'alice',
      'the exchange went through the proxy',
    );
    const sent = Buffer.concat(proxy.sent);
    assert.ok(sent.length > 0);
    assert.equal(sent.indexOf(PASSWORD), -1, 'the password is not in what the client sent');
    assert.equal(sent.indexOf(Buffer.from(PASSWORD, 'utf16le')), -1);
    assert.notEqual(sent.indexOf('alice'), -1, 'the user name is (SCRAM sends it)');
  } finally {
    await proxy.close();
    await fixture.close();
  }
});

/**
 * A server posing as Weir: it answers a SCRAM HELLO with a well-formed challenge, then welcomes
 * the proof with `signature` (it holds no keys, so it cannot make the right one).
 */
async function impostor(
  signature: Uint8Array | null,
): Promise<{ port: number; proofs: number; close(): Promise<void> }> {
  const sockets = new Set<net.Socket>();
  const state = { proofs: 0 };
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => undefined);
    const decoder = new FrameDecoder(FRAME_BYTES_MAX, (frame) => {
      const reader = new Reader(frame.payload);
      if (frame.opcode === OPCODES.HELLO) {
        reader.u16();
        reader.text();
        const credentials = decodeCredentials(reader.bytes());
        assert.equal(credentials.kind, 'scram');
        const nonce = credentials.kind === 'scram' ? credentials.clientNonce : '';
        socket.write(
          encodeFrame(OPCODES.AUTH_CHALLENGE, frame.requestId, (writer) =>
            writeAuthChallenge(writer, {
              nonce: nonce + 'server',
              salt: randomBytes(16),
              cost: CHEAP_COST,
            }),
          ),
        );
      } else if (frame.opcode === OPCODES.AUTH_PROOF) {
        state.proofs++;
        socket.write(
          encodeFrame(OPCODES.HELLO_OK, frame.requestId, (writer) =>
            writer
              .u16(PROTOCOL_VERSION)
              .string('impostor')
              .u32(5000)
              .u32(FRAME_BYTES_MAX)
              .bytes(signature),
          ),
        );
      }
    });
    socket.on('data', (chunk: Buffer) => decoder.push(chunk));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    get proofs() {
      return state.proofs;
    },
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

test('the SDK refuses a server that cannot prove it holds the keys: a wrong or a missing SCRAM signature', async () => {
  for (const signature of [randomBytes(32), null]) {
    const fake = await impostor(signature);
    try {
      const error = await refusal(
        connect(`weir://127.0.0.1:${fake.port}`, {
          user: 'alice',
          password: PASSWORD,
          reconnect: false,
        }),
      );
      assert.equal(error.code, 'NOT_AUTHORIZED');
      assert.match(error.message, /did not prove it knows the password/);
      assert.equal(fake.proofs, 1, 'the exchange got as far as the proof');
    } finally {
      await fake.close();
    }
  }
});

test('a reconnect authenticates again; once the password changed, the refused reconnect ends the client', async () => {
  const fixture = await start();
  let server2: WeirServer | null = null;
  const refusals: Record<string, unknown>[] = [];
  const audits = diagnostics.channel(AUDIT_CHANNEL_NAME);
  const onAudit = (event: unknown) => {
    const fields = event as Record<string, unknown>;
    if (fields.outcome === 'refused') refusals.push(fields);
  };
  audits.subscribe(onAudit);
  try {
    const client = await connect(fixture.url, { user: 'alice', password: PASSWORD });
    fixture.clients.push(client);
    await client.streams.create('jobs', { subjects: ['jobs.>'] });
    // Cut every connection: the SDK reconnects by itself, with SCRAM again.
    await fixture.server.close();
    server2 = await WeirServer.listen({
      connectClient: (identity) => {
        fixture.identities.push(identity);
        return fixture.broker.connect(identity);
      },
      authenticator: fixture.broker.authenticator,
      port: fixture.port,
      logger: silentLogger,
    });
    await waitUntil(() => fixture.identities.length === 2, 'the SDK reconnects');
    const receipt = await client.publish('jobs.1', 'after the reconnect');
    assert.equal(receipt.streams[0]!.stream, 'jobs');
    assert.deepEqual(
      fixture.identities.map((identity: ClientIdentity) => identity.principal.user),
      ['alice', 'alice'],
    );

    await fixture.broker.authenticator.users.setPassword('alice', 'a brand new password');
    await server2.close();
    server2 = await WeirServer.listen({
      connectClient: (identity) => fixture.broker.connect(identity),
      authenticator: fixture.broker.authenticator,
      port: fixture.port,
      logger: silentLogger,
    });
    // Sent before the SDK saw the close it fails CLOSED; queued after, NOT_AUTHORIZED.
    const outcome = await client.publish('jobs.2', 'refused').then(
      () => null,
      (error: unknown) => error,
    );
    assert.ok(outcome instanceof WeirError && ['CLOSED', 'NOT_AUTHORIZED'].includes(outcome.code));
    await waitUntil(() => client.closed, 'the client gives up');
    assert.ok(
      refusals.some((event) => event.user === 'alice' && event.door === 'tcp'),
      'the reconnect was refused for its credentials (audited)',
    );
    await assert.rejects(client.publish('jobs.3', 'closed'), { code: 'CLOSED' });
  } finally {
    audits.unsubscribe(onAudit);
    for (const client of fixture.clients) await client.close();
    await server2?.close();
    await fixture.broker.close();
  }
});

test('on a server without users: no credentials and a token are let in open; a password is refused with why', async () => {
  for (const authenticator of [true, false]) {
    const fixture = await start({ users: false, authenticator });
    try {
      const open = await connect(fixture.url);
      fixture.clients.push(open);
      assert.equal((await open.users.whoami()).admin, true);
      const withToken = await connect(fixture.url, { token: 'weir_any_thing' });
      fixture.clients.push(withToken);
      const error = await refusal(connect(fixture.url, { user: 'alice', password: PASSWORD }));
      assert.equal(error.code, 'NOT_AUTHORIZED');
      assert.match(error.message, /has no users/);
    } finally {
      await fixture.close();
    }
  }
});

test('the handshake is strict: AUTH_PROOF before HELLO, other frames before HELLO_OK and big frames during SCRAM close the connection', async () => {
  const fixture = await start();
  try {
    const early = await RawClient.connect(fixture.port);
    early.send(encodeFrame(OPCODES.AUTH_PROOF, 1, (writer) => writer.bytes(randomBytes(32))));
    assert.equal(
      errorOf(await early.waitFor((frame) => frame.opcode === OPCODES.ERROR)).code,
      'PROTOCOL_ERROR',
    );
    await early.waitClosed();

    const scramHello = (raw: RawClient) =>
      raw.send(
        encodeFrame(OPCODES.HELLO, 1, (writer) =>
          writer
            .u16(PROTOCOL_VERSION)
            .string('raw')
            .bytes(encodeCredentials({ kind: 'scram', user: 'alice', clientNonce: 'abc' })),
        ),
      );
    const publishing = await RawClient.connect(fixture.port);
    scramHello(publishing);
    await publishing.waitFor((frame) => frame.opcode === OPCODES.AUTH_CHALLENGE);
    publishing.send(
      encodeFrame(OPCODES.CALL, 2, (writer) => writer.string('streams.list').string('[]')),
    );
    assert.equal(
      errorOf(await publishing.waitFor((frame) => frame.opcode === OPCODES.ERROR)).code,
      'PROTOCOL_ERROR',
    );
    await publishing.waitClosed();

    const big = await RawClient.connect(fixture.port);
    scramHello(big);
    await big.waitFor((frame) => frame.opcode === OPCODES.AUTH_CHALLENGE);
    big.send(
      encodeFrame(OPCODES.AUTH_PROOF, 2, (writer) =>
        writer.bytes(new Uint8Array(PRE_HELLO_FRAME_BYTES_MAX)),
      ),
    );
    const error = errorOf(await big.waitFor((frame) => frame.opcode === OPCODES.ERROR));
    assert.equal(error.code, 'PROTOCOL_ERROR');
    assert.match(error.message, /outside/);
    await big.waitClosed();

    const badNonce = await RawClient.connect(fixture.port);
    badNonce.send(
      encodeFrame(OPCODES.HELLO, 1, (writer) =>
        writer
          .u16(PROTOCOL_VERSION)
          .string('raw')
          .bytes(encodeCredentials({ kind: 'scram', user: 'alice', clientNonce: 'a,b' })),
      ),
    );
    assert.equal(
      errorOf(await badNonce.waitFor((frame) => frame.opcode === OPCODES.ERROR)).code,
      'PROTOCOL_ERROR',
    );
    await badNonce.waitClosed();

    const wrongProof = await RawClient.connect(fixture.port);
    scramHello(wrongProof);
    await wrongProof.waitFor((frame) => frame.opcode === OPCODES.AUTH_CHALLENGE);
    wrongProof.send(encodeFrame(OPCODES.AUTH_PROOF, 7, (writer) => writer.bytes(randomBytes(32))));
    const refused = await wrongProof.waitFor((frame) => frame.opcode === OPCODES.ERROR);
    assert.equal(refused.requestId, 7, "the refusal answers the proof's request");
    assert.equal(errorOf(refused).code, 'NOT_AUTHORIZED');
    await wrongProof.waitClosed();
    assert.equal(fixture.identities.length, 0);
  } finally {
    await fixture.close();
  }
});

test('heartbeats during a slow SCRAM exchange do not break the handshake', async () => {
  // scrypt at p = 16 takes some 800 ms here (more on a busy machine); the server pings every
  // 100 ms meanwhile and gives up after 300 ms of silence, so the exchange spans several pings
  // and only a client that answers them during it gets through. (A 10 ms heartbeat broke on
  // event-loop stalls of a loaded machine, not on the exchange.)
  const broker = await Broker.open({ storage: 'memory', passwordCost: { N: 16_384, r: 8, p: 16 } });
  await broker.authenticator.users.add('alice', { password: PASSWORD });
  const server = await WeirServer.listen({
    connectClient: (identity) => broker.connect(identity),
    authenticator: broker.authenticator,
    heartbeatIntervalMs: 100,
    port: 0,
    logger: silentLogger,
  });
  try {
    const started = Date.now();
    const client = await connect(`weir://127.0.0.1:${server.address().port}`, {
      user: 'alice',
      password: PASSWORD,
      reconnect: false,
    });
    // The exchange outlasted the server's patience for silence: the heartbeats were answered.
    assert.ok(Date.now() - started > 300, `the exchange took ${Date.now() - started} ms`);
    assert.equal((await client.users.whoami()).user, 'alice');
    await client.close();
  } finally {
    await server.close();
    await broker.close();
  }
});
