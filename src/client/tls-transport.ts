/**
 * The TLS transport (node:tls): the TCP transport's socket handling over a TLS socket, opened
 * once the TLS handshake is done and the server's certificate verified (against `tls.ca`, else
 * the system's CAs; the name checked is `servername`, else the host).
 *
 * A TLS client reaching a plain Weir port fails cleanly: the server takes the ClientHello for
 * an oversized frame and closes, and the handshake ends with an error, reported as CLOSED
 * naming the cause ("… TLS handshake failed: ERR_SSL_WRONG_VERSION_NUMBER").
 */
import { isIP } from 'node:net';
import { connect as tlsConnect, type ConnectionOptions } from 'node:tls';
import { WeirError } from '../protocol/index.js';
import type { ClientTlsOptions } from './argument-checks.js';
import { describeError, SocketTransport } from './tcp-transport.js';
import type {
  Transport,
  TransportAddress,
  TransportConnector,
  TransportHandlers,
} from './transport.js';

export function tlsConnector(options: ClientTlsOptions): TransportConnector {
  return (address: TransportAddress, handlers: TransportHandlers, timeoutMs: number) =>
    new Promise<Transport>((resolve, reject) => {
      const servername =
        options.servername ?? (isIP(address.host) === 0 ? address.host : undefined);
      const settings: ConnectionOptions = {
        host: address.host,
        port: address.port,
        ...(servername === undefined ? {} : { servername }),
        ...(options.ca === undefined ? {} : { ca: Buffer.from(options.ca) }),
        ...(options.cert === undefined ? {} : { cert: Buffer.from(options.cert) }),
        ...(options.key === undefined ? {} : { key: Buffer.from(options.key) }),
        rejectUnauthorized: options.rejectUnauthorized ?? true,
      };
      const socket = tlsConnect(settings);
      socket.setNoDelay(true);
      const onError = (error: Error): void => {
        clearTimeout(timer);
        socket.destroy();
        reject(
          new WeirError(
            'CLOSED',
            `cannot reach ${address.url}: TLS handshake failed: ${describeError(error)}` +
              ' (does the server speak TLS on that port, with a certificate this client trusts?)',
            { cause: error },
          ),
        );
      };
      const timer = setTimeout(() => {
        socket.off('error', onError);
        socket.on('error', () => undefined); // destroy() below may still report one
        socket.destroy();
        reject(
          new WeirError(
            'CLOSED',
            `cannot reach ${address.url}: no TLS handshake in ${timeoutMs} ms`,
          ),
        );
      }, timeoutMs);
      socket.once('error', onError);
      socket.once('secureConnect', () => {
        clearTimeout(timer);
        socket.off('error', onError);
        resolve(new SocketTransport(socket, handlers));
      });
    });
}
