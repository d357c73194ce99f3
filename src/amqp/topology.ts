/**
 * The AMQP model the gateway keeps beside Weir's: exchanges, queues and bindings, and routing
 * a publish to the queues it reaches. A queue is a Weir stream (queue-mapping.ts names it);
 * exchanges and bindings exist only here. Durable ones are saved (topology-store.ts) before a
 * declare or bind is answered; the rest live as long as this process, as in RabbitMQ.
 *
 * Pre-declared, as in RabbitMQ: the default exchange "" (direct; every queue is bound to it by
 * its name, implicitly, and nothing else may bind to it) and amq.direct, amq.fanout,
 * amq.topic, amq.headers, amq.match. Names starting `amq.` are reserved (403 on declare).
 *
 * Not thread-safe by design: the gateway runs on one event loop, and every change here is
 * synchronous; the caller saves afterwards.
 */
import { AmqpError } from './amqp-error.js';
import {
  DELAYED_EXCHANGE_TYPE,
  Exchange,
  sameBinding,
  type Binding,
  type ExchangeDefinition,
  type HeaderValue,
} from './exchange.js';
import type { QueueSettings } from './queue-arguments.js';
import {
  TOPOLOGY_BINDINGS_MAX,
  TOPOLOGY_EXCHANGES_MAX,
  TOPOLOGY_QUEUES_MAX,
  TOPOLOGY_ROUTE_HOPS_MAX,
} from '../limits.js';

export interface QueueDefinition {
  readonly name: string;
  /** The Weir stream (and shared subscription) that holds it. */
  readonly stream: string;
  readonly durable: boolean;
  readonly exclusive: boolean;
  readonly autoDelete: boolean;
  readonly settings: QueueSettings;
}

/** What a queue is in memory: its definition and who holds it. */
export interface QueueState {
  readonly definition: QueueDefinition;
  /** The connection of an exclusive queue; 0 for a shared one. */
  readonly owner: number;
  /** Consumers on it now (every channel of this gateway). */
  consumers: number;
  /** Whether it ever had a consumer (auto-delete acts only after one left). */
  hadConsumer: boolean;
  /** An exclusive consumer holds it. */
  exclusiveConsumer: boolean;
  /** The last time it was used (x-expires counts from it), in ms of the gateway's clock. */
  usedAtMs: number;
}

/** What is saved: durable exchanges, queues and the bindings between durable ends. */
export interface TopologySnapshot {
  readonly version: 1;
  readonly exchanges: readonly ExchangeDefinition[];
  readonly queues: readonly QueueDefinition[];
  readonly bindings: readonly Binding[];
}

export const DEFAULT_EXCHANGE = '';
export const RESERVED_PREFIX = 'amq.';

const BUILT_IN: readonly ExchangeDefinition[] = [
  { name: DEFAULT_EXCHANGE, type: 'direct', durable: true, autoDelete: false, internal: false },
  { name: 'amq.direct', type: 'direct', durable: true, autoDelete: false, internal: false },
  { name: 'amq.fanout', type: 'fanout', durable: true, autoDelete: false, internal: false },
  { name: 'amq.topic', type: 'topic', durable: true, autoDelete: false, internal: false },
  { name: 'amq.headers', type: 'headers', durable: true, autoDelete: false, internal: false },
  { name: 'amq.match', type: 'headers', durable: true, autoDelete: false, internal: false },
];

function notFound(kind: 'exchange' | 'queue', name: string): AmqpError {
  return new AmqpError(404, `no ${kind} '${name}' in vhost '/'`);
}

export class Topology {
  readonly #exchanges = new Map<string, Exchange>();
  readonly #queues = new Map<string, QueueState>();
  #bindingCount = 0;

  constructor() {
    for (const definition of BUILT_IN)
      this.#exchanges.set(definition.name, new Exchange(definition));
  }

  exchange(name: string): Exchange {
    const exchange = this.#exchanges.get(name);
    if (exchange === undefined) throw notFound('exchange', name);
    return exchange;
  }

  hasExchange(name: string): boolean {
    return this.#exchanges.has(name);
  }

  queue(name: string): QueueState {
    const queue = this.#queues.get(name);
    if (queue === undefined) throw notFound('queue', name);
    return queue;
  }

  findQueue(name: string): QueueState | undefined {
    return this.#queues.get(name);
  }

  get queues(): IterableIterator<QueueState> {
    return this.#queues.values();
  }

