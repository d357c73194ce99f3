/**
 * TLS on the TCP port, with certificates the test makes itself (openssl; skipped, saying so,
 * when openssl is missing): weirs:// end to end with SCRAM over it, a client that does not
 * trust the certificate is refused, a required client certificate (`tls.ca`) is enforced, and
 * a plain client on a TLS port or a TLS client on a plain port fails cleanly — CLOSED with a
 * message that says what happened, within a bound — while the server goes on serving.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as tls from 'node:tls';
import { Broker } from '../../src/broker/index.js';
import { connect, WeirError, type Client, type ConnectOptions } from '../../src/client/index.js';
import { silentLogger, WeirServer, type ServerTlsOptions } from '../../src/server/index.js';
import {
  makeCertificates,
  opensslMissing,
  type TestCertificates,
} from '../helpers/certificates.js';
import {
  createTemporaryDirectory,
  type TemporaryDirectory,
} from '../helpers/temporary-directory.js';

const PASSWORD = 'correct horse battery';
/** A failure must be reported within this (the SDK's connect timeout is far longer). */
const FAILS_WITHIN_MS = 5_000;

const missing = await opensslMissing();
let directory: TemporaryDirectory | null = null;
let certificates: TestCertificates | null = null;

before(async () => {
  if (missing !== null) return;
  directory = await createTemporaryDirectory('weir-tls-test-');
  certificates = await makeCertificates(directory.path);
});

after(async () => {
  await directory?.remove();
});

function certs(): TestCertificates {
  assert.ok(certificates !== null, 'made in before()');
  return certificates;
}

async function withServer(
  tlsOptions: ServerTlsOptions | undefined,
  body: (port: number, broker: Broker) => Promise<void>,
): Promise<void> {
  const broker = await Broker.open({ storage: 'memory', passwordCost: { N: 1024, r: 8, p: 1 } });
  await broker.authenticator.users.add('alice', { password: PASSWORD, admin: true });
  const server = await WeirServer.listen({
    connectClient: (identity) => broker.connect(identity),
    authenticator: broker.authenticator,
    ...(tlsOptions === undefined ? {} : { tls: tlsOptions }),
    port: 0,
    logger: silentLogger,
  });
  try {
    await body(server.address().port, broker);
  } finally {
    await server.close();
    await broker.close();
  }
}

/** Connects, runs a round trip, closes; resolves with the client's user. */
async function roundTrip(url: string, options: ConnectOptions): Promise<string | null> {
  const client: Client = await connect(url, { reconnect: false, ...options });
  try {
    await client.streams.create('secure', { subjects: ['secure.>'] }).catch((error: unknown) => {
      if (!(error instanceof WeirError && error.code === 'STREAM_EXISTS')) throw error;
    });
    const subscription = await client.subscribe('secure', { subscription: 'reader' });
    await client.publish('secure.hello', 'over TLS');
    const message = await subscription.receive({ timeoutMs: FAILS_WITHIN_MS });
    assert.ok(message !== null, 'the message came back');
    assert.equal(new TextDecoder().decode(message.body), 'over TLS');
    await message.ack();
    await subscription.close();
    return (await client.users.whoami()).user;
  } finally {
    await client.close();
  }
}

/** The failure of a connect that must fail, and how long it took. */
async function failure(attempt: Promise<Client>): Promise<{ error: WeirError; ms: number }> {
  const started = Date.now();
  try {
    const client = await attempt;
    await client.close();
  } catch (error) {
    assert.ok(error instanceof WeirError, `a WeirError, not ${String(error)}`);
    return { error, ms: Date.now() - started };
  }
  assert.fail('the connection was accepted');
}

const skip = missing ?? false;

test(
  'weirs:// end to end: SCRAM over TLS, publish and consume, with a CA the test made',
  { skip },
  async () => {
    await withServer({ cert: certs().serverCert, key: certs().serverKey }, async (port) => {
      const user = await roundTrip(
        `weirs://alice:${encodeURIComponent(PASSWORD)}@127.0.0.1:${port}`,
        {
          tls: { ca: certs().caCert },
        },
      );
      assert.equal(user, 'alice');
      // The tls option with weir:// means TLS too, and localhost is checked against the certificate.
      const again = await roundTrip(`weir://localhost:${port}`, {
        user: 'alice',
        password: PASSWORD,
        tls: { ca: certs().caCert },
      });
      assert.equal(again, 'alice');
    });
  },
);

