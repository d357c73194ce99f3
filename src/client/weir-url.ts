/** Reading `weir://host:port` addresses (the port defaults to SERVER_PORT_DEFAULT). */
import { SERVER_PORT_DEFAULT } from '../limits.js';
import { WeirError } from '../protocol/index.js';
import type { TransportAddress } from './transport.js';

const PORT_MAX = 65_535;

export function parseWeirUrl(url: unknown): TransportAddress {
  if (typeof url !== 'string') {
    throw new WeirError('INVALID_ARGUMENT', `the address must be a string like weir://host:port`);
  }
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch (error) {
    throw new WeirError('INVALID_ARGUMENT', `"${url}" is not an address like weir://host:port`, {
      cause: error,
    });
  }
  if (parsed.protocol !== 'weir:') {
    throw new WeirError('INVALID_ARGUMENT', `"${url}" does not start with weir://`);
  }
  const host = parsed.hostname.replace(/^\[(.*)\]$/, '$1'); // IPv6 literals come bracketed
  if (host === '') throw new WeirError('INVALID_ARGUMENT', `"${url}" names no host`);
  if ((parsed.pathname !== '' && parsed.pathname !== '/') || parsed.search || parsed.hash) {
    throw new WeirError('INVALID_ARGUMENT', `"${url}" has a path; expected weir://host:port`);
  }
  const port = parsed.port === '' ? SERVER_PORT_DEFAULT : Number(parsed.port);
  if (!Number.isInteger(port) || port < 1 || port > PORT_MAX) {
    throw new WeirError('INVALID_ARGUMENT', `"${url}" has no valid port`);
  }
  return { host, port, url: `weir://${parsed.host}` };
}
