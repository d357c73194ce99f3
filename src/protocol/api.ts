/**
 * The client interface of Weir: what `broker.connect()` returns in-process and what the
 * network SDK's `connect('weir://…')` will return. Pure types (and a few constants), no
 * transport: code written against `Client` runs unchanged embedded, on a server, on a
 * cluster.
 *
 * Concurrency: every method may be called concurrently from any number of async tasks.
 * Every refusal is a `WeirError` with a stable `code` (see docs/errors.md).
 */
import type { WeirError } from '../util/index.js';

// ---------------------------------------------------------------------------------------
// Values
// ---------------------------------------------------------------------------------------

export type JsonValue =
  string | number | boolean | null | readonly JsonValue[] | { readonly [key: string]: JsonValue };

/**
 * What a publish carries. `Uint8Array` is sent as is, a `string` as its UTF-8 bytes, any
 * other value as its JSON text (`msg.json()` reads it back). To publish a JSON string, pass
 * `JSON.stringify(value)`.
 */
export type Body = Uint8Array | string | Exclude<JsonValue, string>;

/** Header names and values are strings. Names starting with ':' are reserved. */
export type Headers = Readonly<Record<string, string>>;

// ---------------------------------------------------------------------------------------
// Streams
// ---------------------------------------------------------------------------------------

export type StorageKind = 'file' | 'memory';
export type FsyncPolicy = 'always' | 'interval' | 'never';
export type RetentionPolicy = 'limits' | 'work-queue';
export type OverflowPolicy = 'drop-oldest' | 'reject-new';

/** Options of `streams.create`. Every field is optional except where noted; see `StreamConfig`. */
export interface StreamOptions {
  /** Subject patterns the stream captures: dotted tokens, `*` one token, `>` the rest. Default `[name]`. */
  readonly subjects?: readonly string[];
  /** Number of partitions, 1..256. Default 1. Fixed at creation. */
  readonly partitions?: number;
  /** `file` (default) or `memory` (gone with the broker process). */
  readonly storage?: StorageKind;
  /** When a publish is confirmed: `always` (default: after fdatasync), `interval`, `never`. */
  readonly fsync?: FsyncPolicy;
  /** With fsync `interval`: the longest time a confirmed message stays unsynced. Default 100. */
  readonly fsyncIntervalMs?: number;
  /** `limits` (default: keep within maxAgeMs / maxBytes / maxMessages) or `work-queue`. */
  readonly retention?: RetentionPolicy;
  /** Messages older than this are dropped. Default: no age limit. */
  readonly maxAgeMs?: number;
  /** The stream keeps at most about this many bytes (whole segments go). Default: no limit. */
  readonly maxBytes?: number;
  /** The stream keeps at most this many messages. Default: no limit. */
  readonly maxMessages?: number;
  /** What a publish past maxBytes / maxMessages does: `drop-oldest` (default) or `reject-new`. */
  readonly overflow?: OverflowPolicy;
  /** A publish whose `id` was seen this recently is not stored again. Default 120000; 0 disables. */
  readonly dedupWindowMs?: number;
  /** The largest body + key + headers accepted. Default 1 MiB. */
  readonly maxMessageBytes?: number;
  /** Segment size of the stream's partition logs (retention deletes whole segments). Default 64 MiB. */
  readonly segmentBytes?: number;
  /**
   * A message published without its own `ttlMs` expires this long after it was stored in this
   * stream (a shorter per-message ttlMs wins), 1..DELAY_MS_MAX. Default: none.
   */
  readonly ttlMs?: number;
  /**
   * A JSON Schema (draft 2020-12 / draft-07 keywords, as ajv takes them) every publish's body
   * must match; a body that is not JSON or does not match is refused with SCHEMA_MISMATCH.
   * Default: none. Each change through `streams.update` makes a new schema version.
   */
  readonly schema?: JsonSchema | null;
  /**
   * How a new schema must relate to the current one: `backward` (default: it accepts every
   * body the current one accepts, checked conservatively; see docs/concepts.md) or `none`.
   */
  readonly schemaCompatibility?: SchemaCompatibility;
  /**
   * Nodes of a cluster that must hold the stream, 1..the cluster's node count. Default 1 on a
   * single node; in a cluster the smaller of 3 and the node count. Fixed at creation. Every
   * node holds every stream in this version, so it is a floor on the cluster's size.
   */
  readonly replicas?: number;
  /**
   * In-sync nodes (the leader counts) a publish needs, 1..replicas: with fewer the publish is
   * refused with NOT_ENOUGH_REPLICAS. Default 1 on a single node; in a cluster a majority of
   * replicas (floor(replicas / 2) + 1). Fixed at creation.
   */
  readonly minInSync?: number;
}

/** A JSON Schema object (validated by ajv when a stream takes it). */
export type JsonSchema = { readonly [keyword: string]: unknown };

export type SchemaCompatibility = 'backward' | 'none';

/** A schema version a stream keeps. */
export interface SchemaVersion {
  /** 1, 2, ...: one more on each change of `schema`. */
  readonly version: number;
  /** null: publishes under this version were not validated. */
  readonly schema: JsonSchema | null;
}

/**
 * What `streams.update` may change on a live stream; a field left out stays as it is, null
 * clears a limit. Partitions, storage, fsync, retention and segment size are fixed at creation.
 */
export interface StreamChanges {
  readonly subjects?: readonly string[];
  readonly maxAgeMs?: number | null;
  readonly maxBytes?: number | null;
  readonly maxMessages?: number | null;
  readonly overflow?: OverflowPolicy;
  readonly dedupWindowMs?: number;
  readonly maxMessageBytes?: number;
  readonly ttlMs?: number | null;
  /** A new schema (a new version, checked against `schemaCompatibility`); null removes it. */
  readonly schema?: JsonSchema | null;
  readonly schemaCompatibility?: SchemaCompatibility;
}

