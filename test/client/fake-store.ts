/**
 * The in-memory model behind the fake server (fake-server.ts): streams that capture subjects by
 * prefix, one partition each; durable cursors whose redelivery list outlives their consumers;
 * credit and unsettled sets per consumer; the few management calls the SDK tests use.
 */
import type {
  DeliveredMessage,
  EntryError,
  PublishEntry,
  SettleEntry,
} from '../../src/protocol/frames.js';
import { WeirError, type PublishReceipt, type SubscribeOptions } from '../../src/protocol/index.js';

interface StoredMessage {
  readonly entry: PublishEntry;
  readonly offset: number;
  readonly timestamp: number;
}

interface Cursor {
  next: number;
  readonly redeliver: number[];
  readonly deliveries: Map<number, number>;
}

export interface FakeConsumer {
  readonly id: number;
  readonly stream: string;
  readonly name: string;
  readonly options: SubscribeOptions;
  credit: number;
  readonly cursor: Cursor;
  readonly unsettled: Set<number>;
}

export class FakeStore {
  readonly #streams = new Map<string, { prefix: string; messages: StoredMessage[] }>();
  readonly #cursors = new Map<string, Cursor>();

  addStream(name: string, prefix = name): void {
    this.#streams.set(name, { prefix, messages: [] });
  }

  stored(stream: string): PublishEntry[] {
    return (this.#streams.get(stream)?.messages ?? []).map((message) => message.entry);
  }

  /** Stores the entry in every stream whose prefix its subject starts with. */
  append(entry: PublishEntry): PublishReceipt | WeirError {
    const streams: {
      stream: string;
      partition: number;
      offset: number;
      duplicate: boolean;
      scheduled: boolean;
    }[] = [];
    for (const [name, stream] of this.#streams) {
      if (!entry.subject.startsWith(stream.prefix)) continue;
      // Copy: the entry's body is a view into a chunk the decoder may reuse.
      const body = Uint8Array.from(entry.body);
      const offset = stream.messages.length;
      stream.messages.push({ entry: { ...entry, body }, offset, timestamp: Date.now() });
      streams.push({ stream: name, partition: 0, offset, duplicate: false, scheduled: false });
    }
    if (streams.length === 0)
      return new WeirError('NO_ROUTE', `no stream captures ${entry.subject}`);
    return { ...streams[0]!, streams };
  }

  /** A consumer on a durable cursor (shared by name) or a new ephemeral one at the end. */
  openConsumer(
    id: number,
    stream: string,
    options: SubscribeOptions,
    credit: number,
  ): FakeConsumer | WeirError {
    const stored = this.#streams.get(stream);
    if (!stored) return new WeirError('STREAM_NOT_FOUND', `no stream ${stream}`);
    const name = options.subscription ?? `ephemeral-${id}`;
    const key = `${stream}/${name}`;
    const cursor = this.#cursors.get(key) ?? {
      next: options.subscription ? 0 : stored.messages.length,
      redeliver: [],
      deliveries: new Map<number, number>(),
    };
    this.#cursors.set(key, cursor);
    return { id, stream, name, options, credit, cursor, unsettled: new Set() };
  }

  /** What the consumer's credit allows now, redeliveries first. */
  takeBatch(consumer: FakeConsumer): DeliveredMessage[] {
    const messages = this.#streams.get(consumer.stream)?.messages ?? [];
    const { cursor } = consumer;
    const batch: DeliveredMessage[] = [];
    while (consumer.credit > 0) {
      const offset =
        cursor.redeliver.shift() ?? (cursor.next < messages.length ? cursor.next++ : undefined);
      if (offset === undefined) break;
      consumer.credit--;
      const deliveryCount = (cursor.deliveries.get(offset) ?? 0) + 1;
      cursor.deliveries.set(offset, deliveryCount);
      if (consumer.options.ack !== 'none') consumer.unsettled.add(offset);
      const { entry, timestamp } = messages[offset]!;
      batch.push({
        subject: entry.subject,
        key: entry.options.key ?? null,
        headers: entry.options.headers ?? {},
        body: entry.body,
        partition: 0,
        offset,
        id: entry.options.id ?? null,
        deliveryCount,
        timestamp,
        priority: entry.options.priority ?? 0,
        replyTo: entry.options.replyTo ?? null,
        correlationId: entry.options.correlationId ?? null,
      });
    }
    return batch;
  }

  settle(consumer: FakeConsumer | undefined, entry: SettleEntry): EntryError {
    if (!consumer?.unsettled.has(entry.offset))
      return { code: 'MESSAGE_SETTLED', message: 'not held' };
    if (entry.kind === 'take') return null; // the lease starts; nothing is settled
    if (entry.kind !== 'extend') consumer.unsettled.delete(entry.offset);
    if (entry.kind === 'nack') consumer.cursor.redeliver.push(entry.offset);
    return null;
  }

  /** The consumer goes: what it held unsettled is delivered again. */
  release(consumer: FakeConsumer): void {
    consumer.cursor.redeliver.push(...consumer.unsettled);
    consumer.unsettled.clear();
  }

  call(method: string, args: unknown[]): { value: unknown } | WeirError {
    const name = String(args[0]);
    switch (method) {
      case 'streams.create':
        this.addStream(name);
        return { value: { name, messages: 0 } };
      case 'streams.list':
        return { value: [...this.#streams.keys()].map((stream) => ({ name: stream })) };
      case 'streams.info': {
        const stream = this.#streams.get(name);
        if (!stream) return new WeirError('STREAM_NOT_FOUND', `no stream ${name}`);
        return { value: { name, messages: stream.messages.length } };
      }
      case 'streams.delete':
        this.#streams.delete(name);
        return { value: null };
      case 'deadLetters.list':
        return {
          value: [
            {
              stream: 'dead',
              partition: 0,
              offset: 7,
              subject: 'orders.x',
              key: null,
              headers: { a: 'b' },
              bodyBase64: Buffer.from([0, 1, 2, 255]).toString('base64'),
              timestamp: 1,
              reason: 'terminated',
              deliveries: 3,
              error: 'boom',
              origin: { stream: 'orders', subject: 'orders.x', partition: 0, offset: 4 },
            },
          ],
        };
      default:
        return new WeirError('INVALID_ARGUMENT', `unknown method ${method}`);
    }
  }
}
