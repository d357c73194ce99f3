#!/usr/bin/env node
/**
 * The `weir` command. Every command has --help; errors print `weir: CODE: message` on stderr
 * and exit non-zero (1 for a refusal, 2 for bad usage).
 *
 * The shebang stays a plain `node`: `env -S` (to pass NODE_FLAGS, node-flags.ts) is missing
 * from BusyBox, so the bin would break on Alpine. `npm start` and the benchmarks pass the
 * flags; `NODE_OPTIONS=--max-semi-space-size=8 weir serve` does the same for the bin.
 */
import { readFileSync } from 'node:fs';
import { Command, InvalidArgumentError, Option } from 'commander';
import { WeirError, isWeirError } from '../util/index.js';
import { AMQP_PORT_DEFAULT, HTTP_PORT_DEFAULT, SERVER_PORT_DEFAULT } from '../limits.js';
import { isLogLevel, type LogLevel } from '../server/index.js';
import type {
  DeadLetterReason,
  FsyncPolicy,
  RedriveTarget,
  StreamChanges,
  StreamOptions,
} from '../protocol/index.js';
import { runDemo } from './demo.js';
import { serve, type ServeClusterOptions } from './serve.js';
import { benchCommand } from './bench-command.js';
import { addCredentialOptions, splitClientFlags, type ClientFlags } from './client-connection.js';
import {
  collect,
  integer,
  limitOrNone,
  noneToNull,
  overflowOption,
  urlOption,
} from './command-options.js';
import { registerClusterCommands } from './cluster-program.js';
import { registerQueueCommands } from './queue-program.js';
import { registerScheduleCommands } from './schedule-program.js';
import { replyCommand } from './reply-command.js';
import { closeStandardInput } from './standard-input.js';
import { registerSubscriptionCommands } from './subscription-program.js';
import { registerUserCommands } from './user-program.js';
import { headerFilterFromFlags } from './where-filter.js';
import {
  deadLetterList,
  deadLetterRedrive,
  deadLetterRemove,
  publishCommand,
  requestCommand,
  streamAdd,
  streamEdit,
  streamInfo,
  streamList,
  streamPurge,
  streamRemove,
  subscribeCommand,
} from './client-commands.js';

const { version } = JSON.parse(
  readFileSync(new URL('../../../package.json', import.meta.url), 'utf8'),
) as {
  version: string;
};
const program = new Command('weir')
  .description('Weir — a durable message broker')
  .version(version, '-v, --version')
  .showHelpAfterError()
  // `weir sub STREAM --start …` and `weir sub seek STREAM NAME --start …` both have --start:
  // an option after a subcommand's name belongs to the subcommand.
  .enablePositionalOptions()
  .configureOutput({ outputError: (text, write) => write(text) });

