/**
 * One client connection: frames in, dispatch to the broker, frames out.
 *
 * Each connection gets its own in-process broker Client (`broker.connect()`), so the network
 * SDK is a proxy of exactly the embedded API: the same semantics, by construction.
 *
 * Flow control: deliveries are bounded by the client's credit per consumer; publishes are
 * bounded by CONNECTION_PUBLISH_BYTES_MAX bytes waiting for storage — past that the
 * connection stops reading its socket (TCP pushes back on the producer) until storage
 * catches up. Outgoing frames are encoded back to back into one buffer and written once per
 * tick: many frames, one allocation, one syscall.
 *
 * Failure: a malformed frame, an unknown opcode or an oversized frame gets an ERROR frame
 * (requestId 0, PROTOCOL_ERROR) and the connection closes; nothing reaches the broker.
 *
 * Handshake (protocol 5): HELLO carries no credentials, a token, or a SCRAM client-first. The
 * first two are answered at once (HELLO_OK, or ERROR NOT_AUTHORIZED with HELLO's requestId);
 * SCRAM gets AUTH_CHALLENGE, then the client's AUTH_PROOF gets HELLO_OK with the server's
 * signature or ERROR NOT_AUTHORIZED with the proof's requestId. A refusal closes the
 * connection. Until HELLO_OK nothing but HELLO and AUTH_PROOF is accepted, frames stay within
 * PRE_HELLO_FRAME_BYTES_MAX, and no broker client exists: `connectClient` is called only with
 * the principal the handshake proved.
 */
import type { Socket } from 'node:net';
import {
  OPEN_PRINCIPAL,
  transactionAborted,
  type Authenticator,
  type Principal,
  type ScramChallenge,
} from '../broker/index.js';
import {
  PROGRESS_HEADERS,
  type Client,
  type JsonValue,
  type Message,
  type ProgressInfo,
  type PublishReceipt,
  type Transaction,
} from '../protocol/index.js';
import {
  readTransactionAck,
  writeTransactionResult,
  type TransactionAckEntry,
} from '../protocol/transaction-frames.js';
import { Reader, type Writer } from '../protocol/codec.js';
import { FrameBatch, type SlabPool } from '../protocol/frame-batch.js';
import {
  FLAG_NO_CONFIRM,
  FrameDecoder,
  FLAG_REPLY_PROGRESS,
  OPCODES,
  PROTOCOL_VERSION,
  type Frame,
  type Opcode,
} from '../protocol/frame.js';
import {
  decodeCredentials,
  readPublishEntry,
  readSettleEntry,
  writeAuthChallenge,
  writeDeliveredMessage,
  writeEntryError,
  writeError,
  writeReceiptOrError,
  type DeliveredMessage,
  type EntryError,
  type HelloCredentials,
  type PublishEntry,
  type SettleEntry,
} from '../protocol/frames.js';
import {
  CONNECTION_CONSUMERS_MAX,
  CONNECTION_OUTPUT_SLAB_BYTES,
  CONNECTION_PENDING_BYTES_MAX,
  CONNECTION_PUBLISH_BYTES_MAX,
  CONNECTION_REQUESTS_IN_FLIGHT_MAX,
  CONNECTION_WRITE_BUFFER_BYTES_MAX,
  DELIVER_BATCH_BYTES_MAX,
  DELIVER_BATCH_MESSAGES_MAX,
  FRAME_BYTES_MAX,
  HANDSHAKE_TIMEOUT_MS,
  HEARTBEAT_INTERVAL_MS,
  HEARTBEAT_MISSES_MAX,
  PRE_HELLO_FRAME_BYTES_MAX,
  SCRAM_CLIENT_NONCE_CHARS_MAX,
} from '../limits.js';
import { ERROR_CODES, toWeirError, WeirError } from '../util/index.js';
import { callMethod } from './calls.js';
import { ServerConsumer, toEntryError } from './server-consumer.js';

/** Who a connection acts for, once its handshake proved it (security-common.md's contract). */
export interface ClientIdentity {
  readonly principal: Principal;
  /** The peer's IP address (what failed attempts are counted by); null if unknown. */
  readonly remote: string | null;
  /**
   * Always false: the remote SDK makes the client-side spans (publish, deliver, settle), so
   * the connection's in-process client makes none; the broker's store spans are made anyway.
   */
  readonly tracing: false;
}

export interface ConnectionOptions {
  readonly serverVersion: string;
  /** Called once the handshake authenticated the connection; never before. */
  readonly connectClient: (identity: ClientIdentity) => Client;
  /** Checks credentials; null: every connection is let in as OPEN_PRINCIPAL. */
  readonly authenticator: Authenticator | null;
  /** Where the connection's output slabs come from (the server's); default: its own. */
  readonly outputSlabs?: SlabPool;
  readonly heartbeatIntervalMs?: number;
  readonly log: (level: 'info' | 'warn', event: string, fields: Record<string, unknown>) => void;
}

