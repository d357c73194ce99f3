/**
 * One node's standing in the cluster, kept in etcd (docs/cluster.md, "Epochs, leases and
 * fencing"): its lease and `/weir/nodes/<id>` key, its campaigns for `/weir/leader`, and the
 * fenced changes of `/weir/state`.
 *
 * Fencing rests on two things:
 * - every write of `/weir/state` is one txn comparing its mod revision with the one this node
 *   last read or wrote (and, for a leader, that `/weir/leader` is still the key it created),
 *   so of two nodes that read the same state at most one changes it;
 * - the lease is distrusted early: with no successful keepalive for TTL × 1000 −
 *   CLUSTER_LEASE_MARGIN_MS milliseconds, counted from when the last good keepalive was
 *   *sent* (etcd renewed it no earlier than that), `onLeaseLost` fires, before etcd can have
 *   expired the lease and let another node win. Time here is the monotonic
 *   `performance.now()` and real timers, not a Clock: the deadline races etcd's own clock,
 *   which no manual clock can move, and a wall-clock jump must not stretch it.
 *
 * Concurrency: calls may overlap, but a node should not campaign, changeIsr or resign
 * concurrently with itself (each compares revisions it read before its txn; the txns keep
 * etcd consistent whatever the interleaving, only this object's notion of "last revision"
 * is last-writer-wins). `onLeaseLost` fires at most once per join().
 */
import {
  CLUSTER_KEEPALIVES_PER_TTL,
  CLUSTER_LEASE_MARGIN_MS,
  CLUSTER_LEASE_TTL_S,
  ETCD_REQUEST_TIMEOUT_MS,
} from '../limits.js';
import { WeirError, assert } from '../util/index.js';
import {
  KEYS,
  KEYS_PREFIX,
  nodeKey,
  parseClusterState,
  parseLeaderRecord,
  parseNodeRecord,
  type ClusterState,
  type LeaderRecord,
  type NodeRecord,
} from './cluster-keys.js';
import type { EtcdClient, WatchEvent } from './etcd-client.js';

export interface ClusterMembershipOptions {
  etcd: EtcdClient;
  nodeId: string;
  record: NodeRecord;
  /** The lease TTL in seconds; default CLUSTER_LEASE_TTL_S. */
  leaseTtlS?: number;
}

/** Keepalive bookkeeping of one joined lease. */
interface LeaseState {
  id: string;
  /** performance.now() when the last successful keepalive (or the grant) was sent. */
  trustedFromMs: number;
  keepAliveTimer: NodeJS.Timeout | null;
  deadlineTimer: NodeJS.Timeout | null;
  inFlight: boolean;
  ended: boolean;
}

export class ClusterMembership {
  readonly #etcd: EtcdClient;
  readonly #nodeId: string;
  readonly #record: NodeRecord;
  readonly #leaseTtlS: number;
  #lease: LeaseState | null = null;
  /** The last /weir/state this node read or wrote, and its mod revision (0: absent). */
  #state: ClusterState | null = null;
  #stateRevision = 0;
  /** The create revision of the /weir/leader key this node holds, or 0. */
  #leaderCreateRevision = 0;

  /** Called once when this node can no longer trust its lease (the leader must fence). */
  onLeaseLost: (() => void) | null = null;

  constructor(options: ClusterMembershipOptions) {
    const leaseTtlS = options.leaseTtlS ?? CLUSTER_LEASE_TTL_S;
    if (!Number.isSafeInteger(leaseTtlS) || leaseTtlS * 1000 <= 2 * CLUSTER_LEASE_MARGIN_MS) {
      throw new WeirError(
        'INVALID_ARGUMENT',
        `leaseTtlS must be a whole number of seconds over ${(2 * CLUSTER_LEASE_MARGIN_MS) / 1000}`,
      );
    }
    if (options.nodeId.length === 0 || options.nodeId.includes('/')) {
      throw new WeirError('INVALID_ARGUMENT', 'nodeId must be non-empty, without "/"');
    }
    assert(options.record.nodeId === options.nodeId, 'the node record is this node');
    this.#etcd = options.etcd;
    this.#nodeId = options.nodeId;
    this.#record = options.record;
    this.#leaseTtlS = leaseTtlS;
  }

  get leaseId(): string | null {
    return this.#lease === null || this.#lease.ended ? null : this.#lease.id;
  }

  get nodeId(): string {
    return this.#nodeId;
  }

