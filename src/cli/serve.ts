/**
 * `weir serve`: opens the broker on a data directory and serves it over TCP, and the HTTP API
 * and console next to it (src/admin), until SIGTERM or SIGINT, then shuts down gracefully:
 * stop the HTTP server, stop accepting, end connections (their consumers hand leases back:
 * those messages are available at once on restart), close the broker (in-flight confirms
 * finish, logs and journals are synced), exit 0.
 *
 * Safe defaults (issue 13, docs/security.md): a broker with users makes every connection and
 * HTTP request authenticate (broker.authenticator). A broker without users is open — dev
 * mode, said once in the log — and is served so only on loopback addresses: bound (TCP or
 * HTTP) to any other address it refuses to start, before it listens, unless --insecure.
 * Every audit event (admin actions, refused authentications) is one JSON log line.
 */
import * as diagnosticsChannel from 'node:diagnostics_channel';
import { readFile } from 'node:fs/promises';
import * as path from 'node:path';
import {
  startAdminServer,
  type AdminServer,
  type ConnectionSnapshot,
  type ConnectionsView,
} from '../admin/index.js';
import { AUDIT_CHANNEL_NAME, Broker, type AuditEvent } from '../broker/index.js';
import { HTTP_PORT_DEFAULT } from '../limits.js';
import { WeirServer, freePort, jsonLogger, type LogLevel, type Logger } from '../server/index.js';
import { isLoopbackAddress, WeirError } from '../util/index.js';
import { ClusterNode, FollowerListener } from '../cluster/index.js';
import { AmqpServer, fileTopologyStore, NO_TOPOLOGY_STORE } from '../amqp/index.js';

export interface ServeOptions {
  readonly dataDir: string;
  readonly host: string;
  readonly port: number;
  readonly logLevel: LogLevel;
  readonly memory: boolean;
  readonly version: string;
  /** Port of the HTTP API and console (default HTTP_PORT_DEFAULT; 0 picks a free one; null: none). */
  readonly httpPort?: number | null;
  /** Address of the HTTP API and console; default `host`. */
  readonly httpHost?: string;
  /** PEM files: with cert and key both ports speak TLS; with ca, client certificates are required. */
  readonly tlsCert?: string;
  readonly tlsKey?: string;
  readonly tlsCa?: string;
  /** Serve a broker without users on a non-loopback address all the same. */
  readonly insecure?: boolean;
  /** POST a JSON notice here when new dead letters are seen (needs the HTTP side). */
  readonly deadLetterWebhook?: string;
  /** Port of the AMQP 0-9-1 listener (--amqp, --amqp-port, WEIR_AMQP_PORT; 0 picks a free one); absent or null: none. */
  readonly amqpPort?: number | null;
  /** Present: this process is a node of a cluster (weir serve --etcd). */
  readonly cluster?: ServeClusterOptions;
}

/** The cluster flags of `weir serve` (docs/cluster.md). */
export interface ServeClusterOptions {
  readonly nodeId: string;
  readonly etcd: readonly string[];
  /** HOST:PORT clients reach this node at; a port 0 is the port this node listens on. */
  readonly advertise: string;
  /** Port of the replication listener; default the TCP port + REPLICATION_PORT_OFFSET. */
  readonly replicationPort?: number;
  /** A file holding the secret nodes prove to each other (else WEIR_CLUSTER_SECRET). */
  readonly secretFile?: string;
}

/** The replication listener's port is the TCP port plus this, unless given. */
const REPLICATION_PORT_OFFSET = 2;

async function readClusterSecret(cluster: ServeClusterOptions): Promise<string | null> {
  if (cluster.secretFile !== undefined) {
    const text = (await readPem(cluster.secretFile, '--cluster-secret-file'))
      .toString('utf8')
      .trim();
    if (text === '')
      throw new WeirError(
        'INVALID_ARGUMENT',
        `--cluster-secret-file ${cluster.secretFile} is empty`,
      );
    return text;
  }
  const fromEnvironment = process.env['WEIR_CLUSTER_SECRET'];
  return fromEnvironment === undefined || fromEnvironment === '' ? null : fromEnvironment;
}

/** HOST:PORT with a port 0 replaced by the port actually served. */
function withPort(address: string, port: number): string {
  const colon = address.lastIndexOf(':');
  if (colon <= 0)
    throw new WeirError('INVALID_ARGUMENT', `--advertise ${address} is not HOST:PORT`);
  const given = Number(address.slice(colon + 1));
  if (!Number.isInteger(given) || given < 0 || given > 65_535) {
    throw new WeirError('INVALID_ARGUMENT', `--advertise ${address} has no valid port`);
  }
  return given === 0 ? `${address.slice(0, colon)}:${port}` : address;
}

