/**
 * The broker-wide transaction journal: where a transaction's commit point is. One storage
 * `Journal` under `<dataDir>/transactions/` (a memory broker keeps it in memory), fsync
 * `always` for a file broker: a commit record is durable before anything of it is applied.
 *
 * Entry layout (one record of the journal's log each, little-endian, strings UTF-8 with a u32
 * length, 0xFFFFFFFF = null, as protocol/codec.ts writes them):
 *
 *   COMMIT  u8 1, string transactionId, f64 committedAt (ms),
 *           u32 publishCount, publishCount × (
 *             string stream, u32 partition, f64 endOffset (the partition's end as of the
 *             commit), u32 publishIndex, f64 timestamp, bytes|null key,
 *             u16 headerCount, headerCount × (string name, string value), bytes body),
 *           u32 ackCount, ackCount × (string stream, string subscription, u32 partition,
 *             f64 offset)
 *   DONE    u8 2, string transactionId
 *
 * A publish is listed once per stream (and partition) it goes to, with the record as that
 * stream stores it, `:tx` = `<transactionId>/<publishIndex>` among its headers
 * (message-codec.ts). Checkpoint state: u32 STATE_VERSION, u32 count, count × bytes (the
 * COMMIT entries not yet DONE, in commit order).
 *
 * Recovery rule: the state plus the entries replayed in order; every COMMIT without a DONE is
 * committed and may be applied in part: recovery completes it (transactions.ts) and writes
 * its DONE. A torn or unsynced COMMIT is cut away by the log's own recovery: that transaction
 * never happened. An entry of an unknown kind, or one that does not decode, is CORRUPT_DATA.
 */
import { Reader, Writer } from '../protocol/codec.js';
import type { RecordInput } from '../storage/index.js';
import { WeirError } from '../util/index.js';

const KIND_COMMIT = 1;
const KIND_DONE = 2;
const STATE_VERSION = 1;

/** One publish of a commit, in one stream partition. */
export interface CommittedPublish {
  readonly stream: string;
  readonly partition: number;
  readonly endOffset: number;
  readonly publishIndex: number;
  /** The record as the stream stores it (timestamp set, :tx among its headers). */
  readonly record: RecordInput & { readonly timestamp: number };
}

export interface CommittedAck {
  readonly stream: string;
  readonly subscription: string;
  readonly partition: number;
  readonly offset: number;
}

export interface CommitRecord {
  readonly transactionId: string;
  readonly committedAt: number;
  readonly publishes: readonly CommittedPublish[];
  readonly acks: readonly CommittedAck[];
}

export function encodeCommit(commit: CommitRecord): Uint8Array {
  const writer = new Writer(1024);
  writer.u8(KIND_COMMIT).string(commit.transactionId).f64(commit.committedAt);
  writer.u32(commit.publishes.length);
  for (const publish of commit.publishes) {
    const record = publish.record;
    writer
      .string(publish.stream)
      .u32(publish.partition)
      .f64(publish.endOffset)
      .u32(publish.publishIndex)
      .f64(record.timestamp)
      .bytes(record.key ?? null);
    const headers = record.headers ?? {};
    const names = Object.keys(headers);
    writer.u16(names.length);
    for (const name of names) writer.string(name).string(headers[name]!);
    writer.bytes(record.body);
  }
  writer.u32(commit.acks.length);
  for (const ack of commit.acks) {
    writer.string(ack.stream).string(ack.subscription).u32(ack.partition).f64(ack.offset);
  }
  return writer.finish().slice();
}

export function encodeDone(transactionId: string): Uint8Array {
  return new Writer(64).u8(KIND_DONE).string(transactionId).finish().slice();
}

export type JournalEntry =
  | { readonly kind: 'commit'; readonly commit: CommitRecord; readonly bytes: Uint8Array }
  | { readonly kind: 'done'; readonly transactionId: string };

export function decodeEntry(bytes: Uint8Array): JournalEntry {
  try {
    const reader = new Reader(bytes);
    const kind = reader.u8();
    if (kind === KIND_DONE) {
      const transactionId = reader.text();
      reader.done();
      return { kind: 'done', transactionId };
    }
    if (kind !== KIND_COMMIT) throw new Error(`unknown entry kind ${kind}`);
    const transactionId = reader.text();
    const committedAt = reader.f64();
    const publishes: CommittedPublish[] = [];
    for (let count = reader.u32(), index = 0; index < count; index++) {
      const stream = reader.text();
      const partition = reader.u32();
      const endOffset = reader.f64();
      const publishIndex = reader.u32();
      const timestamp = reader.f64();
      const key = reader.bytes();
      const headers: Record<string, string> = {};
      for (let headerCount = reader.u16(), at = 0; at < headerCount; at++) {
        const name = reader.text();
        headers[name] = reader.text();
      }
      const body = reader.bytes() ?? new Uint8Array(0);
      publishes.push({
        stream,
        partition,
        endOffset,
        publishIndex,
        record: { timestamp, key: key === null ? null : key.slice(), headers, body: body.slice() },
      });
    }
    const acks: CommittedAck[] = [];
    for (let count = reader.u32(), index = 0; index < count; index++) {
      acks.push({
        stream: reader.text(),
        subscription: reader.text(),
        partition: reader.u32(),
        offset: reader.f64(),
      });
    }
    reader.done();
    return {
      kind: 'commit',
      commit: { transactionId, committedAt, publishes, acks },
      bytes: bytes.slice(),
    };
  } catch (error) {
    throw new WeirError('CORRUPT_DATA', 'a transaction journal entry does not decode', {
      cause: error,
    });
  }
}

/** The checkpoint state: the COMMIT entries not DONE yet, in commit order. */
export function encodeState(openCommits: Iterable<Uint8Array>): Uint8Array {
  const writer = new Writer(1024);
  const commits = [...openCommits];
  writer.u32(STATE_VERSION).u32(commits.length);
  for (const bytes of commits) writer.bytes(bytes);
  return writer.finish().slice();
}

export function decodeState(bytes: Uint8Array): Uint8Array[] {
  try {
    const reader = new Reader(bytes);
    const version = reader.u32();
    if (version !== STATE_VERSION) throw new Error(`unknown state version ${version}`);
    const commits: Uint8Array[] = [];
    for (let count = reader.u32(), index = 0; index < count; index++) {
      commits.push((reader.bytes() ?? new Uint8Array(0)).slice());
    }
    reader.done();
    return commits;
  } catch (error) {
    throw new WeirError('CORRUPT_DATA', 'the transaction journal checkpoint does not decode', {
      cause: error,
    });
  }
}
