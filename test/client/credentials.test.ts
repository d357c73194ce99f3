/**
 * The SDK's side of authentication, without a broker: how addresses and connect options are
 * read (user information percent-decoded, never echoed in a message; INVALID_ARGUMENT naming
 * the field), what HELLO carries for each kind of credentials, the SCRAM client's checks on a
 * challenge and its SaltedPassword cache, and a server that answers in TLS.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type AddressInfo, type Socket } from 'node:net';
import { randomBytes } from 'node:crypto';
import { connect, type WeirError } from '../../src/client/index.js';
import { checkConnectOptions } from '../../src/client/argument-checks.js';
import { PasswordCredentials } from '../../src/client/client-credentials.js';
import { parseWeirUrl } from '../../src/client/weir-url.js';
import { Reader } from '../../src/protocol/codec.js';
import { FrameDecoder, OPCODES } from '../../src/protocol/frame.js';
import { decodeCredentials } from '../../src/protocol/frames.js';
import {
  authMessage,
  deriveScramKeys,
  serverSignature,
  verifyClientProof,
} from '../../src/protocol/scram.js';
import { FRAME_BYTES_MAX, SERVER_PORT_DEFAULT } from '../../src/limits.js';
import { TEST_TIMEOUT_MS } from './client-fixture.js';

const options = { timeout: TEST_TIMEOUT_MS };
const CHEAP_COST = { N: 1024, r: 8, p: 1 };

test(
  'weir:// and weirs:// addresses: user and password percent-decoded, the port defaulted, the password kept out of url',
  options,
  () => {
    const plain = parseWeirUrl('weir://127.0.0.1');
    assert.deepEqual(plain, {
      address: { host: '127.0.0.1', port: SERVER_PORT_DEFAULT, url: 'weir://127.0.0.1' },
      secure: false,
      user: null,
      password: null,
    });
    const secure = parseWeirUrl('weirs://al%20ice:p%40ss%3Aw%2Frd@broker.example:7000');
    assert.equal(secure.secure, true);
    assert.equal(secure.user, 'al ice');
    assert.equal(secure.password, 'p@ss:w/rd');
    assert.deepEqual(secure.address, {
      host: 'broker.example',
      port: 7000,
      url: 'weirs://broker.example:7000',
    });
    const userOnly = parseWeirUrl('weir://alice@[::1]:7420');
    assert.equal(userOnly.user, 'alice');
    assert.equal(userOnly.password, null);
    assert.equal(userOnly.address.host, '::1');
  },
);

test(
  'a bad address is INVALID_ARGUMENT, and its message never repeats the password',
  options,
  () => {
    for (const url of [
      'http://alice:s3cret-pw@host:1',
      'weir://alice:s3cret-pw@host:1/path',
      'weir://alice:s3cret-pw@host:99999',
      'weir://alice:s3cret-pw%zz@host:1',
      'weir://alice:s3cret-pw@',
    ]) {
      assert.throws(
        () => parseWeirUrl(url),
        (error: WeirError) => {
          assert.equal(error.code, 'INVALID_ARGUMENT', url);
          assert.ok(!error.message.includes('s3cret'), `no password in: ${error.message}`);
          return true;
        },
      );
    }
    assert.throws(() => parseWeirUrl('weir://:s3cret-pw@host:1'), /password but no user/);
  },
);

test(
  'connect options: credentials from the address or the options (options win), each refusal names its field',
  options,
  () => {
    const fromUrl = checkConnectOptions({}, { secure: false, user: 'alice', password: 'from-url' });
    assert.equal(fromUrl.credentials.kind, 'password');
    assert.equal(
      fromUrl.credentials.kind === 'password' && fromUrl.credentials.password.user,
      'alice',
    );
    const overridden = checkConnectOptions(
      { user: 'bob', password: 'from-options' },
      { secure: false, user: 'alice', password: 'x' },
    );
    assert.equal(
      overridden.credentials.kind === 'password' && overridden.credentials.password.user,
      'bob',
    );
    assert.deepEqual(checkConnectOptions({ token: 'weir_a_b' }).credentials, {
      kind: 'token',
      token: 'weir_a_b',
    });
    assert.deepEqual(checkConnectOptions({}).credentials, { kind: 'none' });
    assert.equal(checkConnectOptions({}).tls, null);
    assert.deepEqual(checkConnectOptions({}, { secure: true, user: null, password: null }).tls, {});
    assert.deepEqual(checkConnectOptions({ tls: { ca: 'PEM', servername: 'x' } }).tls, {
      ca: 'PEM',
      servername: 'x',
    });

    const refusals: [unknown, RegExp][] = [
      [{ user: 'alice' }, /^user needs a password/],
      [{ password: 'lonely-password' }, /^password needs a user/],
      [{ user: 'alice', password: 'pw-pw-pw', token: 'weir_a_b' }, /^token: give either/],
      [{ user: 42, password: 'pw' }, /^user must be/],
      [{ user: 'alice', password: '' }, /^password must be/],
      [{ token: '' }, /^token must be/],
      [{ token: 'x'.repeat(2000) }, /^token must be .* at most 1024 bytes/],
      [{ credentials: 'old' }, /^credentials was removed/],
      [{ tls: true }, /^tls must be an object/],
      [{ tls: { cert: 'PEM' } }, /^tls.cert and tls.key go together/],
      [{ tls: { ca: 7 } }, /^tls.ca must be PEM/],
      [{ tls: { rejectUnauthorized: 'no' } }, /^tls.rejectUnauthorized must be/],
      [{ tls: { verify: false } }, /^tls.verify is not an option/],
    ];
    for (const [input, message] of refusals) {
      assert.throws(
        () => checkConnectOptions(input),
        (error: WeirError) => error.code === 'INVALID_ARGUMENT' && message.test(error.message),
        JSON.stringify(input),
      );
    }
  },
);

test(
  'SCRAM client: a proof the server accepts, the signature it must show, and one scrypt per salt',
  options,
  async () => {
    const keys = await deriveScramKeys('the password', CHEAP_COST);
    const credentials = new PasswordCredentials('alice', 'the password');
    for (let round = 0; round < 3; round++) {
      const exchange = credentials.start();
      const nonce = exchange.clientNonce + 'server' + round;
      const { proof, serverSignature: expected } = await credentials.prove(exchange, {
        nonce,
        salt: keys.salt,
        cost: keys.cost,
      });
      const message = authMessage('alice', exchange.clientNonce, nonce, keys.salt, keys.cost);
      assert.ok(verifyClientProof(keys, message, proof), 'the server accepts the proof');
      assert.deepEqual(Buffer.from(expected), serverSignature(keys, message));
    }
    assert.equal(credentials.derivations, 1, 'reconnects reuse the SaltedPassword');
    const changed = await deriveScramKeys('the password', CHEAP_COST); // a new salt
    const exchange = credentials.start();
    await credentials.prove(exchange, {
      nonce: exchange.clientNonce + 's',
      salt: changed.salt,
      cost: changed.cost,
    });
    assert.equal(credentials.derivations, 2, 'a new salt derives again');
    assert.notEqual(
      credentials.start().clientNonce,
      credentials.start().clientNonce,
      'a fresh nonce each time',
    );
  },
);

test(
  'SCRAM client: a challenge that does not extend our nonce, has no salt or asks a huge scrypt cost is refused at once',
  options,
  () => {
    const credentials = new PasswordCredentials('alice', 'the password');
    const exchange = credentials.start();
    const salt = randomBytes(16);
    const bad = [
      { nonce: 'someone-else' + 'x', salt, cost: CHEAP_COST },
      { nonce: exchange.clientNonce, salt, cost: CHEAP_COST },
      { nonce: exchange.clientNonce + 'x', salt: new Uint8Array(0), cost: CHEAP_COST },
      { nonce: exchange.clientNonce + 'x', salt, cost: { N: 1_048_576, r: 32, p: 1 } },
      { nonce: exchange.clientNonce + 'x', salt, cost: { N: 1000, r: 8, p: 1 } },
    ];
    for (const challenge of bad) {
      assert.throws(() => credentials.prove(exchange, challenge), { code: 'PROTOCOL_ERROR' });
    }
    assert.equal(credentials.derivations, 0);
  },
);

/** A server that records HELLO's credentials and answers every HELLO with `answer`. */
async function answering(answer: (socket: Socket, requestId: number) => void) {
  const credentials: unknown[] = [];
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => undefined);
    const decoder = new FrameDecoder(FRAME_BYTES_MAX, (frame) => {
      if (frame.opcode !== OPCODES.HELLO) return;
      const reader = new Reader(frame.payload);
      reader.u16();
      reader.text();
      credentials.push(decodeCredentials(reader.bytes()));
      answer(socket, frame.requestId);
    });
    socket.on('data', (chunk: Buffer) => decoder.push(chunk));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `weir://127.0.0.1:${(server.address() as AddressInfo).port}`,
    credentials,
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