  /** The state this node last read or wrote, and its revision (what changeIsr compares). */
  get lastState(): { state: ClusterState | null; revision: number } {
    return { state: this.#state, revision: this.#stateRevision };
  }

  /**
   * Grants a lease, puts `/weir/nodes/<id>` under it, and keeps it alive every
   * TTL / CLUSTER_KEEPALIVES_PER_TTL. After a lost lease, joining again takes a new one.
   */
  async join(): Promise<void> {
    if (this.leaseId !== null)
      throw new WeirError('INVALID_ARGUMENT', `node ${this.#nodeId} has joined already`);
    const sentAtMs = performance.now();
    const granted = await this.#etcd.leaseGrant(this.#leaseTtlS);
    const lease: LeaseState = {
      id: granted.id,
      trustedFromMs: sentAtMs,
      keepAliveTimer: null,
      deadlineTimer: null,
      inFlight: false,
      ended: false,
    };
    try {
      await this.#etcd.put(nodeKey(this.#nodeId), JSON.stringify(this.#record), {
        lease: granted.id,
      });
    } catch (error) {
      await this.#etcd.leaseRevoke(granted.id).catch(() => undefined);
      throw error;
    }
    this.#lease = lease;
    this.#leaderCreateRevision = 0;
    this.#armDeadline(lease);
    this.#scheduleKeepAlive(lease);
  }

  async nodes(): Promise<NodeRecord[]> {
    const kvs = await this.#etcd.range(KEYS.nodes);
    return kvs.map((kv) => parseNodeRecord(kv.key, kv.value));
  }

  async readState(): Promise<{ state: ClusterState | null; revision: number }> {
    const kv = await this.#etcd.get(KEYS.state);
    const state = kv === null ? null : parseClusterState(KEYS.state, kv.value);
    this.#state = state;
    this.#stateRevision = kv === null ? 0 : kv.modRevision;
    return { state, revision: this.#stateRevision };
  }

  /**
   * Watches `/weir/state` and `/weir/leader`: `onChange` is called once with the current
   * values, then after every change of either. Returns the cancel function. A malformed value
   * is reported as absent (null) rather than thrown at the watcher.
   */
  watchState(
    onChange: (state: ClusterState | null, leader: LeaderRecord | null) => void,
  ): () => void {
    let state: ClusterState | null = null;
    let leader: LeaderRecord | null = null;
    let started = false;
    const watch = this.#etcd.watch(
      KEYS_PREFIX,
      (events: WatchEvent[]) => {
        let changed = false;
        for (const event of events) {
          if (event.key === KEYS.state) {
            state =
              event.type === 'put'
                ? parseOrNull(() => parseClusterState(event.key, event.value))
                : null;
            changed = true;
          } else if (event.key === KEYS.leader) {
            leader =
              event.type === 'put'
                ? parseOrNull(() => parseLeaderRecord(event.key, event.value))
                : null;
            changed = true;
          }
        }
        // The first call carries the current values (withCurrent), even when both are absent.
        if (changed || !started) {
          started = true;
          onChange(state, leader);
        }
      },
      { withCurrent: true },
    );
    return () => watch.cancel();
  }

  /**
   * Tries to become leader with epoch e+1, its operations starting at `firstSeq`: one txn that
   * creates `/weir/leader` under this node's lease only if no leader key exists, and writes
   * `/weir/state` only if it is still the revision read here. Returns the new state, or null
   * when another node won, a leader exists, or this node may not lead (a state exists and it
   * is not in its ISR: no unclean election; no txn is tried then).
   */
  async campaign(firstSeq: number): Promise<ClusterState | null> {
    assert(Number.isSafeInteger(firstSeq) && firstSeq >= 0, 'firstSeq is a sequence number');
    const leaseId = this.leaseId;
    if (leaseId === null)
      throw new WeirError('CLOSED', `node ${this.#nodeId} has no lease: join first`);
    const { state, revision } = await this.readState();
    if (state !== null && !state.isr.includes(this.#nodeId)) return null;
    if ((await this.#etcd.get(KEYS.leader)) !== null) return null;
    const alive = new Set((await this.nodes()).map((node) => node.nodeId));
    const epoch = (state?.epoch ?? 0) + 1;
    const isr =
      state === null
        ? [this.#nodeId]
        : [...state.isr.filter((id) => id !== this.#nodeId && alive.has(id)), this.#nodeId].sort();
    const next: ClusterState = {
      epoch,
      leader: this.#nodeId,
      isr,
      epochs: [...(state?.epochs ?? []), { epoch, leader: this.#nodeId, startSeq: firstSeq }],
    };
    const leader: LeaderRecord = { nodeId: this.#nodeId, epoch, advertise: this.#record.advertise };
    const result = await this.#etcd.txn({
      compare: [
        { key: KEYS.leader, target: 'create', result: 'equal', revision: 0 },
        { key: KEYS.state, target: 'mod', result: 'equal', revision },
      ],
      success: [
        { type: 'put', key: KEYS.leader, value: JSON.stringify(leader), lease: leaseId },
        { type: 'put', key: KEYS.state, value: JSON.stringify(next) },
      ],
    });
    if (!result.succeeded) return null;
    this.#leaderCreateRevision = result.revision;
    this.#state = next;
    this.#stateRevision = result.revision;
    return next;
  }

  /**
   * Writes a new ISR for `epoch`, fenced: only if `/weir/state` is still the revision this node
   * last read or wrote, its epoch is `epoch`, and `/weir/leader` is still the key this node
   * created. False when any of that no longer holds (read the state again).
   */
  async changeIsr(epoch: number, isr: string[]): Promise<boolean> {
    assert(isr.includes(this.#nodeId), 'a leader stays in its own ISR');
    const state = this.#state;
    if (state === null || state.epoch !== epoch || this.#leaderCreateRevision === 0) return false;
    const next: ClusterState = { ...state, isr: [...new Set(isr)].sort() };
    const result = await this.#etcd.txn({
      compare: [
        { key: KEYS.state, target: 'mod', result: 'equal', revision: this.#stateRevision },
        {
          key: KEYS.leader,
          target: 'create',
          result: 'equal',
          revision: this.#leaderCreateRevision,
        },
      ],
      success: [{ type: 'put', key: KEYS.state, value: JSON.stringify(next) }],
    });
    if (!result.succeeded) return false;
    this.#state = next;
    this.#stateRevision = result.revision;
    return true;
  }

  /** Deletes `/weir/leader` if it is still the key this node created. */
  async resign(): Promise<void> {
    const createRevision = this.#leaderCreateRevision;
    if (createRevision === 0) return;
    this.#leaderCreateRevision = 0;
    await this.#etcd.txn({
      compare: [{ key: KEYS.leader, target: 'create', result: 'equal', revision: createRevision }],
      success: [{ type: 'delete', key: KEYS.leader }],
    });
  }

  /** Stops the keepalives and revokes the lease: the node key and any leader key go with it. */
  async leave(): Promise<void> {
    const lease = this.#lease;
    if (lease === null || lease.ended) return;
    this.#endLease(lease);
    this.#leaderCreateRevision = 0;
    await this.#etcd.leaseRevoke(lease.id);
  }

  #endLease(lease: LeaseState): void {
    lease.ended = true;
    if (lease.keepAliveTimer !== null) clearTimeout(lease.keepAliveTimer);
    if (lease.deadlineTimer !== null) clearTimeout(lease.deadlineTimer);
    lease.keepAliveTimer = null;
    lease.deadlineTimer = null;
  }

  #lost(lease: LeaseState): void {
    if (lease.ended) return;
    this.#endLease(lease);
    this.#leaderCreateRevision = 0;
    this.onLeaseLost?.();
  }

  #trustMs(): number {
    return this.#leaseTtlS * 1000 - CLUSTER_LEASE_MARGIN_MS;
  }

  /** (Re)arms the timer that declares the lease lost at trustedFrom + TTL − margin. */
  #armDeadline(lease: LeaseState): void {
    if (lease.deadlineTimer !== null) clearTimeout(lease.deadlineTimer);
    const delayMs = Math.max(0, lease.trustedFromMs + this.#trustMs() - performance.now());
    lease.deadlineTimer = setTimeout(() => {
      lease.deadlineTimer = null;
      // A late timer (a busy loop) still compares against the real deadline.
      if (performance.now() - lease.trustedFromMs >= this.#trustMs()) this.#lost(lease);
      else this.#armDeadline(lease);
    }, delayMs);
    lease.deadlineTimer.unref();
  }

  #scheduleKeepAlive(lease: LeaseState): void {
    const intervalMs = Math.floor((this.#leaseTtlS * 1000) / CLUSTER_KEEPALIVES_PER_TTL);
    lease.keepAliveTimer = setTimeout(() => {
      lease.keepAliveTimer = null;
      if (lease.ended) return;
      this.#scheduleKeepAlive(lease);
      if (!lease.inFlight) void this.#keepAlive(lease, intervalMs);
    }, intervalMs);
    lease.keepAliveTimer.unref();
  }

  async #keepAlive(lease: LeaseState, intervalMs: number): Promise<void> {
    lease.inFlight = true;
    const sentAtMs = performance.now();
    let ttl: number;
    try {
      // No keepalive waits into the next one's turn: a hung etcd shows as failures in a row.
      ttl = await this.#etcd.leaseKeepAlive(lease.id, {
        timeoutMs: Math.min(ETCD_REQUEST_TIMEOUT_MS, Math.floor((intervalMs * 3) / 4)),
      });
    } catch {
      return; // the deadline timer decides when failures have lasted too long
    } finally {
      lease.inFlight = false;
    }
    if (lease.ended) return;
    if (ttl <= 0) {
      this.#lost(lease); // etcd says the lease is gone
      return;
    }
    if (sentAtMs > lease.trustedFromMs) {
      lease.trustedFromMs = sentAtMs;
      this.#armDeadline(lease);
    }
  }
}

function parseOrNull<T>(parse: () => T): T | null {
  try {
    return parse();
  } catch {
    return null;
  }
}
