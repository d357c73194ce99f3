/**
 * A TLS listener (node:tls) for a port's certificate, shared by the Weir port and the AMQP
 * port: with `ca` a client must present a certificate that CA signed; a peer that fails its
 * handshake (a plain-TCP client, a wrong certificate, silence past `handshakeTimeoutMs`) is
 * reported through `failed` and dropped, never handed to `accept`.
 */
import * as tls from 'node:tls';

export interface ListenerTlsOptions {
  readonly cert: string | Buffer;
  readonly key: string | Buffer;
  readonly ca?: string | Buffer;
}

export interface TlsHandshakeFailure {
  readonly remote: string | null;
  readonly code: string | null;
  readonly message: string;
}

export function createTlsListener(
  options: ListenerTlsOptions,
  handshakeTimeoutMs: number,
  accept: (socket: tls.TLSSocket) => void,
  failed: (failure: TlsHandshakeFailure) => void,
): tls.Server {
  const server = tls.createServer(
    {
      cert: options.cert,
      key: options.key,
      ...(options.ca === undefined
        ? {}
        : { ca: options.ca, requestCert: true, rejectUnauthorized: true }),
      handshakeTimeout: handshakeTimeoutMs,
    },
    accept,
  );
  server.on('tlsClientError', (error: Error & { code?: string }, socket: tls.TLSSocket) => {
    failed({
      remote: socket.remoteAddress ?? null,
      code: error.code ?? null,
      message: error.message,
    });
    socket.destroy();
  });
  return server;
}
