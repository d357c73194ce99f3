/**
 * The network Client: api.ts `Client` over one connection at a time, reconnecting by itself.
 *
 * Lifecycle: connected (a Connection) → connection lost → reconnecting (timer, backoff from
 * CLIENT_RECONNECT_DELAY_MS_FIRST doubling to CLIENT_RECONNECT_DELAY_MS_MAX, full jitter) →
 * connected again, which re-subscribes every subscription; or closed (close(), reconnect off,
 * or a handshake refusal that will not change: NOT_AUTHORIZED, protocol version).
 *
 * Every connect, the first and each reconnect, is one round over the address's hosts
 * (host-list.ts: a cluster's nodes, followers pointing at the leader); the backoff is between
 * rounds. The first connect is one round: connect() rejects with its last failure.
 *
 * No promise hangs: queued work (publishes, calls, subscribes, requests) waits a bounded time
 * for a connection; work in flight fails with CLOSED with its connection; close() fails all of
 * it with CLOSED and closes every subscription (their queued settles and takes go out first,
 * waited for at most CLIENT_CLOSE_SETTLES_WAIT_MS_MAX).
 *
 * Outgoing work leaves once per tick (`#flush` on setImmediate), in this order: settles and
 * UNSUBSCRIBEs (they free broker resources), calls/subscribes/requests, publishes.
 */
import {
  CLIENT_CALL_WAIT_MS_MAX,
  CLIENT_CLOSE_SETTLES_WAIT_MS_MAX,
  CLIENT_RECONNECT_DELAY_MS_FIRST,
  CLIENT_RECONNECT_DELAY_MS_MAX,
  CLIENT_RECONNECT_DELAY_MS_ELECTING_MAX,
  REQUEST_TIMEOUT_MS_DEFAULT,
  REQUEST_TIMEOUT_MS_MAX,
} from '../limits.js';
import { Reader } from '../protocol/codec.js';
import { toWeirError } from '../util/index.js';
import { OPCODES } from '../protocol/frame.js';
import { readDeliveredMessage, writePublishEntry } from '../protocol/frames.js';
import {
  WeirError,
  isWeirError,
  openQueue,
  progressOf,
  type Body,
  type Client,
  type DeadLettersApi,
  type Message,
  type PublishInput,
  type PublishOptions,
  type PublishReceipt,
  type Queue,
  type QueueOptions,
  type RequestOptions,
  type SchedulesApi,
  type ClusterApi,
  type StreamsApi,
  type SubscribeOptions,
  type Subscription,
  type SubscriptionsApi,
  type Transaction,
  type TransactionOptions,
  type UsersApi,
  runTransaction,
} from '../protocol/index.js';
import {
  checkIntegerIn,
  checkName,
  checkPublishOptions,
  checkString,
  rejectWith,
  toArgumentsJson,
  type ClientSettings,
} from './argument-checks.js';
import { encodeBody } from '../protocol/body-encoding.js';
import { Connection, type ConnectionEvents } from './connection.js';
import { ConsumerRegistry } from './consumer-registry.js';
import { ControlQueue, type ControlOperation } from './control-queue.js';
import {
  createDeadLettersApi,
  createSchedulesApi,
  createClusterApi,
  createStreamsApi,
  createSubscriptionsApi,
  createUsersApi,
} from './management-api.js';
import { Publisher } from './publisher.js';
import { RemoteMessage, type MessageResponder } from './remote-message.js';
import { RemoteSubscription } from './remote-subscription.js';
import { remoteTransactionTransport } from './remote-transaction.js';
import type { HostList } from './host-list.js';
import type { TransportConnector } from './transport.js';
import { Tracing } from '../protocol/tracing.js';

/** Past this many doublings the reconnect delay is at its maximum anyway. */
const RECONNECT_DOUBLINGS_MAX = 30;

/** Handshake refusals a retry will not change. */
function isPermanent(error: WeirError): boolean {
  return error.code === 'NOT_AUTHORIZED' || error.code === 'PROTOCOL_ERROR';
}

