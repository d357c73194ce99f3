/**
 * The embedded broker: `Broker.open({ dataDir })` (or `{ storage: 'memory' }`), then
 * `connect()` for in-process clients, then `close()`.
 *
 * Options are validated once (INVALID_ARGUMENT naming the field). Closing closes every
 * client (their consumers end, their requests fail with CLOSED), then every stream (logs and
 * subscription journals are flushed and closed); later calls fail with CLOSED.
 */
import * as path from 'node:path';
import type { Client } from '../protocol/index.js';
import { MemoryFileSystem, nodeFileSystem, type FileSystem } from '../storage/index.js';
import { WeirError, toClock, type Clock } from '../util/index.js';
import { CLIENTS_MAX } from '../limits.js';
import { BrokerCore } from './broker-core.js';
import { lockDataDir, type DataDirLock } from './data-dir-lock.js';
import { Access, OPEN_ACCESS, OPEN_PRINCIPAL, type Principal } from './access.js';
import { Authenticator } from './authenticator.js';
import { InProcessClient } from './client.js';
import { UserStore } from './users.js';
import type { ClusterView } from './cluster-view.js';
import { validScryptCost, type ScryptCost } from '../protocol/scram.js';
import { invalid, oneOf, optionsObject } from './option-checks.js';
import { Tracing, type OpenTelemetryLoader } from '../protocol/tracing.js';

export interface BrokerOptions {
  /** Directory of the broker's files (created if missing). Required unless storage is 'memory'. */
  readonly dataDir?: string;
  /** 'memory': every stream in memory, nothing on disk. Default 'file'. */
  readonly storage?: 'file' | 'memory';
  /** The file system under dataDir (tests pass a fault-injecting one). Default: the real disk. */
  readonly fileSystem?: FileSystem;
  /**
   * The broker's clock: message timestamps, leases, delays, TTL, retention ticks, request
   * timeouts. A Clock (tests pass a ManualClock and move time themselves) or, as before, a
   * bare function giving ms since the epoch (timers then run on real time). Default: the
   * system clock.
   */
  readonly clock?: Clock | (() => number);
  /**
   * scrypt cost of new passwords (users.ts). Default SCRYPT_COST_DEFAULT (about 50 ms each);
   * tests pass a cheap one.
   */
  readonly passwordCost?: ScryptCost;
  /**
   * OpenTelemetry spans (docs/concepts.md, "Tracing with OpenTelemetry"): false turns them off
   * even when `@opentelemetry/api` is installed; true makes them whenever it is; default: on
   * when it is installed and a tracer provider is registered when the broker opens.
   */
  readonly tracing?: boolean;
  /**
   * How `@opentelemetry/api` is loaded. Default: `import('@opentelemetry/api')`, and no tracing
   * when that fails. For an application that bundles its own copy (or a test).
   */
  readonly openTelemetryLoader?: OpenTelemetryLoader;
  /**
   * The cluster this broker leads (cluster-view.ts; the cluster node passes it, with a
   * replicated `fileSystem` whose root is `dataDir` on the real disk). Streams then default to
   * and are bounded by its node count (`replicas`), publishes are refused below a stream's
   * `minInSync` (NOT_ENOUGH_REPLICAS), every file stream syncs as fsync 'always', and the data
   * directory is locked on the real disk even though `fileSystem` is not nodeFileSystem.
   * Default: none (a single node).
   */
  readonly cluster?: ClusterView;
}

/** Who an in-process client acts for (`broker.connect`): the server passes what it authenticated. */
export interface ConnectOptions {
  /** Default OPEN_PRINCIPAL: everything allowed (the embedding application itself). */
  readonly principal?: Principal;
  /** The client's address, for audit lines and failed-attempt counts; null in-process. */
  readonly remote?: string | null;
  /**
   * Default true: the client makes the client-side spans (publish, deliver, settle) when the
   * broker traces. The server passes false: the remote SDK makes those; the broker's own
   * store spans are made either way.
   */
  readonly tracing?: boolean;
}

export class Broker {
  readonly #core: BrokerCore;
  readonly #fileSystem: FileSystem;
  readonly #lock: DataDirLock | null;
  readonly #dataDir: string | null;
  /** Users, passwords, tokens and failed attempts: what every door checks credentials with. */
  readonly authenticator: Authenticator;
  /** Null: no tracing (the api is absent, tracing is off, or no provider was registered). */
  readonly #tracing: Tracing | null;
  readonly #clients = new Set<InProcessClient>();
  #nextClient = 1;
  #closing: Promise<void> | null = null;

