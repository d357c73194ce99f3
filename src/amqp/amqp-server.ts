/**
 * The AMQP 0-9-1 listener of `weir serve --amqp`: accepts connections (at most
 * CONNECTIONS_MAX, like the Weir port), gives each its AmqpConnection over the shared
 * gateway, and shuts down as RabbitMQ does: connection.close 320 CONNECTION_FORCED to every
 * connection, their consumers hand their messages back, then the caller closes the broker.
 *
 * With `tls` the port speaks AMQP over TLS (amqps, as RabbitMQ's 5671) and a connection
 * starts once its TLS handshake is done; with `tls.ca` a client must also present a
 * certificate that CA signed (its login is still PLAIN or AMQPLAIN). A peer that fails the
 * handshake is logged and dropped.
 */
import * as net from 'node:net';
import type * as tls from 'node:tls';
import type { Authenticator, Principal } from '../broker/index.js';
import type { Client } from '../protocol/index.js';
import {
  createTlsListener,
  systemClock,
  type Clock,
  type ListenerTlsOptions,
} from '../util/index.js';
import { AMQP_HANDSHAKE_TIMEOUT_MS, CONNECTIONS_MAX } from '../limits.js';
import { AmqpConnection } from './amqp-connection.js';
import { AmqpGateway } from './amqp-gateway.js';
import { NO_TOPOLOGY_STORE, type TopologyStore } from './topology-store.js';

/** PEM certificate and key of the listener; `ca`: client certificates are required. */
export type AmqpTlsOptions = ListenerTlsOptions;

export interface AmqpServerOptions {
  /** A client acting for `principal` (`broker.connect({ principal, remote })`). */
  readonly connectClient: (principal: Principal | null, remote: string | null) => Client;
  readonly authenticator?: Authenticator;
  /** Where durable exchanges, queues and bindings are kept (default: nowhere). */
  readonly store?: TopologyStore;
  /** Storage of durable queues' streams; default 'file' with a store, 'memory' without. */
  readonly durableStorage?: 'file' | 'memory';
  readonly host?: string;
  /** 0 picks a free port (see `address()`). */
  readonly port?: number;
  readonly serverVersion?: string;
  readonly heartbeatSeconds?: number;
  /** amqps: TLS on the port. */
  readonly tls?: AmqpTlsOptions;
  readonly clock?: Clock;
  readonly log?: (level: 'info' | 'warn', event: string, fields: Record<string, unknown>) => void;
}

export class AmqpServer {
  readonly #server: net.Server;
  readonly #gateway: AmqpGateway;
  readonly #system: Client;
  readonly #connections = new Set<AmqpConnection>();
  readonly #options: AmqpServerOptions;
  #nextId = 1;
  #closing: Promise<void> | null = null;

  private constructor(options: AmqpServerOptions, gateway: AmqpGateway, system: Client) {
    this.#options = options;
    this.#gateway = gateway;
    this.#system = system;
    this.#server =
      options.tls === undefined
        ? net.createServer((socket) => this.#accept(socket))
        : this.#tlsServer(options.tls);
    this.#server.maxConnections = CONNECTIONS_MAX;
  }

  #tlsServer(options: AmqpTlsOptions): tls.Server {
    return createTlsListener(
      options,
      AMQP_HANDSHAKE_TIMEOUT_MS,
      (socket) => this.#accept(socket),
      (failure) => this.#options.log?.('warn', 'amqp_tls_handshake_failed', { ...failure }),
    );
  }

  /** True when the port speaks TLS (amqps). */
  get secure(): boolean {
    return this.#options.tls !== undefined;
  }

  static async listen(options: AmqpServerOptions): Promise<AmqpServer> {
    const system = options.connectClient(null, null);
    const gateway = await AmqpGateway.open({
      store: options.store ?? NO_TOPOLOGY_STORE,
      system,
      clock: options.clock ?? systemClock,
      durableStorage: options.durableStorage ?? (options.store === undefined ? 'memory' : 'file'),
    });
    const server = new AmqpServer(options, gateway, system);
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

  get gateway(): AmqpGateway {
    return this.#gateway;
  }

  connections(): AmqpConnection[] {
    return [...this.#connections];
  }

  #accept(socket: net.Socket): void {
    if (this.#closing !== null) {
      socket.destroy();
      return;
    }
    const log = this.#options.log ?? (() => undefined);
    const connection = new AmqpConnection(socket, {
      id: this.#nextId++,
      gateway: this.#gateway,
      authenticator: this.#options.authenticator ?? null,
      connectClient: (principal, remote) => this.#options.connectClient(principal, remote),
      serverVersion: this.#options.serverVersion ?? '0.0.0',
      ...(this.#options.heartbeatSeconds === undefined
        ? {}
        : { heartbeatSeconds: this.#options.heartbeatSeconds }),
      log,
      onClosed: (closed) => this.#connections.delete(closed),
    });
    this.#connections.add(connection);
  }

  close(): Promise<void> {
    this.#closing ??= (async () => {
      const closed = new Promise<void>((resolve) => this.#server.close(() => resolve()));
      await Promise.all([...this.#connections].map((connection) => connection.shutdown()));
      await closed;
      await this.#gateway.close();
      await this.#system.close().catch(() => undefined);
    })();
    return this.#closing;
  }
}
