/**
 * The console's login sessions, in memory: POST /api/session checks a password once and
 * answers a random cookie; later requests carrying it act as that user.
 *
 * A session is known by the SHA-256 of its cookie (the cookie itself is not kept, so a dump of
 * this table lets no one in). It ends on logout, after ADMIN_SESSION_IDLE_MS without a
 * request, ADMIN_SESSION_MS_MAX after login, when its user is removed, and when its user's
 * password changes (the session holds the SCRAM keys object of login time, compared by
 * identity, as PasswordCache does). Permissions are read fresh on every request, so a change
 * applies to open sessions at once. At most ADMIN_SESSIONS_MAX sessions: a new login pushes out
 * the least recently used.
 *
 * Concurrency: every method is synchronous; the admin server's requests share one instance.
 */
import { createHash, randomBytes } from 'node:crypto';
import type { Principal, UserStore } from '../broker/index.js';
import {
  ADMIN_SESSION_IDLE_MS,
  ADMIN_SESSION_MS_MAX,
  ADMIN_SESSION_TOKEN_BYTES,
  ADMIN_SESSIONS_MAX,
} from '../limits.js';

interface Session {
  readonly user: string;
  readonly keys: object;
  readonly createdAtMs: number;
  lastSeenMs: number;
}

function hashOf(token: string): string {
  return createHash('sha256').update(token).digest('base64url');
}

export class ConsoleSessions {
  readonly #users: UserStore;
  readonly #now: () => number;
  /** By cookie hash, least recently used first (a use moves a session to the end). */
  readonly #sessions = new Map<string, Session>();

  constructor(users: UserStore, now: () => number) {
    this.#users = users;
    this.#now = now;
  }

  get size(): number {
    return this.#sessions.size;
  }

  /** A new session for `user` (whose password was just checked); returns the cookie value. */
  open(user: string, keysBefore: object | null): string | null {
    const keys = this.#users.scramKeys(user);
    // The password changed while it was checked: the caller refuses, as for a wrong password.
    if (keys === null || keys !== keysBefore) return null;
    const token = randomBytes(ADMIN_SESSION_TOKEN_BYTES).toString('base64url');
    if (this.#sessions.size >= ADMIN_SESSIONS_MAX) {
      this.#sessions.delete(this.#sessions.keys().next().value!);
    }
    const now = this.#now();
    this.#sessions.set(hashOf(token), { user, keys, createdAtMs: now, lastSeenMs: now });
    return token;
  }

  /** The principal of a live session (and it counts as a use), or null. */
  principal(token: string): Principal | null {
    const hash = hashOf(token);
    const session = this.#sessions.get(hash);
    if (session === undefined) return null;
    const now = this.#now();
    const principal = this.#users.principal(session.user);
    if (
      principal === null ||
      this.#users.scramKeys(session.user) !== session.keys ||
      now - session.lastSeenMs >= ADMIN_SESSION_IDLE_MS ||
      now - session.createdAtMs >= ADMIN_SESSION_MS_MAX
    ) {
      this.#sessions.delete(hash);
      return null;
    }
    session.lastSeenMs = now;
    this.#sessions.delete(hash);
    this.#sessions.set(hash, session);
    return principal;
  }

  /** Whether the session is live, without counting as a use (an open event stream is no activity). */
  alive(token: string): boolean {
    const session = this.#sessions.get(hashOf(token));
    if (session === undefined) return false;
    const now = this.#now();
    return (
      this.#users.principal(session.user) !== null &&
      this.#users.scramKeys(session.user) === session.keys &&
      now - session.lastSeenMs < ADMIN_SESSION_IDLE_MS &&
      now - session.createdAtMs < ADMIN_SESSION_MS_MAX
    );
  }

  /** Ends the session (logout); false if there was none. */
  close(token: string): boolean {
    return this.#sessions.delete(hashOf(token));
  }
}