  private constructor(
    core: BrokerCore,
    lock: DataDirLock | null,
    dataDir: string | null,
    authenticator: Authenticator,
    tracing: Tracing | null,
    fileSystem: FileSystem,
  ) {
    this.#fileSystem = fileSystem;
    this.authenticator = authenticator;
    this.#tracing = tracing;
    // A change of users applies to the clients already connected (a removed user's end).
    authenticator.users.onChange(() => {
      for (const client of this.#clients) client.usersChanged();
    });
    this.#core = core;
    this.#lock = lock;
    this.#dataDir = dataDir;
  }

  static async open(options: BrokerOptions): Promise<Broker> {
    const input = optionsObject(options, 'broker options', [
      'dataDir',
      'storage',
      'fileSystem',
      'clock',
      'passwordCost',
      'tracing',
      'openTelemetryLoader',
      'cluster',
    ]);
    const cluster = input.cluster as ClusterView | undefined;
    if (
      cluster !== undefined &&
      (typeof cluster !== 'object' ||
        cluster === null ||
        typeof cluster.nodeCount !== 'function' ||
        typeof cluster.inSyncCount !== 'function' ||
        typeof cluster.status !== 'function' ||
        typeof cluster.recordStream !== 'function')
    ) {
      throw invalid(
        'cluster',
        'must be a ClusterView (nodeCount, inSyncCount, status, recordStream functions)',
      );
    }
    if (input.tracing !== undefined && typeof input.tracing !== 'boolean') {
      throw invalid('tracing', 'must be true or false');
    }
    if (
      input.openTelemetryLoader !== undefined &&
      typeof input.openTelemetryLoader !== 'function'
    ) {
      throw invalid('openTelemetryLoader', 'must be a function returning a promise of the api');
    }
    const storage =
      input.storage === undefined ? 'file' : oneOf(input.storage, 'storage', ['file', 'memory']);
    if (storage === 'file' && (typeof input.dataDir !== 'string' || input.dataDir.length === 0)) {
      throw invalid('dataDir', "must be a directory path (or pass storage: 'memory')");
    }
    if (
      input.clock !== undefined &&
      typeof input.clock !== 'function' &&
      !(
        typeof input.clock === 'object' &&
        input.clock !== null &&
        typeof (input.clock as Clock).now === 'function' &&
        typeof (input.clock as Clock).setTimer === 'function' &&
        typeof (input.clock as Clock).setRepeating === 'function'
      )
    )
      throw invalid('clock', 'must be a Clock or a function returning ms since the epoch');
    const memoryFileSystem = new MemoryFileSystem();
    const clock = toClock(input.clock as Clock | (() => number) | undefined);
    const fileSystem = (input.fileSystem as FileSystem | undefined) ?? nodeFileSystem;
    const root = storage === 'file' ? path.resolve(input.dataDir as string) : path.sep + 'weir';
    let lock: DataDirLock | null = null;
    // A cluster's replicated file system writes through to this directory on the real disk:
    // the leader holds it locked like any broker (LOCK is never replicated: data-dir-lock.ts
    // uses node fs, not the FileSystem).
    if (storage === 'file' && (fileSystem === nodeFileSystem || cluster !== undefined)) {
      await nodeFileSystem.mkdir(root);
      lock = await lockDataDir(root);
    }
    try {
      const cost = input.passwordCost as ScryptCost | undefined;
      if (
        cost !== undefined &&
        (typeof cost !== 'object' || cost === null || !validScryptCost(cost))
      ) {
        throw invalid('passwordCost', "must be { N, r, p } within scrypt's limits");
      }
      const users = await UserStore.open({
        fileSystem,
        directory: storage === 'file' ? root : null,
        onDisk: lock !== null,
        ...(cost === undefined ? {} : { scryptCost: cost }),
        now: () => clock.now(),
      });
      const tracing = await Tracing.load(
        input.tracing,
        input.openTelemetryLoader as OpenTelemetryLoader | undefined,
      );
      const core = await BrokerCore.open({
        tracing,
        fileSystem,
        root,
        memoryFileSystem,
        memoryRoot: path.sep + 'weir-memory',
        inMemory: storage === 'memory',
        clock,
        cluster: cluster ?? null,
      });
      return new Broker(
        core,
        lock,
        lock === null ? null : root,
        new Authenticator(users, () => clock.now()),
        tracing,
        fileSystem,
      );
    } catch (error) {
      await lock?.release();
      throw error;
    }
  }

  get closed(): boolean {
    return this.#closing !== null;
  }

  /**
   * The data directory on the real disk, which this broker holds locked (the admin server keeps
   * its files there); null for a memory broker or one over another file system (without a
   * cluster: a cluster's replicated file system is the real disk underneath).
   */
  get dataDir(): string | null {
    return this.#dataDir;
  }

  /**
   * The file system `dataDir` is written through (a cluster leader's is the replicated one):
   * what other layers keep in the data directory (the AMQP topology) goes through it too.
   */
  get fileSystem(): FileSystem {
    return this.#fileSystem;
  }

  /** Replies dropped because their requester was gone (closed, disconnected, timed out). */
  get repliesDropped(): number {
    return this.#core.repliesDropped;
  }

  /**
   * A client that talks to this broker in-process (the same interface as a network client),
   * acting for `options.principal` (default: everything allowed).
   */
  connect(options: ConnectOptions = {}): Client {
    if (this.#closing) throw new WeirError('CLOSED', 'the broker is closed');
    if (this.#clients.size >= CLIENTS_MAX) {
      throw new WeirError('LIMIT_EXCEEDED', `the broker has ${CLIENTS_MAX} clients`);
    }
    const tracing: unknown = options.tracing;
    if (tracing !== undefined && typeof tracing !== 'boolean') {
      throw invalid('tracing', 'must be true or false');
    }
    const principal = options.principal ?? OPEN_PRINCIPAL;
    const client = new InProcessClient(
      this.#core,
      `c${this.#nextClient++}`,
      (closed) => this.#clients.delete(closed),
      {
        access: principal === OPEN_PRINCIPAL ? OPEN_ACCESS : new Access(principal),
        remote: options.remote ?? null,
        users: this.authenticator.users,
        tracing: options.tracing === false ? null : this.#tracing,
      },
    );
    this.#clients.add(client);
    return client;
  }

  /** Whether this broker makes OpenTelemetry spans (docs/concepts.md). */
  get tracing(): boolean {
    return this.#tracing !== null;
  }

  /** Closes every client and stream; resolves once everything is flushed and closed. */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      try {
        for (const client of [...this.#clients]) await client.close();
        await this.#core.close();
      } finally {
        await this.#lock?.release();
      }
    })();
    return this.#closing;
  }
}
