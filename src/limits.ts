/**
 * Every limit in Weir, named, in one place (TigerBeetle's constants.zig, nats-server's
 * const.go). Relations between limits are asserted when this module loads, so a bad edit
 * fails at start-up instead of corrupting data later. Units are last in every name.
 */
import { assert } from './util/assert.js';

const KiB = 1024;
const MiB = 1024 * KiB;

// ---- storage: segments and indexes ----
/** A segment rolls once it would grow past this many bytes. */
export const SEGMENT_BYTES_DEFAULT = 64 * MiB;
export const SEGMENT_BYTES_MIN = 4 * KiB;
/** Positions inside a segment are u32 in the index, so a segment stays well under 4 GiB. */
export const SEGMENT_BYTES_MAX = 1024 * MiB;
/** A segment also rolls once its first record is older than this. */
export const SEGMENT_AGE_MS_DEFAULT = 24 * 60 * 60 * 1000;
/** One sparse index entry (offset, position, time) per this many bytes of batches. */
export const INDEX_INTERVAL_BYTES = 4 * KiB;
/** Index entries a segment can hold: a bounded, small typed array per segment. */
export const INDEX_ENTRIES_MAX = SEGMENT_BYTES_MAX / INDEX_INTERVAL_BYTES + 1;

// ---- storage: records and batches ----
/** The largest record (key + headers + body + framing) the storage engine accepts. */
export const RECORD_BYTES_MAX = 16 * MiB;
/** Group commit packs appended records into batches of about this size. */
export const BATCH_BYTES_TARGET = 256 * KiB;
/** No batch is larger: one record of RECORD_BYTES_MAX plus its batch header fits. */
export const BATCH_BYTES_MAX = RECORD_BYTES_MAX + 64 * KiB;
/** Records in one batch (recordCount is a u32, this keeps batches readable in one go). */
export const BATCH_RECORDS_MAX = 65_536;
/** Header count per record (u16 on disk). */
export const RECORD_HEADERS_MAX = 1024;
/** One group-commit write carries at most this many bytes; the rest waits for the next. */
export const WRITE_BYTES_MAX = 8 * MiB;
/** Appended but not yet written bytes a log queues before refusing appends (backpressure). */
export const APPEND_PENDING_BYTES_MAX = 256 * MiB;

// ---- storage: reads and the tail cache ----
/** A read returns about this many bytes unless the caller asks for another budget. */
export const READ_BYTES_DEFAULT = 1 * MiB;
export const READ_BYTES_MAX = 64 * MiB;
/** The smallest chunk a disk read allocates when it estimates how many bytes its records need. */
export const READ_CHUNK_BYTES_MIN = 64 * KiB;
/** Recent batches kept in memory per log, so readers that keep up never touch the disk. */
export const TAIL_CACHE_BYTES_DEFAULT = 8 * MiB;
export const TAIL_CACHE_BYTES_MAX = 1024 * MiB;

// ---- storage: fsync ----
/** With fsync 'interval', confirmed writes are synced at least this often. */
export const FSYNC_INTERVAL_MS_DEFAULT = 100;
export const FSYNC_INTERVAL_MS_MAX = 60_000;

// ---- storage: recovery and reads ----
/** Recovery scans a segment in chunks of this size (a batch larger than a chunk is read whole). */
export const RECOVERY_CHUNK_BYTES = 4 * MiB;
/** A read that retention keeps cutting from under it gives up after this many tries. */
export const READ_RETRIES_MAX = 3;

// ---- storage: journal ----
/** Journal segments are small: a checkpoint lets the whole segments below it go. */
export const JOURNAL_SEGMENT_BYTES = 4 * MiB;
/** The largest checkpoint snapshot a journal accepts. */
export const JOURNAL_SNAPSHOT_BYTES_MAX = 256 * MiB;

// ---- broker: streams, subjects, messages ----
/** Streams one broker holds. */
export const STREAMS_MAX = 10_000;
/** Stream and subscription names are path components: [A-Za-z0-9_-], at most this long. */
export const NAME_BYTES_MAX = 64;
/** A subject or pattern: at most this many bytes and dotted tokens. */
export const SUBJECT_BYTES_MAX = 256;
export const SUBJECT_TOKENS_MAX = 16;
/** Subject patterns one stream captures, and patterns one subscription filter holds. */
export const STREAM_SUBJECTS_MAX = 64;
export const FILTER_PATTERNS_MAX = 64;
/** Subjects whose matching streams the router remembers (cleared when streams change). */
export const ROUTE_CACHE_ENTRIES_MAX = 10_000;
export const PARTITIONS_MAX = 256;
/** A message's key + headers + body, by default and at most (room is left for system headers). */
export const MESSAGE_BYTES_DEFAULT = 1 * MiB;
export const MESSAGE_BYTES_MAX = RECORD_BYTES_MAX - 64 * KiB;
/** User headers per message, and the size of one header name and one id / key. */
export const MESSAGE_HEADERS_MAX = 256;
export const HEADER_NAME_BYTES_MAX = 256;
export const MESSAGE_KEY_BYTES_MAX = 1 * KiB;
export const MESSAGE_ID_BYTES_MAX = 256;
export const PRIORITY_MAX = 9;
/** delayMs, ttlMs and deliverAt reach at most this far into the future. */
export const DELAY_MS_MAX = 366 * 24 * 60 * 60 * 1000;
/** De-duplication: window default and maximum, and ids remembered per stream (oldest go first). */
export const DEDUP_WINDOW_MS_DEFAULT = 120_000;
export const DEDUP_WINDOW_MS_MAX = 7 * 24 * 60 * 60 * 1000;
export const DEDUP_IDS_MAX = 200_000;
/** How often age limits and work-queue truncation run per stream. */
export const RETENTION_INTERVAL_MS = 1000;
/** Work-queue truncation rolls the active segment only once it holds this many bytes. */
export const WORK_QUEUE_ROLL_BYTES_MIN = 4 * MiB;

// ---- broker: subscriptions and delivery ----
export const SUBSCRIPTIONS_PER_STREAM_MAX = 1000;
export const CONSUMERS_PER_SUBSCRIPTION_MAX = 1000;
export const LEASE_MS_DEFAULT = 30_000;
export const LEASE_MS_MIN = 10;
export const LEASE_MS_MAX = 12 * 60 * 60 * 1000;
/** Unsettled deliveries one consumer holds (prefetch), by default and at most. */
export const IN_FLIGHT_DEFAULT = 1000;
export const IN_FLIGHT_MAX = 65_536;
/**
 * Per subscription and partition, the cursor reads no further than this many offsets past the
 * ack floor: the settled-above-floor set, the delivery counts and the delayed messages that a
 * subscription keeps in memory are bounded by it, whatever the backlog.
 */
export const UNSETTLED_WINDOW_MAX = 100_000;
/** Messages read ahead and held in memory, ready to deliver, per subscription and partition. */
export const READY_RECORDS_MAX = 2048;
/**
 * How often a subscription with deadLetterExpired and no consumer reading looks for expired
 * messages at its head (an AMQP delay queue: TTL, dead-letter exchange, no consumer).
 */
export const EXPIRY_SWEEP_MS = 250;
/** One cursor read asks the log for at most this many records and bytes. */
export const CURSOR_READ_RECORDS_MAX = 512;
/**
 * Per subscription and partition, the messages of a priority above 0 it takes ahead of its
 * read position through the priority lanes and holds unsettled (so a priority holds over the
 * whole backlog), and the acks of such messages it remembers above its ack floor: past that,
 * priority applies to what is read ahead until the floor moves on.
 */
export const LANE_AHEAD_TRACKED_MAX = 1024;
export const LANE_AHEAD_SETTLED_MAX = 20_000;
/**
 * Messages a lane walk fetches with one read of the partition log when their offsets lie
 * this close; farther apart, each is read on its own. A read decodes its whole span, but
 * one read per message costs more (bench/priority.ts: 16 halved the drain rate of 512).
 */
export const LANE_READ_SPAN_MAX = 512;
/** Lane entries read at once. */
export const LANE_READ_RECORDS_MAX = 256;
/** Offsets a priority lane queues while its log opens (past that it misses entries). */
export const LANE_PENDING_MAX = 65_536;
export const CURSOR_READ_BYTES_MAX = 1 * MiB;
export const MAX_DELIVERIES_MAX = 1_000_000;
export const BACKOFF_INITIAL_MS_DEFAULT = 100;
export const BACKOFF_MAX_MS_DEFAULT = 60_000;
export const BACKOFF_MULTIPLIER_DEFAULT = 2;
export const BACKOFF_MULTIPLIER_MAX = 100;
/** A backoff given as a list of delays has at most this many entries. */
export const BACKOFF_DELAYS_MAX = 64;
/**
 * A subscription's header filter policy: header names it tests, conditions (values) under one
 * name, conditions in the whole policy (an anything-but list counts each of its values), and
 * the bytes of one string in it (a value or a prefix). The policy is tested on every message
 * the subscription reads, so its size is the cost per message.
 */
