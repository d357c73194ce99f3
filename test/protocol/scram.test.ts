/**
 * SCRAM with scrypt: the proof made from the right password verifies and no other does, the
 * server signature matches on both sides, and what the server stores cannot be replayed as a
 * proof.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  authMessage,
  clientProof,
  deriveScramKeys,
  randomNonce,
  serverSignature,
  verifyClientProof,
  verifyPassword,
} from '../../src/protocol/scram.js';

const CHEAP = { N: 1024, r: 8, p: 1 } as const;

test('a proof from the right password verifies, and both sides agree on the server signature', async () => {
  const keys = await deriveScramKeys('pässword ①', CHEAP);
  const clientNonce = randomNonce();
  const serverNonce = clientNonce + randomNonce();
  const message = authMessage('alice', clientNonce, serverNonce, keys.salt, keys.cost);
  // NFKC: the same password typed with a different Unicode form still matches.
  const right = await clientProof('pässword 1', keys.salt, keys.cost, message);
  assert.equal(verifyClientProof(keys, message, right.proof), true);
  assert.deepEqual(right.serverSignature, serverSignature(keys, message));
  const wrong = await clientProof('password 1', keys.salt, keys.cost, message);
  assert.equal(verifyClientProof(keys, message, wrong.proof), false);
  // A proof is bound to its exchange: replayed against another server nonce it fails.
  const other = authMessage(
    'alice',
    clientNonce,
    clientNonce + randomNonce(),
    keys.salt,
    keys.cost,
  );
  assert.equal(verifyClientProof(keys, other, right.proof), false);
  // What the server stores is not a proof.
  assert.equal(verifyClientProof(keys, message, keys.storedKey), false);
  assert.equal(verifyClientProof(keys, message, right.proof.subarray(1)), false);
});

test('a plain password checks against the same stored keys', async () => {
  const keys = await deriveScramKeys('correct horse', CHEAP);
  assert.equal(await verifyPassword(keys, 'correct horse'), true);
  assert.equal(await verifyPassword(keys, 'correct horsf'), false);
  const again = await deriveScramKeys('correct horse', CHEAP);
  assert.notDeepEqual(again.salt, keys.salt, 'each derivation has its own salt');
  assert.notDeepEqual(again.storedKey, keys.storedKey);
});
