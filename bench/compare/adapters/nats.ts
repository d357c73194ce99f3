/**
 * NATS JetStream through nats.js, with the peer harness's settings: a file-storage stream,
 * 1 replica (work-queue retention for one group, limits for the fan-out), js.publish awaiting
 * each PubAck with 1000 outstanding, durable pull consumers (explicit ack, max_ack_pending
 * 2000, ack_wait 60 s) read with a fetch loop of 1000 messages / 1 s expiry, m.ack() per
 * message. W4 is core NATS (no JetStream): publish, a flush round trip per 1000 messages
 * with at most 4 outstanding, a plain subscription.
 *
 * Durability: JetStream acknowledges a publish once it is written to its file store, without
 * fsync (nats-server 2.9 syncs on its own schedule, every 2 minutes by default).
 */
import {
  AckPolicy,
  DeliverPolicy,
  RetentionPolicy,
  StorageType,
  connect,
  type ConsumerMessages,
  type NatsConnection,
} from 'nats';
import type { AdapterOptions, BrokerAdapter, RunningConsumer } from '../adapter.js';

const NATS_SERVER = '127.0.0.1:4222';
/** Fetch expiry: a fetch ends after this even when the stream is idle, so the loop re-checks. */
const FETCH_EXPIRES_MS = 1000;
const ACK_WAIT_NS = 60e9;
/** W4: one flush round trip per this many publishes, at most FLUSHES_OUTSTANDING_MAX pending. */
const FLUSH_EVERY_MESSAGES = 1000;
const FLUSHES_OUTSTANDING_MAX = 4;

const streamName = (name: string): string => name.toUpperCase();

export async function openNats(
  options: AdapterOptions,
  clientVersion: string,
): Promise<BrokerAdapter> {
  const connections: NatsConnection[] = [];
  const open = async (): Promise<NatsConnection> => {
    const connection = await connect({ servers: NATS_SERVER, maxReconnectAttempts: 0 });
    connections.push(connection);
    return connection;
  };
  const admin = await open();
  const manager = await admin.jetstreamManager();
  const maxAckPending = Math.max(options.prefetch, options.batch) * 2;

  return {
    description: {
      broker: 'nats',
      serverVersion: `nats-server ${admin.info?.version ?? '?'}`,
      client: `nats ${clientVersion}`,
      durability:
        'JetStream file store: PubAck once written to the file, no fsync per message (2.9: synced every 2 min by default)',
      settings: {
        stream:
          'JetStream stream, storage file, replicas 1; retention workqueue for one group (W1/W3/W5), limits for the fan-out (W2)',
        publish: `js.publish awaiting the PubAck, ${options.window} outstanding`,
        consume: `durable pull consumer, ack_policy explicit, max_ack_pending ${maxAckPending}, fetch loop max_messages ${options.batch} expires ${FETCH_EXPIRES_MS} ms, m.ack() per message`,
        fanout: 'one stream, one durable pull consumer per subscriber, one connection each',
        w4: `core NATS publish/subscribe (no JetStream); a flush round trip per ${FLUSH_EVERY_MESSAGES} messages, ≤ ${FLUSHES_OUTSTANDING_MAX} outstanding`,
      },
    },

    async setupDurable(name, groups) {
      const stream = streamName(name);
      try {
        await manager.streams.delete(stream);
      } catch {
        // did not exist
      }
      await manager.streams.add({
        name: stream,
        subjects: [name],
        storage: StorageType.File,
        num_replicas: 1,
        retention: groups === 1 ? RetentionPolicy.Workqueue : RetentionPolicy.Limits,
      });
      const durables = Array.from({ length: groups }, (_, index) => `${stream}C${index + 1}`);
      for (const durable of durables) {
        await manager.consumers.add(stream, {
          durable_name: durable,
          ack_policy: AckPolicy.Explicit,
          deliver_policy: DeliverPolicy.All,
          max_ack_pending: maxAckPending,
          ack_wait: ACK_WAIT_NS,
        });
      }
      return { name, groups: durables };
    },

    async durableProducer(target) {
      const connection = await open();
      const jetstream = connection.jetstream();
      return {
        publish(body, done) {
          jetstream.publish(target.name, body, { timeout: 30_000 }).then(
            () => done(),
            (error: unknown) => done(error ?? new Error('publish failed')),
          );
        },
      };
    },

    async consume(target, group, onMessage): Promise<RunningConsumer> {
      const connection = await open();
      const consumer = await connection.jetstream().consumers.get(streamName(target.name), group);
      let stopped = false;
      let current: ConsumerMessages | null = null;
      // Bounded: each fetch ends after FETCH_EXPIRES_MS at the latest; stop() ends the loop.
      const loop = (async () => {
        while (!stopped) {
          current = await consumer.fetch({
            max_messages: options.batch,
            expires: FETCH_EXPIRES_MS,
          });
          for await (const message of current) {
            onMessage(message.data);
            message.ack();
          }
        }
      })().catch((error: unknown) => {
        if (!stopped) console.error('nats fetch loop:', error);
      });
      return {
        sync: () => connection.flush(),
        stop: async () => {
          stopped = true;
          current?.stop();
          await loop;
        },
      };
    },

    setupFast(name) {
      return Promise.resolve({ name, groups: [] });
    },

    async fastProducer(target) {
      const connection = await open();
      const flushes: Promise<void>[] = [];
      let published = 0;
      return {
        publish(body) {
          connection.publish(target.name, body);
          if (++published % FLUSH_EVERY_MESSAGES === 0) flushes.push(connection.flush());
          return flushes.length < FLUSHES_OUTSTANDING_MAX;
        },
        drain: async () => {
          while (flushes.length >= FLUSHES_OUTSTANDING_MAX) await flushes.shift();
        },
        flush: async () => {
          await Promise.all(flushes.splice(0));
          await connection.flush();
        },
      };
    },

    async fastSubscribe(target, onMessage) {
      const connection = await open();
      const subscription = connection.subscribe(target.name, {
        callback: (error, message) => {
          if (!error) onMessage(message.data);
        },
      });
      await connection.flush(); // the subscription is registered before anything is published
      return {
        sync: () => connection.flush(),
        stop: async () => {
          subscription.unsubscribe();
          await connection.flush();
        },
      };
    },

    async verify(target) {
      if (target.groups.length === 0) return {};
      const stream = streamName(target.name);
      const info = await manager.streams.info(stream);
      const result: Record<string, unknown> = { messages: info.state.messages };
      for (const durable of target.groups) {
        const consumer = await manager.consumers.info(stream, durable);
        result[durable] = {
          pending: consumer.num_pending,
          ackPending: consumer.num_ack_pending,
          redelivered: consumer.num_redelivered,
        };
      }
      return result;
    },

    async cleanup(target) {
      if (target.groups.length === 0) return;
      try {
        await manager.streams.delete(streamName(target.name));
      } catch {
        // already gone
      }
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