/** A stream's configuration with every default filled in (what `streams.info` returns). */
export interface StreamConfig {
  readonly subjects: readonly string[];
  readonly partitions: number;
  readonly storage: StorageKind;
  readonly fsync: FsyncPolicy;
  readonly fsyncIntervalMs: number;
  readonly retention: RetentionPolicy;
  /** null: no limit. */
  readonly maxAgeMs: number | null;
  readonly maxBytes: number | null;
  readonly maxMessages: number | null;
  readonly overflow: OverflowPolicy;
  readonly dedupWindowMs: number;
  readonly maxMessageBytes: number;
  readonly segmentBytes: number;
  /** Stream-level default time to live of a message; null: none. */
  readonly ttlMs: number | null;
  /** The current JSON Schema; null: bodies are not checked. */
  readonly schema: JsonSchema | null;
  readonly schemaCompatibility: SchemaCompatibility;
  /**
   * The current schema's version (delivered messages carry it in `weir-schema-version`);
   * 0 while the stream never had a schema.
   */
  readonly schemaVersion: number;
  /** The versions kept, oldest first, the current one last (at most SCHEMA_VERSIONS_KEPT_MAX). */
  readonly schemaVersions: readonly SchemaVersion[];
  /** Nodes that must hold the stream (1 on a single node, and for a stream.json from before). */
  readonly replicas: number;
  /** In-sync nodes a publish needs (NOT_ENOUGH_REPLICAS below it). */
  readonly minInSync: number;
}

/** A failure the broker recorded (a log, journal, read or retention pass that failed). */
export interface FailureInfo {
  /** An error code (docs/errors.md): STORAGE_FAILED, DISK_FULL, CORRUPT_DATA, ... */
  readonly code: string;
  readonly message: string;
}

/** Offsets [startOffset, endOffset) that recovery found missing from a partition's log. */
export interface LostRange {
  readonly startOffset: number;
  readonly endOffset: number;
}

export interface PartitionInfo {
  readonly partition: number;
  /** First offset a reader can still get. */
  readonly startOffset: number;
  /** Offset the next message gets. */
  readonly endOffset: number;
  readonly messages: number;
  readonly bytes: number;
  /** Set once a write or fsync of the partition's log failed: it takes no appends since. */
  readonly failure: FailureInfo | null;
  /**
   * Ranges recovery found lost at open (a sealed segment cut short, a segment missing between
   * two others): readers skip them. At most LOST_RANGES_MAX are listed; `lost` counts all.
   */
  readonly lostRanges: readonly LostRange[];
  /** Offsets in every lost range. */
  readonly lost: number;
  /** Delayed messages waiting in the partition's schedule (they enter the partition when due). */
  readonly scheduled: number;
  /** Of those, the keys the scheduler holds in memory (at most SCHEDULE_INDEX_MAX). */
  readonly scheduleIndexed: number;
  /**
   * Set once the partition's scheduler stopped (a write or fsync of its schedule failed): no
   * delayed message is taken or moved since; what was confirmed stays on disk.
   */
  readonly scheduleFailure: FailureInfo | null;
}

export interface StreamInfo {
  readonly name: string;
  readonly config: StreamConfig;
  readonly messages: number;
  readonly bytes: number;
  /** Delayed messages waiting in the schedules, over all partitions (not in `messages` yet). */
  readonly scheduled: number;
  readonly partitions: readonly PartitionInfo[];
  /** Names of the durable subscriptions. */
  readonly subscriptions: readonly string[];
  /** Messages removed by retention limits (age, bytes, count) since the broker opened. */
  readonly dropped: number;
  /** Publishes refused with STREAM_FULL since the broker opened. */
  readonly rejected: number;
  /** Publishes recognised as duplicates since the broker opened. */
  readonly duplicates: number;
  /** The last retention pass's failure (null once a pass succeeds). */
  readonly retentionFailure: FailureInfo | null;
}

export interface StreamsApi {
  /** Creates the stream; the same name with the same configuration again is not an error (STREAM_EXISTS if it differs). */
  create(name: string, options?: StreamOptions): Promise<StreamInfo>;
  info(name: string): Promise<StreamInfo>;
  list(): Promise<StreamInfo[]>;
  /**
   * Changes what can change on a live stream (see StreamChanges; INVALID_ARGUMENT naming any
   * other field). Durable before it resolves, in effect at once for publishers and consumers.
   */
  update(name: string, changes: StreamChanges): Promise<StreamInfo>;
  /** Deletes the stream, its messages and its subscriptions (their consumers end). */
  delete(name: string): Promise<void>;
  /** Removes every message; subscriptions stay and continue with what comes next. */
  purge(name: string): Promise<void>;
}

// ---------------------------------------------------------------------------------------
// Publish
// ---------------------------------------------------------------------------------------

export interface PublishOptions {
  /** Partition and ordering key: the same key always lands in the same partition. */
  readonly key?: string;
  readonly headers?: Headers;
  /** Producer-chosen id: a second publish with this id within the stream's dedupWindowMs is not stored. */
  readonly id?: string;
  /** Not delivered before this many ms from now. */
  readonly delayMs?: number;
  /** Not delivered before this time (ms since the epoch). */
  readonly deliverAt?: number;
  /** Never delivered after this many ms from now (dead-lettered when the subscription asks). */
  readonly ttlMs?: number;
  /** 0..9, higher first among what is ready. Default 0. */
  readonly priority?: number;
  readonly replyTo?: string;
  readonly correlationId?: string;
  /**
   * Default true: resolve once stored, with the receipt. false (fire-and-forget, at-most-once):
   * the server sends no confirm; resolves once handed to the connection, with the receipt
   * { stream: '', partition: -1, offset: -1, duplicate: false, streams: [] }.
   */
  readonly confirm?: boolean;
}

/** The option names `publish` accepts (both transports refuse any other, naming it). */
export const PUBLISH_OPTION_NAMES: ReadonlySet<string> = new Set([
  'key',
  'headers',
  'id',
  'delayMs',
  'deliverAt',
  'ttlMs',
  'priority',
  'replyTo',
  'correlationId',
  'confirm',
]);

