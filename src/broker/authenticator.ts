/**
 * Authentication, for every door (TCP's handshake, HTTP Basic and Bearer, the console's
 * login): a password, a token, or a SCRAM exchange (protocol/scram.ts) gives a Principal or
 * NOT_AUTHORIZED. Each refusal is counted per address (FailedAttempts) and audited; an
 * address that failed too often is refused before any check runs.
 *
 * A broker without users is open: `enabled` is false and the doors give OPEN_PRINCIPAL
 * without asking (dev mode). Refusals say only "wrong credentials": not whether the user
 * exists. A SCRAM exchange for an unknown user (or one without a password) goes on with keys
 * derived from a per-process secret, so it fails at the proof like a wrong password does.
 */
import { createHmac, randomBytes } from 'node:crypto';
import {
  authMessage,
  randomNonce,
  serverSignature,
  verifyClientProof,
  type ScramKeys,
  type ScryptCost,
} from '../protocol/scram.js';
import { SCRAM_KEY_BYTES, SCRAM_SALT_BYTES } from '../limits.js';
import { WeirError } from '../util/index.js';
import type { Principal } from './access.js';
import { OPEN_PRINCIPAL } from './access.js';
import { audit } from './audit.js';
import { FailedAttempts } from './failed-attempts.js';
import type { UserStore } from './users.js';

/** Where a client authenticates: audit lines name it. */
export type Door = 'tcp' | 'http' | 'console' | 'amqp';

export interface ScramChallenge {
  readonly salt: Uint8Array;
  readonly cost: ScryptCost;
  /** The client's nonce followed by the server's. */
  readonly serverNonce: string;
  /** Checks the client's proof: the principal and the signature to send back, or NOT_AUTHORIZED. */
  finish(proof: Uint8Array): { principal: Principal; serverSignature: Uint8Array };
}

/** The audit line of a refused authentication. */
function refusal(user: string | null, remote: string | null, door: Door, why: string): void {
  audit({ action: 'authenticate', user, remote, outcome: 'refused', door, why });
}

function wrongCredentials(): WeirError {
  return new WeirError('NOT_AUTHORIZED', 'wrong credentials');
}

export class Authenticator {
  readonly users: UserStore;
  readonly #failures: FailedAttempts;
  readonly #secret = randomBytes(SCRAM_KEY_BYTES);

  constructor(users: UserStore, now: () => number) {
    this.users = users;
    this.#failures = new FailedAttempts(now);
  }

  /** Users exist, so every client must authenticate. */
  get enabled(): boolean {
    return this.users.enabled;
  }

  /** Failed authentications counted for `remote` lately. */
  failuresFrom(remote: string): number {
    return this.#failures.count(remote);
  }

  /** A user's password (HTTP Basic, the console's login, a PLAIN handshake). */
  async password(
    user: unknown,
    password: unknown,
    remote: string | null,
    door: Door,
  ): Promise<Principal> {
    if (!this.enabled) return OPEN_PRINCIPAL;
    this.#refuseIfBlocked(remote, door, typeof user === 'string' ? user : null);
    const principal =
      typeof user === 'string' && typeof password === 'string'
        ? await this.users.checkPassword(user, password)
        : null;
    return this.#outcome(principal, remote, door, typeof user === 'string' ? user : null);
  }

  /** A service's token (HTTP Bearer, a token handshake). */
  token(token: unknown, remote: string | null, door: Door): Principal {
    if (!this.enabled) return OPEN_PRINCIPAL;
    this.#refuseIfBlocked(remote, door, null);
    const principal = typeof token === 'string' ? this.users.checkToken(token) : null;
    return this.#outcome(principal, remote, door, null);
  }

  /** No credentials at all: allowed on an open broker only. */
  anonymous(remote: string | null, door: Door): Principal {
    if (!this.enabled) return OPEN_PRINCIPAL;
    this.#failures.fail(remote);
    audit({
      action: 'authenticate',
      user: null,
      remote,
      outcome: 'refused',
      door,
      why: 'no credentials',
    });
    throw new WeirError(
      'NOT_AUTHORIZED',
      'this broker requires credentials (a user and password, or a token)',
    );
  }

  /** Starts a SCRAM exchange for `user` with the client's nonce. */
  scram(user: string, clientNonce: string, remote: string | null, door: Door): ScramChallenge {
    this.#refuseIfBlocked(remote, door, user);
    const keys = this.users.scramKeys(user) ?? this.#decoyKeys(user);
    const serverNonce = clientNonce + randomNonce();
    const message = authMessage(user, clientNonce, serverNonce, keys.salt, keys.cost);
    let finished = false;
    return {
      salt: keys.salt,
      cost: keys.cost,
      serverNonce,
      finish: (proof) => {
        if (finished) throw new WeirError('PROTOCOL_ERROR', 'the SCRAM exchange is over');
        finished = true;
        const real = this.users.scramKeys(user);
        const principal =
          real !== null && real === keys && verifyClientProof(keys, message, proof)
            ? this.users.principal(user)
            : null;
        const granted = this.#outcome(principal, remote, door, user);
        return { principal: granted, serverSignature: serverSignature(keys, message) };
      },
    };
  }

  #refuseIfBlocked(remote: string | null, door: Door, user: string | null): void {
    try {
      this.#failures.check(remote);
    } catch (error) {
      refusal(user, remote, door, 'rate limited');
      throw error;
    }
  }

  #outcome(
    principal: Principal | null,
    remote: string | null,
    door: Door,
    user: string | null,
  ): Principal {
    if (principal === null) {
      this.#failures.fail(remote);
      refusal(user, remote, door, 'wrong credentials');
      throw wrongCredentials();
    }
    return principal;
  }

  /** Keys no password matches, the same for a user name every time (no tell-tale salt). */
  #decoyKeys(user: string): ScramKeys {
    const derived = createHmac('sha256', this.#secret).update(user).digest();
    return {
      salt: derived.subarray(0, SCRAM_SALT_BYTES),
      cost: this.users.scryptCost,
      storedKey: randomBytes(SCRAM_KEY_BYTES),
      serverKey: randomBytes(SCRAM_KEY_BYTES),
    };
  }
}
