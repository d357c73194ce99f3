/**
 * Reading `weir://[user[:password]@]host[:port]` and `weirs://…` (TLS) addresses. The port
 * defaults to SERVER_PORT_DEFAULT for both schemes. User and password are percent-decoded
 * (`p%40ss` is `p@ss`). Messages about an address never repeat its password: they show the
 * address with the user information replaced by `***@`.
 */
import { SERVER_PORT_DEFAULT } from '../limits.js';
import { WeirError } from '../protocol/index.js';
import type { TransportAddress } from './transport.js';

const PORT_MAX = 65_535;

export interface WeirUrl {
  /** Where to connect; its `url` carries no user information. */
  readonly address: TransportAddress;
  /** weirs:// — TLS. */
  readonly secure: boolean;
  /** From the user information; null when the address has none. */
  readonly user: string | null;
  readonly password: string | null;
}

/** The address as it may be shown: no password in a message or a log. */
function redacted(url: string): string {
  return url.replace(/^([a-z][a-z0-9+.-]*:\/\/)[^@/?#]*@/i, '$1***@');
}

function decoded(text: string, shown: string, what: string): string {
  try {
    return decodeURIComponent(text);
  } catch (error) {
    throw new WeirError('INVALID_ARGUMENT', `"${shown}" has a badly percent-encoded ${what}`, {
      cause: error,
    });
  }
}

export function parseWeirUrl(url: unknown): WeirUrl {
  if (typeof url !== 'string') {
    throw new WeirError('INVALID_ARGUMENT', `the address must be a string like weir://host:port`);
  }
  const shown = redacted(url);
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    // No cause: the URL parser's error repeats the input, password and all.
    throw new WeirError('INVALID_ARGUMENT', `"${shown}" is not an address like weir://host:port`);
  }
  if (parsed.protocol !== 'weir:' && parsed.protocol !== 'weirs:') {
    throw new WeirError('INVALID_ARGUMENT', `"${shown}" does not start with weir:// or weirs://`);
  }
  const secure = parsed.protocol === 'weirs:';
  const host = parsed.hostname.replace(/^\[(.*)\]$/, '$1'); // IPv6 literals come bracketed
  if (host === '') throw new WeirError('INVALID_ARGUMENT', `"${shown}" names no host`);
  if ((parsed.pathname !== '' && parsed.pathname !== '/') || parsed.search || parsed.hash) {
    throw new WeirError('INVALID_ARGUMENT', `"${shown}" has a path; expected weir://host:port`);
  }
  const port = parsed.port === '' ? SERVER_PORT_DEFAULT : Number(parsed.port);
  if (!Number.isInteger(port) || port < 1 || port > PORT_MAX) {
    throw new WeirError('INVALID_ARGUMENT', `"${shown}" has no valid port`);
  }
  const user = parsed.username === '' ? null : decoded(parsed.username, shown, 'user');
  const password = parsed.password === '' ? null : decoded(parsed.password, shown, 'password');
  if (password !== null && user === null) {
    throw new WeirError('INVALID_ARGUMENT', `"${shown}" has a password but no user`);
  }
  return {
    address: { host, port, url: `${secure ? 'weirs' : 'weir'}://${parsed.host}` },
    secure,
    user,
    password,
  };
}
