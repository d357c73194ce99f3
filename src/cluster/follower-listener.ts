/**
 * What a follower serves on the node's client ports while another node leads: every client
 * connection is told where the leader is, and the HTTP side answers the cluster's status.
 *
 * TCP: the first frame (HELLO, at most PRE_HELLO_FRAME_BYTES_MAX) gets an ERROR NOT_LEADER
 * with HELLO's requestId, whose message ends with ` leader=HOST:PORT` when a leader is known
 * (the SDK follows it), then the connection ends. Nothing of the broker runs here: a follower
 * holds a replica of the data directory and serves no broker call.
 *
 * HTTP: GET /api/cluster (this node's ClusterStatus), /healthz (200: the process is up),
 * /readyz (503: it serves no broker calls); anything else 503 with the JSON error NOT_LEADER
 * and the leader's HTTP address when known. Unauthenticated: the status names nodes and
 * addresses only, never data (the leader's /api/cluster asks for the usual credentials).
 */
import * as http from 'node:http';
import * as net from 'node:net';
import * as tls from 'node:tls';
import { PRE_HELLO_FRAME_BYTES_MAX } from '../limits.js';
import { Writer } from '../protocol/codec.js';
import { FRAME_HEADER_BYTES, FrameDecoder, OPCODES, writeFrameHeader } from '../protocol/frame.js';
import { writeError } from '../protocol/frames.js';
import type { ClusterStatus } from '../broker/index.js';
import { WeirError } from '../util/index.js';

/** How long a follower keeps a client socket that sent nothing yet. */
const FOLLOWER_HELLO_WAIT_MS = 5_000;

export interface FollowerListenerOptions {
  readonly host: string;
  readonly port: number;
  /** null: no HTTP side. */
  readonly httpHost: string | null;
  readonly httpPort: number | null;
  readonly tls?: { readonly cert: Buffer; readonly key: Buffer; readonly ca?: Buffer };
  /** The leader's advertise address (HOST:PORT), null while none is elected. */
  readonly leader: () => string | null;
  /** The leader's HTTP address, null when unknown. */
  readonly leaderHttp: () => string | null;
  readonly status: () => ClusterStatus;
}

/** The NOT_LEADER error a follower gives, with the hint the SDK follows. */
export function notLeaderError(leader: string | null): WeirError {
  return new WeirError(
    'NOT_LEADER',
    leader === null
      ? 'this node is not the leader, and no leader is elected yet'
      : `this node is not the leader leader=${leader}`,
  );
}

function errorFrame(requestId: number, error: WeirError): Uint8Array {
  const writer = new Writer(256);
  writer.position = FRAME_HEADER_BYTES;
  writeError(writer, error);
  const bytes = writer.finish();
  writeFrameHeader(bytes, OPCODES.ERROR, 0, requestId, bytes.length);
  return bytes.slice();
}

export class FollowerListener {
  readonly #tcp: net.Server;
  readonly #http: http.Server | null;
  readonly #sockets = new Set<net.Socket>();

  private constructor(options: FollowerListenerOptions) {
    const onSocket = (socket: net.Socket): void => this.#serveSocket(socket, options);
    this.#tcp = options.tls
      ? tls.createServer({ cert: options.tls.cert, key: options.tls.key }, onSocket)
      : net.createServer(onSocket);
    this.#http =
      options.httpPort === null || options.httpHost === null
        ? null
        : http.createServer((request, response) => serveHttp(request, response, options));
    if (this.#http) {
      this.#http.headersTimeout = FOLLOWER_HELLO_WAIT_MS;
      this.#http.keepAliveTimeout = FOLLOWER_HELLO_WAIT_MS;
    }
  }

  static async listen(options: FollowerListenerOptions): Promise<FollowerListener> {
    const listener = new FollowerListener(options);
    await listenOn(listener.#tcp, options.host, options.port);
    if (listener.#http) {
      try {
        await listenOn(listener.#http, options.httpHost!, options.httpPort!);
      } catch (error) {
        listener.#tcp.close();
        throw error;
      }
    }
    return listener;
  }

  #serveSocket(socket: net.Socket, options: FollowerListenerOptions): void {
    this.#sockets.add(socket);
    socket.on('close', () => this.#sockets.delete(socket));
    socket.on('error', () => socket.destroy());
    socket.setTimeout(FOLLOWER_HELLO_WAIT_MS, () => socket.destroy());
    let answered = false;
    const decoder = new FrameDecoder(PRE_HELLO_FRAME_BYTES_MAX, (frame) => {
      if (answered) return;
      answered = true;
      socket.end(errorFrame(frame.requestId, notLeaderError(options.leader())));
    });
    socket.on('data', (chunk: Buffer) => {
      try {
        decoder.push(chunk);
      } catch {
        socket.destroy(); // not a Weir client: nothing to tell it
      }
    });
  }

  address(): { tcp: { host: string; port: number }; http: { host: string; port: number } | null } {
    return {
      tcp: addressOf(this.#tcp),
      http: this.#http === null ? null : addressOf(this.#http),
    };
  }

  async close(): Promise<void> {
    for (const socket of this.#sockets) socket.destroy();
    this.#http?.closeAllConnections();
    await Promise.all([closeServer(this.#tcp), this.#http ? closeServer(this.#http) : null]);
  }
}

function serveHttp(
  request: http.IncomingMessage,
  response: http.ServerResponse,
  options: FollowerListenerOptions,
): void {
  const path = (request.url ?? '/').split('?')[0];
  const send = (status: number, body: unknown): void => {
    response.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' });
    response.end(JSON.stringify(body));
  };
  if (request.method === 'GET' && path === '/api/cluster') return send(200, options.status());
  if (request.method === 'GET' && path === '/healthz') return send(200, { status: 'follower' });
  const leaderHttp = options.leaderHttp();
  const error = notLeaderError(options.leader());
  send(503, {
    error: { code: error.code, message: error.message },
    ...(leaderHttp === null ? {} : { leaderHttp }),
  });
}

function listenOn(server: net.Server, host: string, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
}

function closeServer(server: net.Server): Promise<void> {
  return new Promise((resolve) => server.close(() => resolve()));
}

function addressOf(server: net.Server): { host: string; port: number } {
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('not listening');
  return { host: address.address, port: address.port };
}
