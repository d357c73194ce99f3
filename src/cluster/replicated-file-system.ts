/**
 * The leader's file system: every call is done on the local disk (`inner`), and every
 * mutating call under `root` is appended, in call order, to an op log with a sequence number
 * (replication-protocol.ts lists the ops). Ops stream to the followers the ReplicationServer
 * attached; a sync resolves only when the local fsync is done AND every follower in the in-sync
 * set (ISR) has acked seq >= that sync's op.
 *
 * Order. A mutating call takes its place in the log when it is called (synchronously), and its
 * op is encoded (the bytes actually written, copied) when its local call is done; ops are
 * numbered and shipped in place order, so an op waits for the ones called before it. A call
 * whose local call failed ships nothing. A sync's op ships at once (the follower fsyncs while
 * the leader does).
 *
 * Paths. Ops name files by path relative to root; a handle's path follows renames of it (or of
 * a directory above it); a handle whose file was unlinked (or removed with its directory)
 * writes and syncs locally only: no follower can see that file. Names under root that are
 * never shipped (replication-protocol.ts, `neverShipped`: LOCK, LOCK.*, .replica, .replica.*)
 * are local only. A path outside root is refused (INVALID_ARGUMENT): it could not be replicated.
 *
 * Memory. The ring keeps the most recent ops up to its byte cap; a follower that needs ops
 * that were dropped is disconnected and gets a snapshot when it reconnects.
 *
 * Snapshot. `snapshot()` holds new mutating calls at a barrier, waits for the ones in flight,
 * and walks root on the real disk (it needs to tell files from directories, which FileSystem
 * does not: root must be on disk), reading through `inner`. The barrier lasts the whole walk.
 *
 * Fence. After `fence(error)` every pending sync and every later mutation or sync rejects with
 * that error, without touching the disk; reads still work. A fence is final.
 *
 * Concurrency: the methods without a "ReplicationServer" note are for the broker; those with it
 * for the server of this file system. Everything runs on the one event loop.
 */
import { readdir } from 'node:fs/promises';
import * as path from 'node:path';
import type { FileHandle, FileSystem } from '../storage/index.js';
import {
  REPLICA_LAG_CHECK_MS,
  REPLICA_LAG_MS_MAX,
  REPLICATION_RING_BYTES_MAX,
  REPLICATION_WRITE_BYTES_MAX,
  SNAPSHOT_CHUNK_BYTES,
} from '../limits.js';
import { WeirError, assert } from '../util/index.js';
import { encodeFrame, encodeOp, neverShipped, setOpSeq, type Op } from './replication-protocol.js';

export interface ReplicatedFileSystemOptions {
  readonly inner: FileSystem;
  /** The data directory: ops name paths relative to it. */
  readonly root: string;
  readonly nodeId: string;
  readonly epoch: number;
  /** The seq of this epoch's first op (the epoch's startSeq in the cluster state). */
  readonly firstSeq: number;
  /** The in-sync followers (not this node). */
  readonly isr: Set<string>;
  /** The epoch of the ops before firstSeq on this node's disk. Default epoch - 1. */
  readonly previousEpoch?: number;
  /** The ring's byte cap. Default REPLICATION_RING_BYTES_MAX (tests pass a small one). */
  readonly ringBytesMax?: number;
  /** ms since the epoch. Default Date.now. */
  readonly now?: () => number;
}

/** One connection to a follower, as the ReplicationServer gives it. */
export interface FollowerChannel {
  readonly nodeId: string;
  /** Sends one frame; false when the socket's buffer is full (call `drained()` on 'drain'). */
  write(frame: Buffer): boolean;
  /** Ends the connection (the server logs the reason). */
  close(reason: string): void;
}

/** What the ReplicationServer holds for an attached follower. */
export interface FollowerLink {
  ack(seq: number): void;
  drained(): void;
  detach(): void;
}

export interface FollowerInfo {
  nodeId: string;
  ackedSeq: number;
  lagOps: number;
  lagMs: number;
  inSync: boolean;
}

interface RingEntry {
  readonly seq: number;
  readonly frame: Buffer;
  readonly atMs: number;
}

interface Follower {
  readonly nodeId: string;
  ackedSeq: number;
  channel: FollowerChannel | null;
  /** Next seq to send on the channel. */
  nextSeq: number;
  blocked: boolean;
  laggingReported: boolean;
  caughtUpReported: boolean;
}