/** The data of a broker Message, as DELIVER and REPLY carry it. */
function toDelivered(message: DeliveredMessage): DeliveredMessage {
  return {
    subject: message.subject,
    key: message.key,
    headers: message.headers,
    body: message.body,
    partition: message.partition,
    offset: message.offset,
    id: message.id,
    deliveryCount: message.deliveryCount,
    timestamp: message.timestamp,
    priority: message.priority,
    replyTo: message.replyTo,
    correlationId: message.correlationId,
  };
}

/** A progress value as a REPLY carries it: its JSON text as the body, its origin in headers. */
function progressMessage(value: JsonValue, info: ProgressInfo): DeliveredMessage {
  return {
    subject: '',
    key: null,
    headers: {
      [PROGRESS_HEADERS.progress]: '1',
      [PROGRESS_HEADERS.stream]: info.stream,
      [PROGRESS_HEADERS.partition]: String(info.partition),
      [PROGRESS_HEADERS.offset]: String(info.offset),
      [PROGRESS_HEADERS.deliveries]: String(info.deliveryCount),
    },
    body: progressEncoder.encode(JSON.stringify(value)),
    partition: 0,
    offset: 0,
    id: null,
    deliveryCount: 1,
    timestamp: 0,
    priority: 0,
    replyTo: null,
    correlationId: null,
  };
}

const progressEncoder = new TextEncoder();

/** One consumer's deliveries queued this tick, with their tokens; `bodyBytes` sums their bodies. */
interface DeliveryBatch {
  readonly messages: DeliveredMessage[];
  readonly tokens: number[];
  bodyBytes: number;
}

export class Connection {
  readonly id: number;
  readonly remote: string;
  readonly #socket: Socket;
  readonly #options: ConnectionOptions;
  readonly #decoder: FrameDecoder;
  readonly #consumers = new Map<number, ServerConsumer>();
  /** Frames encoded this tick, written to the socket together (a slab only while there are some). */
  readonly #out: FrameBatch;
  #outputScheduled = false;
  #client: Client | null = null;
  #clientName = '';
  /**
   * hello: waiting for HELLO; challenged: AUTH_CHALLENGE sent, waiting for AUTH_PROOF;
   * deciding: a HELLO or proof is being checked (anything else now is out of order); open.
   */
  #handshakeState: 'hello' | 'challenged' | 'deciding' | 'open' = 'hello';
  #scram: ScramChallenge | null = null;
  #principal: Principal | null = null;
  #nextConsumerId = 1;
  #requestsInFlight = 0;
  #publishBytesInFlight = 0;
  #readingPaused = false;
  #closed = false;
  #lastHeard = Date.now();
  #heartbeat: NodeJS.Timeout;
  #handshakeTimer: NodeJS.Timeout | null;
  /**
   * Deliveries queued this tick, per consumer, flushed as DELIVER frames of at most
   * DELIVER_BATCH_MESSAGES_MAX messages and about DELIVER_BATCH_BYTES_MAX bytes each.
   */
  #deliveries = new Map<number, DeliveryBatch>();
  /** Body bytes of every delivery queued and not yet encoded (all consumers). */
  #deliveryBytes = 0;
  #deliveryFlushScheduled = false;
  #drainWaiters: (() => void)[] = [];
  readonly #closedPromise: Promise<void>;
  #resolveClosed!: () => void;

  constructor(id: number, socket: Socket, options: ConnectionOptions) {
    this.id = id;
    this.#socket = socket;
    this.#options = options;
    this.#out = new FrameBatch(options.outputSlabs ?? CONNECTION_OUTPUT_SLAB_BYTES);
    this.remote = `${socket.remoteAddress ?? '?'}:${socket.remotePort ?? '?'}`;
    this.#closedPromise = new Promise((resolve) => (this.#resolveClosed = resolve));
    // Until HELLO only a small frame is accepted: a stranger cannot make us hold 32 MiB.
    this.#decoder = new FrameDecoder(PRE_HELLO_FRAME_BYTES_MAX, (frame) => this.#onFrame(frame));
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.#onData(chunk));
    socket.on('drain', () => this.#onDrain());
    socket.on('error', () => undefined); // 'close' follows
    socket.on('close', () => void this.#teardown());
    const interval = options.heartbeatIntervalMs ?? HEARTBEAT_INTERVAL_MS;
    this.#heartbeat = setInterval(() => this.#guarded(() => this.#onHeartbeat(interval)), interval);
    this.#heartbeat.unref();
    this.#handshakeTimer = setTimeout(
      () => this.#failQuietly(new WeirError('PROTOCOL_ERROR', 'no HELLO in time')),
      HANDSHAKE_TIMEOUT_MS,
    );
    this.#handshakeTimer.unref();
  }

  get clientName(): string {
    return this.#clientName;
  }

  /** The user the connection authenticated as; null before the handshake or on an open server. */
  get user(): string | null {
    return this.#principal?.user ?? null;
  }

  /** The peer's IP address alone: failed attempts are counted per address, not per port. */
  get #address(): string | null {
    return this.#socket.remoteAddress ?? null;
  }

