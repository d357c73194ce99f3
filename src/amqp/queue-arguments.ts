/**
 * The queue arguments (`x-…`) the gateway honours, checked once at queue.declare, and what
 * each becomes in Weir's model (docs/amqp.md has the table):
 *
 *   x-message-ttl          the stream's ttlMs (a default per-message TTL)
 *   x-expires              the queue is deleted after this long unused (no consumer, no get,
 *                          no redeclare); a gateway timer
 *   x-max-length           the stream's maxMessages     x-max-length-bytes  its maxBytes
 *   x-overflow             drop-head → overflow drop-oldest; reject-publish and
 *                          reject-publish-dlx → reject-new (a confirm channel gets basic.nack)
 *   x-dead-letter-exchange / x-dead-letter-routing-key   dead letters (rejected, expired,
 *                          dropped from the head) are republished through that exchange
 *   x-max-priority         1..255: publishes carry min(priority, x-max-priority, 9) as Weir's
 *                          priority (Weir has 10 levels); without it priorities are ignored
 *   x-delivery-limit       the subscription's maxDeliveries (quorum queues' poison limit)
 *   x-queue-type           classic, quorum, stream: accepted, all are a Weir stream
 *   x-single-active-consumer  true → the subscription's mode is failover
 *   x-queue-mode, x-queue-master-locator, x-queue-version, x-max-in-memory-*: accepted, ignored
 *
 * Any other `x-` argument is accepted and ignored, as RabbitMQ ignores the ones it does not
 * know; a known one of the wrong type or range is refused with PRECONDITION_FAILED (406).
 */
import type { FieldTable, FieldValue } from './codec/index.js';
import { AmqpError } from './amqp-error.js';

export type QueueOverflow = 'drop-head' | 'reject-publish' | 'reject-publish-dlx';

export interface QueueSettings {
  readonly messageTtlMs: number | null;
  readonly expiresMs: number | null;
  readonly maxLength: number | null;
  readonly maxLengthBytes: number | null;
  readonly overflow: QueueOverflow;
  readonly deadLetterExchange: string | null;
  readonly deadLetterRoutingKey: string | null;
  readonly maxPriority: number | null;
  readonly deliveryLimit: number | null;
  readonly singleActiveConsumer: boolean;
}

/** The largest TTL and expiry RabbitMQ accepts (2^32 - 1 ms). */
const TIME_MS_MAX = 0xffff_ffff;
const PRIORITY_MAX = 255;
const QUEUE_TYPES: ReadonlySet<string> = new Set(['classic', 'quorum', 'stream']);
const OVERFLOWS: ReadonlySet<string> = new Set([
  'drop-head',
  'reject-publish',
  'reject-publish-dlx',
]);

function refuse(queue: string, name: string, why: string): AmqpError {
  return new AmqpError(406, `invalid arg '${name}' for queue '${queue}' in vhost '/': ${why}`);
}

function integer(
  queue: string,
  table: FieldTable,
  name: string,
  min: number,
  max: number,
): number | null {
  const value: FieldValue | undefined = table[name];
  if (value === undefined) return null;
  const number = typeof value === 'bigint' ? Number(value) : value;
  if (typeof number !== 'number' || !Number.isInteger(number)) {
    throw refuse(queue, name, 'must be an integer');
  }
  if (number < min || number > max) throw refuse(queue, name, `must be in ${min}..${max}`);
  return number;
}

function text(queue: string, table: FieldTable, name: string): string | null {
  const value = table[name];
  if (value === undefined) return null;
  if (typeof value === 'string') return value;
  if (value instanceof Uint8Array) return Buffer.from(value).toString('utf8');
  throw refuse(queue, name, 'must be a string');
}

export function parseQueueArguments(queue: string, table: FieldTable): QueueSettings {
  const type = text(queue, table, 'x-queue-type');
  if (type !== null && !QUEUE_TYPES.has(type)) {
    throw refuse(queue, 'x-queue-type', `unknown type '${type}'`);
  }
  const overflow = text(queue, table, 'x-overflow') ?? 'drop-head';
  if (!OVERFLOWS.has(overflow)) throw refuse(queue, 'x-overflow', `unknown value '${overflow}'`);
  const single = table['x-single-active-consumer'];
  if (single !== undefined && typeof single !== 'boolean') {
    throw refuse(queue, 'x-single-active-consumer', 'must be a boolean');
  }
  const deadLetterExchange = text(queue, table, 'x-dead-letter-exchange');
  const deadLetterRoutingKey = text(queue, table, 'x-dead-letter-routing-key');
  if (deadLetterRoutingKey !== null && deadLetterExchange === null) {
    throw refuse(queue, 'x-dead-letter-routing-key', 'needs x-dead-letter-exchange');
  }
  return {
    messageTtlMs: integer(queue, table, 'x-message-ttl', 0, TIME_MS_MAX),
    expiresMs: integer(queue, table, 'x-expires', 1, TIME_MS_MAX),
    maxLength: integer(queue, table, 'x-max-length', 0, Number.MAX_SAFE_INTEGER),
    maxLengthBytes: integer(queue, table, 'x-max-length-bytes', 0, Number.MAX_SAFE_INTEGER),
    overflow: overflow as QueueOverflow,
    deadLetterExchange,
    deadLetterRoutingKey,
    maxPriority: integer(queue, table, 'x-max-priority', 0, PRIORITY_MAX),
    deliveryLimit: integer(queue, table, 'x-delivery-limit', 0, Number.MAX_SAFE_INTEGER),
    singleActiveConsumer: single === true,
  };
}

/** Whether two declarations of a queue agree on what the gateway honours (else 406). */
export function sameSettings(a: QueueSettings, b: QueueSettings): keyof QueueSettings | null {
  for (const field of Object.keys(a) as (keyof QueueSettings)[]) {
    if (a[field] !== b[field]) return field;
  }
  return null;
}

/** The RabbitMQ argument name of a settings field, for the 406 text. */
export const ARGUMENT_NAMES: Readonly<Record<keyof QueueSettings, string>> = {
  messageTtlMs: 'x-message-ttl',
  expiresMs: 'x-expires',
  maxLength: 'x-max-length',
  maxLengthBytes: 'x-max-length-bytes',
  overflow: 'x-overflow',
  deadLetterExchange: 'x-dead-letter-exchange',
  deadLetterRoutingKey: 'x-dead-letter-routing-key',
  maxPriority: 'x-max-priority',
  deliveryLimit: 'x-delivery-limit',
  singleActiveConsumer: 'x-single-active-consumer',
};