/** The `tls` option of WeirServer.listen and startAdminServer (security-common contract). */
export interface ServeTls {
  readonly cert: Buffer;
  readonly key: Buffer;
  readonly ca?: Buffer;
}

/** What the admin layer sees of the TCP server's connections, and of the AMQP listener's. */
function connectionsView(server: WeirServer, amqp: () => AmqpServer | null): ConnectionsView {
  return {
    list: () => [
      ...server.connections().map((connection): ConnectionSnapshot => ({
        id: connection.id,
        protocol: 'weir',
        remote: connection.remote,
        clientName: connection.clientName,
        connectedAtMs: connection.connectedAtMs,
        consumerCount: connection.consumerCount,
        consumers: connection.consumers(),
        published: connection.published,
        delivered: connection.delivered,
      })),
      ...(amqp()?.connections() ?? []).map((connection): ConnectionSnapshot => {
        const consumers = connection.consumers();
        return {
          id: connection.id,
          protocol: 'amqp',
          remote: connection.peer,
          clientName: connection.clientName,
          connectedAtMs: connection.connectedAtMs,
          consumerCount: consumers.length,
          consumers,
          published: connection.published,
          delivered: connection.delivered,
        };
      }),
    ],
  };
}

/**
 * What the broker reports on diagnostics channels, as log lines: failures that stop a log, a
 * subscription or retention, offsets recovery lost, floors moved back at open. Subscribed
 * before the broker opens (lost ranges and clamps are found while it opens).
 */
const REPORTED_CHANNELS = [
  { name: 'weir:storage:failure', level: 'error', event: 'log_failed' },
  { name: 'weir:subscription:failed', level: 'error', event: 'subscription_failed' },
  { name: 'weir:stream:retention-failed', level: 'warn', event: 'retention_failed' },
  { name: 'weir:storage:lost-range', level: 'error', event: 'lost_range' },
  { name: 'weir:subscription:floor-clamped', level: 'warn', event: 'floor_clamped' },
] as const;

function reportBrokerEvents(logger: ReturnType<typeof jsonLogger>): () => void {
  const listeners = REPORTED_CHANNELS.map(({ name, level, event }) => {
    const listener = (message: unknown): void =>
      logger(level, event, { ...(message as Record<string, unknown>) });
    diagnosticsChannel.subscribe(name, listener);
    return () => diagnosticsChannel.unsubscribe(name, listener);
  });
  return () => {
    for (const unsubscribe of listeners) unsubscribe();
  };
}

/**
 * Audit events as log lines, always written whatever --log-level says (an audit trail that a
 * log level can switch off is none): `ok` at info, `refused` at warn.
 */
function reportAuditEvents(): () => void {
  const logger = jsonLogger('debug');
  const listener = (message: unknown): void => {
    const event = message as AuditEvent;
    logger(event.outcome === 'refused' ? 'warn' : 'info', 'audit', { ...event });
  };
  diagnosticsChannel.subscribe(AUDIT_CHANNEL_NAME, listener);
  return () => diagnosticsChannel.unsubscribe(AUDIT_CHANNEL_NAME, listener);
}

async function readPem(file: string, flag: string): Promise<Buffer> {
  try {
    return await readFile(file);
  } catch (error) {
    throw new WeirError('INVALID_ARGUMENT', `${flag} ${file}: ${String(error)}`, { cause: error });
  }
}

/** The TLS files named on the command line, read; null when none is named. */
export async function readServeTls(options: ServeOptions): Promise<ServeTls | null> {
  const { tlsCert, tlsKey, tlsCa } = options;
  if (tlsCert === undefined && tlsKey === undefined && tlsCa === undefined) return null;
  if (tlsCert === undefined || tlsKey === undefined) {
    throw new WeirError('INVALID_ARGUMENT', 'TLS needs both --tls-cert and --tls-key');
  }
  return {
    cert: await readPem(tlsCert, '--tls-cert'),
    key: await readPem(tlsKey, '--tls-key'),
    ...(tlsCa === undefined ? {} : { ca: await readPem(tlsCa, '--tls-ca') }),
  };
}

/**
 * Refuses to serve a broker without users beyond loopback (unless --insecure), and says in
 * the log what the broker is: open on loopback (dev mode), open on purpose, or with users.
 */