/** A call's place in the log: filled once its local call is done. */
interface Slot {
  done: boolean;
  frames: Buffer[];
  /** For a sync: called with its seq once numbered. */
  numbered: ((seq: number) => void) | null;
}

interface PendingSync {
  readonly seq: number;
  readonly atMs: number;
  readonly resolve: () => void;
  readonly reject: (error: unknown) => void;
}

class ReplicatedFileHandle implements FileHandle {
  readonly #fileSystem: ReplicatedFileSystem;
  readonly #inner: FileHandle;
  /** Path relative to root; null: local only (never shipped, or unlinked). */
  relative: string | null;

  constructor(fileSystem: ReplicatedFileSystem, inner: FileHandle, relative: string | null) {
    this.#fileSystem = fileSystem;
    this.#inner = inner;
    this.relative = relative;
  }

  read(buffer: Uint8Array, offset: number, length: number, position: number): Promise<number> {
    return this.#inner.read(buffer, offset, length, position);
  }

  write(buffer: Uint8Array, offset: number, length: number, position: number): Promise<number> {
    return this.#fileSystem.mutate(async () => {
      const count = await this.#inner.write(buffer, offset, length, position);
      const relative = this.relative;
      if (relative === null) return { result: count, ops: [] };
      const ops: Op[] = [];
      for (let done = 0; done < count; done += REPLICATION_WRITE_BYTES_MAX) {
        const size = Math.min(REPLICATION_WRITE_BYTES_MAX, count - done);
        const bytes = buffer.subarray(offset + done, offset + done + size);
        ops.push({ kind: 'write', path: relative, position: position + done, bytes });
      }
      return { result: count, ops };
    });
  }

  sync(): Promise<void> {
    return this.#fileSystem.syncOp(this.relative, () => this.#inner.sync(), 'sync');
  }

  truncate(length: number): Promise<void> {
    return this.#fileSystem.mutate(async () => {
      await this.#inner.truncate(length);
      const relative = this.relative;
      return {
        result: undefined,
        ops: relative === null ? [] : [{ kind: 'truncate', path: relative, length }],
      };
    });
  }

  size(): Promise<number> {
    return this.#inner.size();
  }

  async close(): Promise<void> {
    this.#fileSystem.forget(this);
    await this.#inner.close();
  }
}

export class ReplicatedFileSystem implements FileSystem {
  readonly #inner: FileSystem;
  readonly #root: string;
  readonly nodeId: string;
  readonly epoch: number;
  readonly firstSeq: number;
  readonly #previousEpoch: number;
  readonly #ringBytesMax: number;
  readonly #now: () => number;

  #seq: number;
  #lastSyncSeq: number;
  #isr: Set<string>;
  #fenced: WeirError | null = null;

  readonly #ring: RingEntry[] = [];
  #ringHead = 0;
  #ringBytes = 0;

  readonly #slots: Slot[] = [];
  #slotHead = 0;
  #inFlight = 0;
  #idle: (() => void) | null = null;
  #barrier: Promise<void> | null = null;
  #snapshots: Promise<unknown> = Promise.resolve();

  readonly #pendingSyncs: PendingSync[] = [];
  #lagTimer: ReturnType<typeof setInterval> | null = null;
  readonly #followers = new Map<string, Follower>();
  readonly #handles = new Set<ReplicatedFileHandle>();

  onFollowerLagging: ((nodeId: string) => void) | null = null;
  onFollowerCaughtUp: ((nodeId: string) => void) | null = null;

