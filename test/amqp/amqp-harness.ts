/**
 * What the AMQP gateway tests share: a Broker (memory, or files under a data directory on a
 * given file system) behind an AmqpServer on port 0, amqplib connections to it that are all
 * closed at the end, a raw-socket client that speaks frames through src/amqp/codec (for input
 * no well-behaved client sends), and bounded waits (every wait has a deadline; no sleeps).
 */
import assert from 'node:assert/strict';
import * as net from 'node:net';
import amqp from 'amqplib';
import type { ChannelModel, Options } from 'amqplib';
import { Broker, type BrokerOptions } from '../../src/broker/index.js';
import { AmqpServer, fileTopologyStore, type AmqpServerOptions } from '../../src/amqp/index.js';
import {
  AMQP_PROTOCOL_HEADER,
  encodeMethodFrame,
  FrameDecoder,
  FRAME_MAX_LIMIT,
  type Frame,
  type MethodArguments,
  type MethodName,
} from '../../src/amqp/codec/index.js';

/** Every wait of these tests ends within this unless told otherwise (a busy machine included). */
export const WAIT_MS = 5_000;
/** scrypt cost of test users' passwords (cheap: a login is checked in a few ms). */
export const CHEAP_COST = { N: 1024, r: 8, p: 1 };

export interface AmqpFixture {
  readonly broker: Broker;
  readonly server: AmqpServer;
  readonly port: number;
  readonly url: string;
  /** An amqplib connection, closed by `close()` if the test did not close it. */
  connect(options?: Options.Connect, socketOptions?: object): Promise<ChannelModel>;
  /** A raw-socket client, destroyed by `close()`. */
  raw(): Promise<RawAmqp>;
  /** Closes every client, the server, then the broker (each once; safe to call twice). */
  close(): Promise<void>;
}

export interface FixtureOptions {
  /** Default: `{ storage: 'memory' }`. With `dataDir`, the topology is kept under it too. */
  readonly broker?: BrokerOptions;
  readonly server?: Partial<Omit<AmqpServerOptions, 'connectClient'>>;
}

export async function startAmqp(options: FixtureOptions = {}): Promise<AmqpFixture> {
  const brokerOptions: BrokerOptions = options.broker ?? { storage: 'memory' };
  const broker = await Broker.open({ passwordCost: CHEAP_COST, ...brokerOptions });
  let server: AmqpServer;
  try {
    server = await startServer(broker, brokerOptions.dataDir ?? null, options.server ?? {});
  } catch (error) {
    await broker.close();
    throw error;
  }
  const port = server.address().port;
  const url = `amqp://127.0.0.1:${port}`;
  const connections: ChannelModel[] = [];
  const raws: RawAmqp[] = [];
  let closing: Promise<void> | null = null;
  return {
    broker,
    server,
    port,
    url,
    async connect(connectOptions = {}, socketOptions = {}) {
      const connection = await amqp.connect(
        { hostname: '127.0.0.1', port, ...connectOptions },
        socketOptions,
      );
      // An error event without a listener would crash the test process; on a channel (its
      // server-side close) it would also take the whole connection down in amqplib.
      connection.on('error', () => undefined);
      const createChannel = connection.createChannel.bind(connection);
      const createConfirmChannel = connection.createConfirmChannel.bind(connection);
      connection.createChannel = async (channelOptions) => {
        const channel = await createChannel(channelOptions);
        channel.on('error', () => undefined);
        return channel;
      };
      connection.createConfirmChannel = async (channelOptions) => {
        const channel = await createConfirmChannel(channelOptions);
        channel.on('error', () => undefined);
        return channel;
      };
      connections.push(connection);
      return connection;
    },
    async raw() {
      const raw = await RawAmqp.connect(port);
      raws.push(raw);
      return raw;
    },
    close() {
      closing ??= (async () => {
        for (const raw of raws) raw.destroy();
        await Promise.all(
          connections.map((connection) => connection.close().catch(() => undefined)),
        );
        await server.close();
        await broker.close();
      })();
      return closing;
    },
  };
}