  get exchanges(): IterableIterator<Exchange> {
    return this.#exchanges.values();
  }

  /** Declares (or checks an existing declaration of) an exchange; true when it is new. */
  declareExchange(definition: ExchangeDefinition): boolean {
    const existing = this.#exchanges.get(definition.name);
    if (existing !== undefined) {
      const current = existing.definition;
      if ((current.delayed ?? false) !== (definition.delayed ?? false)) {
        const typeOf = (candidate: ExchangeDefinition): string =>
          candidate.delayed === true ? DELAYED_EXCHANGE_TYPE : candidate.type;
        throw new AmqpError(
          406,
          `inequivalent arg 'type' for exchange '${definition.name}' in vhost '/': received '${typeOf(definition)}' but current is '${typeOf(current)}'`,
        );
      }
      for (const field of ['type', 'durable', 'autoDelete', 'internal'] as const) {
        if (current[field] !== definition[field]) {
          throw new AmqpError(
            406,
            `inequivalent arg '${field === 'autoDelete' ? 'auto_delete' : field}' for exchange '${definition.name}' in vhost '/': received '${String(definition[field])}' but current is '${String(current[field])}'`,
          );
        }
      }
      return false;
    }
    if (definition.name.startsWith(RESERVED_PREFIX)) {
      throw new AmqpError(
        403,
        `exchange name '${definition.name}' contains reserved prefix 'amq.*'`,
      );
    }
    if (this.#exchanges.size >= TOPOLOGY_EXCHANGES_MAX + BUILT_IN.length) {
      throw new AmqpError(506, `more than ${TOPOLOGY_EXCHANGES_MAX} exchanges`);
    }
    this.#exchanges.set(definition.name, new Exchange(definition));
    return true;
  }

  deleteExchange(name: string, ifUnused: boolean): void {
    const exchange = this.#exchanges.get(name);
    if (exchange === undefined) return; // RabbitMQ: deleting what is not there is fine
    if (name === DEFAULT_EXCHANGE || name.startsWith(RESERVED_PREFIX)) {
      throw new AmqpError(403, `operation not permitted on the default exchange or 'amq.*'`);
    }
    const inbound = this.#bindingsTo(name, true);
    if (ifUnused && (exchange.bindings.length > 0 || inbound.length > 0)) {
      throw new AmqpError(406, `exchange '${name}' in vhost '/' in use`);
    }
    this.#bindingCount -= exchange.bindings.length;
    this.#removeBindingsTo(name, true);
    this.#exchanges.delete(name);
  }

  /** Adds a queue (the caller checked equivalence and made its stream). */
  addQueue(definition: QueueDefinition, owner: number, nowMs: number): QueueState {
    if (this.#queues.size >= TOPOLOGY_QUEUES_MAX) {
      throw new AmqpError(506, `more than ${TOPOLOGY_QUEUES_MAX} queues`);
    }
    const state: QueueState = {
      definition,
      owner,
      consumers: 0,
      hadConsumer: false,
      exclusiveConsumer: false,
      usedAtMs: nowMs,
    };
    this.#queues.set(definition.name, state);
    return state;
  }

