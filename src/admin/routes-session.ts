/**
 * The console's login: POST /api/session checks a password and sets the session cookie,
 * GET /api/session says who the request acts for, DELETE /api/session logs out.
 *
 * The cookie is `weir_session=<random>; HttpOnly; SameSite=Strict; Path=/` (+ `Secure` over
 * HTTPS): scripts cannot read it, and a browser does not send it with a request another site
 * starts, which (with the Origin check on every POST, PUT, PATCH and DELETE) keeps other pages
 * from acting with it. It carries no expiry: it goes when the browser closes, and the server
 * forgets it sooner (ADMIN_SESSION_IDLE_MS idle, ADMIN_SESSION_MS_MAX in all).
 */
import type { ServerResponse } from 'node:http';
import type { Principal } from '../broker/index.js';
import type { AdminContext } from './admin-context.js';
import { SESSION_COOKIE_NAME, sessionCookie } from './credentials.js';
import { ADMIN_LOGIN_BODY_BYTES_MAX } from '../limits.js';
import { invalid, objectBody, onlyKeys, readJsonBody } from './http-io.js';
import type { Route } from './router.js';

/** What GET /api/session answers: who, with what permissions, and whether users exist. */
export interface SessionView {
  /** null on an open broker (no users). */
  readonly user: string | null;
  readonly admin: boolean;
  readonly allow: readonly string[];
  readonly deny: readonly string[];
  /** false: the broker has no users, everyone may do everything (dev mode). */
  readonly authentication: boolean;
}

function sessionView(context: AdminContext, principal: Principal): SessionView {
  return {
    user: principal.user,
    admin: principal.admin,
    allow: [...principal.allow],
    deny: [...principal.deny],
    authentication: context.authentication.enabled,
  };
}

function setCookie(
  context: AdminContext,
  response: ServerResponse,
  value: string,
  expire: boolean,
): void {
  const attributes = ['HttpOnly', 'SameSite=Strict', 'Path=/'];
  if (context.secure) attributes.push('Secure');
  if (expire) attributes.push('Max-Age=0');
  response.setHeader('set-cookie', `${SESSION_COOKIE_NAME}=${value}; ${attributes.join('; ')}`);
}

export function sessionRoutes(context: AdminContext): Route[] {
  return [
    {
      method: 'GET',
      path: '/api/session',
      tag: 'session',
      summary:
        'Who this request acts for: user (null on a broker without users), admin, allow, deny, and whether the broker requires authentication. 401 without credentials on a broker with users.',
      handler: ({ principal }) => sessionView(context, principal),
    },
    {
      method: 'POST',
      path: '/api/session',
      tag: 'session',
      summary:
        "The console's login: checks the password and answers Set-Cookie weir_session (HttpOnly, SameSite=Strict; Secure over HTTPS). Wrong credentials: 401 NOT_AUTHORIZED. On a broker without users nothing is set.",
      body: { description: '{ user, password }', example: { user: 'alice', password: '…' } },
      public: true,
      handler: async ({ request, response }) => {
        // Read before anyone is authenticated: a login's size, not a message's.
        const input = objectBody(await readJsonBody(request, ADMIN_LOGIN_BODY_BYTES_MAX));
        onlyKeys(input, ['user', 'password']);
        if (typeof input.user !== 'string') throw invalid('user', 'must be a string');
        if (typeof input.password !== 'string') throw invalid('password', 'must be a string');
        const { principal, session } = await context.authentication.login(
          input.user,
          input.password,
          request,
        );
        if (session !== null) setCookie(context, response, session, false);
        return sessionView(context, principal);
      },
    },
    {
      method: 'DELETE',
      path: '/api/session',
      tag: 'session',
      summary:
        'Logs out: the session ends on the server and the cookie is cleared (also when it had already ended).',
      public: true,
      handler: ({ request, response }) => {
        const session = sessionCookie(request);
        const ended = session !== null && context.authentication.sessions.close(session);
        setCookie(context, response, '', true);
        return { loggedOut: ended };
      },
    },
  ];
}
