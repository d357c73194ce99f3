/** `weir schedule add | ls | info | rm`: cron and repeatable messages (client.schedules), through the SDK. */
import type { ScheduleInfo, ScheduleOptions } from '../protocol/index.js';
import { withClient, type ClientFlags } from './client-connection.js';

function time(ms: number | null): string {
  return ms === null ? '-' : new Date(ms).toISOString();
}

/** One line: name, when, subject, next tick, fired. */
export function scheduleLine(info: ScheduleInfo): string {
  const config = info.config;
  const when =
    config.cron !== null
      ? `cron '${config.cron}' ${config.timezone ?? 'UTC'}`
      : `every ${config.everyMs} ms`;
  const problem =
    info.failure !== null
      ? `  FAILED ${info.failure.code}`
      : info.lastError !== null
        ? `  last tick ${info.lastError.code}`
        : '';
  return `${info.name.padEnd(24)} ${when.padEnd(36)} -> ${config.subject}  next ${time(info.nextFireMs)}  fired ${info.fired}${problem}`;
}

function scheduleDetails(info: ScheduleInfo): string {
  const config = info.config;
  const body = Buffer.from(config.bodyBase64, 'base64').toString('utf8');
  return [
    `schedule   ${info.name}`,
    config.cron !== null
      ? `cron       ${config.cron}  (${config.timezone ?? 'UTC'})`
      : `every      ${config.everyMs} ms`,
    `subject    ${config.subject}`,
    `body       ${body.length > 200 ? body.slice(0, 200) + '…' : body}`,
    `headers    ${JSON.stringify(config.headers)}`,
    `key        ${config.key ?? '-'}`,
    `priority   ${config.priority}`,
    `ttl        ${config.ttlMs === null ? '-' : `${config.ttlMs} ms`}`,
    `missed     ${config.missed}`,
    `created    ${time(info.createdAtMs)}`,
    `next       ${time(info.nextFireMs)}`,
    `last fired ${time(info.lastFiredMs)}`,
    `ticks      ${info.fired} fired, ${info.skipped} skipped, ${info.failed} failed`,
    ...(info.lastError === null
      ? []
      : [`last error ${info.lastError.code}: ${info.lastError.message}`]),
    ...(info.failure === null ? [] : [`FAILED     ${info.failure.code}: ${info.failure.message}`]),
  ].join('\n');
}

export async function scheduleAdd(
  target: ClientFlags,
  name: string,
  options: ScheduleOptions,
  json: boolean,
): Promise<void> {
  await withClient(target, async (client) => {
    const info = await client.schedules.create(name, options);
    console.log(json ? JSON.stringify(info) : scheduleLine(info));
  });
}

export async function scheduleList(target: ClientFlags, json: boolean): Promise<void> {
  await withClient(target, async (client) => {
    const schedules = await client.schedules.list();
    if (json) console.log(JSON.stringify(schedules));
    else if (schedules.length === 0) console.log('no schedules');
    else for (const info of schedules) console.log(scheduleLine(info));
  });
}

export async function scheduleInfo(
  target: ClientFlags,
  name: string,
  json: boolean,
): Promise<void> {
  await withClient(target, async (client) => {
    const info = await client.schedules.info(name);
    console.log(json ? JSON.stringify(info) : scheduleDetails(info));
  });
}

export async function scheduleRemove(target: ClientFlags, name: string): Promise<void> {
  await withClient(target, (client) => client.schedules.delete(name));
  console.log(`deleted schedule ${name}`);
}
