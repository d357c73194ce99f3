/**
 * The AMQP handshake (amqp-connection.ts): the protocol header, logins (PLAIN, AMQPLAIN, the
 * open broker's guest rule), the virtual host and tune-ok's limits.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import amqp from 'amqplib';
import { AMQP_PROTOCOL_HEADER } from '../../src/amqp/codec/index.js';
import { AMQP_FRAME_MAX, AMQP_HANDSHAKE_TIMEOUT_MS } from '../../src/limits.js';
import { argumentsOf, plainResponse, waitUntil, withAmqp, within } from './amqp-harness.js';

const PASSWORD = 'correct horse battery staple';

test('a wrong protocol header gets AMQP 0-9-1 header back and the socket is closed', async () => {
  await withAmqp(async (fixture) => {
    const raw = await fixture.raw();
    raw.write(Buffer.from('AMQP\u0001\u0001\u0000\u000a', 'latin1'));
    await raw.waitClosed();
    assert.deepEqual(Buffer.concat(raw.received), Buffer.from(AMQP_PROTOCOL_HEADER));
    assert.deepEqual([...AMQP_PROTOCOL_HEADER], [0x41, 0x4d, 0x51, 0x50, 0, 0, 9, 1]);
  });
});

test('HTTP instead of AMQP gets the AMQP header back and the socket is closed', async () => {
  await withAmqp(async (fixture) => {
    const raw = await fixture.raw();
    raw.write(Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n', 'latin1'));
    await raw.waitClosed();
    assert.deepEqual(Buffer.concat(raw.received), Buffer.from(AMQP_PROTOCOL_HEADER));
  });
});

// The timeout is not configurable (AMQP_HANDSHAKE_TIMEOUT_MS, 10 s): this test takes that long.
test('a client that stalls after connection.start is dropped after AMQP_HANDSHAKE_TIMEOUT_MS, not before', async () => {
  await withAmqp(async (fixture) => {
    const raw = await fixture.raw();
    const startedMs = Date.now();
    raw.sendHeader();
    await raw.expect('connection.start');
    await raw.waitClosed(AMQP_HANDSHAKE_TIMEOUT_MS + 5_000);
    const elapsedMs = Date.now() - startedMs;
    assert.ok(elapsedMs >= AMQP_HANDSHAKE_TIMEOUT_MS - 50, `dropped after ${elapsedMs} ms`);
    assert.equal(raw.find('connection.tune'), undefined);
    await waitUntil(
      'the connection to leave the server',
      () => fixture.server.connections().length === 0,
    );
  });
});

test('with users: PLAIN with the right password connects, a wrong password is refused with 403 ACCESS_REFUSED', async () => {
  await withAmqp(async (fixture) => {
    await fixture.broker.authenticator.users.add('alice', { password: PASSWORD, admin: true });
    const good = await fixture.connect({ username: 'alice', password: PASSWORD });
    const channel = await good.createChannel();
    const declared = await channel.assertQueue('alice-queue');
    assert.equal(declared.queue, 'alice-queue');
    await assert.rejects(
      fixture.connect({ username: 'alice', password: 'wrong' }),
      (error: Error) => {
        assert.match(error.message, /403/);
        assert.match(error.message, /ACCESS.REFUSED/);
        return true;
      },
    );
    await assert.rejects(fixture.connect({ username: 'nobody', password: PASSWORD }), /403/);
    // guest is no exception on a broker with users.
    await assert.rejects(fixture.connect({ username: 'guest', password: 'guest' }), /403/);
  });
});

test('with users: the raw connection.close of a refused login is 403 on start-ok (10, 11), then the socket closes', async () => {
  await withAmqp(async (fixture) => {
    await fixture.broker.authenticator.users.add('alice', { password: PASSWORD, admin: true });
    const raw = await fixture.raw();
    raw.sendHeader();
    await raw.expect('connection.start');
    raw.send(0, 'connection.start-ok', {
      clientProperties: {},
      mechanism: 'PLAIN',
      response: plainResponse('alice', 'wrong'),
      locale: 'en_US',
    });
    const close = await raw.connectionClose();
    assert.equal(close.replyCode, 403);
    assert.match(close.replyText, /^ACCESS_REFUSED/);
    assert.deepEqual([close.classId, close.methodId], [10, 11]);
    assert.equal(raw.find('connection.tune'), undefined, 'no tune after a refused login');
    raw.send(0, 'connection.close-ok', {});
    await raw.waitClosed();
  });
});

test('with users: AMQPLAIN with the right password connects, a wrong one is refused', async () => {
  await withAmqp(async (fixture) => {
    await fixture.broker.authenticator.users.add('alice', { password: PASSWORD, admin: true });
    // amqplib takes credentials from the socket options.
    const connection = await fixture.connect(
      {},
      { credentials: amqp.credentials.amqplain('alice', PASSWORD) },
    );
    const channel = await connection.createChannel();
    await channel.assertQueue('amqplain-queue');
    await assert.rejects(
      fixture.connect({}, { credentials: amqp.credentials.amqplain('alice', 'wrong') }),
      /403/,
    );
  });
});

test('an unknown mechanism is refused with 403', async () => {
  await withAmqp(async (fixture) => {
    const raw = await fixture.raw();
    raw.sendHeader();
    await raw.expect('connection.start');
    raw.send(0, 'connection.start-ok', {
      clientProperties: {},
      mechanism: 'EXTERNAL',
      response: new Uint8Array(0),
      locale: 'en_US',
    });
    assert.equal((await raw.connectionClose()).replyCode, 403);
  });
});

test('an open broker (no users) lets guest in from 127.0.0.1', async () => {
  await withAmqp(async (fixture) => {
    assert.equal(fixture.broker.authenticator.enabled, false);
    const connection = await fixture.connect({ username: 'guest', password: 'guest' });
    const channel = await connection.createChannel();
    await channel.assertQueue('guest-queue');
    assert.equal(fixture.server.connections()[0]?.user, 'guest');
  });
});

test("a virtual host other than '/' is refused with 530 NOT_ALLOWED", async () => {
  await withAmqp(async (fixture) => {
    // amqplib reports it as "Expected ConnectionOpenOk; got <ConnectionClose>".
    await assert.rejects(within('connect to vhost', fixture.connect({ vhost: 'other' })));
    const raw = await fixture.raw();
    await assert.rejects(raw.handshake({ virtualHost: 'other' }));
    const close = await raw.connectionClose();
    assert.equal(close.replyCode, 530);
    assert.match(close.replyText, /^NOT_ALLOWED/);
    assert.deepEqual([close.classId, close.methodId], [10, 40]);
  });
});

test("tune-ok with a frame_max above the server's is refused with 530 and the socket closes", async () => {
  await withAmqp(async (fixture) => {
    const raw = await fixture.raw();
    raw.sendHeader();
    await raw.expect('connection.start');
    raw.send(0, 'connection.start-ok', {
      clientProperties: {},
      mechanism: 'PLAIN',
      response: plainResponse('guest', 'guest'),
      locale: 'en_US',
    });
    const tune = argumentsOf(await raw.expect('connection.tune'), 'connection.tune');
    assert.equal(tune.frameMax, AMQP_FRAME_MAX);
    raw.send(0, 'connection.tune-ok', {
      channelMax: 0,
      frameMax: AMQP_FRAME_MAX + 1,
      heartbeat: 0,
    });
    const close = await raw.connectionClose();
    assert.equal(close.replyCode, 530);
    assert.deepEqual([close.classId, close.methodId], [10, 31]);
    raw.send(0, 'connection.close-ok', {});
    await raw.waitClosed();
    assert.equal(raw.find('connection.open-ok'), undefined);
  });
});

test('tune-ok with a frame_max below the spec minimum (4096) is refused with 530', async () => {
  await withAmqp(async (fixture) => {
    const raw = await fixture.raw();
    raw.sendHeader();
    await raw.expect('connection.start');
    raw.send(0, 'connection.start-ok', {
      clientProperties: {},
      mechanism: 'PLAIN',
      response: plainResponse('guest', 'guest'),
      locale: 'en_US',
    });
    await raw.expect('connection.tune');
    raw.send(0, 'connection.tune-ok', { channelMax: 0, frameMax: 1024, heartbeat: 0 });
    assert.equal((await raw.connectionClose()).replyCode, 530);
  });
});

test('a method other than start-ok during the handshake is refused with 503 COMMAND_INVALID', async () => {
  await withAmqp(async (fixture) => {
    const raw = await fixture.raw();
    raw.sendHeader();
    await raw.expect('connection.start');
    raw.send(0, 'connection.open', { virtualHost: '/', capabilities: '', insist: false });
    const close = await raw.connectionClose();
    assert.equal(close.replyCode, 503);
    assert.equal(raw.find('connection.open-ok'), undefined);
  });
});

test('a channel frame before connection.open-ok is refused and the channel never opens', async () => {
  await withAmqp(async (fixture) => {
    const raw = await fixture.raw();
    raw.sendHeader();
    await raw.expect('connection.start');
    raw.send(1, 'channel.open', { outOfBand: '' });
    const close = await raw.connectionClose();
    assert.ok([503, 504].includes(close.replyCode), `reply code ${close.replyCode}`);
    assert.equal(raw.find('channel.open-ok'), undefined);
  });
});