export const HEADER_FILTER_NAMES_MAX = 64;
export const HEADER_FILTER_VALUES_PER_NAME_MAX = 128;
export const HEADER_FILTER_CONDITIONS_MAX = 512;
export const HEADER_FILTER_STRING_BYTES_MAX = 1 * KiB;
/** Settlements (acks, nacks, deliveries) gathered into one journal entry. */
export const JOURNAL_ENTRY_OPERATIONS_MAX = 16_384;
/**
 * Operations a subscription journal queues while an append is in flight; past it the
 * subscription delivers nothing new until the queue drains (settlements still queue: they
 * are bounded by what is in flight).
 */
export const JOURNAL_QUEUED_OPERATIONS_MAX = 65_536;
/** A subscription checkpoints its journal once this many bytes were appended since the last. */
export const JOURNAL_CHECKPOINT_BYTES = 1 * MiB;
/** The text of a term(reason) kept in the weir-dead-error header. */
export const DEAD_LETTER_ERROR_BYTES_MAX = 1 * KiB;
export const DEAD_LETTER_LIST_DEFAULT = 100;
export const DEAD_LETTER_LIST_MAX = 10_000;
export const REDRIVE_RATE_DEFAULT = 1000;
export const REDRIVE_RATE_MAX = 100_000;

// ---- broker: clients and request-reply ----
/** In-process clients one broker holds open at once. */
export const CLIENTS_MAX = 100_000;
/** Consumers (subscribe calls) one client holds open. */
export const CLIENT_CONSUMERS_MAX = 10_000;
/** receive() calls waiting at once on one consumer. */
export const CONSUMER_RECEIVES_MAX = 1024;
/** Requests one client waits on at once. */
export const CLIENT_REQUESTS_PENDING_MAX = 10_000;
export const REQUEST_TIMEOUT_MS_DEFAULT = 5000;
export const REQUEST_TIMEOUT_MS_MAX = 10 * 60 * 1000;

assert(SEGMENT_BYTES_MIN <= SEGMENT_BYTES_DEFAULT, 'segment min <= default');
assert(SEGMENT_BYTES_DEFAULT <= SEGMENT_BYTES_MAX, 'segment default <= max');
assert(SEGMENT_BYTES_MAX < 2 ** 32, 'segment positions fit a u32');
assert(BATCH_BYTES_TARGET <= WRITE_BYTES_MAX, 'a batch fits a write');
assert(RECORD_BYTES_MAX < BATCH_BYTES_MAX, 'a maximal record fits a batch');
assert(BATCH_BYTES_MAX <= SEGMENT_BYTES_MAX, 'a batch fits a segment');
assert(READ_BYTES_DEFAULT <= READ_BYTES_MAX, 'read default <= max');
assert(JOURNAL_SEGMENT_BYTES >= SEGMENT_BYTES_MIN, 'journal segments are valid segments');
assert(MESSAGE_BYTES_DEFAULT <= MESSAGE_BYTES_MAX, 'message default <= max');
assert(
  MESSAGE_BYTES_MAX < RECORD_BYTES_MAX,
  'a maximal message and its system headers fit a record',
);
assert(
  MESSAGE_HEADERS_MAX + 16 <= RECORD_HEADERS_MAX,
  'user headers and system headers fit a record',
);
assert(DEDUP_WINDOW_MS_DEFAULT <= DEDUP_WINDOW_MS_MAX, 'dedup default <= max');
assert(
  LEASE_MS_MIN <= LEASE_MS_DEFAULT && LEASE_MS_DEFAULT <= LEASE_MS_MAX,
  'lease min <= default <= max',
);
assert(IN_FLIGHT_DEFAULT <= IN_FLIGHT_MAX, 'in-flight default <= max');
assert(READY_RECORDS_MAX <= UNSETTLED_WINDOW_MAX, 'read-ahead stays inside the unsettled window');
assert(CURSOR_READ_RECORDS_MAX <= READY_RECORDS_MAX, 'one read fits the ready buffer');
assert(CURSOR_READ_BYTES_MAX <= READ_BYTES_MAX, 'cursor reads are valid log reads');
assert(BACKOFF_INITIAL_MS_DEFAULT <= BACKOFF_MAX_MS_DEFAULT, 'backoff initial <= max');
assert(
  HEADER_FILTER_VALUES_PER_NAME_MAX <= HEADER_FILTER_CONDITIONS_MAX,
  'one name of a header filter fits the whole policy',
);
assert(DEAD_LETTER_LIST_DEFAULT <= DEAD_LETTER_LIST_MAX, 'dead-letter list default <= max');
assert(REDRIVE_RATE_DEFAULT <= REDRIVE_RATE_MAX, 'redrive default <= max');
assert(
  JOURNAL_CHECKPOINT_BYTES < JOURNAL_SEGMENT_BYTES,
  'a checkpoint comes before a journal segment fills',
);
assert(REQUEST_TIMEOUT_MS_DEFAULT <= REQUEST_TIMEOUT_MS_MAX, 'request timeout default <= max');

// ---- protocol, server and network client ----
/** The largest frame either side accepts (a publish batch, a delivery batch). */
export const FRAME_BYTES_MAX = 32 * MiB;
/** Connections a server accepts at once; the next gets LIMIT_EXCEEDED and is closed. */
export const CONNECTIONS_MAX = 10_000;
/** Requests (publish batches, calls, settles) one connection may have unanswered. */
export const CONNECTION_REQUESTS_IN_FLIGHT_MAX = 4096;
/** Consumers (open subscriptions) per connection. */
export const CONNECTION_CONSUMERS_MAX = 1024;
/** Publish bytes a connection may have waiting for storage before the server stops reading it. */
export const CONNECTION_PUBLISH_BYTES_MAX = 16 * MiB;
/** Bytes the server may queue on a socket the peer does not read before it stops delivering. */
export const CONNECTION_WRITE_BUFFER_BYTES_MAX = 8 * MiB;
/** The buffer a connection encodes a tick's outgoing frames into (grows for a larger tick). */
export const CONNECTION_OUTPUT_SLAB_BYTES = 64 * KiB;
/** Messages in one DELIVER frame. */
export const DELIVER_BATCH_MESSAGES_MAX = 1024;
/** Publishes in one PUBLISH frame from the SDK. */
export const PUBLISH_BATCH_MESSAGES_MAX = 1024;
/** Both sides send PING this often and close a connection silent for HEARTBEAT_MISSES_MAX of them. */
export const HEARTBEAT_INTERVAL_MS = 5_000;
export const HEARTBEAT_MISSES_MAX = 3;
/** A new connection must say HELLO within this time. */
export const HANDSHAKE_TIMEOUT_MS = 10_000;
/** The SDK's queue of publishes not yet sent (while disconnected, or past its window). */
export const CLIENT_PUBLISH_QUEUE_MAX = 100_000;
/** Publishes the SDK keeps sent and unconfirmed at once (its window). */
export const CLIENT_PUBLISHES_IN_FLIGHT_MAX = 10_000;
/** Reconnect backoff of the SDK: from the first to the most, doubling, with full jitter. */
export const CLIENT_RECONNECT_DELAY_MS_FIRST = 50;
export const CLIENT_RECONNECT_DELAY_MS_MAX = 5_000;
/**
 * The reconnect delay's ceiling while a cluster elects (the last round met a node answering
 * NOT_LEADER): a failover is over within seconds, and a client that waits out a long backoff
 * adds it to the outage it sees.
 */
export const CLIENT_RECONNECT_DELAY_MS_ELECTING_MAX = 250;
/** How long a publish waits for a connection before it fails with CLOSED. */
export const CLIENT_PUBLISH_WAIT_MS_MAX = 30_000;
/** Default port of `weir serve`, and of its HTTP API and console. */
export const SERVER_PORT_DEFAULT = 7420;
export const HTTP_PORT_DEFAULT = 7421;

// ---- server: hardening (issue 11) ----
/** A DELIVER frame is cut once its payload reaches this many bytes (then one more message may end it). */
export const DELIVER_BATCH_BYTES_MAX = 4 * MiB;
/** Unread output (socket buffer plus this tick's frames) past which a peer is cut off as a slow consumer (nats-server's max_pending). */
export const CONNECTION_PENDING_BYTES_MAX = 64 * MiB;
/** Idle output slabs (CONNECTION_OUTPUT_SLAB_BYTES each) a server keeps for reuse; a connection holds one only while it has frames to write. */
export const CONNECTION_OUTPUT_SLABS_POOLED_MAX = 64;
/** The largest frame a connection accepts before its HELLO (a HELLO is small): no 32 MiB buffer for a stranger. */
export const PRE_HELLO_FRAME_BYTES_MAX = 64 * KiB;
/** What one delivered message adds on the wire to its stored record (string and header length prefixes, partition, offset, token, count, time, priority), with a DELIVER frame's own header and counts. */
export const DELIVERED_MESSAGE_FRAMING_BYTES_MAX = 64 * KiB;