/** An AmqpServer over `broker`, as `weir serve --amqp` makes it. */
export function startServer(
  broker: Broker,
  dataDir: string | null,
  options: Partial<Omit<AmqpServerOptions, 'connectClient'>> = {},
): Promise<AmqpServer> {
  return AmqpServer.listen({
    connectClient: (principal, remote) =>
      principal === null ? broker.connect() : broker.connect({ principal, remote }),
    authenticator: broker.authenticator,
    ...(dataDir === null ? {} : { store: fileTopologyStore(broker.fileSystem, dataDir) }),
    port: 0,
    ...options,
  });
}

/** Runs `body` with a fixture and closes it afterwards, whatever happens. */
export async function withAmqp(
  body: (fixture: AmqpFixture) => Promise<void>,
  options: FixtureOptions = {},
): Promise<void> {
  const fixture = await startAmqp(options);
  try {
    await body(fixture);
  } finally {
    await fixture.close();
  }
}

/** Polls `condition` every few ms until it holds; fails naming `what` after `timeoutMs`. */
export async function waitUntil(
  what: string,
  condition: () => boolean | Promise<boolean>,
  timeoutMs = WAIT_MS,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await condition()) return;
    if (Date.now() > deadline) assert.fail(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/** `promise`, or a failure naming `what` after `timeoutMs`. */
export async function within<T>(
  what: string,
  promise: Promise<T>,
  timeoutMs = WAIT_MS,
): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`timed out after ${timeoutMs} ms: ${what}`)),
      timeoutMs,
    );
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** Resolves with the first `count` values `subscribe` reports, within `timeoutMs`. */
export function collect<T>(
  what: string,
  count: number,
  subscribe: (push: (value: T) => void) => void,
  timeoutMs = WAIT_MS,
): Promise<T[]> {
  const values: T[] = [];
  return within(
    `${what} (${count} expected)`,
    new Promise<T[]>((resolve) => {
      subscribe((value) => {
        values.push(value);
        if (values.length === count) resolve(values.slice());
      });
    }),
    timeoutMs,
  ).catch((error: unknown) => {
    throw new Error(`${(error as Error).message}; got ${values.length}`, { cause: error });
  });
}

export type MethodFrame = Extract<Frame, { type: 'method' }>;

/** The arguments of `frame`, which must be the method `name`. */
export function argumentsOf<N extends MethodName>(frame: MethodFrame, name: N): MethodArguments[N] {
  assert.equal(frame.method.name, name);
  return frame.method.args as MethodArguments[N];
}

/** The PLAIN response: NUL user NUL password. */
export function plainResponse(user: string, password: string): Uint8Array {
  return Buffer.from(`\u0000${user}\u0000${password}`, 'utf8');
}

/**
 * A client on a raw socket: writes whatever bytes it is given, decodes what the server sends
 * (with the codec's FrameDecoder at the largest frame size), and knows when the socket closed.
 */
export class RawAmqp {
  readonly socket: net.Socket;
  /** Everything received, in order (also the bytes before any frame, for the header reply). */
  readonly received: Buffer[] = [];
  readonly frames: Frame[] = [];
  closed = false;
  /** What the decoder threw on the server's bytes (the server sent a malformed frame). */
  decodeError: unknown = null;
  #decoder = new FrameDecoder({ frameMax: FRAME_MAX_LIMIT });
  #decoding = false;
  #waiters = new Set<() => void>();

  private constructor(socket: net.Socket) {
    this.socket = socket;
    socket.on('data', (chunk: Buffer) => {
      this.received.push(chunk);
      if (this.#decoding && this.decodeError === null) {
        try {
          for (const frame of this.#decoder.push(chunk)) this.frames.push(frame);
        } catch (error) {
          this.decodeError = error;
        }
      }
      this.#wake();
    });
    socket.on('error', () => undefined);
    socket.on('close', () => {
      this.closed = true;
      this.#wake();
    });
  }

  static connect(port: number): Promise<RawAmqp> {
    return new Promise((resolve, reject) => {
      const socket = net.connect({ host: '127.0.0.1', port }, () => {
        socket.off('error', reject);
        resolve(new RawAmqp(socket));
      });
      socket.once('error', reject);
    });
  }

  #wake(): void {
    for (const wake of [...this.#waiters]) wake();
  }

  /** Resolves once `condition` holds (checked on every chunk and on close), within `timeoutMs`. */
  waitFor(what: string, condition: () => boolean, timeoutMs = WAIT_MS): Promise<void> {
    if (condition()) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const check = (): void => {
        if (!condition()) return;
        this.#waiters.delete(check);
        clearTimeout(timer);
        resolve();
      };
      const timer = setTimeout(() => {
        this.#waiters.delete(check);
        reject(new Error(`raw AMQP client: timed out after ${timeoutMs} ms waiting for ${what}`));
      }, timeoutMs);
      this.#waiters.add(check);
    });
  }

