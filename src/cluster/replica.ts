/**
 * A follower's copy of the leader's data directory: connects to the leader's replication port
 * (replication-protocol.ts), applies the ops in order to its own disk, fsyncs what each sync
 * op names and then acks it, and takes a snapshot when the leader says so. It reconnects with
 * backoff until `stop()`; `follow()` again points it at a new leader or epoch.
 *
 * `<root>/.replica` (never shipped; one line of JSON):
 *   {"version":1,"epoch":E,"seq":S,"highestEpoch":H,"exact":true|false}
 * (E, S): the last op applied and its epoch; H: the highest leader epoch seen (a leader below
 * it is stale and refused); exact: the files are exactly the result of the ops up to S. It is
 * written (replace: `.replica.tmp`, fsync, rename, fsync the directory) with exact false
 * before the first op of a run is applied, and with exact true by `stop()` after every applied
 * op is fsynced. Recovery rule: a missing or unreadable file is (0, 0, 0, false); a replica
 * that is not exact (it crashed while applying, or mid-snapshot) gets a snapshot, because
 * replaying ops over a crash's partial state does not in general converge (a rename may
 * have moved bytes that the replay then writes again).
 *
 * Snapshot: frames are written under `<root>/.replica.staging`, every file and directory is
 * fsynced, then root's entries (never-shipped names aside) are removed and the staged entries
 * renamed in one by one (root itself may be a mount point: it is never renamed), and root is
 * fsynced.
 *
 * Handles: a bounded map of open handles by relative path (least recently used closed first);
 * written and renamed paths not yet fsynced are remembered (bounded: past the cap everything
 * is fsynced at once) so `stop()` can leave every applied op durable.
 *
 * The root must be on the real disk for snapshots (file or directory: lstat). Concurrency:
 * one connection at a time; frames are applied one after another on one promise chain.
 */
import { chmod, lstat } from 'node:fs/promises';
import { USERS_FILE } from '../broker/index.js';
import * as net from 'node:net';
import * as path from 'node:path';
import { replaceFile, type FileHandle, type FileSystem } from '../storage/index.js';
import {
  REPLICA_DIRTY_PATHS_MAX,
  REPLICA_HANDLES_MAX,
  REPLICA_PENDING_BYTES_MAX,
  REPLICA_RECONNECT_MS_INITIAL,
  REPLICA_RECONNECT_MS_MAX,
  REPLICATION_HANDSHAKE_MS_MAX,
} from '../limits.js';
import { WeirError, assert } from '../util/index.js';
import {
  FrameDecoder,
  REPLICATION_PROTOCOL_VERSION,
  decodeFrame,
  encodeFrame,
  neverShipped,
  type Frame,
  type Op,
} from './replication-protocol.js';
import { replicationProof } from './replication-server.js';

const STATE_FILE = '.replica';
const STAGING_DIRECTORY = '.replica.staging';
const STATE_VERSION = 1;

export interface ReplicaOptions {
  readonly inner: FileSystem;
  readonly root: string;
  readonly nodeId: string;
  readonly secret?: string;
}

interface Target {
  readonly host: string;
  readonly port: number;
  readonly epoch: number;
}

function errorCode(error: unknown): string | undefined {
  return (error as NodeJS.ErrnoException | undefined)?.code;
}

function parent(relative: string): string {
  const index = relative.lastIndexOf('/');
  return index < 0 ? '' : relative.slice(0, index);
}

function under(relative: string, directory: string): boolean {
  return directory === '' || relative === directory || relative.startsWith(directory + '/');
}

function parseAddress(address: string): { host: string; port: number } {
  const index = address.lastIndexOf(':');
  const port = Number(address.slice(index + 1));
  let host = address.slice(0, index);
  if (host.startsWith('[') && host.endsWith(']')) host = host.slice(1, -1);
  if (index <= 0 || !Number.isInteger(port) || port <= 0 || port > 65_535) {
    throw new WeirError(
      'INVALID_ARGUMENT',
      `replication address ${JSON.stringify(address)} is not HOST:PORT`,
    );
  }
  return { host, port };
}