program
  .command('serve')
  .description(
    `run the broker server (TCP ${SERVER_PORT_DEFAULT}, HTTP API and console ${HTTP_PORT_DEFAULT})`,
  )
  .addOption(
    new Option('--data-dir <dir>', 'where streams are stored')
      .env('WEIR_DATA_DIR')
      .default('./data'),
  )
  .addOption(
    new Option('--host <host>', 'address to listen on').env('WEIR_HOST').default('127.0.0.1'),
  )
  .addOption(
    new Option('--http-host <host>', 'address of the HTTP API and console (default: --host)').env(
      'WEIR_HTTP_HOST',
    ),
  )
  .addOption(new Option('--tls-cert <file>', 'serve TLS on both ports: certificate (PEM)'))
  .addOption(new Option('--tls-key <file>', 'the private key of --tls-cert (PEM)'))
  .addOption(new Option('--tls-ca <file>', 'require client certificates signed by these CAs (PEM)'))
  .addOption(
    new Option(
      '--insecure',
      'listen on a non-loopback address even with no users (anyone who reaches it may do everything)',
    ).default(false),
  )
  .addOption(
    new Option('--port <port>', 'TCP port; 0 picks a free one and prints it')
      .env('WEIR_PORT')
      .default(SERVER_PORT_DEFAULT)
      .argParser(integer('port')),
  )
  .addOption(
    new Option('--http-port <port>', 'HTTP API and console port; 0 picks a free one')
      .env('WEIR_HTTP_PORT')
      .default(HTTP_PORT_DEFAULT)
      .argParser(integer('http-port')),
  )
  .addOption(new Option('--no-http', 'no HTTP API and console'))
  .addOption(
    new Option(
      '--amqp',
      `also speak AMQP 0-9-1 (RabbitMQ's clients), on ${AMQP_PORT_DEFAULT} unless --amqp-port`,
    ).default(false),
  )
  .addOption(
    new Option('--amqp-port <port>', 'AMQP 0-9-1 port (implies --amqp); 0 picks a free one')
      .env('WEIR_AMQP_PORT')
      .argParser(integer('amqp-port')),
  )
  .addOption(
    new Option(
      '--dead-letter-webhook <url>',
      'POST a JSON notice to this URL when new dead letters are seen (retried)',
    ).env('WEIR_DEAD_LETTER_WEBHOOK'),
  )
  .addOption(new Option('--memory', 'keep everything in memory (nothing on disk)').default(false))
  .addOption(
    new Option('--etcd <urls>', 'join a cluster through these etcd endpoints (URL[,URL])').env(
      'WEIR_ETCD',
    ),
  )
  .addOption(
    new Option('--node-id <id>', "this node's name in the cluster (with --etcd)").env(
      'WEIR_NODE_ID',
    ),
  )
  .addOption(
    new Option('--advertise <host:port>', 'where clients reach this node (with --etcd)').env(
      'WEIR_ADVERTISE',
    ),
  )
  .addOption(
    new Option(
      '--replication-port <port>',
      'port followers replicate from (with --etcd; default: --port + 2)',
    ).argParser(integer('replication-port')),
  )
  .addOption(
    new Option(
      '--cluster-secret-file <file>',
      'a secret the nodes prove to each other (else WEIR_CLUSTER_SECRET)',
    ),
  )
  .addOption(
    new Option('--log-level <level>', 'debug | info | warn | error')
      .env('WEIR_LOG_LEVEL')
      .default('info')
      .argParser((value) => {
        if (!isLogLevel(value))
          throw new InvalidArgumentError('must be debug, info, warn or error');
        return value;
      }),
  )
  .action(
    async (options: {
      dataDir: string;
      host: string;
      port: number;
      memory: boolean;
      logLevel: LogLevel;
      httpPort: number;
      http: boolean;
      amqp: boolean;
      amqpPort?: number;
      httpHost?: string;
      tlsCert?: string;
      tlsKey?: string;
      tlsCa?: string;
      insecure: boolean;
      deadLetterWebhook?: string;
      etcd?: string;
      nodeId?: string;
      advertise?: string;
      replicationPort?: number;
      clusterSecretFile?: string;
    }) => {
      const {
        http,
        httpPort,
        amqp,
        amqpPort,
        etcd,
        nodeId,
        advertise,
        replicationPort,
        clusterSecretFile,
        ...rest
      } = options;
      let cluster: ServeClusterOptions | undefined;
      if (etcd !== undefined) {
        if (nodeId === undefined || !/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/.test(nodeId)) {
          throw new WeirError(
            'INVALID_ARGUMENT',
            '--etcd needs --node-id: letters, digits, dots, dashes and underscores, at most 64',
          );
        }
        if (advertise === undefined) {
          throw new WeirError(
            'INVALID_ARGUMENT',
            '--etcd needs --advertise HOST:PORT (where clients reach this node)',
          );
        }
        cluster = {
          nodeId,
          etcd: etcd
            .split(',')
            .map((url) => url.trim())
            .filter((url) => url !== ''),
          advertise,
          ...(replicationPort === undefined ? {} : { replicationPort }),
          ...(clusterSecretFile === undefined ? {} : { secretFile: clusterSecretFile }),
        };
      } else if (nodeId !== undefined || advertise !== undefined || replicationPort !== undefined) {
        throw new WeirError(
          'INVALID_ARGUMENT',
          '--node-id, --advertise and --replication-port need --etcd',
        );
      }
      await serve({
        ...rest,
        httpPort: http ? httpPort : null,
        amqpPort: amqpPort ?? (amqp ? AMQP_PORT_DEFAULT : null),
        version,
        ...(cluster === undefined ? {} : { cluster }),
      });
    },
  );

