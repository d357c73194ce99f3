/**
 * The in-process Client: what `broker.connect()` returns. Thin: it checks that it is open and
 * that its principal may do what it asks (access.ts: every transport acts through one of
 * these, so this is the one place permissions are enforced), keeps track of its consumers and
 * its inbox (so that closing the client hands their leases back and fails its waiting
 * requests), audits admin actions, and calls the broker core.
 */
import type {
  Body,
  Client,
  ClusterApi,
  Headers,
  DeadLettersApi,
  Message,
  PublishInput,
  PublishOptions,
  PublishReceipt,
  Queue,
  QueueOptions,
  RequestOptions,
  SchedulesApi,
  StreamsApi,
  SubscribeOptions,
  Subscription,
  SubscriptionsApi,
  Transaction,
  TransactionOptions,
  UsersApi,
} from '../protocol/index.js';
import {
  CLIENT_CONSUMERS_MAX,
  REQUEST_TIMEOUT_MS_DEFAULT,
  REQUEST_TIMEOUT_MS_MAX,
} from '../limits.js';
import { toWeirError, WeirError } from '../util/index.js';
import {
  openQueue,
  REQUEST_HEADERS,
  runTransaction,
  UNCONFIRMED_RECEIPT,
  type TransactionTransport,
} from '../protocol/index.js';
import type { BrokerCore } from './broker-core.js';
import type { Consumer } from './consumer.js';
import { deleteDeadLetters, listDeadLetters, redriveDeadLetters } from './dead-letter-admin.js';
import { integerIn, rejection } from './option-checks.js';
import type { Inbox } from './request-reply.js';
import { DeliveredMessage, type Responder } from './delivery.js';
import { encodeMessage } from './message-codec.js';
import type { TransactionPublish } from './transactions.js';
import { ReplyGrants } from './reply-grants.js';
import { isInboxSubject } from './subject.js';
import type { PartitionLog } from '../storage/index.js';
import { Access } from './access.js';
import { audit } from './audit.js';
import type { UserStore } from './users.js';
import { bodySizeOf, type Tracing } from '../protocol/tracing.js';

/** Who the client acts for, and the users it may manage (if admin). */
export interface ClientIdentity {
  readonly access: Access;
  /** The client's address (audit lines); null in-process. */
  readonly remote: string | null;
  readonly users: UserStore;
  /** The client-side spans (publish, deliver, settle); null: none. */
  readonly tracing: Tracing | null;
}

export type { PublishInput } from '../protocol/index.js';

export class InProcessClient implements Client {
  readonly id: string;
  readonly streams: StreamsApi;
  readonly subscriptions: SubscriptionsApi;
  readonly deadLetters: DeadLettersApi;
  readonly users: UsersApi;
  readonly schedules: SchedulesApi;
  readonly cluster: ClusterApi;
  readonly #core: BrokerCore;
  readonly #identity: ClientIdentity;
  readonly #consumers = new Set<Consumer>();
  readonly #onClose: (client: InProcessClient) => void;
  /**
   * Whether the principal is not admin: every publish and subscribe is checked. False for an
   * admin and for the open broker, whose publishes then cost this one boolean and nothing else.
   */
  #restricted: boolean;
  /** What the principal may do now (usersChanged() replaces it when the user's record changes). */
  #access: Access;
  /** The user was removed: nothing more is allowed, whatever a later user of that name may do. */
  #revoked = false;
  /** The replies this client may send (only consulted when restricted). */
  readonly #grants: ReplyGrants;
  #inbox: Inbox | null = null;
  #closed = false;
  /** Publish spans, and the deliver and settle spans of this client's consumers; null: none. */
  readonly #tracing: Tracing | null;

