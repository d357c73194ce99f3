/**
 * What every AMQP connection of one broker shares: the topology (exchanges, queues, bindings),
 * its store, which consumers hold which queue, the direct reply-to targets, and the queue
 * lifecycle rules RabbitMQ users rely on: exclusive queues go with their connection,
 * auto-delete queues with their last consumer, x-expires queues after that long unused.
 *
 * Broker calls go through the caller's own Client (its permissions apply: declaring a queue
 * creates a stream, which needs an admin). Clean-up that no one asked for (an exclusive queue
 * whose connection ended, an expired queue) goes through the gateway's own `system` client.
 *
 * Declares of one queue name are serialized (`#declaring`), so two connections declaring the
 * same new queue create it once and both get declare-ok.
 */
import { randomBytes } from 'node:crypto';
import type { Client, StreamOptions, SubscribeOptions } from '../protocol/index.js';
import { isWeirError, type Clock } from '../util/index.js';
import { AMQP_DELIVERY_LEASE_MS, AMQP_EXPIRY_CHECK_MS } from '../limits.js';
import { AmqpError } from './amqp-error.js';
import type { FieldTable } from './codec/index.js';
import {
  DELAYED_EXCHANGE_TYPE,
  EXCHANGE_TYPES,
  type Binding,
  type ExchangeDefinition,
  type ExchangeType,
} from './exchange.js';
import {
  DEAD_LETTER_STREAM,
  deadLetterSubject,
  DeadLetterForwarder,
  ensureDeadLetterStream,
} from './dead-letter-forwarder.js';
import { streamNameFor } from './message-mapping.js';
import { ARGUMENT_NAMES, parseQueueArguments, sameSettings } from './queue-arguments.js';
import type { TopologyStore } from './topology-store.js';
import { RESERVED_PREFIX, Topology, type QueueDefinition, type QueueState } from './topology.js';

/** A consumer as the gateway sees it: the server may cancel it (its queue was deleted). */
export interface ConsumerHandle {
  cancelledByServer(): void;
}

/** Where a direct reply-to reply goes: the requesting channel's consumer. */
export interface ReplyTarget {
  /** Delivers the reply; false when the target is gone. */
  deliver(routingKey: string, propertyBytes: Uint8Array, body: Uint8Array): boolean;
}

export interface QueueDeclareArguments {
  readonly queue: string;
  readonly passive: boolean;
  readonly durable: boolean;
  readonly exclusive: boolean;
  readonly autoDelete: boolean;
  readonly arguments: FieldTable;
}

export interface QueueDeclareResult {
  readonly queue: string;
  readonly messageCount: number;
  readonly consumerCount: number;
}

export const DIRECT_REPLY_TO = 'amq.rabbitmq.reply-to';

export class AmqpGateway {
  readonly topology = new Topology();
  readonly #store: TopologyStore;
  readonly #system: Client;
  readonly #clock: Clock;
  readonly #consumers = new Map<string, Set<ConsumerHandle>>();
  readonly #replyTargets = new Map<string, ReplyTarget>();
  readonly #declaring = new Map<string, Promise<unknown>>();
  readonly #expiryTimer: { cancel(): void };
  readonly #durableStorage: 'file' | 'memory';
  readonly #forwarder: DeadLetterForwarder;

