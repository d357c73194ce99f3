/** Registers `weir sub add | ls | info | rm | seek` under the `sub` command. */
import type { Command } from 'commander';
import { splitClientFlags, type ClientFlags } from './client-connection.js';
import { collect, integer, urlOption } from './command-options.js';
import {
  subscriptionAdd,
  subscriptionInfo,
  subscriptionList,
  subscriptionRemove,
  subscriptionSeek,
} from './subscription-commands.js';

export function registerSubscriptionCommands(sub: Command): void {
  sub
    .command('add <stream> <name>')
    .description(
      'create a durable subscription without consuming (the same configuration again is not an error)',
    )
    .addOption(urlOption())
    .option('--filter <pattern>', 'subject filter inside the stream')
    .option(
      '--where <condition>',
      'header filter, repeatable, ANDed (see weir sub --help)',
      collect,
      [],
    )
    .option('--header-filter <json>', 'a header filter policy as JSON')
    .option(
      '--start <position>',
      'earliest (default), latest, an offset (N or PARTITION:N) or an ISO 8601 time',
    )
    .option(
      '--max-deliveries <n>',
      'dead-letter after this many deliveries',
      integer('max-deliveries', 1),
    )
    .option('--dead-letter <subject>', 'where dead letters go')
    .option('--backoff-ms <ms>', 'delay before a retry', integer('backoff-ms'))
    .option('--fair-by <group>', 'round-robin deliveries across groups: key, or header:NAME')
    .option(
      '--rate-limit <rate>',
      'at most N deliveries a second: N[/s][,by=key|by=header:NAME][,burst=B]',
    )
    .action(
      async (
        stream: string,
        name: string,
        flags: ClientFlags & {
          filter?: string;
          where: string[];
          headerFilter?: string;
          start?: string;
          maxDeliveries?: number;
          deadLetter?: string;
          backoffMs?: number;
          fairBy?: string;
          rateLimit?: string;
        },
      ) => {
        const [target, rest] = splitClientFlags(flags);
        await subscriptionAdd(target, stream, name, rest);
      },
    );
  sub
    .command('ls <stream>')
    .description('list a stream’s subscriptions: lag, pending, in flight, delayed')
    .addOption(urlOption())
    .option('--json', 'print JSON', false)
    .action(async (stream: string, flags: ClientFlags & { json: boolean }) =>
      subscriptionList(flags, stream, flags.json),
    );
  sub
    .command('info <stream> <name>')
    .description('a subscription’s configuration and state, per partition')
    .addOption(urlOption())
    .option('--json', 'print JSON', false)
    .action(async (stream: string, name: string, flags: ClientFlags & { json: boolean }) =>
      subscriptionInfo(flags, stream, name, flags.json),
    );
  sub
    .command('rm <stream> <name>')
    .description('delete a durable subscription and its state')
    .addOption(urlOption())
    .action(async (stream: string, name: string, flags: ClientFlags) =>
      subscriptionRemove(flags, stream, name),
    );
  sub
    .command('seek <stream> <name>')
    .description('move a subscription: everything from the position on comes again')
    .addOption(urlOption())
    .requiredOption(
      '--start <position>',
      'earliest, latest, an offset (N or PARTITION:N) or an ISO 8601 time',
    )
    .action(async (stream: string, name: string, flags: ClientFlags & { start: string }) =>
      subscriptionSeek(flags, stream, name, flags.start),
    );
}
