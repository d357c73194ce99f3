/**
 * `weir outbox init` and `weir outbox relay`: the transactional outbox for PostgreSQL from the
 * command line (src/outbox, docs/concepts.md "Transactional outbox").
 *
 *   weir outbox init --pg URL [--table T]
 *     creates the outbox table, its index and its NOTIFY trigger (idempotent);
 *   weir outbox relay --pg URL [--url weir://...] [--table T] [--batch N]
 *                     [--poll-interval-ms MS] [--metrics-port P [--metrics-host H]]
 *                     [--user NAME | --token T] [--tls-ca FILE]
 *     publishes the table's rows to the server until SIGINT or SIGTERM; with --metrics-port it
 *     serves GET /metrics (Prometheus text: weir_outbox_pending, weir_outbox_oldest_age_seconds).
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Option, type Command } from 'commander';
import pg from 'pg';
import { Registry } from 'prom-client';
import { connect } from '../client/index.js';
import { OUTBOX_TABLE_DEFAULT, OutboxRelay, createOutboxTable } from '../outbox/index.js';
import { connectOptions, splitClientFlags, type ClientFlags } from './client-connection.js';
import { integer, urlOption } from './command-options.js';

const pgOption = () =>
  new Option('--pg <url>', 'PostgreSQL connection string (env WEIR_OUTBOX_PG)')
    .env('WEIR_OUTBOX_PG')
    .makeOptionMandatory();
const tableOption = () =>
  new Option('--table <name>', 'the outbox table').default(OUTBOX_TABLE_DEFAULT);

export async function outboxInit(options: { pg: string; table: string }): Promise<void> {
  const client = new pg.Client({ connectionString: options.pg });
  await client.connect();
  try {
    await createOutboxTable(client, { table: options.table });
    console.log(`outbox table ${options.table} is ready`);
  } finally {
    await client.end();
  }
}

/** The relay's flags; --url and the credential flags (--user, --token, --tls-ca) are ClientFlags. */
export interface OutboxRelayCommandOptions extends ClientFlags {
  readonly pg: string;
  readonly table: string;
  readonly batch?: number;
  readonly pollIntervalMs?: number;
  readonly metricsPort?: number;
  readonly metricsHost: string;
}

function serveMetrics(relay: OutboxRelay, registry: Registry, port: number, host: string) {
  const server = createServer((request, response) => {
    if (request.method !== 'GET' || request.url?.split('?')[0] !== '/metrics') {
      response.writeHead(404).end('not found\n');
      return;
    }
    void (async () => {
      // Fresh figures for each scrape; if PostgreSQL is down, the last ones are served.
      await relay.lag().catch(() => undefined);
      response.writeHead(200, { 'content-type': registry.contentType });
      response.end(await registry.metrics());
    })();
  });
  return new Promise<Server>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve(server));
  });
}

/** Relays until SIGINT or SIGTERM, then closes the relay (after its batch) and exits. */
export async function outboxRelayCommand(input: OutboxRelayCommandOptions): Promise<void> {
  const [flags, options] = splitClientFlags(input);
  // Unlike a one-shot command, the relay reconnects: a broker restart only delays publishes
  // (they fail, are recorded in their rows and retried).
  const client = await connect(flags.url, {
    ...(await connectOptions(flags)),
    name: 'weir-outbox-relay',
  });
  const registry = new Registry();
  const relay = new OutboxRelay({
    pg: options.pg,
    client,
    table: options.table,
    registry,
    ...(options.batch === undefined ? {} : { batchSize: options.batch }),
    ...(options.pollIntervalMs === undefined ? {} : { pollIntervalMs: options.pollIntervalMs }),
  });
  relay.on('failure', (error) =>
    console.error(`weir outbox: ${error instanceof Error ? error.message : String(error)}`),
  );
  let metrics: Server | null = null;
  try {
    await relay.start();
    if (options.metricsPort !== undefined) {
      metrics = await serveMetrics(relay, registry, options.metricsPort, options.metricsHost);
      const { port } = metrics.address() as AddressInfo;
      console.log(`metrics on http://${options.metricsHost}:${port}/metrics`);
    }
    console.log(`relaying outbox table ${options.table} to ${flags.url}`);
    const signal = await new Promise<string>((resolve) => {
      process.once('SIGINT', () => resolve('SIGINT'));
      process.once('SIGTERM', () => resolve('SIGTERM'));
    });
    console.log(`${signal}: stopping after the batch in progress`);
  } finally {
    await relay.close();
    await client.close();
    if (metrics !== null) {
      metrics.closeAllConnections();
      await new Promise((resolve) => metrics?.close(resolve));
    }
  }
}

export function registerOutboxCommands(program: Command): void {
  const outbox = program
    .command('outbox')
    .description('the transactional outbox for PostgreSQL (init, relay)');
  outbox
    .command('init')
    .description('create the outbox table, its index and its NOTIFY trigger (idempotent)')
    .addOption(pgOption())
    .addOption(tableOption())
    .action(async (options: { pg: string; table: string }) => outboxInit(options));
  outbox
    .command('relay')
    .description('publish the outbox table’s rows to Weir, each exactly once, until Ctrl-C')
    .addOption(pgOption())
    .addOption(urlOption())
    .addOption(tableOption())
    .option('--batch <n>', 'rows per batch', integer('batch', 1))
    .option(
      '--poll-interval-ms <ms>',
      'fallback poll when no NOTIFY comes',
      integer('poll-interval-ms', 1),
    )
    .option('--metrics-port <port>', 'serve /metrics on this port (0: a free one)', integer('port'))
    .option('--metrics-host <host>', 'address for /metrics', '127.0.0.1')
    .action(async (options: OutboxRelayCommandOptions) => outboxRelayCommand(options));
}
