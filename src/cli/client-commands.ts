/**
 * The `weir` commands that talk to a running server through the SDK: stream, pub, sub,
 * request, dlq. Each connects through client-connection.ts (--url and the credentials).
 */
import type {
  DeadLetterReason,
  HeaderFilter,
  Message,
  RedriveTarget,
  StreamChanges,
  StreamInfo,
  StreamOptions,
} from '../protocol/index.js';
import { WeirError } from '../util/index.js';
import { withClient, type ClientFlags } from './client-connection.js';
import { formatBytes } from './format-bytes.js';
import { remainingStandardInputLines } from './standard-input.js';
import { parseStartPosition } from './start-position.js';
import { formatStreamInfo } from './stream-format.js';

export function parseHeaders(pairs: readonly string[]): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const pair of pairs) {
    const at = pair.indexOf('=');
    if (at <= 0) throw new WeirError('INVALID_ARGUMENT', `header "${pair}" must be name=value`);
    headers[pair.slice(0, at)] = pair.slice(at + 1);
  }
  return headers;
}

function streamLine(info: StreamInfo): string {
  const subjects = info.config.subjects.join(',');
  return `${info.name.padEnd(24)} ${String(info.messages).padStart(10)} msgs ${formatBytes(info.bytes).padStart(10)}  ${info.config.partitions}p ${info.config.storage}/${info.config.fsync} ${info.config.retention}  [${subjects}]`;
}

export async function streamAdd(
  target: ClientFlags,
  name: string,
  options: StreamOptions,
): Promise<void> {
  await withClient(target, async (client) => {
    const info = await client.streams.create(name, options);
    console.log(streamLine(info));
  });
}

/** Changes a live stream; prints its new configuration (human format, or the StreamInfo as JSON). */
export async function streamEdit(
  target: ClientFlags,
  name: string,
  changes: StreamChanges,
  json: boolean,
): Promise<void> {
  if (Object.keys(changes).length === 0) {
    throw new WeirError('INVALID_ARGUMENT', 'nothing to change: give at least one option');
  }
  await withClient(target, async (client) => {
    const info = await client.streams.update(name, changes);
    console.log(json ? JSON.stringify(info, null, 2) : formatStreamInfo(info));
  });
}

export async function streamList(target: ClientFlags, json: boolean): Promise<void> {
  await withClient(target, async (client) => {
    const streams = await client.streams.list();
    if (json) console.log(JSON.stringify(streams));
    else if (streams.length === 0) console.log('no streams');
    else for (const info of streams) console.log(streamLine(info));
  });
}

/** Human format by default; `json`: the StreamInfo as the API returns it. */
export async function streamInfo(target: ClientFlags, name: string, json: boolean): Promise<void> {
  await withClient(target, async (client) => {
    const info = await client.streams.info(name);
    console.log(json ? JSON.stringify(info, null, 2) : formatStreamInfo(info));
  });
}

export async function streamRemove(target: ClientFlags, name: string): Promise<void> {
  await withClient(target, (client) => client.streams.delete(name));
  console.log(`deleted stream ${name}`);
}

export async function streamPurge(target: ClientFlags, name: string): Promise<void> {
  await withClient(target, (client) => client.streams.purge(name));
  console.log(`purged stream ${name}`);
}

export interface PublishCommandOptions {
  readonly key?: string;
  readonly header: readonly string[];
  readonly id?: string;
  readonly delayMs?: number;
  readonly ttlMs?: number;
  readonly priority?: number;
}

/** Publishes `body`, or each line of stdin when no body is given. */
export async function publishCommand(
  target: ClientFlags,
  subject: string,
  body: string | undefined,
  options: PublishCommandOptions,
): Promise<void> {
  const publishOptions = {
    ...(options.key === undefined ? {} : { key: options.key }),
    ...(options.header.length === 0 ? {} : { headers: parseHeaders(options.header) }),
    ...(options.id === undefined ? {} : { id: options.id }),
    ...(options.delayMs === undefined ? {} : { delayMs: options.delayMs }),
    ...(options.ttlMs === undefined ? {} : { ttlMs: options.ttlMs }),
    ...(options.priority === undefined ? {} : { priority: options.priority }),
  };
  await withClient(target, async (client) => {
    if (body !== undefined) {
      const receipt = await client.publish(subject, body, publishOptions);
      console.log(
        `published to ${receipt.streams.map((s) => `${s.stream}/${s.partition}@${s.offset}${s.duplicate ? ' (duplicate)' : ''}`).join(', ')}`,
      );
      return;
    }
    let count = 0;
    const pending: Promise<unknown>[] = [];
    // The same reader as --password-stdin's: its first line may have been the password.
    for await (const line of remainingStandardInputLines()) {
      if (line.length === 0) continue;
      pending.push(client.publish(subject, line, publishOptions));
      count++;
      if (pending.length >= 1000) await Promise.all(pending.splice(0));
    }
    await Promise.all(pending);
    console.log(`published ${count} message(s) to ${subject}`);
  });
}

export interface SubscribeCommandOptions {
  readonly subscription?: string;
  readonly filter?: string;
  readonly start?: string;
  readonly count?: number;
  readonly ack: boolean;
  readonly nack: boolean;
  readonly maxDeliveries?: number;
  readonly deadLetter?: string;
  readonly backoffMs?: number;
  /** From --where / --header-filter (where-filter.ts). */
  readonly headerFilter?: HeaderFilter;
  readonly json: boolean;
  readonly timeoutMs?: number;
}

