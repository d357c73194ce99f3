/**
 * Transactions: acks of input messages and publishes of output messages that take effect
 * atomically (consume-transform-produce exactly once). After a crash at any point either all
 * of a transaction happened or none of it.
 *
 * A commit, in order:
 *   1. check (synchronously, changing nothing): every publish is routed and passes each
 *      target stream's checks (as a publish would: NO_ROUTE, SCHEMA_MISMATCH,
 *      MESSAGE_TOO_LARGE, STREAM_FULL, ...), every acked delivery is current and held by the
 *      committing client. A refusal aborts the whole commit with TRANSACTION_ABORTED naming
 *      the first failing entry and its own code; nothing happened.
 *   2. hold the acked deliveries (`committing`: no lease expiry, settle or consumer leaving
 *      takes them), choose each publish's partition, note each target partition's end.
 *   3. the commit point: one COMMIT record in the transaction journal (transaction-journal.ts),
 *      durable (fsync) before anything else happens. It fails: the transaction did not happen
 *      (a failed journal write stops the journal: every later commit fails, and the deliveries
 *      held stay held until the broker is reopened, whose recovery decides).
 *   4. apply: append the publishes, tagged `:tx` = `<id>/<publish index>`, record the acks in
 *      the subscriptions' journals; once all of it is durable, a DONE record (not waited for).
 *
 * Recovery (`recover`, at open, before a subscription delivers or a publish is taken): every
 * COMMIT without a DONE is completed: each target partition is scanned from its recorded end
 * for that transaction's `:tx` tags, what is missing is appended, the acks are applied again
 * (idempotent), then DONE is written. A stream or subscription deleted meanwhile (or a memory
 * one, gone with the process) is skipped: what it held went with it.
 *
 * Not in a transaction: delayed publishes (delayMs / deliverAt) and replies to request inboxes
 * (INVALID_ARGUMENT). Concurrency: commits run concurrently; each one's checks and holds are
 * synchronous, so two commits cannot both take one delivery. At most
 * TRANSACTIONS_COMMITTING_MAX commit at once (LIMIT_EXCEEDED past it).
 */
import { randomBytes } from 'node:crypto';
import * as diagnosticsChannel from 'node:diagnostics_channel';
import type { PublishReceipt } from '../protocol/index.js';
import { openJournal, type FileSystem, type FsyncPolicy, type Journal } from '../storage/index.js';
import {
  TRANSACTION_BYTES_MAX,
  TRANSACTION_ENTRIES_MAX,
  TRANSACTION_JOURNAL_CHECKPOINT_BYTES,
  TRANSACTIONS_COMMITTING_MAX,
} from '../limits.js';
import { WeirError, isWeirError, toWeirError, type Clock } from '../util/index.js';
import type { DeliveredMessage } from './delivery.js';
import { recordsFrom } from './log-scan.js';
import {
  recordId,
  storedTransaction,
  withTransaction,
  type EncodedMessage,
} from './message-codec.js';
import type { Ahead, Stream, StoreResult } from './stream.js';
import { isInboxSubject } from './subject.js';
import {
  decodeEntry,
  decodeState,
  encodeCommit,
  encodeDone,
  encodeState,
  type CommitRecord,
  type CommittedAck,
  type CommittedPublish,
} from './transaction-journal.js';

/** A committed transaction was completed by recovery at open: `{ transactionId, appended, acks }`. */
export const transactionRecoveredChannel = diagnosticsChannel.channel('weir:transaction:recovered');

/** One publish of a commit: encoded, and why the client refuses it (its permissions), if it does. */
export interface TransactionPublish {
  readonly message: EncodedMessage;
  readonly refusal: WeirError | null;
}

export interface CommitRequest {
  readonly publishes: readonly TransactionPublish[];
  readonly acks: readonly DeliveredMessage[];
  /** The consumers of the committing client: an acked delivery must be held by one of them. */
  readonly holders: ReadonlySet<unknown> | null;
}

export interface TransactionsOptions {
  readonly fileSystem: FileSystem;
  readonly directory: string;
  readonly fsync: FsyncPolicy;
  readonly clock: Clock;
  /** Streams capturing a subject, in creation order. */
  readonly streamsFor: (subject: string) => readonly Stream[];
}

/** TRANSACTION_ABORTED naming the failing entry and its own code. */
export function transactionAborted(entry: string, cause: unknown): WeirError {
  const error = toWeirError(cause);
  return new WeirError(
    'TRANSACTION_ABORTED',
    `transaction aborted, nothing of it took effect: ${entry}: ${error.code} ${error.message}`,
    { cause: error },
  );
}

