/** A memory broker's streams are memory streams, and say so; asking one for a file stream is refused. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Broker } from '../../src/broker/index.js';

test('a memory broker creates memory streams and refuses storage: file with INVALID_ARGUMENT', async () => {
  const broker = await Broker.open({ storage: 'memory' });
  try {
    const client = broker.connect();
    assert.equal((await client.streams.create('plain')).config.storage, 'memory');
    await assert.rejects(client.streams.create('disk', { storage: 'file' }), (error: unknown) => {
      assert.equal((error as { code?: string }).code, 'INVALID_ARGUMENT');
      assert.match((error as Error).message, /storage/);
      return true;
    });
  } finally {
    await broker.close();
  }
});