/** A fire-and-forget publish's receipt: it was not waited for, so it names no stream. */
export const UNCONFIRMED_RECEIPT: PublishReceipt = Object.freeze({
  stream: '',
  partition: -1,
  offset: -1,
  duplicate: false,
  scheduled: false,
  streams: Object.freeze([]),
});

/**
 * Where a publish went. `stream` / `partition` / `offset` are those of the first stream (in
 * creation order) that captured the subject; `streams` lists every stream that captured it,
 * in the same order, with its own partition and offset.
 */
export interface PublishReceipt {
  readonly stream: string;
  readonly partition: number;
  readonly offset: number;
  /** true: the id was seen within the dedup window of the first stream, nothing was stored there. */
  readonly duplicate: boolean;
  /**
   * true: the message was delayed (deliverAt later than the publish) and waits in the
   * partition's schedule; `offset` is then -1 (it gets one when it is due and enters).
   */
  readonly scheduled: boolean;
  readonly streams: readonly {
    readonly stream: string;
    readonly partition: number;
    readonly offset: number;
    readonly duplicate: boolean;
    readonly scheduled: boolean;
  }[];
}

// ---------------------------------------------------------------------------------------
// Subscribe
// ---------------------------------------------------------------------------------------

export type SubscriptionMode = 'shared' | 'key-shared' | 'failover' | 'exclusive';
export type AckPolicy = 'explicit' | 'none';

/** Where a new subscription starts (and where `seek` moves one). */
export type StartPosition =
  | 'earliest'
  | 'latest'
  | { readonly offset: number; readonly partition?: number }
  | { readonly timeMs: number };

export type Backoff =
  | {
      readonly initialMs: number;
      readonly maxMs: number;
      readonly multiplier: number;
      /** 0..1: each delay is multiplied by a random factor in [1 - jitter, 1 + jitter]. Default 0. */
      readonly jitter?: number;
    }
  | readonly number[];

/** A numeric comparison of a header filter: one bound, or a lower and an upper bound. */
export type NumericComparison =
  | readonly ['=' | '<' | '<=' | '>' | '>=', number]
  | readonly ['>' | '>=', number, '<' | '<=', number];

/**
 * One condition on a header's value (docs/concepts.md, "Header filter policies"): an exact
 * string, a prefix, presence or absence, anything but some values, or a numeric range.
 */
export type HeaderCondition =
  | string
  | { readonly prefix: string }
  | { readonly exists: boolean }
  | { readonly 'anything-but': string | readonly string[] | { readonly prefix: string } }
  | { readonly numeric: NumericComparison };

/**
 * Header name -> a string (exact match) or a list of conditions of which one must hold; every
 * name must match. Like an SNS filter policy on message attributes.
 */
export type HeaderFilter = { readonly [name: string]: string | readonly HeaderCondition[] };

export interface SubscribeOptions {
  /** Durable name; absent: an ephemeral subscription, in memory, gone with the consumer. */
  readonly subscription?: string;
  /** Subject pattern(s) inside the stream. Default: every message. */
  readonly filter?: string | readonly string[];
  /** Only messages whose headers match this policy (content-based routing). Default: all. */
  readonly headerFilter?: HeaderFilter;
  /** Default `shared`. */
  readonly mode?: SubscriptionMode;
  /** Default `explicit`; `none` is at-most-once (settled when handed to the consumer). */
  readonly ack?: AckPolicy;
  /** Default `earliest` for a durable subscription, `latest` for an ephemeral one. Used when the subscription is created. */
  readonly start?: StartPosition;
  /** Time a consumer has to settle a delivery before it goes to another. Default 30000. */
  readonly leaseMs?: number;
  /** After this many deliveries the message is dead-lettered (or dropped without deadLetter). Default: no limit. */
  readonly maxDeliveries?: number;
  /** Subject dead letters are published to. */
  readonly deadLetter?: string;
  /** Dead-letter messages whose ttl passed (reason `expired`) instead of dropping them. Default false. */
  readonly deadLetterExpired?: boolean;
  /**
   * Dead-letter messages that retention dropped (drop-oldest overflow, maxBytes) before this
   * subscription settled them (reason `overflow`) instead of dropping them. Default false.
   * Messages whose segment was already deleted from disk cannot be, and are counted dropped.
   */
  readonly deadLetterOverflow?: boolean;
  /** Delay before a nacked or lease-expired message is offered again. Default: exponential 100 ms .. 60 s. */
  readonly backoff?: Backoff;
  /** Deliveries a consumer holds unsettled (prefetch). Default 1000. */
  readonly maxInFlight?: number;
  /** Deliveries all consumers of the subscription hold unsettled together. Default: no limit beyond each consumer's. */
  readonly maxInFlightTotal?: number;
  /**
   * This consumer's circuit breaker (a consumer option, not the subscription's): when too many
   * of its messages fail (nack, term, a lease that expired after the take) it stops taking
   * messages and hands back those it holds untaken, uncounted; after `cooldownMs` it half-opens.
   */
  readonly circuitBreaker?: CircuitBreakerOptions;
  /**
   * Round-robin ready messages across groups (tenants): by partition key, or by the value of a
   * header (messages without it form one group). Within a group offset order stays; priority
   * still goes first. Not with `key-shared` unless `'key'`. Default: offset order.
   */
  readonly fairBy?: GroupBy;
  /** At most `perSecond` deliveries per second, for the subscription or per group (`by`). Default: none. */
  readonly rateLimit?: RateLimitOptions;
}

/** SubscribeOptions.circuitBreaker. */
export interface CircuitBreakerOptions {
  /** Opens when failures / outcomes in the window reach this, (0, 1]. */
  readonly failureRate: number;
  /** The window of outcomes looked at, 1..86400000 ms. */
  readonly windowMs: number;
  /** How long it stays open before it half-opens, 1..86400000 ms. */
  readonly cooldownMs: number;
  /** Outcomes the window must hold before it may open. Default 10. */
  readonly minCalls?: number;
  /** Deliveries held at once in half-open; that many successes close it. Default 1. */
  readonly halfOpenCalls?: number;
}

