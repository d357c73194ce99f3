/**
 * A small Weir server for the SDK tests. It speaks the wire protocol with the protocol layer's
 * codecs (never the SDK's code), keeps messages in memory (fake-store.ts), records every frame
 * it receives, and misbehaves on request: hold publish replies, go silent, stop reading, drop
 * or refuse connections, send arbitrary bytes, end consumers.
 *
 * Requests get replyTo `_INBOX.<n>`; a publish to that subject is the reply.
 */
import { createServer, type Server, type Socket } from 'node:net';
import { Reader, Writer } from '../../src/protocol/codec.js';
import {
  FLAG_NO_CONFIRM,
  FrameDecoder,
  OPCODES,
  PROTOCOL_VERSION,
  writeFrameHeader,
  type Frame,
  type Opcode,
} from '../../src/protocol/frame.js';
import {
  readError,
  readPublishEntry,
  readSettleEntry,
  writeDeliveredMessage,
  writeEntryError,
  writeError,
  writeReceiptOrError,
  type PublishEntry,
  type SettleEntry,
} from '../../src/protocol/frames.js';
import {
  ERROR_CODES,
  WeirError,
  type ErrorCode,
  type PublishReceipt,
  type SubscribeOptions,
} from '../../src/protocol/index.js';
import { FRAME_BYTES_MAX } from '../../src/limits.js';
import { FakeStore, type FakeConsumer } from './fake-store.js';

export interface ReceivedFrame {
  readonly connection: number;
  readonly opcode: Opcode;
  readonly flags: number;
  readonly requestId: number;
  /** Entries of a PUBLISH or SETTLE, credit of a CREDIT. */
  readonly count: number;
}

interface Peer {
  readonly id: number;
  readonly socket: Socket;
  readonly consumers: Map<number, FakeConsumer>;
}

export class FakeServer {
  readonly frames: ReceivedFrame[] = [];
  /** Settle entries other than takes. */
  readonly settles: SettleEntry[] = [];
  /**
   * Take entries (protocol 3: the application received the message). Kept apart, and a SETTLE
   * frame of takes only is not in `frames` (nor counted in a frame's `count`): the tests of
   * settles count acks, nacks, terms and extends.
   */
  readonly takes: SettleEntry[] = [];
  readonly calls: { method: string; args: unknown[] }[] = [];
  readonly subscribes: { stream: string; options: SubscribeOptions; credit: number }[] = [];
  readonly hellos: { name: string; version: number }[] = [];
  /** ERROR frames the client sent (it must send PROTOCOL_ERROR before closing on bad input). */
  readonly errors: WeirError[] = [];
  /** Connections that ended, and connections cut at once (refuseConnections). */
  closedConnections = 0;
  refused = 0;
  /** Receive PUBLISH frames but neither store nor answer them. */
  holdPublishes = false;
  /** Send nothing at all (not even PONG): a server that hangs. */
  mute = false;
  /** Accept connections and cut them at once. */
  refuseConnections = false;
  /** Answer HELLO with this error instead of HELLO_OK. */
  helloError: ErrorCode | null = null;
  /** Answer SETTLE this much later (other frames are answered at once). */
  settleDelayMs = 0;
  /** Answer PUBLISH with a PUBLISH_RESULT that has one outcome too many. */
  malformedPublishResults = false;
  /** The version HELLO_OK claims. */
  protocolVersion: number = PROTOCOL_VERSION;
  readonly #server: Server;
  readonly #heartbeatMs: number;
  readonly #store = new FakeStore();
  readonly #peers = new Set<Peer>();
  readonly #inboxes = new Map<string, { peer: Peer; requestId: number; timer: NodeJS.Timeout }>();
  #nextId = 1;

  private constructor(server: Server, heartbeatMs: number) {
    this.#server = server;
    this.#heartbeatMs = heartbeatMs;
  }

