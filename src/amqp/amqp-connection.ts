/**
 * One AMQP 0-9-1 connection: the handshake, channels, heartbeats, output, and how it ends.
 *
 * Handshake (the server's side, spec section 2.2.4): the client's protocol header (another
 * header gets ours back and the socket is closed, as the spec says) → connection.start
 * (mechanisms PLAIN and AMQPLAIN) → start-ok, checked against Weir's users → tune
 * (channel-max, frame-max, heartbeat) → tune-ok → open (virtual host "/" only) → open-ok.
 * Nothing but the next handshake method is accepted meanwhile, all of it within
 * AMQP_HANDSHAKE_TIMEOUT_MS. No broker Client exists before start-ok proved who it is.
 *
 * Users: a broker with users checks the login against them (door "amqp"), as the TCP and
 * HTTP doors do. An open broker (no users, served on loopback only: serve.ts refuses more)
 * lets any login in, except that `guest` is accepted only from a loopback address, as in
 * RabbitMQ. A refused login gets connection.close 403 ACCESS_REFUSED (the
 * authentication_failure_close capability), then the socket is closed.
 *
 * Output: frames are queued and written once per turn of the event loop (one write for many
 * frames). Consumers stop while more than AMQP_WRITE_BUFFER_BYTES_MAX wait in the socket.
 * Input: publishes waiting for storage beyond AMQP_PUBLISH_BYTES_PENDING_MAX pause the socket
 * (TCP pushes back on the producer) and, if the client takes it, connection.blocked is sent;
 * unblocked when they drain.
 *
 * Failure: a malformed frame (the codec's AmqpFrameError) or a connection exception sends
 * connection.close with its reply code and the failing method; the socket is closed on
 * close-ok or after AMQP_CLOSE_TIMEOUT_MS. Nothing reaches the broker from a frame that did
 * not decode.
 */
import type { Socket } from 'node:net';
import { OPEN_PRINCIPAL, type Authenticator, type Principal } from '../broker/index.js';
import type { Client } from '../protocol/index.js';
import { isLoopbackAddress, isWeirError } from '../util/index.js';
import {
  AMQP_CHANNELS_MAX,
  AMQP_CLOSE_TIMEOUT_MS,
  AMQP_FRAME_MAX,
  AMQP_HANDSHAKE_TIMEOUT_MS,
  AMQP_HEARTBEAT_S_DEFAULT,
  AMQP_PUBLISH_BYTES_PENDING_MAX,
  AMQP_WRITE_BUFFER_BYTES_MAX,
} from '../limits.js';
import { AmqpChannel, type ChannelConnection } from './amqp-channel.js';
import { AmqpError } from './amqp-error.js';
import type { AmqpGateway } from './amqp-gateway.js';
import {
  AMQP_PROTOCOL_HEADER,
  AmqpFrameError,
  checkProtocolHeader,
  decodeProperties,
  encodeContentFrames,
  encodeMethodFrame,
  FrameDecoder,
  FRAME_MIN_SIZE,
  HEARTBEAT_FRAME,
  type FieldTable,
  type Frame,
  type MethodArguments,
  type MethodName,
} from './codec/index.js';

export interface AmqpConnectionOptions {
  readonly id: number;
  readonly gateway: AmqpGateway;
  readonly authenticator: Authenticator | null;
  /** Makes the connection's broker client once the login is proved. */
  readonly connectClient: (principal: Principal, remote: string | null) => Client;
  readonly serverVersion: string;
  readonly heartbeatSeconds?: number;
  readonly log: (level: 'info' | 'warn', event: string, fields: Record<string, unknown>) => void;
  readonly onClosed: (connection: AmqpConnection) => void;
}

/** One consumer of the connection, for the console (the admin layer's ConsumerSnapshot). */
export interface AmqpConsumerState {
  readonly id: number;
  readonly tag: string;
  readonly stream: string;
  readonly subscription: string;
  readonly credit: number;
  readonly unsettled: number;
}

type State = 'header' | 'start-ok' | 'tune-ok' | 'open' | 'running' | 'closing' | 'closed';

/** PLAIN's response: [authzid] NUL authcid NUL password. */
function plainLogin(response: Uint8Array): { user: string; password: string } | null {
  const text = Buffer.from(response).toString('utf8');
  const parts = text.split('\u0000');
  if (parts.length !== 3) return null;
  return { user: parts[1]!, password: parts[2]! };
}