function checkExposure(
  options: ServeOptions,
  broker: Broker,
  addresses: readonly string[],
  logger: Logger,
): void {
  const users = broker.authenticator.users.size;
  if (users > 0) {
    logger('info', 'authentication', { users, message: 'every client must authenticate' });
    return;
  }
  const exposed = [...new Set(addresses.filter((address) => !isLoopbackAddress(address)))];
  if (exposed.length === 0) {
    logger('warn', 'dev_mode', {
      message:
        'no users: every client may do everything; this is served on loopback only (weir user add makes users)',
    });
    return;
  }
  if (options.insecure === true) {
    logger('warn', 'insecure', {
      addresses: exposed,
      message: 'no users and --insecure: anyone who reaches these addresses may do everything',
    });
    return;
  }
  const how = options.memory
    ? 'A memory broker has no users file: serve it on 127.0.0.1, or pass --insecure'
    : `Add a user first (weir user add NAME --admin --password-stdin --data-dir ${options.dataDir}), or pass --insecure to serve it open`;
  throw new WeirError(
    'NOT_AUTHORIZED',
    `refusing to listen on ${exposed.join(', ')} with no users: anyone who reaches it could read, publish and delete everything. ${how}.`,
  );
}

/** The client ports of one broker: TCP, and the HTTP API and console next to it. */
interface Serving {
  readonly server: WeirServer;
  readonly admin: AdminServer | null;
  readonly amqp: AmqpServer | null;
  close(): Promise<void>;
}

async function serveBroker(
  options: ServeOptions,
  broker: Broker,
  tls: ServeTls | null,
  logger: Logger,
  ports: { tcp: number; http: number | null; amqp: number | null },
): Promise<Serving> {
  const httpHost = options.httpHost ?? options.host;
  checkExposure(
    options,
    broker,
    ports.http === null ? [options.host] : [options.host, httpHost],
    logger,
  );
  // Each connection's client acts for the principal its handshake authenticated.
  const server = await WeirServer.listen({
    connectClient: (identity) => broker.connect(identity),
    authenticator: broker.authenticator,
    ...(tls === null ? {} : { tls }),
    host: options.host,
    port: ports.tcp,
    serverVersion: options.version,
    logger,
  });
  let admin: AdminServer | null = null;
  let amqp: AmqpServer | null = null;
  try {
    if (ports.amqp !== null) {
      const dataDir = broker.dataDir;
      amqp = await AmqpServer.listen({
        connectClient: (principal, remote) =>
          principal === null ? broker.connect() : broker.connect({ principal, remote }),
        authenticator: broker.authenticator,
        store: dataDir === null ? NO_TOPOLOGY_STORE : fileTopologyStore(broker.fileSystem, dataDir),
        durableStorage: options.memory ? 'memory' : 'file',
        host: options.host,
        port: ports.amqp,
        serverVersion: options.version,
        ...(tls === null ? {} : { tls }),
        log: logger,
      });
      const address = amqp.address();
      const url = `${amqp.secure ? 'amqps' : 'amqp'}://${address.host}:${address.port}`;
      logger('info', 'amqp_listening', { url, tls: amqp.secure });
      console.log(`weir AMQP 0-9-1 on ${url}`);
    }
    if (ports.http !== null) {
      // A variable for the same reason as serverOptions (the admin side adds `tls`).
      const adminOptions = {
        broker,
        connections: connectionsView(server, () => amqp),
        host: httpHost,
        port: ports.http,
        version: options.version,
        ...(tls === null ? {} : { tls }),
        ...(options.deadLetterWebhook === undefined
          ? {}
          : { deadLetterWebhook: { url: options.deadLetterWebhook } }),
      };
      admin = await startAdminServer(adminOptions);
    }
  } catch (error) {
    // The HTTP or AMQP port is taken (or the console cannot load): do not leave the rest up.
    await amqp?.close();
    await server.close();
    throw error;
  }
  return {
    server,
    admin,
    amqp,
    close: async () => {
      await admin?.close();
      await amqp?.close();
      await server.close();
    },
  };
}

function announce(
  options: ServeOptions,
  serving: Serving,
  logger: Logger,
  tls: ServeTls | null,
  fields: Record<string, unknown> = {},
): void {
  const { host, port } = serving.server.address();
  const scheme = tls === null ? 'weir' : 'weirs';
  const where = options.memory ? 'in memory' : path.resolve(options.dataDir);
  logger('info', 'listening', {
    url: `${scheme}://${host}:${port}`,
    dataDir: where,
    tls: tls !== null,
    clientCertificates: tls?.ca !== undefined,
    ...fields,
  });
  console.log(`weir ${options.version} listening on ${scheme}://${host}:${port} (data: ${where})`);
}

/** SIGTERM and SIGINT stop gracefully: `stop` runs once, then the process exits. */
function onSignals(logger: Logger, stop: () => Promise<void>): void {
  let stopping = false;
  const handle = (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger('info', 'shutting_down', { signal });
    void (async () => {
      try {
        await stop();
        logger('info', 'stopped', {});
        process.exitCode = 0;
      } catch (error) {
        logger('error', 'shutdown_failed', {
          message: error instanceof Error ? error.message : String(error),
        });
        process.exitCode = 1;
      }
      process.exit();
    })();
  };
  process.on('SIGTERM', () => handle('SIGTERM'));
  process.on('SIGINT', () => handle('SIGINT'));
}