export class Replica {
  readonly #inner: FileSystem;
  readonly #root: string;
  readonly #nodeId: string;
  readonly #secret: string | undefined;

  #appliedEpoch = 0;
  #appliedSeq = 0;
  #highestEpoch = 0;
  /** The files are exactly the result of the ops up to appliedSeq. */
  #exact = false;
  /** What `.replica` on disk says of exact. */
  #persistedExact = false;
  #loaded: Promise<void> | null = null;

  #target: Target | null = null;
  #socket: net.Socket | null = null;
  #running: Promise<void> | null = null;
  #stopped = false;
  #wake: (() => void) | null = null;

  /** Frames are applied one at a time on this chain. */
  #applying: Promise<void> = Promise.resolve();
  #pendingBytes = 0;
  #lastAckSent = 0;

  readonly #handles = new Map<string, FileHandle>();
  readonly #dirtyFiles = new Set<string>();
  readonly #dirtyDirectories = new Set<string>();
  #snapshot: { directories: string[]; file: string | null; handle: FileHandle | null } | null =
    null;

  onError: ((error: unknown) => void) | null = null;

  constructor(options: ReplicaOptions) {
    this.#inner = options.inner;
    this.#root = path.resolve(options.root);
    this.#nodeId = options.nodeId;
    this.#secret = options.secret;
  }

  get appliedSeq(): number {
    return this.#appliedSeq;
  }

  get appliedEpoch(): number {
    return this.#appliedEpoch;
  }

  /** (Re)connects to the leader at HOST:PORT in `epoch`, with backoff, until stop(). */
  follow(address: string, epoch: number): void {
    if (this.#stopped) throw new WeirError('CLOSED', 'the replica is stopped');
    assert(Number.isSafeInteger(epoch) && epoch >= 1, 'an epoch is >= 1');
    const { host, port } = parseAddress(address);
    const previous = this.#target;
    this.#target = { host, port, epoch };
    if (
      previous !== null &&
      (previous.host !== host || previous.port !== port || previous.epoch !== epoch)
    ) {
      this.#socket?.destroy();
    }
    this.#wake?.();
    this.#running ??= this.#run();
  }

  /** Disconnects, applies what it received, fsyncs it, closes its handles, records its state. */
  async stop(): Promise<void> {
    if (this.#stopped) {
      await this.#running;
      return;
    }
    this.#stopped = true;
    this.#socket?.destroy();
    this.#wake?.();
    await this.#running;
    await this.#applying;
    if (this.#loaded === null) return;
    await this.#loaded;
    try {
      if (this.#snapshot !== null) {
        await this.#closeSnapshotFile();
        this.#snapshot = null;
        this.#exact = false;
      }
      await this.#flushAll();
      await this.#persist(this.#exact);
    } catch (error) {
      this.#report(error);
    } finally {
      await this.#closeHandles();
    }
  }

  #report(error: unknown): void {
    try {
      this.onError?.(error);
    } catch {
      // A logging hook that throws must not take the replica down.
    }
  }

  // ---- connection loop -----------------------------------------------------------------

  async #run(): Promise<void> {
    let delayMs = REPLICA_RECONNECT_MS_INITIAL;
    while (!this.#stopped) {
      const target = this.#target;
      assert(target !== null, 'follow() set a target');
      let joined = false;
      try {
        this.#loaded ??= this.#load();
        await this.#loaded;
        joined = await this.#session(target);
      } catch (error) {
        this.#report(error);
      }
      if (this.#stopped) break;
      delayMs = joined
        ? REPLICA_RECONNECT_MS_INITIAL
        : Math.min(delayMs * 2, REPLICA_RECONNECT_MS_MAX);
      if (this.#target !== target) continue;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(done, delayMs);
        function done(): void {
          clearTimeout(timer);
          resolve();
        }
        this.#wake = done;
      });
      this.#wake = null;
    }
  }

