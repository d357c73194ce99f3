/**
 * The TCP server: accepts connections, enforces the connection limit, and shuts down
 * gracefully (stop accepting, end every connection — their consumers hand leases back, so
 * those messages are available at once on restart — then the caller closes the broker, which
 * finishes in-flight confirms and syncs).
 *
 * With `tls` the port speaks TLS (node:tls) and a connection starts once its TLS handshake is
 * done; with `tls.ca`, a client must present a certificate that CA signed. A peer that fails
 * the TLS handshake (a plain-TCP client, a wrong certificate, silence past
 * HANDSHAKE_TIMEOUT_MS) is logged and dropped; it never becomes a Connection.
 */
import * as net from 'node:net';
import type * as tls from 'node:tls';
import type { Authenticator } from '../broker/index.js';
import type { Client } from '../protocol/index.js';
import { Writer } from '../protocol/codec.js';
import { FRAME_HEADER_BYTES, OPCODES, writeFrameHeader } from '../protocol/frame.js';
import { SlabPool } from '../protocol/frame-batch.js';
import { writeError } from '../protocol/frames.js';
import {
  CONNECTION_OUTPUT_SLAB_BYTES,
  CONNECTION_OUTPUT_SLABS_POOLED_MAX,
  CONNECTIONS_MAX,
  HANDSHAKE_TIMEOUT_MS,
  TLS_HANDSHAKES_PENDING_MAX,
} from '../limits.js';
import { createTlsListener, WeirError } from '../util/index.js';
import { Connection, type ClientIdentity } from './connection.js';
import { jsonLogger, type Logger } from './logger.js';

/** The server's certificate and key (PEM); with `ca`, clients must present a certificate it signed. */
export interface ServerTlsOptions {
  readonly cert: string | Buffer;
  readonly key: string | Buffer;
  readonly ca?: string | Buffer;
}

export interface ServerOptions {
  /**
   * Gives each connection its own in-process client, acting for whom the handshake proved
   * (`(identity) => broker.connect(identity)`); called only after authentication.
   */
  readonly connectClient: (identity: ClientIdentity) => Client;
  /** Checks credentials in HELLO (`broker.authenticator`); absent: open, everyone OPEN_PRINCIPAL. */
  readonly authenticator?: Authenticator;
  /** Speak TLS on the port. */
  readonly tls?: ServerTlsOptions;
  readonly host?: string;
  /** 0 picks a free port (see `address()`). */
  readonly port?: number;
  readonly serverVersion?: string;
  readonly maxConnections?: number;
  readonly heartbeatIntervalMs?: number;
  readonly logger?: Logger;
}

export class WeirServer {
  readonly #options: ServerOptions;
  readonly #server: net.Server;
  readonly #connections = new Set<Connection>();
  readonly #logger: Logger;
  /** Output slabs shared by the connections: one is held only while frames wait to be written. */
  readonly #outputSlabs = new SlabPool(
    CONNECTION_OUTPUT_SLAB_BYTES,
    CONNECTION_OUTPUT_SLABS_POOLED_MAX,
  );
  #nextConnectionId = 1;
  #closing = false;

  private constructor(options: ServerOptions) {
    this.#options = options;
    this.#logger = options.logger ?? jsonLogger('info');
    this.#server =
      options.tls === undefined
        ? net.createServer((socket) => this.#accept(socket))
        : this.#tlsServer(options.tls);
  }

  #tlsServer(options: ServerTlsOptions): tls.Server {
    const server = createTlsListener(
      options,
      HANDSHAKE_TIMEOUT_MS,
      (socket) => this.#accept(socket),
      (failure) => this.#logger('warn', 'tls_handshake_failed', { ...failure }),
    );
    // Sockets still in their TLS handshake are not Connections yet: bound them here. The
    // connection limit proper is enforced (with an ERROR the SDK understands) in #accept.
    server.maxConnections =
      (this.#options.maxConnections ?? CONNECTIONS_MAX) + TLS_HANDSHAKES_PENDING_MAX;
    return server;
  }

  /** True when the port speaks TLS. */
  get secure(): boolean {
    return this.#options.tls !== undefined;
  }

  static async listen(options: ServerOptions): Promise<WeirServer> {
    const server = new WeirServer(options);
    await new Promise<void>((resolve, reject) => {
      server.#server.once('error', reject);
      server.#server.listen(options.port ?? 0, options.host ?? '127.0.0.1', () => {
        server.#server.off('error', reject);
        resolve();
      });
    });
    return server;
  }

  address(): { host: string; port: number } {
    const address = this.#server.address() as net.AddressInfo;
    return { host: address.address, port: address.port };
  }

  get connectionCount(): number {
    return this.#connections.size;
  }

  /** The open connections (for the admin API: clients, their consumers). */
  connections(): readonly Connection[] {
    return [...this.#connections];
  }

  #accept(socket: net.Socket): void {
    const max = this.#options.maxConnections ?? CONNECTIONS_MAX;
    if (this.#closing || this.#connections.size >= max) {
      const error = this.#closing
        ? new WeirError('CLOSED', 'the server is shutting down')
        : new WeirError('LIMIT_EXCEEDED', `the server has ${max} connections already`);
      this.#refuse(socket, error);
      return;
    }
    const connection = new Connection(this.#nextConnectionId++, socket, {
      serverVersion: this.#options.serverVersion ?? '0.0.0',
      connectClient: this.#options.connectClient,
      authenticator: this.#options.authenticator ?? null,
      outputSlabs: this.#outputSlabs,
      log: this.#logger,
      ...(this.#options.heartbeatIntervalMs === undefined
        ? {}
        : { heartbeatIntervalMs: this.#options.heartbeatIntervalMs }),
    });
    this.#connections.add(connection);
    void connection.closed.then(() => this.#connections.delete(connection));
  }

  /**
   * Refuses a connection: waits for its HELLO (bounded) and answers it with an ERROR carrying
   * the HELLO's requestId, so the client's connect() fails with this code, then closes.
   */
  #refuse(socket: net.Socket, error: WeirError): void {
    this.#logger('warn', 'connection_refused', { remote: socket.remoteAddress, code: error.code });
    socket.on('error', () => undefined);
    let answered = false;
    const answer = (requestId: number) => {
      if (answered) return;
      answered = true;
      clearTimeout(timer);
      const writer = new Writer();
      writer.u32(0).u8(0).u8(0).u32(0);
      writeError(writer, error);
      const bytes = writer.finish();
      writeFrameHeader(bytes, OPCODES.ERROR, 0, requestId, bytes.length);
      socket.end(Buffer.from(bytes));
    };
    const timer = setTimeout(() => answer(0), HANDSHAKE_TIMEOUT_MS);
    timer.unref();
    socket.once('data', (chunk: Buffer) =>
      answer(chunk.length >= FRAME_HEADER_BYTES ? chunk.readUInt32LE(6) : 0),
    );
  }

  /** Stops accepting and ends every connection; resolves once all are torn down. */
  async close(): Promise<void> {
    this.#closing = true;
    const closed = new Promise<void>((resolve) => this.#server.close(() => resolve()));
    await Promise.allSettled([...this.#connections].map((connection) => connection.close()));
    await closed;
  }
}
