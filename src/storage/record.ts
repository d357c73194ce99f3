/** What the storage engine stores: opaque to it beyond these four fields. */

/** Header names and values are strings; order is kept. */
export type RecordHeaders = Readonly<Record<string, string>>;

/** A record as an appender hands it in. */
export interface RecordInput {
  /** Milliseconds since the epoch; the log fills in its clock's time when absent. */
  readonly timestamp?: number;
  readonly key?: Uint8Array | null;
  readonly headers?: RecordHeaders | null;
  readonly body: Uint8Array;
}

/** A record as a reader gets it back: `key` and `body` are views into the read buffer. */
export interface StoredRecord {
  readonly offset: number;
  readonly timestamp: number;
  readonly key: Uint8Array | null;
  readonly headers: RecordHeaders | null;
  readonly body: Uint8Array;
}
