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
import { startAdminServer, type AdminServer, type ConnectionsView } from '../admin/index.js';
import { AUDIT_CHANNEL_NAME, Broker, type AuditEvent } from '../broker/index.js';
import { HTTP_PORT_DEFAULT } from '../limits.js';
import { WeirServer, jsonLogger, type LogLevel, type Logger } from '../server/index.js';
import { WeirError } from '../util/index.js';
import { isLoopbackAddress } from './loopback-address.js';

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
}

/** The `tls` option of WeirServer.listen and startAdminServer (security-common contract). */
export interface ServeTls {
  readonly cert: Buffer;
  readonly key: Buffer;
  readonly ca?: Buffer;
}

/** What the admin layer sees of the TCP server's connections. */
function connectionsView(server: WeirServer): ConnectionsView {
  return {
    list: () =>
      server.connections().map((connection) => ({
        id: connection.id,
        remote: connection.remote,
        clientName: connection.clientName,
        connectedAtMs: connection.connectedAtMs,
        consumerCount: connection.consumerCount,
        consumers: connection.consumers(),
        published: connection.published,
        delivered: connection.delivered,
      })),
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

export async function serve(options: ServeOptions): Promise<void> {
  const logger = jsonLogger(options.logLevel);
  const tls = await readServeTls(options);
  reportBrokerEvents(logger); // for the life of the process
  reportAuditEvents();
  const started = performance.now();
  const broker = await Broker.open(
    options.memory ? { storage: 'memory' } : { dataDir: options.dataDir },
  );
  const httpPort = options.httpPort === undefined ? HTTP_PORT_DEFAULT : options.httpPort;
  const httpHost = options.httpHost ?? options.host;
  let server: WeirServer;
  try {
    checkExposure(
      options,
      broker,
      httpPort === null ? [options.host] : [options.host, httpHost],
      logger,
    );
    // Each connection's client acts for the principal its handshake authenticated.
    server = await WeirServer.listen({
      connectClient: (identity) => broker.connect(identity),
      authenticator: broker.authenticator,
      ...(tls === null ? {} : { tls }),
      host: options.host,
      port: options.port,
      serverVersion: options.version,
      logger,
    });
  } catch (error) {
    await broker.close();
    throw error;
  }
  const { host, port } = server.address();
  const scheme = tls === null ? 'weir' : 'weirs';
  const where = options.memory ? 'in memory' : path.resolve(options.dataDir);
  logger('info', 'listening', {
    url: `${scheme}://${host}:${port}`,
    dataDir: where,
    tls: tls !== null,
    clientCertificates: tls?.ca !== undefined,
    openMs: Math.round(performance.now() - started),
  });
  console.log(`weir ${options.version} listening on ${scheme}://${host}:${port} (data: ${where})`);
  let admin: AdminServer | null = null;
  try {
    if (httpPort !== null) {
      // A variable for the same reason as serverOptions (the admin side adds `tls`).
      const adminOptions = {
        broker,
        connections: connectionsView(server),
        host: httpHost,
        port: httpPort,
        version: options.version,
        ...(tls === null ? {} : { tls }),
        ...(options.deadLetterWebhook === undefined
          ? {}
          : { deadLetterWebhook: { url: options.deadLetterWebhook } }),
      };
      admin = await startAdminServer(adminOptions);
    }
  } catch (error) {
    // The HTTP port is taken (or the console cannot load): do not leave the TCP server up.
    await server.close();
    await broker.close();
    throw error;
  }
  // Before the HTTP line that says it is ready: whoever waits for that line and then sends
  // SIGTERM gets a graceful stop, not the default action of a signal without a handler.
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger('info', 'shutting_down', { signal });
    void (async () => {
      try {
        await admin?.close();
        await server.close();
        await broker.close();
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
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  if (admin) {
    const { url } = admin.address();
    logger('info', 'http_listening', { url });
    console.log(`weir console and HTTP API on ${url}`);
  }
}