const stream = program.command('stream').description('manage streams');
stream
  .command('add <name>')
  .description('create a stream (the same configuration again is not an error)')
  .addOption(urlOption())
  .option('--subjects <patterns>', 'comma-separated subject patterns (default: the name)')
  .option('--partitions <n>', 'number of partitions', integer('partitions', 1))
  .addOption(new Option('--storage <kind>', 'file or memory').choices(['file', 'memory']))
  .addOption(
    new Option('--fsync <policy>', 'always, interval or never').choices([
      'always',
      'interval',
      'never',
    ]),
  )
  .addOption(
    new Option('--retention <policy>', 'limits or work-queue').choices(['limits', 'work-queue']),
  )
  .option('--max-age-ms <ms>', 'drop messages older than this', integer('max-age-ms', 1))
  .option('--max-bytes <bytes>', 'keep at most about this many bytes', integer('max-bytes', 1))
  .option('--max-messages <n>', 'keep at most this many messages', integer('max-messages', 1))
  .addOption(overflowOption())
  .option('--dedup-window-ms <ms>', 'de-duplication window', integer('dedup-window-ms'))
  .option(
    '--max-message-bytes <bytes>',
    'largest message accepted',
    integer('max-message-bytes', 1),
  )
  .option(
    '--ttl-ms <ms>',
    'a message without its own ttl expires this long after it is stored',
    integer('ttl-ms', 1),
  )
  .option(
    '--replicas <n>',
    'cluster nodes that must hold the stream (default: 1 on a single node, min(3, nodes) in a cluster)',
    integer('replicas', 1),
  )
  .option(
    '--min-in-sync <n>',
    'in-sync nodes a publish needs, 1..replicas (default: a majority of replicas)',
    integer('min-in-sync', 1),
  )
  .action(async (name: string, options: Record<string, unknown> & ClientFlags) => {
    const [target, own] = splitClientFlags(options);
    const { subjects, ...rest } = own as { subjects?: string };
    const streamOptions = {
      ...rest,
      ...(subjects === undefined ? {} : { subjects: subjects.split(',') }),
    } as StreamOptions;
    await streamAdd(target, name, streamOptions);
  });
stream
  .command('edit <name>')
  .description(
    'change a live stream: subjects, limits, overflow, dedup window, message size, ttl (none clears a limit)',
  )
  .addOption(urlOption())
  .option('--subjects <patterns>', 'comma-separated subject patterns (replace the current ones)')
  .option('--max-age-ms <ms|none>', 'drop messages older than this', limitOrNone('max-age-ms'))
  .option(
    '--max-bytes <bytes|none>',
    'keep at most about this many bytes',
    limitOrNone('max-bytes'),
  )
  .option('--max-messages <n|none>', 'keep at most this many messages', limitOrNone('max-messages'))
  .addOption(overflowOption())
  .option('--dedup-window-ms <ms>', 'de-duplication window (0: none)', integer('dedup-window-ms'))
  .option(
    '--max-message-bytes <bytes>',
    'largest message accepted',
    integer('max-message-bytes', 1),
  )
  .option(
    '--ttl-ms <ms|none>',
    'a message without its own ttl expires this long after it is stored',
    limitOrNone('ttl-ms'),
  )
  .option('--json', 'print the new StreamInfo as JSON', false)
  .action(
    async (name: string, options: Record<string, unknown> & ClientFlags & { json: boolean }) => {
      const [target, own] = splitClientFlags(options);
      const { subjects, json, ...rest } = own as { subjects?: string; json: boolean };
      const changes = {
        ...noneToNull(rest),
        ...(subjects === undefined ? {} : { subjects: subjects.split(',') }),
      } as StreamChanges;
      await streamEdit(target, name, changes, json);
    },
  );
stream
  .command('ls')
  .description('list streams')
  .addOption(urlOption())
  .option('--json', 'print JSON', false)
  .action(async (options: ClientFlags & { json: boolean }) => streamList(options, options.json));
stream
  .command('info <name>')
  .description('a stream’s configuration and state')
  .addOption(urlOption())
  .option('--json', 'print JSON', false)
  .action(async (name: string, options: ClientFlags & { json: boolean }) =>
    streamInfo(options, name, options.json),
  );
stream
  .command('rm <name>')
  .description('delete a stream, its messages and subscriptions')
  .addOption(urlOption())
  .action(async (name: string, options: ClientFlags) => streamRemove(options, name));
