/**
 * Successful HTTP Basic checks, remembered briefly so that a script sending Basic on every
 * request pays scrypt (tens of milliseconds by design) once per ADMIN_PASSWORD_CACHE_MS, not
 * every time. Entries are keyed by an HMAC of user and password under a key made when the
 * server starts: the password itself is never kept, and the key cannot be recomputed from a
 * memory dump without the HMAC key (which is as good as kept out of reach as the process).
 *
 * An entry holds the user's SCRAM keys object as it was when the password was checked: a
 * password change or a removed user makes UserStore hold another object (or none), so the
 * entry stops matching at once rather than when it expires. Permissions are read fresh from
 * the store on every hit. At most ADMIN_PASSWORD_CACHE_ENTRIES_MAX entries; the oldest goes.
 */
import { createHmac, randomBytes } from 'node:crypto';
import type { Principal, UserStore } from '../broker/index.js';
import { ADMIN_PASSWORD_CACHE_ENTRIES_MAX, ADMIN_PASSWORD_CACHE_MS } from '../limits.js';

interface Entry {
  readonly user: string;
  /** UserStore.scramKeys(user) when the password was checked (compared by identity). */
  readonly keys: object;
  readonly expiresAtMs: number;
}

export class PasswordCache {
  readonly #users: UserStore;
  readonly #now: () => number;
  readonly #key = randomBytes(32);
  readonly #entries = new Map<string, Entry>();

  constructor(users: UserStore, now: () => number) {
    this.#users = users;
    this.#now = now;
  }

  get size(): number {
    return this.#entries.size;
  }

  #hash(user: string, password: string): string {
    // The NUL keeps "ab"+"c" apart from "a"+"bc" (a user name holds no NUL).
    return createHmac('sha256', this.#key).update(`${user}\u0000${password}`).digest('base64url');
  }

  /** The principal of a remembered check of this user and password, or null. */
  lookup(user: string, password: string): Principal | null {
    const hash = this.#hash(user, password);
    const entry = this.#entries.get(hash);
    if (entry === undefined) return null;
    if (
      entry.user !== user ||
      this.#now() >= entry.expiresAtMs ||
      this.#users.scramKeys(user) !== entry.keys
    ) {
      this.#entries.delete(hash);
      return null;
    }
    return this.#users.principal(user);
  }

  /** The identity to pass to remember(): read it before the password check starts. */
  keysOf(user: string): object | null {
    return this.#users.scramKeys(user);
  }

  /**
   * Remembers that the password of `user` was right. `keysBefore` is keysOf(user) from before
   * the check: if the password changed since, nothing is remembered (the check saw the old one).
   */
  remember(user: string, password: string, keysBefore: object | null): void {
    const keys = this.#users.scramKeys(user);
    if (keys === null || keys !== keysBefore) return;
    const hash = this.#hash(user, password);
    this.#entries.delete(hash);
    if (this.#entries.size >= ADMIN_PASSWORD_CACHE_ENTRIES_MAX) {
      this.#entries.delete(this.#entries.keys().next().value!);
    }
    this.#entries.set(hash, { user, keys, expiresAtMs: this.#now() + ADMIN_PASSWORD_CACHE_MS });
  }
}