  /**
   * One connection, until it ends; resolves true if the handshake got as far as START. Errors
   * are reported (the loop reconnects), never thrown.
   */
  #session(target: Target): Promise<boolean> {
    return new Promise<boolean>((resolve) => {
      const socket = net.connect({ host: target.host, port: target.port, noDelay: true });
      this.#socket = socket;
      socket.setKeepAlive(true);
      const decoder = new FrameDecoder();
      let started = false;
      let failure: unknown = null;
      const fail = (error: unknown): void => {
        failure ??= error;
        socket.destroy();
      };
      const timer = setTimeout(
        () =>
          fail(
            new WeirError(
              'TIMEOUT',
              `replication: no handshake from ${target.host}:${target.port}`,
            ),
          ),
        REPLICATION_HANDSHAKE_MS_MAX,
      );
      timer.unref();
      const context: SessionContext = {
        epoch: target.epoch,
        socket,
        fail,
        started: () => {
          started = true;
          clearTimeout(timer);
        },
      };
      socket.on('data', (chunk: Buffer) => {
        let bodies: Buffer[];
        try {
          bodies = decoder.push(chunk);
        } catch (error) {
          fail(error);
          return;
        }
        for (const body of bodies) {
          let frame: Frame;
          try {
            frame = decodeFrame(body);
          } catch (error) {
            fail(error);
            return;
          }
          this.#pendingBytes += body.length;
          if (this.#pendingBytes > REPLICA_PENDING_BYTES_MAX) socket.pause();
          this.#applying = this.#applying.then(async () => {
            try {
              if (!socket.destroyed || frame.type === 'op' || frame.type.startsWith('snapshot')) {
                await this.#apply(frame, context);
              }
            } catch (error) {
              fail(error);
            } finally {
              this.#pendingBytes -= body.length;
              if (this.#pendingBytes <= REPLICA_PENDING_BYTES_MAX / 2 && socket.isPaused())
                socket.resume();
              if (this.#pendingBytes === 0) this.#ackApplied(socket);
            }
          });
        }
      });
      socket.on('error', (error) => (failure ??= error));
      socket.on('close', () => {
        clearTimeout(timer);
        if (this.#socket === socket) this.#socket = null;
        // What arrived is applied before the next handshake says where this replica is.
        void this.#applying.then(() => {
          if (failure !== null && !this.#stopped) this.#report(failure);
          resolve(started);
        });
      });
    });
  }

