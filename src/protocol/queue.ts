/**
 * `client.queue(name)`: a work queue as sugar over the model (DESIGN.md, "Queue"). A queue is
 * a stream `name` capturing `name` and `name.>` with `work-queue` retention, plus one shared
 * durable subscription, also called `name`, that every consumer of the queue joins. A message
 * goes once that subscription settled it. Nothing here is a new broker call: both transports
 * build a queue from `streams`, `subscriptions`, `publish` and `subscribe`, so a queue made
 * embedded is the same queue seen over TCP. Creating a queue is an admin's act (it creates a
 * stream); a client that is not admin opens an existing one, and uses what its permissions
 * allow (publish:NAME to add jobs, subscribe:NAME or subscribe:NAME:NAME to work on them).
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
  'fairBy',
  'rateLimit',
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

/** Whether a stream `name` exists and is a queue (work-queue retention, capturing `name`). */
async function isQueue(client: Client, name: string): Promise<boolean> {
  try {
    const info = await client.streams.info(name);
    return info.config.retention === 'work-queue' && info.config.subjects.includes(name);
  } catch (error) {
    if (isWeirError(error, 'STREAM_NOT_FOUND')) return false;
    throw error;
  }
}

/** Creates (or opens) the queue `name` over `client`'s existing calls. */
export async function openQueue(
  client: Client,
  name: string,
  options: QueueOptions = {},
): Promise<Queue> {
  const split = splitOptions(options);
  // An existing queue opened without stream options is taken as it is (its partitions,
  // storage…) without a create: creating is admin only, opening is not, so a worker that is
  // not admin can open a queue an admin made.
  const existed = !split.streamGiven && (await isQueue(client, name));
  if (!existed) {
    try {
      await client.streams.create(name, {
        ...split.stream,
        subjects: [name, `${name}.>`],
        retention: 'work-queue',
      });
    } catch (error) {
      // Made meanwhile by another client: the same as above. A stream of that name that is
      // not a queue stays a refusal.
      if (split.streamGiven || !isWeirError(error, 'STREAM_EXISTS')) throw error;
      if (!(await isQueue(client, name))) throw error;
    }
  }
  // The shared durable subscription exists from the start: work-queue retention keeps
  // messages until a durable subscription settles them, and `info` can always name it.
  const sharedOptions: SubscribeOptions = {
    ...split.subscription,
    subscription: name,
    mode: 'shared',
  };
  try {
    const first = await client.subscribe(name, sharedOptions);
    await first.close();
  } catch (error) {
    // A producer that may publish to an existing queue but not consume from it still opens
    // it: whoever made the queue made its subscription too.
    if (!existed || !isWeirError(error, 'NOT_AUTHORIZED')) throw error;
  }
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