  constructor(
    core: BrokerCore,
    id: string,
    onClose: (client: InProcessClient) => void,
    identity: ClientIdentity,
  ) {
    this.id = id;
    this.#core = core;
    this.#identity = identity;
    this.#onClose = onClose;
    this.#access = identity.access;
    this.#restricted = !identity.access.admin;
    this.#tracing = identity.tracing;
    this.#grants = new ReplyGrants(core.clock);
    const open = <T>(operation: () => Promise<T>): Promise<T> => {
      if (this.#closed) return Promise.reject(new WeirError('CLOSED', 'the client is closed'));
      try {
        return operation();
      } catch (error) {
        return rejection(error);
      }
    };
    const { users } = identity;
    /**
     * An admin action (or a seek): checked, then audited with who asked, from where, what on
     * what, and how it ended (ok, or refused with the error's code: NOT_AUTHORIZED when the
     * check refused it, the broker's code when the action failed).
     */
    const audited = <T>(
      action: string,
      target: AuditTarget,
      check: () => void,
      operation: () => Promise<T>,
    ): Promise<T> =>
      open(async () => {
        const event = {
          action,
          user: this.#access.principal.user,
          remote: identity.remote,
          ...target,
        };
        try {
          check();
          const result = await operation();
          audit({ ...event, outcome: 'ok' });
          return result;
        } catch (error) {
          audit({ ...event, outcome: 'refused', code: toWeirError(error).code });
          throw error;
        }
      });
    const adminOnly = (what: string) => () => this.#access.checkAdmin(what);
    const onStream = (name: unknown): AuditTarget => ({
      target: textOf(name),
      stream: textOf(name),
    });
    const onSubscription = (stream: unknown, name: unknown): AuditTarget => ({
      target: `${String(stream)}/${String(name)}`,
      stream: textOf(stream),
      subscription: textOf(name),
    });
    const onSubject = (subject: unknown): AuditTarget => ({
      target: textOf(subject),
      subject: textOf(subject),
    });
    this.streams = {
      create: (name, options) =>
        audited('streams.create', onStream(name), adminOnly(`create stream ${String(name)}`), () =>
          core.createStream(name, options),
        ),
      info: (name) => open(() => core.streamInfo(name)),
      list: () => open(() => core.listStreams()),
      update: (name, changes) =>
        audited('streams.update', onStream(name), adminOnly(`update stream ${String(name)}`), () =>
          core.updateStream(name, changes),
        ),
      delete: (name) =>
        audited('streams.delete', onStream(name), adminOnly(`delete stream ${String(name)}`), () =>
          core.deleteStream(name),
        ),
      purge: (name) =>
        audited('streams.purge', onStream(name), adminOnly(`purge stream ${String(name)}`), () =>
          core.purgeStream(name),
        ),
    };
    this.subscriptions = {
      info: (stream, name) => open(() => core.subscriptionInfo(stream, name)),
      list: (stream) => open(() => core.listSubscriptions(stream)),
      delete: (stream, name) =>
        audited(
          'subscriptions.delete',
          onSubscription(stream, name),
          adminOnly(`delete subscription ${String(name)} of stream ${String(stream)}`),
          () => core.deleteSubscription(stream, name),
        ),
      // Not admin only: a consumer may replay what it may consume (issue 13).
      seek: (stream, name, position) =>
        audited(
          'subscriptions.seek',
          onSubscription(stream, name),
          () => {
            if (!this.#access.maySubscribe(stream, name)) {
              throw this.#access.refusal(
                `seek subscription ${String(name)} of stream ${String(stream)}`,
              );
            }
          },
          () => core.seek(stream, name, position),
        ),
      // Open to every principal, as subscription info is.
      progress: (stream, name, selector) => open(() => core.findProgress(stream, name, selector)),
      progressList: (stream, name) => open(() => core.listProgress(stream, name)),
    };
    this.deadLetters = {
      list: (subject, options) =>
        open(() => {
          this.#access.checkAdmin('list dead letters');
          return listDeadLetters(core, subject, options);
        }),
      redrive: (subject, options) =>
        audited('deadLetters.redrive', onSubject(subject), adminOnly('redrive dead letters'), () =>
          redriveDeadLetters(core, subject, options),
        ),
      delete: (subject, options) =>
        audited('deadLetters.delete', onSubject(subject), adminOnly('delete dead letters'), () =>
          deleteDeadLetters(core, subject, options),
        ),
    };
    /** An admin action on users: `action` also completes the refusal ("may not users.add"). */
    const admin = <T>(action: string, name: unknown, operation: () => Promise<T>): Promise<T> =>
      audited(action, { target: textOf(name) }, adminOnly(action), operation);
    this.users = {
      list: () =>
        open(() => {
          this.#access.checkAdmin('list users');
          return Promise.resolve(users.list());
        }),
      info: (name) =>
        open(() => {
          this.#access.checkAdmin('read users');
          return Promise.resolve(users.get(name));
        }),
      add: (name, options) => admin('users.add', name, () => users.add(name, options)),
      update: (name, changes) => admin('users.update', name, () => users.update(name, changes)),
      setPassword: (name, password) =>
        admin('users.setPassword', name, () => users.setPassword(name, password)),
      delete: (name) => admin('users.delete', name, () => users.remove(name)),
      addToken: (name) => admin('users.addToken', name, () => users.addToken(name)),
      deleteToken: (name, tokenId) =>
        admin('users.deleteToken', name, () => users.removeToken(name, tokenId)),
      whoami: () =>
        open(() => {
          const { principal } = this.#access;
          return Promise.resolve({
            user: principal.user,
            admin: principal.admin,
            allow: [...principal.allow],
            deny: [...principal.deny],
          });
        }),
    };
    /**
     * Schedules publish as the broker, so making or removing one needs what publishing to its
     * subject needs (admin passes): a producer may schedule what it may send, and no more.
     * Listing and reading them is open to every principal, as stream information is.
     */
    const mayPublishTo = (subject: unknown, what: string) => () => {
      if (this.#restricted && (typeof subject !== 'string' || !this.#access.mayPublish(subject))) {
        throw this.#access.refusal(what);
      }
    };
    const onSchedule = (name: unknown): AuditTarget => ({
      target: textOf(name),
      schedule: textOf(name),
    });
    this.schedules = {
      create: (name, options) =>
        audited(
          'schedules.create',
          onSchedule(name),
          mayPublishTo(
            (options as { subject?: unknown } | undefined)?.subject,
            `create schedule ${String(name)}: it publishes to ${String((options as { subject?: unknown } | undefined)?.subject)}`,
          ),
          () => core.schedules.create(name, options),
        ),
      list: () => open(() => core.schedules.list()),
      info: (name) => open(() => core.schedules.info(name)),
      delete: (name) =>
        audited(
          'schedules.delete',
          onSchedule(name),
          () => {
            if (!this.#restricted) return;
            const subject = core.schedules.subjectOf(name); // SCHEDULE_NOT_FOUND first
            mayPublishTo(subject, `delete schedule ${String(name)}: it publishes to ${subject}`)();
          },
          () => core.schedules.delete(name),
        ),
    };
    // Open to every principal, as stream information is (it names nodes, streams and settings).
    this.cluster = {
      status: () => open(() => Promise.resolve(core.clusterStatus())),
    };
  }

  /** Who this client acts for (the server and admin layers read it). */
  get identity(): ClientIdentity {
    return { ...this.#identity, access: this.#access };
  }

  get closed(): boolean {
    return this.#closed;
  }

  publish(subject: string, body: Body, options?: PublishOptions): Promise<PublishReceipt> {
    if (this.#tracing !== null) return this.#tracedPublish(this.#tracing, subject, body, options);
    return this.#publish(subject, body, options);
  }

  /** publish() inside a publish span whose context the message's headers carry. */
  #tracedPublish(
    tracing: Tracing,
    subject: string,
    body: Body,
    options: PublishOptions | undefined,
  ): Promise<PublishReceipt> {
    const started = tracing.startPublish('publish', subject, options, bodySizeOf(body));
    return tracing.traced(
      started.span,
      this.#publish(subject, body, started.options),
      (span, receipt) => tracing.endPublish(span, receipt, options?.id),
    );
  }

  #publish(
    subject: string,
    body: Body,
    options: PublishOptions | undefined,
  ): Promise<PublishReceipt> {
    if (this.#closed) return Promise.reject(new WeirError('CLOSED', 'the client is closed'));
    const refused = refusedOptions(options);
    if (refused) return Promise.reject(refused);
    if (this.#restricted) {
      const refusal = this.#refusedPublish(subject, options);
      if (refusal) return Promise.reject(refusal);
    }
    if (options?.confirm === false) {
      // Fire-and-forget (at-most-once), as over the network: not waited for, failures dropped.
      const { confirm: _confirm, ...rest } = options;
      this.#core.publish(subject, body, rest).catch(() => undefined);
      return Promise.resolve(UNCONFIRMED_RECEIPT);
    }
    return this.#core.publish(subject, body, options);
  }

  /**
   * Publishes `entries` in order and resolves once all are settled, with each entry's receipt
   * or error, in order. What the server does with a PUBLISH frame: instead of a promise (and
   * a chain of them) per message, publishes to one stream are queued at once and the batch
   * waits once per log touched.
   */
  publishBatch(entries: readonly PublishInput[]): Promise<(PublishReceipt | WeirError)[]> {
    if (!Array.isArray(entries)) {
      return Promise.reject(new WeirError('INVALID_ARGUMENT', 'entries must be an array'));
    }
    if (this.#tracing !== null) return this.#tracedBatch(this.#tracing, entries);
    const outcomes = new Array<PublishReceipt | WeirError>(entries.length);
    const waits: Promise<unknown>[] = [];
    // The logs to wait for, with the end offset in each; most frames touch one.
    let firstLog: PartitionLog | null = null;
    let firstEnd = 0;
    let otherEnds: Map<PartitionLog, number> | null = null;
    let placedIn: (PartitionLog | null)[] | null = null;
    for (let index = 0; index < entries.length; index++) {
      const entry = entries[index] as PublishInput | null | undefined;
      if (typeof entry !== 'object' || entry === null) {
        outcomes[index] = new WeirError('INVALID_ARGUMENT', `entries[${index}] must be an object`);
        continue;
      }
      let options = entry.options;
      const refused = refusedOptions(options);
      if (refused) {
        outcomes[index] = refused;
        continue;
      }
      const confirm = options?.confirm !== false;
      if (this.#restricted) {
        // A refused entry fails alone; the others of the batch go on. An unconfirmed one gets
        // the unconfirmed receipt whatever became of it (Client.publishBatch, as over TCP).
        const refusal = this.#refusedPublish(entry.subject, options);
        if (refusal) {
          outcomes[index] = confirm ? refusal : UNCONFIRMED_RECEIPT;
          continue;
        }
      }
      if (!confirm) {
        const { confirm: _confirm, ...rest } = options!;
        options = rest;
      }
      try {
        if (this.#closed) throw new WeirError('CLOSED', 'the client is closed');
        const placed = this.#core.publishNow(entry.subject, entry.body, options);
        if ('later' in placed) {
          if (confirm) {
            waits.push(
              placed.later.then(
                (receipt) => (outcomes[index] = receipt),
                (error: unknown) => (outcomes[index] = toWeirError(error)),
              ),
            );
          } else {
            outcomes[index] = UNCONFIRMED_RECEIPT;
            placed.later.catch(() => undefined);
          }
          continue;
        }
        outcomes[index] = confirm ? placed.receipt : UNCONFIRMED_RECEIPT;
        if (!confirm) continue;
        if (firstLog === null || firstLog === placed.log) {
          firstLog = placed.log;
          firstEnd = Math.max(firstEnd, placed.end);
        } else {
          otherEnds ??= new Map();
          otherEnds.set(placed.log, Math.max(otherEnds.get(placed.log) ?? 0, placed.end));
        }
        (placedIn ??= new Array<PartitionLog | null>(entries.length).fill(null))[index] =
          placed.log;
      } catch (error) {
        outcomes[index] = confirm ? toWeirError(error) : UNCONFIRMED_RECEIPT;
      }
    }
    const wait = (log: PartitionLog, end: number): void => {
      waits.push(
        log.durable(end).catch((error: unknown) => {
          // The log failed: every entry queued in it failed with it.
          for (let index = 0; index < entries.length; index++) {
            if (placedIn![index] === log) outcomes[index] = toWeirError(error);
          }
        }),
      );
    };
    if (firstLog !== null) wait(firstLog, firstEnd);
    if (otherEnds !== null) for (const [log, end] of otherEnds) wait(log, end);
    if (waits.length === 0) return Promise.resolve(outcomes);
    if (waits.length === 1) return waits[0]!.then(() => outcomes);
    return Promise.all(waits).then(() => outcomes);
  }

  /** A traced batch: a publish span per entry (each message carries its own context). */
  #tracedBatch(
    tracing: Tracing,
    entries: readonly PublishInput[],
  ): Promise<(PublishReceipt | WeirError)[]> {
    return Promise.all(
      entries.map((entry: PublishInput | null | undefined, index) =>
        typeof entry !== 'object' || entry === null
          ? Promise.resolve(
              new WeirError('INVALID_ARGUMENT', `entries[${index}] must be an object`),
            )
          : this.#tracedPublish(tracing, entry.subject, entry.body, entry.options).catch(
              toWeirError,
            ),
      ),
    );
  }

  async subscribe(stream: string, options?: SubscribeOptions): Promise<Subscription> {
    if (this.#closed) throw new WeirError('CLOSED', 'the client is closed');
    if (this.#consumers.size >= CLIENT_CONSUMERS_MAX) {
      throw new WeirError('LIMIT_EXCEEDED', `the client holds ${CLIENT_CONSUMERS_MAX} consumers`);
    }
    if (this.#restricted && typeof stream === 'string') {
      // A name that is not a string is left for the core to refuse, naming the field.
      const name: unknown = options?.subscription;
      this.#access.checkSubscribe(stream, typeof name === 'string' ? name : null);
    }
    const consumer = await this.#core.subscribe(
      stream,
      options,
      (closed) => this.#consumers.delete(closed),
      // Any user's client is told of deliveries (its permissions may change while it consumes);
      // the open broker's clients are not.
      this.#access.principal.user !== null ? this.#delivered : null,
      this.#tracing,
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
      if (this.#restricted && typeof subject === 'string') {
        const access = this.#access;
        if (!access.mayPublish(subject)) throw access.refusal(`send a request to ${subject}`);
      }
      const { timeoutMs: given, onProgress, ...publishOptions } = options ?? {};
      if (onProgress !== undefined && typeof onProgress !== 'function')
        throw new WeirError('INVALID_ARGUMENT', 'onProgress must be a function');
      const timeoutMs =
        given === undefined
          ? REQUEST_TIMEOUT_MS_DEFAULT
          : integerIn(given, 'timeoutMs', 1, REQUEST_TIMEOUT_MS_MAX);
      const inbox = (this.#inbox ??= this.#core.openInbox());
      // The request carries its deadline and expires with it: a stored request whose
      // requester gave up is never delivered to a responder that comes later.
      const deadline = this.#core.now() + timeoutMs;
      const givenTtlMs = publishOptions.ttlMs;
      // A shorter ttl is kept; a bad one is left for the codec to refuse, naming it.
      const ttlMs =
        typeof givenTtlMs === 'number' && givenTtlMs >= timeoutMs
          ? timeoutMs
          : (givenTtlMs ?? timeoutMs);
      const headers = publishOptions.headers;
      if (headers !== undefined && (typeof headers !== 'object' || headers === null)) {
        throw new WeirError('INVALID_ARGUMENT', 'headers must be an object of strings');
      }
      const tracing = this.#tracing;
      return inbox.request(
        timeoutMs,
        (correlationId) => {
          const requestOptions: PublishOptions = {
            ...publishOptions,
            headers: { ...headers, [REQUEST_HEADERS.deadline]: String(deadline) },
            ttlMs,
            replyTo: inbox.subject,
            correlationId,
          };
          if (tracing === null) return this.#core.publish(subject, body, requestOptions);
          // The request's publish span: the reply (a child of the responder's deliver span)
          // comes back in its trace.
          const started = tracing.startPublish(
            'request',
            subject,
            requestOptions,
            bodySizeOf(body),
          );
          return tracing.traced(
            started.span,
            this.#core.publish(subject, body, started.options),
            (span, receipt) => tracing.endPublish(span, receipt, publishOptions.id),
          );
        },
        onProgress ?? null,
      );
    } catch (error) {
      return rejection(error);
    }
  }

  /** A work queue over this client's own calls (protocol/queue.ts). */
  queue(name: string, options?: QueueOptions): Promise<Queue> {
    if (this.#closed) return Promise.reject(new WeirError('CLOSED', 'the client is closed'));
    return openQueue(this, name, options);
  }

  /**
   * Runs fn, then commits what it buffered in one transaction (transactions.ts). A publish is
   * encoded as it is buffered (INVALID_ARGUMENT at once) and checked against this client's
   * permissions at the commit (a refusal aborts it, TRANSACTION_ABORTED naming NOT_AUTHORIZED).
   */
  transaction<T>(fn: (tx: Transaction) => Promise<T>, options?: TransactionOptions): Promise<T> {
    if (this.#closed) return Promise.reject(new WeirError('CLOSED', 'the client is closed'));
    return runTransaction(this.#transactionTransport, fn, options);
  }

  readonly #transactionTransport: TransactionTransport<
    {
      subject: string;
      options: PublishOptions | undefined;
      message: TransactionPublish['message'];
    },
    DeliveredMessage
  > = {
    preparePublish: (subject, body, options) => {
      const refused = refusedOptions(options);
      if (refused) throw refused;
      const message = encodeMessage(subject, body, options, this.#core.now());
      return { entry: { subject, options, message }, bytes: message.bytes };
    },
    prepareAck: (message) => {
      if (!(message instanceof DeliveredMessage)) {
        throw new WeirError(
          'INVALID_ARGUMENT',
          'tx.ack takes a message this client received from a subscription',
        );
      }
      return message;
    },
    commit: (publishes, acks) => {
      if (this.#closed) return Promise.reject(new WeirError('CLOSED', 'the client is closed'));
      return this.#core.commitTransaction({
        publishes: publishes.map(({ subject, options, message }) => ({
          message,
          // An inbox is refused by the commit itself: no reply grant is used up here.
          refusal:
            this.#restricted && !isInboxSubject(subject)
              ? this.#refusedPublish(subject, options)
              : null,
        })),
        acks,
        holders: this.#consumers,
      });
    },
  };

  /**
   * Why a restricted client may not publish to `subject` (null: it may). An inbox takes only
   * the reply to a request this client's consumers were delivered, once (the grant is used up
   * here, before the publish: a reply that then fails to publish is not sent again).
   */
  #refusedPublish(subject: unknown, options: PublishOptions | undefined): WeirError | null {
    if (typeof subject !== 'string') return null; // the codec refuses it, naming the field
    const access = this.#access;
    if (isInboxSubject(subject)) {
      const correlationId: unknown = options?.correlationId;
      if (this.#grants.use(subject, typeof correlationId === 'string' ? correlationId : null)) {
        return null;
      }
      return access.refusal(
        `publish to ${subject}: an inbox takes only one reply to a request this client was delivered, before its deadline`,
      );
    }
    return access.mayPublish(subject) ? null : access.refusal(`publish to ${subject}`);
  }

  /**
   * Told of each delivery to a consumer of this (restricted) client: a request grants its
   * reply, and the delivery's respond() goes through this client's checks.
   */
  readonly #delivered = (message: DeliveredMessage): void => {
    if (!this.#restricted) return;
    const replyTo = message.replyTo;
    if (replyTo !== null && isInboxSubject(replyTo)) {
      this.#grants.grant(replyTo, message.correlationId, message.headers);
    }
    message.responder = this.#respond;
  };

  /** msg.respond() of a restricted client's delivery: a publish of this client. */
  readonly #respond: Responder = (message, body, options) => {
    if (message.replyTo === null) {
      return Promise.reject(
        new WeirError('INVALID_ARGUMENT', 'the message has no replyTo to respond to'),
      );
    }
    const publishOptions: { headers?: Headers; correlationId?: string } = {};
    if (options?.headers !== undefined) publishOptions.headers = options.headers;
    if (message.correlationId !== null) publishOptions.correlationId = message.correlationId;
    // Not this.publish: a traced reply already is in its own publish span (delivery.ts).
    return this.#publish(message.replyTo, body, publishOptions).then(() => undefined);
  };

  /**
   * The broker's users changed: from now on this client acts on its user's current record (a
   * permission taken away is refused at the next call). A removed user's client can do
   * nothing more: every call is refused and its consumers end, handing their leases back.
   */
  usersChanged(): void {
    const user = this.#access.principal.user;
    if (user === null || this.#closed || this.#revoked) return;
    const principal = this.#identity.users.principal(user);
    if (principal !== null) {
      this.#access = new Access(principal);
      this.#restricted = !principal.admin;
      return;
    }
    this.#revoked = true;
    this.#access = new Access({ user, admin: false, allow: [], deny: [] });
    this.#restricted = true;
    for (const consumer of [...this.#consumers]) void consumer.close().catch(() => undefined);
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

/** What an audit event names besides who and how it ended. */
interface AuditTarget {
  readonly target: string | null;
  readonly [field: string]: string | null;
}

function textOf(value: unknown): string | null {
  return typeof value === 'string' ? value : null;
}

/**
 * What the network SDK refuses before sending (its argument-checks): publish options that are
 * not a plain object, and a `confirm` that is not a boolean (taken as true here otherwise).
 */
function refusedOptions(options: PublishOptions | undefined): WeirError | null {
  if (Array.isArray(options)) {
    return new WeirError('INVALID_ARGUMENT', 'publish options must be an object');
  }
  const confirm: unknown = options?.confirm;
  if (confirm !== undefined && typeof confirm !== 'boolean') {
    return new WeirError('INVALID_ARGUMENT', 'confirm must be true or false');
  }
  return null;
}