interface Target {
  readonly stream: Stream;
  /** null: a duplicate within the stream's dedup window (nothing stored). */
  readonly publish: CommittedPublish | null;
}

interface HeldAck {
  readonly message: DeliveredMessage;
  readonly ack: CommittedAck;
}

export class Transactions {
  readonly #options: TransactionsOptions;
  readonly #journal: Journal;
  /** COMMIT records not DONE yet, by transaction id, in commit order (the checkpoint's state). */
  readonly #open = new Map<string, Uint8Array>();
  /** What recovery has to complete (read at open). */
  #recovering: CommitRecord[];
  readonly #committing = new Set<Promise<unknown>>();
  readonly #prefix = randomBytes(6).toString('hex');
  #sequence = 0;
  #checkpointing: Promise<void> | null = null;
  /** The journal failed: no commit is taken any more (until the broker is reopened). */
  #failure: WeirError | null = null;
  #closed = false;

  private constructor(options: TransactionsOptions, journal: Journal, open: CommitRecord[]) {
    this.#options = options;
    this.#journal = journal;
    this.#recovering = open;
  }

  /** Opens the journal and reads which commits were not done (recover() completes them). */
  static async open(options: TransactionsOptions): Promise<Transactions> {
    const journal = await openJournal({
      directory: options.directory,
      fileSystem: options.fileSystem,
      fsync: options.fsync,
    });
    try {
      const open = new Map<string, { commit: CommitRecord; bytes: Uint8Array }>();
      const snapshot = journal.snapshot;
      if (snapshot !== null) {
        for (const bytes of decodeState(snapshot)) {
          const entry = decodeEntry(bytes);
          if (entry.kind === 'commit') open.set(entry.commit.transactionId, entry);
        }
      }
      for await (const bytes of journal.replay()) {
        const entry = decodeEntry(bytes);
        if (entry.kind === 'commit') open.set(entry.commit.transactionId, entry);
        else open.delete(entry.transactionId);
      }
      const transactions = new Transactions(
        options,
        journal,
        [...open.values()].map((entry) => entry.commit),
      );
      for (const [id, entry] of open) transactions.#open.set(id, entry.bytes);
      return transactions;
    } catch (error) {
      await journal.close();
      throw error;
    }
  }

  /** Commits recovery still has to complete. */
  get pendingRecovery(): number {
    return this.#recovering.length;
  }

  /**
   * Completes every committed transaction that was not done (see the header), in commit
   * order. `findStream`: the streams as opened (with their durable subscriptions loaded).
   */
  async recover(findStream: (name: string) => Stream | undefined): Promise<void> {
    const now = this.#options.clock.now();
    for (const commit of this.#recovering) {
      const id = commit.transactionId;
      const waits: Promise<unknown>[] = [];
      let appended = 0;
      // Per target partition: which of its publishes are there already.
      const byPartition = new Map<string, CommittedPublish[]>();
      for (const publish of commit.publishes) {
        const key = `${publish.stream}\u0000${publish.partition}`;
        let list = byPartition.get(key);
        if (list === undefined) byPartition.set(key, (list = []));
        list.push(publish);
      }
      for (const publishes of byPartition.values()) {
        const first = publishes[0]!;
        const stream = findStream(first.stream);
        if (stream === undefined || first.partition >= stream.logs.length) continue;
        const log = stream.logs[first.partition]!;
        const wanted = new Set(publishes.map((publish) => `${id}/${publish.publishIndex}`));
        const from = Math.min(...publishes.map((publish) => publish.endOffset));
        for await (const record of recordsFrom(log, from)) {
          const tag = storedTransaction(record);
          if (tag !== null) wanted.delete(tag);
          if (wanted.size === 0) break;
        }
        for (const publish of publishes) {
          if (!wanted.has(`${id}/${publish.publishIndex}`)) continue;
          const placed = stream.storeRecord(
            publish.partition,
            publish.record,
            recordId(publish.record),
            now,
          );
          if (placed === null) continue;
          appended++;
          waits.push(placed.log.durable(placed.end));
        }
      }
      for (const ack of commit.acks) {
        const group = findStream(ack.stream)?.subscriptions.get(ack.subscription);
        if (group === undefined || !group.durable) continue;
        waits.push(group.settleForTransaction(null, ack.partition, ack.offset));
      }
      await Promise.all(waits);
      await this.#journal.append(encodeDone(id));
      this.#open.delete(id);
      if (transactionRecoveredChannel.hasSubscribers) {
        transactionRecoveredChannel.publish({
          transactionId: id,
          appended,
          acks: commit.acks.length,
        });
      }
    }
    this.#recovering = [];
  }

