/**
 * x-dead-letter-exchange: RabbitMQ republishes a dead message through the queue's dead-letter
 * exchange. Weir dead-letters by subject, so a queue with x-dead-letter-exchange has its
 * subscription's deadLetter set to `amqp-dead-letters.<stream>` (with deadLetterExpired, and
 * deadLetterOverflow for drop-head): the broker stores the dead letter in the stream
 * `amqp-dead-letters` (made when the first such queue is declared), with the reason and
 * origin headers it writes on every dead letter. This forwarder is one consumer of that
 * stream (durable subscription `forwarder`): for each dead letter it finds the origin queue,
 * routes the message through that queue's dead-letter exchange with its dead-letter routing
 * key (or the original key), adds the x-death entry RabbitMQ writes, publishes it to every
 * queue reached, and only then acks the dead letter: a crash in between forwards it again
 * (at least once), never loses it. A dead letter whose queue or exchange is gone is dropped,
 * as RabbitMQ drops it.
 *
 * x-death (RabbitMQ's format): an array of tables, newest reason/queue first, each
 * { queue, reason, count, time, exchange, 'routing-keys' }; an existing entry for the same
 * queue and reason has its count raised and moves to the front. x-first-death-{queue,reason,
 * exchange} are set once, x-last-death-* each time. The per-message `expiration` is removed
 * (kept as `original-expiration` in the x-death entry), so the copy does not expire again.
 */
import {
  DEAD_LETTER_HEADERS,
  type Client,
  type Message,
  type Subscription,
} from '../protocol/index.js';
import { isWeirError } from '../util/index.js';
import {
  AMQP_DEAD_LETTER_RETRY_MS_MAX,
  AMQP_DEAD_LETTERS_IN_FLIGHT,
  BACKOFF_INITIAL_MS_DEFAULT,
  BACKOFF_MULTIPLIER_DEFAULT,
} from '../limits.js';
import {
  decodeProperties,
  encodeProperties,
  type BasicProperties,
  type FieldTable,
  type FieldValue,
} from './codec/index.js';
import type { Topology } from './topology.js';
import { headerValues } from './exchange.js';
import { deliveryAddress, propertiesFromWeir, storedPropertyBytes } from './message-mapping.js';
import { routedPublishes } from './routed-publish.js';

export const DEAD_LETTER_STREAM = 'amqp-dead-letters';
const FORWARDER_SUBSCRIPTION = 'forwarder';

/** The subject the dead letters of the queue stream `stream` go to. */
export function deadLetterSubject(stream: string): string {
  return `${DEAD_LETTER_STREAM}.${stream}`;
}

/** RabbitMQ's x-death reason for a Weir dead-letter reason. */
const REASONS: Readonly<Record<string, string>> = {
  terminated: 'rejected',
  expired: 'expired',
  overflow: 'maxlen',
  'max-deliveries': 'delivery_limit',
};

/** Makes the dead-letter stream (idempotent). */
export async function ensureDeadLetterStream(
  client: Client,
  storage: 'file' | 'memory',
): Promise<void> {
  try {
    await client.streams.create(DEAD_LETTER_STREAM, {
      subjects: [`${DEAD_LETTER_STREAM}.>`],
      retention: 'work-queue',
      storage,
    });
  } catch (error) {
    if (!isWeirError(error, 'STREAM_EXISTS')) throw error;
  }
}

function isTable(value: FieldValue | undefined): value is FieldTable {
  return (
    value !== null &&
    typeof value === 'object' &&
    !Array.isArray(value) &&
    !(value instanceof Uint8Array) &&
    !(value instanceof Date) &&
    !('decimalPlaces' in value && 'value' in value && Object.keys(value).length === 2)
  );
}

