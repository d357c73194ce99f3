/**
 * What one AMQP message routed to some queues becomes in Weir: one publish per queue, on the
 * queue's subject (message-mapping.ts), with the Weir headers that carry its AMQP address and
 * properties, its TTL (the `expiration` property) and, on a queue with x-max-priority, its
 * priority. Used by channels (basic.publish) and by the dead-letter forwarder.
 */
import type { PublishOptions } from '../protocol/index.js';
import { DELAY_MS_MAX } from '../limits.js';
import { AmqpError } from './amqp-error.js';
import type { BasicProperties } from './codec/index.js';
import { subjectFor, weirHeaders } from './message-mapping.js';
import type { QueueState } from './topology.js';

export interface RoutedPublish {
  readonly subject: string;
  readonly body: Uint8Array;
  readonly options: PublishOptions;
}

/** Weir has ten priority levels (0..9). */
const WEIR_PRIORITY_MAX = 9;

/** The Weir ttlMs of an AMQP `expiration` property; 406 when it is not a count of ms. */
export function expirationMs(expiration: string | undefined): number | null {
  if (expiration === undefined) return null;
  if (!/^\d{1,10}$/u.test(expiration)) {
    throw new AmqpError(406, `invalid expiration '${expiration}': not a count of milliseconds`);
  }
  return Math.max(1, Number(expiration));
}

/**
 * The delay of a message published to a delayed exchange: its `x-delay` header in ms (an
 * integer, or a string of one); absent, zero or negative: none, as RabbitMQ's plugin. 406
 * past Weir's DELAY_MS_MAX or when it is not a number.
 */
export function xDelayMs(properties: BasicProperties): number {
  const value = properties.headers?.['x-delay'];
  if (value === undefined || value === null) return 0;
  const delay =
    typeof value === 'number' || typeof value === 'bigint'
      ? Number(value)
      : typeof value === 'string' && /^-?\d{1,16}$/u.test(value)
        ? Number(value)
        : NaN;
  if (!Number.isInteger(delay)) {
    throw new AmqpError(406, `invalid x-delay header: not an integer number of milliseconds`);
  }
  if (delay > DELAY_MS_MAX) {
    throw new AmqpError(406, `x-delay ${delay} is over the longest delay, ${DELAY_MS_MAX} ms`);
  }
  return Math.max(0, delay);
}

export function routedPublishes(
  queues: readonly QueueState[],
  exchange: string,
  routingKey: string,
  propertyBytes: Uint8Array,
  properties: BasicProperties,
  body: Uint8Array,
  delayMs = 0,
): RoutedPublish[] {
  const ttlMs = expirationMs(properties.expiration);
  const base: PublishOptions = {
    headers: weirHeaders(exchange, routingKey, propertyBytes, properties),
    ...(ttlMs === null ? {} : { ttlMs }),
    ...(delayMs > 0 ? { delayMs } : {}),
    ...(properties.correlationId === undefined ? {} : { correlationId: properties.correlationId }),
  };
  return queues.map((queue) => ({
    // Through the default exchange the routing key is the queue's name: the subject is S.
    subject:
      exchange === '' ? queue.definition.stream : subjectFor(queue.definition.stream, routingKey),
    body,
    options: withPriority(base, queue, properties.priority),
  }));
}

function withPriority(
  base: PublishOptions,
  queue: QueueState,
  priority: number | undefined,
): PublishOptions {
  const max = queue.definition.settings.maxPriority;
  if (max === null || priority === undefined || priority <= 0) return base;
  return { ...base, priority: Math.min(priority, max, WEIR_PRIORITY_MAX) };
}