function messageLine(message: Message, json: boolean): string {
  if (json) {
    return JSON.stringify({
      stream: message.stream,
      partition: message.partition,
      offset: message.offset,
      subject: message.subject,
      key: message.key,
      headers: message.headers,
      deliveryCount: message.deliveryCount,
      timestamp: message.timestamp,
      body: message.text(),
    });
  }
  const key = message.key === null ? '' : ` key=${message.key}`;
  return `[${message.stream}/${message.partition}@${message.offset}] ${message.subject}${key} (delivery ${message.deliveryCount}): ${message.text()}`;
}

/** Prints messages (and acks them) until --count is reached, --timeout-ms passes idle, or Ctrl-C. */
export async function subscribeCommand(
  target: ClientFlags,
  stream: string,
  options: SubscribeCommandOptions,
): Promise<void> {
  await withClient(target, async (client) => {
    // No --start: the broker's default, `latest` for an ephemeral subscription (like
    // `nats sub`: what comes from now on), `earliest` for a new durable one; an existing
    // durable one goes on where it stands.
    const start = options.start === undefined ? undefined : parseStartPosition(options.start);
    const subscription = await client.subscribe(stream, {
      ...(options.subscription === undefined ? {} : { subscription: options.subscription }),
      ...(options.filter === undefined ? {} : { filter: options.filter }),
      ...(options.headerFilter === undefined ? {} : { headerFilter: options.headerFilter }),
      ...(options.ack ? {} : { ack: 'none' as const }),
      ...(options.maxDeliveries === undefined ? {} : { maxDeliveries: options.maxDeliveries }),
      ...(options.deadLetter === undefined ? {} : { deadLetter: options.deadLetter }),
      ...(options.backoffMs === undefined ? {} : { backoff: [options.backoffMs] }),
      ...(start === undefined ? {} : { start }),
    });
    const stop = () => void subscription.close();
    process.once('SIGINT', stop);
    let received = 0;
    try {
      while (options.count === undefined || received < options.count) {
        const message = await subscription.receive(
          options.timeoutMs === undefined ? {} : { timeoutMs: options.timeoutMs },
        );
        if (message === null) break;
        console.log(messageLine(message, options.json));
        if (options.nack) await message.nack();
        else if (options.ack) await message.ack();
        received++;
      }
    } finally {
      process.off('SIGINT', stop);
      await subscription.close();
    }
  });
}

export async function requestCommand(
  target: ClientFlags,
  subject: string,
  body: string,
  timeoutMs: number,
): Promise<void> {
  await withClient(target, async (client) => {
    const reply = await client.request(subject, body, { timeoutMs });
    console.log(reply.text());
  });
}

export async function deadLetterList(
  target: ClientFlags,
  subject: string,
  limit: number,
  json: boolean,
): Promise<void> {
  await withClient(target, async (client) => {
    const letters = await client.deadLetters.list(subject, { limit });
    if (json) {
      console.log(
        JSON.stringify(
          letters.map((letter) => ({ ...letter, body: Buffer.from(letter.body).toString('utf8') })),
        ),
      );
      return;
    }
    if (letters.length === 0) console.log(`no dead letters on ${subject}`);
    for (const letter of letters) {
      const error = letter.error === null ? '' : ` error="${letter.error}"`;
      const died = letter.origin.subscription === null ? '' : ` in ${letter.origin.subscription}`;
      console.log(
        `[${letter.stream}/${letter.partition}@${letter.offset}] ${letter.reason} after ${letter.deliveries} deliveries${error} from ${letter.origin.stream}/${letter.origin.partition}@${letter.origin.offset} ${letter.origin.subject}${died}: ${Buffer.from(letter.body).toString('utf8')}`,
      );
    }
  });
}

export interface DeadLetterRemoveOptions {
  readonly limit?: number;
  readonly originStream?: string;
  readonly reason?: DeadLetterReason;
}

/** Deletes dead letters published to `subject` (all, or the selection) without re-driving them. */
export async function deadLetterRemove(
  target: ClientFlags,
  subject: string,
  options: DeadLetterRemoveOptions,
): Promise<void> {
  await withClient(target, async (client) => {
    const { deleted } = await client.deadLetters.delete(subject, {
      ...(options.limit === undefined ? {} : { limit: options.limit }),
      ...(options.originStream === undefined ? {} : { originStream: options.originStream }),
      ...(options.reason === undefined ? {} : { reason: options.reason }),
    });
    console.log(`deleted ${deleted} dead letter(s) from ${subject}`);
  });
}

export interface DeadLetterRedriveOptions {
  readonly to?: RedriveTarget | undefined;
  readonly limit?: number | undefined;
  readonly rate?: number | undefined;
}

export async function deadLetterRedrive(
  target: ClientFlags,
  subject: string,
  options: DeadLetterRedriveOptions,
): Promise<void> {
  await withClient(target, async (client) => {
    const { redriven, skipped } = await client.deadLetters.redrive(subject, {
      ...(options.to === undefined ? {} : { to: options.to }),
      ...(options.limit === undefined ? {} : { limit: options.limit }),
      ...(options.rate === undefined ? {} : { ratePerSecond: options.rate }),
    });
    console.log(`re-drove ${redriven} dead letter(s) from ${subject}`);
    if (skipped > 0) {
      console.log(
        `left ${skipped} in place: their subscription or stream is gone (try --to stream or --to subject)`,
      );
    }
  });
}
