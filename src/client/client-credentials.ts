/**
 * What the SDK proves itself with, and its side of SCRAM (protocol/scram.ts).
 *
 * A password never goes on the wire: HELLO carries the user and a fresh nonce, the server
 * answers with its nonce, the salt and the scrypt cost, and the SDK sends a proof that only
 * someone who knows the password can compute. The server's HELLO_OK must then carry the
 * signature only someone who holds the user's keys can compute; without it the SDK refuses
 * the connection (NOT_AUTHORIZED), so a server posing as the real one learns nothing and gets
 * no messages.
 *
 * Reconnects redo the exchange with a new nonce. The SaltedPassword (scrypt's output, the
 * slow part) is kept for the salt and cost it was derived for, so a reconnect costs two HMACs,
 * not another scrypt; a changed password (new salt) derives again. The password itself stays
 * in memory for that reason, as any client that reconnects by itself must keep it.
 */
import { timingSafeEqual } from 'node:crypto';
import { SCRAM_CHALLENGE_SCRYPT_BYTES_MAX, SCRAM_KEY_BYTES } from '../limits.js';
import type { AuthChallenge } from '../protocol/frames.js';
import { WeirError } from '../protocol/index.js';
import {
  authMessage,
  clientProofFromSaltedPassword,
  randomNonce,
  saltedPassword,
  validScryptCost,
  type ScryptCost,
} from '../protocol/scram.js';

/** The SCRAM salt a challenge may carry, in bytes: enough for any real salt, no more. */
const CHALLENGE_SALT_BYTES_MAX = 1024;

export type ClientCredentials =
  | { readonly kind: 'none' }
  | { readonly kind: 'token'; readonly token: string }
  | { readonly kind: 'password'; readonly password: PasswordCredentials };

/** One SCRAM exchange under way: what the SDK said first, and what it must get back. */
export interface ScramExchange {
  readonly user: string;
  readonly clientNonce: string;
}

export class PasswordCredentials {
  readonly user: string;
  readonly #password: string;
  #cached: { salt: Buffer; cost: ScryptCost; salted: Buffer } | null = null;
  #derivations = 0;

  constructor(user: string, password: string) {
    this.user = user;
    this.#password = password;
  }

  /** SCRAM's client-first: the user and a nonce never used before. */
  start(): ScramExchange {
    return { user: this.user, clientNonce: randomNonce() };
  }

  /**
   * Checks the server's challenge (it must extend our nonce and ask a bounded scrypt cost:
   * PROTOCOL_ERROR otherwise) and computes the proof and the signature the server must show.
   * The checks run before the returned promise: a bad challenge throws at once.
   */
  prove(
    exchange: ScramExchange,
    challenge: AuthChallenge,
  ): Promise<{ proof: Uint8Array; serverSignature: Uint8Array }> {
    const { nonce, cost } = challenge;
    if (!nonce.startsWith(exchange.clientNonce) || nonce.length === exchange.clientNonce.length) {
      throw new WeirError('PROTOCOL_ERROR', "the server's SCRAM nonce does not extend ours");
    }
    if (challenge.salt.length === 0 || challenge.salt.length > CHALLENGE_SALT_BYTES_MAX) {
      throw new WeirError(
        'PROTOCOL_ERROR',
        `the server's SCRAM salt is not 1..${CHALLENGE_SALT_BYTES_MAX} bytes`,
      );
    }
    if (!validScryptCost(cost) || 128 * cost.N * cost.r > SCRAM_CHALLENGE_SCRYPT_BYTES_MAX) {
      throw new WeirError(
        'PROTOCOL_ERROR',
        `the server asks a scrypt cost (N ${cost.N}, r ${cost.r}, p ${cost.p}) the SDK refuses`,
      );
    }
    const salt = Buffer.from(challenge.salt); // the challenge's bytes are a frame's view
    const message = authMessage(this.user, exchange.clientNonce, nonce, salt, cost);
    return this.#salted(salt, cost).then((salted) =>
      clientProofFromSaltedPassword(salted, message),
    );
  }

  async #salted(salt: Buffer, cost: ScryptCost): Promise<Buffer> {
    const cached = this.#cached;
    if (
      cached !== null &&
      cached.salt.equals(salt) &&
      cached.cost.N === cost.N &&
      cached.cost.r === cost.r &&
      cached.cost.p === cost.p
    ) {
      return cached.salted;
    }
    const salted = await saltedPassword(this.#password, salt, cost);
    this.#derivations++;
    this.#cached = { salt, cost: { N: cost.N, r: cost.r, p: cost.p }, salted };
    return salted;
  }

  /** scrypt derivations this credential has paid for (a test checks reconnects pay none). */
  get derivations(): number {
    return this.#derivations;
  }
}

/** Whether the server's signature is the one expected (constant time). */
export function signatureMatches(expected: Uint8Array, received: Uint8Array | null): boolean {
  return (
    received !== null &&
    received.length === SCRAM_KEY_BYTES &&
    expected.length === SCRAM_KEY_BYTES &&
    timingSafeEqual(expected, received)
  );
}
