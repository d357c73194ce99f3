import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TEST_TIMEOUT_MS, withClient } from './client-fixture.js';

const options = { timeout: TEST_TIMEOUT_MS };

test(
  'management methods travel as CALL with a JSON array of arguments and return the RESULT',
  options,
  async () => {
    await withClient(async (fake, client) => {
      const created = await client.streams.create('orders');
      assert.deepEqual(created, { name: 'orders', messages: 0 });
      await client.streams.create('invoices', { partitions: 2 });
      assert.deepEqual(await client.streams.list(), [{ name: 'orders' }, { name: 'invoices' }]);
      assert.equal(await client.streams.delete('invoices'), undefined);
      assert.deepEqual(fake.calls, [
        { method: 'streams.create', args: ['orders'] },
        { method: 'streams.create', args: ['invoices', { partitions: 2 }] },
        { method: 'streams.list', args: [] },
        { method: 'streams.delete', args: ['invoices'] },
      ]);
    });
  },
);

test('a CALL answered with ERROR rejects with the server code and message', options, async () => {
  await withClient(async (_fake, client) => {
    await assert.rejects(client.streams.info('missing'), {
      code: 'STREAM_NOT_FOUND',
      message: 'no stream missing',
    });
    await assert.rejects(client.subscriptions.info('orders', 'w'), { code: 'INVALID_ARGUMENT' });
  });
});

test('deadLetters.list turns each bodyBase64 back into body bytes', options, async () => {
  await withClient(async (_fake, client) => {
    const [deadLetter, ...rest] = await client.deadLetters.list('dead');
    assert.equal(rest.length, 0);
    assert.ok(deadLetter!.body instanceof Uint8Array);
    assert.deepEqual([...deadLetter!.body], [0, 1, 2, 255]);
    assert.equal('bodyBase64' in deadLetter!, false);
    assert.equal(deadLetter!.reason, 'terminated');
    assert.deepEqual(deadLetter!.origin, {
      stream: 'orders',
      subject: 'orders.x',
      partition: 0,
      offset: 4,
    });
  });
});