assert(FRAME_BYTES_MAX > RECORD_BYTES_MAX, 'a maximal record fits a frame');
// Two u32 length prefixes per header, plus (generously) 1 KiB for the fixed fields and headers.
assert(
  RECORD_HEADERS_MAX * 2 * 4 + KiB <= DELIVERED_MESSAGE_FRAMING_BYTES_MAX,
  'the framing allowance covers the length prefixes of every header and the fixed fields',
);
/** Admin HTTP: time from a connection's first byte (or the end of its last request) to the end of the request headers. */
export const ADMIN_HEADERS_TIMEOUT_MS = 5_000;
/** Admin HTTP: how long a kept-alive connection may wait for its next request. */
export const ADMIN_KEEP_ALIVE_TIMEOUT_MS = 5_000;
/** Admin HTTP: a socket with no bytes either way for this long is closed (event streams send every sample). */
export const ADMIN_SOCKET_IDLE_TIMEOUT_MS = 60_000;
/** Admin HTTP: how often Node checks the headers and request timeouts of open connections. */
export const ADMIN_TIMEOUT_CHECK_INTERVAL_MS = 1_000;

// Deliveries stop at the write buffer; the flush that crossed it adds at most one frame.
assert(
  CONNECTION_WRITE_BUFFER_BYTES_MAX + FRAME_BYTES_MAX < CONNECTION_PENDING_BYTES_MAX,
  'a consumer that reads is never cut off for its deliveries alone',
);
assert(
  DELIVER_BATCH_BYTES_MAX + RECORD_BYTES_MAX + DELIVERED_MESSAGE_FRAMING_BYTES_MAX <=
    FRAME_BYTES_MAX,
  'a full DELIVER batch plus one maximal message with its framing fits a frame',
);
assert(
  CONNECTION_PUBLISH_BYTES_MAX < APPEND_PENDING_BYTES_MAX,
  'connections push back before logs refuse',
);

// ---- network client (SDK) ----
/** Requests the SDK keeps unanswered on one connection: never more than the server takes. */
export const CLIENT_REQUESTS_IN_FLIGHT_MAX = CONNECTION_REQUESTS_IN_FLIGHT_MAX;
/** Messages a consumer lets the server send ahead of the application: its credit, its local buffer. */
export const CLIENT_CONSUMER_CREDIT_MAX = 1024;
/** Entries in one SETTLE frame (acks of one consumer gathered in one tick). */
export const SETTLE_BATCH_ENTRIES_MAX = 1024;
/** Settles (ack, nack, term, extend) one consumer queues before the next SETTLE frame. */
export const CLIENT_SETTLES_QUEUED_MAX = 65_536;
/** Calls, subscribes and requests waiting for a connection or a request slot. */
export const CLIENT_CALL_QUEUE_MAX = 10_000;
/** How long a call, subscribe or request waits for a connection before it fails with CLOSED. */
export const CLIENT_CALL_WAIT_MS_MAX = 30_000;
/** Time to reach the server and finish the handshake: default and most. */
export const CLIENT_CONNECT_TIMEOUT_MS_DEFAULT = 10_000;
export const CLIENT_CONNECT_TIMEOUT_MS_MAX = 5 * 60 * 1000;
/** After close() ends the socket, how long the SDK waits for the server's side before it cuts it. */
export const CLIENT_CLOSE_WAIT_MS_MAX = 1000;
/** How long client.close() waits for its subscriptions' queued settles and UNSUBSCRIBEs to be answered. */
export const CLIENT_CLOSE_SETTLES_WAIT_MS_MAX = 5000;
/** The client name sent in HELLO. */
export const CLIENT_NAME_BYTES_MAX = 256;

// A HELLO is a version, the client name and credentials: 1 KiB of room for the rest.
assert(
  CLIENT_NAME_BYTES_MAX + KiB <= PRE_HELLO_FRAME_BYTES_MAX,
  'a HELLO from the SDK fits the frame limit before HELLO',
);
assert(
  CLIENT_REQUESTS_IN_FLIGHT_MAX <= CONNECTION_REQUESTS_IN_FLIGHT_MAX,
  'the SDK stays within the server request limit',
);
assert(
  CONNECTION_CONSUMERS_MAX < CLIENT_REQUESTS_IN_FLIGHT_MAX,
  'a new connection re-subscribes every consumer at once',
);
assert(
  PUBLISH_BATCH_MESSAGES_MAX <= CLIENT_PUBLISHES_IN_FLIGHT_MAX,
  'a publish batch fits the window',
);
assert(
  CLIENT_PUBLISHES_IN_FLIGHT_MAX <= CLIENT_PUBLISH_QUEUE_MAX,
  'the window is part of the queue',
);
assert(CLIENT_RECONNECT_DELAY_MS_FIRST <= CLIENT_RECONNECT_DELAY_MS_MAX, 'reconnect first <= max');
assert(
  CLIENT_RECONNECT_DELAY_MS_FIRST <= CLIENT_RECONNECT_DELAY_MS_ELECTING_MAX &&
    CLIENT_RECONNECT_DELAY_MS_ELECTING_MAX <= CLIENT_RECONNECT_DELAY_MS_MAX,
  'reconnect first <= electing max <= max',
);
assert(
  CLIENT_CONSUMER_CREDIT_MAX <= IN_FLIGHT_MAX,
  'credit stays within what the broker can have in flight',
);
assert(
  CLIENT_CONNECT_TIMEOUT_MS_DEFAULT <= CLIENT_CONNECT_TIMEOUT_MS_MAX,
  'connect timeout default <= max',
);
// A SETTLE entry is at most 33 bytes (29 before the delivery token) plus a term reason of DEAD_LETTER_ERROR_BYTES_MAX characters (3 bytes each in UTF-8).
assert(
  SETTLE_BATCH_ENTRIES_MAX * (33 + 3 * DEAD_LETTER_ERROR_BYTES_MAX) < FRAME_BYTES_MAX,
  'a full SETTLE batch fits a frame',
);

// ---- admin: HTTP API, metrics and console ----
/** The stats sampler reads every stream and subscription this often (rates, charts, stalls). */
export const ADMIN_SAMPLE_INTERVAL_MS = 1000;
/** Overview history kept for the console's charts: samples (5 minutes at 1 Hz). */
export const ADMIN_HISTORY_SAMPLES = 300;
/** Per partition, (time, end offset) points kept for lag in seconds; when full, every other goes. */
export const ADMIN_OFFSET_TIMELINE_POINTS_MAX = 256;
/** A subscription with a backlog and no progress for this long is flagged as stalled. */
export const ADMIN_STALL_AFTER_MS_DEFAULT = 5000;
/** Streams and subscriptions sent in one live-stats event (the rest: `truncated`). */
export const ADMIN_LIVE_ENTITIES_MAX = 1000;
/** Server-Sent Events clients at once; the next gets LIMIT_EXCEEDED. */
export const ADMIN_EVENT_CLIENTS_MAX = 64;
/** HTTP connections the admin server holds at once. */
export const ADMIN_HTTP_CONNECTIONS_MAX = 256;
/** The largest request body: a maximal message as base64 inside JSON, with room to spare. */
export const ADMIN_REQUEST_BODY_BYTES_MAX = 2 * MESSAGE_BYTES_MAX;
/** Time a client has to send its request (headers and body). */
export const ADMIN_REQUEST_TIMEOUT_MS = 30_000;
/** Messages one peek returns, by default and at most. */
export const ADMIN_PEEK_MESSAGES_DEFAULT = 50;
export const ADMIN_PEEK_MESSAGES_MAX = 1000;
/** Messages a peek may pass over (other partitions, past the limit) before it stops. */
export const ADMIN_PEEK_SCAN_MAX = 50_000;
/** A peek stops when no message came for this long, and in any case after ADMIN_PEEK_TIMEOUT_MS. */
export const ADMIN_PEEK_IDLE_MS = 250;
export const ADMIN_PEEK_TIMEOUT_MS = 5000;
/** Peeks running at once (each is an ephemeral subscription). */
export const ADMIN_PEEKS_CONCURRENT_MAX = 8;
/** Body bytes of one message shown by a peek or a dead-letter listing (the rest is cut). */
export const ADMIN_BODY_PREVIEW_BYTES_MAX = 64 * KiB;
/** Re-drive jobs remembered (running and finished; the oldest finished go first), and running at once. */
export const ADMIN_REDRIVE_JOBS_MAX = 32;
export const ADMIN_REDRIVES_RUNNING_MAX = 4;
/** A running re-drive job's progress is saved to the data directory at most this often. */
export const ADMIN_REDRIVE_SAVE_INTERVAL_MS = 1000;
/** The saved re-drive jobs file is refused past this size: every job's request fits. */
export const ADMIN_REDRIVE_FILE_BYTES_MAX =
  ADMIN_REDRIVE_JOBS_MAX * ADMIN_REQUEST_BODY_BYTES_MAX + MiB;
