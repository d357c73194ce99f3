/**
 * One node of a cluster (docs/cluster.md): its membership in etcd, and its role — leader (it
 * runs the Broker on a ReplicatedFileSystem and serves clients) or follower (it applies the
 * leader's file operations to its own copy of the data directory and tells clients where
 * the leader is).
 *
 * Transitions run one at a time, in `#lane`, each from what etcd says now:
 * - no leader, and this node in the ISR (or no cluster state yet): campaign; the winner
 *   bumps the epoch in a fenced transaction (cluster-membership.ts) and becomes leader:
 *   replication listener first (followers must be able to acknowledge the syncs the broker's
 *   recovery makes), then Broker.open on the replicated file system, then the client ports;
 * - another leader: follow it (the replica connects to its replication address);
 * - leader, and etcd shows a higher epoch or another leader, or the node's lease is lost:
 *   step down — the replicated file system is fenced first (every pending and later sync
 *   fails, so nothing more is confirmed), then the servers and the Broker close, then the
 *   node follows.
 * ISR changes are the leader's: a follower that lags is removed by a fenced transaction
 * before the leader stops waiting for it (ReplicatedFileSystem.setInSync after the commit);
 * one that caught up is added back the same way.
 */
import { Broker, type ClusterStatus, type ClusterView } from '../broker/index.js';
import { CLUSTER_LEAD_RETRY_MS, CLUSTER_STEP_DOWN_CLOSE_MS_MAX } from '../limits.js';
import { freePort, type Logger } from '../server/index.js';
import { nodeFileSystem } from '../storage/index.js';
import { WeirError } from '../util/index.js';
import {
  KEYS,
  parseNodeRecord,
  parseStreamRecord,
  streamKey,
  type ClusterState,
  type LeaderRecord,
  type NodeRecord,
  type StreamRecord,
} from './cluster-keys.js';
import { ClusterMembership } from './cluster-membership.js';
import { EtcdClient } from './etcd-client.js';
import { ReplicatedFileSystem } from './replicated-file-system.js';
import { Replica } from './replica.js';
import { ReplicationServer } from './replication-server.js';

export interface ClientServing {
  close(): Promise<void>;
}

export interface FollowerServingView {
  readonly leader: () => string | null;
  readonly leaderHttp: () => string | null;
  readonly status: () => ClusterStatus;
}

export interface ClusterNodeOptions {
  readonly nodeId: string;
  readonly etcd: readonly string[];
  /** HOST:PORT clients reach this node's TCP port at. */
  readonly advertise: string;
  /** HOST:PORT of this node's HTTP side as others should show it; null: none. */
  readonly advertiseHttp: string | null;
  readonly dataDir: string;
  /** Address the replication listener binds. */
  readonly host: string;
  readonly replicationPort: number;
  /** HOST the replication address is advertised with (the advertise host). */
  readonly replicationHost: string;
  readonly secret: string | null;
  readonly logger: Logger;
  /** Starts the client ports over a leader's broker. */
  readonly serveLeader: (broker: Broker) => Promise<ClientServing>;
  /** Starts what a follower serves on the same ports (follower-listener.ts). */
  readonly serveFollower: (view: FollowerServingView) => Promise<ClientServing>;
}

type Role = 'starting' | 'follower' | 'candidate' | 'leader' | 'stopped';

interface LeaderTerm {
  readonly epoch: number;
  readonly fileSystem: ReplicatedFileSystem;
  readonly replication: ReplicationServer;
  broker: Broker | null;
  serving: ClientServing | null;
  /** The ISR as this leader last committed it (itself included). */
  isr: string[];
}

export class ClusterNode {
  readonly #options: ClusterNodeOptions;
  readonly #etcd: EtcdClient;
  readonly #membership: ClusterMembership;
  #role: Role = 'starting';
  #lane: Promise<void> = Promise.resolve();
  /** ISR changes, one at a time, apart from #lane (see #lead). */
  #isrLane: Promise<void> = Promise.resolve();
  #term: LeaderTerm | null = null;
  #replica: Replica | null = null;
  #following: { nodeId: string; epoch: number } | null = null;
  #followerServing: ClientServing | null = null;
  #state: ClusterState | null = null;
  #leader: LeaderRecord | null = null;
  readonly #nodes = new Map<string, NodeRecord>();
  readonly #streams = new Map<string, StreamRecord>();
  #unwatch: (() => void)[] = [];
  #replicationPort: number;