export async function serve(options: ServeOptions): Promise<void> {
  const logger = jsonLogger(options.logLevel);
  const tls = await readServeTls(options);
  reportBrokerEvents(logger); // for the life of the process
  reportAuditEvents();
  if (options.cluster !== undefined) return serveCluster(options, options.cluster, tls, logger);
  const started = performance.now();
  const broker = await Broker.open(
    options.memory ? { storage: 'memory' } : { dataDir: options.dataDir },
  );
  const httpPort = options.httpPort === undefined ? HTTP_PORT_DEFAULT : options.httpPort;
  let serving: Serving;
  try {
    serving = await serveBroker(options, broker, tls, logger, {
      tcp: options.port,
      http: httpPort,
      amqp: options.amqpPort ?? null,
    });
  } catch (error) {
    await broker.close();
    throw error;
  }
  announce(options, serving, logger, tls, {
    openMs: Math.round(performance.now() - started),
  });
  // Before the HTTP line that says it is ready: whoever waits for that line and then sends
  // SIGTERM gets a graceful stop, not the default action of a signal without a handler.
  onSignals(logger, async () => {
    await serving.close();
    await broker.close();
  });
  if (serving.admin) {
    const { url } = serving.admin.address();
    logger('info', 'http_listening', { url });
    console.log(`weir console and HTTP API on ${url}`);
  }
}

/**
 * `weir serve --etcd`: a node of a cluster (src/cluster, docs/cluster.md). The client ports
 * are served in every role: by the broker while this node leads, by the follower listener
 * (NOT_LEADER with the leader's address) otherwise. Ports given as 0 are chosen once, at
 * start, so the address in etcd stays true across role changes.
 */
async function serveCluster(
  options: ServeOptions,
  cluster: ServeClusterOptions,
  tls: ServeTls | null,
  logger: Logger,
): Promise<void> {
  if (options.memory) {
    throw new WeirError('INVALID_ARGUMENT', 'a cluster node keeps its data on disk: drop --memory');
  }
  const httpHost = options.httpHost ?? options.host;
  const requestedHttp = options.httpPort === undefined ? HTTP_PORT_DEFAULT : options.httpPort;
  const ports = {
    tcp: options.port === 0 ? await freePort(options.host) : options.port,
    http:
      requestedHttp === null
        ? null
        : requestedHttp === 0
          ? await freePort(httpHost)
          : requestedHttp,
    amqp:
      options.amqpPort === undefined || options.amqpPort === null
        ? null
        : options.amqpPort === 0
          ? await freePort(options.host)
          : options.amqpPort,
  };
  const advertise = withPort(cluster.advertise, ports.tcp);
  const advertiseHost = advertise.slice(0, advertise.lastIndexOf(':'));
  const replicationPort =
    cluster.replicationPort ?? (options.port === 0 ? 0 : options.port + REPLICATION_PORT_OFFSET);
  const secret = await readClusterSecret(cluster);
  const node = await ClusterNode.start({
    nodeId: cluster.nodeId,
    etcd: cluster.etcd,
    advertise,
    advertiseHttp: ports.http === null ? null : `${advertiseHost}:${ports.http}`,
    dataDir: options.dataDir,
    host: options.host,
    replicationHost: advertiseHost,
    replicationPort,
    secret,
    logger,
    serveLeader: async (broker) => {
      let serving: Serving;
      try {
        serving = await serveBroker(options, broker, tls, logger, ports);
      } catch (error) {
        if (error instanceof WeirError && error.code === 'NOT_AUTHORIZED') {
          // Exposed with no users: a setting, not a moment; the node cannot lead like this.
          logger('error', 'refused', { message: error.message });
          process.exit(1);
        }
        throw error;
      }
      announce(options, serving, logger, tls, { role: 'leader' });
      if (serving.admin) logger('info', 'http_listening', { url: serving.admin.address().url });
      return serving;
    },
    serveFollower: async (view) => {
      const listener = await FollowerListener.listen({
        host: options.host,
        port: ports.tcp,
        httpHost: ports.http === null ? null : httpHost,
        httpPort: ports.http,
        ...(tls === null ? {} : { tls }),
        ...view,
      });
      const { tcp, http } = listener.address();
      const scheme = tls === null ? 'weir' : 'weirs';
      logger('info', 'listening', { url: `${scheme}://${tcp.host}:${tcp.port}`, role: 'follower' });
      if (http) {
        logger('info', 'http_listening', {
          url: `${tls === null ? 'http' : 'https'}://${http.host}:${http.port}`,
          role: 'follower',
        });
      }
      return listener;
    },
  });
  onSignals(logger, () => node.close());
}