/** `closed`: takes messages; `open`: takes none (cooling down); `half-open`: a few, on trial. */
export type CircuitBreakerState = 'closed' | 'open' | 'half-open';

/** One consumer of a subscription as SubscriptionInfo shows it. */
export interface ConsumerInfo {
  /** The consumer's id in this broker. */
  readonly id: number;
  /** Deliveries it holds unsettled (taken or not). */
  readonly inFlight: number;
  /** Its circuit breaker's state; null when it has none. */
  readonly breaker: CircuitBreakerState | null;
}

/** What groups messages for fairness or a rate limit: the partition key, or a header's value. */
export type GroupBy = 'key' | { readonly header: string };

export interface RateLimitOptions {
  /** Deliveries per second (redeliveries count), > 0; a fraction spaces them out further. */
  readonly perSecond: number;
  /** Per group instead of for the whole subscription. */
  readonly by?: GroupBy;
  /** Deliveries that may go at once after a quiet spell (the bucket's size). Default: 100 ms worth, at least 1. */
  readonly burst?: number;
}

/** A rate limit with defaults filled in. */
export interface RateLimit {
  readonly perSecond: number;
  readonly by: GroupBy | null;
  readonly burst: number;
}

/**
 * The options that make a subscription what it is (its SubscriptionConfig, and where it
 * starts), not those of one consumer: what creating one without consuming takes.
 */
export const SUBSCRIPTION_CREATE_OPTION_NAMES = [
  'filter',
  'headerFilter',
  'mode',
  'ack',
  'start',
  'leaseMs',
  'maxDeliveries',
  'deadLetter',
  'deadLetterExpired',
  'deadLetterOverflow',
  'backoff',
  'maxInFlightTotal',
  'fairBy',
  'rateLimit',
] as const satisfies readonly (keyof SubscribeOptions)[];

/** A subscription's configuration with defaults filled in. */
export interface SubscriptionConfig {
  readonly filter: readonly string[];
  /** As given, names sorted; {} when none. */
  readonly headerFilter: HeaderFilter;
  readonly mode: SubscriptionMode;
  readonly ack: AckPolicy;
  readonly leaseMs: number;
  /** null: no limit. */
  readonly maxDeliveries: number | null;
  readonly deadLetter: string | null;
  readonly deadLetterExpired: boolean;
  readonly deadLetterOverflow: boolean;
  readonly backoff: Backoff;
  readonly maxInFlightTotal: number | null;
  /** null: offset (and priority) order. */
  readonly fairBy: GroupBy | null;
  /** null: no limit. */
  readonly rateLimit: RateLimit | null;
}

export interface SubscriptionInfo {
  readonly stream: string;
  readonly name: string;
  readonly durable: boolean;
  readonly config: SubscriptionConfig;
  readonly consumers: number;
  /** Messages not yet settled (delivered or not), an upper bound. */
  readonly pending: number;
  readonly inFlight: number;
  /** Messages waiting for a retry delay or a deliverAt. */
  readonly delayed: number;
  readonly partitions: readonly {
    readonly partition: number;
    /** Every offset below this one is settled. */
    readonly ackFloor: number;
    /** The ack floor the subscription's journal holds on disk (work-queue retention stops here). */
    readonly durableAckFloor: number;
    readonly endOffset: number;
    /**
     * Offsets the ack floor was moved back by at open because it lay past the log's end (the
     * log lost its tail in a power cut, the journal did not): 0 normally.
     */
    readonly floorClamped: number;
  }[];
  /** Why the subscription stopped (its journal or a read failed): it delivers nothing more. */
  readonly failure: FailureInfo | null;
  /** Counters since the broker opened. */
  readonly delivered: number;
  readonly redelivered: number;
  readonly acked: number;
  readonly deadLettered: number;
  readonly expired: number;
  readonly dropped: number;
  /** Offsets skipped because the log lost them (see PartitionInfo.lostRanges). */
  readonly lost: number;
  /** Consumers whose circuit breaker is open: they take no messages now. */
  readonly consumersPaused: number;
  /** The consumers attached now, in attach order. */
  readonly consumerList: readonly ConsumerInfo[];
}

/** Which message `subscriptions.progress` looks up: by its id, or where it is stored. */
export type ProgressSelector =
  { readonly id: string } | { readonly partition: number; readonly offset: number };

/** What a subscription's broker knows of a message's progress (Message.progress). */
export interface JobProgress {
  readonly partition: number;
  readonly offset: number;
  readonly id: string | null;
  /** The last value reported. */
  readonly value: JsonValue;
  /** When it was reported (ms since the epoch, broker clock). */
  readonly updatedAtMs: number;
  /** The delivery that reported it. */
  readonly deliveryCount: number;
  /** Where the message is now in this subscription. */
  readonly state: 'in-flight' | 'ready' | 'delayed' | 'dead-lettering' | 'settled';
}

export interface SubscriptionsApi {
  info(stream: string, name: string): Promise<SubscriptionInfo>;
  list(stream: string): Promise<SubscriptionInfo[]>;
  /** Deletes a durable subscription and its state; its consumers end. */
  delete(stream: string, name: string): Promise<void>;
  /** Moves the subscription: everything from the position on is delivered again (replay). */
  seek(stream: string, name: string, position: StartPosition): Promise<void>;
  /**
   * The last progress a consumer reported for a message of the subscription, or null. Kept
   * while the message is unsettled and PROGRESS_KEPT_MS_AFTER_SETTLE (60 s) after.
   */
  progress(stream: string, name: string, selector: ProgressSelector): Promise<JobProgress | null>;
  /** Every progress record the subscription keeps (at most PROGRESS_RECORDS_MAX), oldest first. */
  progressList(stream: string, name: string): Promise<JobProgress[]>;
}

