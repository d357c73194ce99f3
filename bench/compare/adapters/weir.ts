/**
 * Weir through its own network SDK, against a `weir serve` child (started by main.ts).
 * Durable workloads: file storage, fsync 'always' (fdatasync before a publish is confirmed,
 * group commit). W4: a memory stream, fsync 'never', publish { confirm: false }, an ephemeral
 * subscription with ack 'none'.
 */
import { connect, type Client, type Subscription } from '../../../src/client/index.js';
import {
  windowedFastProducer,
  type AdapterOptions,
  type BrokerAdapter,
  type DurableProducer,
  type FastProducer,
  type OnMessage,
  type RunningConsumer,
} from '../adapter.js';

/** Runs `onMessage` (and the ack) for every message until the subscription closes. */
function pump(
  subscription: Subscription,
  onMessage: OnMessage,
  acknowledge: boolean,
  onAck: (ack: Promise<void>) => void,
): Promise<void> {
  return (async () => {
    // Ends when the subscription is closed (stop(), or the workload's deadline): bounded.
    for await (const message of subscription) {
      onMessage(message.body);
      if (acknowledge) onAck(message.ack());
    }
  })();
}

export async function openWeir(
  options: AdapterOptions,
  serverVersion: string,
): Promise<BrokerAdapter> {
  const clients: Client[] = [];
  const open = async (name: string): Promise<Client> => {
    const client = await connect(options.weirUrl, { name, reconnect: false });
    clients.push(client);
    return client;
  };
  const admin = await open('bench-admin');
  let ackErrors = 0;

  const consumerOn = (
    client: Client,
    subscription: Subscription,
    onMessage: OnMessage,
    acknowledge: boolean,
  ): RunningConsumer => {
    let lastAck: Promise<void> = Promise.resolve();
    const loop = pump(subscription, onMessage, acknowledge, (ack) => {
      lastAck = ack;
      ack.catch(() => void ackErrors++);
    }).catch((error: unknown) => {
      if (!subscription.closed) console.error('weir consumer loop:', error);
    });
    return {
      sync: async () => {
        await lastAck;
        if (ackErrors > 0) throw new Error(`${ackErrors} weir acks failed`);
      },
      stop: async () => {
        await subscription.close();
        await loop;
        await client.close();
      },
    };
  };

  return {
    description: {
      broker: 'weir',
      serverVersion: `Weir ${serverVersion}`,
      client: `weir SDK ${serverVersion} (this checkout)`,
      durability:
        "fsync 'always': fdatasync before every confirm (group commit: one fdatasync per flush)",
      settings: {
        stream:
          "file storage, fsync 'always', 1 partition; retention 'work-queue' for one group (W1/W3/W5), 'limits' for the fan-out (W2)",
        publish: `client.publish() awaiting the receipt, ${options.window} unconfirmed in flight`,
        consume: `durable subscription, mode 'shared', maxInFlight ${options.prefetch}, for await + msg.ack() per message`,
        fanout: 'one stream, one durable subscription per subscriber, one connection each',
        w4: "memory stream, fsync 'never', publish { confirm: false } with ≤ 1000 outstanding, ephemeral subscription ack 'none', start 'latest'",
      },
    },

    async setupDurable(name, groups) {
      const stream = name;
      try {
        await admin.streams.delete(stream);
      } catch {
        // did not exist
      }
      await admin.streams.create(stream, {
        subjects: [name],
        storage: 'file',
        fsync: 'always',
        retention: groups === 1 ? 'work-queue' : 'limits',
      });
      const names = Array.from({ length: groups }, (_, index) => `${name}-group${index + 1}`);
      // Create each durable subscription before anything is published, from the start.
      for (const group of names) {
        const subscription = await admin.subscribe(stream, {
          subscription: group,
          mode: 'shared',
          start: 'earliest',
        });
        await subscription.close();
      }
      return { name, groups: names };
    },

    async durableProducer(target): Promise<DurableProducer> {
      const client = await open('bench-producer');
      return {
        publish(body, done) {
          client.publish(target.name, body).then(
            () => done(),
            (error: unknown) => done(error ?? new Error('publish failed')),
          );
        },
      };
    },

    async consume(target, group, onMessage) {
      const client = await open(`bench-consumer-${group}`);
      const subscription = await client.subscribe(target.name, {
        subscription: group,
        mode: 'shared',
        maxInFlight: options.prefetch,
      });
      return consumerOn(client, subscription, onMessage, true);
    },

    async setupFast(name) {
      try {
        await admin.streams.delete(name);
      } catch {
        // did not exist
      }
      await admin.streams.create(name, {
        subjects: [name],
        storage: 'memory',
        fsync: 'never',
        retention: 'limits',
      });
      return { name, groups: [] };
    },

    async fastProducer(target): Promise<FastProducer> {
      const client = await open('bench-fast-producer');
      return windowedFastProducer((body) => client.publish(target.name, body, { confirm: false }));
    },

    async fastSubscribe(target, onMessage) {
      const client = await open('bench-fast-subscriber');
      const subscription = await client.subscribe(target.name, {
        ack: 'none',
        start: 'latest',
      });
      return consumerOn(client, subscription, onMessage, false);
    },

    async verify(target) {
      const info = await admin.streams.info(target.name);
      const result: Record<string, unknown> = { messages: info.messages };
      for (const group of target.groups) {
        const subscription = await admin.subscriptions.info(target.name, group);
        result[group] = {
          pending: subscription.pending,
          inFlight: subscription.inFlight,
          redelivered: subscription.redelivered,
        };
      }
      return result;
    },

    async cleanup(target) {
      try {
        await admin.streams.delete(target.name);
      } catch {
        // already gone
      }
    },

    async close() {
      for (const client of clients.reverse()) {
        try {
          await client.close();
        } catch {
          // closing anyway
        }
      }
    },
  };
}
