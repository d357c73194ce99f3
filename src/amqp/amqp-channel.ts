/**
 * One AMQP channel: its methods in order, its publishes (method, header, body frames
 * assembled into one message), its consumers and the deliveries it holds unacked, publisher
 * confirms and tx.
 *
 * Order: frames are handled strictly in arrival order. A method whose work is asynchronous
 * (a declare creates a stream) holds the frames behind it until it is done; a publish is not
 * asynchronous here (the broker accepts publishes in call order; its confirm is tracked
 * apart), so a stream of publishes never waits on one another.
 *
 * Exceptions: an AmqpError a method raises closes the channel (channel.close with the code and
 * the failing method) when it is a soft error, else the connection. After the server sent
 * channel.close, only channel.close and channel.close-ok are read; the rest is dropped.
 *
 * Confirms: each publish on a confirm channel gets the next sequence number; when the broker
 * confirmed it in every queue it was routed to (after fsync, as Weir's own publishes) it is
 * acked, when any refused it (reject-publish overflow, a full disk) it is nacked; an
 * unroutable message is acked at once (after basic.return when mandatory), as in RabbitMQ.
 * Acks of consecutive numbers are sent as one `multiple` ack.
 *
 * tx: publishes and acks are buffered until tx.commit, which applies them in one Weir
 * transaction (all or nothing across a crash); nacks and rejects of a tx channel take effect
 * after that commit. tx.rollback drops the buffer (acked messages stay unacked, as in RabbitMQ).
 */
import { randomBytes } from 'node:crypto';
import type { Client, Message, Subscription } from '../protocol/index.js';
import { isWeirError } from '../util/index.js';
import {
  AMQP_BODY_BYTES_MAX,
  AMQP_CHANNEL_CONSUMERS_MAX,
  AMQP_CHANNEL_GETS_UNACKED_MAX,
  AMQP_GET_WAIT_MS,
  AMQP_PREFETCH_UNLIMITED,
  AMQP_TX_PUBLISHES_MAX,
  IN_FLIGHT_MAX,
} from '../limits.js';
import { AmqpConsumer, type ConsumerChannel } from './amqp-consumer.js';
import { AmqpError, toAmqpError } from './amqp-error.js';
import { DIRECT_REPLY_TO, type AmqpGateway, type ReplyTarget } from './amqp-gateway.js';
import { headerValue, headerValues, type HeaderValue } from './exchange.js';
import {
  decodeProperties,
  encodeProperties,
  type AmqpMethod,
  type BasicProperties,
  type FieldTable,
  type Frame,
  type MethodArguments,
  type MethodName,
} from './codec/index.js';
import { deliveryAddress, propertiesFromWeir, storedPropertyBytes } from './message-mapping.js';
import type { QueueState } from './topology.js';
import { routedPublishes, xDelayMs, type RoutedPublish } from './routed-publish.js';

/** What a channel needs from its connection. */
export interface ChannelConnection {
  readonly id: number;
  readonly client: Client;
  readonly gateway: AmqpGateway;
  /** Whether the client said it handles basic.cancel from the server. */
  readonly cancelNotify: boolean;
  sendMethod<N extends MethodName>(channel: number, name: N, args: MethodArguments[N]): void;
  sendContent(channel: number, propertyBytes: Uint8Array, body: Uint8Array): void;
  /** Whether the socket takes more deliveries now. */
  readonly writable: boolean;
  /** Resolves when the socket drained (or the connection closed). */
  drained(): Promise<void>;
  /** Publish bytes waiting for storage went up (+) or down (-). */
  publishBytes(delta: number): void;
  /** A connection exception. */
  fail(error: AmqpError): void;
  /** The channel is gone (closed either way). */
  channelClosed(channel: number): void;
}

interface IncomingPublish {
  readonly exchange: string;
  readonly routingKey: string;
  readonly mandatory: boolean;
  propertyBytes: Uint8Array | null;
  properties: BasicProperties;
  bodySize: number;
  /** Over AMQP_BODY_BYTES_MAX: its body is read and dropped, then the channel is closed. */
  refused: boolean;
  readonly chunks: Uint8Array[];
  received: number;
}

interface Unacked {
  readonly message: Message;
  /** The consumer that delivered it; null for basic.get. */
  readonly consumer: AmqpConsumer | null;
  /** The broker consumer basic.get opened for it (closed once it is settled). */
  readonly getter: Subscription | null;
}

