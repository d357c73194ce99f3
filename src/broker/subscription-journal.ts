/**
 * A durable subscription's state on disk: a storage `Journal` of entries, each a run of
 * operations, and checkpoints that fold them into a snapshot. Operations are idempotent
 * assignments (re-applying a suffix of them to a state that already holds it changes
 * nothing), which is what lets a checkpoint be taken from the live state while later
 * operations are still queued.
 *
 * Entry layout (little-endian), operations back to back:
 *   u8  type   1 SETTLE  2 DELIVER  3 NACK  4 SEEK
 *   u16 partition
 *   f64 offset (an integer below 2^53)
 *   SETTLE:  -                              the message is settled (acked, terminated, dead-lettered, expired)
 *   DELIVER: u32 deliveryCount              the message was delivered this many times
 *   NACK:    f64 availableAt (ms)           not to be offered again before then
 *   SEEK:    -                              ack floor := offset, everything above forgotten
 *
 * Snapshot layout:
 *   u32 SNAPSHOT_VERSION, u16 partitionCount, then per partition:
 *   f64 floor, u32 settledCount, settledCount × f64 offset,
 *   u32 trackedCount, trackedCount × (f64 offset, u32 deliveryCount, f64 availableAt)
 *
 * Recovery rule: state = snapshot (or "nothing settled, floor 0") with every entry replayed
 * in order. Delivery counts may lag by one delivery after a crash (DELIVER is not awaited
 * before a message goes out); settlements never lag once their promise resolved.
 */
import { openJournal, type FileSystem, type FsyncPolicy, type Journal } from '../storage/index.js';
import {
  JOURNAL_CHECKPOINT_BYTES,
  JOURNAL_ENTRY_OPERATIONS_MAX,
  JOURNAL_QUEUED_OPERATIONS_MAX,
} from '../limits.js';
import { WeirError, assert } from '../util/index.js';

export const OPERATION = { settle: 1, deliver: 2, nack: 3, seek: 4 } as const;
type OperationType = (typeof OPERATION)[keyof typeof OPERATION];

const SNAPSHOT_VERSION = 1;
const HEAD_BYTES = 1 + 2 + 8;

export interface TrackedState {
  deliveryCount: number;
  availableAt: number;
}

/** What the journal says about one partition of the subscription. */
export interface PartitionSnapshot {
  floor: number;
  readonly settled: Set<number>;
  readonly tracked: Map<number, TrackedState>;
}

interface Operation {
  readonly type: OperationType;
  readonly partition: number;
  readonly offset: number;
  readonly value: number;
  /** DELIVER only: skipped at encoding if the message was settled meanwhile. */
  readonly isSettled?: () => boolean;
}

function operationBytes(type: OperationType): number {
  return HEAD_BYTES + (type === OPERATION.deliver ? 4 : type === OPERATION.nack ? 8 : 0);
}

export function emptyPartitionSnapshot(floor = 0): PartitionSnapshot {
  return { floor, settled: new Set(), tracked: new Map() };
}

function advanceFloor(state: PartitionSnapshot): void {
  while (state.settled.delete(state.floor)) {
    state.tracked.delete(state.floor);
    state.floor++;
  }
}

function apply(state: PartitionSnapshot, type: number, offset: number, value: number): void {
  switch (type) {
    case OPERATION.seek:
      state.floor = offset;
      state.settled.clear();
      state.tracked.clear();
      return;
    case OPERATION.settle:
      if (offset < state.floor) return;
      state.tracked.delete(offset);
      if (offset === state.floor) {
        state.floor++;
        advanceFloor(state);
      } else {
        state.settled.add(offset);
      }
      return;
    case OPERATION.deliver:
    case OPERATION.nack: {
      if (offset < state.floor || state.settled.has(offset)) return;
      let tracked = state.tracked.get(offset);
      if (!tracked) state.tracked.set(offset, (tracked = { deliveryCount: 0, availableAt: 0 }));
      if (type === OPERATION.deliver) tracked.deliveryCount = value;
      else tracked.availableAt = value;
      return;
    }
    default:
      throw new WeirError('CORRUPT_DATA', `subscription journal: unknown operation ${type}`);
  }
}

export function encodeSnapshot(partitions: readonly PartitionSnapshot[]): Uint8Array {
  let bytes = 4 + 2;
  for (const partition of partitions)
    bytes += 8 + 4 + partition.settled.size * 8 + 4 + partition.tracked.size * 20;
  const buffer = new ArrayBuffer(bytes);
  const view = new DataView(buffer);
  let at = 0;
  view.setUint32(at, SNAPSHOT_VERSION, true);
  view.setUint16(at + 4, partitions.length, true);
  at += 6;
  for (const partition of partitions) {
    view.setFloat64(at, partition.floor, true);
    view.setUint32(at + 8, partition.settled.size, true);
    at += 12;
    for (const offset of partition.settled) {
      view.setFloat64(at, offset, true);
      at += 8;
    }
    view.setUint32(at, partition.tracked.size, true);
    at += 4;
    for (const [offset, tracked] of partition.tracked) {
      view.setFloat64(at, offset, true);
      view.setUint32(at + 8, tracked.deliveryCount, true);
      view.setFloat64(at + 12, tracked.availableAt, true);
      at += 20;
    }
  }
  assert(at === bytes, 'snapshot size');
  return new Uint8Array(buffer);
}