export class NetworkClient implements Client {
  readonly streams: StreamsApi;
  readonly subscriptions: SubscriptionsApi;
  readonly deadLetters: DeadLettersApi;
  readonly users: UsersApi;
  readonly schedules: SchedulesApi;
  readonly cluster: ClusterApi;
  readonly #hosts: HostList;
  readonly #settings: ClientSettings;
  readonly #connector: TransportConnector;
  readonly #publisher: Publisher;
  readonly #controls = new ControlQueue();
  readonly #consumers: ConsumerRegistry;
  readonly #connectionEvents: ConnectionEvents;
  #connection: Connection | null = null;
  #closed = false;
  #closing: Promise<void> | null = null;
  /** Closed, but the subscriptions' last settles and UNSUBSCRIBEs still go out. */
  #draining = false;
  #flushScheduled = false;
  #reconnectAttempt = 0;
  #reconnectTimer: ReturnType<typeof setTimeout> | null = null;
  /** Publish, deliver and settle spans (tracing.ts); null: none, one check per publish. */
  readonly #tracing: Tracing | null;
  /** What a received message replies through (remote-message.ts). */
  readonly #responder: MessageResponder;

  private constructor(
    hosts: HostList,
    settings: ClientSettings,
    connector: TransportConnector,
    tracing: Tracing | null,
  ) {
    this.#tracing = tracing;
    this.#responder = {
      publish: (...args) => this.publish(...args),
      publishUntraced: (...args) => this.publishUntraced(...args),
      tracing,
    };
    this.#hosts = hosts;
    this.#settings = settings;
    this.#connector = connector;
    this.#publisher = new Publisher(hosts.url);
    this.#consumers = new ConsumerRegistry(
      () => this.#scheduleFlush(),
      (what) => this.#waitError(what),
    );
    const call = (method: string, args: readonly unknown[]): Promise<unknown> =>
      this.#call(method, args);
    this.streams = createStreamsApi(call);
    this.subscriptions = createSubscriptionsApi(call);
    this.deadLetters = createDeadLettersApi(call);
    this.users = createUsersApi(call);
    this.schedules = createSchedulesApi(call);
    this.cluster = createClusterApi(call);
    this.#connectionEvents = {
      unsolicited: (connection, opcode, payload, owned) => {
        if (connection !== this.#connection) return;
        // A reassembled frame's payload is the decoder's until we return: copy it, once, so
        // message bodies can stay views (remote-message.ts).
        if (opcode === OPCODES.DELIVER) this.#consumers.deliver(owned ? payload : payload.slice());
        else this.#consumers.consumerClosed(payload, connection);
      },
      writable: (connection) => {
        if (connection === this.#connection) this.#scheduleFlush();
      },
      closed: (connection, error) => this.#onConnectionClosed(connection, error),
    };
  }

  /**
   * Connects: one round over the hosts; rejects with CLOSED (unreachable), NOT_LEADER (no
   * node leads) or the server's refusal.
   */
  static async open(
    hosts: HostList,
    settings: ClientSettings,
    connector: TransportConnector,
  ): Promise<NetworkClient> {
    const tracing = await Tracing.load(settings.tracing, settings.openTelemetryLoader);
    const client = new NetworkClient(hosts, settings, connector, tracing);
    const connection = await client.#openConnection();
    if (!connection.isOpen) {
      throw new WeirError(
        'CLOSED',
        `the connection to ${connection.address.url} closed right after the handshake`,
      );
    }
    client.#adopt(connection);
    return client;
  }

  get closed(): boolean {
    return this.#closed;
  }

  publish(subject: string, body: Body, options?: PublishOptions): Promise<PublishReceipt> {
    return this.#publish(subject, body, options, this.#tracing);
  }

  /** publish() without a span (a traced reply makes its own: remote-message.ts). */
  publishUntraced(subject: string, body: Body, options?: PublishOptions): Promise<PublishReceipt> {
    return this.#publish(subject, body, options, null);
  }

  #publish(
    subject: string,
    body: Body,
    options: PublishOptions | undefined,
    tracing: Tracing | null,
  ): Promise<PublishReceipt> {
    if (this.#closed) return Promise.reject(this.#closedError());
    let bytes: Uint8Array;
    let checked: PublishOptions;
    try {
      checkName(subject, 'subject');
      checked = checkPublishOptions(options);
      bytes = encodeBody(body);
    } catch (error) {
      return rejectWith(error);
    }
    if (tracing !== null) {
      // The span's context goes out in the message's headers (traceparent, tracestate).
      const started = tracing.startPublish('publish', subject, checked, bytes.length);
      const receipt = this.#publisher.enqueue(subject, bytes, started.options ?? checked);
      this.#scheduleFlush();
      return tracing.traced(started.span, receipt, (span, result) =>
        tracing.endPublish(span, result, checked.id),
      );
    }
    const receipt = this.#publisher.enqueue(subject, bytes, checked);
    this.#scheduleFlush();
    return receipt;
  }

  /**
   * Queues every entry at once, in order, so that they leave in one PUBLISH frame (more than
   * one only past PUBLISH_BATCH_MESSAGES_MAX, the frame limit or the in-flight window), and
   * resolves with each entry's receipt or error, as the embedded client does.
   */
  publishBatch(entries: readonly PublishInput[]): Promise<(PublishReceipt | WeirError)[]> {
    if (!Array.isArray(entries)) {
      return rejectWith(new WeirError('INVALID_ARGUMENT', 'entries must be an array'));
    }
    return Promise.all(
      entries.map((entry: PublishInput | null | undefined, index) =>
        typeof entry !== 'object' || entry === null
          ? Promise.resolve(
              new WeirError('INVALID_ARGUMENT', `entries[${index}] must be an object`),
            )
          : this.publish(entry.subject, entry.body, entry.options).catch(toWeirError),
      ),
    );
  }

  async subscribe(stream: string, options?: SubscribeOptions): Promise<Subscription> {
    if (this.#closed) throw this.#closedError();
    // Only the type: the server looks the name up ('' is STREAM_NOT_FOUND, as embedded).
    checkString(stream, 'stream');
    if (options !== undefined && (typeof options !== 'object' || options === null)) {
      throw new WeirError('INVALID_ARGUMENT', 'subscribe options must be an object');
    }
    const subscription = new RemoteSubscription(
      {
        ...this.#responder,
        forget: (ended) => this.#consumers.forget(ended),
        clock: this.#settings.clock,
      },
      stream,
      options ?? {},
    );
    await new Promise<void>((resolve, reject) => {
      const operation = this.#consumers.subscribeOperation(subscription, (error) =>
        error ? reject(error) : resolve(),
      );
      this.#enqueueControl(operation);
    });
    return subscription;
  }

  request(subject: string, body: Body, options?: RequestOptions): Promise<Message> {
    if (this.#closed) return Promise.reject(this.#closedError());
    let bytes: Uint8Array;
    let publishOptions: PublishOptions;
    let timeoutMs: number;
    let onProgress: RequestOptions['onProgress'];
    try {
      checkName(subject, 'subject');
      const {
        timeoutMs: requested = REQUEST_TIMEOUT_MS_DEFAULT,
        onProgress: given,
        ...rest
      } = options ?? {};
      if (given !== undefined && typeof given !== 'function')
        throw new WeirError('INVALID_ARGUMENT', 'onProgress must be a function');
      onProgress = given;
      timeoutMs = checkIntegerIn(requested, 'timeoutMs', 1, REQUEST_TIMEOUT_MS_MAX);
      // The server sets replyTo and correlationId of a request itself.
      const checked: { -readonly [K in keyof PublishOptions]: PublishOptions[K] } = {
        ...checkPublishOptions(rest),
      };
      delete checked.replyTo;
      delete checked.correlationId;
      publishOptions = checked;
      bytes = encodeBody(body);
    } catch (error) {
      return rejectWith(error);
    }
    const tracing = this.#tracing;
    if (tracing === null)
      return this.#request(subject, bytes, publishOptions, timeoutMs, onProgress);
    // The request's publish span ends with the reply, which comes back in its trace.
    const started = tracing.startPublish('request', subject, publishOptions, bytes.length);
    return tracing.traced(
      started.span,
      this.#request(subject, bytes, started.options ?? publishOptions, timeoutMs, onProgress),
      (span) => tracing.endPublish(span, null, null),
    );
  }

  #request(
    subject: string,
    bytes: Uint8Array,
    publishOptions: PublishOptions,
    timeoutMs: number,
    onProgress: RequestOptions['onProgress'],
  ): Promise<Message> {
    const deadline = Date.now() + timeoutMs;
    return new Promise<Message>((resolve, reject) => {
      this.#enqueueControl({
        opcode: OPCODES.REQUEST,
        waitMs: timeoutMs,
        expired: () =>
          new WeirError(
            'TIMEOUT',
            `no reply to ${subject} in ${timeoutMs} ms: ${this.#waitError('it').message}`,
          ),
        // REQUEST: publish entry, f64 timeoutMs (what is left of it).
        write: (writer) => {
          writePublishEntry(writer, subject, bytes, publishOptions);
          writer.f64(Math.max(1, deadline - Date.now()));
          return true;
        },
        handler: {
          expects: OPCODES.REPLY,
          reply: (payload, owned) => {
            const reader = new Reader(owned ? payload : payload.slice());
            const delivered = readDeliveredMessage(reader);
            reader.done();
            resolve(new RemoteMessage(delivered, 0, null, null, this.#responder));
          },
          // REPLY frames flagged as progress (protocol 6) come before the reply.
          progress: (payload) => {
            const reader = new Reader(payload);
            const delivered = readDeliveredMessage(reader);
            reader.done();
            const progress = progressOf(delivered.headers, delivered.body);
            if (progress === null || onProgress === undefined) return;
            try {
              onProgress(progress.value, progress.info);
            } catch {
              // The requester's callback failing is its own affair; the request waits on.
            }
          },
          fail: reject,
        },
      });
    });
  }

  /** Buffers what fn publishes and acks, then sends it in one TX_COMMIT (remote-transaction.ts). */
  transaction<T>(fn: (tx: Transaction) => Promise<T>, options?: TransactionOptions): Promise<T> {
    if (this.#closed) return Promise.reject(this.#closedError());
    return runTransaction(this.#transactionTransport, fn, options);
  }

  readonly #transactionTransport = remoteTransactionTransport({
    enqueue: (operation) => this.#enqueueControl(operation),
    waitError: (what) => this.#waitError(what),
  });

  /** A work queue built from existing calls (protocol/queue.ts): no opcode of its own. */
  queue(name: string, options?: QueueOptions): Promise<Queue> {
    if (this.#closed) return Promise.reject(new WeirError('CLOSED', 'the client is closed'));
    return openQueue(this, name, options);
  }

  close(): Promise<void> {
    this.#closing ??= this.#shutDown(new WeirError('CLOSED', 'the client was closed'));
    return this.#closing;
  }

  #closedError(): WeirError {
    return new WeirError('CLOSED', `the client of ${this.#hosts.url} is closed`);
  }

  /** Why queued work gave up waiting. */
  #waitError(what: string): WeirError {
    return this.#connection
      ? new WeirError('TIMEOUT', `${what} found no free request slot in time`)
      : new WeirError('CLOSED', `no connection to ${this.#hosts.url} for ${what}, waited too long`);
  }

  #call(method: string, args: readonly unknown[]): Promise<unknown> {
    if (this.#closed) return Promise.reject(this.#closedError());
    let length = args.length;
    while (length > 0 && args[length - 1] === undefined) length--;
    let argumentsJson: string;
    try {
      argumentsJson = toArgumentsJson(args.slice(0, length), `the arguments of ${method}`);
    } catch (error) {
      return rejectWith(error);
    }
    return new Promise<unknown>((resolve, reject) => {
      this.#enqueueControl({
        opcode: OPCODES.CALL,
        waitMs: CLIENT_CALL_WAIT_MS_MAX,
        expired: () => this.#waitError(method),
        write: (writer) => {
          writer.string(method).string(argumentsJson);
          return true;
        },
        handler: {
          expects: OPCODES.RESULT,
          reply: (payload) => {
            const reader = new Reader(payload);
            const resultJson = reader.text();
            reader.done();
            try {
              resolve(JSON.parse(resultJson));
            } catch (error) {
              throw new WeirError('PROTOCOL_ERROR', `the RESULT of ${method} is not JSON`, {
                cause: error,
              });
            }
          },
          fail: reject,
        },
      });
    });
  }

  #enqueueControl(operation: ControlOperation): void {
    if (this.#closed) {
      operation.handler.fail(this.#closedError());
      return;
    }
    this.#controls.enqueue(operation);
    this.#scheduleFlush();
  }

  #scheduleFlush(): void {
    if (this.#flushScheduled || (this.#closed && !this.#draining)) return;
    this.#flushScheduled = true;
    setImmediate(() => this.#flush());
  }

  #flush(): void {
    this.#flushScheduled = false;
    const connection = this.#connection;
    if (!connection?.isOpen) return;
    this.#consumers.flush();
    if (this.#closed) return; // draining: only settles and UNSUBSCRIBEs
    this.#controls.flush(connection);
    this.#publisher.flush(connection);
  }

  /** One round over the hosts (host-list.ts): the first that shakes hands and leads. */
  #openConnection(): Promise<Connection> {
    const hello = {
      name: this.#settings.name,
      credentials: this.#settings.credentials,
      timeoutMs: this.#settings.connectTimeoutMs,
    };
    return this.#hosts.connect(
      (address) => Connection.open(this.#connector, address, this.#connectionEvents, hello),
      isPermanent,
      () => this.#closed,
    );
  }

  #adopt(connection: Connection): void {
    this.#connection = connection;
    this.#reconnectAttempt = 0;
    this.#publisher.connected();
    this.#consumers.resubscribeAll(connection);
    this.#scheduleFlush();
  }

  #onConnectionClosed(connection: Connection, error: WeirError): void {
    if (connection !== this.#connection) return; // one that never got adopted
    this.#connection = null;
    this.#consumers.connectionLost(error);
    this.#publisher.disconnected();
    if (this.#closed) return;
    if (!this.#settings.reconnect) {
      this.#closing = this.#shutDown(
        new WeirError('CLOSED', `${error.message} (reconnect is off)`, { cause: error }),
      );
      return;
    }
    this.#scheduleReconnect();
  }

  #scheduleReconnect(): void {
    // A cluster that answered NOT_LEADER is electing: its leader is seconds away at most.
    const ceilingMs = Math.min(
      this.#hosts.electing ? CLIENT_RECONNECT_DELAY_MS_ELECTING_MAX : CLIENT_RECONNECT_DELAY_MS_MAX,
      CLIENT_RECONNECT_DELAY_MS_FIRST * 2 ** this.#reconnectAttempt,
    );
    this.#reconnectAttempt = Math.min(this.#reconnectAttempt + 1, RECONNECT_DOUBLINGS_MAX);
    // Full jitter: clients that lost the same server do not all come back at the same moment.
    const delayMs = Math.random() * ceilingMs;
    this.#reconnectTimer = setTimeout(() => {
      this.#reconnectTimer = null;
      void this.#reconnect();
    }, delayMs);
  }

  async #reconnect(): Promise<void> {
    let connection: Connection;
    try {
      connection = await this.#openConnection();
    } catch (error) {
      if (!isWeirError(error)) throw error; // a bug: crash loudly
      if (this.#closed) return;
      if (isPermanent(error)) {
        this.#closing = this.#shutDown(error);
        return;
      }
      this.#scheduleReconnect();
      return;
    }
    if (this.#closed) {
      void connection.close(new WeirError('CLOSED', 'the client was closed'));
      return;
    }
    if (!connection.isOpen) {
      this.#scheduleReconnect();
      return;
    }
    this.#adopt(connection);
  }

  /** Closes for good: everything pending fails with `error`, every subscription ends. */
  async #shutDown(error: WeirError): Promise<void> {
    this.#closed = true;
    if (this.#reconnectTimer) clearTimeout(this.#reconnectTimer);
    this.#reconnectTimer = null;
    this.#publisher.failAll(error);
    this.#controls.failAll(error);
    if (this.#connection?.isOpen) {
      // As the embedded client closes its consumers: what the application took and settled
      // before close() is recorded, what it took and did not settle counts as a delivery.
      this.#draining = true;
      let timer: ReturnType<typeof setTimeout> | null = null;
      await Promise.race([
        this.#consumers.closeAll(),
        new Promise<void>((resolve) => {
          timer = setTimeout(resolve, CLIENT_CLOSE_SETTLES_WAIT_MS_MAX);
        }),
      ]);
      if (timer) clearTimeout(timer);
      this.#draining = false;
    }
    this.#consumers.endAll();
    // In-flight requests fail with CLOSED as the connection ends.
    await this.#connection?.close(error);
  }
}
