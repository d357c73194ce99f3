/**
 * The leader's replication port: one TCP connection per follower (replication-protocol.ts
 * has the conversation). It checks the follower's proof of the cluster secret and epoch,
 * decides continue or snapshot (ReplicatedFileSystem.continuesFrom), sends the snapshot, then
 * hands the connection to the file system, which streams ops to it; ACKs go back to the file
 * system.
 *
 * Failures are the connection's alone: a bad proof, a wrong epoch, a malformed frame, a
 * handshake past REPLICATION_HANDSHAKE_MS_MAX, or a snapshot that fails closes that connection
 * and is reported to `onError` (never thrown). A connection closed mid-snapshot rejects the
 * snapshot's sends, so the barrier on the leader's file calls is let go.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import * as net from 'node:net';
import {
  REPLICATION_FOLLOWERS_MAX,
  REPLICATION_HANDSHAKE_MS_MAX,
  REPLICATION_PATH_BYTES_MAX,
} from '../limits.js';
import { WeirError, assert } from '../util/index.js';
import type {
  FollowerChannel,
  FollowerLink,
  ReplicatedFileSystem,
} from './replicated-file-system.js';
import {
  FrameDecoder,
  NONCE_BYTES,
  REPLICATION_PROTOCOL_VERSION,
  decodeFrame,
  encodeFrame,
  type Frame,
} from './replication-protocol.js';

/** A follower sends only JOIN and ACK: small frames (a node id at most a path long). */
const FOLLOWER_FRAME_BYTES_MAX = REPLICATION_PATH_BYTES_MAX + 256;

export interface ReplicationServerOptions {
  readonly host: string;
  readonly port: number;
  readonly fileSystem: ReplicatedFileSystem;
  readonly epoch: number;
  /** When set, a follower must prove it (HMAC-SHA256(secret, nonce)). */
  readonly secret?: string;
}

/** HMAC-SHA256(secret, nonce): what a follower proves the cluster secret with. */
export function replicationProof(secret: string, nonce: Uint8Array): Buffer {
  return createHmac('sha256', secret).update(nonce).digest();
}

export class ReplicationServer {
  readonly #server: net.Server;
  readonly #options: ReplicationServerOptions;
  readonly #sockets = new Set<net.Socket>();
  #closing: Promise<void> | null = null;
  /** A refused or failed follower connection (bad proof, wrong epoch, malformed frame). */
  onError: ((error: unknown) => void) | null = null;

  private constructor(server: net.Server, options: ReplicationServerOptions) {
    this.#server = server;
    this.#options = options;
    server.on('connection', (socket) => this.#accept(socket));
  }

  static async listen(options: ReplicationServerOptions): Promise<ReplicationServer> {
    assert(options.epoch === options.fileSystem.epoch, 'the server serves its file system epoch');
    const server = net.createServer({ noDelay: true });
    const replication = new ReplicationServer(server, options);
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(options.port, options.host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    server.on('error', (error) => replication.#report(error));
    return replication;
  }

  address(): { host: string; port: number } {
    const address = this.#server.address();
    assert(typeof address === 'object' && address !== null, 'a listening server has an address');
    return { host: address.address, port: address.port };
  }

  close(): Promise<void> {
    this.#closing ??= new Promise<void>((resolve) => {
      this.#server.close(() => resolve());
      for (const socket of this.#sockets) socket.destroy();
    });
    return this.#closing;
  }

  #report(error: unknown): void {
    try {
      this.onError?.(error);
    } catch {
      // A logging hook that throws must not take the server down.
    }
  }

  #accept(socket: net.Socket): void {
    if (this.#closing !== null || this.#sockets.size >= REPLICATION_FOLLOWERS_MAX) {
      this.#report(
        new WeirError(
          'LIMIT_EXCEEDED',
          `replication: refused ${socket.remoteAddress}: too many followers`,
        ),
      );
      socket.destroy();
      return;
    }
    this.#sockets.add(socket);
    socket.setKeepAlive(true);
    new FollowerConnection(socket, this.#options, (error) => this.#report(error)).start();
    socket.on('close', () => this.#sockets.delete(socket));
  }
}

/** One follower's connection: handshake, then maybe a snapshot, then ops out and ACKs in. */
class FollowerConnection implements FollowerChannel {
  readonly #socket: net.Socket;
  readonly #options: ReplicationServerOptions;
  readonly #report: (error: unknown) => void;
  readonly #nonce = randomBytes(NONCE_BYTES);
  readonly #decoder = new FrameDecoder(FOLLOWER_FRAME_BYTES_MAX);
  #state: 'handshake' | 'snapshot' | 'streaming' | 'closed' = 'handshake';
  #link: FollowerLink | null = null;
  #nodeId = '?';
  /** Waiters of a snapshot send for 'drain' (rejected on close). */
  #drainWaiters: { resolve: () => void; reject: (error: unknown) => void }[] = [];

  constructor(
    socket: net.Socket,
    options: ReplicationServerOptions,
    report: (error: unknown) => void,
  ) {
    this.#socket = socket;
    this.#options = options;
    this.#report = report;
  }

  get nodeId(): string {
    return this.#nodeId;
  }