  private constructor(
    store: TopologyStore,
    system: Client,
    clock: Clock,
    durableStorage: 'file' | 'memory',
  ) {
    this.#store = store;
    this.#system = system;
    this.#clock = clock;
    this.#durableStorage = durableStorage;
    this.#forwarder = new DeadLetterForwarder(system, this.topology, () => clock.now());
    this.#expiryTimer = clock.setRepeating(AMQP_EXPIRY_CHECK_MS, () => this.#expireQueues(), {
      unref: true,
    });
  }

  static async open(options: {
    store: TopologyStore;
    system: Client;
    clock: Clock;
    /** Where durable queues are kept: 'file', unless the broker keeps everything in memory. */
    durableStorage: 'file' | 'memory';
  }): Promise<AmqpGateway> {
    const gateway = new AmqpGateway(
      options.store,
      options.system,
      options.clock,
      options.durableStorage,
    );
    const snapshot = await options.store.load();
    if (snapshot !== null) gateway.topology.load(snapshot, options.clock.now());
    const deadLettering = [...gateway.topology.queues].some(
      (state) => state.definition.settings.deadLetterExchange !== null,
    );
    if (deadLettering) await gateway.#startForwarder();
    return gateway;
  }

  async #startForwarder(): Promise<void> {
    await ensureDeadLetterStream(this.#system, this.#durableStorage);
    await this.#forwarder.start();
  }

  async close(): Promise<void> {
    this.#expiryTimer.cancel();
    await this.#forwarder.close();
  }

  #save(): Promise<void> {
    return this.#store.save(() => this.topology.snapshot());
  }

  // ---- exchanges -------------------------------------------------------------------------

  async declareExchange(args: {
    exchange: string;
    type: string;
    passive: boolean;
    durable: boolean;
    autoDelete: boolean;
    internal: boolean;
    arguments?: FieldTable;
  }): Promise<void> {
    if (args.passive) {
      this.topology.exchange(args.exchange);
      return;
    }
    const delayed = args.type === DELAYED_EXCHANGE_TYPE;
    if (!delayed && !EXCHANGE_TYPES.has(args.type)) {
      throw new AmqpError(503, `invalid exchange type '${args.type}'`);
    }
    const type = delayed ? args.arguments?.['x-delayed-type'] : args.type;
    if (typeof type !== 'string' || !EXCHANGE_TYPES.has(type)) {
      throw new AmqpError(
        406,
        "Invalid argument, 'x-delayed-type' must be an existing exchange type",
      );
    }
    if (args.exchange === '') {
      throw new AmqpError(403, `operation not permitted on the default exchange`);
    }
    const definition: ExchangeDefinition = {
      name: args.exchange,
      type: type as ExchangeType,
      durable: args.durable,
      autoDelete: args.autoDelete,
      internal: args.internal,
      ...(delayed ? { delayed: true } : {}),
    };
    const created = this.topology.declareExchange(definition);
    if (created && definition.durable) await this.#save();
  }

  async deleteExchange(name: string, ifUnused: boolean): Promise<void> {
    const durable =
      this.topology.hasExchange(name) && this.topology.exchange(name).definition.durable;
    this.topology.deleteExchange(name, ifUnused);
    if (durable) await this.#save();
  }

  async bind(binding: Binding): Promise<void> {
    if (this.topology.bind(binding)) await this.#save();
  }

  async unbind(binding: Binding): Promise<void> {
    this.topology.unbind(binding);
    await this.#save();
  }

  // ---- queues ----------------------------------------------------------------------------

  /** A name for `queue.declare('')`, as RabbitMQ makes them. */
  #generatedName(): string {
    for (;;) {
      const name = `amq.gen-${randomBytes(16).toString('base64url')}`;
      if (this.topology.findQueue(name) === undefined) return name;
    }
  }

  async declareQueue(
    client: Client,
    connectionId: number,
    args: QueueDeclareArguments,
  ): Promise<QueueDeclareResult> {
    const name = args.queue === '' && !args.passive ? this.#generatedName() : args.queue;
    for (;;) {
      const running = this.#declaring.get(name);
      if (running === undefined) break;
      await running.catch(() => undefined);
    }
    const declaring = this.#declareQueue(client, connectionId, name, args);
    this.#declaring.set(name, declaring);
    try {
      return await declaring;
    } finally {
      if (this.#declaring.get(name) === declaring) this.#declaring.delete(name);
    }
  }

  async #declareQueue(
    client: Client,
    connectionId: number,
    name: string,
    args: QueueDeclareArguments,
  ): Promise<QueueDeclareResult> {
    const existing = this.topology.findQueue(name);
    if (args.passive) {
      const state = existing ?? (await this.#adopt(client, name));
      if (state === null) throw new AmqpError(404, `no queue '${name}' in vhost '/'`);
      this.#checkAccess(state, connectionId);
      return this.#counts(client, state);
    }
    const settings = parseQueueArguments(name, args.arguments);
    if (existing !== undefined) {
      this.#checkAccess(existing, connectionId);
      const current = existing.definition;
      const differs =
        current.durable !== args.durable
          ? ['durable', args.durable, current.durable]
          : current.autoDelete !== args.autoDelete
            ? ['auto_delete', args.autoDelete, current.autoDelete]
            : current.exclusive !== args.exclusive
              ? ['exclusive', args.exclusive, current.exclusive]
              : null;
      if (differs !== null) {
        throw new AmqpError(
          406,
          `inequivalent arg '${String(differs[0])}' for queue '${name}' in vhost '/': received '${String(differs[1])}' but current is '${String(differs[2])}'`,
        );
      }
      const field = sameSettings(current.settings, settings);
      if (field !== null) {
        throw new AmqpError(
          406,
          `inequivalent arg '${ARGUMENT_NAMES[field]}' for queue '${name}' in vhost '/': received '${String(settings[field])}' but current is '${String(current.settings[field])}'`,
        );
      }
      existing.usedAtMs = this.#clock.now();
      return this.#counts(client, existing);
    }
    if (name.startsWith(RESERVED_PREFIX) && args.queue !== '') {
      throw new AmqpError(403, `queue name '${name}' contains reserved prefix 'amq.*'`);
    }
    const stream = streamNameFor(name);
    if (stream === DEAD_LETTER_STREAM) {
      throw new AmqpError(
        403,
        `queue name '${name}' is reserved (Weir keeps AMQP dead letters there)`,
      );
    }
    const definition: QueueDefinition = {
      name,
      stream,
      durable: args.durable,
      exclusive: args.exclusive,
      autoDelete: args.autoDelete,
      settings,
    };
    await this.#createQueueStream(client, definition);
    const state = this.topology.addQueue(
      definition,
      args.exclusive ? connectionId : 0,
      this.#clock.now(),
    );
    if (definition.durable && !definition.exclusive) await this.#save();
    return { queue: state.definition.name, messageCount: 0, consumerCount: 0 };
  }

  /** A Weir queue (`mq.queue(name)`) not declared over AMQP yet: taken as a durable queue. */
  async #adopt(client: Client, name: string): Promise<QueueState | null> {
    const stream = streamNameFor(name);
    try {
      const info = await client.streams.info(stream);
      if (info.config.retention !== 'work-queue' || !info.config.subjects.includes(stream)) {
        return null;
      }
    } catch (error) {
      if (isWeirError(error, 'STREAM_NOT_FOUND')) return null;
      throw error;
    }
    const again = this.topology.findQueue(name);
    if (again !== undefined) return again;
    const state = this.topology.addQueue(
      {
        name,
        stream,
        durable: true,
        exclusive: false,
        autoDelete: false,
        settings: parseQueueArguments(name, {}),
      },
      0,
      this.#clock.now(),
    );
    await this.#save();
    return state;
  }

  async #createQueueStream(client: Client, definition: QueueDefinition): Promise<void> {
    const { stream, settings } = definition;
    const options: StreamOptions = {
      subjects: [stream, `${stream}.>`],
      retention: 'work-queue',
      storage: definition.durable ? this.#durableStorage : 'memory',
      ...(settings.messageTtlMs === null ? {} : { ttlMs: Math.max(1, settings.messageTtlMs) }),
      ...(settings.maxLength === null ? {} : { maxMessages: Math.max(1, settings.maxLength) }),
      ...(settings.maxLengthBytes === null
        ? {}
        : { maxBytes: Math.max(1, settings.maxLengthBytes) }),
      ...(settings.maxLength === null && settings.maxLengthBytes === null
        ? {}
        : { overflow: settings.overflow === 'drop-head' ? 'drop-oldest' : 'reject-new' }),
    };
    try {
      await client.streams.create(stream, options);
    } catch (error) {
      if (!isWeirError(error, 'STREAM_EXISTS')) throw error;
      const info = await client.streams.info(stream);
      if (info.config.retention !== 'work-queue' || !info.config.subjects.includes(stream)) {
        throw new AmqpError(
          406,
          `a Weir stream '${stream}' exists and is not a queue (work-queue retention capturing '${stream}')`,
        );
      }
    }
    if (settings.deadLetterExchange !== null) await this.#startForwarder();
    const subscription: SubscribeOptions = {
      subscription: stream,
      mode: settings.singleActiveConsumer ? 'failover' : 'shared',
      leaseMs: AMQP_DELIVERY_LEASE_MS,
      backoff: [0],
      ...(settings.deliveryLimit === null ? {} : { maxDeliveries: settings.deliveryLimit + 1 }),
      ...(settings.deadLetterExchange === null
        ? {}
        : {
            deadLetter: deadLetterSubject(stream),
            deadLetterExpired: true,
            deadLetterOverflow: settings.overflow === 'drop-head',
          }),
    };
    try {
      const first = await client.subscribe(stream, subscription);
      await first.close();
    } catch (error) {
      // A Weir queue made earlier keeps its own subscription settings.
      if (!isWeirError(error, 'SUBSCRIPTION_EXISTS')) throw error;
    }
  }

  #checkAccess(state: QueueState, connectionId: number): void {
    if (state.owner !== 0 && state.owner !== connectionId) {
      throw new AmqpError(
        405,
        `cannot obtain exclusive access to locked queue '${state.definition.name}' in vhost '/'`,
      );
    }
  }

  checkAccess(name: string, connectionId: number): QueueState {
    const state = this.topology.queue(name);
    this.#checkAccess(state, connectionId);
    return state;
  }

  async #counts(client: Client, state: QueueState): Promise<QueueDeclareResult> {
    return {
      queue: state.definition.name,
      messageCount: await this.readyCount(client, state),
      consumerCount: state.consumers,
    };
  }

  /** Messages ready for delivery in a queue (neither in flight nor delayed). */
  async readyCount(client: Client, state: QueueState): Promise<number> {
    const stream = state.definition.stream;
    try {
      const info = await client.subscriptions.info(stream, stream);
      // pending counts what is delivered and unacked, and what waits for a delay: not ready.
      return Math.max(0, info.pending - info.inFlight - info.delayed);
    } catch (error) {
      if (isWeirError(error, 'STREAM_NOT_FOUND') || isWeirError(error, 'SUBSCRIPTION_NOT_FOUND')) {
        return 0;
      }
      throw error;
    }
  }

  async deleteQueue(
    client: Client,
    connectionId: number,
    name: string,
    ifUnused: boolean,
    ifEmpty: boolean,
  ): Promise<number> {
    const state = this.topology.findQueue(name);
    if (state === undefined) return 0;
    this.#checkAccess(state, connectionId);
    if (ifUnused && state.consumers > 0) {
      throw new AmqpError(406, `queue '${name}' in vhost '/' in use`);
    }
    const messages = await this.readyCount(client, state);
    if (ifEmpty && messages > 0) {
      throw new AmqpError(406, `queue '${name}' in vhost '/' is not empty`);
    }
    await this.#remove(client, state);
    return messages;
  }

  async #remove(client: Client, state: QueueState): Promise<void> {
    const { name, stream, durable } = state.definition;
    if (this.topology.findQueue(name) !== state) return;
    this.topology.removeQueue(name);
    const consumers = [...(this.#consumers.get(name) ?? [])];
    this.#consumers.delete(name);
    try {
      await client.streams.delete(stream);
    } catch (error) {
      if (!isWeirError(error, 'STREAM_NOT_FOUND')) throw error;
    }
    if (durable) await this.#save();
    // basic.cancel goes out with (just before) delete-ok, as RabbitMQ sends them: a client
    // that closes its channel on the cancel must not lose the delete-ok it waits for.
    for (const consumer of consumers) consumer.cancelledByServer();
  }

  async purgeQueue(client: Client, connectionId: number, name: string): Promise<number> {
    const state = this.checkAccess(name, connectionId);
    const messages = await this.readyCount(client, state);
    await client.streams.purge(state.definition.stream);
    return messages;
  }

  // ---- consumers -------------------------------------------------------------------------

  consumerAdded(state: QueueState, handle: ConsumerHandle, exclusive: boolean): void {
    if (state.exclusiveConsumer || (exclusive && state.consumers > 0)) {
      throw new AmqpError(403, `queue '${state.definition.name}' in vhost '/' in exclusive use`);
    }
    let handles = this.#consumers.get(state.definition.name);
    if (handles === undefined) {
      handles = new Set();
      this.#consumers.set(state.definition.name, handles);
    }
    handles.add(handle);
    state.consumers++;
    state.hadConsumer = true;
    if (exclusive) state.exclusiveConsumer = true;
    state.usedAtMs = this.#clock.now();
  }

  consumerRemoved(state: QueueState, handle: ConsumerHandle, exclusive: boolean): void {
    const handles = this.#consumers.get(state.definition.name);
    if (handles === undefined || !handles.delete(handle)) return;
    state.consumers--;
    if (exclusive) state.exclusiveConsumer = false;
    state.usedAtMs = this.#clock.now();
    if (state.consumers === 0 && state.definition.autoDelete && state.hadConsumer) {
      void this.#remove(this.#system, state).catch(() => undefined);
    }
  }

  /** A connection ended: its exclusive queues go. */
  async connectionClosed(connectionId: number): Promise<void> {
    const owned = [...this.topology.queues].filter((state) => state.owner === connectionId);
    await Promise.all(
      owned.map((state) => this.#remove(this.#system, state).catch(() => undefined)),
    );
  }

  #expireQueues(): void {
    const now = this.#clock.now();
    for (const state of [...this.topology.queues]) {
      const expiresMs = state.definition.settings.expiresMs;
      if (expiresMs === null || state.consumers > 0) continue;
      if (now - state.usedAtMs >= expiresMs)
        void this.#remove(this.#system, state).catch(() => undefined);
    }
  }

  touch(state: QueueState): void {
    state.usedAtMs = this.#clock.now();
  }

  // ---- direct reply-to -------------------------------------------------------------------

  addReplyTarget(target: ReplyTarget): string {
    const name = `${DIRECT_REPLY_TO}.${randomBytes(18).toString('base64url')}`;
    this.#replyTargets.set(name, target);
    return name;
  }

  removeReplyTarget(name: string): void {
    this.#replyTargets.delete(name);
  }

  replyTarget(routingKey: string): ReplyTarget | undefined {
    return this.#replyTargets.get(routingKey);
  }
}
