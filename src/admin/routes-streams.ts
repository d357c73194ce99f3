/**
 * Streams, subscriptions and consumers. Answers combine the broker's own info (read at
 * request time) with the sampler's live figures (rates, lag in seconds, stall), at most one
 * sample old.
 */
import {
  SUBSCRIPTION_CREATE_OPTION_NAMES,
  type Client,
  type StreamInfo,
  type SubscriptionInfo,
} from '../protocol/index.js';
import { isWeirError } from '../util/index.js';
import type { AdminContext } from './admin-context.js';
import type { ConsumerSnapshot } from './connections-view.js';
import { invalid, objectBody, onlyKeys } from './http-io.js';
import type { Route } from './router.js';
import type { StreamStats, SubscriptionStats } from './stats-snapshot.js';

export type StreamView = StreamInfo & {
  readonly inPerSecond: number;
  readonly outPerSecond: number;
};

export type SubscriptionView = SubscriptionInfo & {
  /** Broker-owned bookkeeping (name starts with '_') or one of the admin server's peeks. */
  readonly internal: boolean;
  readonly lagMessages: number;
  /** null until the sampler has seen the subscription. */
  readonly lagSeconds: number | null;
  readonly deliveredPerSecond: number;
  readonly ackedPerSecond: number;
  readonly redeliveredPerSecond: number;
  readonly deadLetteredPerSecond: number;
  readonly creditLeft: number | null;
  readonly stall: SubscriptionStats['stall'];
};

function streamView(info: StreamInfo, stats: StreamStats | undefined): StreamView {
  return { ...info, inPerSecond: stats?.inPerSecond ?? 0, outPerSecond: stats?.outPerSecond ?? 0 };
}

function streamStatsByName(context: AdminContext): Map<string, StreamStats> {
  return new Map((context.sampler.latest?.streams ?? []).map((stats) => [stats.name, stats]));
}

function subscriptionView(
  context: AdminContext,
  info: SubscriptionInfo,
  stats: SubscriptionStats | undefined,
): SubscriptionView {
  const internal =
    (info.durable && info.name.startsWith('_')) || context.peeker.owns(info.stream, info.name);
  return {
    ...info,
    internal,
    lagMessages: info.pending,
    lagSeconds: stats?.lagSeconds ?? null,
    deliveredPerSecond: stats?.deliveredPerSecond ?? 0,
    ackedPerSecond: stats?.ackedPerSecond ?? 0,
    redeliveredPerSecond: stats?.redeliveredPerSecond ?? 0,
    deadLetteredPerSecond: stats?.deadLetteredPerSecond ?? 0,
    creditLeft: stats?.creditLeft ?? null,
    stall: stats?.stall ?? null,
  };
}

async function subscriptionViews(
  context: AdminContext,
  client: Client,
  stream: string,
  includeInternal: boolean,
): Promise<SubscriptionView[]> {
  const stats = new Map(
    (context.sampler.latest?.subscriptions ?? [])
      .filter((entry) => entry.stream === stream)
      .map((entry) => [entry.name, entry]),
  );
  const views = (await client.subscriptions.list(stream)).map((info) =>
    subscriptionView(context, info, stats.get(info.name)),
  );
  return includeInternal ? views : views.filter((view) => !view.internal);
}

function consumersOf(
  context: AdminContext,
  stream: string,
  name: string,
): ConsumerSnapshot[] | null {
  if (!context.connections) return null;
  const connections = context.connections.list();
  // A server that reports counts but not consumers: no details to give.
  if (
    connections.some(
      (connection) => connection.consumers === undefined && connection.consumerCount > 0,
    )
  ) {
    return null;
  }
  const found: (ConsumerSnapshot & { connection: number; remote: string; clientName: string })[] =
    [];
  for (const connection of connections) {
    for (const consumer of connection.consumers ?? []) {
      if (consumer.stream === stream && consumer.subscription === name) {
        found.push({
          ...consumer,
          connection: connection.id,
          remote: connection.remote,
          clientName: connection.clientName,
        });
      }
    }
  }
  return found;
}