/** How long /readyz waits for the broker to answer. */
export const ADMIN_READY_TIMEOUT_MS = 2000;
/** Files and bytes of the console (ui/) the server loads into memory. */
export const ADMIN_UI_FILES_MAX = 256;
export const ADMIN_UI_BYTES_MAX = 16 * MiB;
/** Time close() gives open HTTP requests before it cuts their connections. */
export const ADMIN_CLOSE_GRACE_MS = 1000;
/** Console sessions held at once (the least recently used goes first), idle time and lifetime. */
export const ADMIN_SESSIONS_MAX = 1000;
export const ADMIN_SESSION_IDLE_MS = 30 * 60_000;
export const ADMIN_SESSION_MS_MAX = 12 * 60 * 60_000;
/** Bytes of randomness in a console session cookie. */
export const ADMIN_SESSION_TOKEN_BYTES = 32;
/** The largest login body (POST /api/session answers before any authentication: kept small). */
export const ADMIN_LOGIN_BODY_BYTES_MAX = 4 * KiB;
/**
 * Successful HTTP Basic checks remembered (by a keyed hash of user and password, never the
 * password) so a script that sends Basic on every request pays scrypt once per this long.
 */
export const ADMIN_PASSWORD_CACHE_ENTRIES_MAX = 1000;
export const ADMIN_PASSWORD_CACHE_MS = 60_000;

assert(ADMIN_PEEK_MESSAGES_DEFAULT <= ADMIN_PEEK_MESSAGES_MAX, 'peek default <= max');
assert(ADMIN_SESSION_IDLE_MS <= ADMIN_SESSION_MS_MAX, 'a session idles out within its lifetime');
assert(ADMIN_PASSWORD_CACHE_MS <= ADMIN_SESSION_IDLE_MS, 'a cached password check is brief');
assert(ADMIN_PEEK_MESSAGES_MAX <= ADMIN_PEEK_SCAN_MAX, 'a full peek fits its scan');
assert(ADMIN_PEEK_IDLE_MS < ADMIN_PEEK_TIMEOUT_MS, 'peek idle < peek timeout');
assert(ADMIN_PEEK_MESSAGES_MAX <= IN_FLIGHT_MAX, 'a peek is one in-flight window');
assert(ADMIN_REDRIVES_RUNNING_MAX <= ADMIN_REDRIVE_JOBS_MAX, 'running redrives are remembered');
assert(
  ADMIN_EVENT_CLIENTS_MAX < ADMIN_HTTP_CONNECTIONS_MAX,
  'event clients leave room for requests',
);
assert(
  ADMIN_STALL_AFTER_MS_DEFAULT >= ADMIN_SAMPLE_INTERVAL_MS,
  'a stall spans at least one sample',
);
assert(ADMIN_OFFSET_TIMELINE_POINTS_MAX >= 4, 'a timeline can be thinned');
assert(
  ADMIN_TIMEOUT_CHECK_INTERVAL_MS < ADMIN_HEADERS_TIMEOUT_MS &&
    ADMIN_HEADERS_TIMEOUT_MS <= ADMIN_REQUEST_TIMEOUT_MS,
  'admin HTTP: check interval < headers timeout <= request timeout',
);
assert(
  ADMIN_REQUEST_TIMEOUT_MS < ADMIN_SOCKET_IDLE_TIMEOUT_MS &&
    ADMIN_KEEP_ALIVE_TIMEOUT_MS < ADMIN_SOCKET_IDLE_TIMEOUT_MS,
  'admin HTTP: the idle timeout never cuts a request or a keep-alive wait short',
);
assert(
  ADMIN_SAMPLE_INTERVAL_MS < ADMIN_SOCKET_IDLE_TIMEOUT_MS,
  'admin HTTP: an event stream is never idle long enough to be closed',
);

// ---- broker: data directory lock ----
/** Taking over a stale data-directory lock races with other openers: this many tries. */
export const DATA_DIR_LOCK_ATTEMPTS_MAX = 3;

// ---- storage: start marker and lock (issue 11) ----
/** A log's resolved durable waiters at the front of its list are dropped once there are this many. */
export const DURABLE_WAITERS_COMPACT_AT = 1024;
/** A data-directory lock record is one short line of JSON; a larger LOCK file is garbage (stale). */
export const DATA_DIR_LOCK_RECORD_BYTES_MAX = 1024;
// ---- broker: failure handling (issue 11) ----
/** A dead letter whose publish failed is published again after at least this long. */
export const DEAD_LETTER_RETRY_MS_MIN = 1000;
/** Lost offset ranges a partition log remembers from recovery (the rest are counted only). */
export const LOST_RANGES_MAX = 64;

assert(DEAD_LETTER_RETRY_MS_MIN <= LEASE_MS_MAX, 'a dead-letter retry is within a lease');
assert(LOST_RANGES_MAX >= 1, 'a log can report a lost range');

// ---- broker: scheduler for delayed messages (issue 12) ----
/**
 * Scheduled (delayed) messages a partition's scheduler indexes in memory (16 bytes each, and
 * 36 more per key of capacity during a refill scan); the rest wait on disk only, past the index's horizon,
 * and are read back when the index runs low. Large, because every refill scan reads the whole
 * pending schedule: with 100,000 a million pending needed 13 scans, with 320,000 it needs 4.
 */
export const SCHEDULE_INDEX_MAX = 320_000;
/** Due messages one move pass takes from the schedule into the partition log. */
export const SCHEDULE_MOVE_BATCH_MAX = 1024;
/** A scheduler's checkpoint is written at most this often while messages move (and at close). */
export const SCHEDULE_CHECKPOINT_MS = 1000;

assert(SCHEDULE_INDEX_MAX >= 16, 'the schedule index holds a useful number of entries');
assert(SCHEDULE_MOVE_BATCH_MAX <= SCHEDULE_INDEX_MAX, 'one move pass fits in the index');
/** Records per batch in a schedule log (moves read single records; a read decodes its batch). */
export const SCHEDULE_BATCH_RECORDS_MAX = 4;
/** Reads of due records one move pass keeps in flight (each reads a few records, at random). */
export const SCHEDULE_READS_CONCURRENT = 16;
/** A schedule log's disk reads are this small at least (two index intervals: a few records). */
export const SCHEDULE_READ_CHUNK_BYTES_MIN = 2 * INDEX_INTERVAL_BYTES;
/**
 * A move pass waits for the partition log's last moves to be written while more than this is
 * queued in it (so a mover catching up does not fill APPEND_PENDING_BYTES_MAX with objects).
 */
export const SCHEDULE_MOVES_PENDING_BYTES_MAX = 4 * MiB;
/** A move pass the partition log refused for now (LIMIT_EXCEEDED) is tried again after this. */
export const SCHEDULE_RETRY_MS = 50;

// ---- security: users, authentication, permissions (issue 13) ----
/** scrypt's cost for a new password: N (a power of two), r, p. About 50 ms and 16 MiB. */
export const SCRYPT_N_DEFAULT = 16_384;
export const SCRYPT_R_DEFAULT = 8;
export const SCRYPT_P_DEFAULT = 1;
/** The largest costs accepted from a users file (a larger N would let a file exhaust memory). */
export const SCRYPT_N_MAX = 1_048_576;
export const SCRYPT_R_MAX = 32;
export const SCRYPT_P_MAX = 16;
/** SCRAM's keys (SHA-256 sized), salts and nonces, in bytes. */
export const SCRAM_KEY_BYTES = 32;
export const SCRAM_SALT_BYTES = 16;
export const SCRAM_NONCE_BYTES = 18;
/** Users in one users file. */
export const USERS_MAX = 10_000;
/** Tokens one user holds. */
export const USER_TOKENS_MAX = 64;
/** Permissions (allow and deny together) one user holds. */
export const USER_PERMISSIONS_MAX = 256;
/** A password is at most this long (bytes of UTF-8); at least PASSWORD_BYTES_MIN. */
export const PASSWORD_BYTES_MAX = 1024;
export const PASSWORD_BYTES_MIN = 8;
/** A token's random part, in bytes (shown once as base64url, stored as SHA-256 only). */
export const TOKEN_BYTES = 32;
/** A token's id (its public part, which finds it), in bytes (shown as hex). */
export const TOKEN_ID_BYTES = 6;
/** Draws of a token id before a clash with every one of them is taken for a broken random source. */
export const TOKEN_ID_DRAWS_MAX = 8;
/** Failed authentications from one address within AUTH_FAILURE_WINDOW_MS before it is refused. */
export const AUTH_FAILURES_PER_ADDRESS_MAX = 10;
export const AUTH_FAILURE_WINDOW_MS = 60_000;
/** Addresses the failed-attempt counter tracks at once (the oldest are forgotten first). */
export const AUTH_FAILURE_ADDRESSES_MAX = 10_000;
/** Publish subjects whose permission outcome one client caches. */
export const PERMISSION_CACHE_SUBJECTS_MAX = 1024;
/** Requests a client may still answer (received with a replyTo, not answered yet). */
export const REPLY_GRANTS_PER_CLIENT_MAX = 10_000;
/** A token in HELLO, in bytes (real ones are about 60): longer is refused before any lookup. */
export const HELLO_TOKEN_BYTES_MAX = 1024;
/** A SCRAM client nonce in HELLO, in characters (base64url; the SDK sends SCRAM_NONCE_BYTES). */
export const SCRAM_CLIENT_NONCE_CHARS_MAX = 256;
/**
 * The most memory (128 × N × r bytes) a SCRAM challenge may make the SDK spend on scrypt: a
 * server, or someone posing as one, cannot make a client allocate gigabytes.
 */
