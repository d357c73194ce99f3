/**
 * An AMQP 0-9-1 broker through amqplib, with the settings of the peer harness that produced
 * the reference figures: durable queues, persistent messages on a confirm channel with 1000
 * unconfirmed, consumers with prefetch 1000 acking each message; the fan-out is a durable
 * fanout exchange bound to one durable queue per subscriber. W4: a non-durable queue,
 * transient messages on a plain channel, noAck.
 *
 * One implementation, two brokers (only the URL and the descriptions differ):
 *
 * - RabbitMQ (`openRabbitmq`): classic durable queues (the 3.10 default type); RabbitMQ
 *   confirms a persistent message on a durable queue once it is fsynced (group commit, about
 *   one fsync per several hundred messages at this load).
 * - Weir over AMQP (`openWeirAmqp`): the AMQP gateway of a `weir serve` child. A durable
 *   queue is a work-queue stream with file storage, fsync 'always' (the stream default): a
 *   publish is confirmed once it is written and fdatasync'ed (group commit), whatever its
 *   deliveryMode; the non-durable W4 queue is a memory stream.
 */
import amqp from 'amqplib';
import type { Channel, ChannelModel } from 'amqplib';
import {
  type AdapterDescription,
  type AdapterOptions,
  type BrokerAdapter,
  type BrokerId,
  type DurableTarget,
  type OnMessage,
  type RunningConsumer,
} from '../adapter.js';

const RABBITMQ_URL = 'amqp://guest:guest@127.0.0.1:5672';

/** What differs between the AMQP brokers: where, and what their queues and confirms mean. */
export interface AmqpBrokerProfile {
  readonly broker: BrokerId;
  readonly url: string;
  /** The server's name before its version (server-properties.version). */
  readonly product: string;
  /** AdapterDescription.durability. */
  readonly durability: string;
  /** What the durable queue the adapter declares is on this broker (settings.queue). */
  readonly queue: string;
  /** What the W4 queue (non-durable) is on this broker, before the common W4 settings. */
  readonly fastQueue: string;
}

export const RABBITMQ_PROFILE: Omit<AmqpBrokerProfile, 'url'> = {
  broker: 'rabbitmq',
  product: 'RabbitMQ',
  durability: 'persistent messages on durable classic queues: confirmed after fsync (group commit)',
  queue: 'classic queue (the 3.10 default, CQ v1), durable, default queue mode (not lazy)',
  fastQueue: 'non-durable queue',
};

export const WEIR_AMQP_PROFILE: Omit<AmqpBrokerProfile, 'url'> = {
  broker: 'weir-amqp',
  product: 'Weir (AMQP 0-9-1 gateway)',
  durability:
    "durable queues are file-storage work-queue streams, fsync 'always': a publish is confirmed after write + fdatasync (group commit); W4's non-durable queue is a memory stream",
  queue:
    "queue.declare durable: a Weir work-queue stream, storage 'file', fsync 'always' (the default); deliveryMode does not change that",
  fastQueue: "non-durable queue (a Weir memory stream, storage 'memory')",
};

export function openRabbitmq(
  options: AdapterOptions,
  clientVersion: string,
): Promise<BrokerAdapter> {
  return openAmqp(options, clientVersion, { ...RABBITMQ_PROFILE, url: RABBITMQ_URL });
}

/** Weir's AMQP gateway: `options.weirAmqpUrl` (the `weir serve` child main.ts started). */
export function openWeirAmqp(
  options: AdapterOptions,
  clientVersion: string,
): Promise<BrokerAdapter> {
  return openAmqp(options, clientVersion, { ...WEIR_AMQP_PROFILE, url: options.weirAmqpUrl });
}

