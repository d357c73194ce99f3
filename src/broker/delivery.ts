/**
 * A message as a consumer gets it: the stored message plus where it came from and how many
 * times it was delivered, and the settlement calls. Settlement goes back to the subscription
 * with the delivery's token, so a consumer whose lease passed to another consumer cannot
 * settle the other's delivery (MESSAGE_SETTLED).
 */
import type { Body, Headers, Message, NackOptions, RespondOptions } from '../protocol/index.js';
import type { WeirError } from '../util/index.js';
import { decodeText, type StoredMessage } from './message-codec.js';
import type { Entry } from './partition-cursor.js';

/** What a subscription offers its deliveries (implemented by SubscriptionGroup). */
export interface DeliveryActions {
  readonly stream: string;
  ack(entry: Entry, token: number): Promise<void>;
  nack(entry: Entry, token: number, options: NackOptions | undefined): Promise<void>;
  term(entry: Entry, token: number, reason: string | undefined): Promise<void>;
  extend(entry: Entry, token: number, ms: number | undefined): Promise<void>;
  respond(message: StoredMessage, body: Body, options: RespondOptions | undefined): Promise<void>;
  // Transactions (transactions.ts; SubscriptionGroup documents each).
  readonly name: string;
  readonly durable: boolean;
  transactionRefusal(
    entry: Entry,
    token: number,
    holders: ReadonlySet<unknown> | null,
  ): WeirError | null;
  holdForTransaction(entry: Entry): void;
  releaseFromTransaction(entry: Entry): void;
  settleForTransaction(entry: Entry | null, partition: number, offset: number): Promise<void>;
}

/** Sends a reply to `message.replyTo` (as DeliveryActions.respond does). */
export type Responder = (
  message: StoredMessage,
  body: Body,
  options: RespondOptions | undefined,
) => Promise<void>;

export function parseJson<T>(body: Uint8Array): T {
  return JSON.parse(decodeText(body)) as T;
}

export class DeliveredMessage implements Message {
  readonly #actions: DeliveryActions;
  readonly entry: Entry;
  readonly token: number;
  readonly deliveryCount: number;
  /**
   * Set by the consumer this delivery is pushed to when its client's permissions are
   * restricted: the reply then goes through that client's checks (its publish permissions,
   * its reply grants) instead of straight to the broker core.
   */
  responder: Responder | null = null;

  constructor(actions: DeliveryActions, entry: Entry, token: number) {
    this.#actions = actions;
    this.entry = entry;
    this.token = token;
    this.deliveryCount = entry.deliveryCount;
  }

  /** The subscription it came from (transactions ack through it). */
  get subscription(): DeliveryActions {
    return this.#actions;
  }

  /** Whether this delivery still holds its lease (not settled, not handed to another consumer). */
  get current(): boolean {
    return this.entry.state === 'in-flight' && this.entry.token === this.token;
  }

  get subject(): string {
    return this.entry.message.subject;
  }
  get key(): string | null {
    return this.entry.message.key;
  }
  get headers(): Headers {
    return this.entry.message.headers;
  }
  get body(): Uint8Array {
    return this.entry.message.body;
  }
  get stream(): string {
    return this.#actions.stream;
  }
  get partition(): number {
    return this.entry.partition;
  }
  get offset(): number {
    return this.entry.offset;
  }
  get id(): string | null {
    return this.entry.message.id;
  }
  get timestamp(): number {
    return this.entry.message.timestamp;
  }
  get priority(): number {
    return this.entry.message.priority;
  }
  get replyTo(): string | null {
    return this.entry.message.replyTo;
  }
  get correlationId(): string | null {
    return this.entry.message.correlationId;
  }

  text(): string {
    return decodeText(this.body);
  }

  json<T = unknown>(): T {
    return parseJson<T>(this.body);
  }

  ack(): Promise<void> {
    return this.#actions.ack(this.entry, this.token);
  }

  nack(options?: NackOptions): Promise<void> {
    return this.#actions.nack(this.entry, this.token, options);
  }

  term(reason?: string): Promise<void> {
    return this.#actions.term(this.entry, this.token, reason);
  }

  extend(ms?: number): Promise<void> {
    return this.#actions.extend(this.entry, this.token, ms);
  }

  respond(body: Body, options?: RespondOptions): Promise<void> {
    if (this.responder !== null) return this.responder(this.entry.message, body, options);
    return this.#actions.respond(this.entry.message, body, options);
  }
}