// ---------------------------------------------------------------------------------------
// Messages and consumers
// ---------------------------------------------------------------------------------------

export interface NackOptions {
  /** Offer the message again after this delay instead of the backoff's. */
  readonly delayMs?: number;
}

export interface RespondOptions {
  readonly headers?: Headers;
}

/**
 * A W3C Trace Context (docs/concepts.md, "Tracing with OpenTelemetry"): the `traceparent` and
 * `tracestate` header values. Also a carrier for OpenTelemetry's `propagation.extract`.
 */
export interface TraceContext {
  readonly traceparent: string;
  readonly tracestate?: string;
}

export interface Message {
  readonly subject: string;
  readonly key: string | null;
  /** User headers (and the weir-* headers of a dead letter); never the reserved ':' ones. */
  readonly headers: Headers;
  readonly body: Uint8Array;
  /** The body as UTF-8 text. */
  text(): string;
  /** The body parsed as JSON. */
  json<T = unknown>(): T;
  /** Stream, partition and offset it was stored at ('' / -1 / -1 for a reply). */
  readonly stream: string;
  readonly partition: number;
  readonly offset: number;
  readonly id: string | null;
  /** 1 on the first delivery. */
  readonly deliveryCount: number;
  /** When the broker accepted it (ms since the epoch). */
  readonly timestamp: number;
  readonly priority: number;
  readonly replyTo: string | null;
  readonly correlationId: string | null;
  /** Settles the message; resolves once recorded durably. Acking twice is not an error. */
  ack(): Promise<void>;
  /** Hands the message back; it is offered again after the delay (default: the backoff). */
  nack(options?: NackOptions): Promise<void>;
  /** Settles the message as failed for good: dead-lettered (reason `terminated`) if the subscription has a target. */
  term(reason?: string): Promise<void>;
  /** Moves the lease deadline to `ms` from now (default: the subscription's leaseMs). */
  extend(ms?: number): Promise<void>;
  /** Publishes a reply to `replyTo` with this message's correlationId. */
  respond(body: Body, options?: RespondOptions): Promise<void>;
  /**
   * The trace context to continue this message's trace from: the deliver span's when tracing
   * made one (docs/concepts.md, "Tracing with OpenTelemetry"), else the message's own
   * `traceparent` / `tracestate` headers; null when it carries none (or an invalid one).
   */
  traceContext(): TraceContext | null;
  /**
   * Reports the job's progress (any JSON value, at most 4 KiB of JSON) and extends the lease as
   * `extend()` does. Readable by `subscriptions.progress`; a message with a replyTo also sends
   * it there (a message with the PROGRESS_HEADERS.progress header), which `request`'s
   * `onProgress` receives before the reply.
   */
  progress(value: JsonValue): Promise<void>;
}

/** Headers of a progress message the broker sends to a message's replyTo. */
export const PROGRESS_HEADERS = {
  /** '1' on a progress message; its body is the value's JSON text. */
  progress: 'weir-progress',
  stream: 'weir-progress-stream',
  partition: 'weir-progress-partition',
  offset: 'weir-progress-offset',
  deliveries: 'weir-progress-deliveries',
} as const;

/** Where a progress value passed to `onProgress` came from. */
export interface ProgressInfo {
  readonly stream: string;
  readonly partition: number;
  readonly offset: number;
  readonly deliveryCount: number;
}

export interface ReceiveOptions {
  /** Resolve with null if nothing comes in this time. Default: wait until closed. */
  readonly timeoutMs?: number;
}

/**
 * One consumer of a subscription. Iterate it (`for await`) to get messages; it holds at most
 * maxInFlight unsettled deliveries (backpressure). Leaving the loop or `close()` hands the
 * unsettled ones back.
 */
export interface Subscription extends AsyncIterable<Message> {
  readonly stream: string;
  /** The durable name, or a generated one for an ephemeral subscription. */
  readonly name: string;
  readonly closed: boolean;
  /** Next message, or null on timeout or when closed (the iterator's alternative). */
  receive(options?: ReceiveOptions): Promise<Message | null>;
  close(): Promise<void>;
}

// ---------------------------------------------------------------------------------------
// Dead letters and request-reply
// ---------------------------------------------------------------------------------------

/**
 * Headers the broker puts on a request. `deadline`: when the requester gives up, in ms since
 * the epoch on the broker's clock; the request also expires then (its ttl is the timeout),
 * so no responder gets it later. A responder may skip work whose deadline has passed.
 */
export const REQUEST_HEADERS = {
  deadline: 'weir-deadline',
} as const;

/** Headers the broker sets on a dead letter. */
export const DEAD_LETTER_HEADERS = {
  reason: 'weir-dead-reason',
  deliveries: 'weir-deliveries',
  error: 'weir-dead-error',
  originStream: 'weir-origin-stream',
  originSubject: 'weir-origin-subject',
  originPartition: 'weir-origin-partition',
  originOffset: 'weir-origin-offset',
  /** The subscription it died in (absent on dead letters written before it existed). */
  originSubscription: 'weir-origin-subscription',
  firstFailureMs: 'weir-dead-first-failure-ms',
  lastFailureMs: 'weir-dead-last-failure-ms',
} as const;

export type DeadLetterReason = 'max-deliveries' | 'terminated' | 'expired' | 'overflow';

export interface DeadLetter {
  /** Where the dead letter itself is stored. */
  readonly stream: string;
  readonly partition: number;
  readonly offset: number;
  readonly subject: string;
  readonly key: string | null;
  /** The original user headers (without the weir-* ones). */
  readonly headers: Headers;
  readonly body: Uint8Array;
  readonly timestamp: number;
  readonly reason: DeadLetterReason;
  readonly deliveries: number;
  readonly error: string | null;
  readonly origin: {
    readonly stream: string;
    readonly subject: string;
    readonly partition: number;
    readonly offset: number;
    /** The subscription it died in; null for dead letters written before Weir recorded it. */
    readonly subscription: string | null;
  };
}

