/** Registers `weir sub ls | info | rm | seek` under the `sub` command. */
import type { Command } from 'commander';
import { urlOption } from './command-options.js';
import {
  subscriptionInfo,
  subscriptionList,
  subscriptionRemove,
  subscriptionSeek,
} from './subscription-commands.js';

export function registerSubscriptionCommands(sub: Command): void {
  sub
    .command('ls <stream>')
    .description('list a stream’s subscriptions: lag, pending, in flight, delayed')
    .addOption(urlOption())
    .option('--json', 'print JSON', false)
    .action(async (stream: string, flags: { url: string; json: boolean }) =>
      subscriptionList(flags.url, stream, flags.json),
    );
  sub
    .command('info <stream> <name>')
    .description('a subscription’s configuration and state, per partition')
    .addOption(urlOption())
    .option('--json', 'print JSON', false)
    .action(async (stream: string, name: string, flags: { url: string; json: boolean }) =>
      subscriptionInfo(flags.url, stream, name, flags.json),
    );
  sub
    .command('rm <stream> <name>')
    .description('delete a durable subscription and its state')
    .addOption(urlOption())
    .action(async (stream: string, name: string, flags: { url: string }) =>
      subscriptionRemove(flags.url, stream, name),
    );
  sub
    .command('seek <stream> <name>')
    .description('move a subscription: everything from the position on comes again')
    .addOption(urlOption())
    .requiredOption(
      '--start <position>',
      'earliest, latest, an offset (N or PARTITION:N) or an ISO 8601 time',
    )
    .action(async (stream: string, name: string, flags: { url: string; start: string }) =>
      subscriptionSeek(flags.url, stream, name, flags.start),
    );
}
