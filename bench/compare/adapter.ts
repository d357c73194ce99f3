/**
 * What a workload needs of a broker, implemented once per broker over its usual Node.js
 * client (adapters/*.ts). The workloads (workloads.ts) are written once over this.
 *
 * A "durable target" is a queue or stream with `groups` independent consumer groups: one
 * group is a work queue (W1, W3, W5), several are a fan-out (W2) where each group gets every
 * message. A "fast target" is the broker's at-most-once path (W4).
 */
export const BROKERS = ['weir', 'weir-amqp', 'rabbitmq', 'nats', 'redis'] as const;
export type BrokerId = (typeof BROKERS)[number];

/**
 * The brokers main.ts starts itself, a `weir serve` child per run: `weir` (Weir's own
 * protocol and SDK) and `weir-amqp` (the same server with its AMQP 0-9-1 gateway, driven by
 * the RabbitMQ adapter's amqplib code).
 */
export const WEIR_BROKERS = ['weir', 'weir-amqp'] as const;
export type WeirBrokerId = (typeof WEIR_BROKERS)[number];
/** The other brokers: already running on this machine, on their standard loopback ports. */
export type PeerId = Exclude<BrokerId, WeirBrokerId>;

export function isWeirBroker(broker: BrokerId): broker is WeirBrokerId {
  return (WEIR_BROKERS as readonly BrokerId[]).includes(broker);
}

export const BROKER_LABELS: Readonly<Record<BrokerId, string>> = {
  weir: 'Weir',
  'weir-amqp': 'Weir over AMQP',
  rabbitmq: 'RabbitMQ',
  nats: 'NATS JetStream',
  redis: 'Redis Streams',
};

/** Where each peer listens on this machine (loopback, standard ports). */
export const PEER_PORTS: Readonly<Record<PeerId, number>> = {
  rabbitmq: 5672,
  nats: 4222,
  redis: 6379,
};

export interface DurableTarget {
  /** Queue / stream / key name, unique per workload. */
  readonly name: string;
  /** Consumer group (queue, durable consumer, subscription) names, one per subscriber. */
  readonly groups: readonly string[];
}

export interface DurableProducer {
  /** Publishes durably; `done` runs once the broker confirmed it (or with the error). */
  publish(body: Buffer, done: (error?: unknown) => void): void;
}

export interface FastProducer {
  /** Publishes at most once, no confirm. false: wait for `drain()` before the next one. */
  publish(body: Buffer): boolean;
  drain(): Promise<void>;
  /** Resolves once everything published so far has been handed to the broker. */
  flush(): Promise<void>;
}

export type OnMessage = (body: Uint8Array) => void;

export interface RunningConsumer {
  /** Resolves once the acks of everything received so far have reached the broker. */
  sync(): Promise<void>;
  stop(): Promise<void>;
}

/** Settings and versions, as recorded with every run. */
export interface AdapterDescription {
  readonly broker: BrokerId;
  readonly serverVersion: string;
  readonly client: string;
  /** When a publish is confirmed relative to the disk, in one sentence. */
  readonly durability: string;
  readonly settings: Readonly<Record<string, string>>;
}

export interface BrokerAdapter {
  readonly description: AdapterDescription;
  setupDurable(name: string, groups: number): Promise<DurableTarget>;
  durableProducer(target: DurableTarget): Promise<DurableProducer>;
  /** A consumer of one group that acks every message after `onMessage`. */
  consume(target: DurableTarget, group: string, onMessage: OnMessage): Promise<RunningConsumer>;
  setupFast(name: string): Promise<DurableTarget>;
  fastProducer(target: DurableTarget): Promise<FastProducer>;
  fastSubscribe(target: DurableTarget, onMessage: OnMessage): Promise<RunningConsumer>;
  /** What the broker still holds for the target (unacked / pending counts), for the record. */
  verify(target: DurableTarget): Promise<Record<string, unknown>>;
  cleanup(target: DurableTarget): Promise<void>;
  close(): Promise<void>;
}

/** Settings every adapter uses, the same as the peer harness that produced the reference figures. */
export interface AdapterOptions {
  /** Unconfirmed durable publishes a producer keeps outstanding. */
  readonly window: number;
  /** Unacked deliveries a consumer holds (prefetch / max_ack_pending / maxInFlight). */
  readonly prefetch: number;
  /** Pull batch (NATS fetch) / XREADGROUP COUNT (Redis). */
  readonly batch: number;
  /** Weir only: where `weir serve` listens. */
  readonly weirUrl: string;
  /** Weir over AMQP only: where the `weir serve` child's AMQP gateway listens (amqp://…). */
  readonly weirAmqpUrl: string;
}

/** Outstanding at-most-once publishes a W4 producer keeps where the client needs a window. */
export const FAST_WINDOW = 1000;

/**
 * A W4 producer over a client whose at-most-once publish still returns a promise (the reply
 * of Redis PUBLISH, Weir's write to its socket): at most FAST_WINDOW of them outstanding.
 */
export function windowedFastProducer(send: (body: Buffer) => Promise<unknown>): FastProducer {
  let outstanding = 0;
  let waiter: (() => void) | null = null;
  const settled = (): void => {
    outstanding--;
    if (waiter && outstanding < FAST_WINDOW) {
      const wake = waiter;
      waiter = null;
      wake();
    }
  };
  const settledOne = (): Promise<void> => new Promise<void>((resolve) => (waiter = resolve));
  return {
    publish(body) {
      outstanding++;
      send(body).then(settled, settled);
      return outstanding < FAST_WINDOW;
    },
    drain: () => (outstanding < FAST_WINDOW ? Promise.resolve() : settledOne()),
    flush: async () => {
      // Each pass waits for one more settlement: at most `outstanding` passes.
      while (outstanding > 0) await settledOne();
    },
  };
}
