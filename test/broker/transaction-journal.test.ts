/**
 * The transaction journal's format (entries and checkpoint state decode to what was encoded;
 * anything else is CORRUPT_DATA), and its checkpoint: past TRANSACTION_JOURNAL_CHECKPOINT_BYTES
 * of commits the journal folds into a checkpoint, and a broker reopened on it neither loses a
 * transaction nor applies one again.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Broker } from '../../src/broker/index.js';
import {
  decodeEntry,
  decodeState,
  encodeCommit,
  encodeDone,
  encodeState,
  type CommitRecord,
} from '../../src/broker/transaction-journal.js';
import { TRANSACTION_JOURNAL_CHECKPOINT_BYTES } from '../../src/limits.js';
import { MemoryFileSystem } from '../../src/storage/index.js';
import { ManualClock } from '../../src/util/index.js';
import { receiveN } from './semantics/harness.js';

const COMMIT: CommitRecord = {
  transactionId: 'a1b2c3-7',
  committedAt: 1_700_000_000_123,
  publishes: [
    {
      stream: 'out',
      partition: 1,
      endOffset: 42,
      publishIndex: 0,
      record: {
        timestamp: 1_700_000_000_123,
        key: new Uint8Array([107]),
        headers: { ':subject': 'out.a', ':tx': 'a1b2c3-7/0', note: 'é' },
        body: new TextEncoder().encode('body'),
      },
    },
    {
      stream: 'audit',
      partition: 0,
      endOffset: 0,
      publishIndex: 1,
      record: { timestamp: 5, key: null, headers: {}, body: new Uint8Array(0) },
    },
  ],
  acks: [{ stream: 'in', subscription: 'worker', partition: 3, offset: 2 ** 40 }],
};

test('commit and done entries and the checkpoint state decode to what was encoded', () => {
  const bytes = encodeCommit(COMMIT);
  const entry = decodeEntry(bytes);
  assert.equal(entry.kind, 'commit');
  assert.deepEqual(entry.kind === 'commit' && entry.commit, COMMIT);
  assert.deepEqual(decodeEntry(encodeDone('a1b2c3-7')), {
    kind: 'done',
    transactionId: 'a1b2c3-7',
  });
  const state = decodeState(encodeState([bytes, encodeCommit({ ...COMMIT, transactionId: 'x' })]));
  assert.equal(state.length, 2);
  assert.deepEqual(state[0], bytes);
});

test('a journal entry or state that does not decode is CORRUPT_DATA', () => {
  const bytes = encodeCommit(COMMIT);
  for (const broken of [
    bytes.subarray(0, bytes.length - 1),
    new Uint8Array([9, 0, 0]),
    new Uint8Array(0),
  ]) {
    assert.throws(() => decodeEntry(broken), { code: 'CORRUPT_DATA' });
  }
  assert.throws(() => decodeState(new Uint8Array([2, 0, 0, 0, 0, 0, 0, 0])), {
    code: 'CORRUPT_DATA',
  });
});

test('past the checkpoint size the journal folds its entries; a reopened broker applies nothing twice', async () => {
  const fileSystem = new MemoryFileSystem();
  const clock = new ManualClock(1_700_000_000_000);
  const dataDir = '/transaction-checkpoint';
  let broker = await Broker.open({ dataDir, fileSystem, clock });
  let client = broker.connect();
  await client.streams.create('out', { subjects: ['out.>'] });
  const body = new Uint8Array(512 * 1024).fill(7);
  const count = Math.ceil((2 * TRANSACTION_JOURNAL_CHECKPOINT_BYTES) / body.length) + 1;
  for (let index = 0; index < count; index++) {
    await client.transaction(async (tx) => {
      tx.publish('out.big', body, { headers: { n: String(index) } });
      await Promise.resolve();
    });
  }
  assert.ok(
    (await fileSystem.readFile(`${dataDir}/transactions/checkpoint`)) !== null,
    'a checkpoint was taken',
  );
  await broker.close();
  broker = await Broker.open({ dataDir, fileSystem, clock });
  client = broker.connect();
  assert.equal((await client.streams.info('out')).messages, count, 'nothing lost, nothing again');
  const reader = await client.subscribe('out', { subscription: 'check', maxInFlight: count });
  const headers = (await receiveN(reader, count)).map((message) => Number(message.headers.n));
  assert.deepEqual(
    headers,
    Array.from({ length: count }, (_, index) => index),
  );
  await broker.close();
});