/** AMQPLAIN's response: a field table's entries without the table's length (LOGIN, PASSWORD). */
function amqplainLogin(response: Uint8Array): { user: string; password: string } | null {
  // As a content header's property list holding only `headers` (flag bit 13), the same bytes
  // with a length before them decode as a field table.
  const bytes = Buffer.alloc(2 + 4 + response.length);
  bytes.writeUInt16BE(0x2000, 0);
  bytes.writeUInt32BE(response.length, 2);
  bytes.set(response, 6);
  let table: FieldTable | undefined;
  try {
    table = decodeProperties(bytes).headers;
  } catch {
    return null;
  }
  const user = table?.['LOGIN'];
  const password = table?.['PASSWORD'];
  const text = (value: unknown): string | null =>
    typeof value === 'string'
      ? value
      : value instanceof Uint8Array
        ? Buffer.from(value).toString('utf8')
        : null;
  const userText = text(user);
  const passwordText = text(password);
  return userText === null || passwordText === null
    ? null
    : { user: userText, password: passwordText };
}

export class AmqpConnection implements ChannelConnection {
  readonly id: number;
  readonly gateway: AmqpGateway;
  readonly remote: string | null;
  readonly remotePort: number | null;
  /** When the socket was accepted (ms since the epoch). */
  readonly connectedAtMs = Date.now();
  readonly #socket: Socket;
  readonly #options: AmqpConnectionOptions;
  readonly #decoder = new FrameDecoder({ frameMax: FRAME_MIN_SIZE });
  #state: State = 'header';
  #headerBytes: Buffer = Buffer.alloc(0);
  #client: Client | null = null;
  #user: string | null = null;
  readonly #channels = new Map<number, AmqpChannel>();
  #channelMax = AMQP_CHANNELS_MAX;
  #frameMax = FRAME_MIN_SIZE;
  #heartbeatSeconds = 0;
  #clientProperties: FieldTable = {};
  #cancelNotify = false;
  #blockedCapability = false;
  // output
  #output: Uint8Array[] = [];
  #flushScheduled = false;
  #drainWaiters: (() => void)[] = [];
  #wroteSinceBeat = false;
  #readSinceBeat = false;
  #missedBeats = 0;
  // input flow control
  #publishBytes = 0;
  /** shutdown() waits for the publishes in flight to settle. */
  #publishesSettled: (() => void) | null = null;
  #paused = false;
  #blocked = false;
  #timers: NodeJS.Timeout[] = [];
  #heartbeat: NodeJS.Timeout | null = null;
  #closed: Promise<void> | null = null;
  /** Resolves once the teardown is done (however the connection ended). */
  readonly #ended: Promise<void>;
  #markEnded: () => void = () => undefined;
  #published = 0;
  #delivered = 0;
  /** Channels reopened before the client's close-ok of their previous life came. */
  readonly #lateCloseOks = new Set<number>();

  constructor(socket: Socket, options: AmqpConnectionOptions) {
    this.#socket = socket;
    this.#options = options;
    this.#ended = new Promise((resolve) => (this.#markEnded = resolve));
    this.id = options.id;
    this.gateway = options.gateway;
    this.remote = socket.remoteAddress ?? null;
    this.remotePort = socket.remotePort ?? null;
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.#onData(chunk));
    socket.on('drain', () => this.#onDrain());
    socket.on('error', () => undefined);
    socket.on('close', () => void this.#teardown());
    const handshake = setTimeout(() => {
      if (this.#state !== 'running' && this.#state !== 'closed') {
        this.#options.log('warn', 'amqp_handshake_timeout', {
          connection: this.id,
          remote: this.remote,
        });
        this.#destroy();
      }
    }, AMQP_HANDSHAKE_TIMEOUT_MS);
    handshake.unref();
    this.#timers.push(handshake);
  }

