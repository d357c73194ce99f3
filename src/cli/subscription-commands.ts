/** `weir sub add | ls | info | rm | seek`: a stream's subscriptions, through the SDK. */
import type { SubscribeOptions, SubscriptionInfo } from '../protocol/index.js';
import { withClient, type ClientFlags } from './client-connection.js';
import { formatGroupBy, formatRateLimit, parseFairBy, parseRateLimit } from './fairness-flags.js';
import { parseStartPosition } from './start-position.js';
import { formatHeaderFilter, headerFilterFromFlags } from './where-filter.js';

/** Messages not yet settled in each partition: end offset minus ack floor. */
function lag(info: SubscriptionInfo): number {
  let total = 0;
  for (const partition of info.partitions) total += partition.endOffset - partition.ackFloor;
  return total;
}

function subscriptionLine(info: SubscriptionInfo): string {
  const kind = info.durable ? 'durable' : 'ephemeral';
  return `${info.name.padEnd(24)} ${kind.padEnd(9)} ${info.config.mode.padEnd(10)} ${String(info.consumers).padStart(4)} consumers  lag ${lag(info)}  pending ${info.pending}  in flight ${info.inFlight}  delayed ${info.delayed}`;
}

export function formatSubscriptionInfo(info: SubscriptionInfo): string {
  const config = info.config;
  const lines = [
    `subscription   ${info.name} on ${info.stream} (${info.durable ? 'durable' : 'ephemeral'})`,
    `mode           ${config.mode}, ack ${config.ack}, lease ${config.leaseMs} ms`,
    `filter         ${config.filter.length === 0 ? 'every message' : config.filter.join(', ')}`,
    `header filter  ${formatHeaderFilter(config.headerFilter)}`,
    `dead letters   ${config.deadLetter ?? 'none'}, max deliveries ${config.maxDeliveries ?? 'no limit'}`,
    `fair by        ${formatGroupBy(config.fairBy)}`,
    `rate limit     ${formatRateLimit(config.rateLimit)}`,
    `consumers      ${info.consumers}`,
    `lag            ${lag(info)}`,
    `pending        ${info.pending}`,
    `in flight      ${info.inFlight}`,
    `delayed        ${info.delayed}`,
    `since open     ${info.delivered} delivered, ${info.redelivered} redelivered, ${info.acked} acked, ${info.deadLettered} dead-lettered, ${info.expired} expired, ${info.dropped} dropped`,
    '',
    `${'partition'.padStart(9)} ${'ack floor'.padStart(12)} ${'end'.padStart(12)} ${'lag'.padStart(12)}`,
  ];
  for (const partition of info.partitions) {
    lines.push(
      `${String(partition.partition).padStart(9)} ${String(partition.ackFloor).padStart(12)} ${String(partition.endOffset).padStart(12)} ${String(partition.endOffset - partition.ackFloor).padStart(12)}`,
    );
  }
  return lines.join('\n');
}

export async function subscriptionList(
  target: ClientFlags,
  stream: string,
  json: boolean,
): Promise<void> {
  await withClient(target, async (client) => {
    const subscriptions = await client.subscriptions.list(stream);
    if (json) console.log(JSON.stringify(subscriptions));
    else if (subscriptions.length === 0) console.log(`no subscriptions on ${stream}`);
    else for (const info of subscriptions) console.log(subscriptionLine(info));
  });
}

export async function subscriptionInfo(
  target: ClientFlags,
  stream: string,
  name: string,
  json: boolean,
): Promise<void> {
  await withClient(target, async (client) => {
    const info = await client.subscriptions.info(stream, name);
    console.log(json ? JSON.stringify(info, null, 2) : formatSubscriptionInfo(info));
  });
}

export async function subscriptionRemove(
  target: ClientFlags,
  stream: string,
  name: string,
): Promise<void> {
  await withClient(target, (client) => client.subscriptions.delete(stream, name));
  console.log(`deleted subscription ${name} of ${stream}`);
}

export async function subscriptionSeek(
  target: ClientFlags,
  stream: string,
  name: string,
  start: string,
): Promise<void> {
  const position = parseStartPosition(start);
  await withClient(target, (client) => client.subscriptions.seek(stream, name, position));
  console.log(`moved subscription ${name} of ${stream} to ${start}`);
}

export interface SubscriptionAddOptions {
  readonly filter?: string;
  readonly where: readonly string[];
  readonly headerFilter?: string;
  readonly start?: string;
  readonly maxDeliveries?: number;
  readonly deadLetter?: string;
  readonly backoffMs?: number;
  /** key | header:NAME */
  readonly fairBy?: string;
  /** N[/s][,by=...][,burst=B] */
  readonly rateLimit?: string;
}

/**
 * Creates a durable subscription by attaching a consumer that takes nothing and closing it:
 * what the broker hands it meanwhile goes back uncounted, so nothing is delivered.
 */
export async function subscriptionAdd(
  target: ClientFlags,
  stream: string,
  name: string,
  flags: SubscriptionAddOptions,
): Promise<void> {
  const headerFilter = headerFilterFromFlags(flags.where, flags.headerFilter);
  const start = flags.start === undefined ? undefined : parseStartPosition(flags.start);
  const options: SubscribeOptions = {
    subscription: name,
    maxInFlight: 1,
    ...(flags.filter === undefined ? {} : { filter: flags.filter }),
    ...(headerFilter === undefined ? {} : { headerFilter }),
    ...(start === undefined ? {} : { start }),
    ...(flags.maxDeliveries === undefined ? {} : { maxDeliveries: flags.maxDeliveries }),
    ...(flags.deadLetter === undefined ? {} : { deadLetter: flags.deadLetter }),
    ...(flags.backoffMs === undefined ? {} : { backoff: [flags.backoffMs] }),
    ...(flags.fairBy === undefined ? {} : { fairBy: parseFairBy(flags.fairBy) }),
    ...(flags.rateLimit === undefined ? {} : { rateLimit: parseRateLimit(flags.rateLimit) }),
  };
  await withClient(target, async (client) => {
    await (await client.subscribe(stream, options)).close();
    console.log(subscriptionLine(await client.subscriptions.info(stream, name)));
  });
}