  constructor(options: ReplicatedFileSystemOptions) {
    assert(Number.isSafeInteger(options.epoch) && options.epoch >= 1, 'an epoch is >= 1');
    assert(Number.isSafeInteger(options.firstSeq) && options.firstSeq >= 1, 'firstSeq is >= 1');
    assert(!options.isr.has(options.nodeId), 'the ISR given is the followers, not this node');
    this.#inner = options.inner;
    this.#root = path.resolve(options.root);
    this.nodeId = options.nodeId;
    this.epoch = options.epoch;
    this.firstSeq = options.firstSeq;
    this.#previousEpoch = options.previousEpoch ?? options.epoch - 1;
    this.#ringBytesMax = options.ringBytesMax ?? REPLICATION_RING_BYTES_MAX;
    this.#now = options.now ?? Date.now;
    this.#seq = options.firstSeq - 1;
    this.#lastSyncSeq = this.#seq;
    this.#isr = new Set(options.isr);
    for (const nodeId of this.#isr) this.#follower(nodeId);
  }

  /** The last op seq assigned. */
  get seq(): number {
    return this.#seq;
  }

  get fenced(): WeirError | null {
    return this.#fenced;
  }

  // ---- FileSystem ----------------------------------------------------------------------

  async mkdir(directory: string): Promise<void> {
    const relative = this.#relative(directory);
    return await this.mutate(async () => {
      await this.#inner.mkdir(directory);
      return {
        result: undefined,
        ops: relative === null ? [] : [{ kind: 'mkdir', path: relative }],
      };
    });
  }

  readdir(directory: string): Promise<string[]> {
    return this.#inner.readdir(directory);
  }

  async open(file: string): Promise<FileHandle> {
    const relative = this.#relative(file);
    return await this.mutate(async () => {
      const handle = new ReplicatedFileHandle(this, await this.#inner.open(file), relative);
      this.#handles.add(handle);
      return { result: handle, ops: relative === null ? [] : [{ kind: 'open', path: relative }] };
    });
  }

  readFile(file: string): Promise<Uint8Array | null> {
    return this.#inner.readFile(file);
  }

  async unlink(file: string): Promise<void> {
    const relative = this.#relative(file);
    return await this.mutate(async () => {
      await this.#inner.unlink(file);
      if (relative === null) return { result: undefined, ops: [] };
      this.#detachHandles(relative);
      return { result: undefined, ops: [{ kind: 'unlink', path: relative }] };
    });
  }

  async rename(from: string, to: string): Promise<void> {
    const fromRelative = this.#relative(from);
    const toRelative = this.#relative(to);
    return await this.mutate(async () => {
      await this.#inner.rename(from, to);
      if (fromRelative === null || toRelative === null) {
        // Into or out of the local-only names: the follower sees it as an unlink (or nothing).
        // The broker never does this; shipping a removal keeps the follower's tree a prefix.
        if (fromRelative !== null) this.#detachHandles(fromRelative);
        return {
          result: undefined,
          ops: fromRelative === null ? [] : [{ kind: 'unlink', path: fromRelative }],
        };
      }
      this.#detachHandles(toRelative);
      this.#moveHandles(fromRelative, toRelative);
      return { result: undefined, ops: [{ kind: 'rename', from: fromRelative, to: toRelative }] };
    });
  }

  async removeDirectory(directory: string): Promise<void> {
    const relative = this.#relative(directory);
    return await this.mutate(async () => {
      await this.#inner.removeDirectory(directory);
      if (relative === null) return { result: undefined, ops: [] };
      this.#detachHandles(relative);
      return { result: undefined, ops: [{ kind: 'removeDirectory', path: relative }] };
    });
  }

  async syncDirectory(directory: string): Promise<void> {
    return await this.syncOp(
      this.#relative(directory),
      () => this.#inner.syncDirectory(directory),
      'syncDirectory',
    );
  }

  // ---- cluster -------------------------------------------------------------------------

  /** The in-sync followers (not this node), after a fenced ISR change committed. */
  setInSync(followers: Set<string>): void {
    assert(!followers.has(this.nodeId), 'the ISR given is the followers, not this node');
    for (const nodeId of new Set([...followers, ...this.#isr])) {
      if (followers.has(nodeId) === this.#isr.has(nodeId)) continue;
      const follower = this.#follower(nodeId);
      follower.laggingReported = false;
      follower.caughtUpReported = false;
    }
    this.#isr = new Set(followers);
    for (const [nodeId, follower] of this.#followers) {
      if (!this.#isr.has(nodeId) && follower.channel === null) this.#followers.delete(nodeId);
    }
    this.#settleSyncs();
  }

  /** Every pending and later sync and mutation rejects with `error`; reads still work. */
  fence(error: WeirError): void {
    if (this.#fenced !== null) return;
    this.#fenced = error;
    for (const pending of this.#pendingSyncs.splice(0)) pending.reject(error);
    this.#stopLagTimer();
  }

  followers(): FollowerInfo[] {
    const now = this.#now();
    return [...this.#followers.values()].map((follower) => {
      const lagOps = Math.max(0, this.#seq - follower.ackedSeq);
      let lagMs = 0;
      if (lagOps > 0) {
        const entry = this.#ringEntry(follower.ackedSeq + 1) ?? this.#ring[this.#ringHead];
        lagMs = entry === undefined ? 0 : Math.max(0, now - entry.atMs);
      }
      return {
        nodeId: follower.nodeId,
        ackedSeq: follower.ackedSeq,
        lagOps,
        lagMs,
        inSync: this.#isr.has(follower.nodeId),
      };
    });
  }

  // ---- for the ReplicationServer -------------------------------------------------------

  /**
   * ReplicationServer: true if a follower whose files are exactly the result of the ops up to
   * (appliedEpoch, appliedSeq) can continue from appliedSeq + 1 (that is a prefix of this
   * node's history and the ring still holds every op after it); else it needs a snapshot.
   */
  continuesFrom(appliedEpoch: number, appliedSeq: number): boolean {
    const ringFirstSeq = this.#ring[this.#ringHead]?.seq ?? this.#seq + 1;
    if (appliedSeq > this.#seq || appliedSeq + 1 < ringFirstSeq) return false;
    if (appliedEpoch === this.epoch) return appliedSeq >= this.firstSeq - 1;
    // Epoch 0 is "never applied anything": a prefix only of an empty directory, which this
    // node cannot prove of the files it started with, so such a follower takes a snapshot.
    return (
      appliedEpoch >= 1 && appliedEpoch === this.#previousEpoch && appliedSeq === this.firstSeq - 1
    );
  }

  /**
   * ReplicationServer: starts streaming to `channel` from `nextSeq` (the ops after what the
   * follower has). A second attach of the same node replaces the first (closed).
   */
  attachFollower(channel: FollowerChannel, nextSeq: number): FollowerLink {
    const follower = this.#follower(channel.nodeId);
    if (follower.channel !== null && follower.channel !== channel) {
      follower.channel.close('replaced by a new connection of the same node');
    }
    follower.channel = channel;
    follower.nextSeq = nextSeq;
    follower.blocked = false;
    // A new connection is a new episode: catching up again is reported again.
    follower.caughtUpReported = false;
    this.#pump(follower);
    return {
      ack: (seq) => {
        if (follower.channel === channel) this.#acked(follower, seq);
      },
      drained: () => {
        if (follower.channel !== channel) return;
        follower.blocked = false;
        this.#pump(follower);
      },
      detach: () => {
        if (follower.channel !== channel) return;
        follower.channel = null;
        if (!this.#isr.has(follower.nodeId)) this.#followers.delete(follower.nodeId);
      },
    };
  }

  /**
   * ReplicationServer: sends every file and directory under root (never-shipped names aside)
   * through `send`, under the barrier, and returns the seq the snapshot is at. One at a time.
   */
  snapshot(send: (frame: Buffer) => Promise<void>): Promise<number> {
    const run = this.#snapshots.then(() => this.#snapshotOnce(send));
    this.#snapshots = run.catch(() => undefined);
    return run;
  }

  // ---- internals shared with the handles -----------------------------------------------

  /** Runs one mutating call in its place in the log. */
  async mutate<T>(run: () => Promise<{ result: T; ops: Op[] }>): Promise<T> {
    while (this.#barrier !== null) await this.#barrier;
    this.#checkFence();
    const slot = this.#reserve();
    let outcome: { result: T; ops: Op[] };
    try {
      outcome = await run();
    } catch (error) {
      this.#complete(slot, []);
      throw error;
    }
    this.#complete(slot, outcome.ops);
    this.#checkFence();
    return outcome.result;
  }

  /** A sync (of a file or a directory): the local fsync and, for a shipped path, the ISR's acks. */
  async syncOp(
    relative: string | null,
    local: () => Promise<void>,
    kind: 'sync' | 'syncDirectory',
  ): Promise<void> {
    while (this.#barrier !== null) await this.#barrier;
    this.#checkFence();
    if (relative === null) return local();
    const slot = this.#reserve();
    const acked = new Promise<void>((resolve, reject) => {
      slot.numbered = (seq) => {
        if (this.#fenced !== null) return reject(this.#fenced);
        this.#pendingSyncs.push({ seq, atMs: this.#now(), resolve, reject });
        this.#startLagTimer();
      };
    });
    this.#complete(slot, [{ kind, path: relative }]);
    this.#settleSyncs();
    await Promise.all([local(), acked]);
    this.#checkFence();
  }

  #checkFence(): void {
    if (this.#fenced !== null) throw this.#fenced;
  }

  forget(handle: ReplicatedFileHandle): void {
    this.#handles.delete(handle);
  }

  // ---- private -------------------------------------------------------------------------

  /** Path relative to root ('/'-separated), null if never shipped; throws outside root. */
  #relative(file: string): string | null {
    const relative = path.relative(this.#root, path.resolve(file));
    if (relative.startsWith('..') || path.isAbsolute(relative)) {
      throw new WeirError(
        'INVALID_ARGUMENT',
        `${file} is outside the replicated directory ${this.#root}`,
      );
    }
    const shipped = relative.split(path.sep).join('/');
    return neverShipped(shipped) ? null : shipped;
  }

  #detachHandles(relative: string): void {
    for (const handle of this.#handles) {
      const current = handle.relative;
      if (
        current !== null &&
        (current === relative || relative === '' || current.startsWith(relative + '/'))
      ) {
        handle.relative = null;
      }
    }
  }

  #moveHandles(from: string, to: string): void {
    for (const handle of this.#handles) {
      const current = handle.relative;
      if (current === from) handle.relative = to;
      else if (current !== null && current.startsWith(from + '/'))
        handle.relative = to + current.slice(from.length);
    }
  }

  #reserve(): Slot {
    const slot: Slot = { done: false, frames: [], numbered: null };
    this.#slots.push(slot);
    this.#inFlight++;
    return slot;
  }

  #complete(slot: Slot, ops: Op[]): void {
    assert(!slot.done, 'a slot completes once');
    slot.done = true;
    // Encoded now: the caller may reuse its buffer once its call resolves.
    if (this.#fenced === null) slot.frames = ops.map((op) => encodeOp(0, op));
    this.#inFlight--;
    this.#flush();
    if (this.#inFlight === 0 && this.#idle !== null) {
      const idle = this.#idle;
      this.#idle = null;
      idle();
    }
  }

  /** Numbers and ships the completed slots at the head, in place order. */
  #flush(): void {
    let shipped = false;
    while (this.#slotHead < this.#slots.length) {
      const slot = this.#slots[this.#slotHead]!;
      if (!slot.done) break;
      this.#slotHead++;
      if (this.#fenced !== null) slot.frames = [];
      for (const frame of slot.frames) {
        const seq = ++this.#seq;
        setOpSeq(frame, seq);
        this.#ringPush({ seq, frame, atMs: this.#now() });
        shipped = true;
      }
      if (slot.numbered !== null) {
        if (slot.frames.length > 0) this.#lastSyncSeq = this.#seq;
        slot.numbered(this.#seq);
      }
    }
    if (this.#slotHead > 1024 && this.#slotHead * 2 > this.#slots.length) {
      this.#slots.splice(0, this.#slotHead);
      this.#slotHead = 0;
    }
    if (shipped) for (const follower of this.#followers.values()) this.#pump(follower);
  }

  #ringPush(entry: RingEntry): void {
    this.#ring.push(entry);
    this.#ringBytes += entry.frame.length;
    while (this.#ringBytes > this.#ringBytesMax && this.#ringHead < this.#ring.length - 1) {
      this.#ringBytes -= this.#ring[this.#ringHead]!.frame.length;
      this.#ring[this.#ringHead] = undefined as unknown as RingEntry;
      this.#ringHead++;
    }
    if (this.#ringHead > 1024 && this.#ringHead * 2 > this.#ring.length) {
      this.#ring.splice(0, this.#ringHead);
      this.#ringHead = 0;
    }
  }

  #ringEntry(seq: number): RingEntry | undefined {
    const first = this.#ring[this.#ringHead];
    if (first === undefined || seq < first.seq) return undefined;
    const entry = this.#ring[this.#ringHead + (seq - first.seq)];
    assert(entry === undefined || entry.seq === seq, 'the ring holds consecutive seqs');
    return entry;
  }

  #pump(follower: Follower): void {
    const channel = follower.channel;
    if (channel === null || follower.blocked) return;
    while (follower.nextSeq <= this.#seq) {
      const entry = this.#ringEntry(follower.nextSeq);
      if (entry === undefined) {
        follower.channel = null;
        channel.close(
          `needs op ${follower.nextSeq}, which the ring dropped: a snapshot on reconnect`,
        );
        if (!this.#isr.has(follower.nodeId)) this.#followers.delete(follower.nodeId);
        return;
      }
      follower.nextSeq++;
      if (!channel.write(entry.frame)) {
        follower.blocked = true;
        return;
      }
    }
  }

  #follower(nodeId: string): Follower {
    let follower = this.#followers.get(nodeId);
    if (follower === undefined) {
      follower = {
        nodeId,
        ackedSeq: 0,
        channel: null,
        nextSeq: this.#seq + 1,
        blocked: false,
        laggingReported: false,
        caughtUpReported: false,
      };
      this.#followers.set(nodeId, follower);
    }
    return follower;
  }

  #acked(follower: Follower, seq: number): void {
    if (seq <= follower.ackedSeq) return;
    if (seq > this.#seq) {
      follower.channel?.close(`acked seq ${seq}, past the last op ${this.#seq}`);
      return;
    }
    follower.ackedSeq = seq;
    if (seq >= this.#lastSyncSeq) follower.laggingReported = false;
    if (!this.#isr.has(follower.nodeId) && seq >= this.#lastSyncSeq && !follower.caughtUpReported) {
      follower.caughtUpReported = true;
      this.onFollowerCaughtUp?.(follower.nodeId);
    }
    this.#settleSyncs();
  }

  /** Resolves the pending syncs every ISR member has acked. */
  #settleSyncs(): void {
    let floor = Infinity;
    for (const nodeId of this.#isr)
      floor = Math.min(floor, this.#followers.get(nodeId)?.ackedSeq ?? 0);
    let count = 0;
    while (count < this.#pendingSyncs.length && this.#pendingSyncs[count]!.seq <= floor) count++;
    for (const pending of this.#pendingSyncs.splice(0, count)) pending.resolve();
    if (this.#pendingSyncs.length === 0) this.#stopLagTimer();
  }

  #startLagTimer(): void {
    if (this.#lagTimer !== null) return;
    this.#lagTimer = setInterval(() => this.#checkLag(), REPLICA_LAG_CHECK_MS);
    this.#lagTimer.unref();
  }

  #stopLagTimer(): void {
    if (this.#lagTimer === null) return;
    clearInterval(this.#lagTimer);
    this.#lagTimer = null;
  }

  #checkLag(): void {
    const oldest = this.#pendingSyncs[0];
    if (oldest === undefined || this.#now() - oldest.atMs < REPLICA_LAG_MS_MAX) return;
    for (const nodeId of this.#isr) {
      const follower = this.#follower(nodeId);
      if (follower.ackedSeq >= oldest.seq || follower.laggingReported) continue;
      follower.laggingReported = true;
      this.onFollowerLagging?.(nodeId);
    }
  }

  async #snapshotOnce(send: (frame: Buffer) => Promise<void>): Promise<number> {
    let release!: () => void;
    this.#barrier = new Promise<void>((resolve) => (release = resolve));
    try {
      if (this.#inFlight > 0) await new Promise<void>((resolve) => (this.#idle = resolve));
      assert(this.#slotHead === this.#slots.length, 'no call is in flight under the barrier');
      const seq = this.#seq;
      await this.#sendTree('', send);
      return seq;
    } finally {
      this.#barrier = null;
      release();
    }
  }

  async #sendTree(relative: string, send: (frame: Buffer) => Promise<void>): Promise<void> {
    const directory = path.join(this.#root, relative);
    let entries;
    try {
      entries = await readdir(directory, { withFileTypes: true });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw error;
    }
    entries.sort((left, right) => (left.name < right.name ? -1 : left.name > right.name ? 1 : 0));
    for (const entry of entries) {
      const child = relative === '' ? entry.name : `${relative}/${entry.name}`;
      if (neverShipped(child)) continue;
      if (entry.isDirectory()) {
        await send(encodeFrame({ type: 'snapshotDirectory', path: child }));
        await this.#sendTree(child, send);
      } else if (entry.isFile()) {
        await this.#sendFile(child, send);
      }
    }
  }

  async #sendFile(relative: string, send: (frame: Buffer) => Promise<void>): Promise<void> {
    const handle = await this.#inner.open(path.join(this.#root, relative));
    try {
      const size = await handle.size();
      const buffer = new Uint8Array(Math.min(SNAPSHOT_CHUNK_BYTES, Math.max(size, 1)));
      let position = 0;
      do {
        const count = await handle.read(
          buffer,
          0,
          Math.min(buffer.length, size - position),
          position,
        );
        if (count === 0 && position < size) {
          throw new WeirError(
            'STORAGE_FAILED',
            `snapshot: ${relative} ended at ${position} of ${size} bytes`,
          );
        }
        await send(
          encodeFrame({
            type: 'snapshotFile',
            path: relative,
            position,
            bytes: buffer.subarray(0, count),
          }),
        );
        position += count;
      } while (position < size);
    } finally {
      await handle.close();
    }
  }
}