export const SCRAM_CHALLENGE_SCRYPT_BYTES_MAX = 256 * MiB;
/** TLS handshakes a server runs at once beyond its connection limit (each costs a socket and CPU). */
export const TLS_HANDSHAKES_PENDING_MAX = 1024;
/** An inbox subject's random part, in bytes (hex in the subject): not guessable. */
export const INBOX_RANDOM_BYTES = 16;

assert(SCRYPT_N_DEFAULT <= SCRYPT_N_MAX, 'the default scrypt cost is accepted');
assert(
  128 * SCRYPT_N_DEFAULT * SCRYPT_R_DEFAULT <= SCRAM_CHALLENGE_SCRYPT_BYTES_MAX,
  'the SDK accepts a challenge at the default scrypt cost',
);
// A HELLO: the client name, a user name and a nonce or a token, and 1 KiB for the rest.
assert(
  CLIENT_NAME_BYTES_MAX +
    Math.max(NAME_BYTES_MAX + SCRAM_CLIENT_NONCE_CHARS_MAX, HELLO_TOKEN_BYTES_MAX) +
    KiB <=
    PRE_HELLO_FRAME_BYTES_MAX,
  'a HELLO with credentials fits the frame limit before HELLO',
);
assert(PASSWORD_BYTES_MIN <= PASSWORD_BYTES_MAX, 'a password can be long enough');
assert(
  ADMIN_LOGIN_BODY_BYTES_MAX >= PASSWORD_BYTES_MAX + NAME_BYTES_MAX + 64,
  'a login body holds the longest name and password',
);

// ---- outbox: the PostgreSQL transactional outbox relay (issue 14) ----
/** Rows one relay batch claims (FOR UPDATE SKIP LOCKED) and publishes together. */
export const OUTBOX_BATCH_ROWS_DEFAULT = 100;
export const OUTBOX_BATCH_ROWS_MAX = 1000;
/** The fallback poll when no NOTIFY comes (a LISTEN connection can drop unseen for a while). */
export const OUTBOX_POLL_INTERVAL_MS_DEFAULT = 2000;
export const OUTBOX_POLL_INTERVAL_MS_MIN = 10;
export const OUTBOX_POLL_INTERVAL_MS_MAX = 60 * 60 * 1000;
/** A row whose publish failed waits this long, doubled per attempt, up to the max. */
export const OUTBOX_RETRY_BACKOFF_MS_DEFAULT = 1000;
export const OUTBOX_RETRY_BACKOFF_MS_MAX = 60_000;
/** A batch's publishes that have not settled by then count as failed (and are retried). */
export const OUTBOX_PUBLISH_TIMEOUT_MS = 30_000;
/** After a PostgreSQL error the relay waits this long, doubled per error in a row, up to the max. */
export const OUTBOX_ERROR_BACKOFF_MS_MIN = 100;
export const OUTBOX_ERROR_BACKOFF_MS_MAX = 10_000;
/** A dropped LISTEN connection is opened again after this long, doubled per failure, up to the max. */
export const OUTBOX_LISTEN_RECONNECT_MS_MIN = 100;
export const OUTBOX_LISTEN_RECONNECT_MS_MAX = 10_000;
/** The lag gauges are refreshed at most this often while the relay drains a backlog. */
export const OUTBOX_LAG_REFRESH_MS = 1000;
/** An outbox table's name (the index, function, trigger and channel names add to it; PostgreSQL keeps 63). */
export const OUTBOX_TABLE_NAME_BYTES_MAX = 40;
/** The text of a publish error kept in a row's last_error. */
export const OUTBOX_LAST_ERROR_BYTES_MAX = 1024;
/** Connections of the pool a relay opens itself from a connection string (LISTEN, batches, lag). */
export const OUTBOX_POOL_CONNECTIONS_MAX = 3;

assert(OUTBOX_BATCH_ROWS_DEFAULT <= OUTBOX_BATCH_ROWS_MAX, 'the default batch is allowed');
assert(
  OUTBOX_POLL_INTERVAL_MS_MIN <= OUTBOX_POLL_INTERVAL_MS_DEFAULT &&
    OUTBOX_POLL_INTERVAL_MS_DEFAULT <= OUTBOX_POLL_INTERVAL_MS_MAX,
  'the default poll interval is within its range',
);
assert(OUTBOX_RETRY_BACKOFF_MS_DEFAULT <= OUTBOX_RETRY_BACKOFF_MS_MAX, 'backoff default <= max');
// A publish that timed out may still be stored; its retry must come while the stream's default
// dedup window still remembers the id, or the copy would be stored too.
assert(
  OUTBOX_PUBLISH_TIMEOUT_MS + OUTBOX_RETRY_BACKOFF_MS_MAX < DEDUP_WINDOW_MS_DEFAULT,
  'an outbox retry lands within the default dedup window',
);
assert(OUTBOX_ERROR_BACKOFF_MS_MIN <= OUTBOX_ERROR_BACKOFF_MS_MAX, 'error backoff min <= max');
assert(
  OUTBOX_LISTEN_RECONNECT_MS_MIN <= OUTBOX_LISTEN_RECONNECT_MS_MAX,
  'listen reconnect min <= max',
);
assert(OUTBOX_POOL_CONNECTIONS_MAX >= 2, 'a relay pool has a LISTEN and a batch connection');
/**
 * One read of a refill scan (it reads the whole pending schedule, one read ahead). Not larger:
 * 16,384-record reads made a scan slower (all the records of a read are live at once, so the
 * young generation overflows into the old one).
 */
export const SCHEDULE_SCAN_READ_BYTES_MAX = 1 * MiB;
export const SCHEDULE_SCAN_READ_RECORDS_MAX = 512;
/**
 * Bytes of schedule records a partition's scheduler keeps in memory for the keys in its index
 * (schedule-record-cache.ts, packed in slabs), so that moves do not read them back one by one.
 */
export const SCHEDULE_CACHE_BYTES_MAX = 48 * MiB;
/** The cache's records are packed in slabs of this size (a slab goes when its last record does). */
export const SCHEDULE_CACHE_SLAB_BYTES = 256 * 1024;
/** A packed schedule record above this is not cached (it is read from disk when due). */
export const SCHEDULE_CACHE_RECORD_BYTES_MAX = 64 * 1024;

assert(
  SCHEDULE_CACHE_RECORD_BYTES_MAX <= SCHEDULE_CACHE_SLAB_BYTES &&
    SCHEDULE_CACHE_SLAB_BYTES < 2 ** 24 &&
    (SCHEDULE_CACHE_BYTES_MAX === 0 || SCHEDULE_CACHE_SLAB_BYTES <= SCHEDULE_CACHE_BYTES_MAX),
  'a cacheable schedule record fits in a slab, and a slab in the cache',
);

// ---------------------------------------------------------------------------------------
// Schemas (schema-registry.ts)
// ---------------------------------------------------------------------------------------

/** The largest JSON Schema a stream may carry (its JSON text): ajv compiles it in memory. */
export const SCHEMA_BYTES_MAX = 64 * 1024;
/**
 * Schema versions a stream keeps (the current one included, older ones dropped first): each is
 * in stream.json and in every StreamInfo, so the history is bounded.
 */
export const SCHEMA_VERSIONS_KEPT_MAX = 8;
/** How deep the compatibility check descends into nested properties and items. */
export const SCHEMA_COMPATIBILITY_DEPTH_MAX = 32;

// ---------------------------------------------------------------------------------------
// Dead-letter alerts (src/admin/dead-letter-webhook.ts)
// ---------------------------------------------------------------------------------------

/** One POST to the dead-letter webhook is abandoned (and retried) after this long. */
export const DEAD_LETTER_WEBHOOK_TIMEOUT_MS = 5_000;
/** Attempts per notice, the first included; after the last one the notice is dropped and counted. */
export const DEAD_LETTER_WEBHOOK_ATTEMPTS_MAX = 5;
/** Wait before the second attempt; it doubles per attempt up to DEAD_LETTER_WEBHOOK_BACKOFF_MS_MAX. */
export const DEAD_LETTER_WEBHOOK_BACKOFF_MS_INITIAL = 1_000;
export const DEAD_LETTER_WEBHOOK_BACKOFF_MS_MAX = 30_000;
/**
 * Notices waiting to be sent. New dead letters for a (stream, subscription) already waiting are
 * added to that notice, so this bounds distinct subscriptions; past it a notice is dropped and counted.
 */
export const DEAD_LETTER_WEBHOOK_QUEUE_MAX = 256;

assert(DEAD_LETTER_WEBHOOK_ATTEMPTS_MAX >= 1, 'a notice is tried at least once');
assert(
  DEAD_LETTER_WEBHOOK_BACKOFF_MS_INITIAL <= DEAD_LETTER_WEBHOOK_BACKOFF_MS_MAX,
  'webhook backoff initial <= max',
);