  /**
   * Commits a transaction (see the header); resolves with each publish's receipt once all of
   * it is applied and durable. Rejects with TRANSACTION_ABORTED when a check refuses it (nothing
   * happened; NOT_ENOUGH_REPLICAS, retriable, when a stream lacks in-sync replicas), with the journal's error when the commit point failed (nothing happened, or,
   * if the journal failed, decided at the next open), and with a storage error of a stream
   * or subscription journal when applying failed after the commit point (it is committed:
   * the next open completes it).
   */
  commit(request: CommitRequest): Promise<PublishReceipt[]> {
    let committing: Promise<PublishReceipt[]>;
    try {
      committing = this.#commit(request);
    } catch (error) {
      return Promise.reject(toWeirError(error));
    }
    this.#committing.add(committing);
    const forget = (): void => {
      this.#committing.delete(committing);
    };
    committing.then(forget, forget);
    return committing;
  }

  /** Steps 1-2 synchronously, then the commit point and apply. */
  #commit(request: CommitRequest): Promise<PublishReceipt[]> {
    if (this.#closed) throw new WeirError('CLOSED', 'the broker is closed');
    if (this.#failure !== null) throw this.#failure;
    if (this.#committing.size >= TRANSACTIONS_COMMITTING_MAX) {
      throw new WeirError(
        'LIMIT_EXCEEDED',
        `${TRANSACTIONS_COMMITTING_MAX} transactions are committing (TRANSACTIONS_COMMITTING_MAX)`,
      );
    }
    const { publishes, acks } = request;
    if (publishes.length + acks.length > TRANSACTION_ENTRIES_MAX) {
      throw new WeirError(
        'INVALID_ARGUMENT',
        `a transaction holds at most ${TRANSACTION_ENTRIES_MAX} publishes and acks (TRANSACTION_ENTRIES_MAX)`,
      );
    }
    const now = this.#options.clock.now();
    const id = `${this.#prefix}-${++this.#sequence}`;
    // 1. checks, changing nothing.
    const ahead = new Map<Stream, Ahead>();
    const routed: (readonly Stream[])[] = [];
    publishes.forEach(({ message, refusal }, index) => {
      const entry = `publish ${index} (${message.subject})`;
      if (refusal !== null) throw transactionAborted(entry, refusal);
      if (message.deliverAt > 0) {
        throw transactionAborted(
          entry,
          new WeirError(
            'INVALID_ARGUMENT',
            'a delayed message (delayMs / deliverAt) cannot be published in a transaction',
          ),
        );
      }
      if (isInboxSubject(message.subject)) {
        throw transactionAborted(
          entry,
          new WeirError('INVALID_ARGUMENT', 'a transaction cannot publish to a request inbox'),
        );
      }
      const streams = this.#options.streamsFor(message.subject);
      if (streams.length === 0) {
        throw transactionAborted(
          entry,
          new WeirError('NO_ROUTE', `no stream captures the subject ${message.subject}`),
        );
      }
      for (const stream of streams) {
        const before = ahead.get(stream);
        try {
          stream.check(message, now, before);
        } catch (error) {
          // Not the transaction's fault but the cluster's state: refused with the retriable
          // code itself, so that the application retries the commit (nothing of it happened).
          if (isWeirError(error, 'NOT_ENOUGH_REPLICAS')) throw error;
          throw transactionAborted(entry, error);
        }
        ahead.set(stream, {
          messages: (before?.messages ?? 0) + 1,
          bytes: (before?.bytes ?? 0) + message.bytes,
        });
      }
      routed.push(streams);
    });
    const held: HeldAck[] = [];
    const seen = new Set<unknown>();
    acks.forEach((message, index) => {
      const group = message.subscription;
      const entry = `ack ${index} (${group.stream}/${group.name} ${message.partition}/${message.offset})`;
      if (seen.has(message.entry)) return; // acked twice in one transaction: once
      const refusal = group.transactionRefusal(message.entry, message.token, request.holders);
      if (refusal !== null) throw transactionAborted(entry, refusal);
      seen.add(message.entry);
      held.push({
        message,
        ack: {
          stream: group.stream,
          subscription: group.name,
          partition: message.partition,
          offset: message.offset,
        },
      });
    });
    // 2. partitions, end offsets and records; the size of the commit record.
    const targets: Target[][] = publishes.map(({ message }, index) =>
      routed[index]!.map((stream): Target => {
        if (stream.isDuplicate(message, now)) return { stream, publish: null };
        const partition = stream.choosePartition(message);
        return {
          stream,
          publish: {
            stream: stream.name,
            partition,
            endOffset: stream.logs[partition]!.endOffset,
            publishIndex: index,
            record: withTransaction(stream.recordFor(message), `${id}/${index}`, now),
          },
        };
      }),
    );
    const commit: CommitRecord = {
      transactionId: id,
      committedAt: now,
      publishes: targets.flat().flatMap((target) => (target.publish ? [target.publish] : [])),
      acks: held.map((heldAck) => heldAck.ack),
    };
    const bytes = encodeCommit(commit);
    if (bytes.length > TRANSACTION_BYTES_MAX) {
      throw new WeirError(
        'INVALID_ARGUMENT',
        `the transaction's commit record of ${bytes.length} bytes (its publishes once per stream) exceeds ${TRANSACTION_BYTES_MAX} (TRANSACTION_BYTES_MAX)`,
      );
    }
    for (const { message } of held) message.subscription.holdForTransaction(message.entry);
    this.#open.set(id, bytes);
    // 3. the commit point.
    return this.#journal.append(bytes).then(
      () => this.#apply(id, publishes, targets, held),
      (error: unknown) => {
        const failure = toWeirError(error);
        if (failure.code === 'STORAGE_FAILED' || failure.code === 'DISK_FULL') {
          // The record may be on disk or not: the next open decides; the held stay held.
          this.#failure ??= failure;
        } else {
          this.#open.delete(id);
          for (const { message } of held)
            message.subscription.releaseFromTransaction(message.entry);
        }
        throw failure;
      },
    );
  }

