/**
 * CALL looks its method up among its own names only: a name Object.prototype carries
 * (`constructor`, `__proto__`, `toString`, `hasOwnProperty`) is an unknown method like any
 * other, never an internal object or an INTERNAL error.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Reader } from '../../src/protocol/codec.js';
import { OPCODES } from '../../src/protocol/frame.js';
import { encodeFrame, errorOf, RawClient } from '../helpers/raw-client.js';
import { startTestServer } from './in-process-server.js';

const INHERITED_NAMES = [
  'constructor',
  '__proto__',
  'toString',
  'hasOwnProperty',
  'valueOf',
  'isPrototypeOf',
  '__defineGetter__',
];

test('CALL of a name inherited from Object.prototype is INVALID_ARGUMENT "unknown method"', async () => {
  const server = await startTestServer();
  const raw = await RawClient.connect(server.port);
  try {
    await raw.hello();
    let requestId = 10;
    for (const method of INHERITED_NAMES) {
      requestId++;
      raw.send(
        encodeFrame(OPCODES.CALL, requestId, (writer) => writer.string(method).string('[]')),
      );
      const reply = await raw.waitFor((frame) => frame.requestId === requestId);
      assert.equal(reply.opcode, OPCODES.ERROR, `${method}: answered with opcode ${reply.opcode}`);
      const error = errorOf(reply);
      assert.equal(error.code, 'INVALID_ARGUMENT', `${method}: ${error.message}`);
      assert.match(error.message, /unknown method/, method);
    }
    // A real method still answers on the same connection.
    raw.send(encodeFrame(OPCODES.CALL, 99, (writer) => writer.string('streams.list').string('[]')));
    const listed = await raw.waitFor((frame) => frame.requestId === 99);
    assert.equal(listed.opcode, OPCODES.RESULT);
    assert.deepEqual(JSON.parse(new Reader(listed.payload).text()), []);
  } finally {
    raw.close();
    await server.close();
  }
});