const STREAM_EXAMPLE = {
  name: 'orders',
  subjects: ['orders.>'],
  partitions: 3,
  retention: 'limits',
  maxAgeMs: 604800000,
};

const SUBSCRIPTION_EXAMPLE = {
  name: 'big-eu',
  filter: 'orders.eu.>',
  headerFilter: { kind: ['created', 'updated'], price: [{ numeric: ['>=', 100, '<', 200] }] },
  maxDeliveries: 5,
};

/** Every route acts for its user through the request's client (the broker checks each call). */
export function streamRoutes(context: AdminContext): Route[] {
  return [
    {
      method: 'GET',
      path: '/api/streams',
      tag: 'streams',
      summary: 'Every stream: its info (StreamInfo) with messages in and out per second.',
      handler: async ({ client }) => {
        const stats = streamStatsByName(context);
        return (await client.streams.list()).map((info) => streamView(info, stats.get(info.name)));
      },
    },
    {
      method: 'POST',
      path: '/api/streams',
      tag: 'streams',
      summary:
        'Creates a stream: `name` and the StreamOptions of docs/http-api.md. The same configuration again is not an error.',
      body: { description: '{ name, ...StreamOptions }', example: STREAM_EXAMPLE },
      status: 201,
      handler: async ({ client, body }) => {
        const { name, ...options } = objectBody(await body());
        if (typeof name !== 'string') throw invalid('name', 'must be a string');
        return streamView(await client.streams.create(name, options), undefined);
      },
    },
    {
      method: 'GET',
      path: '/api/streams/{stream}',
      tag: 'streams',
      summary:
        "A stream's info with rates and its subscriptions (with lag, in-flight, rates, stall).",
      query: { internal: "true: also broker-owned subscriptions ('_…') and peeks" },
      handler: async ({ client, params, query }) => {
        const info = await client.streams.info(params.stream!);
        const subscriptions = await subscriptionViews(
          context,
          client,
          info.name,
          query.get('internal') === 'true',
        );
        return {
          ...streamView(info, streamStatsByName(context).get(info.name)),
          subscriptionDetails: subscriptions,
        };
      },
    },
    {
      method: 'PATCH',
      path: '/api/streams/{stream}',
      tag: 'streams',
      summary:
        'Changes a live stream (streams.update): subjects, maxAgeMs, maxBytes, maxMessages, overflow, dedupWindowMs, maxMessageBytes, ttlMs; null clears a limit. Any other field is INVALID_ARGUMENT.',
      body: {
        description: 'StreamChanges: only the fields to change',
        example: { maxMessages: 100000, maxAgeMs: null, ttlMs: 60000 },
      },
      handler: async ({ client, params, body }) => {
        const changes = objectBody(await body());
        const info = await client.streams.update(params.stream!, changes);
        return streamView(info, streamStatsByName(context).get(info.name));
      },
    },
    {
      method: 'DELETE',
      path: '/api/streams/{stream}',
      tag: 'streams',
      summary: 'Deletes the stream, its messages and its subscriptions.',
      handler: async ({ client, params }) => {
        await client.streams.delete(params.stream!);
        return { deleted: params.stream };
      },
    },
    {
      method: 'POST',
      path: '/api/streams/{stream}/purge',
      tag: 'streams',
      summary: 'Removes every message of the stream; subscriptions stay.',
      handler: async ({ client, params }) => {
        await client.streams.purge(params.stream!);
        return { purged: params.stream };
      },
    },
    {
      method: 'GET',
      path: '/api/streams/{stream}/subscriptions',
      tag: 'subscriptions',
      summary: "The stream's subscriptions with lag, in-flight, redelivery and dead-letter counts.",
      query: { internal: "true: also broker-owned subscriptions ('_…') and peeks" },
      handler: ({ client, params, query }) =>
        subscriptionViews(context, client, params.stream!, query.get('internal') === 'true'),
    },
    {
      method: 'POST',
      path: '/api/streams/{stream}/subscriptions',
      tag: 'subscriptions',
      summary:
        'Creates a durable subscription: `name` and the subscription options of docs/http-api.md (a `headerFilter` policy among them). The same configuration again is not an error.',
      body: { description: '{ name, ...options }', example: SUBSCRIPTION_EXAMPLE },
      status: 201,
      handler: async ({ client, params, body }) => {
        const { name, ...options } = objectBody(await body());
        onlyKeys(options, SUBSCRIPTION_CREATE_OPTION_NAMES);
        if (typeof name !== 'string') throw invalid('name', 'must be a string');
        const stream = params.stream!;
        // A consumer that takes nothing: what the subscription hands it goes back uncounted
        // when it closes, so creating moves nothing.
        const consumer = await client.subscribe(stream, {
          ...options,
          subscription: name,
          maxInFlight: 1,
        });
        await consumer.close();
        const info = await client.subscriptions.info(stream, name);
        return subscriptionView(context, info, undefined);
      },
    },
    {
      method: 'GET',
      path: '/api/subscriptions',
      tag: 'subscriptions',
      summary: 'The subscriptions of every stream.',
      query: { internal: "true: also broker-owned subscriptions ('_…') and peeks" },
      handler: async ({ client, query }) => {
        const views: SubscriptionView[] = [];
        for (const stream of await client.streams.list()) {
          try {
            views.push(
              ...(await subscriptionViews(
                context,
                client,
                stream.name,
                query.get('internal') === 'true',
              )),
            );
          } catch (error) {
            if (!isWeirError(error, 'STREAM_NOT_FOUND')) throw error; // else: deleted meanwhile
          }
        }
        return views;
      },
    },
    {
      method: 'GET',
      path: '/api/streams/{stream}/subscriptions/{subscription}',
      tag: 'subscriptions',
      summary:
        "One subscription with its live figures, its network consumers (with credit), its consumers' circuit breakers and the progress reported for its messages.",
      handler: async ({ client, params }) => {
        const stream = params.stream!;
        const name = params.subscription!;
        const info = await client.subscriptions.info(stream, name);
        const stats = context.sampler.latest?.subscriptions.find(
          (entry) => entry.stream === stream && entry.name === name,
        );
        return {
          ...subscriptionView(context, info, stats),
          consumerDetails: consumersOf(context, stream, name),
          progress: await client.subscriptions.progressList(stream, name),
        };
      },
    },
    {
      method: 'DELETE',
      path: '/api/streams/{stream}/subscriptions/{subscription}',
      tag: 'subscriptions',
      summary: 'Deletes a durable subscription and its state; its consumers end.',
      handler: async ({ client, params }) => {
        await client.subscriptions.delete(params.stream!, params.subscription!);
        return { deleted: params.subscription };
      },
    },
    {
      method: 'POST',
      path: '/api/streams/{stream}/subscriptions/{subscription}/seek',
      tag: 'subscriptions',
      summary:
        "Moves the subscription: `position` is 'earliest', 'latest', { offset, partition? } or { timeMs }.",
      body: { description: '{ position }', example: { position: { timeMs: 1767225600000 } } },
      handler: async ({ client, params, body }) => {
        const input = objectBody(await body());
        onlyKeys(input, ['position']);
        if (input.position === undefined) throw invalid('position', 'is required');
        await client.subscriptions.seek(
          params.stream!,
          params.subscription!,
          input.position as Parameters<Client['subscriptions']['seek']>[2],
        );
        return { sought: params.subscription, position: input.position };
      },
    },
    {
      method: 'GET',
      path: '/api/consumers',
      tag: 'consumers',
      summary:
        'Connected clients with their consumers and credit (null when the broker runs embedded, without a network server).',
      handler: () => ({
        connections: context.connections ? context.connections.list() : null,
      }),
    },
  ];
}