  /** Takes a queue out with its bindings; auto-delete exchanges left without bindings go too. */
  removeQueue(name: string): void {
    if (!this.#queues.delete(name)) return;
    this.#removeBindingsTo(name, false);
  }

  bind(binding: Binding): boolean {
    const source = this.exchange(binding.source);
    if (binding.source === DEFAULT_EXCHANGE) {
      throw new AmqpError(403, `operation not permitted on the default exchange`);
    }
    if (binding.toExchange) {
      this.exchange(binding.destination);
      if (binding.destination === DEFAULT_EXCHANGE) {
        throw new AmqpError(403, `operation not permitted on the default exchange`);
      }
    } else {
      this.queue(binding.destination);
    }
    if (this.#bindingCount >= TOPOLOGY_BINDINGS_MAX) {
      throw new AmqpError(506, `more than ${TOPOLOGY_BINDINGS_MAX} bindings`);
    }
    const added = source.add(binding);
    if (added) this.#bindingCount++;
    return added;
  }

  unbind(binding: Binding): void {
    const source = this.exchange(binding.source);
    if (binding.source === DEFAULT_EXCHANGE) {
      throw new AmqpError(403, `operation not permitted on the default exchange`);
    }
    if (binding.toExchange) this.exchange(binding.destination);
    else this.queue(binding.destination);
    const removed = source.remove((existing) => sameBinding(existing, binding));
    this.#bindingCount -= removed;
    if (removed > 0) this.#dropIfAutoDelete(source);
  }

  /**
   * The queues a publish to `exchange` with `routingKey` reaches, each once, following
   * exchange-to-exchange bindings (each exchange visited once, at most TOPOLOGY_ROUTE_HOPS_MAX).
   * NOT_FOUND (404) when the exchange does not exist.
   */
  route(
    exchangeName: string,
    routingKey: string,
    headers: Readonly<Record<string, HeaderValue>> | null,
  ): QueueState[] {
    if (exchangeName === DEFAULT_EXCHANGE) {
      const queue = this.#queues.get(routingKey);
      return queue === undefined ? [] : [queue];
    }
    const start = this.exchange(exchangeName);
    const reached = new Set<QueueState>();
    const visited = new Set<string>([exchangeName]);
    const pending: Exchange[] = [start];
    let hops = 0;
    while (pending.length > 0 && hops++ < TOPOLOGY_ROUTE_HOPS_MAX) {
      const exchange = pending.pop()!;
      for (const binding of exchange.route(routingKey, headers)) {
        if (binding.toExchange) {
          if (visited.has(binding.destination)) continue;
          visited.add(binding.destination);
          const next = this.#exchanges.get(binding.destination);
          if (next !== undefined) pending.push(next);
        } else {
          const queue = this.#queues.get(binding.destination);
          if (queue !== undefined) reached.add(queue);
        }
      }
    }
    return [...reached];
  }

  snapshot(): TopologySnapshot {
    const exchanges = [...this.#exchanges.values()]
      .map((exchange) => exchange.definition)
      .filter(
        (definition) => definition.durable && !BUILT_IN.some((b) => b.name === definition.name),
      );
    const queues = [...this.#queues.values()]
      .map((queue) => queue.definition)
      .filter((definition) => definition.durable && !definition.exclusive);
    const durableQueues = new Set(queues.map((queue) => queue.name));
    const durableExchanges = new Set([
      ...exchanges.map((exchange) => exchange.name),
      ...BUILT_IN.map((exchange) => exchange.name),
    ]);
    const bindings: Binding[] = [];
    for (const exchange of this.#exchanges.values()) {
      if (!durableExchanges.has(exchange.name)) continue;
      for (const binding of exchange.bindings) {
        const durable = binding.toExchange
          ? durableExchanges.has(binding.destination)
          : durableQueues.has(binding.destination);
        if (durable) bindings.push(binding);
      }
    }
    return { version: 1, exchanges, queues, bindings };
  }

  /** Loads a saved snapshot into a fresh topology (queues get `nowMs` as last use). */
  load(snapshot: TopologySnapshot, nowMs: number): void {
    for (const exchange of snapshot.exchanges) {
      if (!this.#exchanges.has(exchange.name))
        this.#exchanges.set(exchange.name, new Exchange(exchange));
    }
    for (const queue of snapshot.queues) this.addQueue(queue, 0, nowMs);
    for (const binding of snapshot.bindings) {
      const source = this.#exchanges.get(binding.source);
      const target = binding.toExchange
        ? this.#exchanges.has(binding.destination)
        : this.#queues.has(binding.destination);
      if (source !== undefined && target && source.add(binding)) this.#bindingCount++;
    }
  }

  #bindingsTo(destination: string, toExchange: boolean): Binding[] {
    const found: Binding[] = [];
    for (const exchange of this.#exchanges.values()) {
      for (const binding of exchange.bindings) {
        if (binding.destination === destination && binding.toExchange === toExchange)
          found.push(binding);
      }
    }
    return found;
  }

  #removeBindingsTo(destination: string, toExchange: boolean): void {
    for (const exchange of [...this.#exchanges.values()]) {
      const removed = exchange.remove(
        (binding) => binding.destination === destination && binding.toExchange === toExchange,
      );
      this.#bindingCount -= removed;
      if (removed > 0) this.#dropIfAutoDelete(exchange);
    }
  }

  /** An auto-delete exchange goes when its last binding does. */
  #dropIfAutoDelete(exchange: Exchange): void {
    if (!exchange.definition.autoDelete || exchange.bindings.length > 0) return;
    if (!this.#exchanges.has(exchange.name)) return;
    this.#exchanges.delete(exchange.name);
    this.#removeBindingsTo(exchange.name, true);
  }
}
