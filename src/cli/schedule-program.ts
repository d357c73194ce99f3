/** Registers `weir schedule add | ls | info | rm`. */
import { Option, type Command } from 'commander';
import type { ScheduleOptions } from '../protocol/index.js';
import { parseHeaders } from './client-commands.js';
import { splitClientFlags, type ClientFlags } from './client-connection.js';
import { collect, integer, urlOption } from './command-options.js';
import { scheduleAdd, scheduleInfo, scheduleList, scheduleRemove } from './schedule-commands.js';

interface ScheduleAddFlags extends ClientFlags {
  readonly cron?: string;
  readonly everyMs?: number;
  readonly subject: string;
  readonly body?: string;
  readonly header: string[];
  readonly key?: string;
  readonly priority?: number;
  readonly ttlMs?: number;
  readonly timezone?: string;
  readonly missed?: 'skip' | 'once' | 'all';
  readonly json: boolean;
}

export function registerScheduleCommands(program: Command): void {
  const schedule = program
    .command('schedule')
    .description('cron and repeatable messages: publish a message on each tick');
  schedule
    .command('add <name>')
    .description('create a schedule (the same options again is not an error)')
    .addOption(urlOption())
    .option(
      '--cron <expression>',
      "a cron expression: 5 fields, or 6 with seconds first, or '@daily'",
    )
    .option('--every-ms <ms>', 'fire every this many ms instead', integer('every-ms', 1))
    .requiredOption('--subject <subject>', 'the subject each tick publishes to')
    .option('--body <text>', 'the message body (text)')
    .option('--header <name=value>', 'a header (repeatable)', collect, [])
    .option('--key <key>', 'partition / ordering key')
    .option('--priority <0-9>', 'priority, higher first', integer('priority'))
    .option('--ttl-ms <ms>', 'each message expires this long after its tick', integer('ttl-ms', 1))
    .option('--timezone <zone>', "IANA time zone the cron expression is read in (default 'UTC')")
    .addOption(
      new Option(
        '--missed <policy>',
        'what a restart does with missed ticks (default once)',
      ).choices(['skip', 'once', 'all']),
    )
    .option('--json', 'print JSON', false)
    .action(async (name: string, flags: ScheduleAddFlags) => {
      const [target, { header, json, ...rest }] = splitClientFlags(flags);
      const options = { ...rest } as Record<string, unknown>;
      if (header.length > 0) options.headers = parseHeaders(header);
      await scheduleAdd(target, name, options as unknown as ScheduleOptions, json);
    });
  schedule
    .command('ls')
    .description('list schedules: when, subject, next tick, ticks fired')
    .addOption(urlOption())
    .option('--json', 'print JSON', false)
    .action((flags: ClientFlags & { json: boolean }) => {
      const [target, { json }] = splitClientFlags(flags);
      return scheduleList(target, json);
    });
  schedule
    .command('info <name>')
    .description('a schedule: its options, next and last tick, counts, errors')
    .addOption(urlOption())
    .option('--json', 'print JSON', false)
    .action((name: string, flags: ClientFlags & { json: boolean }) => {
      const [target, { json }] = splitClientFlags(flags);
      return scheduleInfo(target, name, json);
    });
  schedule
    .command('rm <name>')
    .description('delete a schedule: no tick fires after it')
    .addOption(urlOption())
    .action((name: string, flags: ClientFlags) => scheduleRemove(splitClientFlags(flags)[0], name));
}
