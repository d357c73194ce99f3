/**
 * Password proofs without the password on the wire: SCRAM (RFC 5802) over SHA-256, with
 * scrypt in place of PBKDF2 as the slow function. Client and server share this file.
 *
 *   SaltedPassword  = scrypt(NFKC(password), salt, 32 bytes, { N, r, p })
 *   ClientKey       = HMAC-SHA-256(SaltedPassword, "Client Key")
 *   StoredKey       = SHA-256(ClientKey)          kept by the server
 *   ServerKey       = HMAC-SHA-256(SaltedPassword, "Server Key")   kept by the server
 *   AuthMessage     = user "," clientNonce "," serverNonce "," salt "," N "," r "," p
 *                     (nonces and salt base64url)
 *   ClientProof     = ClientKey XOR HMAC-SHA-256(StoredKey, AuthMessage)
 *   ServerSignature = HMAC-SHA-256(ServerKey, AuthMessage)
 *
 * The server checks a proof by recovering ClientKey and comparing SHA-256 of it with StoredKey
 * (constant time); the client checks ServerSignature, so a server that does not hold the
 * user's keys cannot pretend to. The server never sees the password, and what it stores
 * (StoredKey, ServerKey) does not let anyone log in (only a ClientKey would).
 *
 * The same stored keys check a plain password (HTTP Basic, the console's login): derive
 * SaltedPassword, then ClientKey, and compare as above.
 */
import { createHash, createHmac, randomBytes, scrypt, timingSafeEqual } from 'node:crypto';
import {
  SCRAM_KEY_BYTES,
  SCRAM_NONCE_BYTES,
  SCRAM_SALT_BYTES,
  SCRYPT_N_DEFAULT,
  SCRYPT_N_MAX,
  SCRYPT_P_DEFAULT,
  SCRYPT_P_MAX,
  SCRYPT_R_DEFAULT,
  SCRYPT_R_MAX,
} from '../limits.js';

/** The cost of a derivation: scrypt's N (a power of two), r and p. */
export interface ScryptCost {
  readonly N: number;
  readonly r: number;
  readonly p: number;
}

export const SCRYPT_COST_DEFAULT: ScryptCost = Object.freeze({
  N: SCRYPT_N_DEFAULT,
  r: SCRYPT_R_DEFAULT,
  p: SCRYPT_P_DEFAULT,
});

/** What the server keeps of a password. */
export interface ScramKeys {
  readonly salt: Uint8Array;
  readonly cost: ScryptCost;
  readonly storedKey: Uint8Array;
  readonly serverKey: Uint8Array;
}

export function validScryptCost(cost: ScryptCost): boolean {
  return (
    Number.isInteger(cost.N) &&
    cost.N >= 2 &&
    cost.N <= SCRYPT_N_MAX &&
    (cost.N & (cost.N - 1)) === 0 &&
    Number.isInteger(cost.r) &&
    cost.r >= 1 &&
    cost.r <= SCRYPT_R_MAX &&
    Number.isInteger(cost.p) &&
    cost.p >= 1 &&
    cost.p <= SCRYPT_P_MAX
  );
}

export function randomNonce(): string {
  return randomBytes(SCRAM_NONCE_BYTES).toString('base64url');
}

/** scrypt on the thread pool: the event loop goes on while it runs. */
export function saltedPassword(
  password: string,
  salt: Uint8Array,
  cost: ScryptCost,
): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    scrypt(
      password.normalize('NFKC'),
      salt,
      SCRAM_KEY_BYTES,
      { N: cost.N, r: cost.r, p: cost.p, maxmem: 256 * cost.N * cost.r + 1024 * 1024 },
      (error, key) => (error ? reject(error) : resolve(key)),
    );
  });
}

function hmac(key: Uint8Array, text: string): Buffer {
  return createHmac('sha256', key).update(text).digest();
}

function sha256(bytes: Uint8Array): Buffer {
  return createHash('sha256').update(bytes).digest();
}

function xor(left: Uint8Array, right: Uint8Array): Buffer {
  const out = Buffer.alloc(left.length);
  for (let index = 0; index < left.length; index++) out[index] = left[index]! ^ right[index]!;
  return out;
}

function clientKeyOf(salted: Uint8Array): Buffer {
  return hmac(salted, 'Client Key');
}

/** The keys a server stores for `password` (a fresh salt unless one is given). */
export async function deriveScramKeys(
  password: string,
  cost: ScryptCost = SCRYPT_COST_DEFAULT,
  salt: Uint8Array = randomBytes(SCRAM_SALT_BYTES),
): Promise<ScramKeys> {
  const salted = await saltedPassword(password, salt, cost);
  return {
    salt,
    cost,
    storedKey: sha256(clientKeyOf(salted)),
    serverKey: hmac(salted, 'Server Key'),
  };
}

export function authMessage(
  user: string,
  clientNonce: string,
  serverNonce: string,
  salt: Uint8Array,
  cost: ScryptCost,
): string {
  return [
    user,
    clientNonce,
    serverNonce,
    Buffer.from(salt).toString('base64url'),
    cost.N,
    cost.r,
    cost.p,
  ].join(',');
}

/** The client's side: its proof, and the server signature it must then receive. */
export async function clientProof(
  password: string,
  salt: Uint8Array,
  cost: ScryptCost,
  message: string,
): Promise<{ proof: Buffer; serverSignature: Buffer }> {
  return clientProofFromSaltedPassword(await saltedPassword(password, salt, cost), message);
}

/**
 * clientProof from a SaltedPassword already derived: a client that reconnects keeps it (for
 * the same salt and cost) and so pays scrypt once, not once per connection.
 */
export function clientProofFromSaltedPassword(
  salted: Uint8Array,
  message: string,
): { proof: Buffer; serverSignature: Buffer } {
  const clientKey = clientKeyOf(salted);
  const signature = hmac(sha256(clientKey), message);
  return {
    proof: xor(clientKey, signature),
    serverSignature: hmac(hmac(salted, 'Server Key'), message),
  };
}

/** The server's side: whether `proof` shows the password behind `keys` (constant time). */
export function verifyClientProof(keys: ScramKeys, message: string, proof: Uint8Array): boolean {
  if (proof.length !== SCRAM_KEY_BYTES || keys.storedKey.length !== SCRAM_KEY_BYTES) return false;
  const clientKey = xor(proof, hmac(keys.storedKey, message));
  return timingSafeEqual(sha256(clientKey), keys.storedKey);
}

export function serverSignature(keys: ScramKeys, message: string): Buffer {
  return hmac(keys.serverKey, message);
}

/** Whether `password` is the one behind `keys` (HTTP Basic, the console's login). */
export async function verifyPassword(keys: ScramKeys, password: string): Promise<boolean> {
  const salted = await saltedPassword(password, keys.salt, keys.cost);
  return timingSafeEqual(sha256(clientKeyOf(salted)), Buffer.from(keys.storedKey));
}

/** Constant-time equality of two byte strings of any lengths. */
export function sameBytes(left: Uint8Array, right: Uint8Array): boolean {
  // Compare digests so the time does not depend on where they differ, nor leak a length.
  return timingSafeEqual(sha256(left), sha256(right)) && left.length === right.length;
}