// ---------------------------------------------------------------------------------------
// Consumer circuit breaker and job progress (circuit-breaker.ts, progress-store.ts)
// ---------------------------------------------------------------------------------------

/** A breaker opens only once its window holds at least this many outcomes, by default. */
export const CIRCUIT_BREAKER_MIN_CALLS_DEFAULT = 10;
/** Trial deliveries in half-open by default: all must succeed for the breaker to close. */
export const CIRCUIT_BREAKER_HALF_OPEN_CALLS_DEFAULT = 1;
/** Outcomes a breaker keeps in its window (the oldest go first past it). */
export const CIRCUIT_BREAKER_WINDOW_CALLS_MAX = 10_000;
/** The longest windowMs and cooldownMs a breaker accepts (one day). */
export const CIRCUIT_BREAKER_MS_MAX = 24 * 60 * 60 * 1000;
/** The largest progress value (its JSON text, UTF-8 bytes). */
export const PROGRESS_VALUE_BYTES_MAX = 4 * KiB;
/** Progress records a subscription keeps (the oldest settled ones go first past it). */
export const PROGRESS_RECORDS_MAX = 10_000;
/** A progress record stays readable this long after its message was settled. */
export const PROGRESS_KEPT_MS_AFTER_SETTLE = 60_000;

assert(
  CIRCUIT_BREAKER_MIN_CALLS_DEFAULT <= CIRCUIT_BREAKER_WINDOW_CALLS_MAX,
  'a breaker window can hold its default minimum of calls',
);
assert(
  PROGRESS_VALUE_BYTES_MAX * SETTLE_BATCH_ENTRIES_MAX <= FRAME_BYTES_MAX,
  'a SETTLE frame of progress entries fits in a frame',
);

// ---------------------------------------------------------------------------------------
// OpenTelemetry tracing (src/protocol/tracing.ts, src/protocol/trace-context.ts)
// ---------------------------------------------------------------------------------------

/**
 * The longest `tracestate` header `msg.traceContext()` passes on; a longer one is left out
 * (W3C Trace Context: a vendor should propagate at least 512 characters, may drop more).
 */
export const TRACESTATE_CHARS_MAX = 512;

assert(TRACESTATE_CHARS_MAX >= 512, 'W3C asks that at least 512 characters of tracestate pass');

// ---------------------------------------------------------------------------------------
// Transactions: acks and publishes committed atomically (src/broker/transactions.ts)
// ---------------------------------------------------------------------------------------

/** Publishes plus acks one transaction may hold. */
export const TRANSACTION_ENTRIES_MAX = 1024;
/**
 * The largest commit record (every publish encoded once per stream it goes to, and the acks):
 * one journal record, and what the transaction journal's checkpoint holds per open commit.
 */
export const TRANSACTION_BYTES_MAX = 4 * MiB;
/** Transactions committing at once in a broker (each holds its commit record in memory). */
export const TRANSACTIONS_COMMITTING_MAX = 32;
/** How long `fn` of `client.transaction(fn)` may run by default (real time). */
export const TRANSACTION_TIMEOUT_MS_DEFAULT = 60_000;
export const TRANSACTION_TIMEOUT_MS_MAX = 3_600_000;
/** The transaction journal takes a checkpoint (dropping finished commits) past this many bytes. */
export const TRANSACTION_JOURNAL_CHECKPOINT_BYTES = 4 * 1024 * 1024;

assert(
  TRANSACTIONS_COMMITTING_MAX * (TRANSACTION_BYTES_MAX + 64) + 64 <= JOURNAL_SNAPSHOT_BYTES_MAX,
  'the commit records of every transaction committing at once fit in a checkpoint',
);
assert(TRANSACTION_BYTES_MAX < RECORD_BYTES_MAX, 'a commit record fits in one journal record');
assert(
  TRANSACTION_BYTES_MAX + 64 * KiB < FRAME_BYTES_MAX,
  'a transaction fits in one TX_COMMIT frame',
);
assert(
  TRANSACTION_TIMEOUT_MS_DEFAULT <= TRANSACTION_TIMEOUT_MS_MAX,
  'transaction timeout default <= max',
);

// ---------------------------------------------------------------------------------------
// Cron and repeatable messages (cron-schedules.ts)
// ---------------------------------------------------------------------------------------

/** Schedules a broker holds: each has a file and a timer. */
export const SCHEDULES_MAX = 1024;
/** The shortest `everyMs` (each tick costs two fsynced file writes and a publish). */
export const SCHEDULE_EVERY_MS_MIN = 1000;
/** The longest cron expression or time zone name accepted. */
export const SCHEDULE_CRON_BYTES_MAX = 256;
/** The largest body a schedule keeps (it is in its file, as base64). */
export const SCHEDULE_BODY_BYTES_MAX = 64 * KiB;
/**
 * Ticks fired in one catch-up (missed: 'all' after downtime, or ticks that fell due while the
 * broker was too busy to fire them); the ones past it are skipped and counted.
 */
export const SCHEDULE_MISSED_TICKS_MAX = 1000;
/**
 * Records a recovery scan reads after a firing intent's recorded end offsets, per partition,
 * looking for the tick it was publishing (what a crash left unknown); a tick not found within
 * it is published again with its dedup id, which the stream's dedup window may still catch.
 */
export const SCHEDULE_RECOVERY_SCAN_RECORDS_MAX = 1_000_000;

assert(SCHEDULE_EVERY_MS_MIN <= DELAY_MS_MAX, 'the everyMs range is not empty');
assert(SCHEDULE_MISSED_TICKS_MAX >= 1, "missed: 'all' fires at least one tick");

// ---------------------------------------------------------------------------------------
// Fairness and rate limits (fair-groups.ts, fair-scan.ts, rate-limiter.ts)
// ---------------------------------------------------------------------------------------

/**
 * A fairness scan (past the read-ahead, in reads of CURSOR_READ_RECORDS_MAX) passes over a
 * group that has this many messages in memory already: it looks for the groups that have few.
 */
export const FAIR_GROUP_IN_MEMORY_ENOUGH = 64;
/** A group the scan passed over is refilled (its next messages read) below this many in memory. */
export const FAIR_GROUP_IN_MEMORY_LOW = 32;
/**
 * Groups one scan pass may pass over (and remember, to refill them), per partition. Past it the
 * pass stops until the read position overtakes it (fairness then reaches what is in memory).
 */
export const FAIR_SCAN_PASSED_GROUPS_MAX = 4096;
/**
 * The dispatch holds back a message whose group had its turn in this round while a pass within
 * this many offsets past the read position is reading (it may find a group that has not); a
 * pass further out runs on without holding deliveries back.
 */
export const FAIR_SCAN_HOLD_SPAN_MAX = 100_000;
/** Largest rateLimit.perSecond. */
export const RATE_LIMIT_PER_SECOND_MAX = 1_000_000;
/** The longest spacing a rate limit may ask for: the smallest perSecond is 1000 / this (0.001). */
export const RATE_LIMIT_INTERVAL_MS_MAX = 1_000_000;
/** Largest rateLimit.burst. */
export const RATE_LIMIT_BURST_MAX = 1_000_000;
/** Default burst: this many milliseconds of the rate (at least 1), so timers need not fire each ms. */
export const RATE_LIMIT_BURST_MS_DEFAULT = 100;
/**
 * Groups with a bucket that is not full (a rate limit `by`): a full bucket is forgotten. Past
 * it a message of a group without a bucket waits until a bucket fills (never over the limit).
 */
export const RATE_LIMIT_GROUPS_MAX = 100_000;
/**
 * Ready messages one dispatch sets aside because their group is over its rate limit, looking
 * for one that is not; past it the dispatch waits for the next token.
 */
export const RATE_LIMIT_HELD_MAX = 1024;

assert(
  FAIR_GROUP_IN_MEMORY_LOW >= 1 && FAIR_GROUP_IN_MEMORY_LOW <= FAIR_GROUP_IN_MEMORY_ENOUGH,
  'a group is refilled before it runs dry, and not above what a scan takes',
);

// ---------------------------------------------------------------------------------------
// Playground (src/admin/playground/): the console's simulation on a real stream
// ---------------------------------------------------------------------------------------