export interface DeadLetterListOptions {
  /** Default 100. */
  readonly limit?: number;
}

/**
 * Where a re-driven dead letter goes. `subscription`: back to the subscription it died in only
 * (stored in its origin stream, where every other durable subscription passes over it; ephemeral
 * ones see it as stored); `stream`:
 * stored in its origin stream, every subscription of it receives it again; `subject`: a normal
 * publish to its original subject, every stream capturing that subject stores it.
 */
export type RedriveTarget = 'subscription' | 'stream' | 'subject';

export const REDRIVE_TARGETS: readonly RedriveTarget[] = ['subscription', 'stream', 'subject'];

export interface RedriveOptions {
  /**
   * Default 'subscription'; a dead letter that does not name its subscription (written by an
   * older Weir) goes to its origin stream ('stream') instead.
   */
  readonly to?: RedriveTarget;
  /** Redrive at most this many. Default: all there are now. */
  readonly limit?: number;
  /** Publishes per second. Default 1000. */
  readonly ratePerSecond?: number;
  /** Only dead letters that came from this stream / have this reason. */
  readonly originStream?: string;
  readonly reason?: DeadLetterReason;
  /** Only these dead letters (where each is stored, as `list` gives them). */
  readonly only?: readonly DeadLetterPosition[];
}

/** Where a dead letter is stored: its `stream`, `partition` and `offset` in a DeadLetter. */
export interface DeadLetterPosition {
  readonly stream: string;
  readonly partition: number;
  readonly offset: number;
}

/** Which dead letters `delete` removes: the same selection as `redrive`, without a rate. */
export type DeadLetterDeleteOptions = Omit<RedriveOptions, 'ratePerSecond' | 'to'>;

export interface RedriveResult {
  readonly redriven: number;
  /**
   * Dead letters left in place because what they would go back to is gone (their origin
   * subscription or origin stream); a later redrive with another `to` can still take them.
   */
  readonly skipped: number;
}

/** A user as `users.list` / `users.info` show it: never a password, key or token. */
export interface UserInfo {
  readonly name: string;
  /** May do everything: streams, subscriptions, dead letters, users. */
  readonly admin: boolean;
  /** Permissions: `publish:PATTERN`, `subscribe:STREAM`, `subscribe:STREAM:SUBSCRIPTION` (docs/security.md). */
  readonly allow: readonly string[];
  /** Permissions refused even where `allow` grants them. */
  readonly deny: readonly string[];
  readonly createdAtMs: number;
  readonly hasPassword: boolean;
  /** The user's tokens by id (the tokens themselves are shown only when made). */
  readonly tokens: readonly { readonly id: string; readonly createdAtMs: number }[];
}

export interface UserOptions {
  /** 8..1024 bytes; kept as scrypt-derived SCRAM keys only. A user without one logs in by token. */
  readonly password?: string;
  readonly admin?: boolean;
  readonly allow?: readonly string[];
  readonly deny?: readonly string[];
}

/** What `users.update` may change; each field given replaces the old value. */
export interface UserChanges {
  readonly admin?: boolean;
  readonly allow?: readonly string[];
  readonly deny?: readonly string[];
}

/** Managing users (admin only). */
export interface UsersApi {
  list(): Promise<UserInfo[]>;
  info(name: string): Promise<UserInfo>;
  add(name: string, options?: UserOptions): Promise<UserInfo>;
  update(name: string, changes: UserChanges): Promise<UserInfo>;
  setPassword(name: string, password: string): Promise<void>;
  delete(name: string): Promise<void>;
  /** Makes a token for the user; `token` is shown this once. */
  addToken(name: string): Promise<{ id: string; token: string }>;
  deleteToken(name: string, id: string): Promise<void>;
  /** Who this client is: its user (null on an open broker) and its permissions. */
  whoami(): Promise<{ user: string | null; admin: boolean; allow: string[]; deny: string[] }>;
}

export interface DeadLettersApi {
  /** Dead letters published to `subject` and not yet re-driven or deleted, oldest first. */
  list(subject: string, options?: DeadLetterListOptions): Promise<DeadLetter[]>;
  /**
   * Sends dead letters back where they came from (see RedriveTarget), with their key, body,
   * user headers, priority, replyTo and correlationId, without the dead-letter headers.
   */
  redrive(subject: string, options?: RedriveOptions): Promise<RedriveResult>;
  /** Removes dead letters without re-driving them: `list` and `redrive` no longer see them. */
  delete(subject: string, options?: DeadLetterDeleteOptions): Promise<{ readonly deleted: number }>;
}

export interface RequestOptions extends Omit<PublishOptions, 'replyTo' | 'correlationId'> {
  /** Default 5000. TIMEOUT when no reply came in this time. */
  readonly timeoutMs?: number;
  /** Called with each progress value the responder reports (msg.progress), in order, before the reply. */
  readonly onProgress?: (value: JsonValue, info: ProgressInfo) => void;
}

// ---------------------------------------------------------------------------------------
// Queues (sugar: a work-queue stream with one shared durable subscription, queue.ts)
// ---------------------------------------------------------------------------------------

/** The subscription options that belong to a queue (`queue.ts` splits them off). */
export type QueueSubscriptionOptionName =
  | 'leaseMs'
  | 'maxDeliveries'
  | 'deadLetter'
  | 'deadLetterExpired'
  | 'deadLetterOverflow'
  | 'backoff'
  | 'maxInFlightTotal'
  | 'fairBy'
  | 'rateLimit';

/**
 * Options of `client.queue`: the stream's (except `subjects` and `retention`, which make it a
 * queue) and the shared subscription's. Used when the queue is created; given again, they
 * must agree with it (STREAM_EXISTS / SUBSCRIPTION_EXISTS otherwise). Without stream options
 * an existing queue is opened with the stream settings it has.
 */
export interface QueueOptions
  extends
    Omit<StreamOptions, 'subjects' | 'retention'>,
    Pick<SubscribeOptions, QueueSubscriptionOptionName> {}