test(
  'HELLO carries a token as is and a user with a nonce for SCRAM; never a password',
  options,
  async () => {
    const server = await answering((socket) => socket.destroy());
    try {
      await assert.rejects(connect(server.url, { token: 'weir_id_secret', reconnect: false }), {
        code: 'CLOSED',
      });
      await assert.rejects(
        connect(server.url, { user: 'alice', password: 'the password', reconnect: false }),
        { code: 'CLOSED' },
      );
      await assert.rejects(connect(server.url, { reconnect: false }), { code: 'CLOSED' });
      assert.deepEqual(server.credentials[0], { kind: 'token', token: 'weir_id_secret' });
      const scram = server.credentials[1] as { kind: string; user: string; clientNonce: string };
      assert.equal(scram.kind, 'scram');
      assert.equal(scram.user, 'alice');
      assert.match(scram.clientNonce, /^[\w-]{20,}$/);
      assert.deepEqual(server.credentials[2], { kind: 'none' });
    } finally {
      await server.close();
    }
  },
);

test(
  'a server that answers HELLO in TLS (an alert record) is named so: CLOSED, use weirs://',
  options,
  async () => {
    // A TLS alert record: content type 21, version 3.3, length 2, fatal, unexpected_message.
    const server = await answering((socket) => socket.end(Buffer.from([21, 3, 3, 0, 2, 2, 10])));
    try {
      await assert.rejects(connect(server.url, { reconnect: false }), (error: WeirError) => {
        assert.equal(error.code, 'CLOSED');
        assert.match(error.message, /answered in TLS: use a weirs:\/\/ address/);
        return true;
      });
    } finally {
      await server.close();
    }
  },
);