export async function openAmqp(
  options: AdapterOptions,
  clientVersion: string,
  profile: AmqpBrokerProfile,
): Promise<BrokerAdapter> {
  const connections: ChannelModel[] = [];
  const open = async (): Promise<ChannelModel> => {
    const connection = await amqp.connect(profile.url);
    connection.on('error', (error: Error) =>
      console.error('amqp connection error:', error.message),
    );
    connections.push(connection);
    return connection;
  };
  const admin = await open();
  const adminChannel = await admin.createChannel();
  const version = admin.connection.serverProperties.version;

  /** Work queue: publish to the default exchange, routing key = queue. Fan-out: the exchange. */
  const route = (target: DurableTarget): { exchange: string; routingKey: string } =>
    target.groups.length === 1
      ? { exchange: '', routingKey: target.groups[0]! }
      : { exchange: target.name, routingKey: '' };

  const consumeOn = async (
    channel: Channel,
    queue: string,
    onMessage: OnMessage,
    noAck: boolean,
  ): Promise<RunningConsumer> => {
    await channel.prefetch(options.prefetch);
    const { consumerTag } = await channel.consume(
      queue,
      (message) => {
        if (!message) return; // the broker cancelled the consumer
        onMessage(message.content);
        if (!noAck) channel.ack(message);
      },
      { noAck },
    );
    return {
      // A round trip on the same channel: every ack sent before it has been processed.
      sync: async () => void (await channel.checkQueue(queue)),
      stop: async () => void (await channel.cancel(consumerTag)),
    };
  };

  const description: AdapterDescription = {
    broker: profile.broker,
    serverVersion: `${profile.product} ${version ?? '?'}`,
    client: `amqplib ${clientVersion}`,
    durability: profile.durability,
    settings: {
      queue: profile.queue,
      publish: `confirm channel, deliveryMode 2 (persistent), ${options.window} unconfirmed`,
      consume: `basic.consume, prefetch ${options.prefetch} per consumer, manual ack per message`,
      fanout:
        'durable fanout exchange bound to one durable queue per subscriber, one connection each',
      w4: `${profile.fastQueue}, deliveryMode 1, plain channel (no confirms), consumer noAck; producer obeys channel backpressure (drain)`,
    },
  };

  return {
    description,

    async setupDurable(name, groups) {
      if (groups === 1) {
        await adminChannel.deleteQueue(name);
        await adminChannel.assertQueue(name, { durable: true, autoDelete: false });
        return { name, groups: [name] };
      }
      const queues = Array.from({ length: groups }, (_, index) => `${name}.q${index + 1}`);
      await adminChannel.deleteExchange(name);
      await adminChannel.assertExchange(name, 'fanout', { durable: true });
      for (const queue of queues) {
        await adminChannel.deleteQueue(queue);
        await adminChannel.assertQueue(queue, { durable: true, autoDelete: false });
        await adminChannel.bindQueue(queue, name, '');
      }
      return { name, groups: queues };
    },

    async durableProducer(target) {
      const connection = await open();
      const channel = await connection.createConfirmChannel();
      const { exchange, routingKey } = route(target);
      return {
        publish(body, done) {
          // The confirm window (not channel.publish's return value) is the flow control here,
          // as in the peer harness.
          channel.publish(exchange, routingKey, body, { persistent: true }, (error: unknown) =>
            done(error ?? undefined),
          );
        },
      };
    },

    async consume(_target, group, onMessage) {
      const connection = await open();
      return consumeOn(await connection.createChannel(), group, onMessage, false);
    },

    async setupFast(name) {
      await adminChannel.deleteQueue(name);
      await adminChannel.assertQueue(name, { durable: false, autoDelete: false });
      return { name, groups: [name] };
    },

    async fastProducer(target) {
      const connection = await open();
      const channel = await connection.createChannel();
      return {
        publish: (body) => channel.publish('', target.name, body, { persistent: false }),
        drain: () => new Promise<void>((resolve) => channel.once('drain', () => resolve())),
        flush: async () => {
          // A round trip on the channel: every publish before it reached the broker.
          await channel.checkQueue(target.name);
        },
      };
    },

    async fastSubscribe(target, onMessage) {
      const connection = await open();
      return consumeOn(await connection.createChannel(), target.name, onMessage, true);
    },

    async verify(target) {
      const result: Record<string, unknown> = {};
      for (const queue of target.groups) {
        const state = await adminChannel.checkQueue(queue);
        result[queue] = { ready: state.messageCount, consumers: state.consumerCount };
      }
      return result;
    },

    async cleanup(target) {
      for (const queue of target.groups) await adminChannel.deleteQueue(queue);
      if (target.groups.length > 1) await adminChannel.deleteExchange(target.name);
    },

    async close() {
      for (const connection of connections.reverse()) {
        try {
          await connection.close();
        } catch {
          // closing anyway
        }
      }
    },
  };
}