  write(bytes: Uint8Array): void {
    this.socket.write(bytes);
  }

  send<N extends MethodName>(channel: number, name: N, args: MethodArguments[N]): void {
    this.write(encodeMethodFrame(channel, name, args));
  }

  /** The first method frame named `name` (on `channel`, if given) received so far. */
  find(name: MethodName, channel?: number): MethodFrame | undefined {
    return this.frames.find(
      (frame): frame is MethodFrame =>
        frame.type === 'method' &&
        frame.method.name === name &&
        (channel === undefined || frame.channel === channel),
    );
  }

  /** Waits for a method frame named `name` (after the `after`th frame) and returns it. */
  async expect(
    name: MethodName,
    options: { channel?: number; after?: number } = {},
  ): Promise<MethodFrame> {
    const after = options.after ?? 0;
    let found: MethodFrame | undefined;
    await this.waitFor(`${name}`, () => {
      found = this.frames
        .slice(after)
        .find(
          (frame): frame is MethodFrame =>
            frame.type === 'method' &&
            frame.method.name === name &&
            (options.channel === undefined || frame.channel === options.channel),
        );
      return found !== undefined || this.closed;
    });
    assert.ok(found, `expected ${name} before the socket closed; got ${this.describe()}`);
    return found;
  }

  /** Waits until the server closed the socket. */
  waitClosed(timeoutMs = WAIT_MS): Promise<void> {
    return this.waitFor('the socket to close', () => this.closed, timeoutMs);
  }

  /** Sends the protocol header and starts decoding frames. */
  sendHeader(): void {
    this.#decoding = true;
    this.write(AMQP_PROTOCOL_HEADER);
  }

  /**
   * The whole handshake as guest (an open broker lets guest in from loopback): header, start-ok
   * (PLAIN), tune-ok (`frameMax`, no heartbeat), open "/", then waits for open-ok.
   */
  async handshake(
    options: { user?: string; password?: string; frameMax?: number; virtualHost?: string } = {},
  ): Promise<void> {
    this.sendHeader();
    await this.expect('connection.start');
    this.send(0, 'connection.start-ok', {
      clientProperties: {
        product: 'raw test client',
        capabilities: { consumer_cancel_notify: true },
      },
      mechanism: 'PLAIN',
      response: plainResponse(options.user ?? 'guest', options.password ?? 'guest'),
      locale: 'en_US',
    });
    const tune = argumentsOf(await this.expect('connection.tune'), 'connection.tune');
    this.send(0, 'connection.tune-ok', {
      channelMax: 0,
      frameMax: options.frameMax ?? tune.frameMax,
      heartbeat: 0,
    });
    this.send(0, 'connection.open', {
      virtualHost: options.virtualHost ?? '/',
      capabilities: '',
      insist: false,
    });
    await this.expect('connection.open-ok');
  }

  /** Opens `channel` and waits for open-ok. */
  async openChannel(channel: number): Promise<void> {
    const after = this.frames.length;
    this.send(channel, 'channel.open', { outOfBand: '' });
    await this.expect('channel.open-ok', { channel, after });
  }

  /** connection.close from the server (waits for it), with its arguments. */
  async connectionClose(): Promise<MethodArguments['connection.close']> {
    const frame = await this.expect('connection.close', { channel: 0 });
    return frame.method.args as MethodArguments['connection.close'];
  }

  /** The frames so far, named, for failure messages. */
  describe(): string {
    const names = this.frames.map((frame) =>
      frame.type === 'method' ? `${frame.channel}:${frame.method.name}` : `${frame.type}`,
    );
    return `[${names.join(', ')}]${this.closed ? ' then closed' : ''}`;
  }

  destroy(): void {
    this.socket.destroy();
  }
}