/** Messages per second the playground's producers publish, at most (before a spike). */
export const PLAYGROUND_RATE_MAX = 1_000;
/** A spike multiplies the producer rate by this for PLAYGROUND_SPIKE_MS. */
export const PLAYGROUND_SPIKE_FACTOR = 10;
export const PLAYGROUND_SPIKE_MS = 3_000;
/** Consumers of a playground run, at most. */
export const PLAYGROUND_CONSUMERS_MAX = 16;
/** The time a playground consumer spends on one message, at most. */
export const PLAYGROUND_PROCESSING_MS_MAX = 10_000;
/** The playground stream's capacity (its maxMessages), at most. */
export const PLAYGROUND_CAPACITY_MAX = 100_000;
/** The playground subscription's maxDeliveries, at most. */
export const PLAYGROUND_MAX_DELIVERIES_MAX = 20;
/** The playground subscription's lease: a crashed consumer's messages come back after it. */
export const PLAYGROUND_LEASE_MS_MIN = 500;
export const PLAYGROUND_LEASE_MS_MAX = 60_000;
/** A run stops by itself after its duration: this by default, never later than the max. */
export const PLAYGROUND_DURATION_MS_DEFAULT = 5 * 60_000;
export const PLAYGROUND_DURATION_MS_MAX = 10 * 60_000;
export const PLAYGROUND_DURATION_MS_MIN = 1_000;
/** The producers publish once per tick (one batch), what the rate owes since the last one. */
export const PLAYGROUND_TICK_MS = 100;
/** Counters and the broker's view are sampled this often into the run's history. */
export const PLAYGROUND_SAMPLE_MS = 500;
/** Samples a run keeps (the chart's five minutes at PLAYGROUND_SAMPLE_MS). */
export const PLAYGROUND_HISTORY_MAX = 600;
/** Events (spikes, poison messages, crashes) a run remembers, newest kept. */
export const PLAYGROUND_EVENTS_MAX = 100;
/** Deliveries a playground consumer holds unsettled (its prefetch): what a crash leaves leased. */
export const PLAYGROUND_CONSUMER_IN_FLIGHT = 4;
/** Retry backoff of the playground subscription after a nack or an expired lease. */
export const PLAYGROUND_BACKOFF_MS_INITIAL = 200;
export const PLAYGROUND_BACKOFF_MS_MAX = 2_000;

assert(
  PLAYGROUND_RATE_MAX * PLAYGROUND_SPIKE_FACTOR * (PLAYGROUND_TICK_MS / 1000) <=
    PUBLISH_BATCH_MESSAGES_MAX,
  'one playground tick at the spiking maximum rate fits one publish batch',
);
assert(
  PLAYGROUND_CONSUMER_IN_FLIGHT <= IN_FLIGHT_MAX,
  'a playground consumer is within the in-flight limit',
);
assert(PLAYGROUND_LEASE_MS_MAX <= LEASE_MS_MAX, 'the playground lease is a lease the broker takes');
assert(
  PLAYGROUND_DURATION_MS_MIN <= PLAYGROUND_DURATION_MS_DEFAULT &&
    PLAYGROUND_DURATION_MS_DEFAULT <= PLAYGROUND_DURATION_MS_MAX,
  'playground duration min <= default <= max',
);
assert(PLAYGROUND_TICK_MS <= PLAYGROUND_SAMPLE_MS, 'the producers tick at least once per sample');
assert(
  PLAYGROUND_BACKOFF_MS_INITIAL <= PLAYGROUND_BACKOFF_MS_MAX,
  'playground backoff initial <= max',
);

// ---------------------------------------------------------------------------------------
// Scheduler lateness (issue 12 item 3: due messages within 50 ms p99)
// ---------------------------------------------------------------------------------------

/**
 * A full schedule record cache compacts when at most this percentage of its slab bytes is live
 * (schedule-record-cache.ts); a compaction copies at most that much and frees the rest.
 */
export const SCHEDULE_CACHE_COMPACT_LIVE_PERCENT = 75;

/**
 * A scheduler starts a refill scan once its index is under half full, or earlier, under this
 * percentage full, when the index would run dry (its horizon is due) within the refill lead:
 * the larger of SCHEDULE_REFILL_LEAD_MS and SCHEDULE_REFILL_LEAD_SCANS × the time the scan
 * will take (a scan reads every record pending on disk; under load a million took 4-14 s).
 */
export const SCHEDULE_REFILL_FILL_PERCENT_MAX = 75;
export const SCHEDULE_REFILL_LEAD_MS = 5_000;
export const SCHEDULE_REFILL_LEAD_SCANS = 2;
/** The scan time per pending record assumed before a scheduler's first scan (10 µs). */
export const SCHEDULE_REFILL_SCAN_NS_PER_RECORD = 10_000;

assert(
  SCHEDULE_REFILL_FILL_PERCENT_MAX >= 50 && SCHEDULE_REFILL_FILL_PERCENT_MAX < 100,
  'a refill starts at half full at the latest, with room to take keys',
);
assert(SCHEDULE_CACHE_COMPACT_LIVE_PERCENT < 100, 'a compaction frees something');

/**
 * Due-time buckets (schedule-buckets.ts): a disposable copy of the pending schedule by due
 * window of this many ms, so that a refill reads the records due next, not the whole schedule.
 * A generation keeps SCHEDULE_BUCKET_WINDOWS_MAX windows from its start (at most that many
 * files per partition); a record due later waits for a full scan of the schedule log.
 */
export const SCHEDULE_BUCKET_WINDOW_MS = 1000;
export const SCHEDULE_BUCKET_WINDOWS_MAX = 600;
/** A window's buffer is written (one chunk, one write) once it holds this. */
export const SCHEDULE_BUCKET_WRITE_BYTES = 64 * KiB;
/** All windows' buffers: past this every one is written. */
export const SCHEDULE_BUCKET_BUFFER_BYTES_MAX = 4 * MiB;
/** Bucket chunks being written: past this a record is not bucketed (a full scan finds it). */
export const SCHEDULE_BUCKET_WRITING_BYTES_MAX = 16 * MiB;
/**
 * A refill from buckets reads whole windows until it has taken this many keys (or the index
 * is full): small refills, often, so that none takes the CPU for long.
 */
export const SCHEDULE_BUCKET_REFILL_KEYS = 32_768;
/**
 * The record cache takes a bucket window's records this long before the window is due (so
 * that moves find them in memory, and the cache holds only a few seconds' worth).
 */
export const SCHEDULE_PREFETCH_LEAD_MS = 2_000;

assert(
  SCHEDULE_BUCKET_WRITE_BYTES <= SCHEDULE_BUCKET_BUFFER_BYTES_MAX &&
    SCHEDULE_BUCKET_BUFFER_BYTES_MAX <= SCHEDULE_BUCKET_WRITING_BYTES_MAX,
  'a window buffer fits in the buffers, and the buffers in what may be written',
);
assert(SCHEDULE_BUCKET_WINDOW_MS >= 1 && SCHEDULE_BUCKET_WINDOWS_MAX >= 2, 'buckets have windows');

// ---------------------------------------------------------------------------------------
// cluster: replication (issue 15: ReplicatedFileSystem, ReplicationServer, Replica)
// ---------------------------------------------------------------------------------------

/** Largest replication frame, its type byte and body (the 4-byte length prefix excluded). */
export const REPLICATION_FRAME_BYTES_MAX = 4 * MiB;
/** A leader write larger than this is shipped as several write ops, each this size at most. */
export const REPLICATION_WRITE_BYTES_MAX = 1 * MiB;
/** Longest path (relative to the data directory, UTF-8) an op or snapshot frame names. */
export const REPLICATION_PATH_BYTES_MAX = 4 * KiB;
/**
 * The leader's ring of recent ops: past this many bytes the oldest go, and a follower that
 * still needs them is disconnected and gets a snapshot when it reconnects (memory stays bounded).
 */
export const REPLICATION_RING_BYTES_MAX = 64 * MiB;
/** Followers one leader serves at once (connections past it are refused). */
export const REPLICATION_FOLLOWERS_MAX = 16;
/** A connection that has not finished its handshake by then is closed. */
export const REPLICATION_HANDSHAKE_MS_MAX = 5_000;
/** An in-sync follower that has not acked a sync for this long is reported lagging. */
export const REPLICA_LAG_MS_MAX = 1_500;
/** How often the leader looks for lagging followers while syncs wait. */
export const REPLICA_LAG_CHECK_MS = 250;
/** A replica reconnects after this, doubling up to the max while the leader cannot be reached. */
export const REPLICA_RECONNECT_MS_INITIAL = 100;
export const REPLICA_RECONNECT_MS_MAX = 2_000;
/** Open file handles a replica keeps (least recently used closed first). */
export const REPLICA_HANDLES_MAX = 256;
/** Files and directories a replica tracks as written but not yet fsynced before it fsyncs them all. */
export const REPLICA_DIRTY_PATHS_MAX = 4_096;
/** Received frames a replica holds unapplied before it stops reading its socket. */
export const REPLICA_PENDING_BYTES_MAX = 16 * MiB;
/** A snapshot sends each file in chunks of this many bytes. */
export const SNAPSHOT_CHUNK_BYTES = 1 * MiB;

assert(
  REPLICATION_WRITE_BYTES_MAX + REPLICATION_PATH_BYTES_MAX + 64 <= REPLICATION_FRAME_BYTES_MAX,
  'a write op with its path fits a replication frame',
);
assert(
  SNAPSHOT_CHUNK_BYTES + REPLICATION_PATH_BYTES_MAX + 64 <= REPLICATION_FRAME_BYTES_MAX,
  'a snapshot chunk with its path fits a replication frame',
);
assert(
  REPLICATION_RING_BYTES_MAX >= 4 * REPLICATION_FRAME_BYTES_MAX,
  'the ring holds several maximal frames',
);
assert(REPLICA_LAG_CHECK_MS < REPLICA_LAG_MS_MAX, 'lag is checked more often than it is allowed');
assert(
  REPLICA_RECONNECT_MS_INITIAL <= REPLICA_RECONNECT_MS_MAX,
  'replica reconnect initial <= max',
);
assert(
  REPLICA_PENDING_BYTES_MAX >= REPLICATION_FRAME_BYTES_MAX,
  'a replica can hold one maximal frame unapplied',
);

