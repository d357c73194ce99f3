/**
 * One connection to a Weir server over a Transport: the HELLO handshake, request ids and the
 * handlers waiting for their replies, heartbeats, and the checks on every frame the server
 * sends. Transport-neutral: it sees bytes, never sockets. A Connection lives once; when it
 * closes, the client opens a new one (network-client.ts).
 *
 * Every request gets exactly one outcome: its reply, the server's ERROR for it, or CLOSED when
 * the connection ends first (`#terminate` fails every pending handler before it reports the
 * close). Reply handlers run synchronously while the frame is decoded, so what they keep of the
 * payload must be copied unless `owned` says the bytes belong to the SDK.
 *
 * A malformed frame from the server gets ERROR (requestId 0, PROTOCOL_ERROR) and the
 * connection closes, as the server does with a malformed client.
 *
 * Handshake: HELLO with the credentials (none, a token, or SCRAM's client-first); for SCRAM
 * the server's AUTH_CHALLENGE is answered with AUTH_PROOF once the proof is computed
 * (client-credentials.ts), and HELLO_OK must then carry the server's signature, else the
 * connection is refused with NOT_AUTHORIZED. A server that answers in TLS (a weir:// address
 * for a TLS port) is told apart from a broken one and named so.
 *
 * Concurrency: single-threaded; state changes happen inside a transport callback, a timer, or
 * a caller's synchronous method.
 */
import { FRAME_BYTES_MAX, HEARTBEAT_MISSES_MAX, CLIENT_REQUESTS_IN_FLIGHT_MAX } from '../limits.js';
import { Reader, type Writer } from '../protocol/codec.js';
import {
  FRAME_HEADER_BYTES,
  FrameDecoder,
  FLAG_REPLY_PROGRESS,
  OPCODES,
  PROTOCOL_VERSION,
  type Frame,
  type Opcode,
} from '../protocol/frame.js';
import {
  encodeCredentials,
  readAuthChallenge,
  readError,
  writeError,
  type HelloCredentials,
} from '../protocol/frames.js';
import { WeirError, isWeirError } from '../protocol/index.js';
import { assert } from '../util/index.js';
import { signatureMatches, type ClientCredentials } from './client-credentials.js';
import { finishFrame, startFrame } from './frame-writer.js';
import type { Transport, TransportAddress, TransportConnector } from './transport.js';

const REQUEST_ID_MAX = 0xffffffff;

export interface ReplyHandler {
  /** The opcode of the reply this request gets (an ERROR may come instead). */
  readonly expects: Opcode;
  /**
   * The reply's payload, during decoding; a view valid only during the call unless `owned`.
   * Throws WeirError PROTOCOL_ERROR when the payload is malformed (the connection then closes).
   */
  reply(payload: Uint8Array, owned: boolean): void;
  /**
   * A REPLY flagged as progress (protocol 6) before the reply: the request stays pending. A
   * view valid only during the call. Absent: such a frame is a protocol error.
   */
  progress?(payload: Uint8Array): void;
  /** No reply: the server's ERROR for this request, or CLOSED when the connection ended first. */
  fail(error: WeirError): void;
}

export interface ConnectionEvents {
  /** DELIVER and CONSUMER_CLOSED, which the server sends unasked (only once open). */
  unsolicited(connection: Connection, opcode: Opcode, payload: Uint8Array, owned: boolean): void;
  /** A request slot freed or the transport drained: queued work may go out. */
  writable(connection: Connection): void;
  /** The connection ended; once, after every pending request was failed with `error` (CLOSED). */
  closed(connection: Connection, error: WeirError): void;
}

export interface HelloOptions {
  readonly name: string;
  readonly credentials: ClientCredentials;
  /** For reaching the server and the handshake together. */
  readonly timeoutMs: number;
}

/**
 * A TLS record header (content type 20..23, version 3.1..3.4) as the first bytes from the
 * server. Read as a frame it would announce more than 64 KiB, which no answer to HELLO is,
 * so a Weir server never starts so.
 */