  start(): void {
    const socket = this.#socket;
    const timer = setTimeout(() => {
      if (this.#state === 'handshake')
        this.#fail(new WeirError('TIMEOUT', 'replication: no handshake in time'));
    }, REPLICATION_HANDSHAKE_MS_MAX);
    timer.unref();
    socket.on('data', (chunk: Buffer) => this.#received(chunk));
    socket.on('drain', () => {
      for (const waiter of this.#drainWaiters.splice(0)) waiter.resolve();
      this.#link?.drained();
    });
    socket.on('error', () => undefined); // 'close' follows
    socket.on('close', () => {
      clearTimeout(timer);
      this.#state = 'closed';
      const closed = new WeirError('CLOSED', `replication: follower ${this.#nodeId} disconnected`);
      for (const waiter of this.#drainWaiters.splice(0)) waiter.reject(closed);
      this.#link?.detach();
      this.#link = null;
    });
    socket.write(
      encodeFrame({
        type: 'hello',
        version: REPLICATION_PROTOCOL_VERSION,
        epoch: this.#options.epoch,
        nonce: this.#nonce,
        nodeId: this.#options.fileSystem.nodeId,
      }),
    );
  }

  write(frame: Buffer): boolean {
    if (this.#state === 'closed') return false;
    return this.#socket.write(frame);
  }

  close(reason: string): void {
    if (this.#state === 'closed') return;
    this.#report(new WeirError('CLOSED', `replication: follower ${this.#nodeId}: ${reason}`));
    this.#state = 'closed';
    this.#socket.destroy();
  }

  #fail(error: unknown): void {
    if (this.#state === 'closed') return;
    this.#report(error);
    this.#state = 'closed';
    this.#socket.destroy();
  }

  #received(chunk: Buffer): void {
    try {
      for (const body of this.#decoder.push(chunk)) {
        if (this.#state === 'closed') return;
        this.#handle(decodeFrame(body));
      }
    } catch (error) {
      this.#fail(error);
    }
  }

  #handle(frame: Frame): void {
    if (this.#state === 'handshake') {
      if (frame.type !== 'join')
        throw new WeirError('PROTOCOL_ERROR', `replication: ${frame.type} before join`);
      this.#join(frame);
      return;
    }
    if (frame.type !== 'ack')
      throw new WeirError(
        'PROTOCOL_ERROR',
        `replication: unexpected ${frame.type} from a follower`,
      );
    // ACKs before the snapshot ends would name seqs of the follower's old files: ignored.
    this.#link?.ack(frame.seq);
  }

  #join(join: Extract<Frame, { type: 'join' }>): void {
    const { fileSystem, epoch, secret } = this.#options;
    const who = `follower ${JSON.stringify(join.nodeId)} from ${this.#socket.remoteAddress}`;
    if (join.version !== REPLICATION_PROTOCOL_VERSION) {
      throw new WeirError('PROTOCOL_ERROR', `replication: ${who} speaks version ${join.version}`);
    }
    if (secret !== undefined) {
      const expected = replicationProof(secret, this.#nonce);
      const proof = Buffer.from(join.proof);
      if (proof.length !== expected.length || !timingSafeEqual(proof, expected)) {
        throw new WeirError(
          'NOT_AUTHORIZED',
          `replication: ${who} did not prove the cluster secret`,
        );
      }
    }
    if (join.epoch !== epoch) {
      throw new WeirError(
        'PROTOCOL_ERROR',
        `replication: ${who} expects epoch ${join.epoch}, this leader is in ${epoch}`,
      );
    }
    if (join.nodeId === fileSystem.nodeId || join.nodeId.length === 0) {
      throw new WeirError('PROTOCOL_ERROR', `replication: ${who} is not another node`);
    }
    if (fileSystem.fenced !== null) {
      throw new WeirError('CLOSED', `replication: ${who} refused: this leader is fenced`);
    }
    this.#nodeId = join.nodeId;
    if (join.exact && fileSystem.continuesFrom(join.appliedEpoch, join.appliedSeq)) {
      this.#state = 'streaming';
      this.#socket.write(encodeFrame({ type: 'start', mode: 'continue', seq: join.appliedSeq }));
      this.#link = fileSystem.attachFollower(this, join.appliedSeq + 1);
      return;
    }
    this.#state = 'snapshot';
    this.#socket.write(encodeFrame({ type: 'start', mode: 'snapshot', seq: fileSystem.seq }));
    fileSystem
      .snapshot((frame) => this.#send(frame))
      .then(
        (seq) => {
          if (this.#state !== 'snapshot') return;
          this.#state = 'streaming';
          this.#socket.write(encodeFrame({ type: 'snapshotEnd', seq }));
          this.#link = fileSystem.attachFollower(this, seq + 1);
        },
        (error: unknown) => this.#fail(error),
      );
  }

  /** A snapshot frame, waiting for the socket to drain (bounded memory); rejects once closed. */
  #send(frame: Buffer): Promise<void> {
    if (this.#state !== 'snapshot') {
      return Promise.reject(
        new WeirError('CLOSED', `replication: follower ${this.#nodeId} disconnected`),
      );
    }
    if (this.#socket.write(frame)) return Promise.resolve();
    return new Promise((resolve, reject) => this.#drainWaiters.push({ resolve, reject }));
  }
}