  get client(): Client {
    if (this.#client === null) throw new AmqpError(504, 'the connection is not open');
    return this.#client;
  }

  get user(): string | null {
    return this.#user;
  }

  get clientProperties(): FieldTable {
    return this.#clientProperties;
  }

  get channelCount(): number {
    return this.#channels.size;
  }

  /** host:port of the peer, as the Weir port's connections give it. */
  get peer(): string {
    return `${this.remote ?? '?'}:${this.remotePort ?? '?'}`;
  }

  /**
   * The consumers of every channel, as the console's connections view lists them: credit is
   * what the prefetch still allows (a no-ack consumer's whole window).
   */
  consumers(): AmqpConsumerState[] {
    const states: AmqpConsumerState[] = [];
    for (const channel of this.#channels.values()) {
      for (const consumer of channel.consumers()) {
        states.push({
          id: states.length + 1,
          tag: consumer.tag,
          stream: consumer.queue.definition.stream,
          subscription: consumer.queue.definition.stream,
          credit: consumer.noAck
            ? consumer.maxInFlight
            : Math.max(0, consumer.maxInFlight - consumer.unacked),
          unsettled: consumer.unacked,
        });
      }
    }
    return states;
  }

  /** The client's `connection_name` property, else its `product` ('' when neither). */
  get clientName(): string {
    for (const key of ['connection_name', 'product']) {
      const value = this.#clientProperties[key];
      if (typeof value === 'string') return value;
      if (value instanceof Uint8Array) return Buffer.from(value).toString('utf8');
    }
    return '';
  }

  get published(): number {
    return this.#published;
  }

  get delivered(): number {
    return this.#delivered;
  }

  /** The negotiated heartbeat in seconds (0: none). */
  get heartbeatSeconds(): number {
    return this.#heartbeatSeconds;
  }

  get cancelNotify(): boolean {
    return this.#cancelNotify;
  }

  get writable(): boolean {
    return this.#socket.writableLength < AMQP_WRITE_BUFFER_BYTES_MAX && this.#state !== 'closed';
  }

  drained(): Promise<void> {
    if (this.writable) return Promise.resolve();
    return new Promise((resolve) => this.#drainWaiters.push(resolve));
  }

  // ---- input -----------------------------------------------------------------------------

  #onData(chunk: Buffer): void {
    this.#readSinceBeat = true;
    if (this.#state === 'closed') return;
    let bytes: Uint8Array = chunk;
    if (this.#state === 'header') {
      this.#headerBytes = Buffer.concat([this.#headerBytes, chunk]);
      const verdict = checkProtocolHeader(this.#headerBytes);
      if (verdict === 'incomplete') return;
      if (verdict === 'wrong') {
        this.#socket.end(AMQP_PROTOCOL_HEADER);
        this.#state = 'closed';
        return;
      }
      bytes = this.#headerBytes.subarray(AMQP_PROTOCOL_HEADER.length);
      this.#headerBytes = Buffer.alloc(0);
      this.#state = 'start-ok';
      this.#sendStart();
      if (bytes.length === 0) return;
    }
    let frames: Frame[];
    try {
      frames = this.#decoder.push(bytes);
    } catch (error) {
      if (error instanceof AmqpFrameError) {
        const failure = new AmqpError(error.replyCode, error.message).during(
          error.classId,
          error.methodId,
        );
        this.fail(failure);
        // The decoder stays failed, so the client's close-ok could not be read: end now.
        this.#endSoon();
        return;
      }
      throw error;
    }
    for (const frame of frames) {
      if (this.#closed !== null) return;
      this.#frame(frame);
    }
  }

  #frame(frame: Frame): void {
    if (frame.type === 'heartbeat') return;
    if (this.#state === 'closing') {
      // Only the answer to our close (or the client's own close) counts now.
      if (frame.type === 'method' && frame.channel === 0) {
        if (frame.method.name === 'connection.close-ok') this.#destroy();
        else if (frame.method.name === 'connection.close') {
          this.sendMethod(0, 'connection.close-ok', {});
          this.#endSoon();
        }
      }
      return;
    }
    try {
      if (frame.channel === 0) {
        if (frame.type !== 'method') throw new AmqpError(505, 'content on channel 0');
        this.#connectionMethod(frame);
        return;
      }
      if (this.#state !== 'running')
        throw new AmqpError(504, 'a channel frame before connection.open-ok');
      if (
        frame.type === 'method' &&
        frame.method.name === 'channel.close-ok' &&
        this.#lateCloseOks.delete(frame.channel)
      )
        return;
      const channel = this.#channels.get(frame.channel);
      if (channel === undefined) {
        if (frame.type === 'method' && frame.method.name === 'channel.open') {
          this.#openChannel(frame.channel);
          return;
        }
        // A close-ok for a channel already gone is harmless.
        if (frame.type === 'method' && frame.method.name === 'channel.close-ok') return;
        throw new AmqpError(504, `expected 'channel.open' on channel ${frame.channel}`).during(
          frame.type === 'method' ? frame.method.classId : 0,
          frame.type === 'method' ? frame.method.methodId : 0,
        );
      }
      if (frame.type === 'method' && frame.method.name === 'channel.open' && channel.closing) {
        // The client took our channel.close and reuses the number; its close-ok is still
        // on the way (amqplib queues it behind the channel's unsent frames): the open
        // stands for it, and the close-ok, when it comes, is dropped.
        channel.closeOkImplied();
        this.#lateCloseOks.add(frame.channel);
        this.#openChannel(frame.channel);
        return;
      }
      if (frame.type === 'method' && frame.method.name === 'channel.open') {
        throw new AmqpError(504, `second 'channel.open' seen on channel ${frame.channel}`).during(
          20,
          10,
        );
      }
      if (frame.type === 'method' && frame.method.name === 'basic.publish') this.#published++;
      channel.receive(frame);
    } catch (error) {
      const failure = error instanceof AmqpError ? error : new AmqpError(541, String(error));
      if (frame.type === 'method') failure.during(frame.method.classId, frame.method.methodId);
      this.fail(failure);
    }
  }

  #connectionMethod(frame: Extract<Frame, { type: 'method' }>): void {
    const method = frame.method;
    switch (method.name) {
      case 'connection.start-ok':
        if (this.#state !== 'start-ok') break;
        this.#startOk(method.args);
        return;
      case 'connection.tune-ok':
        if (this.#state !== 'tune-ok') break;
        this.#tuneOk(method.args);
        return;
      case 'connection.open':
        if (this.#state !== 'open') break;
        if (method.args.virtualHost !== '/' && method.args.virtualHost !== '') {
          throw new AmqpError(
            530,
            `vhost '${method.args.virtualHost}' not found (Weir has one: '/')`,
          );
        }
        this.#state = 'running';
        this.sendMethod(0, 'connection.open-ok', { knownHosts: '' });
        return;
      case 'connection.close':
        this.sendMethod(0, 'connection.close-ok', {});
        this.#state = 'closing';
        this.#endSoon();
        return;
      case 'connection.close-ok':
        this.#destroy();
        return;
      case 'connection.update-secret':
        if (this.#state !== 'running') break;
        // Weir's logins are passwords checked once; a new secret (an OAuth token) is taken as is.
        this.sendMethod(0, 'connection.update-secret-ok', {});
        return;
      case 'connection.blocked':
      case 'connection.unblocked':
        return;
      default:
        break;
    }
    throw new AmqpError(503, `${method.name} is not valid now (connection ${this.#state})`);
  }

  #sendStart(): void {
    this.sendMethod(0, 'connection.start', {
      versionMajor: 0,
      versionMinor: 9,
      serverProperties: {
        product: 'Weir',
        version: this.#options.serverVersion,
        platform: `Node.js ${process.version}`,
        information: 'Weir, a durable message broker; AMQP 0-9-1 gateway (docs/amqp.md)',
        capabilities: {
          publisher_confirms: true,
          exchange_exchange_bindings: true,
          'basic.nack': true,
          consumer_cancel_notify: true,
          'connection.blocked': true,
          authentication_failure_close: true,
          per_consumer_qos: true,
          direct_reply_to: true,
        },
      },
      mechanisms: 'PLAIN AMQPLAIN',
      locales: 'en_US',
    });
  }

  #startOk(args: MethodArguments['connection.start-ok']): void {
    this.#clientProperties = args.clientProperties;
    const capabilities = args.clientProperties['capabilities'];
    if (
      capabilities !== null &&
      typeof capabilities === 'object' &&
      !Array.isArray(capabilities) &&
      !(capabilities instanceof Uint8Array) &&
      !(capabilities instanceof Date)
    ) {
      const table = capabilities as FieldTable;
      this.#cancelNotify = table['consumer_cancel_notify'] === true;
      this.#blockedCapability = table['connection.blocked'] === true;
    }
    const login =
      args.mechanism === 'PLAIN'
        ? plainLogin(args.response)
        : args.mechanism === 'AMQPLAIN'
          ? amqplainLogin(args.response)
          : null;
    if (login === null) {
      this.#refuse(
        args.mechanism === 'PLAIN' || args.mechanism === 'AMQPLAIN'
          ? `malformed ${args.mechanism} response`
          : `unsupported authentication mechanism '${args.mechanism}' (PLAIN, AMQPLAIN)`,
      );
      return;
    }
    this.#state = 'closing'; // until the check answers, nothing else is read
    void this.#authenticate(login.user, login.password, args.mechanism);
  }

  async #authenticate(user: string, password: string, mechanism: string): Promise<void> {
    const authenticator = this.#options.authenticator;
    let principal: Principal;
    try {
      if (authenticator === null || !authenticator.enabled) {
        if (user === 'guest' && (this.remote === null || !isLoopbackAddress(this.remote))) {
          throw new AmqpError(403, "User 'guest' can only connect via localhost");
        }
        principal = OPEN_PRINCIPAL;
      } else {
        principal = await authenticator.password(user, password, this.remote, 'amqp');
      }
    } catch (error) {
      if (this.#closed !== null) return;
      this.#state = 'start-ok';
      this.#refuse(
        error instanceof AmqpError
          ? error.message.replace(/^ACCESS_REFUSED - /u, '')
          : isWeirError(error)
            ? `Login was refused using authentication mechanism ${mechanism}: ${error.message}`
            : `Login was refused using authentication mechanism ${mechanism}`,
      );
      return;
    }
    if (this.#closed !== null) return;
    this.#user = user;
    this.#client = this.#options.connectClient(principal, this.remote);
    this.#state = 'tune-ok';
    this.sendMethod(0, 'connection.tune', {
      channelMax: AMQP_CHANNELS_MAX,
      frameMax: AMQP_FRAME_MAX,
      heartbeat: this.#options.heartbeatSeconds ?? AMQP_HEARTBEAT_S_DEFAULT,
    });
  }

  #refuse(text: string): void {
    this.#options.log('warn', 'amqp_login_refused', {
      connection: this.id,
      remote: this.remote,
      why: text,
    });
    this.fail(new AmqpError(403, text).during(10, 11));
  }

  #tuneOk(args: MethodArguments['connection.tune-ok']): void {
    const frameMax = args.frameMax === 0 ? AMQP_FRAME_MAX : args.frameMax;
    if (frameMax < FRAME_MIN_SIZE || frameMax > AMQP_FRAME_MAX) {
      throw new AmqpError(
        530,
        `frame_max=${args.frameMax} outside ${FRAME_MIN_SIZE}..${AMQP_FRAME_MAX}`,
      );
    }
    const channelMax = args.channelMax === 0 ? AMQP_CHANNELS_MAX : args.channelMax;
    if (channelMax > AMQP_CHANNELS_MAX) {
      throw new AmqpError(530, `channel_max=${args.channelMax} above ${AMQP_CHANNELS_MAX}`);
    }
    this.#frameMax = frameMax;
    this.#channelMax = channelMax;
    this.#decoder.frameMax = frameMax;
    this.#heartbeatSeconds = args.heartbeat;
    this.#state = 'open';
    if (args.heartbeat > 0) this.#startHeartbeats(args.heartbeat);
  }

