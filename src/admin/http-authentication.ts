/**
 * Who an HTTP request acts for. On a broker without users everything is open (dev mode):
 * OPEN_PRINCIPAL, whatever the request carries. Once users exist every /api route and
 * /metrics needs one of:
 *
 * - `Authorization: Basic` user:password, checked by broker.authenticator.password (scrypt),
 *   then remembered briefly (PasswordCache) so the next requests do not pay scrypt again;
 * - `Authorization: Bearer <token>`, broker.authenticator.token (a SHA-256, no cache needed);
 * - the console's session cookie (ConsoleSessions).
 *
 * Refusals are AuthenticationRequired (401). Wrong passwords and tokens are counted and rate
 * limited per address by the authenticator (and audited there); a request that carries no
 * credentials at all, or a session that ended, is refused without counting: it guesses
 * nothing, and counting it would lock a console out of its own login page.
 */
import type { IncomingMessage } from 'node:http';
import { OPEN_PRINCIPAL, type Authenticator, type Door, type Principal } from '../broker/index.js';
import { isWeirError } from '../util/index.js';
import { ConsoleSessions } from './console-sessions.js';
import { requestCredentials } from './credentials.js';
import { AuthenticationRequired } from './http-io.js';
import { PasswordCache } from './password-cache.js';

/** The address failed attempts are counted by (without the port: one per host, not per socket). */
export function remoteAddress(request: IncomingMessage): string | null {
  return request.socket.remoteAddress ?? null;
}

function refusal(error: unknown): unknown {
  if (isWeirError(error, 'NOT_AUTHORIZED') && !(error instanceof AuthenticationRequired)) {
    return new AuthenticationRequired(error.message, { cause: error });
  }
  return error;
}

export class HttpAuthentication {
  readonly #authenticator: Authenticator;
  readonly sessions: ConsoleSessions;
  readonly #passwords: PasswordCache;

  constructor(authenticator: Authenticator, now: () => number) {
    this.#authenticator = authenticator;
    this.sessions = new ConsoleSessions(authenticator.users, now);
    this.#passwords = new PasswordCache(authenticator.users, now);
  }

  /** Users exist: requests must authenticate. */
  get enabled(): boolean {
    return this.#authenticator.enabled;
  }

  /** The principal the request acts for, or AuthenticationRequired. */
  async authenticate(request: IncomingMessage): Promise<Principal> {
    if (!this.#authenticator.enabled) return OPEN_PRINCIPAL;
    const credentials = requestCredentials(request);
    switch (credentials.kind) {
      case 'none':
        throw new AuthenticationRequired(
          'this broker requires credentials: HTTP Basic (user and password), a Bearer token, or a console session',
        );
      case 'malformed':
        throw new AuthenticationRequired(
          'the Authorization header is neither Basic (user:password) nor Bearer (a token)',
        );
      case 'session': {
        const principal = this.sessions.principal(credentials.session);
        if (principal === null) {
          throw new AuthenticationRequired('the console session has ended: log in again');
        }
        return principal;
      }
      case 'bearer':
        try {
          return this.#authenticator.token(credentials.token, remoteAddress(request), 'http');
        } catch (error) {
          throw refusal(error);
        }
      case 'basic': {
        const cached = this.#passwords.lookup(credentials.user, credentials.password);
        if (cached !== null) return cached;
        const keysBefore = this.#passwords.keysOf(credentials.user);
        const principal = await this.password(
          credentials.user,
          credentials.password,
          request,
          'http',
        );
        this.#passwords.remember(credentials.user, credentials.password, keysBefore);
        return principal;
      }
    }
  }

  /**
   * Whether what authenticated `request` as `principal` still holds (for an event stream, which
   * outlives its request): a session still live, a token not deleted, a user not removed, a
   * broker that was open still without users. Never runs scrypt and never counts as activity.
   */
  stillValid(request: IncomingMessage, principal: Principal): boolean {
    if (!this.#authenticator.enabled) return true;
    if (principal.user === null) return false; // opened while the broker had no users
    const credentials = requestCredentials(request);
    switch (credentials.kind) {
      case 'session':
        return this.sessions.alive(credentials.session);
      case 'bearer':
        return this.#authenticator.users.checkToken(credentials.token) !== null;
      default:
        return this.#authenticator.users.principal(principal.user) !== null;
    }
  }

  /** A password check through the authenticator (counted and audited there), 401 if wrong. */
  async password(
    user: unknown,
    password: unknown,
    request: IncomingMessage,
    door: Door,
  ): Promise<Principal> {
    try {
      return await this.#authenticator.password(user, password, remoteAddress(request), door);
    } catch (error) {
      throw refusal(error);
    }
  }

  /**
   * The console's login: checks the password and opens a session; the cookie value, or
   * AuthenticationRequired. On an open broker there is nothing to log in to: null.
   */
  async login(
    user: unknown,
    password: unknown,
    request: IncomingMessage,
  ): Promise<{ principal: Principal; session: string | null }> {
    if (!this.#authenticator.enabled) return { principal: OPEN_PRINCIPAL, session: null };
    const keysBefore = typeof user === 'string' ? this.#passwords.keysOf(user) : null;
    const principal = await this.password(user, password, request, 'console');
    const session = principal.user === null ? null : this.sessions.open(principal.user, keysBefore);
    if (session === null) {
      // The password changed while it was checked (or the users went away meanwhile).
      throw new AuthenticationRequired('wrong credentials');
    }
    return { principal, session };
  }
}
