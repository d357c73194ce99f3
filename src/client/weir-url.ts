/**
 * Reading `weir://[user[:password]@]host[:port]` and `weirs://…` (TLS) addresses, and lists
 * of a cluster's nodes, `weir://[user[:password]@]host1[:port1],host2[:port2],…`: one user
 * information and one scheme for every host. The port defaults to SERVER_PORT_DEFAULT for
 * both schemes, host by host. User and password are percent-decoded (`p%40ss` is `p@ss`).
 * Messages about an address never repeat its password: they show the address with the user
 * information replaced by `***@`.
 */
import { CLIENT_HOSTS_MAX, SERVER_PORT_DEFAULT } from '../limits.js';
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

/** A list of hosts (a cluster's nodes): what WeirUrl says, for each of them. */
export interface WeirUrlList {
  /** In the order given, at least one, no two the same; their `url`s carry no user information. */
  readonly addresses: readonly TransportAddress[];
  /** The list as it may be shown: `weir://h1:p1,h2:p2`, no user information. */
  readonly url: string;
  readonly secure: boolean;
  readonly user: string | null;
  readonly password: string | null;
}

/** The address as it may be shown: no password in a message or a log. */
function redacted(url: string): string {
  return url.replace(/^([a-z][a-z0-9+.-]*:\/\/)[^@/?#]*@/i, '$1***@');
}

function decoded(text: string, named: string, what: string): string {
  try {
    return decodeURIComponent(text);
  } catch (error) {
    throw new WeirError('INVALID_ARGUMENT', `${named} has a badly percent-encoded ${what}`, {
      cause: error,
    });
  }
}

export function parseWeirUrl(url: unknown): WeirUrl {
  if (typeof url !== 'string') {
    throw new WeirError('INVALID_ARGUMENT', `the address must be a string like weir://host:port`);
  }
  return parseOne(url, `"${redacted(url)}"`);
}

/**
 * A single address (as parseWeirUrl) or a list of hosts after one scheme and one user
 * information. The user information ends at the authority's last `@`, as the URL standard
 * reads it, so the list is what follows it, split at commas. Each host is read as a single
 * address would be, and a message about a bad one names it ("host 2 (b:99999) of …").
 */
export function parseWeirUrlList(url: unknown): WeirUrlList {
  if (typeof url !== 'string') {
    throw new WeirError('INVALID_ARGUMENT', `the address must be a string like weir://host:port`);
  }
  const shown = redacted(url);
  const parts = /^([a-z][a-z0-9+.-]*:\/\/)([^/?#]*)(.*)$/is.exec(url);
  const authority = parts?.[2] ?? '';
  const at = authority.lastIndexOf('@');
  const hosts = authority.slice(at + 1).split(',');
  if (parts === null || hosts.length === 1) {
    const single = parseOne(url, `"${shown}"`);
    return { ...single, addresses: [single.address], url: single.address.url };
  }
  if (hosts.length > CLIENT_HOSTS_MAX) {
    throw new WeirError(
      'INVALID_ARGUMENT',
      `"${shown}" lists ${hosts.length} hosts, more than the limit of ${CLIENT_HOSTS_MAX}`,
    );
  }
  const [, scheme = '', , rest = ''] = parts;
  const userInformation = authority.slice(0, at + 1);
  const parsed = hosts.map((host, index) => {
    const named = `host ${index + 1} (${host === '' ? 'empty' : host}) of "${shown}"`;
    if (host === '') {
      throw new WeirError(
        'INVALID_ARGUMENT',
        `${named} names no host; expected weir://h1:p1,h2:p2`,
      );
    }
    return parseOne(`${scheme}${userInformation}${host}${rest}`, named);
  });
  const first = parsed[0]!;
  const seen = new Set<string>();
  for (const { address } of parsed) {
    const endpoint = `${address.host.toLowerCase()}:${address.port}`;
    if (seen.has(endpoint)) {
      throw new WeirError('INVALID_ARGUMENT', `"${shown}" lists ${address.url} twice`);
    }
    seen.add(endpoint);
  }
  const addresses = parsed.map((host) => host.address);
  const prefix = first.secure ? 'weirs://' : 'weir://';
  return {
    addresses,
    url: prefix + addresses.map((address) => address.url.slice(prefix.length)).join(','),
    secure: first.secure,
    user: first.user,
    password: first.password,
  };
}

/**
 * `HOST:PORT` (an IPv6 host bracketed, the port required) as an address of the given scheme,
 * null when the text is not that: the form a follower names the leader in (`leader=HOST:PORT`).
 */
export function parseHostPort(text: string, secure: boolean): TransportAddress | null {
  const match = /^(?:\[([0-9a-f:.]+)\]|([^\s:[\]/?#@,]+)):([0-9]{1,5})$/i.exec(text);
  if (match === null) return null;
  const port = Number(match[3]);
  if (port < 1 || port > PORT_MAX) return null;
  const host = match[1] ?? match[2]!;
  const shownHost = match[1] === undefined ? host : `[${host}]`;
  return { host, port, url: `${secure ? 'weirs' : 'weir'}://${shownHost}:${port}` };
}

/** One address; `named` is how messages call it (the address quoted, or "host 2 (…) of …"). */
function parseOne(url: string, named: string): WeirUrl {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    // No cause: the URL parser's error repeats the input, password and all.
    throw new WeirError('INVALID_ARGUMENT', `${named} is not an address like weir://host:port`);
  }
  if (parsed.protocol !== 'weir:' && parsed.protocol !== 'weirs:') {
    throw new WeirError('INVALID_ARGUMENT', `${named} does not start with weir:// or weirs://`);
  }
  const secure = parsed.protocol === 'weirs:';
  const host = parsed.hostname.replace(/^\[(.*)\]$/, '$1'); // IPv6 literals come bracketed
  if (host === '') throw new WeirError('INVALID_ARGUMENT', `${named} names no host`);
  if ((parsed.pathname !== '' && parsed.pathname !== '/') || parsed.search || parsed.hash) {
    throw new WeirError('INVALID_ARGUMENT', `${named} has a path; expected weir://host:port`);
  }
  const port = parsed.port === '' ? SERVER_PORT_DEFAULT : Number(parsed.port);
  if (!Number.isInteger(port) || port < 1 || port > PORT_MAX) {
    throw new WeirError('INVALID_ARGUMENT', `${named} has no valid port`);
  }
  const user = parsed.username === '' ? null : decoded(parsed.username, named, 'user');
  const password = parsed.password === '' ? null : decoded(parsed.password, named, 'password');
  if (password !== null && user === null) {
    throw new WeirError('INVALID_ARGUMENT', `${named} has a password but no user`);
  }
  return {
    address: { host, port, url: `${secure ? 'weirs' : 'weir'}://${parsed.host}` },
    secure,
    user,
    password,
  };
}
