/** `weir queue add | ls | rm`: work queues (client.queue, protocol/queue.ts), through the SDK. */
import type { Client, QueueOptions, StreamInfo } from '../protocol/index.js';
import { WeirError } from '../util/index.js';
import { withClient, type ClientFlags } from './client-connection.js';

/** A queue is a work-queue stream capturing its own name with a durable subscription of that name. */
function isQueue(info: StreamInfo): boolean {
  return (
    info.config.retention === 'work-queue' &&
    info.config.subjects.includes(info.name) &&
    info.subscriptions.includes(info.name)
  );
}

async function queueLine(client: Client, info: StreamInfo): Promise<string> {
  const subscription = await client.subscriptions.info(info.name, info.name);
  return `${info.name.padEnd(24)} ${String(info.messages).padStart(10)} msgs  ${subscription.inFlight} in flight  ${subscription.delayed} delayed  ${subscription.consumers} consumers  ${info.config.partitions}p ${info.config.storage}/${info.config.fsync}`;
}

export async function queueAdd(
  target: ClientFlags,
  name: string,
  options: QueueOptions,
): Promise<void> {
  await withClient(target, async (client) => {
    await client.queue(name, options);
    console.log(await queueLine(client, await client.streams.info(name)));
  });
}

export async function queueList(target: ClientFlags, json: boolean): Promise<void> {
  await withClient(target, async (client) => {
    const queues = (await client.streams.list()).filter(isQueue);
    if (json) {
      const infos = [];
      for (const info of queues) infos.push(await (await client.queue(info.name)).info());
      console.log(JSON.stringify(infos));
    } else if (queues.length === 0) console.log('no queues');
    else for (const info of queues) console.log(await queueLine(client, info));
  });
}

/** Deletes the queue; a stream that is not a queue is refused (`weir stream rm` deletes that). */
export async function queueRemove(target: ClientFlags, name: string): Promise<void> {
  await withClient(target, async (client) => {
    if (!isQueue(await client.streams.info(name))) {
      throw new WeirError(
        'INVALID_ARGUMENT',
        `stream ${name} is not a queue (weir stream rm deletes it)`,
      );
    }
    await client.streams.delete(name);
  });
  console.log(`deleted queue ${name}`);
}