function looksLikeTls(chunk: Uint8Array): boolean {
  return (
    chunk.length >= 3 &&
    chunk[0]! >= 20 &&
    chunk[0]! <= 23 &&
    chunk[1] === 3 &&
    chunk[2]! >= 1 &&
    chunk[2]! <= 4
  );
}

function closedError(error: WeirError): WeirError {
  return error.code === 'CLOSED' ? error : new WeirError('CLOSED', error.message, { cause: error });
}

export class Connection {
  readonly address: TransportAddress;
  readonly #events: ConnectionEvents;
  readonly #decoder: FrameDecoder;
  readonly #pending = new Map<number, ReplyHandler>();
  #transport: Transport | null = null;
  #state: 'handshaking' | 'open' | 'closed' = 'handshaking';
  #nextRequestId = 1;
  #blocked = false;
  /** The chunk being decoded: a payload inside it belongs to the SDK (Transport contract). */
  #chunk: Uint8Array | null = null;
  #lastHeardAt = Date.now();
  /**
   * Rejects the handshake, once. Called by #terminate too: while the SDK computes its SCRAM
   * proof no request is pending, and a close then must still end connect().
   */
  #handshakeFailed: ((error: WeirError) => void) | null = null;
  /** No byte from the server yet: its first bytes may say it speaks TLS. */
  #heardNothing = true;
  #heartbeat: ReturnType<typeof setInterval> | null = null;
  #transportClosed: Promise<void>;
  #resolveTransportClosed: () => void = () => undefined;
  serverVersion = '';
  heartbeatMs = 0;
  /** The largest frame this connection sends: the smaller of the server's limit and ours. */
  maxFrameBytes = FRAME_BYTES_MAX;

  private constructor(address: TransportAddress, events: ConnectionEvents) {
    this.address = address;
    this.#events = events;
    this.#decoder = new FrameDecoder(FRAME_BYTES_MAX, (frame) => this.#onFrame(frame));
    this.#transportClosed = new Promise((resolve) => (this.#resolveTransportClosed = resolve));
  }

