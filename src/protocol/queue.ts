/**
 * `client.queue(name)`: a work queue as sugar over the model (DESIGN.md, "Queue"). A queue is
 * a stream `name` capturing `name` and `name.>` with `work-queue` retention, plus one shared
 * durable subscription, also called `name`, that every consumer of the queue joins. A message
 * goes once that subscription settled it. Nothing here is a new broker call: both transports
 * build a queue from `streams`, `subscriptions`, `publish` and `subscribe`, so a queue made
 * embedded is the same queue seen over TCP.
 *
 * The shape follows what SQS and BullMQ users expect: the queue's settings (visibility
 * timeout = `leaseMs`, redrive policy = `maxDeliveries` + `deadLetter`, retry backoff) are
 * fixed when it is created; `publish` adds a job; `consume` is one worker with its own
 * prefetch (`maxInFlight`); `info` gives the counts; `purge` and `delete` as on a stream.
 */
import type {
  Client,
  Queue,
  QueueOptions,
  QueueSubscriptionOptionName,
  StreamOptions,
  SubscribeOptions,
} from './api.js';
import { isWeirError } from '../util/index.js';

/** The subscription options that belong to the queue (fixed when it is created). */
export const QUEUE_SUBSCRIPTION_OPTION_NAMES: readonly QueueSubscriptionOptionName[] = [
  'leaseMs',
  'maxDeliveries',
  'deadLetter',
  'deadLetterExpired',
  'deadLetterOverflow',
  'backoff',
  'maxInFlightTotal',
];

/** Splits `options` into the stream's and the subscription's. */
function splitOptions(options: QueueOptions): {
  stream: StreamOptions;
  subscription: SubscribeOptions;
  /** Whether any stream option was given (without, an existing queue is opened as it is). */
  streamGiven: boolean;
} {
  const stream: Record<string, unknown> = {};
  const subscription: Record<string, unknown> = {};
  const subscriptionNames: ReadonlySet<string> = new Set(QUEUE_SUBSCRIPTION_OPTION_NAMES);
  let streamGiven = false;
  for (const [field, value] of Object.entries(options)) {
    if (value === undefined) continue;
    if (subscriptionNames.has(field)) {
      subscription[field] = value;
    } else {
      stream[field] = value;
      streamGiven = true;
    }
  }
  return { stream, subscription, streamGiven };
}

/** Creates (or opens) the queue `name` over `client`'s existing calls. */
export async function openQueue(
  client: Client,
  name: string,
  options: QueueOptions = {},
): Promise<Queue> {
  const split = splitOptions(options);
  try {
    await client.streams.create(name, {
      ...split.stream,
      subjects: [name, `${name}.>`],
      retention: 'work-queue',
    });
  } catch (error) {
    // Opening an existing queue without stream options takes it as it is (its partitions,
    // storage…); a stream of that name that is not a queue stays a refusal.
    if (split.streamGiven || !isWeirError(error, 'STREAM_EXISTS')) throw error;
    const info = await client.streams.info(name);
    if (info.config.retention !== 'work-queue' || !info.config.subjects.includes(name)) throw error;
  }
  // The shared durable subscription exists from the start: work-queue retention keeps
  // messages until a durable subscription settles them, and `info` can always name it.
  const sharedOptions: SubscribeOptions = {
    ...split.subscription,
    subscription: name,
    mode: 'shared',
  };
  const first = await client.subscribe(name, sharedOptions);
  await first.close();
  return {
    name,
    publish: (body, publishOptions) => client.publish(name, body, publishOptions),
    consume: (consumeOptions) =>
      client.subscribe(name, {
        subscription: name,
        ...(consumeOptions?.maxInFlight === undefined
          ? {}
          : { maxInFlight: consumeOptions.maxInFlight }),
      }),
    info: async () => {
      const [stream, subscription] = await Promise.all([
        client.streams.info(name),
        client.subscriptions.info(name, name),
      ]);
      return {
        name,
        messages: stream.messages,
        pending: subscription.pending,
        inFlight: subscription.inFlight,
        delayed: subscription.delayed,
        consumers: subscription.consumers,
        deadLettered: subscription.deadLettered,
        stream,
        subscription,
      };
    },
    purge: () => client.streams.purge(name),
    delete: () => client.streams.delete(name),
  };
}