stream
  .command('purge <name>')
  .description('remove every message of a stream')
  .addOption(urlOption())
  .action(async (name: string, options: ClientFlags) => streamPurge(options, name));

program
  .command('pub <subject> [body]')
  .description('publish a message (or each line of stdin when no body is given)')
  .addOption(urlOption())
  .option('--key <key>', 'partition / ordering key')
  .option('--header <name=value>', 'a header (repeatable)', collect, [])
  .option('--id <id>', 'message id for de-duplication')
  .option('--delay-ms <ms>', 'deliver after this delay', integer('delay-ms'))
  .option('--ttl-ms <ms>', 'never deliver after this long', integer('ttl-ms', 1))
  .option('--priority <0-9>', 'priority, higher first', integer('priority'))
  .action(
    async (
      subject: string,
      body: string | undefined,
      options: ClientFlags & {
        key?: string;
        header: string[];
        id?: string;
        delayMs?: number;
        ttlMs?: number;
        priority?: number;
      },
    ) => {
      const [target, rest] = splitClientFlags(options);
      await publishCommand(target, subject, body, rest);
    },
  );

registerQueueCommands(program);
registerScheduleCommands(program);
registerClusterCommands(program);
(await import('./outbox-command.js')).registerOutboxCommands(program);

const sub = program
  .command('sub <stream>')
  .description(
    'print messages of a stream as they come, acking each (ls, info, rm, seek: manage subscriptions)',
  )
  .addOption(urlOption())
  .option('--subscription <name>', 'durable subscription name (default: ephemeral)')
  .option('--filter <pattern>', 'subject filter inside the stream')
  .option(
    '--where <condition>',
    "header filter, repeatable, ANDed: 'name=v', 'name in a,b', 'name^=prefix', 'name exists', '!name', 'name!=v', 'name not in a,b', 'name!^=prefix', 'name>=100' (==, >, >=, <, <=; two bounds make a range) (new subscription)",
    collect,
    [],
  )
  .option(
    '--header-filter <json>',
    'a header filter policy as JSON, e.g. \'{"kind":["a","b"]}\' (new subscription)',
  )
  .option(
    '--start <position>',
    'earliest, latest, an offset (N or PARTITION:N) or an ISO 8601 time, for a new subscription (default: latest, or earliest for a new durable one)',
  )
  .option('--count <n>', 'stop after this many messages', integer('count', 1))
  .option('--timeout-ms <ms>', 'stop after this long without a message', integer('timeout-ms', 1))
  .option('--no-ack', 'at-most-once: do not ack')
  .option('--nack', 'hand every message back instead (it is retried, then dead-lettered)', false)
  .option(
    '--max-deliveries <n>',
    'dead-letter after this many deliveries (new subscription)',
    integer('max-deliveries', 1),
  )
  .option('--dead-letter <subject>', 'where dead letters go (new subscription)')
  .option('--backoff-ms <ms>', 'delay before a retry (new subscription)', integer('backoff-ms'))
  .option('--json', 'print one JSON object per message', false)
  .action(
    async (
      name: string,
      options: ClientFlags & {
        subscription?: string;
        filter?: string;
        start?: string;
        count?: number;
        timeoutMs?: number;
        ack: boolean;
        nack: boolean;
        maxDeliveries?: number;
        deadLetter?: string;
        backoffMs?: number;
        where: string[];
        headerFilter?: string;
        json: boolean;
      },
    ) => {
      const [target, own] = splitClientFlags(options);
      const { where, headerFilter: headerFilterJson, ...rest } = own;
      const headerFilter = headerFilterFromFlags(where, headerFilterJson);
      await subscribeCommand(target, name, {
        ...rest,
        ...(headerFilter === undefined ? {} : { headerFilter }),
      });
    },
  );

registerSubscriptionCommands(sub);

program
  .command('request <subject> [body]')
  .description('send a request and print the reply')
  .addOption(urlOption())
  .option('--timeout-ms <ms>', 'give up after this long', integer('timeout-ms', 1), 5000)
  .action(
    async (
      subject: string,
      body: string | undefined,
      options: ClientFlags & { timeoutMs: number },
    ) => requestCommand(options, subject, body ?? '', options.timeoutMs),
  );

