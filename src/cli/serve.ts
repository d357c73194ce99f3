/**
 * `weir serve`: opens the broker on a data directory and serves it over TCP, and the HTTP API
 * and console next to it (src/admin), until SIGTERM or SIGINT, then shuts down gracefully:
 * stop the HTTP server, stop accepting, end connections (their consumers hand leases back:
 * those messages are available at once on restart), close the broker (in-flight confirms
 * finish, logs and journals are synced), exit 0.
 */
import * as diagnosticsChannel from 'node:diagnostics_channel';
import * as path from 'node:path';
import { startAdminServer, type AdminServer, type ConnectionsView } from '../admin/index.js';
import { Broker } from '../broker/index.js';
import { HTTP_PORT_DEFAULT } from '../limits.js';
import { WeirServer, jsonLogger, type LogLevel } from '../server/index.js';

export interface ServeOptions {
  readonly dataDir: string;
  readonly host: string;
  readonly port: number;
  readonly logLevel: LogLevel;
  readonly memory: boolean;
  readonly version: string;
  /** Port of the HTTP API and console (default HTTP_PORT_DEFAULT; 0 picks a free one; null: none). */
  readonly httpPort?: number | null;
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

export async function serve(options: ServeOptions): Promise<void> {
  const logger = jsonLogger(options.logLevel);
  reportBrokerEvents(logger); // for the life of the process
  const started = performance.now();
  const broker = await Broker.open(
    options.memory ? { storage: 'memory' } : { dataDir: options.dataDir },
  );
  const server = await WeirServer.listen({
    connectClient: () => broker.connect(),
    host: options.host,
    port: options.port,
    serverVersion: options.version,
    logger,
  });
  const { host, port } = server.address();
  const where = options.memory ? 'in memory' : path.resolve(options.dataDir);
  logger('info', 'listening', {
    url: `weir://${host}:${port}`,
    dataDir: where,
    openMs: Math.round(performance.now() - started),
  });
  console.log(`weir ${options.version} listening on weir://${host}:${port} (data: ${where})`);
  const httpPort = options.httpPort === undefined ? HTTP_PORT_DEFAULT : options.httpPort;
  let admin: AdminServer | null = null;
  try {
    admin =
      httpPort === null
        ? null
        : await startAdminServer({
            broker,
            connections: connectionsView(server),
            host: options.host,
            port: httpPort,
            version: options.version,
          });
  } catch (error) {
    // The HTTP port is taken (or the console cannot load): do not leave the TCP server up.
    await server.close();
    await broker.close();
    throw error;
  }
  if (admin) {
    const { url } = admin.address();
    logger('info', 'http_listening', { url });
    console.log(`weir console and HTTP API on ${url}`);
  }

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
}