/** The properties of the dead-lettered copy: x-death updated, expiration removed. */
export function deadLetteredProperties(
  properties: BasicProperties,
  queue: string,
  reason: string,
  exchange: string,
  routingKey: string,
  nowMs: number,
): BasicProperties {
  const headers: Record<string, FieldValue> = { ...(properties.headers ?? {}) };
  const previous = Array.isArray(headers['x-death']) ? headers['x-death'] : [];
  let count = 1;
  const others: FieldValue[] = [];
  for (const entry of previous) {
    if (isTable(entry) && entry['queue'] === queue && entry['reason'] === reason) {
      const before = entry['count'];
      count =
        (typeof before === 'number' ? before : typeof before === 'bigint' ? Number(before) : 0) + 1;
    } else {
      others.push(entry);
    }
  }
  const death: Record<string, FieldValue> = {
    count,
    reason,
    queue,
    time: new Date(Math.floor(nowMs / 1000) * 1000),
    exchange,
    'routing-keys': [routingKey],
  };
  if (properties.expiration !== undefined) death['original-expiration'] = properties.expiration;
  headers['x-death'] = [death, ...others];
  if (headers['x-first-death-queue'] === undefined) {
    headers['x-first-death-queue'] = queue;
    headers['x-first-death-reason'] = reason;
    headers['x-first-death-exchange'] = exchange;
  }
  headers['x-last-death-queue'] = queue;
  headers['x-last-death-reason'] = reason;
  headers['x-last-death-exchange'] = exchange;
  const { expiration: _expiration, ...rest } = properties;
  return { ...rest, headers };
}

export class DeadLetterForwarder {
  readonly #client: Client;
  readonly #topology: Topology;
  readonly #now: () => number;
  #subscription: Subscription | null = null;
  #closed = false;
  #starting: Promise<void> | null = null;

  constructor(client: Client, topology: Topology, now: () => number) {
    this.#client = client;
    this.#topology = topology;
    this.#now = now;
  }

  /** Starts consuming the dead-letter stream (once; the stream must exist). */
  start(): Promise<void> {
    this.#starting ??= (async () => {
      const subscription = await this.#client.subscribe(DEAD_LETTER_STREAM, {
        subscription: FORWARDER_SUBSCRIPTION,
        maxInFlight: AMQP_DEAD_LETTERS_IN_FLIGHT,
        // A forward that failed (a full disk) is tried again, backing off to AMQP_DEAD_LETTER_RETRY_MS_MAX.
        backoff: {
          initialMs: BACKOFF_INITIAL_MS_DEFAULT,
          maxMs: AMQP_DEAD_LETTER_RETRY_MS_MAX,
          multiplier: BACKOFF_MULTIPLIER_DEFAULT,
        },
      });
      if (this.#closed) {
        await subscription.close();
        return;
      }
      this.#subscription = subscription;
      void this.#run(subscription);
    })();
    return this.#starting;
  }

  async #run(subscription: Subscription): Promise<void> {
    for (;;) {
      const message = await subscription.receive();
      if (message === null) return;
      void this.#forward(message)
        .then(
          () => message.ack(),
          () => message.nack(),
        )
        .catch(() => undefined);
    }
  }

  async #forward(message: Message): Promise<void> {
    const headers = message.headers;
    const originStream = headers[DEAD_LETTER_HEADERS.originStream];
    const queue = [...this.#topology.queues].find(
      (state) => state.definition.stream === originStream,
    );
    const settings = queue?.definition.settings;
    if (queue === undefined || settings?.deadLetterExchange == null) return;
    const exchange = settings.deadLetterExchange;
    if (!this.#topology.hasExchange(exchange)) return;
    const original = deliveryAddress(message);
    const stored = storedPropertyBytes(message);
    const properties = stored === null ? propertiesFromWeir(message) : decodeProperties(stored);
    const reason = REASONS[headers[DEAD_LETTER_HEADERS.reason] ?? ''] ?? 'rejected';
    const routingKey = settings.deadLetterRoutingKey ?? original.routingKey;
    const copy = deadLetteredProperties(
      properties,
      queue.definition.name,
      reason,
      original.exchange,
      original.routingKey,
      this.#now(),
    );
    const targets = this.#topology.route(exchange, routingKey, headerValues(copy.headers));
    if (targets.length === 0) return;
    const propertyBytes = encodeProperties(copy);
    const publishes = routedPublishes(
      targets,
      exchange,
      routingKey,
      propertyBytes,
      copy,
      message.body,
    );
    await Promise.all(
      publishes.map((entry) => this.#client.publish(entry.subject, entry.body, entry.options)),
    );
  }

  async close(): Promise<void> {
    this.#closed = true;
    await this.#starting?.catch(() => undefined);
    await this.#subscription?.close().catch(() => undefined);
  }
}