program
  .command('reply <subject> [body]')
  .description('answer requests to a subject with the body given (default: echo the request)')
  .addOption(urlOption())
  .option('--stream <name>', 'stream the requests are stored in (default: the one capturing it)')
  .option('--subscription <name>', 'join this durable subscription (default: ephemeral)')
  .option('--count <n>', 'stop after answering this many', integer('count', 1))
  .option('--timeout-ms <ms>', 'stop after this long without a request', integer('timeout-ms', 1))
  .action(
    async (
      subject: string,
      body: string | undefined,
      options: ClientFlags & {
        stream?: string;
        subscription?: string;
        count?: number;
        timeoutMs?: number;
      },
    ) => {
      const [target, rest] = splitClientFlags(options);
      await replyCommand(target, subject, body, rest);
    },
  );

const dlq = program.command('dlq').description('dead letters');
dlq
  .command('ls <subject>')
  .description('list dead letters published to a subject')
  .addOption(urlOption())
  .option('--limit <n>', 'how many', integer('limit', 1), 100)
  .option('--json', 'print JSON', false)
  .action(async (subject: string, options: ClientFlags & { limit: number; json: boolean }) =>
    deadLetterList(options, subject, options.limit, options.json),
  );
dlq
  .command('redrive <subject>')
  .description('send dead letters back where they came from, at a bounded rate')
  .addOption(urlOption())
  .addOption(
    new Option(
      '--to <target>',
      'subscription: only the subscription each died in (default); stream: every subscription of its origin stream; subject: publish to its original subject',
    ).choices(['subscription', 'stream', 'subject']),
  )
  .option('--limit <n>', 'at most this many', integer('limit', 1))
  .option('--rate <per-second>', 'publishes per second', integer('rate', 1))
  .action(
    async (
      subject: string,
      options: ClientFlags & { to?: RedriveTarget; limit?: number; rate?: number },
    ) => deadLetterRedrive(options, subject, options),
  );

dlq
  .command('rm <subject>')
  .description('delete dead letters published to a subject, without re-driving them')
  .addOption(urlOption())
  .option('--limit <n>', 'at most this many', integer('limit', 1))
  .option('--origin-stream <stream>', 'only those that came from this stream')
  .addOption(
    new Option('--reason <reason>', 'only those dead-lettered for this reason').choices([
      'max-deliveries',
      'terminated',
      'expired',
      'overflow',
    ]),
  )
  .action(
    async (
      subject: string,
      options: ClientFlags & { limit?: number; originStream?: string; reason?: DeadLetterReason },
    ) => {
      const [target, rest] = splitClientFlags(options);
      await deadLetterRemove(target, subject, rest);
    },
  );

program
  .command('bench')
  .description('publish + consume load against a server; throughput and latency histogram')
  .addOption(urlOption())
  .option('--stream <name>', 'stream to create (and delete) for the run', 'weir-bench')
  .option('--messages <n>', 'messages to send', integer('messages', 1), 100_000)
  .option('--size <bytes>', 'body size', integer('size', 8), 1024)
  .option('--window <n>', 'publishes in flight', integer('window', 1), 1000)
  .addOption(
    new Option('--fsync <policy>', 'the stream’s fsync policy')
      .choices(['always', 'interval', 'never'])
      .default('always'),
  )
  .option('--timeout-ms <ms>', 'stop after this long', integer('timeout-ms', 1), 120_000)
  .action(
    async (
      options: ClientFlags & {
        stream: string;
        messages: number;
        size: number;
        window: number;
        fsync: FsyncPolicy;
        timeoutMs: number;
      },
    ) => benchCommand(options),
  );

registerUserCommands(program);

program
  .command('demo')
  .description('append records to a durable log and read them back (a storage-engine tour)')
  .option('--data-dir <dir>', 'where the demo log goes', './data')
  .action(async (options: { dataDir: string }) => runDemo(options.dataDir));

// Every command with --url gets --user, --password-stdin, --token and --tls-ca.
addCredentialOptions(program);

try {
  await program.parseAsync(process.argv);
} catch (error) {
  if (isWeirError(error)) {
    console.error(`weir: ${error.code}: ${error.message}`);
    process.exitCode = error.code === 'INVALID_ARGUMENT' ? 2 : 1;
  } else {
    console.error(`weir: ${error instanceof Error ? error.message : String(error)}`);
    process.exitCode = 1;
  }
} finally {
  // Unless the command keeps running (serve, sub, reply: they have their own lives).
  closeStandardInput();
}