/** Options of `queue.consume`: what belongs to one worker. */
export interface QueueConsumeOptions {
  /** Deliveries this worker holds unsettled (prefetch). Default 1000. */
  readonly maxInFlight?: number;
}

export interface QueueInfo {
  readonly name: string;
  /** Messages stored and not yet settled (acked, terminated or dead-lettered). */
  readonly messages: number;
  /** Messages not yet settled (delivered or not), an upper bound. */
  readonly pending: number;
  /** Delivered to a worker and not settled yet. */
  readonly inFlight: number;
  /** Waiting for a retry delay or a deliverAt. */
  readonly delayed: number;
  /** Workers attached now. */
  readonly consumers: number;
  readonly deadLettered: number;
  /** The underlying stream and subscription, for everything else. */
  readonly stream: StreamInfo;
  readonly subscription: SubscriptionInfo;
}

export interface Queue {
  readonly name: string;
  /** Adds a message to the queue (subject = the queue's name). */
  publish(body: Body, options?: PublishOptions): Promise<PublishReceipt>;
  /** One worker: iterate it, ack (done), nack (retry later) or term (dead-letter) each message. */
  consume(options?: QueueConsumeOptions): Promise<Subscription>;
  info(): Promise<QueueInfo>;
  /** Removes every message; workers stay attached. */
  purge(): Promise<void>;
  /** Deletes the queue, its messages and its subscription; its workers end. */
  delete(): Promise<void>;
}

// ---------------------------------------------------------------------------------------
// Cron and repeatable messages (src/broker/cron-schedules.ts)
// ---------------------------------------------------------------------------------------

/**
 * What a restart does with the ticks a schedule missed while the broker was not running:
 * `skip` (none of them), `once` (the latest of them, once: the default), `all` (each, in order,
 * at most SCHEDULE_MISSED_TICKS_MAX; the rest are skipped).
 */
export type MissedTicksPolicy = 'skip' | 'once' | 'all';

/** Options of `schedules.create`: when to fire, and the message each tick publishes. */
export interface ScheduleOptions {
  /** A cron expression (5 fields, or 6 with seconds first; `@daily` and the like). Exactly one of cron and everyMs. */
  readonly cron?: string;
  /** Fires every this many ms from the schedule's creation, SCHEDULE_EVERY_MS_MIN..DELAY_MS_MAX. */
  readonly everyMs?: number;
  /** The subject each tick publishes to (it need not be captured yet: a tick with no route fails alone). */
  readonly subject: string;
  /** The message body. Default empty. */
  readonly body?: Body;
  readonly headers?: Headers;
  readonly key?: string;
  /** 0..9. Default 0. */
  readonly priority?: number;
  readonly ttlMs?: number;
  /** IANA time zone the cron expression is read in. Default 'UTC'; only with cron. */
  readonly timezone?: string;
  /** Default 'once'. */
  readonly missed?: MissedTicksPolicy;
}

/** The option names `schedules.create` accepts. */
export const SCHEDULE_OPTION_NAMES: ReadonlySet<string> = new Set([
  'cron',
  'everyMs',
  'subject',
  'body',
  'headers',
  'key',
  'priority',
  'ttlMs',
  'timezone',
  'missed',
]);

/** A schedule's options with every default filled in (the body as the bytes it publishes). */
export interface ScheduleConfig {
  /** null with everyMs. */
  readonly cron: string | null;
  /** null with cron. */
  readonly everyMs: number | null;
  /** 'UTC' unless given, with cron; null with everyMs. */
  readonly timezone: string | null;
  readonly subject: string;
  /** The body's bytes, base64 (JSON has no bytes). */
  readonly bodyBase64: string;
  readonly headers: Headers;
  readonly key: string | null;
  readonly priority: number;
  readonly ttlMs: number | null;
  readonly missed: MissedTicksPolicy;
}

export interface ScheduleInfo {
  readonly name: string;
  readonly config: ScheduleConfig;
  readonly createdAtMs: number;
  /** The next tick's time; null when the cron expression has no more (or the schedule failed). */
  readonly nextFireMs: number | null;
  /** The time (ms) of the last tick that published; null before the first. */
  readonly lastFiredMs: number | null;
  /** Ticks that published (each once). */
  readonly fired: number;
  /** Ticks passed over: missed while the broker was down (by the missed policy) or past the catch-up bound. */
  readonly skipped: number;
  /** Ticks whose publish was refused (NO_ROUTE, STREAM_FULL, ...): they are not retried. */
  readonly failed: number;
  /** The last refused tick's error; null once a tick publishes again. */
  readonly lastError: FailureInfo | null;
  /** Set once writing the schedule's state failed: it fires no more until the broker is reopened. */
  readonly failure: FailureInfo | null;
}

export interface SchedulesApi {
  /**
   * Creates the schedule (durable before it resolves); the same name with the same options
   * again is not an error (SCHEDULE_EXISTS if they differ).
   */
  create(name: string, options: ScheduleOptions): Promise<ScheduleInfo>;
  /** Every schedule, by name. */
  list(): Promise<ScheduleInfo[]>;
  /** SCHEDULE_NOT_FOUND if there is none of that name. */
  info(name: string): Promise<ScheduleInfo>;
  /** Removes the schedule: no tick fires after this resolves. SCHEDULE_NOT_FOUND if none. */
  delete(name: string): Promise<void>;
}

/** Headers every fired tick carries: the schedule's name and the tick's time (ms, decimal). */
export const SCHEDULE_HEADERS = Object.freeze({
  name: 'weir-schedule',
  tick: 'weir-schedule-tick',
} as const);

/** The dedup id of a tick's message: `weir-schedule:<name>:<tick ms>`. */
export function scheduleTickId(name: string, tickMs: number): string {
  return `weir-schedule:${name}:${tickMs}`;
}

// ---------------------------------------------------------------------------------------
// The client
// ---------------------------------------------------------------------------------------

