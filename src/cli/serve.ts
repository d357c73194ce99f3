/**
 * `weir serve`: opens the broker on a data directory and serves it over TCP until SIGTERM or
 * SIGINT, then shuts down gracefully: stop accepting, end connections (their consumers hand
 * leases back: those messages are available at once on restart), close the broker (in-flight
 * confirms finish, logs and journals are synced), exit 0.
 */
import * as path from 'node:path';
import { Broker } from '../broker/index.js';
import { WeirServer, jsonLogger, type LogLevel } from '../server/index.js';

export interface ServeOptions {
  readonly dataDir: string;
  readonly host: string;
  readonly port: number;
  readonly logLevel: LogLevel;
  readonly memory: boolean;
  readonly version: string;
}

export async function serve(options: ServeOptions): Promise<void> {
  const logger = jsonLogger(options.logLevel);
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

  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger('info', 'shutting_down', { signal });
    void (async () => {
      try {
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