  get consumerCount(): number {
    return this.#consumers.size;
  }

  /** Publish bytes waiting for storage (bounded by CONNECTION_PUBLISH_BYTES_MAX plus one frame). */
  get publishBytesWaiting(): number {
    return this.#publishBytesInFlight;
  }

  /** True while the connection does not read its socket because storage is behind. */
  get readingPaused(): boolean {
    return this.#readingPaused;
  }

  /** When the connection was accepted (ms since the epoch). */
  readonly connectedAtMs = Date.now();
  /** Messages this connection published and deliveries it was sent, since it connected. */
  published = 0;
  delivered = 0;

  /** Its consumers, with their credit and unsettled deliveries (for the admin API). */
  consumers(): {
    id: number;
    stream: string;
    subscription: string;
    credit: number;
    unsettled: number;
  }[] {
    return [...this.#consumers.values()].map((consumer) => ({
      id: consumer.id,
      stream: consumer.subscription.stream,
      subscription: consumer.subscription.name,
      credit: consumer.credit,
      unsettled: consumer.unsettled,
    }));
  }

  get closed(): Promise<void> {
    return this.#closedPromise;
  }

  #onData(chunk: Buffer): void {
    this.#lastHeard = Date.now();
    if (this.#closed) return;
    try {
      this.#decoder.push(chunk);
    } catch (error) {
      this.fail(toWeirError(error));
    }
  }

  #onHeartbeat(interval: number): void {
    if (Date.now() - this.#lastHeard > interval * HEARTBEAT_MISSES_MAX) {
      this.fail(new WeirError('TIMEOUT', 'the client stopped answering heartbeats'));
      return;
    }
    this.#send(OPCODES.PING, 0, 0, null);
  }

  /**
   * Runs `work` from a timer or a promise callback: a throw there must not reach the event
   * loop (it would end the process), so it fails this connection instead.
   */
  #guarded(work: () => void): void {
    try {
      work();
    } catch (error) {
      this.#failQuietly(toWeirError(error));
    }
  }

  /** fail() that cannot throw: if even the ERROR frame cannot be sent, the socket is cut. */
  #failQuietly(error: WeirError): void {
    try {
      this.fail(error);
    } catch {
      this.#closed = true;
      this.#socket.destroy();
      void this.#teardown();
    }
  }

  /** Sends an ERROR frame (requestId 0) and closes the connection. */
  fail(error: WeirError): void {
    if (this.#closed) return;
    this.#options.log('warn', 'connection_error', {
      connection: this.id,
      remote: this.remote,
      code: error.code,
      message: error.message,
    });
    this.#send(OPCODES.ERROR, 0, 0, (writer) => writeError(writer, error));
    this.#closed = true;
    this.#flushOutput();
    this.#socket.end();
    this.#socket.destroySoon?.();
    void this.#teardown();
  }

  // ---- frames in ----

  #onFrame(frame: Frame): void {
    if (this.#handshakeState !== 'open') {
      if (frame.opcode === OPCODES.HELLO && this.#handshakeState === 'hello')
        return this.#onHello(frame);
      // Our heartbeat runs from the start: a client working out its SCRAM proof answers it.
      if (frame.opcode === OPCODES.PONG && this.#handshakeState !== 'hello') return;
      if (frame.opcode === OPCODES.PING && this.#handshakeState !== 'hello')
        return this.#send(OPCODES.PONG, 0, frame.requestId, null);
      if (frame.opcode === OPCODES.AUTH_PROOF && this.#handshakeState === 'challenged')
        return this.#onAuthProof(frame);
      throw new WeirError(
        'PROTOCOL_ERROR',
        this.#handshakeState === 'hello'
          ? 'the first frame must be HELLO'
          : `opcode ${frame.opcode} during the handshake`,
      );
    }
    switch (frame.opcode) {
      case OPCODES.HELLO:
        throw new WeirError('PROTOCOL_ERROR', 'HELLO sent twice');
      case OPCODES.PING:
        return this.#send(OPCODES.PONG, 0, frame.requestId, null);
      case OPCODES.PONG:
        return;
      case OPCODES.CALL:
        return this.#onCall(frame);
      case OPCODES.PUBLISH:
        return this.#onPublish(frame);
      case OPCODES.SUBSCRIBE:
        return this.#onSubscribe(frame);
      case OPCODES.CREDIT:
        return this.#onCredit(frame);
      case OPCODES.SETTLE:
        return this.#onSettle(frame);
      case OPCODES.TX_COMMIT:
        return this.#onTransaction(frame);
      case OPCODES.UNSUBSCRIBE:
        return this.#onUnsubscribe(frame);
      case OPCODES.REQUEST:
        return this.#onRequest(frame);
      default:
        throw new WeirError('PROTOCOL_ERROR', `opcode ${frame.opcode} is not sent by clients`);
    }
  }

  #onHello(frame: Frame): void {
    const reader = new Reader(frame.payload);
    const version = reader.u16();
    if (version !== PROTOCOL_VERSION) {
      // Before reading on: another version's HELLO may be laid out differently.
      throw new WeirError(
        'PROTOCOL_ERROR',
        `protocol version ${version} is not supported (server speaks ${PROTOCOL_VERSION})`,
      );
    }
    const name = reader.text();
    const credentials = decodeCredentials(reader.bytes());
    reader.done();
    this.#clientName = name;
    this.#handshakeState = 'deciding';
    if (credentials.kind === 'scram') this.#startScram(frame.requestId, credentials);
    else {
      this.#decide(frame.requestId, () => ({
        principal: this.#principalWithout(credentials),
        serverSignature: null,
      }));
    }
  }

  /** A token or no credentials: decided at once. */
  #principalWithout(credentials: HelloCredentials): Principal {
    const authenticator = this.#options.authenticator;
    if (authenticator === null) return OPEN_PRINCIPAL;
    return credentials.kind === 'token'
      ? authenticator.token(credentials.token, this.#address, 'tcp')
      : authenticator.anonymous(this.#address, 'tcp');
  }

  #startScram(requestId: number, credentials: { user: string; clientNonce: string }): void {
    const nonce = credentials.clientNonce;
    if (
      nonce.length === 0 ||
      nonce.length > SCRAM_CLIENT_NONCE_CHARS_MAX ||
      !/^[\w-]+$/.test(nonce)
    ) {
      // The nonce is joined into SCRAM's AuthMessage with commas: only base64url is allowed.
      throw new WeirError(
        'PROTOCOL_ERROR',
        `the SCRAM client nonce is not 1..${SCRAM_CLIENT_NONCE_CHARS_MAX} base64url characters`,
      );
    }
    this.#decide(requestId, () => {
      const authenticator = this.#options.authenticator;
      if (authenticator === null || !authenticator.enabled) {
        // SCRAM is mutual: a server without users holds no keys to sign with, and a client that
        // sent a password would (rightly) refuse an unsigned welcome. Say so plainly.
        throw new WeirError(
          'NOT_AUTHORIZED',
          'this server has no users, so it cannot prove it knows a password: connect without a user and password',
        );
      }
      const challenge = authenticator.scram(credentials.user, nonce, this.#address, 'tcp');
      this.#scram = challenge;
      this.#handshakeState = 'challenged';
      this.#send(OPCODES.AUTH_CHALLENGE, 0, requestId, (writer) =>
        writeAuthChallenge(writer, {
          nonce: challenge.serverNonce,
          salt: challenge.salt,
          cost: challenge.cost,
        }),
      );
      return null;
    });
  }

  #onAuthProof(frame: Frame): void {
    const reader = new Reader(frame.payload);
    const proof = reader.bytes();
    reader.done();
    if (proof === null) throw new WeirError('PROTOCOL_ERROR', 'AUTH_PROOF carries no proof');
    const challenge = this.#scram!;
    this.#scram = null;
    this.#handshakeState = 'deciding';
    this.#decide(frame.requestId, () => challenge.finish(proof));
  }

  /**
   * Runs one authentication step: a principal opens the connection (HELLO_OK with the SCRAM
   * signature, if any), null means the step sent its own answer (AUTH_CHALLENGE),
   * NOT_AUTHORIZED refuses. Any other error fails the connection as a malformed frame would
   * (the caller's #onData catch).
   */
  #decide(
    requestId: number,
    step: () => { principal: Principal; serverSignature: Uint8Array | null } | null,
  ): void {
    let outcome: { principal: Principal; serverSignature: Uint8Array | null } | null;
    try {
      outcome = step();
    } catch (error) {
      if (error instanceof WeirError && error.code === 'NOT_AUTHORIZED') {
        this.#refuseHandshake(requestId, error);
        return;
      }
      throw error;
    }
    if (outcome !== null) this.#open(requestId, outcome.principal, outcome.serverSignature);
  }

  /** The handshake is over: the broker client for `principal`, then HELLO_OK. */
  #open(requestId: number, principal: Principal, serverSignature: Uint8Array | null): void {
    if (this.#handshakeTimer) clearTimeout(this.#handshakeTimer);
    this.#handshakeTimer = null;
    this.#client = this.#options.connectClient({
      principal,
      remote: this.#address,
      tracing: false,
    });
    this.#principal = principal;
    this.#handshakeState = 'open';
    this.#decoder.maxFrameBytes = FRAME_BYTES_MAX;
    const interval = this.#options.heartbeatIntervalMs ?? HEARTBEAT_INTERVAL_MS;
    this.#send(OPCODES.HELLO_OK, 0, requestId, (writer) =>
      writer
        .u16(PROTOCOL_VERSION)
        .string(this.#options.serverVersion)
        .u32(interval)
        .u32(FRAME_BYTES_MAX)
        .bytes(serverSignature),
    );
    this.#options.log('info', 'client_connected', {
      connection: this.id,
      remote: this.remote,
      name: this.#clientName,
      user: principal.user,
    });
  }

  /**
   * ERROR answering the HELLO or AUTH_PROOF (its requestId, so the SDK's connect() rejects with
   * this code), then close. The socket is ended, not destroyed, so the ERROR is written first
   * (over TLS too); a peer that does not close its side is cut after HANDSHAKE_TIMEOUT_MS.
   */
  #refuseHandshake(requestId: number, error: WeirError): void {
    this.#options.log('warn', 'authentication_refused', {
      connection: this.id,
      remote: this.remote,
      name: this.#clientName,
      message: error.message,
    });
    this.#send(OPCODES.ERROR, 0, requestId, (writer) => writeError(writer, error));
    this.#closed = true;
    this.#flushOutput();
    this.#socket.end();
    if (this.#handshakeTimer) clearTimeout(this.#handshakeTimer);
    this.#handshakeTimer = setTimeout(() => this.#socket.destroy(), HANDSHAKE_TIMEOUT_MS);
    this.#handshakeTimer.unref();
  }

  /** Runs a request's work; answers ERROR if it throws; keeps the in-flight count bounded. */
  #request(frame: Frame, work: () => Promise<void>): void {
    if (this.#requestsInFlight >= CONNECTION_REQUESTS_IN_FLIGHT_MAX) {
      this.#replyError(
        frame.requestId,
        new WeirError(
          'LIMIT_EXCEEDED',
          `more than ${CONNECTION_REQUESTS_IN_FLIGHT_MAX} requests in flight`,
        ),
      );
      return;
    }
    this.#requestsInFlight++;
    work()
      .catch((error: unknown) =>
        this.#guarded(() => this.#replyError(frame.requestId, toWeirError(error))),
      )
      .finally(() => this.#requestsInFlight--);
  }

  #replyError(requestId: number, error: WeirError): void {
    this.#send(OPCODES.ERROR, 0, requestId, (writer) => writeError(writer, error));
  }

  #onCall(frame: Frame): void {
    const reader = new Reader(frame.payload);
    const method = reader.text();
    const argumentsJson = reader.text();
    reader.done();
    let parameters: unknown;
    try {
      parameters = JSON.parse(argumentsJson);
    } catch {
      throw new WeirError('PROTOCOL_ERROR', 'CALL arguments are not JSON');
    }
    if (!Array.isArray(parameters))
      throw new WeirError('PROTOCOL_ERROR', 'CALL arguments are not a JSON array');
    const client = this.#client!;
    this.#request(frame, async () => {
      const result = await callMethod(client, method, parameters as unknown[]);
      this.#send(OPCODES.RESULT, 0, frame.requestId, (writer) =>
        writer.string(JSON.stringify(result ?? null)),
      );
    });
  }

  #onPublish(frame: Frame): void {
    const reader = new Reader(frame.payload);
    const count = reader.u32();
    const entries: PublishEntry[] = [];
    for (let i = 0; i < count; i++) entries.push(readPublishEntry(reader));
    reader.done();
    const confirm = (frame.flags & FLAG_NO_CONFIRM) === 0;
    const bytes = frame.payload.length;
    // Bodies are views into the socket's chunk: the broker stores (copies) them before the
    // publish promise resolves, and the chunk is not reused by Node, so no copy here.
    const client = this.#client!;
    this.published += entries.length;
    this.#publishBytesInFlight += bytes;
    if (this.#publishBytesInFlight > CONNECTION_PUBLISH_BYTES_MAX && !this.#readingPaused) {
      this.#readingPaused = true;
      this.#socket.pause();
    }
    // One wait per log for the whole frame (the in-process client's publishBatch).
    const outcomes = client.publishBatch(entries);
    const done = () => {
      this.#publishBytesInFlight -= bytes;
      if (this.#readingPaused && this.#publishBytesInFlight <= CONNECTION_PUBLISH_BYTES_MAX / 2) {
        this.#readingPaused = false;
        this.#socket.resume();
      }
    };
    if (!confirm) {
      void outcomes.finally(done);
      return;
    }
    this.#request(frame, async () => {
      const results = await outcomes.finally(done);
      this.#send(OPCODES.PUBLISH_RESULT, 0, frame.requestId, (writer) => {
        writer.u32(results.length);
        for (const result of results) writeReceiptOrError(writer, result);
      });
    });
  }

  #onSubscribe(frame: Frame): void {
    const reader = new Reader(frame.payload);
    const stream = reader.text();
    const optionsJson = reader.text();
    const credit = reader.u32();
    reader.done();
    let options: unknown;
    try {
      options = JSON.parse(optionsJson);
    } catch {
      throw new WeirError('PROTOCOL_ERROR', 'SUBSCRIBE options are not JSON');
    }
    const client = this.#client!;
    this.#request(frame, async () => {
      if (this.#consumers.size >= CONNECTION_CONSUMERS_MAX) {
        throw new WeirError(
          'LIMIT_EXCEEDED',
          `more than ${CONNECTION_CONSUMERS_MAX} consumers on one connection`,
        );
      }
      const subscribeOptions = (options ?? {}) as Parameters<Client['subscribe']>[1] & {
        ack?: string;
      };
      const subscription = await client.subscribe(stream, subscribeOptions);
      if (this.#closed) {
        await subscription.close();
        return;
      }
      const id = this.#nextConsumerId++;
      const consumer = new ServerConsumer(
        id,
        subscription,
        credit,
        subscribeOptions.ack !== 'none',
        {
          deliver: (consumerId, message, token) => this.#queueDelivery(consumerId, message, token),
          drained: () => this.#drained(),
          ended: (consumerId, error) => this.#consumerEnded(consumerId, error),
        },
      );
      this.#consumers.set(id, consumer);
      this.#send(OPCODES.SUBSCRIBED, 0, frame.requestId, (writer) =>
        writer.u32(id).string(subscription.name),
      );
      consumer.start();
    });
  }

  #onCredit(frame: Frame): void {
    const reader = new Reader(frame.payload);
    const id = reader.u32();
    const credit = reader.u32();
    reader.done();
    this.#consumers.get(id)?.addCredit(credit); // a consumer closed meanwhile: ignore
  }

  #onSettle(frame: Frame): void {
    const reader = new Reader(frame.payload);
    const id = reader.u32();
    const count = reader.u32();
    const entries: SettleEntry[] = [];
    for (let i = 0; i < count; i++) entries.push(readSettleEntry(reader));
    reader.done();
    // Applied inside #request, synchronously (an async function runs up to its first await):
    // refused as a whole when too many requests are in flight.
    this.#request(frame, async () => {
      const consumer = this.#consumers.get(id);
      const results = new Array<EntryError>(count).fill(null);
      // One wait per distinct promise (acks recorded in one journal batch share it); on a
      // failure, every entry that waited on that promise gets the error.
      const waitedOn = new Array<Promise<void> | null>(count).fill(null);
      const waits: Promise<void>[] = [];
      let last: Promise<void> | null = null;
      for (let index = 0; index < count; index++) {
        const outcome = consumer
          ? consumer.settle(entries[index]!)
          : { code: 'MESSAGE_SETTLED' as const, message: 'the consumer is closed' };
        if (!(outcome instanceof Promise)) {
          results[index] = outcome;
          continue;
        }
        waitedOn[index] = outcome;
        if (outcome === last) continue;
        last = outcome;
        waits.push(
          outcome.catch((error: unknown) => {
            const entryError = toEntryError(error);
            for (let at = 0; at < count; at++)
              if (waitedOn[at] === outcome) results[at] = entryError;
          }),
        );
      }
      if (waits.length > 0) await Promise.all(waits);
      this.#send(OPCODES.SETTLED, 0, frame.requestId, (writer) => {
        writer.u32(results.length);
        for (const result of results) writeEntryError(writer, result);
      });
    });
  }

  /**
   * TX_COMMIT: the transaction the SDK buffered, committed through this connection's broker
   * client (the same commit as embedded); ack entries name deliveries of this connection's
   * consumers. TX_RESULT carries the receipts or the one error.
   */
  #onTransaction(frame: Frame): void {
    const reader = new Reader(frame.payload);
    const publishes: PublishEntry[] = [];
    for (let count = reader.u32(), index = 0; index < count; index++) {
      publishes.push(readPublishEntry(reader));
    }
    const acks: TransactionAckEntry[] = [];
    for (let count = reader.u32(), index = 0; index < count; index++) {
      acks.push(readTransactionAck(reader));
    }
    reader.done();
    const client = this.#client!;
    this.#request(frame, async () => {
      let outcome: PublishReceipt[] | WeirError;
      try {
        const messages = acks.map((ack, index): Message => {
          const consumer = this.#consumers.get(ack.consumerId);
          const found =
            consumer?.transactionMessage(ack) ??
            new WeirError('MESSAGE_SETTLED', `consumer ${ack.consumerId} is closed`);
          if (found instanceof WeirError) {
            const where = consumer
              ? `${consumer.subscription.stream}/${consumer.subscription.name}`
              : `consumer ${ack.consumerId}`;
            throw transactionAborted(
              `ack ${index} (${where} ${ack.partition}/${ack.offset})`,
              found,
            );
          }
          return found;
        });
        let committed: Transaction | null = null;
        await client.transaction((tx) => {
          committed = tx;
          for (const entry of publishes) tx.publish(entry.subject, entry.body, entry.options);
          for (const message of messages) tx.ack(message);
          return Promise.resolve();
        });
        outcome = committed === null ? [] : [...(committed as Transaction).receipts];
        for (const ack of acks) {
          this.#consumers
            .get(ack.consumerId)
            ?.settledByTransaction(ack.partition, ack.offset, ack.token);
        }
      } catch (error) {
        outcome = toWeirError(error);
      }
      this.#send(OPCODES.TX_RESULT, 0, frame.requestId, (writer) =>
        writeTransactionResult(writer, outcome),
      );
    });
  }

  #onUnsubscribe(frame: Frame): void {
    const reader = new Reader(frame.payload);
    const id = reader.u32();
    reader.done();
    this.#request(frame, async () => {
      const consumer = this.#consumers.get(id);
      this.#consumers.delete(id);
      this.#dropDeliveries(id);
      await consumer?.close();
      this.#send(OPCODES.RESULT, 0, frame.requestId, (writer) => writer.string('null'));
    });
  }

  #onRequest(frame: Frame): void {
    const reader = new Reader(frame.payload);
    const entry = readPublishEntry(reader);
    const timeoutMs = reader.f64();
    reader.done();
    const client = this.#client!;
    this.#request(frame, async () => {
      const { replyTo: _replyTo, correlationId: _correlationId, ...options } = entry.options;
      // Progress of the request's message comes first, as REPLY frames flagged as progress.
      const onProgress = (value: JsonValue, info: ProgressInfo): void => {
        this.#send(OPCODES.REPLY, FLAG_REPLY_PROGRESS, frame.requestId, (writer) =>
          writeDeliveredMessage(writer, progressMessage(value, info)),
        );
      };
      const reply = await client.request(entry.subject, entry.body, {
        ...options,
        timeoutMs,
        onProgress,
      });
      // A reply is stored nowhere: the broker gives it partition and offset -1, which the
      // wire's unsigned fields cannot carry; the SDK shows -1 for a reply again.
      this.#send(OPCODES.REPLY, 0, frame.requestId, (writer) =>
        writeDeliveredMessage(writer, { ...toDelivered(reply), partition: 0, offset: 0 }),
      );
    });
  }

  // ---- frames out ----

  #queueDelivery(consumerId: number, message: DeliveredMessage, token: number): boolean {
    let batch = this.#deliveries.get(consumerId);
    if (!batch) {
      batch = { messages: [], tokens: [], bodyBytes: 0 };
      this.#deliveries.set(consumerId, batch);
    }
    batch.messages.push(message);
    batch.tokens.push(token);
    batch.bodyBytes += message.body.length;
    this.#deliveryBytes += message.body.length;
    this.delivered++;
    if (
      batch.messages.length >= DELIVER_BATCH_MESSAGES_MAX ||
      batch.bodyBytes >= DELIVER_BATCH_BYTES_MAX
    ) {
      this.#flushDeliveries();
    } else if (!this.#deliveryFlushScheduled) {
      this.#deliveryFlushScheduled = true;
      setImmediate(() => this.#flushDeliveries());
    }
    return this.#outputBytes() < CONNECTION_WRITE_BUFFER_BYTES_MAX;
  }

  /** Bytes on their way to the peer: in the socket, encoded this tick, queued as deliveries. */
  #outputBytes(): number {
    return this.#socket.writableLength + this.#out.pendingBytes + this.#deliveryBytes;
  }

  #dropDeliveries(consumerId: number): void {
    const batch = this.#deliveries.get(consumerId);
    if (!batch) return;
    this.#deliveryBytes -= batch.bodyBytes;
    this.#deliveries.delete(consumerId);
  }

  /** Encodes every queued delivery; never throws (it runs from setImmediate). */
  #flushDeliveries(): void {
    this.#deliveryFlushScheduled = false;
    if (this.#deliveries.size === 0) return;
    if (!this.#closed) {
      this.#guarded(() => {
        for (const [consumerId, batch] of this.#deliveries) this.#sendDeliveries(consumerId, batch);
      });
    }
    this.#deliveries.clear();
    this.#deliveryBytes = 0;
  }

  /**
   * One consumer's batch as DELIVER frames: a frame ends once its payload reaches
   * DELIVER_BATCH_BYTES_MAX, so the last message may take it past by at most one maximal
   * message (limits.ts asserts that still fits FRAME_BYTES_MAX).
   */
  #sendDeliveries(consumerId: number, batch: DeliveryBatch): void {
    const { messages, tokens } = batch;
    let index = 0;
    const writeFrame = (writer: Writer): void => {
      const start = writer.position;
      writer.u32(consumerId).u32(0);
      let count = 0;
      while (index < messages.length && writer.position - start < DELIVER_BATCH_BYTES_MAX) {
        writer.u32(tokens[index]!);
        writeDeliveredMessage(writer, messages[index]!);
        index++;
        count++;
      }
      writer.patchU32(start + 4, count);
    };
    while (index < messages.length && !this.#closed && !this.#socket.destroyed)
      this.#send(OPCODES.DELIVER, 0, 0, writeFrame);
  }

  #drained(): Promise<void> {
    if (this.#closed || this.#outputBytes() < CONNECTION_WRITE_BUFFER_BYTES_MAX)
      return Promise.resolve();
    // Hand everything to the socket now, so its buffer says how far behind the peer is (the
    // pump may have queued this much without yielding to the tick that would write it).
    this.#flushDeliveries();
    this.#flushOutput();
    if (this.#closed || this.#socket.writableLength < CONNECTION_WRITE_BUFFER_BYTES_MAX)
      return Promise.resolve();
    return new Promise((resolve) => this.#drainWaiters.push(resolve));
  }

  #onDrain(): void {
    const waiters = this.#drainWaiters;
    this.#drainWaiters = [];
    for (const waiter of waiters) waiter();
  }

  #consumerEnded(consumerId: number, error: WeirError): void {
    if (!this.#consumers.has(consumerId)) return;
    this.#flushDeliveries();
    this.#consumers.delete(consumerId);
    this.#send(OPCODES.CONSUMER_CLOSED, 0, 0, (writer) =>
      writer.u32(consumerId).u16(ERROR_CODES[error.code].number).string(error.message),
    );
  }

  /** Encodes one frame with `write` (payload); it goes out with this tick's other frames. */
  #send(
    opcode: Opcode,
    flags: number,
    requestId: number,
    write: ((writer: Writer) => void) | null,
  ): void {
    if (this.#socket.destroyed || (this.#closed && opcode !== OPCODES.ERROR)) return;
    const writer = this.#out.begin();
    try {
      write?.(writer);
    } catch (error) {
      this.#out.abort();
      throw error;
    }
    const bytes = this.#out.end(opcode, flags, requestId);
    if (bytes > FRAME_BYTES_MAX) {
      // Never expected: DELIVER frames are cut by bytes and every other frame carries at most
      // one message. The client would refuse it; the caller's guard fails the connection.
      this.#out.abort();
      throw new WeirError('INTERNAL', `frame of ${bytes} bytes exceeds FRAME_BYTES_MAX`);
    }
    if (!this.#closed && this.#unreadBytes() > CONNECTION_PENDING_BYTES_MAX) {
      this.#cutSlowConsumer();
      return;
    }
    if (!this.#outputScheduled) {
      this.#outputScheduled = true;
      process.nextTick(() => this.#guarded(() => this.#flushOutput()));
    }
  }

  /** Output the peer has not read: in the socket's buffer, and encoded this tick. */
  #unreadBytes(): number {
    return this.#socket.writableLength + this.#out.pendingBytes;
  }

  /**
   * A peer that does not read what it asked for (replies pile up past
   * CONNECTION_PENDING_BYTES_MAX) is cut off. The ERROR frame is only an attempt: it queues
   * behind everything unread, and the socket is destroyed at once rather than waiting on a
   * peer that does not read.
   */
  #cutSlowConsumer(): void {
    const unreadBytes = this.#unreadBytes();
    this.#closed = true;
    this.#options.log('warn', 'slow_consumer', {
      connection: this.id,
      remote: this.remote,
      unreadBytes,
      limitBytes: CONNECTION_PENDING_BYTES_MAX,
    });
    this.#out.discard(); // what this tick encoded: never sent
    const error = new WeirError(
      'LIMIT_EXCEEDED',
      `slow consumer: ${unreadBytes} bytes unread, more than ${CONNECTION_PENDING_BYTES_MAX}`,
    );
    this.#send(OPCODES.ERROR, 0, 0, (writer) => writeError(writer, error));
    this.#flushOutput();
    this.#socket.destroy();
    void this.#teardown();
  }

  #flushOutput(): void {
    this.#outputScheduled = false;
    const bytes = this.#out.take();
    if (bytes !== null && !this.#socket.destroyed) this.#socket.write(bytes);
  }

  // ---- teardown ----

  async close(): Promise<void> {
    if (!this.#closed) {
      this.#closed = true;
      this.#flushOutput();
      this.#socket.end();
    }
    await this.#teardown();
  }

  #tornDown = false;
  async #teardown(): Promise<void> {
    if (this.#tornDown) return this.#closedPromise;
    this.#tornDown = true;
    this.#closed = true;
    clearInterval(this.#heartbeat);
    if (this.#handshakeTimer) clearTimeout(this.#handshakeTimer);
    this.#onDrain();
    const consumers = [...this.#consumers.values()];
    this.#consumers.clear();
    await Promise.allSettled(consumers.map((consumer) => consumer.close()));
    await this.#client?.close().catch(() => undefined);
    if (!this.#socket.destroyed) this.#socket.destroy();
    this.#options.log('info', 'client_disconnected', { connection: this.id, remote: this.remote });
    this.#resolveClosed();
  }
}