/** One message of a batch publish. */
export interface PublishInput {
  readonly subject: string;
  readonly body: Body;
  readonly options?: PublishOptions | undefined;
}

// ---------------------------------------------------------------------------------------
// Transactions (consume-transform-produce, docs/concepts.md "Transactions")
// ---------------------------------------------------------------------------------------

/**
 * What `fn` of `client.transaction(fn)` gets: publishes and acks are buffered and take effect
 * together when `fn` resolves (commit), or not at all when it throws (abort). A refused entry
 * refuses the whole commit with TRANSACTION_ABORTED naming it.
 */
export interface Transaction {
  /**
   * Buffers a publish (no `delayMs` / `deliverAt`, not to a request inbox, `confirm` ignored).
   * Throws INVALID_ARGUMENT at once for a bad argument, and CLOSED once the transaction ended.
   */
  publish(subject: string, body: Body, options?: PublishOptions): void;
  /**
   * Buffers an ack of a message this client received; at commit its delivery must still be
   * current (not settled, lease not expired, not passed to another consumer or client).
   */
  ack(message: Message): void;
  /** After a commit: each buffered publish's receipt, in order. Empty before. */
  readonly receipts: readonly PublishReceipt[];
}

export interface TransactionOptions {
  /**
   * How long `fn` may run, in ms of real time (1..TRANSACTION_TIMEOUT_MS_MAX, default
   * TRANSACTION_TIMEOUT_MS_DEFAULT): past it the transaction is aborted with TIMEOUT (nothing
   * of it happens) even if `fn` resolves later.
   */
  readonly timeoutMs?: number;
}

/** The option names `transaction` accepts (both transports refuse any other, naming it). */
export const TRANSACTION_OPTION_NAMES: ReadonlySet<string> = new Set(['timeoutMs']);

// ---------------------------------------------------------------------------------------
// Cluster (docs/cluster.md)
// ---------------------------------------------------------------------------------------

/** One node as the answering node sees it. */
export interface ClusterNodeStatus {
  readonly nodeId: string;
  /** HOST:PORT clients connect to. */
  readonly advertise: string;
  /** Its HTTP API's address, or null without one. */
  readonly http: string | null;
  readonly role: 'leader' | 'follower' | 'candidate' | 'offline';
  /** In the in-sync set (the leader always is). */
  readonly inSync: boolean;
  /** The last replication op the node acknowledged; null where the answering node does not know. */
  readonly ackedSeq: number | null;
  /** Ops behind the leader; null where unknown. */
  readonly lagOps: number | null;
  /** How long its oldest unacknowledged sync has waited, in ms; null where unknown. */
  readonly lagMs: number | null;
}

/** A stream's replication settings and where it stands. */
export interface ClusterStreamStatus {
  readonly name: string;
  readonly replicas: number;
  readonly minInSync: number;
  /** The node leading it (every stream has the cluster's leader in this version); null: none. */
  readonly leader: string | null;
  readonly epoch: number;
  readonly isr: readonly string[];
}

/** `client.cluster.status()`, `GET /api/cluster`, `weir cluster status --json`. */
export interface ClusterStatus {
  /** False on a single node (no cluster): the rest is then empty or zero. */
  readonly clusterMode: boolean;
  /** The answering node's id; null on a single node. */
  readonly nodeId: string | null;
  readonly leader: string | null;
  /** The leader's term (0: none yet, and on a single node). */
  readonly epoch: number;
  /** The in-sync set: node ids, the leader included. */
  readonly isr: readonly string[];
  readonly nodes: readonly ClusterNodeStatus[];
  /** The leader's last replication op; null where the answering node does not know. */
  readonly leaderSeq: number | null;
  readonly streams: readonly ClusterStreamStatus[];
}

export interface ClusterApi {
  /** The cluster as the node this client reached sees it (a single node answers clusterMode false). */
  status(): Promise<ClusterStatus>;
}

export interface Client {
  readonly streams: StreamsApi;
  /** The cluster this broker belongs to (single node: clusterMode false). */
  readonly cluster: ClusterApi;
  readonly subscriptions: SubscriptionsApi;
  readonly deadLetters: DeadLettersApi;
  readonly users: UsersApi;
  /** Cron and repeatable messages: schedules that publish a message on each tick. */
  readonly schedules: SchedulesApi;
  /** Stores the message in every stream capturing the subject (NO_ROUTE if none). */
  publish(subject: string, body: Body, options?: PublishOptions): Promise<PublishReceipt>;
  /**
   * Publishes `entries` in order (over TCP in one PUBLISH frame when they fit) and resolves,
   * once every one is settled, with each entry's receipt or WeirError, in order: one refused
   * entry fails only itself. Unconfirmed entries (`confirm: false`) get the unconfirmed receipt.
   */
  publishBatch(entries: readonly PublishInput[]): Promise<(PublishReceipt | WeirError)[]>;
  subscribe(stream: string, options?: SubscribeOptions): Promise<Subscription>;
  /** Publishes with replyTo = this client's inbox and waits for the reply. */
  request(subject: string, body: Body, options?: RequestOptions): Promise<Message>;
  /**
   * Creates (idempotently) or opens the work queue `name`: a stream `name` capturing `name`
   * and `name.>` with `work-queue` retention and one shared durable subscription `name`.
   */
  queue(name: string, options?: QueueOptions): Promise<Queue>;
  /**
   * Runs `fn` with a Transaction; when it resolves, every publish and ack it buffered takes
   * effect atomically (after a crash at any point either all of it happened or none), then
   * this resolves with fn's value. When fn throws nothing happens (the acked messages stay
   * held by their consumer, unsettled) and the error is rethrown. A commit refused as a whole
   * rejects with TRANSACTION_ABORTED naming the first failing entry and its own code.
   */
  transaction<T>(fn: (tx: Transaction) => Promise<T>, options?: TransactionOptions): Promise<T>;
  readonly closed: boolean;
  /** Closes this client's consumers (handing their leases back), ephemeral subscriptions and inbox. */
  close(): Promise<void>;
}