function decodeSnapshot(bytes: Uint8Array, partitionCount: number): PartitionSnapshot[] {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const corrupt = (): WeirError =>
    new WeirError('CORRUPT_DATA', 'subscription snapshot is malformed');
  if (bytes.length < 6 || view.getUint32(0, true) !== SNAPSHOT_VERSION) throw corrupt();
  const stored = view.getUint16(4, true);
  let at = 6;
  const need = (count: number): void => {
    if (at + count > bytes.length) throw corrupt();
  };
  const partitions: PartitionSnapshot[] = [];
  for (let index = 0; index < stored; index++) {
    need(12);
    const state = emptyPartitionSnapshot(view.getFloat64(at, true));
    const settledCount = view.getUint32(at + 8, true);
    at += 12;
    need(settledCount * 8 + 4);
    for (let item = 0; item < settledCount; item++, at += 8)
      state.settled.add(view.getFloat64(at, true));
    const trackedCount = view.getUint32(at, true);
    at += 4;
    need(trackedCount * 20);
    for (let item = 0; item < trackedCount; item++, at += 20) {
      state.tracked.set(view.getFloat64(at, true), {
        deliveryCount: view.getUint32(at + 8, true),
        availableAt: view.getFloat64(at + 12, true),
      });
    }
    partitions.push(state);
  }
  while (partitions.length < partitionCount) partitions.push(emptyPartitionSnapshot());
  return partitions.slice(0, partitionCount);
}

function applyEntry(partitions: PartitionSnapshot[], entry: Uint8Array): void {
  const view = new DataView(entry.buffer, entry.byteOffset, entry.byteLength);
  let at = 0;
  while (at < entry.length) {
    if (at + HEAD_BYTES > entry.length)
      throw new WeirError('CORRUPT_DATA', 'subscription journal entry is truncated');
    const type = view.getUint8(at) as OperationType;
    const partition = view.getUint16(at + 1, true);
    const offset = view.getFloat64(at + 3, true);
    let value = 0;
    if (type === OPERATION.deliver) value = view.getUint32(at + HEAD_BYTES, true);
    else if (type === OPERATION.nack) value = view.getFloat64(at + HEAD_BYTES, true);
    at += operationBytes(type);
    const state = partitions[partition];
    if (state !== undefined) apply(state, type, offset, value);
  }
}

interface Batch {
  promise: Promise<void> | null;
  resolve: () => void;
  reject: (error: unknown) => void;
}

/**
 * The journal of one durable subscription (or none, for an ephemeral one: every operation
 * then "completes" at once). Operations are gathered into one entry per turn of the event
 * loop and appended one entry at a time; `record` resolves when the entry holding the
 * operation is durable. Checkpoints are taken between appends once the journal has grown by
 * JOURNAL_CHECKPOINT_BYTES.
 *
 * Past JOURNAL_QUEUED_OPERATIONS_MAX queued operations the journal is `backlogged`: its
 * subscription then delivers nothing new (so only settlements of what is in flight can still
 * queue) until `onDrain` says the queue went out.
 */
export class SubscriptionJournal {
  readonly #journal: Journal | null;
  readonly #snapshot: () => Uint8Array;
  readonly #checkpointBytes: number;
  #operations: Operation[] = [];
  #batch: Batch | null = null;
  #running: Promise<void> | null = null;
  #failure: WeirError | null = null;
  /** Called when a backlogged queue has gone out (set by the subscription). */
  onDrain: () => void = () => undefined;
  /** Called once, when a write or sync failed: from then on every record rejects (set by the subscription). */
  onFailure: (failure: WeirError) => void = () => undefined;
  /**
   * Taken when a run of operations is cut for writing, handed to `onDurable` once that run is
   * durable: the subscription uses it to know which ack floors are on disk (set by it).
   */
  captureDurable: () => unknown = () => null;
  onDurable: (captured: unknown) => void = () => undefined;

  private constructor(
    journal: Journal | null,
    snapshot: () => Uint8Array,
    checkpointBytes: number,
  ) {
    this.#journal = journal;
    this.#snapshot = snapshot;
    this.#checkpointBytes = checkpointBytes;
  }

  static ephemeral(): SubscriptionJournal {
    return new SubscriptionJournal(null, () => new Uint8Array(0), Infinity);
  }