const EMPTY = new Uint8Array(0);

export class AmqpChannel implements ConsumerChannel {
  readonly id: number;
  readonly #connection: ChannelConnection;
  readonly #frames: Frame[] = [];
  #head = 0;
  #busy = false;
  #closing = false;
  #closed = false;
  #incoming: IncomingPublish | null = null;
  #flowActive = true;
  readonly #consumers = new Map<string, AmqpConsumer>();
  readonly #unacked = new Map<number, Unacked>();
  #getters = 0;
  #deliveryTag = 0;
  #prefetchCount = 0;
  #globalPrefetch = 0;
  #waiters: (() => void)[] = [];
  // confirms
  #confirming = false;
  #publishSequence = 0;
  #confirmFloor = 0;
  readonly #confirmed = new Set<number>();
  #ackScheduled = false;
  // tx
  #transactional = false;
  #txPublishes: RoutedPublish[] = [];
  /** Deliveries a tx channel settled since its last commit: they stay unacked until it. */
  readonly #txSettles = new Map<number, 'ack' | 'requeue' | 'reject'>();
  // direct reply-to
  #replyName: string | null = null;
  #replyConsumerTag: string | null = null;

  constructor(id: number, connection: ChannelConnection) {
    this.id = id;
    this.#connection = connection;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** The channel's consumers, for the console's connections view. */
  consumers(): readonly AmqpConsumer[] {
    return [...this.#consumers.values()];
  }

  /** Whether the server closed the channel and waits for the client's close-ok. */
  get closing(): boolean {
    return this.#closing && !this.#closed;
  }

  /** The client reopened this channel's number: it had our channel.close. */
  closeOkImplied(): void {
    if (this.closing) this.#finish();
  }

  /** Frames of this channel, in order. */
  receive(frame: Frame): void {
    if (this.#closed) return;
    if (this.#closing) {
      // After our channel.close only its answer (or the client's own close) counts.
      if (frame.type === 'method') {
        if (frame.method.name === 'channel.close-ok') this.#finish();
        else if (frame.method.name === 'channel.close') {
          this.#connection.sendMethod(this.id, 'channel.close-ok', {});
        }
      }
      return;
    }
    if (this.#busy) {
      this.#frames.push(frame);
      return;
    }
    this.#run(frame);
  }

  #run(frame: Frame): void {
    let result: Promise<void> | void;
    try {
      result = this.#handle(frame);
    } catch (error) {
      this.#raise(error, frame);
      return;
    }
    if (result === undefined) return;
    this.#busy = true;
    result.then(
      () => this.#resume(),
      (error: unknown) => {
        this.#raise(error, frame);
        this.#resume();
      },
    );
  }

  #resume(): void {
    this.#busy = false;
    while (!this.#busy && !this.#closing && !this.#closed && this.#head < this.#frames.length) {
      const next = this.#frames[this.#head++]!;
      this.#run(next);
    }
    if (this.#head === this.#frames.length || this.#closing || this.#closed) {
      this.#frames.length = 0;
      this.#head = 0;
    }
  }

  #raise(error: unknown, frame: Frame): void {
    const amqpError = toAmqpError(error);
    if (frame.type === 'method') amqpError.during(frame.method.classId, frame.method.methodId);
    if (!amqpError.channelOnly) {
      this.#connection.fail(amqpError);
      return;
    }
    this.#closeWith(amqpError);
  }