// ---------------------------------------------------------------------------------------
// cluster: etcd (issue 15: etcd-client.ts, cluster-membership.ts)
// ---------------------------------------------------------------------------------------

/**
 * A node's etcd lease lives this long without a keepalive. Its `/weir/nodes/<id>` key and, if
 * it leads, `/weir/leader` go with the lease, so a dead or cut-off node loses both within it.
 */
export const CLUSTER_LEASE_TTL_S = 2;
/**
 * A node stops trusting its lease (onLeaseLost: the leader fences) this long before the lease
 * could have ended in etcd: no successful keepalive for TTL × 1000 − margin milliseconds,
 * counted from when the last successful keepalive was sent.
 */
export const CLUSTER_LEASE_MARGIN_MS = 500;
/** Keepalives per TTL: a keepalive every TTL / this, so one lost keepalive is not a lost lease. */
export const CLUSTER_KEEPALIVES_PER_TTL = 3;
/** Every unary request to etcd (range, put, txn, lease calls) fails TIMEOUT after this long. */
export const ETCD_REQUEST_TIMEOUT_MS = 1_000;
/** A watch stream that has not answered `created` within this long is dropped and retried. */
export const ETCD_WATCH_CREATE_TIMEOUT_MS = 2_000;
/** A broken watch stream is reconnected after this long, doubling per failure up to the max. */
export const ETCD_WATCH_RETRY_MS = 100;
export const ETCD_WATCH_RETRY_MS_MAX = 2_000;
/** TCP keepalive probes on a watch's socket start after this long idle (a silent dead peer). */
export const ETCD_WATCH_SOCKET_KEEPALIVE_MS = 1_000;
/** A range reads at most this many keys; more is LIMIT_EXCEEDED (the cluster keys are few). */
export const ETCD_RANGE_KEYS_MAX = 10_000;
/** A response body from etcd larger than this is refused (a watch stream: one message). */
export const ETCD_RESPONSE_BYTES_MAX = 16 * MiB;
/** Keep-alive sockets the client keeps open to etcd (a watch uses its own socket). */
export const ETCD_SOCKETS_MAX = 8;

assert(
  CLUSTER_LEASE_MARGIN_MS < (CLUSTER_LEASE_TTL_S * 1000) / 2,
  'the lease margin leaves at least half the TTL for keepalives',
);
assert(
  (CLUSTER_LEASE_TTL_S * 1000) / CLUSTER_KEEPALIVES_PER_TTL <
    CLUSTER_LEASE_TTL_S * 1000 - CLUSTER_LEASE_MARGIN_MS,
  'a keepalive is sent before the lease is distrusted',
);
assert(ETCD_WATCH_RETRY_MS <= ETCD_WATCH_RETRY_MS_MAX, 'etcd watch retry initial <= max');

// Cluster, broker side (issue 15): stream replication settings
// ---------------------------------------------------------------------------------------

/** The largest `replicas` a stream may ask for (it is also capped by the cluster's node count). */
export const STREAM_REPLICAS_MAX = 32;
/** A stream's default `replicas` in a cluster: the smaller of this and the node count. */
export const STREAM_REPLICAS_DEFAULT_MAX = 3;

assert(
  STREAM_REPLICAS_DEFAULT_MAX >= 1 && STREAM_REPLICAS_DEFAULT_MAX <= STREAM_REPLICAS_MAX,
  'the default replicas is a valid replicas',
);

// Client: a list of cluster nodes (issue 15, docs/cluster.md "Clients")
// ---------------------------------------------------------------------------------------

/** Hosts in one `weir://h1:p1,h2:p2,…` address: a connect round tries each of them once. */
export const CLIENT_HOSTS_MAX = 64;
/**
 * `leader=HOST:PORT` hints a connect round follows (a follower's NOT_LEADER answer to HELLO);
 * past this the round goes on with the next listed host. Bounds a loop between nodes whose
 * views of the leader disagree (during an election).
 */
export const CLIENT_LEADER_HOPS_MAX = 4;

assert(CLIENT_HOSTS_MAX >= 1 && CLIENT_LEADER_HOPS_MAX >= 1, 'a round tries at least one host');

// ---------------------------------------------------------------------------------------
// cluster: node (issue 15: cluster-node.ts)
// ---------------------------------------------------------------------------------------

/** How long a step down waits for each of the servers, the broker and the replication listener to close. */
export const CLUSTER_STEP_DOWN_CLOSE_MS_MAX = 5_000;
/** After a node won a campaign but could not open its broker, it waits this before deciding again. */
export const CLUSTER_LEAD_RETRY_MS = 1_000;

// ---------------------------------------------------------------------------------------
// AMQP 0-9-1 gateway (issue 16: src/amqp, docs/amqp.md)
// ---------------------------------------------------------------------------------------

/** The port `weir serve --amqp` listens on unless --amqp-port / WEIR_AMQP_PORT says another. */
export const AMQP_PORT_DEFAULT = 5672;
/** frame-max the server offers in connection.tune (RabbitMQ's default). */
export const AMQP_FRAME_MAX = 131_072;
/** channel-max the server offers in connection.tune. */
export const AMQP_CHANNELS_MAX = 2047;
/** The heartbeat the server proposes, in seconds (RabbitMQ's default); 0 from both sides: none. */
export const AMQP_HEARTBEAT_S_DEFAULT = 60;
/** A client must send the protocol header, start-ok, tune-ok and open within this. */
export const AMQP_HANDSHAKE_TIMEOUT_MS = 10_000;
/** After connection.close is sent, how long to wait for close-ok before dropping the socket. */
export const AMQP_CLOSE_TIMEOUT_MS = 3_000;
/** A message's body, assembled from body frames, may be at most this (RabbitMQ: 128 MiB; Weir's record bound is lower). */
export const AMQP_BODY_BYTES_MAX = 16 * 1024 * 1024;
/** Publish bytes a connection may have waiting for storage before it stops reading its socket. */
export const AMQP_PUBLISH_BYTES_PENDING_MAX = 8 * 1024 * 1024;
/** Output bytes waiting in a socket past which consumers stop delivering until it drains. */
export const AMQP_WRITE_BUFFER_BYTES_MAX = 4 * 1024 * 1024;
/** Consumers on one channel. */
export const AMQP_CHANNEL_CONSUMERS_MAX = 1024;
/** Unacknowledged basic.get deliveries on one channel (each holds a broker consumer). */
export const AMQP_CHANNEL_GETS_UNACKED_MAX = 1024;
/** Publishes a tx channel may buffer before commit. */
export const AMQP_TX_PUBLISHES_MAX = 10_000;
/** Prefetch of a consumer whose channel set none (basic.qos 0 = unlimited in AMQP). */
export const AMQP_PREFETCH_UNLIMITED = 2_000;
/**
 * The lease of a delivery to an AMQP consumer: AMQP has none, a message stays with its channel
 * until acked; RabbitMQ's consumer_timeout (30 min) is the bound, so is this.
 */
export const AMQP_DELIVERY_LEASE_MS = 30 * 60 * 1000;
/** basic.get on a queue with messages ready waits at most this for one to reach its consumer. */
export const AMQP_GET_WAIT_MS = 200;
/** Exchanges, queues and bindings the gateway keeps (besides the built-in exchanges). */
export const TOPOLOGY_EXCHANGES_MAX = 10_000;
export const TOPOLOGY_QUEUES_MAX = 10_000;
export const TOPOLOGY_BINDINGS_MAX = 100_000;
/** Exchanges one publish passes through (exchange-to-exchange bindings). */
export const TOPOLOGY_ROUTE_HOPS_MAX = 64;
/** The saved topology file (amqp/topology.json in the data directory). */
export const TOPOLOGY_FILE_BYTES_MAX = 64 * 1024 * 1024;
/** How often queues with x-expires are checked for expiry. */
export const AMQP_EXPIRY_CHECK_MS = 1_000;

assert(AMQP_FRAME_MAX >= 4096, 'frame-max is at least the spec frame-min-size');
assert(AMQP_PREFETCH_UNLIMITED <= IN_FLIGHT_MAX, 'an unlimited prefetch is a valid maxInFlight');
assert(
  AMQP_DELIVERY_LEASE_MS <= LEASE_MS_MAX,
  'the AMQP delivery lease is a lease a subscription may have',
);
/** Dead letters the x-dead-letter-exchange forwarder holds at once (each republished, then acked). */
export const AMQP_DEAD_LETTERS_IN_FLIGHT = 100;
/** The longest wait before a dead letter whose forward failed is forwarded again. */
export const AMQP_DEAD_LETTER_RETRY_MS_MAX = 10_000;