  /** Opens the journal in `directory` and reads the state it holds. */
  static async open(options: {
    directory: string;
    fileSystem: FileSystem;
    fsync: FsyncPolicy;
    partitions: number;
    snapshot: () => Uint8Array;
    /** Checkpoint after this many appended bytes (tests make it small). Default JOURNAL_CHECKPOINT_BYTES. */
    checkpointBytes?: number;
  }): Promise<{ journal: SubscriptionJournal; state: PartitionSnapshot[] }> {
    const journal = await openJournal({
      directory: options.directory,
      fileSystem: options.fileSystem,
      fsync: options.fsync,
    });
    try {
      const state =
        journal.snapshot === null
          ? Array.from({ length: options.partitions }, () => emptyPartitionSnapshot())
          : decodeSnapshot(journal.snapshot, options.partitions);
      for await (const entry of journal.replay()) applyEntry(state, entry);
      return {
        journal: new SubscriptionJournal(
          journal,
          options.snapshot,
          options.checkpointBytes ?? JOURNAL_CHECKPOINT_BYTES,
        ),
        state,
      };
    } catch (error) {
      await journal.close();
      throw error;
    }
  }

  get failure(): WeirError | null {
    return this.#failure;
  }

  /** Nothing queued or being written: everything recorded so far is durable (or failed). */
  get idle(): boolean {
    return this.#running === null && this.#operations.length === 0;
  }

  get backlogged(): boolean {
    return this.#operations.length >= JOURNAL_QUEUED_OPERATIONS_MAX;
  }

  /** Queues an operation; resolves once it is durable. */
  record(type: OperationType, partition: number, offset: number, value = 0): Promise<void> {
    if (this.#journal === null) return Promise.resolve();
    if (this.#failure) return Promise.reject(this.#failure);
    this.#push({ type, partition, offset, value });
    const batch = this.#batch!;
    batch.promise ??= new Promise<void>((resolve, reject) => {
      batch.resolve = resolve;
      batch.reject = reject;
    });
    return batch.promise;
  }

  /** Queues an operation nobody waits for (a failure shows in `failure` and fails later records). */
  recordQuietly(
    type: OperationType,
    partition: number,
    offset: number,
    value = 0,
    isSettled?: () => boolean,
  ): void {
    if (this.#journal === null || this.#failure) return;
    this.#push(
      isSettled
        ? { type, partition, offset, value, isSettled }
        : { type, partition, offset, value },
    );
  }

  #push(operation: Operation): void {
    this.#operations.push(operation);
    this.#batch ??= { promise: null, resolve: () => undefined, reject: () => undefined };
    this.#running ??= this.#run();
  }

  async #run(): Promise<void> {
    // Let the rest of this turn add its operations to the same entry.
    await Promise.resolve();
    try {
      while (this.#operations.length > 0) {
        const operations = this.#operations;
        const batch = this.#batch!;
        const wasBacklogged = this.backlogged;
        this.#operations = [];
        this.#batch = null;
        // Everything recorded so far is in `operations` or written already.
        const captured = this.captureDurable();
        if (wasBacklogged) this.onDrain();
        try {
          for (let start = 0; start < operations.length; start += JOURNAL_ENTRY_OPERATIONS_MAX) {
            const entry = encodeOperations(
              operations,
              start,
              Math.min(operations.length, start + JOURNAL_ENTRY_OPERATIONS_MAX),
            );
            if (entry.length > 0) await this.#journal!.append(entry);
          }
          if (this.#journal!.bytesSinceCheckpoint >= this.#checkpointBytes) {
            // The snapshot holds the live state: every operation appended so far, and perhaps
            // some still queued (re-applying those on replay changes nothing).
            await this.#journal!.checkpoint(this.#snapshot());
          }
          this.onDurable(captured);
          batch.resolve();
        } catch (error) {
          const first = this.#failure === null;
          this.#failure ??=
            error instanceof WeirError
              ? error
              : new WeirError('STORAGE_FAILED', 'subscription journal failed', { cause: error });
          batch.reject(this.#failure);
          // Operations queued meanwhile fail with it.
          const queued = this.#batch as Batch | null;
          queued?.reject(this.#failure);
          this.#operations = [];
          this.#batch = null;
          if (first) this.onFailure(this.#failure);
        }
      }
    } finally {
      this.#running = null;
    }
  }

  /** Waits for queued operations, then closes the journal. */
  async close(): Promise<void> {
    while (this.#running) await this.#running;
    await this.#journal?.close();
  }
}

function encodeOperations(
  operations: readonly Operation[],
  start: number,
  end: number,
): Uint8Array {
  let bytes = 0;
  for (let index = start; index < end; index++) {
    const operation = operations[index]!;
    if (operation.isSettled?.() === true) continue;
    bytes += operationBytes(operation.type);
  }
  const buffer = new ArrayBuffer(bytes);
  const view = new DataView(buffer);
  let at = 0;
  for (let index = start; index < end; index++) {
    const operation = operations[index]!;
    if (operation.isSettled?.() === true) continue;
    view.setUint8(at, operation.type);
    view.setUint16(at + 1, operation.partition, true);
    view.setFloat64(at + 3, operation.offset, true);
    if (operation.type === OPERATION.deliver)
      view.setUint32(at + HEAD_BYTES, operation.value, true);
    else if (operation.type === OPERATION.nack)
      view.setFloat64(at + HEAD_BYTES, operation.value, true);
    at += operationBytes(operation.type);
  }
  return new Uint8Array(buffer);
}
