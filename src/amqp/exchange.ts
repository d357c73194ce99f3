/**
 * One exchange and its bindings, indexed for its type's routing:
 *   direct   a Map from binding key to bindings: one lookup per publish;
 *   fanout   every binding;
 *   topic    compiled patterns (TopicPattern), with the last keys' results cached
 *            (TOPIC_ROUTES_CACHED entries, cleared when a binding changes or it is full);
 *   headers  `x-match` all / any (and all-with-x / any-with-x, which also compare `x-` keys)
 *            over the binding's arguments; an argument of type void matches on presence.
 * A binding's destination is a queue or (exchange-to-exchange) another exchange.
 *
 * A delayed exchange (type `x-delayed-message`, as RabbitMQ's delayed-message plugin) routes
 * as its `x-delayed-type` does; what is published to it waits `x-delay` ms in its queues.
 */
import type { FieldTable } from './codec/index.js';
import { TopicPattern } from './topic-pattern.js';

export type ExchangeType = 'direct' | 'fanout' | 'topic' | 'headers';
export const EXCHANGE_TYPES: ReadonlySet<string> = new Set([
  'direct',
  'fanout',
  'topic',
  'headers',
]);

/** The type a delayed exchange is declared with (its routing is `x-delayed-type`'s). */
export const DELAYED_EXCHANGE_TYPE = 'x-delayed-message';

/** A header value as the headers exchange compares it: typed values reduced to JSON data. */
export type HeaderValue = string | number | boolean | null;

export interface ExchangeDefinition {
  readonly name: string;
  readonly type: ExchangeType;
  readonly durable: boolean;
  readonly autoDelete: boolean;
  readonly internal: boolean;
  /** An `x-delayed-message` exchange (absent: false). */
  readonly delayed?: boolean;
}

export interface Binding {
  readonly source: string;
  readonly destination: string;
  readonly toExchange: boolean;
  readonly routingKey: string;
  /** The binding's arguments as compared (headers exchanges match on them). */
  readonly arguments: Readonly<Record<string, HeaderValue>>;
}

const TOPIC_ROUTES_CACHED = 4096;

export function sameBinding(a: Binding, b: Binding): boolean {
  return (
    a.source === b.source &&
    a.destination === b.destination &&
    a.toExchange === b.toExchange &&
    a.routingKey === b.routingKey &&
    JSON.stringify(a.arguments) === JSON.stringify(b.arguments)
  );
}

export class Exchange {
  readonly definition: ExchangeDefinition;
  readonly #bindings: Binding[] = [];
  readonly #direct = new Map<string, Binding[]>();
  #patterns: { pattern: TopicPattern; binding: Binding }[] = [];
  readonly #topicCache = new Map<string, readonly Binding[]>();

  constructor(definition: ExchangeDefinition) {
    this.definition = definition;
  }

  get name(): string {
    return this.definition.name;
  }

  get bindings(): readonly Binding[] {
    return this.#bindings;
  }

  /** Adds `binding` unless the same one is there; true when added. */
  add(binding: Binding): boolean {
    if (this.#bindings.some((existing) => sameBinding(existing, binding))) return false;
    this.#bindings.push(binding);
    this.#reindex();
    return true;
  }

  /** Removes the bindings `matches` selects; returns how many. */
  remove(matches: (binding: Binding) => boolean): number {
    let removed = 0;
    for (let index = this.#bindings.length - 1; index >= 0; index--) {
      if (matches(this.#bindings[index]!)) {
        this.#bindings.splice(index, 1);
        removed++;
      }
    }
    if (removed > 0) this.#reindex();
    return removed;
  }

  #reindex(): void {
    this.#direct.clear();
    this.#topicCache.clear();
    this.#patterns = [];
    for (const binding of this.#bindings) {
      if (this.definition.type === 'direct') {
        const list = this.#direct.get(binding.routingKey);
        if (list === undefined) this.#direct.set(binding.routingKey, [binding]);
        else list.push(binding);
      } else if (this.definition.type === 'topic') {
        this.#patterns.push({ pattern: new TopicPattern(binding.routingKey), binding });
      }
    }
  }

  /** The bindings a message with `routingKey` and `headers` takes. */
  route(
    routingKey: string,
    headers: Readonly<Record<string, HeaderValue>> | null,
  ): readonly Binding[] {
    switch (this.definition.type) {
      case 'direct':
        return this.#direct.get(routingKey) ?? [];
      case 'fanout':
        return this.#bindings;
      case 'topic':
        return this.#topic(routingKey);
      case 'headers':
        return this.#bindings.filter((binding) => headersMatch(binding.arguments, headers ?? {}));
    }
  }

  #topic(routingKey: string): readonly Binding[] {
    const cached = this.#topicCache.get(routingKey);
    if (cached !== undefined) return cached;
    const routes = this.#patterns
      .filter(({ pattern }) => pattern.matches(routingKey))
      .map(({ binding }) => binding);
    if (this.#topicCache.size >= TOPIC_ROUTES_CACHED) this.#topicCache.clear();
    this.#topicCache.set(routingKey, routes);
    return routes;
  }
}

function headersMatch(
  binding: Readonly<Record<string, HeaderValue>>,
  headers: Readonly<Record<string, HeaderValue>>,
): boolean {
  const mode = binding['x-match'] ?? 'all';
  const any = mode === 'any' || mode === 'any-with-x';
  const withX = mode === 'all-with-x' || mode === 'any-with-x';
  for (const [name, expected] of Object.entries(binding)) {
    if (name === 'x-match') continue;
    if (!withX && name.startsWith('x-')) continue;
    const present = Object.prototype.hasOwnProperty.call(headers, name);
    // A void argument matches on the header's presence alone.
    const matched = present && (expected === null || headers[name] === expected);
    if (any && matched) return true;
    if (!any && !matched) return false;
  }
  // All of none matched is a match (an empty `all` binding takes everything); any of none is not.
  return !any;
}

/** A header value of a binding or a message as the headers exchange compares it. */
export function headerValue(value: unknown): HeaderValue {
  if (value === null || value === undefined) return null;
  if (typeof value === 'string' || typeof value === 'boolean') return value;
  if (typeof value === 'number') return value;
  if (typeof value === 'bigint') return Number(value);
  if (value instanceof Uint8Array) return Buffer.from(value).toString('utf8');
  if (value instanceof Date) return value.getTime();
  return JSON.stringify(value, (_key, item: unknown) =>
    typeof item === 'bigint' ? item.toString() : item,
  );
}

export function headerValues(table: FieldTable | undefined): Record<string, HeaderValue> | null {
  if (table === undefined) return null;
  const values: Record<string, HeaderValue> = {};
  for (const [name, value] of Object.entries(table)) values[name] = headerValue(value);
  return values;
}
