/**
 * The in-process Client: what `broker.connect()` returns. Thin: it checks that it is open,
 * keeps track of its consumers and its inbox (so that closing the client hands their leases
 * back and fails its waiting requests), and calls the broker core.
 */
import type {
  Body,
  Client,
  DeadLettersApi,
  Message,
  PublishOptions,
  PublishReceipt,
  RequestOptions,
  StreamsApi,
  SubscribeOptions,
  Subscription,
  SubscriptionsApi,
} from '../protocol/index.js';
import {
  CLIENT_CONSUMERS_MAX,
  REQUEST_TIMEOUT_MS_DEFAULT,
  REQUEST_TIMEOUT_MS_MAX,
} from '../limits.js';
import { WeirError } from '../util/index.js';
import { UNCONFIRMED_RECEIPT } from '../protocol/index.js';
import type { BrokerCore } from './broker-core.js';
import type { Consumer } from './consumer.js';
import { deleteDeadLetters, listDeadLetters, redriveDeadLetters } from './dead-letter-admin.js';
import { integerIn, rejection } from './option-checks.js';
import type { Inbox } from './request-reply.js';

export class InProcessClient implements Client {
  readonly id: string;
  readonly streams: StreamsApi;
  readonly subscriptions: SubscriptionsApi;
  readonly deadLetters: DeadLettersApi;
  readonly #core: BrokerCore;
  readonly #consumers = new Set<Consumer>();
  readonly #onClose: (client: InProcessClient) => void;
  #inbox: Inbox | null = null;
  #closed = false;

  constructor(core: BrokerCore, id: string, onClose: (client: InProcessClient) => void) {
    this.id = id;
    this.#core = core;
    this.#onClose = onClose;
    const open = <T>(operation: () => Promise<T>): Promise<T> => {
      if (this.#closed) return Promise.reject(new WeirError('CLOSED', 'the client is closed'));
      return operation();
    };
    this.streams = {
      create: (name, options) => open(() => core.createStream(name, options)),
      info: (name) => open(() => core.streamInfo(name)),
      list: () => open(() => core.listStreams()),
      delete: (name) => open(() => core.deleteStream(name)),
      purge: (name) => open(() => core.purgeStream(name)),
    };
    this.subscriptions = {
      info: (stream, name) => open(() => core.subscriptionInfo(stream, name)),
      list: (stream) => open(() => core.listSubscriptions(stream)),
      delete: (stream, name) => open(() => core.deleteSubscription(stream, name)),
      seek: (stream, name, position) => open(() => core.seek(stream, name, position)),
    };
    this.deadLetters = {
      list: (subject, options) => open(() => listDeadLetters(core, subject, options)),
      redrive: (subject, options) => open(() => redriveDeadLetters(core, subject, options)),
      delete: (subject, options) => open(() => deleteDeadLetters(core, subject, options)),
    };
  }

  get closed(): boolean {
    return this.#closed;
  }

  publish(subject: string, body: Body, options?: PublishOptions): Promise<PublishReceipt> {
    if (this.#closed) return Promise.reject(new WeirError('CLOSED', 'the client is closed'));
    if (options?.confirm === false) {
      // Fire-and-forget (at-most-once), as over the network: not waited for, failures dropped.
      const { confirm: _confirm, ...rest } = options;
      this.#core.publish(subject, body, rest).catch(() => undefined);
      return Promise.resolve(UNCONFIRMED_RECEIPT);
    }
    return this.#core.publish(subject, body, options);
  }

  async subscribe(stream: string, options?: SubscribeOptions): Promise<Subscription> {
    if (this.#closed) throw new WeirError('CLOSED', 'the client is closed');
    if (this.#consumers.size >= CLIENT_CONSUMERS_MAX) {
      throw new WeirError('LIMIT_EXCEEDED', `the client holds ${CLIENT_CONSUMERS_MAX} consumers`);
    }
    const consumer = await this.#core.subscribe(stream, options, (closed) =>
      this.#consumers.delete(closed),
    );
    if (this.#closed) {
      await consumer.close();
      throw new WeirError('CLOSED', 'the client closed while subscribing');
    }
    this.#consumers.add(consumer);
    return consumer;
  }

  request(subject: string, body: Body, options?: RequestOptions): Promise<Message> {
    if (this.#closed) return Promise.reject(new WeirError('CLOSED', 'the client is closed'));
    try {
      const { timeoutMs: given, ...publishOptions } = options ?? {};
      const timeoutMs =
        given === undefined
          ? REQUEST_TIMEOUT_MS_DEFAULT
          : integerIn(given, 'timeoutMs', 1, REQUEST_TIMEOUT_MS_MAX);
      const inbox = (this.#inbox ??= this.#core.openInbox(this.id));
      return inbox.request(timeoutMs, (correlationId) =>
        this.#core.publish(subject, body, {
          ...publishOptions,
          replyTo: inbox.subject,
          correlationId,
        }),
      );
    } catch (error) {
      return rejection(error);
    }
  }

  /** Hands every consumer's leases back, fails waiting requests with CLOSED. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const consumer of [...this.#consumers]) await consumer.close();
    this.#consumers.clear();
    if (this.#inbox) this.#core.closeInbox(this.#inbox);
    this.#inbox = null;
    this.#onClose(this);
  }
}
