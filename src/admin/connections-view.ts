/**
 * What the admin layer needs to know about the network clients of a `weir serve` process.
 * The admin layer may not import src/server (DESIGN.md layers), so the TCP server provides
 * this view and `weir serve` hands it to `startAdminServer`. Embedded brokers have no network
 * clients: without a view the consumers endpoint lists nothing and the stall detector infers
 * credit from the subscription counters alone.
 *
 * Concurrency: `list()` is called from the admin server's stats sampler once per
 * ADMIN_SAMPLE_INTERVAL_MS and on each /api/consumers request; it must be synchronous and
 * cheap (a snapshot of what the server holds, no I/O).
 */

/** One consumer (a subscribe call) of a connection. */
export interface ConsumerSnapshot {
  /** The consumer's id within its connection. */
  readonly id: number;
  /** An AMQP consumer's consumer tag. */
  readonly tag?: string;
  readonly stream: string;
  /** The subscription's name (generated for an ephemeral subscription). */
  readonly subscription: string;
  /** Deliveries the client still allows before it grants more credit. */
  readonly credit: number;
  /** Delivered to this consumer and not yet settled. */
  readonly unsettled: number;
}

/** One connected client. */
export interface ConnectionSnapshot {
  /** Unique per protocol: a Weir connection and an AMQP one may share a number. */
  readonly id: number;
  /** The protocol it speaks; absent: Weir's own. */
  readonly protocol?: 'weir' | 'amqp';
  /** host:port of the peer. */
  readonly remote: string;
  /** The name the client sent in HELLO ('' when none). */
  readonly clientName: string;
  /** When the connection was accepted (ms since the epoch); absent when unknown. */
  readonly connectedAtMs?: number;
  readonly consumerCount: number;
  /** Its consumers with their credit; absent when the server does not report them. */
  readonly consumers?: readonly ConsumerSnapshot[];
  /** Messages this connection published since it connected (absent when unknown). */
  readonly published?: number;
  /** Messages delivered to this connection since it connected (absent when unknown). */
  readonly delivered?: number;
}

export interface ConnectionsView {
  list(): readonly ConnectionSnapshot[];
}