  /** 4. apply a committed transaction. */
  async #apply(
    id: string,
    publishes: readonly TransactionPublish[],
    targets: readonly (readonly Target[])[],
    held: readonly HeldAck[],
  ): Promise<PublishReceipt[]> {
    const now = this.#options.clock.now();
    const waits: Promise<unknown>[] = [];
    const results: StoreResult[][] = targets.map(() => []);
    targets.forEach((streamTargets, index) => {
      const message = publishes[index]!.message;
      streamTargets.forEach((target, at) => {
        const { stream, publish } = target;
        const duplicate = (): void => {
          results[index]![at] = {
            stream: stream.name,
            partition: -1,
            offset: -1,
            duplicate: true,
            scheduled: false,
          };
          if (stream.isDuplicate(message, now)) {
            waits.push(stream.store(message, now).then((seen) => (results[index]![at] = seen)));
          }
        };
        if (publish === null) return duplicate();
        if (stream.closed) {
          // Deleted since the commit: what it would hold went with it.
          results[index]![at] = { ...publish, offset: -1, duplicate: false, scheduled: false };
          return;
        }
        const placed = stream.storeRecord(publish.partition, publish.record, message.id, now);
        if (placed === null) return duplicate();
        results[index]![at] = {
          stream: placed.stream,
          partition: placed.partition,
          offset: placed.offset,
          duplicate: false,
          scheduled: false,
        };
        waits.push(placed.log.durable(placed.end));
      });
    });
    for (const { message, ack } of held) {
      const group = message.subscription;
      waits.push(
        group.settleForTransaction(message.entry, ack.partition, ack.offset).catch((error) => {
          // A subscription deleted since the commit: its acks went with it.
          if (!isClosedError(error)) throw error;
        }),
      );
    }
    await Promise.all(waits);
    this.#open.delete(id);
    this.#journal.append(encodeDone(id)).catch(() => undefined);
    this.#maybeCheckpoint();
    return results.map((streams) => ({ ...streams[0]!, streams }));
  }

  /** Past TRANSACTION_JOURNAL_CHECKPOINT_BYTES: fold the journal into the open commits. */
  #maybeCheckpoint(): void {
    if (
      this.#checkpointing !== null ||
      this.#closed ||
      this.#journal.bytesSinceCheckpoint < TRANSACTION_JOURNAL_CHECKPOINT_BYTES
    ) {
      return;
    }
    // Built and handed over synchronously: it reflects every entry appended so far.
    this.#checkpointing = this.#journal
      .checkpoint(encodeState(this.#open.values()))
      .catch(() => undefined) // a failed checkpoint leaves the entries: the next one tries again
      .finally(() => {
        this.#checkpointing = null;
      });
  }

  /** Waits for the commits in progress, then closes the journal. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await Promise.allSettled([...this.#committing]);
    await this.#checkpointing;
    await this.#journal.close();
  }
}

function isClosedError(error: unknown): boolean {
  return error instanceof WeirError && error.code === 'CLOSED';
}