  static async start(options: { heartbeatMs?: number } = {}): Promise<FakeServer> {
    const server = createServer();
    const fake = new FakeServer(server, options.heartbeatMs ?? 5000);
    server.on('connection', (socket) => fake.#accept(socket));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return fake;
  }

  get port(): number {
    return (this.#server.address() as { port: number }).port;
  }

  get url(): string {
    return `weir://127.0.0.1:${this.port}`;
  }

  get connections(): number {
    return this.#peers.size;
  }

  addStream(name: string, prefix = name): void {
    this.#store.addStream(name, prefix);
  }

  stored(stream: string): PublishEntry[] {
    return this.#store.stored(stream);
  }

  framesOf(opcode: Opcode): ReceivedFrame[] {
    return this.frames.filter((frame) => frame.opcode === opcode);
  }

  dropConnections(): void {
    for (const peer of this.#peers) peer.socket.destroy();
  }

  /** Stops reading every connection (TCP then pushes back on the client), or starts again. */
  pauseReading(paused: boolean): void {
    for (const peer of this.#peers) {
      if (paused) peer.socket.pause();
      else peer.socket.resume();
    }
  }

  sendRaw(bytes: Uint8Array): void {
    for (const peer of this.#peers) peer.socket.write(bytes);
  }

  /** CONSUMER_CLOSED for every consumer of the stream. */
  endConsumers(stream: string, code: ErrorCode, message: string): void {
    for (const peer of this.#peers) {
      for (const consumer of [...peer.consumers.values()]) {
        if (consumer.stream !== stream) continue;
        this.#dropConsumer(peer, consumer);
        this.#send(peer, OPCODES.CONSUMER_CLOSED, 0, (writer) =>
          writer.u32(consumer.id).u16(ERROR_CODES[code].number).string(message),
        );
      }
    }
  }

  /** Polls `condition` every 5 ms; throws after `timeoutMs`. */
  async waitFor(condition: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!condition()) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
  }

  async stop(): Promise<void> {
    for (const { timer } of this.#inboxes.values()) clearTimeout(timer);
    this.#inboxes.clear();
    this.dropConnections();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  #accept(socket: Socket): void {
    if (this.refuseConnections) {
      this.refused++;
      socket.destroy();
      return;
    }
    const peer: Peer = { id: this.#nextId++, socket, consumers: new Map() };
    this.#peers.add(peer);
    const decoder = new FrameDecoder(FRAME_BYTES_MAX, (frame) => this.#onFrame(peer, frame));
    socket.on('data', (chunk) => {
      try {
        decoder.push(chunk);
      } catch (error) {
        this.#send(peer, OPCODES.ERROR, 0, (writer) =>
          writeError(writer, { code: 'PROTOCOL_ERROR', message: String(error) }),
        );
        socket.end();
      }
    });
    socket.on('error', () => undefined);
    socket.on('close', () => {
      this.closedConnections++;
      this.#peers.delete(peer);
      for (const consumer of [...peer.consumers.values()]) this.#dropConsumer(peer, consumer);
      for (const [inbox, pending] of this.#inboxes) {
        if (pending.peer !== peer) continue;
        clearTimeout(pending.timer);
        this.#inboxes.delete(inbox);
      }
    });
  }

  #send(peer: Peer, opcode: Opcode, requestId: number, write: (writer: Writer) => void): void {
    if (this.mute || peer.socket.destroyed) return;
    const writer = new Writer();
    writer.u32(0).u32(0).u16(0);
    write(writer);
    const bytes = writer.finish();
    writeFrameHeader(bytes, opcode, 0, requestId, bytes.length);
    peer.socket.write(bytes.slice());
  }

  #fail(peer: Peer, requestId: number, code: ErrorCode, message: string): void {
    this.#send(peer, OPCODES.ERROR, requestId, (writer) => writeError(writer, { code, message }));
  }

  #onFrame(peer: Peer, frame: Frame): void {
    const reader = new Reader(frame.payload);
    const record = (count: number): void => {
      this.frames.push({
        connection: peer.id,
        opcode: frame.opcode,
        flags: frame.flags,
        requestId: frame.requestId,
        count,
      });
    };
    switch (frame.opcode) {
      case OPCODES.HELLO: {
        record(0);
        this.hellos.push({ version: reader.u16(), name: reader.text() });
        if (this.helloError) {
          this.#fail(peer, frame.requestId, this.helloError, 'refused by the fake server');
          peer.socket.end();
          return;
        }
        this.#send(peer, OPCODES.HELLO_OK, frame.requestId, (writer) =>
          writer
            .u16(this.protocolVersion)
            .string('fake')
            .u32(this.#heartbeatMs)
            .u32(FRAME_BYTES_MAX)
            .bytes(null),
        );
        return;
      }
      case OPCODES.PING:
        record(0);
        this.#send(peer, OPCODES.PONG, frame.requestId, () => undefined);
        return;
      case OPCODES.CALL: {
        record(0);
        const method = reader.text();
        const args = JSON.parse(reader.text()) as unknown[];
        this.calls.push({ method, args });
        const outcome = this.#store.call(method, args);
        if (outcome instanceof WeirError) {
          return this.#fail(peer, frame.requestId, outcome.code, outcome.message);
        }
        this.#send(peer, OPCODES.RESULT, frame.requestId, (writer) =>
          writer.string(JSON.stringify(outcome.value)),
        );
        return;
      }
      case OPCODES.PUBLISH: {
        const count = reader.u32();
        record(count);
        const entries = Array.from({ length: count }, () => readPublishEntry(reader));
        if (this.holdPublishes) return;
        const outcomes = entries.map((entry) => this.#append(entry));
        if ((frame.flags & FLAG_NO_CONFIRM) === 0) {
          this.#send(peer, OPCODES.PUBLISH_RESULT, frame.requestId, (writer) => {
            writer.u32(count + (this.malformedPublishResults ? 1 : 0));
            for (const outcome of outcomes) writeReceiptOrError(writer, outcome);
          });
        }
        this.#pumpAll();
        return;
      }
      case OPCODES.SUBSCRIBE: {
        record(0);
        const stream = reader.text();
        const options = JSON.parse(reader.text()) as SubscribeOptions;
        const credit = reader.u32();
        this.subscribes.push({ stream, options, credit });
        const consumer = this.#store.openConsumer(this.#nextId++, stream, options, credit);
        if (consumer instanceof WeirError) {
          return this.#fail(peer, frame.requestId, consumer.code, consumer.message);
        }
        peer.consumers.set(consumer.id, consumer);
        this.#send(peer, OPCODES.SUBSCRIBED, frame.requestId, (writer) =>
          writer.u32(consumer.id).string(consumer.name),
        );
        this.#pump(peer, consumer);
        return;
      }
      case OPCODES.CREDIT: {
        const consumer = peer.consumers.get(reader.u32());
        const credit = reader.u32();
        record(credit);
        if (consumer) {
          consumer.credit += credit;
          this.#pump(peer, consumer);
        }
        return;
      }
      case OPCODES.SETTLE: {
        const consumer = peer.consumers.get(reader.u32());
        const count = reader.u32();
        const entries = Array.from({ length: count }, () => readSettleEntry(reader));
        const settles = entries.filter((entry) => entry.kind !== 'take');
        if (settles.length > 0) record(settles.length);
        this.settles.push(...settles);
        this.takes.push(...entries.filter((entry) => entry.kind === 'take'));
        // Like the broker, settles are answered once durable: later than an UNSUBSCRIBE, maybe.
        const outcomes = entries.map((entry) => this.#store.settle(consumer, entry));
        const answer = (): void =>
          this.#send(peer, OPCODES.SETTLED, frame.requestId, (writer) => {
            writer.u32(count);
            for (const outcome of outcomes) writeEntryError(writer, outcome);
          });
        if (this.settleDelayMs > 0) setTimeout(answer, this.settleDelayMs);
        else answer();
        if (consumer) this.#pump(peer, consumer); // nacked messages come again at once
        return;
      }
      case OPCODES.UNSUBSCRIBE: {
        record(0);
        const consumer = peer.consumers.get(reader.u32());
        if (consumer) this.#dropConsumer(peer, consumer);
        this.#send(peer, OPCODES.RESULT, frame.requestId, (writer) => writer.string('null'));
        return;
      }
      case OPCODES.REQUEST: {
        record(0);
        const entry = readPublishEntry(reader);
        const timeoutMs = reader.f64();
        const inbox = `_INBOX.${this.#nextId++}`;
        const outcome = this.#append({
          ...entry,
          options: { ...entry.options, replyTo: inbox, correlationId: inbox },
        });
        if (outcome instanceof WeirError)
          return this.#fail(peer, frame.requestId, outcome.code, outcome.message);
        const timer = setTimeout(() => {
          this.#inboxes.delete(inbox);
          this.#fail(peer, frame.requestId, 'TIMEOUT', `no reply in ${timeoutMs} ms`);
        }, timeoutMs);
        this.#inboxes.set(inbox, { peer, requestId: frame.requestId, timer });
        this.#pumpAll();
        return;
      }
      case OPCODES.ERROR:
        record(0);
        this.errors.push(readError(reader));
        return;
      default:
        record(0);
    }
  }

  #append(entry: PublishEntry): PublishReceipt | WeirError {
    const pending = this.#inboxes.get(entry.subject);
    if (pending) {
      clearTimeout(pending.timer);
      this.#inboxes.delete(entry.subject);
      this.#send(pending.peer, OPCODES.REPLY, pending.requestId, (writer) =>
        writeDeliveredMessage(writer, {
          subject: entry.subject,
          key: null,
          headers: entry.options.headers ?? {},
          body: entry.body,
          partition: 0,
          offset: 0,
          id: null,
          deliveryCount: 1,
          timestamp: Date.now(),
          priority: 0,
          replyTo: null,
          correlationId: entry.options.correlationId ?? null,
        }),
      );
      return {
        stream: '',
        partition: 0,
        offset: 0,
        duplicate: false,
        scheduled: false,
        streams: [{ stream: '', partition: 0, offset: 0, duplicate: false, scheduled: false }],
      };
    }
    return this.#store.append(entry);
  }

  #pumpAll(): void {
    for (const peer of this.#peers)
      for (const consumer of peer.consumers.values()) this.#pump(peer, consumer);
  }

  #pump(peer: Peer, consumer: FakeConsumer): void {
    const batch = this.#store.takeBatch(consumer);
    if (batch.length === 0) return;
    this.#send(peer, OPCODES.DELIVER, 0, (writer) => {
      writer.u32(consumer.id).u32(batch.length);
      // The fake's delivery token: the delivery count, which it bumps on every delivery.
      for (const message of batch)
        writeDeliveredMessage(writer.u32(message.deliveryCount), message);
    });
  }

  /** The consumer goes; what it held unsettled is delivered again. */
  #dropConsumer(peer: Peer, consumer: FakeConsumer): void {
    peer.consumers.delete(consumer.id);
    this.#store.release(consumer);
    this.#pumpAll();
  }
}