  /** A channel exception: channel.close to the client, wait for its close-ok. */
  #closeWith(error: AmqpError): void {
    if (this.#closing || this.#closed) return;
    this.#closing = true;
    this.#connection.sendMethod(this.id, 'channel.close', {
      replyCode: error.replyCode,
      replyText: error.replyText,
      classId: error.classId,
      methodId: error.methodId,
    });
    void this.#release();
  }

  #finish(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#closing = true;
    void this.#release();
    this.#connection.channelClosed(this.id);
  }

  /** Consumers stop; unacked deliveries go back to their queues (redelivered). */
  async #release(): Promise<void> {
    this.#wake();
    if (this.#replyName !== null) {
      this.#connection.gateway.removeReplyTarget(this.#replyName);
      this.#replyName = null;
    }
    const consumers = [...this.#consumers.values()];
    this.#consumers.clear();
    for (const consumer of consumers) {
      this.#connection.gateway.consumerRemoved(consumer.queue, consumer, consumer.exclusive);
    }
    const getters: Subscription[] = [];
    for (const entry of this.#unacked.values())
      if (entry.getter !== null) getters.push(entry.getter);
    this.#unacked.clear();
    await Promise.all([
      ...consumers.map((consumer) => consumer.close()),
      ...getters.map((getter) => getter.close().catch(() => undefined)),
    ]);
  }

  /** The connection ended: everything goes back. */
  connectionClosed(): Promise<void> {
    this.#closed = true;
    this.#closing = true;
    return this.#release();
  }

  // ---- dispatch --------------------------------------------------------------------------

  #handle(frame: Frame): Promise<void> | void {
    if (frame.type === 'header')
      return this.#header(frame.classId, frame.bodySize, frame.propertyBytes, frame.properties);
    if (frame.type === 'body') return this.#body(frame.payload);
    if (frame.type !== 'method') return;
    if (this.#incoming !== null) {
      throw new AmqpError(505, `expected content for basic.publish, got ${frame.method.name}`);
    }
    return this.#method(frame.method);
  }

  #method(method: AmqpMethod): Promise<void> | void {
    const gateway = this.#connection.gateway;
    const client = this.#connection.client;
    switch (method.name) {
      case 'channel.flow': {
        this.#flowActive = method.args.active;
        this.#wake();
        this.#connection.sendMethod(this.id, 'channel.flow-ok', { active: method.args.active });
        return;
      }
      case 'channel.flow-ok':
        return;
      case 'channel.close':
        this.#connection.sendMethod(this.id, 'channel.close-ok', {});
        this.#finish();
        return;
      case 'channel.close-ok':
        this.#finish();
        return;
      case 'exchange.declare': {
        const args = method.args;
        return gateway
          .declareExchange({
            exchange: args.exchange,
            type: args.type,
            passive: args.passive,
            durable: args.durable,
            autoDelete: args.autoDelete,
            internal: args.internal,
            arguments: args.arguments,
          })
          .then(() => {
            if (!args.nowait) this.#connection.sendMethod(this.id, 'exchange.declare-ok', {});
          });
      }
      case 'exchange.delete': {
        const args = method.args;
        return gateway.deleteExchange(args.exchange, args.ifUnused).then(() => {
          if (!args.nowait) this.#connection.sendMethod(this.id, 'exchange.delete-ok', {});
        });
      }
      case 'exchange.bind':
      case 'exchange.unbind': {
        const args = method.args;
        const binding = {
          source: args.source,
          destination: args.destination,
          toExchange: true,
          routingKey: args.routingKey,
          arguments: bindingArguments(args.arguments),
        };
        if (method.name === 'exchange.bind') {
          return gateway.bind(binding).then(() => {
            if (!args.nowait) this.#connection.sendMethod(this.id, 'exchange.bind-ok', {});
          });
        }
        return gateway.unbind(binding).then(() => {
          if (!args.nowait) this.#connection.sendMethod(this.id, 'exchange.unbind-ok', {});
        });
      }
      case 'queue.declare': {
        const args = method.args;
        return gateway
          .declareQueue(client, this.#connection.id, {
            queue: args.queue,
            passive: args.passive,
            durable: args.durable,
            exclusive: args.exclusive,
            autoDelete: args.autoDelete,
            arguments: args.arguments,
          })
          .then((result) => {
            if (!args.nowait) this.#connection.sendMethod(this.id, 'queue.declare-ok', result);
          });
      }
      case 'queue.bind':
      case 'queue.unbind': {
        const args = method.args;
        const state = gateway.checkAccess(args.queue, this.#connection.id);
        const binding = {
          source: args.exchange,
          destination: state.definition.name,
          toExchange: false,
          routingKey: args.routingKey,
          arguments: bindingArguments(args.arguments),
        };
        if (method.name === 'queue.bind') {
          const nowait = method.args.nowait;
          return gateway.bind(binding).then(() => {
            if (!nowait) this.#connection.sendMethod(this.id, 'queue.bind-ok', {});
          });
        }
        return gateway.unbind(binding).then(() => {
          this.#connection.sendMethod(this.id, 'queue.unbind-ok', {});
        });
      }
      case 'queue.purge': {
        const args = method.args;
        return gateway.purgeQueue(client, this.#connection.id, args.queue).then((messageCount) => {
          if (!args.nowait)
            this.#connection.sendMethod(this.id, 'queue.purge-ok', { messageCount });
        });
      }
      case 'queue.delete': {
        const args = method.args;
        return gateway
          .deleteQueue(client, this.#connection.id, args.queue, args.ifUnused, args.ifEmpty)
          .then((messageCount) => {
            if (!args.nowait)
              this.#connection.sendMethod(this.id, 'queue.delete-ok', { messageCount });
          });
      }
      case 'basic.qos': {
        const { prefetchCount, global } = method.args;
        if (global) this.#globalPrefetch = prefetchCount;
        else this.#prefetchCount = prefetchCount;
        this.#wake();
        this.#connection.sendMethod(this.id, 'basic.qos-ok', {});
        return;
      }
      case 'basic.consume':
        return this.#consume(method.args);
      case 'basic.cancel': {
        const { consumerTag, nowait } = method.args;
        this.#cancel(consumerTag);
        if (!nowait) this.#connection.sendMethod(this.id, 'basic.cancel-ok', { consumerTag });
        return;
      }
      case 'basic.publish': {
        const args = method.args;
        // RabbitMQ dropped `immediate` in 3.0 and answers it so; so does Weir.
        if (args.immediate) throw new AmqpError(540, 'immediate=true');
        this.#incoming = {
          exchange: args.exchange,
          routingKey: args.routingKey,
          mandatory: args.mandatory,
          propertyBytes: null,
          properties: {},
          bodySize: 0,
          refused: false,
          chunks: [],
          received: 0,
        };
        return;
      }
      case 'basic.get':
        return this.#get(method.args.queue, method.args.noAck);
      case 'basic.ack':
        this.#settle(method.args.deliveryTag, method.args.multiple, 'ack');
        return;
      case 'basic.nack':
        this.#settle(
          method.args.deliveryTag,
          method.args.multiple,
          method.args.requeue ? 'requeue' : 'reject',
        );
        return;
      case 'basic.reject':
        this.#settle(method.args.deliveryTag, false, method.args.requeue ? 'requeue' : 'reject');
        return;
      case 'basic.recover':
      case 'basic.recover-async': {
        // requeue=false would redeliver to the same consumer; Weir hands them back to the
        // queue either way (RabbitMQ does not implement requeue=false either).
        for (const tag of [...this.#unacked.keys()]) {
          if (!this.#txSettles.has(tag)) this.#settleOne(tag, 'requeue');
        }
        if (method.name === 'basic.recover')
          this.#connection.sendMethod(this.id, 'basic.recover-ok', {});
        return;
      }
      case 'confirm.select': {
        if (this.#transactional) {
          throw new AmqpError(406, 'cannot switch from tx to confirm mode');
        }
        this.#confirming = true;
        if (!method.args.nowait) this.#connection.sendMethod(this.id, 'confirm.select-ok', {});
        return;
      }
      case 'tx.select': {
        if (this.#confirming) throw new AmqpError(406, 'cannot switch from confirm to tx mode');
        this.#transactional = true;
        this.#connection.sendMethod(this.id, 'tx.select-ok', {});
        return;
      }
      case 'tx.commit':
        return this.#commit();
      case 'tx.rollback': {
        if (!this.#transactional) throw new AmqpError(406, 'channel is not transactional');
        this.#txPublishes = [];
        this.#txSettles.clear(); // those deliveries stay unacked, as in RabbitMQ
        this.#connection.sendMethod(this.id, 'tx.rollback-ok', {});
        return;
      }
      default:
        throw new AmqpError(540, `${method.name} is not implemented on a channel`);
    }
  }

  // ---- publish ---------------------------------------------------------------------------

  #header(
    classId: number,
    bodySize: number,
    propertyBytes: Uint8Array,
    properties: BasicProperties,
  ): void {
    const incoming = this.#incoming;
    if (incoming === null || incoming.propertyBytes !== null) {
      throw new AmqpError(505, 'a content header frame without basic.publish');
    }
    if (classId !== 60) throw new AmqpError(505, `content header of class ${classId}, not basic`);
    // The body is assembled in memory: its declared size is bounded before any of it comes.
    // A larger one is read and dropped, and the channel closed once it has all come: a
    // client sends its body frames anyway, and its close-ok and a reopened channel then
    // follow them (amqplib queues a channel's frames apart from others).
    incoming.refused = bodySize > AMQP_BODY_BYTES_MAX;
    incoming.propertyBytes = propertyBytes;
    incoming.properties = properties;
    incoming.bodySize = bodySize;
    if (bodySize === 0) this.#published();
  }

  #body(payload: Uint8Array): void {
    const incoming = this.#incoming;
    if (incoming === null || incoming.propertyBytes === null) {
      throw new AmqpError(505, 'a content body frame without a content header');
    }
    if (!incoming.refused) incoming.chunks.push(payload);
    incoming.received += payload.length;
    if (incoming.received > incoming.bodySize) {
      throw new AmqpError(
        501,
        `content body of ${incoming.received} bytes, more than the header's ${incoming.bodySize}`,
      );
    }
    if (incoming.received < incoming.bodySize) return;
    if (incoming.refused) this.#refuse(incoming);
    this.#published();
  }

  #refuse(incoming: IncomingPublish): never {
    this.#incoming = null;
    throw new AmqpError(
      406,
      `message size ${incoming.bodySize} is larger than max size ${AMQP_BODY_BYTES_MAX}`,
    ).during(60, 40);
  }

  #published(): void {
    const incoming = this.#incoming!;
    this.#incoming = null;
    const body =
      incoming.chunks.length === 0
        ? EMPTY
        : incoming.chunks.length === 1
          ? incoming.chunks[0]!
          : Buffer.concat(incoming.chunks);
    const sequence = this.#confirming ? ++this.#publishSequence : 0;
    try {
      this.#publish(incoming, incoming.propertyBytes!, body, sequence);
    } catch (error) {
      // A refused publish is still numbered: the channel closes, so nothing confirms it.
      throw toAmqpError(error).during(60, 40);
    }
  }

  #publish(
    incoming: IncomingPublish,
    rawPropertyBytes: Uint8Array,
    body: Uint8Array,
    sequence: number,
  ): void {
    const { gateway } = this.#connection;
    const { exchange: exchangeName, routingKey } = incoming;
    const exchange = gateway.topology.exchange(exchangeName);
    if (exchange.definition.internal) {
      throw new AmqpError(
        403,
        `cannot publish to internal exchange '${exchangeName}' in vhost '/'`,
      );
    }
    let propertyBytes = rawPropertyBytes;
    let properties: BasicProperties =
      propertyBytes.length > 2 ? decodeProperties(propertyBytes) : {};
    if (properties.replyTo === DIRECT_REPLY_TO) {
      if (this.#replyName === null) {
        throw new AmqpError(406, 'fast reply consumer does not exist');
      }
      properties = { ...properties, replyTo: this.#replyName };
      propertyBytes = encodeProperties(properties);
    }
    if (exchangeName === '' && routingKey.startsWith(`${DIRECT_REPLY_TO}.`)) {
      const target = gateway.replyTarget(routingKey);
      if (target === undefined || !target.deliver(routingKey, propertyBytes, body)) {
        this.#unroutable(incoming, propertyBytes, body);
      }
      this.#confirmNow(sequence);
      return;
    }
    const headers = properties.headers === undefined ? null : headerValues(properties.headers);
    // A delayed exchange: the delay is checked before routing (a bad x-delay is a 406).
    const delayMs = exchange.definition.delayed === true ? xDelayMs(properties) : 0;
    const queues = gateway.topology.route(exchangeName, routingKey, headers);
    if (queues.length === 0) {
      this.#unroutable(incoming, propertyBytes, body);
      this.#confirmNow(sequence);
      return;
    }
    const entries = routedPublishes(
      queues,
      exchangeName,
      routingKey,
      propertyBytes,
      properties,
      body,
      delayMs,
    );
    if (this.#transactional) {
      if (this.#txPublishes.length + entries.length > AMQP_TX_PUBLISHES_MAX) {
        throw new AmqpError(406, `more than ${AMQP_TX_PUBLISHES_MAX} publishes in one transaction`);
      }
      this.#txPublishes.push(...entries);
      return;
    }
    const client = this.#connection.client;
    const bytes = Math.max(1, body.length) * entries.length; // an empty body is in flight too
    this.#connection.publishBytes(bytes);
    const settled = (ok: boolean): void => {
      this.#connection.publishBytes(-bytes);
      if (sequence !== 0) this.#confirm(sequence, ok);
    };
    if (entries.length === 1) {
      const entry = entries[0]!;
      client.publish(entry.subject, entry.body, entry.options).then(
        () => settled(true),
        () => settled(false),
      );
      return;
    }
    Promise.all(
      entries.map((entry) => client.publish(entry.subject, entry.body, entry.options)),
    ).then(
      () => settled(true),
      () => settled(false),
    );
  }

  #unroutable(incoming: IncomingPublish, propertyBytes: Uint8Array, body: Uint8Array): void {
    if (!incoming.mandatory) return;
    this.#connection.sendMethod(this.id, 'basic.return', {
      replyCode: 312,
      replyText: 'NO_ROUTE',
      exchange: incoming.exchange,
      routingKey: incoming.routingKey,
    });
    this.#connection.sendContent(this.id, propertyBytes, body);
  }

  #confirmNow(sequence: number): void {
    if (sequence !== 0) this.#confirm(sequence, true);
  }

  #confirm(sequence: number, ok: boolean): void {
    if (this.#closed || this.#closing) return;
    if (!ok) {
      this.#connection.sendMethod(this.id, 'basic.nack', {
        deliveryTag: sequence,
        multiple: false,
        requeue: false,
      });
    }
    this.#confirmed.add(sequence);
    if (!this.#ackScheduled) {
      this.#ackScheduled = true;
      queueMicrotask(() => this.#sendAcks());
    }
  }

  /** One `multiple` ack up to the highest number below which every publish is settled. */
  #sendAcks(): void {
    this.#ackScheduled = false;
    let floor = this.#confirmFloor;
    while (this.#confirmed.delete(floor + 1)) floor++;
    if (floor === this.#confirmFloor || this.#closed || this.#closing) return;
    const first = this.#confirmFloor + 1;
    this.#confirmFloor = floor;
    this.#connection.sendMethod(this.id, 'basic.ack', {
      deliveryTag: floor,
      multiple: floor > first,
    });
  }

  // ---- tx --------------------------------------------------------------------------------

  async #commit(): Promise<void> {
    if (!this.#transactional) throw new AmqpError(406, 'channel is not transactional');
    const publishes = this.#txPublishes;
    const settles = [...this.#txSettles];
    this.#txPublishes = [];
    this.#txSettles.clear();
    const acks = settles.filter(([, how]) => how === 'ack');
    if (publishes.length > 0 || acks.length > 0) {
      await this.#connection.client.transaction(async (transaction) => {
        for (const entry of publishes)
          transaction.publish(entry.subject, entry.body, entry.options);
        for (const [tag] of acks) transaction.ack(this.#unacked.get(tag)!.message);
        await Promise.resolve();
      });
    }
    for (const [tag, how] of settles) {
      const entry = this.#unacked.get(tag);
      if (entry === undefined) continue;
      this.#unacked.delete(tag);
      const done = this.#settled(entry);
      if (how === 'ack') done();
      else {
        void settleMessage(entry.message, how)
          .catch(() => undefined)
          .finally(done);
      }
    }
    this.#connection.sendMethod(this.id, 'tx.commit-ok', {});
  }

  // ---- consume ---------------------------------------------------------------------------

  async #consume(args: MethodArguments['basic.consume']): Promise<void> {
    const { gateway, client } = this.#connection;
    const tag =
      args.consumerTag === ''
        ? `amq.ctag-${randomBytes(16).toString('base64url')}`
        : args.consumerTag;
    if (this.#consumers.has(tag) || this.#replyConsumerTag === tag) {
      throw new AmqpError(530, `attempt to reuse consumer tag '${tag}'`);
    }
    if (args.queue === DIRECT_REPLY_TO) {
      if (!args.noAck) throw new AmqpError(406, 'reply consumer cannot acknowledge');
      if (this.#replyName !== null) throw new AmqpError(406, 'reply consumer already set');
      this.#replyConsumerTag = tag;
      const target: ReplyTarget = {
        deliver: (routingKey, propertyBytes, body) => {
          if (this.#closed || this.#closing) return false;
          this.#connection.sendMethod(this.id, 'basic.deliver', {
            consumerTag: tag,
            deliveryTag: ++this.#deliveryTag,
            redelivered: false,
            exchange: '',
            routingKey,
          });
          this.#connection.sendContent(this.id, propertyBytes, body);
          return true;
        },
      };
      this.#replyName = gateway.addReplyTarget(target);
      if (!args.nowait)
        this.#connection.sendMethod(this.id, 'basic.consume-ok', { consumerTag: tag });
      return;
    }
    if (this.#consumers.size >= AMQP_CHANNEL_CONSUMERS_MAX) {
      throw new AmqpError(530, `more than ${AMQP_CHANNEL_CONSUMERS_MAX} consumers on one channel`);
    }
    const state = gateway.checkAccess(args.queue, this.#connection.id);
    const stream = state.definition.stream;
    const prefetch =
      args.noAck || this.#prefetchCount === 0 ? AMQP_PREFETCH_UNLIMITED : this.#prefetchCount;
    const maxInFlight = Math.min(prefetch, IN_FLIGHT_MAX);
    const subscription = await client.subscribe(stream, { subscription: stream, maxInFlight });
    if (this.#closed || this.#closing) {
      await subscription.close();
      return;
    }
    const consumer = new AmqpConsumer(
      tag,
      state,
      args.noAck,
      args.exclusive,
      maxInFlight,
      subscription,
      this,
    );
    try {
      gateway.consumerAdded(state, consumer, args.exclusive);
    } catch (error) {
      await subscription.close();
      throw error;
    }
    this.#consumers.set(tag, consumer);
    if (!args.nowait)
      this.#connection.sendMethod(this.id, 'basic.consume-ok', { consumerTag: tag });
    consumer.start();
  }

  #cancel(tag: string): void {
    if (tag === this.#replyConsumerTag) {
      if (this.#replyName !== null) this.#connection.gateway.removeReplyTarget(this.#replyName);
      this.#replyName = null;
      this.#replyConsumerTag = null;
      return;
    }
    const consumer = this.#consumers.get(tag);
    if (consumer === undefined) return; // RabbitMQ answers cancel-ok for an unknown tag
    this.#consumers.delete(tag);
    this.#connection.gateway.consumerRemoved(consumer.queue, consumer, consumer.exclusive);
    consumer.cancel();
  }

  deliveryAllowed(consumer: AmqpConsumer): boolean {
    if (this.#closed || this.#closing || consumer.cancelled) return true; // let the pump see it
    if (!this.#flowActive || !this.#connection.writable) return false;
    if (this.#globalPrefetch > 0 && !consumer.noAck) {
      if (this.#unacked.size >= this.#globalPrefetch) return false;
    }
    return true;
  }

  deliveryChanged(): Promise<void> {
    if (!this.#connection.writable && this.#flowActive) return this.#connection.drained();
    return new Promise((resolve) => this.#waiters.push(resolve));
  }

  #wake(): void {
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const wake of waiters) wake();
  }

  deliver(consumer: AmqpConsumer, message: Message): void {
    const tag = ++this.#deliveryTag;
    if (!consumer.noAck) {
      this.#unacked.set(tag, { message, consumer, getter: null });
      consumer.unacked++;
    }
    const { exchange, routingKey } = deliveryAddress(message);
    this.#connection.sendMethod(this.id, 'basic.deliver', {
      consumerTag: consumer.tag,
      deliveryTag: tag,
      redelivered: message.deliveryCount > 1,
      exchange,
      routingKey,
    });
    this.#connection.sendContent(this.id, propertyBytesOf(message), message.body);
  }

  queueExists(queue: QueueState): boolean {
    return this.#connection.gateway.topology.findQueue(queue.definition.name) === queue;
  }

  cancelledByServer(consumer: AmqpConsumer): void {
    if (this.#consumers.get(consumer.tag) !== consumer) return;
    this.#consumers.delete(consumer.tag);
    this.#connection.gateway.consumerRemoved(consumer.queue, consumer, consumer.exclusive);
    if (this.#connection.cancelNotify && !this.#closing && !this.#closed) {
      this.#connection.sendMethod(this.id, 'basic.cancel', {
        consumerTag: consumer.tag,
        nowait: true,
      });
    }
  }

  // ---- get -------------------------------------------------------------------------------

  async #get(queue: string, noAck: boolean): Promise<void> {
    const { gateway, client } = this.#connection;
    const state = gateway.checkAccess(queue, this.#connection.id);
    gateway.touch(state);
    if (this.#getters >= AMQP_CHANNEL_GETS_UNACKED_MAX) {
      throw new AmqpError(
        406,
        `more than ${AMQP_CHANNEL_GETS_UNACKED_MAX} unacked basic.get deliveries`,
      );
    }
    const ready = await gateway.readyCount(client, state);
    if (ready === 0) {
      this.#connection.sendMethod(this.id, 'basic.get-empty', { clusterId: '' });
      return;
    }
    const stream = state.definition.stream;
    const getter = await client.subscribe(stream, { subscription: stream, maxInFlight: 1 });
    const message = await getter.receive({ timeoutMs: AMQP_GET_WAIT_MS });
    if (message === null || this.#closed || this.#closing) {
      await getter.close();
      if (message === null)
        this.#connection.sendMethod(this.id, 'basic.get-empty', { clusterId: '' });
      return;
    }
    const tag = ++this.#deliveryTag;
    const { exchange, routingKey } = deliveryAddress(message);
    this.#connection.sendMethod(this.id, 'basic.get-ok', {
      deliveryTag: tag,
      redelivered: message.deliveryCount > 1,
      exchange,
      routingKey,
      messageCount: Math.max(0, ready - 1),
    });
    this.#connection.sendContent(this.id, propertyBytesOf(message), message.body);
    if (noAck) {
      await message.ack().catch(() => undefined);
      await getter.close();
      return;
    }
    this.#getters++;
    this.#unacked.set(tag, { message, consumer: null, getter });
  }

  // ---- settle ----------------------------------------------------------------------------

  #settle(tag: number, multiple: boolean, how: 'ack' | 'requeue' | 'reject'): void {
    if (multiple) {
      const tags: number[] = [];
      for (const key of this.#unacked.keys()) {
        if (tag !== 0 && key > tag) break;
        if (!this.#txSettles.has(key)) tags.push(key);
      }
      if (tag !== 0 && tags.length === 0 && !this.#unacked.has(tag)) {
        throw new AmqpError(406, `unknown delivery tag ${tag}`);
      }
      for (const key of tags) this.#settleOne(key, how);
      return;
    }
    if (!this.#unacked.has(tag) || this.#txSettles.has(tag)) {
      throw new AmqpError(406, `unknown delivery tag ${tag}`);
    }
    this.#settleOne(tag, how);
  }

  #settleOne(tag: number, how: 'ack' | 'requeue' | 'reject'): void {
    if (this.#transactional) {
      this.#txSettles.set(tag, how);
      return;
    }
    const entry = this.#unacked.get(tag)!;
    this.#unacked.delete(tag);
    void settleMessage(entry.message, how)
      .catch(() => undefined)
      .finally(this.#settled(entry));
  }

  /** What follows a delivery's settlement: its consumer's count, its getter, the pumps. */
  #settled(entry: Unacked): () => void {
    return () => {
      entry.consumer?.settled();
      if (entry.getter !== null) {
        this.#getters--;
        void entry.getter.close().catch(() => undefined);
      }
      this.#wake();
    };
  }
}

/** Acks, requeues (at once, counted as a delivery) or rejects (dead-letters, if set) a message. */
async function settleMessage(message: Message, how: 'ack' | 'requeue' | 'reject'): Promise<void> {
  try {
    if (how === 'ack') await message.ack();
    else if (how === 'requeue') await message.nack({ delayMs: 0 });
    else await message.term('rejected');
  } catch (error) {
    // A delivery whose lease ran out (AMQP_DELIVERY_LEASE_MS) went back meanwhile: at least once.
    if (!isWeirError(error, 'MESSAGE_SETTLED')) throw error;
  }
}

function propertyBytesOf(message: Message): Uint8Array {
  return storedPropertyBytes(message) ?? encodeProperties(propertiesFromWeir(message));
}

function bindingArguments(table: FieldTable): Record<string, HeaderValue> {
  const values: Record<string, HeaderValue> = {};
  for (const [name, value] of Object.entries(table)) values[name] = headerValue(value);
  return values;
}
