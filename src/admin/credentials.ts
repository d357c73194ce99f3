/**
 * What a request offers as credentials, read from its headers: `Authorization: Basic` (user
 * and password), `Authorization: Bearer` (a token), or the console's session cookie. An
 * Authorization header wins over the cookie, so a script's wrong credentials are never
 * rescued by a browser's session.
 */
import type { IncomingMessage } from 'node:http';

/** The console's session cookie (routes-session.ts sets it). */
export const SESSION_COOKIE_NAME = 'weir_session';

export type Credentials =
  | { readonly kind: 'basic'; readonly user: string; readonly password: string }
  | { readonly kind: 'bearer'; readonly token: string }
  | { readonly kind: 'session'; readonly session: string }
  /** An Authorization header this server does not understand (another scheme, bad base64). */
  | { readonly kind: 'malformed' }
  | { readonly kind: 'none' };

export function requestCredentials(request: IncomingMessage): Credentials {
  const authorization = request.headers.authorization;
  if (authorization !== undefined) return parseAuthorization(authorization);
  const session = sessionCookie(request);
  return session === null ? { kind: 'none' } : { kind: 'session', session };
}

export function parseAuthorization(header: string): Credentials {
  const space = header.indexOf(' ');
  const scheme = (space === -1 ? header : header.slice(0, space)).toLowerCase();
  const value = space === -1 ? '' : header.slice(space + 1).trim();
  if (scheme === 'bearer' && value !== '') return { kind: 'bearer', token: value };
  if (scheme === 'basic' && /^[A-Za-z0-9+/]+={0,2}$/.test(value)) {
    // RFC 7617: user-id ":" password, UTF-8; the user id cannot hold a colon, the password can.
    const decoded = Buffer.from(value, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon > 0) {
      return { kind: 'basic', user: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
    }
  }
  return { kind: 'malformed' };
}

/** The value of the weir_session cookie, or null. */
export function sessionCookie(request: IncomingMessage): string | null {
  const header = request.headers.cookie;
  if (header === undefined) return null;
  for (const part of header.split(';')) {
    const equals = part.indexOf('=');
    if (equals === -1) continue;
    if (part.slice(0, equals).trim() === SESSION_COOKIE_NAME) {
      const value = part.slice(equals + 1).trim();
      return value === '' ? null : value;
    }
  }
  return null;
}