  #send(socket: net.Socket, frame: Buffer): void {
    if (!socket.destroyed) socket.write(frame);
  }

  #ack(socket: net.Socket, seq: number): void {
    this.#lastAckSent = seq;
    this.#send(socket, encodeFrame({ type: 'ack', seq }));
  }

  /** Once every received frame is applied: ack what was applied, if not acked yet. */
  #ackApplied(socket: net.Socket): void {
    if (this.#snapshot === null && this.#exact && this.#appliedSeq > this.#lastAckSent) {
      this.#ack(socket, this.#appliedSeq);
    }
  }

  // ---- frames --------------------------------------------------------------------------

  async #apply(frame: Frame, context: SessionContext): Promise<void> {
    switch (frame.type) {
      case 'hello':
        return this.#hello(frame, context);
      case 'start':
        context.started();
        if (frame.mode === 'continue') {
          if (frame.seq !== this.#appliedSeq || !this.#exact) {
            throw new WeirError(
              'PROTOCOL_ERROR',
              `replication: continue from ${frame.seq}, applied ${this.#appliedSeq}`,
            );
          }
          this.#ack(context.socket, this.#appliedSeq);
          return;
        }
        return this.#snapshotBegin();
      case 'snapshotDirectory':
        return this.#snapshotDirectory(frame.path);
      case 'snapshotFile':
        return this.#snapshotFile(frame.path, frame.position, frame.bytes);
      case 'snapshotEnd':
        await this.#snapshotEnd(context.epoch);
        this.#appliedSeq = frame.seq;
        this.#ack(context.socket, frame.seq);
        return;
      case 'op': {
        if (this.#snapshot !== null || !this.#exact) {
          throw new WeirError('PROTOCOL_ERROR', 'replication: an op before the copy is exact');
        }
        if (frame.seq !== this.#appliedSeq + 1) {
          throw new WeirError(
            'PROTOCOL_ERROR',
            `replication: op ${frame.seq} after ${this.#appliedSeq}`,
          );
        }
        if (this.#persistedExact) await this.#persist(false);
        try {
          await this.#applyOp(frame.op);
        } catch (error) {
          // The copy is in an unknown state now: the next handshake asks for a snapshot.
          this.#exact = false;
          throw error;
        }
        this.#appliedSeq = frame.seq;
        this.#appliedEpoch = context.epoch;
        if (frame.op.kind === 'sync' || frame.op.kind === 'syncDirectory')
          this.#ack(context.socket, frame.seq);
        return;
      }
      case 'join':
      case 'ack':
        throw new WeirError('PROTOCOL_ERROR', `replication: a leader does not send ${frame.type}`);
    }
  }

  async #hello(hello: Extract<Frame, { type: 'hello' }>, context: SessionContext): Promise<void> {
    if (hello.version !== REPLICATION_PROTOCOL_VERSION) {
      throw new WeirError(
        'PROTOCOL_ERROR',
        `replication: the leader speaks version ${hello.version}`,
      );
    }
    if (hello.epoch < this.#highestEpoch) {
      throw new WeirError(
        'PROTOCOL_ERROR',
        `replication: ${hello.nodeId} leads epoch ${hello.epoch}, stale: epoch ${this.#highestEpoch} was seen`,
      );
    }
    if (hello.epoch !== context.epoch) {
      throw new WeirError(
        'PROTOCOL_ERROR',
        `replication: ${hello.nodeId} leads epoch ${hello.epoch}, not ${context.epoch}`,
      );
    }
    if (hello.epoch > this.#highestEpoch) {
      this.#highestEpoch = hello.epoch;
      await this.#persist(false);
    }
    this.#lastAckSent = 0;
    this.#send(
      context.socket,
      encodeFrame({
        type: 'join',
        version: REPLICATION_PROTOCOL_VERSION,
        epoch: context.epoch,
        appliedEpoch: this.#appliedEpoch,
        appliedSeq: this.#appliedSeq,
        exact: this.#exact,
        proof:
          this.#secret === undefined
            ? new Uint8Array(0)
            : replicationProof(this.#secret, hello.nonce),
        nodeId: this.#nodeId,
      }),
    );
  }

  #absolute(relative: string): string {
    if (neverShipped(relative)) {
      throw new WeirError('PROTOCOL_ERROR', `replication: ${relative} is never shipped`);
    }
    return relative === '' ? this.#root : path.join(this.#root, ...relative.split('/'));
  }

  async #handle(relative: string): Promise<FileHandle> {
    const cached = this.#handles.get(relative);
    if (cached !== undefined) {
      this.#handles.delete(relative);
      this.#handles.set(relative, cached);
      return cached;
    }
    const handle = await this.#inner.open(this.#absolute(relative));
    await keepPrivate(relative, this.#absolute(relative));
    this.#handles.set(relative, handle);
    if (this.#handles.size > REPLICA_HANDLES_MAX) {
      const [oldest, evicted] = this.#handles.entries().next().value as [string, FileHandle];
      this.#handles.delete(oldest);
      await evicted.close();
    }
    return handle;
  }

  async #closeHandlesUnder(directory: string): Promise<void> {
    for (const [relative, handle] of [...this.#handles]) {
      if (!under(relative, directory)) continue;
      this.#handles.delete(relative);
      await handle.close();
    }
  }

  async #closeHandles(): Promise<void> {
    for (const handle of this.#handles.values()) await handle.close().catch(() => undefined);
    this.#handles.clear();
  }

  async #applyOp(op: Op): Promise<void> {
    switch (op.kind) {
      case 'mkdir':
        await this.#inner.mkdir(this.#absolute(op.path));
        if (op.path !== '') this.#dirtyDirectories.add(parent(op.path));
        break;
      case 'open':
        await this.#handle(op.path);
        this.#dirtyDirectories.add(parent(op.path));
        break;
      case 'write': {
        const handle = await this.#handle(op.path);
        let written = 0;
        while (written < op.bytes.length) {
          const count = await handle.write(
            op.bytes,
            written,
            op.bytes.length - written,
            op.position + written,
          );
          assert(count > 0, 'a write makes progress');
          written += count;
        }
        this.#dirtyFiles.add(op.path);
        break;
      }
      case 'truncate':
        await (await this.#handle(op.path)).truncate(op.length);
        this.#dirtyFiles.add(op.path);
        break;
      case 'sync':
        await (await this.#handle(op.path)).sync();
        this.#dirtyFiles.delete(op.path);
        return;
      case 'syncDirectory':
        await this.#inner.syncDirectory(this.#absolute(op.path));
        this.#dirtyDirectories.delete(op.path);
        return;
      case 'unlink':
        await this.#closeHandlesUnder(op.path);
        await this.#inner.unlink(this.#absolute(op.path));
        this.#dirtyFiles.delete(op.path);
        this.#dirtyDirectories.add(parent(op.path));
        break;
      case 'rename': {
        const fromPath = this.#absolute(op.from);
        const toPath = this.#absolute(op.to);
        await this.#closeHandlesUnder(op.to);
        await this.#closeHandlesUnder(op.from);
        await this.#inner.rename(fromPath, toPath);
        for (const file of [...this.#dirtyFiles]) {
          if (under(file, op.to)) this.#dirtyFiles.delete(file);
        }
        for (const file of [...this.#dirtyFiles]) {
          if (!under(file, op.from)) continue;
          this.#dirtyFiles.delete(file);
          this.#dirtyFiles.add(op.to + file.slice(op.from.length));
        }
        this.#dirtyDirectories.add(parent(op.from));
        this.#dirtyDirectories.add(parent(op.to));
        break;
      }
      case 'removeDirectory':
        await this.#closeHandlesUnder(op.path);
        await this.#inner.removeDirectory(this.#absolute(op.path));
        for (const file of [...this.#dirtyFiles])
          if (under(file, op.path)) this.#dirtyFiles.delete(file);
        for (const directory of [...this.#dirtyDirectories]) {
          if (under(directory, op.path)) this.#dirtyDirectories.delete(directory);
        }
        if (op.path !== '') this.#dirtyDirectories.add(parent(op.path));
        break;
    }
    if (this.#dirtyFiles.size + this.#dirtyDirectories.size > REPLICA_DIRTY_PATHS_MAX)
      await this.#flushAll();
  }

  /** fsyncs every file and directory written since its last sync. */
  async #flushAll(): Promise<void> {
    for (const file of [...this.#dirtyFiles]) {
      const cached = this.#handles.get(file);
      if (cached !== undefined) {
        await cached.sync();
      } else {
        const handle = await this.#inner.open(this.#absolute(file));
        try {
          await handle.sync();
        } finally {
          await handle.close();
        }
      }
      this.#dirtyFiles.delete(file);
    }
    const directories = [...this.#dirtyDirectories].sort(
      (left, right) => right.length - left.length,
    );
    for (const directory of directories) {
      await this.#inner.syncDirectory(this.#absolute(directory)).catch((error: unknown) => {
        if (errorCode(error) !== 'ENOENT') throw error;
      });
      this.#dirtyDirectories.delete(directory);
    }
  }

  // ---- snapshot ------------------------------------------------------------------------

  #staging(relative: string): string {
    return path.join(this.#root, STAGING_DIRECTORY, ...relative.split('/').filter(Boolean));
  }

  async #snapshotBegin(): Promise<void> {
    this.#exact = false;
    if (this.#persistedExact) await this.#persist(false);
    await this.#closeHandles();
    this.#dirtyFiles.clear();
    this.#dirtyDirectories.clear();
    await this.#inner.removeDirectory(this.#staging(''));
    await this.#inner.mkdir(this.#staging(''));
    this.#snapshot = { directories: [''], file: null, handle: null };
  }

  #snapshotState(): { directories: string[]; file: string | null; handle: FileHandle | null } {
    if (this.#snapshot === null)
      throw new WeirError('PROTOCOL_ERROR', 'replication: a snapshot frame outside a snapshot');
    return this.#snapshot;
  }

  async #snapshotDirectory(relative: string): Promise<void> {
    const snapshot = this.#snapshotState();
    this.#absolute(relative); // refuses never-shipped names
    await this.#closeSnapshotFile();
    await this.#inner.mkdir(this.#staging(relative));
    snapshot.directories.push(relative);
  }

  async #snapshotFile(relative: string, position: number, bytes: Uint8Array): Promise<void> {
    const snapshot = this.#snapshotState();
    this.#absolute(relative);
    if (relative === '')
      throw new WeirError('PROTOCOL_ERROR', 'replication: a snapshot file without a name');
    if (snapshot.file !== relative) {
      await this.#closeSnapshotFile();
      snapshot.handle = await this.#inner.open(this.#staging(relative));
      await keepPrivate(relative, this.#staging(relative));
      snapshot.file = relative;
    }
    const handle = snapshot.handle;
    assert(handle !== null, 'the snapshot file is open');
    let written = 0;
    while (written < bytes.length) {
      const count = await handle.write(bytes, written, bytes.length - written, position + written);
      assert(count > 0, 'a write makes progress');
      written += count;
    }
  }

  async #closeSnapshotFile(): Promise<void> {
    const snapshot = this.#snapshot;
    if (snapshot?.handle == null) return;
    const handle = snapshot.handle;
    snapshot.handle = null;
    snapshot.file = null;
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
  }

  /** Staged files are durable: swap them in for root's entries, entry by entry. */
  async #snapshotEnd(epoch: number): Promise<void> {
    const snapshot = this.#snapshotState();
    await this.#closeSnapshotFile();
    for (const directory of [...snapshot.directories].reverse()) {
      await this.#inner.syncDirectory(this.#staging(directory));
    }
    for (const name of await this.#inner.readdir(this.#root)) {
      if (neverShipped(name)) continue;
      const entry = path.join(this.#root, name);
      const stats = await lstat(entry).catch(() => null);
      if (stats === null) continue;
      if (stats.isDirectory()) await this.#inner.removeDirectory(entry);
      else await this.#inner.unlink(entry);
    }
    for (const name of await this.#inner.readdir(this.#staging(''))) {
      await this.#inner.rename(this.#staging(name), path.join(this.#root, name));
    }
    await this.#inner.syncDirectory(this.#root);
    await this.#inner.removeDirectory(this.#staging(''));
    this.#snapshot = null;
    this.#appliedEpoch = epoch;
    this.#exact = true;
  }

  // ---- state file ----------------------------------------------------------------------

  async #load(): Promise<void> {
    await this.#inner.mkdir(this.#root);
    const bytes = await this.#inner.readFile(path.join(this.#root, STATE_FILE));
    if (bytes === null) return;
    try {
      const value = JSON.parse(Buffer.from(bytes).toString('utf8')) as Record<string, unknown>;
      const numbers = [value['epoch'], value['seq'], value['highestEpoch']];
      if (value['version'] !== STATE_VERSION) return;
      if (!numbers.every((number) => Number.isSafeInteger(number) && (number as number) >= 0))
        return;
      this.#appliedEpoch = value['epoch'] as number;
      this.#appliedSeq = value['seq'] as number;
      this.#highestEpoch = value['highestEpoch'] as number;
      this.#exact = value['exact'] === true;
      this.#persistedExact = this.#exact;
    } catch {
      // Unreadable: (0, 0, 0, not exact): a snapshot.
    }
  }

  async #persist(exact: boolean): Promise<void> {
    const record = {
      version: STATE_VERSION,
      epoch: this.#appliedEpoch,
      seq: this.#appliedSeq,
      highestEpoch: this.#highestEpoch,
      exact,
    };
    await replaceFile(
      this.#inner,
      this.#root,
      STATE_FILE,
      Buffer.from(JSON.stringify(record) + '\n'),
    );
    this.#persistedExact = exact;
  }
}

interface SessionContext {
  readonly epoch: number;
  readonly socket: net.Socket;
  readonly fail: (error: unknown) => void;
  readonly started: () => void;
}

/**
 * users.json (and the temporary file it is replaced from) keeps mode 0600 on a follower's
 * disk as on the leader's (users.ts chmods it there; file calls carry no modes).
 */
async function keepPrivate(relative: string, absolute: string): Promise<void> {
  if (path.basename(relative).startsWith(USERS_FILE)) await chmod(absolute, 0o600);
}