  /** Reaches the server and shakes hands; rejects with CLOSED (unreachable) or the server's error. */
  static async open(
    connector: TransportConnector,
    address: TransportAddress,
    events: ConnectionEvents,
    hello: HelloOptions,
  ): Promise<Connection> {
    const deadline = Date.now() + hello.timeoutMs;
    const connection = new Connection(address, events);
    connection.#transport = await connector(
      address,
      {
        data: (chunk) => connection.#onData(chunk),
        drain: () => connection.#onDrain(),
        closed: (error) => connection.#onTransportClosed(error),
      },
      hello.timeoutMs,
    );
    await connection.#handshake(hello, Math.max(1, deadline - Date.now()));
    return connection;
  }

  get isOpen(): boolean {
    return this.#state === 'open';
  }

  /** True after the transport refused more (write returned false) until it drains. */
  get blocked(): boolean {
    return this.#blocked;
  }

  get hasRequestSlot(): boolean {
    return this.#pending.size < CLIENT_REQUESTS_IN_FLIGHT_MAX;
  }

  /** Sends a request built with startFrame(); callers check `hasRequestSlot` first. */
  request(opcode: Opcode, flags: number, writer: Writer, handler: ReplyHandler): void {
    if (this.#state === 'closed') {
      handler.fail(new WeirError('CLOSED', `the connection to ${this.address.url} is closed`));
      return;
    }
    assert(this.hasRequestSlot, 'a request is sent only when a slot is free');
    if (writer.position > this.maxFrameBytes) {
      handler.fail(this.#tooLarge(opcode, writer.position));
      return;
    }
    const requestId = this.#allocateRequestId();
    this.#pending.set(requestId, handler);
    this.#write(finishFrame(writer, opcode, flags, requestId));
  }

  /** Sends a frame that gets no reply (CREDIT, PUBLISH without confirm). */
  send(opcode: Opcode, flags: number, writer: Writer): void {
    if (this.#state === 'closed') return;
    if (writer.position > this.maxFrameBytes) throw this.#tooLarge(opcode, writer.position);
    this.#write(finishFrame(writer, opcode, flags, 0));
  }

  /** Closes after sending what is queued; pending requests fail with CLOSED. */
  close(reason: WeirError): Promise<void> {
    this.#terminate(reason, true);
    return this.#transportClosed;
  }

  #tooLarge(opcode: Opcode, bytes: number): WeirError {
    return new WeirError(
      'LIMIT_EXCEEDED',
      `a frame of ${bytes} bytes (opcode ${opcode}) is over the limit of ${this.maxFrameBytes}`,
    );
  }

  #allocateRequestId(): number {
    // Ids wrap; one still waiting for its reply is skipped (at most CLIENT_REQUESTS_IN_FLIGHT_MAX are).
    let requestId = this.#nextRequestId;
    while (this.#pending.has(requestId))
      requestId = requestId === REQUEST_ID_MAX ? 1 : requestId + 1;
    this.#nextRequestId = requestId === REQUEST_ID_MAX ? 1 : requestId + 1;
    return requestId;
  }

  #write(bytes: Uint8Array): void {
    assert(this.#transport !== null, 'a connection writes only once its transport is open');
    if (!this.#transport.write(bytes)) this.#blocked = true;
  }

  #writeEmpty(opcode: Opcode, requestId: number): void {
    this.#write(finishFrame(startFrame(FRAME_HEADER_BYTES), opcode, 0, requestId));
  }

  #handshake(hello: HelloOptions, timeoutMs: number): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#terminate(
          new WeirError('CLOSED', `no answer to HELLO from ${this.address.url} in ${timeoutMs} ms`),
        );
      }, timeoutMs);
      const fail = (error: WeirError): void => {
        if (this.#handshakeFailed === null) return; // settled already
        this.#handshakeFailed = null;
        clearTimeout(timer);
        // A malformed frame: the decoding path closes with an ERROR frame right after.
        if (error.code !== 'PROTOCOL_ERROR') this.#terminate(error);
        reject(error);
      };
      this.#handshakeFailed = fail;
      const welcome = (payload: Uint8Array, expectedSignature: Uint8Array | null): void => {
        this.#readHelloOk(payload, expectedSignature);
        this.#handshakeFailed = null;
        clearTimeout(timer);
        this.#state = 'open';
        this.#startHeartbeat();
        resolve();
      };
      const credentials = hello.credentials;
      const exchange = credentials.kind === 'password' ? credentials.password.start() : null;
      const wire: HelloCredentials =
        credentials.kind === 'token'
          ? { kind: 'token', token: credentials.token }
          : exchange !== null
            ? { kind: 'scram', user: exchange.user, clientNonce: exchange.clientNonce }
            : { kind: 'none' };
      const writer = startFrame();
      writer.u16(PROTOCOL_VERSION).string(hello.name).bytes(encodeCredentials(wire));
      if (exchange === null || credentials.kind !== 'password') {
        this.request(OPCODES.HELLO, 0, writer, {
          expects: OPCODES.HELLO_OK,
          reply: (payload) => welcome(payload, null),
          fail,
        });
        return;
      }
      this.request(OPCODES.HELLO, 0, writer, {
        expects: OPCODES.AUTH_CHALLENGE,
        reply: (payload) => {
          const reader = new Reader(payload);
          const challenge = readAuthChallenge(reader);
          reader.done();
          credentials.password
            .prove(exchange, challenge)
            .then(({ proof, serverSignature }) =>
              this.#sendProof(proof, serverSignature, welcome, fail),
            )
            .catch((error: unknown) => {
              if (!isWeirError(error)) throw error; // a bug in the SDK: crash loudly
              fail(error);
            });
        },
        fail,
      });
    });
  }

  /** SCRAM's second round: the proof goes out, HELLO_OK must come back with the signature. */
  #sendProof(
    proof: Uint8Array,
    expectedSignature: Uint8Array,
    welcome: (payload: Uint8Array, expectedSignature: Uint8Array) => void,
    fail: (error: WeirError) => void,
  ): void {
    if (this.#state === 'closed') return; // timed out or lost meanwhile: already failed
    const writer = startFrame();
    writer.bytes(proof);
    this.request(OPCODES.AUTH_PROOF, 0, writer, {
      expects: OPCODES.HELLO_OK,
      reply: (payload) => welcome(payload, expectedSignature),
      fail,
    });
  }

  /** Reads HELLO_OK; with `expectedSignature` (SCRAM), the server must prove it holds the keys. */
  #readHelloOk(payload: Uint8Array, expectedSignature: Uint8Array | null): void {
    const reader = new Reader(payload);
    const version = reader.u16();
    if (version !== PROTOCOL_VERSION) {
      throw new WeirError(
        'PROTOCOL_ERROR',
        `the server speaks protocol ${version}, not ${PROTOCOL_VERSION}`,
      );
    }
    this.serverVersion = reader.text();
    this.heartbeatMs = reader.u32();
    const serverMaxFrameBytes = reader.u32();
    const signature = reader.bytes();
    reader.done();
    if (this.heartbeatMs === 0 || serverMaxFrameBytes < FRAME_HEADER_BYTES) {
      throw new WeirError('PROTOCOL_ERROR', 'HELLO_OK carries a zero heartbeat or frame limit');
    }
    if (expectedSignature !== null && !signatureMatches(expectedSignature, signature)) {
      throw new WeirError(
        'NOT_AUTHORIZED',
        `${this.address.url} did not prove it knows the password (wrong SCRAM signature): not the server it claims to be`,
      );
    }
    this.maxFrameBytes = Math.min(FRAME_BYTES_MAX, serverMaxFrameBytes);
  }

  #startHeartbeat(): void {
    const intervalMs = this.heartbeatMs;
    this.#heartbeat = setInterval(() => {
      const silentMs = Date.now() - this.#lastHeardAt;
      if (silentMs >= intervalMs * HEARTBEAT_MISSES_MAX) {
        this.#terminate(
          new WeirError(
            'CLOSED',
            `no frame from ${this.address.url} in ${silentMs} ms; presumed gone`,
          ),
        );
        return;
      }
      this.#writeEmpty(OPCODES.PING, 0);
    }, intervalMs);
    // The socket keeps the process alive while the client is open; the heartbeat need not.
    this.#heartbeat.unref();
  }

  #onData(chunk: Uint8Array): void {
    if (this.#state === 'closed') return;
    this.#lastHeardAt = Date.now();
    if (this.#heardNothing) {
      this.#heardNothing = false;
      if (looksLikeTls(chunk)) {
        this.#terminate(
          new WeirError(
            'CLOSED',
            `${this.address.url} answered in TLS: use a weirs:// address (or the tls option)`,
          ),
        );
        return;
      }
    }
    this.#chunk = chunk;
    try {
      this.#decoder.push(chunk);
    } catch (error) {
      if (!isWeirError(error)) throw error; // a bug in the SDK: crash loudly
      this.#failProtocol(error);
    } finally {
      this.#chunk = null;
    }
  }

  #onDrain(): void {
    this.#blocked = false;
    if (this.#state === 'open') this.#events.writable(this);
  }

  #onTransportClosed(error: Error | null): void {
    this.#resolveTransportClosed();
    const detail = error ? `: ${(error as { code?: string }).code ?? error.message}` : '';
    // A TLS port drops a plain client's HELLO without a word: say what that likely means.
    const hint =
      this.#state === 'handshaking' && this.address.url.startsWith('weir://')
        ? ' during the handshake (if that port speaks TLS, use a weirs:// address)'
        : '';
    this.#terminate(
      new WeirError('CLOSED', `the connection to ${this.address.url} was lost${detail}${hint}`, {
        cause: error ?? undefined,
      }),
    );
  }

  #onFrame(frame: Frame): void {
    if (this.#state === 'closed') return; // the rest of a chunk after a fatal frame
    const owned = this.#chunk !== null && frame.payload.buffer === this.#chunk.buffer;
    switch (frame.opcode) {
      case OPCODES.PING:
        this.#writeEmpty(OPCODES.PONG, frame.requestId);
        return;
      case OPCODES.PONG:
        return;
      case OPCODES.ERROR: {
        const reader = new Reader(frame.payload);
        const error = readError(reader);
        reader.done();
        if (frame.requestId === 0) {
          // The server is closing this connection and says why. During the handshake that is
          // the answer to HELLO (LIMIT_EXCEEDED: too many connections): pass the code on as is.
          if (this.#state === 'handshaking') {
            for (const handler of this.#pending.values()) handler.fail(error);
            this.#pending.clear();
            this.#handshakeFailed?.(error); // between SCRAM's rounds no request is pending
          }
          this.#terminate(
            new WeirError(
              'CLOSED',
              `${this.address.url} closed the connection: ${error.code}: ${error.message}`,
              {
                cause: error,
              },
            ),
          );
        } else {
          this.#takeHandler(frame.requestId).fail(error);
        }
        return;
      }
      case OPCODES.DELIVER:
      case OPCODES.CONSUMER_CLOSED:
        if (this.#state !== 'open')
          throw new WeirError('PROTOCOL_ERROR', 'a delivery before HELLO_OK');
        this.#events.unsolicited(this, frame.opcode, frame.payload, owned);
        return;
      case OPCODES.HELLO_OK:
      case OPCODES.AUTH_CHALLENGE:
      case OPCODES.RESULT:
      case OPCODES.PUBLISH_RESULT:
      case OPCODES.SUBSCRIBED:
      case OPCODES.SETTLED:
      case OPCODES.TX_RESULT:
      case OPCODES.REPLY: {
        if (frame.opcode === OPCODES.REPLY && (frame.flags & FLAG_REPLY_PROGRESS) !== 0) {
          const waiting = this.#pending.get(frame.requestId);
          if (waiting?.progress === undefined) {
            throw new WeirError(
              'PROTOCOL_ERROR',
              `a progress REPLY to request ${frame.requestId}, which waits for none`,
            );
          }
          waiting.progress(frame.payload);
          return;
        }
        const handler = this.#takeHandler(frame.requestId);
        try {
          if (handler.expects !== frame.opcode) {
            throw new WeirError(
              'PROTOCOL_ERROR',
              `opcode ${frame.opcode} answers a request that expects ${handler.expects}`,
            );
          }
          handler.reply(frame.payload, owned);
        } catch (error) {
          if (!isWeirError(error)) throw error; // a bug in the SDK: crash loudly
          // The request is lost with the connection (CLOSED); a refused handshake says why.
          // Failed before the close is reported, so its owner's books (the publish window)
          // are straight when the client hears of the close.
          handler.fail(this.#state === 'handshaking' ? error : closedError(error));
          this.#failProtocol(error);
        }
        return;
      }
      default:
        throw new WeirError('PROTOCOL_ERROR', `opcode ${frame.opcode} is not one a server sends`);
    }
  }

  #takeHandler(requestId: number): ReplyHandler {
    const handler = this.#pending.get(requestId);
    if (!handler)
      throw new WeirError(
        'PROTOCOL_ERROR',
        `a reply to request ${requestId}, which is not waiting`,
      );
    this.#pending.delete(requestId);
    if (this.#state === 'open') this.#events.writable(this);
    return handler;
  }

  #failProtocol(error: WeirError): void {
    if (this.#state === 'closed') return;
    const writer = startFrame();
    writeError(writer, { code: 'PROTOCOL_ERROR', message: error.message });
    this.#write(finishFrame(writer, OPCODES.ERROR, 0, 0));
    this.#terminate(
      new WeirError('CLOSED', `${this.address.url} sent a malformed frame: ${error.message}`, {
        cause: error,
      }),
      true,
    );
  }

  /** Ends the connection once: fails every pending request, then reports the close. */
  #terminate(error: WeirError, graceful = false): void {
    if (this.#state === 'closed') return;
    this.#state = 'closed';
    if (this.#heartbeat) clearInterval(this.#heartbeat);
    if (graceful) this.#transport?.end();
    else this.#transport?.destroy();
    const failure = closedError(error);
    const handlers = [...this.#pending.values()];
    this.#pending.clear();
    for (const handler of handlers) handler.fail(failure);
    this.#handshakeFailed?.(failure);
    this.#events.closed(this, failure);
  }
}