  private constructor(options: ClusterNodeOptions, etcd: EtcdClient, replicationPort: number) {
    this.#options = options;
    this.#etcd = etcd;
    this.#replicationPort = replicationPort;
    this.#membership = new ClusterMembership({
      etcd,
      nodeId: options.nodeId,
      record: {
        nodeId: options.nodeId,
        advertise: options.advertise,
        replication: `${options.replicationHost}:${replicationPort}`,
        http: options.advertiseHttp,
        startedAtMs: Date.now(),
      },
    });
  }

  /** Joins the cluster and takes the role etcd gives; resolves once the node serves. */
  static async start(options: ClusterNodeOptions): Promise<ClusterNode> {
    const etcd = new EtcdClient([...options.etcd]);
    const replicationPort =
      options.replicationPort === 0 ? await freePort(options.host) : options.replicationPort;
    const node = new ClusterNode(options, etcd, replicationPort);
    try {
      await node.#start();
    } catch (error) {
      await node.close();
      throw error;
    }
    return node;
  }

  get role(): Role {
    return this.#role;
  }

  get nodeId(): string {
    return this.#options.nodeId;
  }

  async #start(): Promise<void> {
    const { logger, nodeId } = this.#options;
    this.#membership.onLeaseLost = () => {
      logger('warn', 'cluster_lease_lost', { nodeId });
      // Fence at once, not in the lane: it may be busy on a sync that will never be acked.
      this.#term?.fileSystem.fence(new WeirError('NOT_LEADER', `node ${nodeId} lost its lease`));
      if (this.#role === 'leader') this.#enqueue(() => this.#stepDown('the etcd lease was lost'));
      this.#enqueue(() => this.#decide()); // joins again once etcd answers
    };
    await this.#membership.join();
    logger('info', 'cluster_joined', { nodeId, etcd: this.#options.etcd });
    for (const record of await this.#membership.nodes()) this.#nodes.set(record.nodeId, record);
    // withCurrent: what changed between the read above and the watch's start is delivered too.
    const nodesWatch = this.#etcd.watch(
      KEYS.nodes,
      (events) => {
        let leaderArrived = false;
        for (const event of events) {
          const id = event.key.slice(KEYS.nodes.length);
          if (event.type === 'delete') this.#nodes.delete(id);
          else {
            this.#nodes.set(id, parseNodeRecord(event.key, event.value));
            if (id === this.#leader?.nodeId) leaderArrived = true;
          }
        }
        // A follower that learnt of the leader before its record waits for this (#follow).
        if (
          leaderArrived &&
          this.#role !== 'leader' &&
          this.#following?.nodeId !== this.#leader?.nodeId
        ) {
          this.#enqueue(() => this.#decide());
        }
      },
      { withCurrent: true },
    );
    this.#unwatch.push(() => nodesWatch.cancel());
    for (const entry of await this.#etcd.range(KEYS.streams)) {
      const record = parseStreamRecord(entry.key, entry.value);
      this.#streams.set(record.name, record);
    }
    const streamsWatch = this.#etcd.watch(
      KEYS.streams,
      (events) => {
        for (const event of events) {
          if (event.type === 'delete') this.#streams.delete(event.key.slice(KEYS.streams.length));
          else {
            const record = parseStreamRecord(event.key, event.value);
            this.#streams.set(record.name, record);
          }
        }
      },
      { withCurrent: true },
    );
    this.#unwatch.push(() => streamsWatch.cancel());
    this.#followerServing = await this.#options.serveFollower(this.#followerView());
    this.#role = 'follower';
    const { state } = await this.#membership.readState();
    this.#state = state;
    this.#unwatch.push(
      this.#membership.watchState((nextState, leader) => {
        this.#state = nextState;
        this.#leader = leader;
        const term = this.#term;
        if (
          term !== null &&
          ((nextState !== null && nextState.epoch > term.epoch) ||
            (leader !== null && leader.nodeId !== this.#options.nodeId))
        ) {
          // Another epoch: fence at once (the lane may be waiting on a sync), step down there.
          term.fileSystem.fence(
            new WeirError(
              'NOT_LEADER',
              `node ${this.#options.nodeId} saw epoch ${nextState?.epoch ?? '?'}`,
            ),
          );
        }
        this.#enqueue(() => this.#decide());
      }),
    );
    this.#enqueue(() => this.#decide());
    await this.#lane;
  }

  /** Runs transitions one at a time; a failed one is logged and the node decides again. */
  #enqueue(step: () => Promise<void>): void {
    this.#lane = this.#lane.then(step).catch((error: unknown) => {
      this.#options.logger('error', 'cluster_transition_failed', {
        nodeId: this.#options.nodeId,
        message: error instanceof Error ? error.message : String(error),
      });
      if (this.#role !== 'stopped') setTimeout(() => this.#enqueue(() => this.#decide()), 500);
    });
  }

  async #decide(): Promise<void> {
    if (this.#role === 'stopped') return;
    if (this.#membership.leaseId === null) {
      // The lease was lost (etcd unreachable past the TTL): join again first; a failure here
      // is retried by the lane (#enqueue) until etcd answers.
      if (this.#role === 'leader') await this.#stepDown('the etcd lease was lost', false);
      await this.#membership.join();
      this.#options.logger('info', 'cluster_joined', {
        nodeId: this.#options.nodeId,
        etcd: this.#options.etcd,
        again: true,
      });
    }
    const self = this.#options.nodeId;
    const state = this.#state;
    const leader = this.#leader;
    if (this.#role === 'leader') {
      const term = this.#term!;
      if (
        (state !== null && state.epoch > term.epoch) ||
        (leader !== null && leader.nodeId !== self)
      ) {
        await this.#stepDown(
          `epoch ${state?.epoch ?? '?'} is led by ${leader?.nodeId ?? 'nobody'}`,
        );
      }
      return;
    }
    if (leader !== null && leader.nodeId !== self) {
      this.#follow(leader);
      return;
    }
    if (leader === null && (state === null || state.isr.includes(self))) await this.#campaign();
  }

  #follow(leader: LeaderRecord): void {
    const record = this.#nodes.get(leader.nodeId);
    if (record === undefined) return; // its record comes with the next watch event
    if (this.#following?.nodeId === leader.nodeId && this.#following.epoch === leader.epoch) return;
    this.#replica ??= new Replica({
      inner: nodeFileSystem,
      root: this.#options.dataDir,
      nodeId: this.#options.nodeId,
      ...(this.#options.secret === null ? {} : { secret: this.#options.secret }),
    });
    this.#replica.onError = (error: unknown) =>
      this.#options.logger('warn', 'replica_error', {
        nodeId: this.#options.nodeId,
        message: error instanceof Error ? error.message : String(error),
      });
    this.#replica.follow(record.replication, leader.epoch);
    this.#following = { nodeId: leader.nodeId, epoch: leader.epoch };
    this.#role = 'follower';
    this.#options.logger('info', 'cluster_follower', {
      nodeId: this.#options.nodeId,
      leader: leader.nodeId,
      epoch: leader.epoch,
    });
  }

  async #campaign(): Promise<void> {
    this.#role = 'candidate';
    // The replica stops first: from here this node's files are its own.
    const appliedSeq = this.#replica?.appliedSeq ?? 0;
    await this.#replica?.stop();
    this.#replica = null;
    this.#following = null;
    const won = await this.#membership.campaign(appliedSeq + 1);
    if (won === null) {
      this.#role = 'follower';
      return; // the watch brings the winner
    }
    this.#state = won;
    await this.#lead(won, appliedSeq + 1);
  }

  async #lead(state: ClusterState, firstSeq: number): Promise<void> {
    const { nodeId, logger } = this.#options;
    const fileSystem = new ReplicatedFileSystem({
      inner: nodeFileSystem,
      root: this.#options.dataDir,
      nodeId,
      epoch: state.epoch,
      firstSeq,
      isr: new Set(state.isr.filter((id) => id !== nodeId)),
    });
    const replication = await ReplicationServer.listen({
      host: this.#options.host,
      port: this.#replicationPort,
      fileSystem,
      epoch: state.epoch,
      ...(this.#options.secret === null ? {} : { secret: this.#options.secret }),
    });
    const term: LeaderTerm = {
      epoch: state.epoch,
      fileSystem,
      replication,
      broker: null,
      serving: null,
      isr: [...state.isr],
    };
    this.#term = term;
    this.#role = 'leader';
    // ISR changes run in a lane of their own: the broker's open below may wait on a sync that
    // only a change of the ISR can release (a follower that never comes), so they must not
    // queue behind it.
    fileSystem.onFollowerLagging = (follower) =>
      this.#enqueueIsr(term, (isr) => isr.filter((id) => id !== follower));
    fileSystem.onFollowerCaughtUp = (follower) =>
      this.#enqueueIsr(term, (isr) => (isr.includes(follower) ? [...isr] : [...isr, follower]));
    try {
      await this.#followerServing?.close();
      this.#followerServing = null;
      term.broker = await Broker.open({
        dataDir: this.#options.dataDir,
        fileSystem,
        cluster: this.#clusterView(),
      });
      if (this.#term !== term) throw new WeirError('NOT_LEADER', 'the term ended while it opened');
      term.serving = await this.#options.serveLeader(term.broker);
    } catch (error) {
      // Not serving as leader: hand the term back, follow, and decide again in a while (an
      // open that fails at once would otherwise campaign again at once).
      logger('error', 'cluster_lead_failed', {
        nodeId,
        epoch: state.epoch,
        message: error instanceof Error ? error.message : String(error),
      });
      await this.#stepDown('the broker did not open', false);
      setTimeout(() => this.#enqueue(() => this.#decide()), CLUSTER_LEAD_RETRY_MS).unref();
      return;
    }
    logger('info', 'cluster_leader', { nodeId, epoch: state.epoch, isr: state.isr });
  }

  #enqueueIsr(term: LeaderTerm, change: (isr: readonly string[]) => string[]): void {
    this.#isrLane = this.#isrLane
      .then(() => this.#changeIsr(term, change(term.isr)))
      .catch((error: unknown) => {
        this.#options.logger('warn', 'cluster_isr_failed', {
          nodeId: this.#options.nodeId,
          message: error instanceof Error ? error.message : String(error),
        });
      });
  }

  /**
   * A fenced change of the ISR. Removing a follower: commit first, then stop waiting for it;
   * adding one: wait for it first, then commit — at no moment is a node in etcd's ISR that a
   * confirmed write did not wait for.
   */
  async #changeIsr(term: LeaderTerm, isr: string[]): Promise<void> {
    if (this.#term !== term) return;
    const self = this.#options.nodeId;
    const same = isr.length === term.isr.length && isr.every((id) => term.isr.includes(id));
    if (same) return;
    const followers = (ids: readonly string[]) => new Set(ids.filter((id) => id !== self));
    const adding = isr.some((id) => !term.isr.includes(id));
    if (adding) term.fileSystem.setInSync(followers([...term.isr, ...isr]));
    const committed = await this.#membership.changeIsr(term.epoch, isr);
    if (!committed) {
      const { state } = await this.#membership.readState();
      this.#state = state;
      if (state === null || state.epoch !== term.epoch || state.leader !== self) {
        // Someone else changed the state: a new epoch, so this term is over. Fence now (the
        // main lane may be busy opening the broker on a sync that waits), step down there.
        term.fileSystem.fence(new WeirError('NOT_LEADER', `node ${self} lost epoch ${term.epoch}`));
        this.#enqueue(() => this.#stepDown('the cluster state moved on'));
      } else if (adding) {
        term.fileSystem.setInSync(followers(term.isr));
      }
      return;
    }
    term.isr = isr;
    term.fileSystem.setInSync(followers(isr));
    this.#options.logger('info', 'cluster_isr', { nodeId: self, epoch: term.epoch, isr });
  }

  async #stepDown(reason: string, decide = true): Promise<void> {
    const term = this.#term;
    if (term === null) return;
    const { nodeId, logger } = this.#options;
    // Fence first: from here nothing this node does is confirmed.
    term.fileSystem.fence(new WeirError('NOT_LEADER', `node ${nodeId} stepped down: ${reason}`));
    this.#term = null;
    this.#role = 'follower';
    logger('warn', 'cluster_fenced', { nodeId, epoch: term.epoch, reason });
    await bounded(term.serving?.close() ?? Promise.resolve());
    await bounded(term.broker?.close() ?? Promise.resolve());
    await bounded(term.replication.close());
    await bounded(this.#membership.resign());
    this.#followerServing ??= await this.#options.serveFollower(this.#followerView());
    if (decide) await this.#decide();
  }

  #clusterView(): ClusterView {
    return {
      nodeCount: () => this.#nodes.size,
      inSyncCount: () => this.#term?.isr.length ?? 0,
      status: () => this.status(),
      recordStream: async (name, replicas, minInSync) => {
        const record = { name, replicas, minInSync };
        await this.#etcd.put(streamKey(name), JSON.stringify(record));
        this.#streams.set(name, record);
      },
    };
  }

  #followerView(): FollowerServingView {
    return {
      leader: () => this.#leader?.advertise ?? null,
      leaderHttp: () =>
        this.#leader === null ? null : (this.#nodes.get(this.#leader.nodeId)?.http ?? null),
      status: () => this.status(),
    };
  }

  /** This node's view of the cluster (cluster.status, /api/cluster, `weir cluster status`). */
  status(): ClusterStatus {
    const self = this.#options.nodeId;
    const state = this.#state;
    const term = this.#term;
    const isr = term?.isr ?? state?.isr ?? [];
    const leader = state?.leader ?? this.#leader?.nodeId ?? null;
    const progress = new Map(
      term?.fileSystem.followers().map((entry) => [entry.nodeId, entry]) ?? [],
    );
    const ids = new Set([...this.#nodes.keys(), ...isr]);
    const nodes = [...ids].sort().map((nodeId) => {
      const record = this.#nodes.get(nodeId);
      const follower = progress.get(nodeId);
      return {
        nodeId,
        advertise: record?.advertise ?? '',
        http: record?.http ?? null,
        role:
          record === undefined
            ? ('offline' as const)
            : nodeId === leader
              ? ('leader' as const)
              : nodeId === self && this.#role === 'candidate'
                ? ('candidate' as const)
                : ('follower' as const),
        inSync: isr.includes(nodeId),
        ackedSeq: follower?.ackedSeq ?? (nodeId === self && term ? term.fileSystem.seq : null),
        lagOps: follower?.lagOps ?? (nodeId === self && term ? 0 : null),
        lagMs: follower?.lagMs ?? (nodeId === self && term ? 0 : null),
      };
    });
    const epoch = term?.epoch ?? state?.epoch ?? 0;
    return {
      clusterMode: true,
      nodeId: self,
      leader,
      epoch,
      isr: [...isr],
      nodes,
      leaderSeq: term?.fileSystem.seq ?? null,
      streams: [...this.#streams]
        .sort(([a], [b]) => (a < b ? -1 : 1))
        .map(([name, placement]) => ({
          name,
          replicas: placement.replicas,
          minInSync: placement.minInSync,
          leader,
          epoch,
          isr: [...isr],
        })),
    };
  }

  /** Leaves the cluster: a leader hands leadership back (resign), then the lease goes. */
  async close(): Promise<void> {
    if (this.#role === 'stopped') return;
    this.#role = 'stopped';
    await this.#lane.catch(() => undefined);
    for (const unwatch of this.#unwatch) unwatch();
    const term = this.#term;
    this.#term = null;
    if (term) {
      await bounded(term.serving?.close() ?? Promise.resolve());
      await bounded(term.broker?.close() ?? Promise.resolve());
      term.fileSystem.fence(new WeirError('CLOSED', 'the node is shutting down'));
      await bounded(term.replication.close());
      await bounded(this.#membership.resign());
    }
    await bounded(this.#replica?.stop() ?? Promise.resolve());
    await bounded(this.#followerServing?.close() ?? Promise.resolve());
    await bounded(this.#membership.leave());
    this.#etcd.close();
  }
}

/** Waits at most CLUSTER_STEP_DOWN_CLOSE_MS_MAX for a close; a fenced broker must not hold a step down. */
async function bounded(promise: Promise<unknown>): Promise<void> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  await Promise.race([
    promise.catch(() => undefined),
    new Promise((resolve) => {
      timer = setTimeout(resolve, CLUSTER_STEP_DOWN_CLOSE_MS_MAX);
    }),
  ]);
  clearTimeout(timer);
}