test(
  'a client that does not trust the certificate is refused (CLOSED, why), and the server serves the next one',
  { skip },
  async () => {
    await withServer({ cert: certs().serverCert, key: certs().serverKey }, async (port) => {
      const { error, ms } = await failure(
        connect(`weirs://127.0.0.1:${port}`, {
          user: 'alice',
          password: PASSWORD,
          reconnect: false,
        }),
      );
      assert.equal(error.code, 'CLOSED');
      assert.match(error.message, /TLS handshake failed: UNABLE_TO_VERIFY_LEAF_SIGNATURE/);
      assert.ok(ms < FAILS_WITHIN_MS, `failed in ${ms} ms`);
      const wrongName = await failure(
        connect(`weirs://127.0.0.1:${port}`, {
          user: 'alice',
          password: PASSWORD,
          tls: { ca: certs().caCert, servername: 'elsewhere.example' },
          reconnect: false,
        }),
      );
      assert.match(wrongName.error.message, /ERR_TLS_CERT_ALTNAME_INVALID/);
      assert.equal(
        await roundTrip(`weirs://127.0.0.1:${port}`, {
          user: 'alice',
          password: PASSWORD,
          tls: { ca: certs().caCert },
        }),
        'alice',
      );
    });
  },
);

test('with tls.ca a client certificate signed by it is required', { skip }, async () => {
  const serverTls = { cert: certs().serverCert, key: certs().serverKey, ca: certs().caCert };
  await withServer(serverTls, async (port) => {
    const url = `weirs://127.0.0.1:${port}`;
    const { error, ms } = await failure(
      connect(url, {
        user: 'alice',
        password: PASSWORD,
        tls: { ca: certs().caCert },
        reconnect: false,
      }),
    );
    assert.equal(error.code, 'CLOSED', 'no client certificate: the TLS handshake fails');
    assert.match(error.message, /CERTIFICATE_REQUIRED/);
    assert.ok(ms < FAILS_WITHIN_MS, `failed in ${ms} ms`);
    // The server's own certificate is signed by the CA but is not for client authentication.
    const serverAsClient = await failure(
      connect(url, {
        user: 'alice',
        password: PASSWORD,
        tls: { ca: certs().caCert, cert: certs().serverCert, key: certs().serverKey },
        reconnect: false,
      }),
    );
    assert.equal(serverAsClient.error.code, 'CLOSED');
    const user = await roundTrip(url, {
      user: 'alice',
      password: PASSWORD,
      tls: { ca: certs().caCert, cert: certs().clientCert, key: certs().clientKey },
    });
    assert.equal(user, 'alice');
  });
});

test(
  'a plain-TCP client on a TLS port fails cleanly and in bounded time; the server is unharmed',
  { skip },
  async () => {
    await withServer({ cert: certs().serverCert, key: certs().serverKey }, async (port) => {
      for (let attempt = 0; attempt < 3; attempt++) {
        const { error, ms } = await failure(
          connect(`weir://127.0.0.1:${port}`, {
            user: 'alice',
            password: PASSWORD,
            reconnect: false,
          }),
        );
        assert.equal(error.code, 'CLOSED');
        assert.match(
          error.message,
          /if that port speaks TLS, use a weirs:\/\/ address|answered in TLS: use a weirs:\/\/ address/,
        );
        assert.ok(ms < FAILS_WITHIN_MS, `failed in ${ms} ms`);
      }
      assert.equal(
        await roundTrip(`weirs://127.0.0.1:${port}`, {
          user: 'alice',
          password: PASSWORD,
          tls: { ca: certs().caCert },
        }),
        'alice',
      );
    });
  },
);

test(
  'a TLS client on a plain port fails cleanly and in bounded time; the server is unharmed',
  { skip },
  async () => {
    await withServer(undefined, async (port) => {
      for (let attempt = 0; attempt < 3; attempt++) {
        const { error, ms } = await failure(
          connect(`weirs://127.0.0.1:${port}`, {
            user: 'alice',
            password: PASSWORD,
            tls: { ca: certs().caCert },
            reconnect: false,
          }),
        );
        assert.equal(error.code, 'CLOSED');
        assert.match(error.message, /TLS handshake failed: ERR_SSL_WRONG_VERSION_NUMBER/);
        assert.ok(ms < FAILS_WITHIN_MS, `failed in ${ms} ms`);
      }
      // A bare TLS socket too (not the SDK): the server answers and closes, it does not hang.
      const started = Date.now();
      const outcome = await new Promise<string>((resolve) => {
        const socket = tls.connect({ host: '127.0.0.1', port, ca: certs().caCert });
        socket.once('secureConnect', () => resolve('connected'));
        socket.once('error', (error: Error & { code?: string }) =>
          resolve(error.code ?? error.message),
        );
      });
      assert.notEqual(outcome, 'connected');
      assert.ok(Date.now() - started < FAILS_WITHIN_MS);
      assert.equal(
        await roundTrip(`weir://127.0.0.1:${port}`, { user: 'alice', password: PASSWORD }),
        'alice',
      );
    });
  },
);