  /** A heartbeat every interval/2 when nothing else went out; closed after 2 silent intervals. */
  #startHeartbeats(seconds: number): void {
    const halfMs = Math.max(1, Math.floor((seconds * 1000) / 2));
    this.#heartbeat = setInterval(() => {
      if (!this.#wroteSinceBeat) this.#write(HEARTBEAT_FRAME);
      this.#wroteSinceBeat = false;
      if (this.#readSinceBeat) {
        this.#readSinceBeat = false;
        this.#missedBeats = 0;
        return;
      }
      this.#missedBeats++;
      if (this.#missedBeats >= 4) {
        this.#options.log('warn', 'amqp_heartbeat_missed', {
          connection: this.id,
          remote: this.remote,
          seconds,
        });
        this.#destroy();
      }
    }, halfMs);
    this.#heartbeat.unref();
  }

  #openChannel(id: number): void {
    if (id > this.#channelMax) {
      throw new AmqpError(530, `channel ${id} above channel_max ${this.#channelMax}`).during(
        20,
        10,
      );
    }
    this.#channels.set(id, new AmqpChannel(id, this));
    this.sendMethod(id, 'channel.open-ok', { channelId: '' });
  }

  channelClosed(channel: number): void {
    this.#channels.delete(channel);
  }

  // ---- output ----------------------------------------------------------------------------

  sendMethod<N extends MethodName>(channel: number, name: N, args: MethodArguments[N]): void {
    this.#write(encodeMethodFrame(channel, name, args));
  }

  sendContent(channel: number, propertyBytes: Uint8Array, body: Uint8Array): void {
    this.#delivered++;
    this.#write(encodeContentFrames(channel, 60, body.length, propertyBytes, body, this.#frameMax));
  }

  #write(bytes: Uint8Array): void {
    if (this.#state === 'closed') return;
    this.#output.push(bytes);
    this.#wroteSinceBeat = true;
    if (!this.#flushScheduled) {
      this.#flushScheduled = true;
      setImmediate(() => this.#flush());
    }
  }

  #flush(): void {
    this.#flushScheduled = false;
    const output = this.#output;
    if (output.length === 0 || this.#socket.destroyed) return;
    this.#output = [];
    this.#socket.write(output.length === 1 ? output[0]! : Buffer.concat(output));
  }

  #onDrain(): void {
    const waiters = this.#drainWaiters;
    this.#drainWaiters = [];
    for (const wake of waiters) wake();
  }

  publishBytes(delta: number): void {
    this.#publishBytes += delta;
    if (this.#publishBytes === 0 && this.#publishesSettled !== null) {
      const settled = this.#publishesSettled;
      this.#publishesSettled = null;
      settled();
    }
    if (!this.#paused && this.#publishBytes > AMQP_PUBLISH_BYTES_PENDING_MAX) {
      this.#paused = true;
      this.#socket.pause();
      if (this.#blockedCapability && !this.#blocked) {
        this.#blocked = true;
        this.sendMethod(0, 'connection.blocked', { reason: 'publishes are waiting for storage' });
      }
    } else if (this.#paused && this.#publishBytes <= AMQP_PUBLISH_BYTES_PENDING_MAX / 2) {
      this.#paused = false;
      this.#socket.resume();
      if (this.#blocked) {
        this.#blocked = false;
        this.sendMethod(0, 'connection.unblocked', {});
      }
    }
  }

  // ---- closing ---------------------------------------------------------------------------

  /** A connection exception: connection.close, then the socket once it is answered. */
  fail(error: AmqpError): void {
    if (this.#state === 'closing' || this.#state === 'closed') return;
    this.#options.log('info', 'amqp_connection_error', {
      connection: this.id,
      remote: this.remote,
      replyCode: error.replyCode,
      replyText: error.replyText,
    });
    this.sendMethod(0, 'connection.close', {
      replyCode: error.replyCode,
      replyText: error.replyText,
      classId: error.classId,
      methodId: error.methodId,
    });
    this.#state = 'closing';
    const timer = setTimeout(() => this.#destroy(), AMQP_CLOSE_TIMEOUT_MS);
    timer.unref();
    this.#timers.push(timer);
  }

  /**
   * The server is stopping: reading stops, the publishes already taken get their confirms
   * (within AMQP_CLOSE_TIMEOUT_MS), then connection.close 320, as RabbitMQ does on shutdown.
   */
  async shutdown(): Promise<void> {
    if (this.#closed === null && this.#publishBytes > 0) {
      this.#socket.pause();
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, AMQP_CLOSE_TIMEOUT_MS);
        timer.unref();
        this.#publishesSettled = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      // The confirms are sent in a microtask after the last publish settles: let them out.
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
    // connection.close, then the client's close-ok (read on: the socket may be paused) or
    // AMQP_CLOSE_TIMEOUT_MS ends the socket; a client that never answers is not waited for.
    this.fail(new AmqpError(320, 'broker shutdown'));
    if (this.#state !== 'closed') this.#socket.resume();
    return this.#ended;
  }

  #endSoon(): void {
    setImmediate(() => {
      this.#flush();
      this.#socket.end();
      this.#destroy();
    });
  }

  #destroy(): void {
    this.#flush();
    this.#socket.end();
    const timer = setTimeout(() => this.#socket.destroy(), AMQP_CLOSE_TIMEOUT_MS);
    timer.unref();
    void this.#teardown();
  }

  #teardown(): Promise<void> {
    this.#closed ??= (async () => {
      this.#state = 'closed';
      for (const timer of this.#timers) clearTimeout(timer);
      if (this.#heartbeat !== null) clearInterval(this.#heartbeat);
      this.#onDrain();
      const channels = [...this.#channels.values()];
      this.#channels.clear();
      await Promise.all(
        channels.map((channel) => channel.connectionClosed().catch(() => undefined)),
      );
      await this.gateway.connectionClosed(this.id).catch(() => undefined);
      await this.#client?.close().catch(() => undefined);
      this.#options.onClosed(this);
      this.#markEnded();
    })();
    return this.#closed;
  }
}
