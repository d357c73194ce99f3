/** Registers `weir queue add | ls | rm`. */
import { Option, type Command } from 'commander';
import type { QueueOptions } from '../protocol/index.js';
import { splitClientFlags, type ClientFlags } from './client-connection.js';
import { integer, urlOption } from './command-options.js';
import { queueAdd, queueList, queueRemove } from './queue-commands.js';

interface QueueAddFlags extends ClientFlags {
  readonly partitions?: number;
  readonly storage?: 'file' | 'memory';
  readonly fsync?: 'always' | 'interval' | 'never';
  readonly maxMessages?: number;
  readonly leaseMs?: number;
  readonly maxDeliveries?: number;
  readonly deadLetter?: string;
  readonly backoffMs?: number;
}

export function registerQueueCommands(program: Command): void {
  const queue = program
    .command('queue')
    .description('work queues: a work-queue stream with one shared subscription');
  queue
    .command('add <name>')
    .description('create a queue (the same settings again is not an error)')
    .addOption(urlOption())
    .option('--partitions <n>', 'number of partitions', integer('partitions', 1))
    .addOption(new Option('--storage <kind>', 'file or memory').choices(['file', 'memory']))
    .addOption(
      new Option('--fsync <policy>', 'always, interval or never').choices([
        'always',
        'interval',
        'never',
      ]),
    )
    .option('--max-messages <n>', 'keep at most this many messages', integer('max-messages', 1))
    .option('--lease-ms <ms>', 'time a worker has to settle a message', integer('lease-ms', 1))
    .option(
      '--max-deliveries <n>',
      'dead-letter after this many deliveries',
      integer('max-deliveries', 1),
    )
    .option('--dead-letter <subject>', 'where dead letters go')
    .option('--backoff-ms <ms>', 'delay before a retry', integer('backoff-ms'))
    .action(async (name: string, flags: QueueAddFlags) => {
      const [target, { backoffMs, ...rest }] = splitClientFlags(flags);
      const options: QueueOptions = {
        ...rest,
        ...(backoffMs === undefined ? {} : { backoff: [backoffMs] }),
      };
      await queueAdd(target, name, options);
    });
  queue
    .command('ls')
    .description('list queues')
    .addOption(urlOption())
    .option('--json', 'print JSON', false)
    .action(async (flags: ClientFlags & { json: boolean }) => queueList(flags, flags.json));
  queue
    .command('rm <name>')
    .description('delete a queue, its messages and its subscription')
    .addOption(urlOption())
    .action(async (name: string, flags: ClientFlags) => queueRemove(flags, name));
}
