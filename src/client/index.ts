/**
 * The network SDK's public face: `connect('weir://host:port', options)` returns a `Client`
 * with exactly the interface of the embedded `broker.connect()`, so code written against one
 * runs against the other. The types are re-exported for TypeScript users; plain JavaScript
 * users get the same checks at run time (INVALID_ARGUMENT naming the field).
 */
import type { Client } from '../protocol/index.js';
import { checkConnectOptions, type ConnectOptions } from './argument-checks.js';
import { NetworkClient } from './network-client.js';
import { connectTcp } from './tcp-transport.js';
import { tlsConnector } from './tls-transport.js';
import { HostList } from './host-list.js';
import { parseWeirUrlList } from './weir-url.js';

export type { ClientTlsOptions, ConnectOptions } from './argument-checks.js';
export * from '../protocol/index.js';

/**
 * Connects to a Weir server; resolves once the server accepted the handshake. Rejects with
 * WeirError CLOSED when the server cannot be reached in `connectTimeoutMs` ("cannot reach
 * weir://127.0.0.1:7420: ECONNREFUSED", or a TLS handshake that failed), INVALID_ARGUMENT for
 * a bad address or option, or the server's refusal (NOT_AUTHORIZED for missing or wrong
 * credentials, LIMIT_EXCEEDED, PROTOCOL_ERROR for a version mismatch). After that the client
 * reconnects by itself unless `reconnect: false`, authenticating again each time; a refusal
 * of its credentials ends it (NOT_AUTHORIZED is not retried).
 *
 * `weir://user:password@host:port` (percent-encoded) or the `user` / `password` options
 * authenticate with SCRAM-SHA-256; `token` with a token. `weirs://` or the `tls` option
 * speak TLS.
 *
 * A cluster is given as its nodes, `weir://host1:port1,host2:port2,…` (one user information
 * and scheme for all): each connect, and each reconnect, tries them in turn from the one that
 * last worked, and follows a follower's NOT_LEADER to the leader it names (docs/cluster.md).
 * When none takes the connection, connect() rejects with the last failure (CLOSED, or
 * NOT_LEADER while no leader is elected; both retriable).
 */
export async function connect(url: string, options?: ConnectOptions): Promise<Client> {
  const parsed = parseWeirUrlList(url);
  const settings = checkConnectOptions(options, parsed);
  const secure = settings.tls !== null;
  const tlsUrl = (text: string) => (secure ? text.replace(/^weir:/, 'weirs:') : text);
  const hosts = new HostList(
    parsed.addresses.map((address) => ({ ...address, url: tlsUrl(address.url) })),
    tlsUrl(parsed.url),
    secure,
  );
  return NetworkClient.open(
    hosts,
    settings,
    secure ? tlsConnector(settings.tls ?? {}) : connectTcp,
  );
}
