/**
 * The broker's state and operations behind every Client: the streams (and the router over
 * their subject patterns), publishing, subscribing, the request-reply inboxes. Files:
 *
 *   <dataDir>/streams/<name>/stream.json   { version, name, sequence, config }, written atomically
 *   <dataDir>/streams/<name>/...           the stream's partitions and subscriptions
 *
 * A stream directory without stream.json is an unfinished creation (or deletion) and is
 * removed at open. Memory streams live in an in-memory file system with the same layout, and
 * go with the process.
 *
 * Concurrency: operations that change metadata (create / update / delete / purge streams,
 * create / delete / seek subscriptions) run one at a time, in call order (`#serially`). Publishing
 * and delivery do not wait for them.
 */
import * as path from 'node:path';
import type {
  Body,
  ClusterStatus,
  PublishOptions,
  PublishReceipt,
  RespondOptions,
  StartPosition,
  StreamInfo,
  SubscribeOptions,
  SubscriptionInfo,
  JobProgress,
  ProgressSelector,
} from '../protocol/index.js';
import type { FileSystem, PartitionLog } from '../storage/index.js';
import {
  CONSUMERS_PER_SUBSCRIPTION_MAX,
  STREAMS_MAX,
  SUBSCRIPTIONS_PER_STREAM_MAX,
} from '../limits.js';
import { assert, WeirError, Lane, type Clock } from '../util/index.js';
import { Consumer } from './consumer.js';
import { CronSchedules } from './cron-schedules.js';
import { SINGLE_NODE_STATUS, type ClusterView } from './cluster-view.js';
import type { DeliveredMessage } from './delivery.js';
import { encodeMessage, type EncodedMessage, type StoredMessage } from './message-codec.js';
import { readJsonFile, writeJsonFile } from './metadata-file.js';
import { invalid, rejection, validateName } from './option-checks.js';
import { checkProgressSelector } from './progress-store.js';
import { Inbox } from './request-reply.js';
import { Router } from './router.js';
import { Stream, storeResultOf, type StoreResult } from './stream.js';
import {
  changeStreamConfig,
  parseStoredStreamConfig,
  resolveStreamConfig,
  sameStreamConfig,
} from './stream-config.js';
import { isInboxSubject } from './subject.js';
import type { Tracing } from '../protocol/tracing.js';
import type { SubscriptionGroup } from './subscription.js';
import { Transactions, type CommitRequest } from './transactions.js';
import { conflictingField, resolveSubscribe, validateStart } from './subscription-config.js';
import {
  createDurable,
  createEphemeral,
  floorsFor,
  loadDurables,
  removeDurable,
} from './subscription-store.js';

const METADATA_VERSION = 1;

export interface BrokerCoreOptions {
  /** Where file streams live. */
  readonly fileSystem: FileSystem;
  readonly root: string;
  /** Where memory streams live (and everything, for a memory broker). */
  readonly memoryFileSystem: FileSystem;
  readonly memoryRoot: string;
  /** A memory broker: every stream is a memory stream. */
  readonly inMemory: boolean;
  readonly clock: Clock;
  /** Store spans (tracing.ts); null: none, and a publish pays one null check for it. */
  readonly tracing: Tracing | null;
  /**
   * The cluster this broker leads (cluster-view.ts); null: a single node. With one, a stream's
   * replicas default to and are bounded by its node count, publishes are refused with
   * NOT_ENOUGH_REPLICAS below a stream's minInSync, and every file stream syncs as fsync
   * 'always' (a confirm then means fsynced on every in-sync node).
   */
  readonly cluster: ClusterView | null;
}

/** A user-given stream or subscription name: names starting with '_' are the broker's own. */
export function validateUserName(value: unknown, field: string): string {
  const name = validateName(value, field);
  if (name.startsWith('_')) throw invalid(field, "may not start with '_' (reserved)");
  return name;
}

/** What publishNow() did: queued in one log (wait for `log.durable(end)`), or a promise. */
export type PlacedPublish =
  | { readonly receipt: PublishReceipt; readonly log: PartitionLog; readonly end: number }
  | { readonly later: Promise<PublishReceipt> };

export class BrokerCore {
  readonly #options: BrokerCoreOptions;
  readonly #streams = new Map<string, Stream>();
  readonly #router = new Router<Stream>();
  readonly #inboxes = new Map<string, Inbox>();
  #repliesDropped = 0;
  readonly #admin = new Lane();
  #transactions: Transactions | null = null;
  #schedules: CronSchedules | null = null;
  #nextSequence = 1;
  #nextConsumerId = 1;
  #nextEphemeral = 1;
  #closed = false;

  private constructor(options: BrokerCoreOptions) {
    this.#options = options;
  }

  static async open(options: BrokerCoreOptions): Promise<BrokerCore> {
    const core = new BrokerCore(options);
    try {
      // Before the streams: recovery completes committed transactions as they load.
      core.#transactions = await Transactions.open({
        fileSystem: options.inMemory ? options.memoryFileSystem : options.fileSystem,
        directory: path.join(options.inMemory ? options.memoryRoot : options.root, 'transactions'),
        fsync: options.inMemory ? 'never' : 'always',
        clock: options.clock,
        streamsFor: (subject) => core.#router.match(subject),
      });
      if (!options.inMemory) await core.#load();
      // After the streams: an interrupted tick is looked for in them, missed ones published.
      core.#schedules = await CronSchedules.open({
        clock: options.clock,
        fileSystem: options.inMemory ? options.memoryFileSystem : options.fileSystem,
        root: options.inMemory ? options.memoryRoot : options.root,
        inMemory: options.inMemory,
        streamsFor: (subject) => core.streamsFor(subject),
        findStream: (name) => core.findStream(name),
        publishEncoded: (message) => core.#route(message, core.now()),
        storeIn: (stream, message) => core.storeIn(stream, message),
      });
    } catch (error) {
      await core.close();
      throw error;
    }
    return core;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Replies dropped: their inbox was gone or their request had given up. */
  get repliesDropped(): number {
    return this.#repliesDropped;
  }

  now(): number {
    return this.#options.clock.now();
  }

  get clock(): Clock {
    return this.#options.clock;
  }

  /** Cron and repeatable messages (cron-schedules.ts). */
  get schedules(): CronSchedules {
    if (this.#schedules === null) throw new WeirError('CLOSED', 'the broker is closed');
    return this.#schedules;
  }

  #serially<T>(operation: () => Promise<T>): Promise<T> {
    return this.#admin.run(async () => {
      if (this.#closed) throw new WeirError('CLOSED', 'the broker is closed');
      return operation();
    });
  }

  // ---- streams ---------------------------------------------------------------------------

  #place(config: { storage: string }): { fileSystem: FileSystem; root: string; inMemory: boolean } {
    const options = this.#options;
    return options.inMemory || config.storage === 'memory'
      ? { fileSystem: options.memoryFileSystem, root: options.memoryRoot, inMemory: true }
      : { fileSystem: options.fileSystem, root: options.root, inMemory: false };
  }

  async #openStream(name: string, config: Stream['config'], directory: string): Promise<Stream> {
    const place = this.#place(config);
    return Stream.open(
      {
        fileSystem: place.fileSystem,
        directory,
        inMemory: place.inMemory,
        clock: this.#options.clock,
        cluster: this.#options.cluster,
        publish: (message) => this.#route(message, this.now()).then(() => undefined),
        respond: (message, body, options) => this.#respond(message, body, options),
      },
      name,
      config,
    );
  }

  #register(stream: Stream, sequence: number): void {
    stream.start();
    this.#streams.set(stream.name, stream);
    this.#router.add(stream, stream.config.subjects);
    this.#nextSequence = Math.max(this.#nextSequence, sequence + 1);
  }

  async #load(): Promise<void> {
    const { fileSystem, root } = this.#options;
    const streamsDirectory = path.join(root, 'streams');
    await fileSystem.mkdir(streamsDirectory);
    const found: { stream: Stream; sequence: number }[] = [];
    try {
      for (const name of await fileSystem.readdir(streamsDirectory)) {
        const directory = path.join(streamsDirectory, name);
        const metadata = (await readJsonFile(fileSystem, path.join(directory, 'stream.json'))) as {
          version?: unknown;
          sequence?: unknown;
          config?: unknown;
        } | null;
        if (metadata === null) {
          await fileSystem.removeDirectory(directory);
          continue;
        }
        if (metadata.version !== METADATA_VERSION) {
          throw new WeirError(
            'CORRUPT_DATA',
            `${directory}/stream.json has unknown version ${String(metadata.version)}`,
          );
        }
        const config = parseStoredStreamConfig(name, metadata.config);
        const stream = await this.#openStream(name, config, directory);
        found.push({
          stream,
          sequence: typeof metadata.sequence === 'number' ? metadata.sequence : 0,
        });
        for (const group of await loadDurables(stream.host, stream.subscriptionStorage)) {
          stream.subscriptions.set(group.name, group);
        }
      }
    } catch (error) {
      for (const { stream } of found) await stream.close();
      throw error;
    }
    // Committed transactions not done before the last close or crash: completed before any
    // stream starts (no subscription delivers, no scheduler moves, nothing is published yet).
    const transactions = this.#transactions!;
    if (transactions.pendingRecovery > 0) {
      const byName = new Map(found.map(({ stream }) => [stream.name, stream]));
      try {
        await transactions.recover((name) => byName.get(name));
      } catch (error) {
        for (const { stream } of found) await stream.close();
        throw error;
      }
    }
    found.sort((a, b) => a.sequence - b.sequence);
    for (const { stream, sequence } of found) this.#register(stream, sequence);
  }

  #stream(name: string): Stream {
    if (typeof name !== 'string') throw invalid('stream', 'must be a string');
    const stream = this.#streams.get(name);
    if (!stream)
      throw new WeirError('STREAM_NOT_FOUND', `stream ${JSON.stringify(name)} does not exist`);
    return stream;
  }

  /** The stream if it exists (for dead-letter redrive). */
  findStream(name: string): Stream | undefined {
    return this.#streams.get(name);
  }

  /** Streams capturing `subject`, in creation order. */
  streamsFor(subject: string): readonly Stream[] {
    return this.#router.match(subject);
  }

  createStream(name: string, options: unknown): Promise<StreamInfo> {
    return this.#serially(async () => {
      validateUserName(name, 'stream name');
      const { inMemory, cluster } = this.#options;
      const config = resolveStreamConfig(name, options, inMemory ? 'memory' : 'file', {
        nodeCount: cluster === null ? 1 : cluster.nodeCount(),
        clustered: cluster !== null,
      });
      if (inMemory && config.storage === 'file') {
        throw new WeirError(
          'INVALID_ARGUMENT',
          "storage 'file' is not available: this broker keeps everything in memory",
        );
      }
      const existing = this.#streams.get(name);
      if (existing) {
        if (
          !sameStreamConfig(existing.config, withReplicationOf(existing.config, config, options))
        ) {
          throw new WeirError(
            'STREAM_EXISTS',
            `stream ${name} exists with a different configuration`,
          );
        }
        // Recorded again: a create whose recording failed (or a crash before it) heals here.
        if (cluster !== null) {
          await cluster.recordStream(name, existing.config.replicas, existing.config.minInSync);
        }
        return existing.info();
      }
      if (this.#streams.size >= STREAMS_MAX) {
        throw new WeirError('LIMIT_EXCEEDED', `the broker holds ${STREAMS_MAX} streams`);
      }
      const place = this.#place(config);
      const directory = path.join(place.root, 'streams', name);
      await place.fileSystem.removeDirectory(directory); // leftovers of an unfinished creation
      const stream = await this.#openStream(name, config, directory);
      const sequence = this.#nextSequence++;
      try {
        await writeJsonFile(place.fileSystem, path.join(directory, 'stream.json'), {
          version: METADATA_VERSION,
          name,
          sequence,
          config,
        });
      } catch (error) {
        await stream.close();
        throw error;
      }
      this.#register(stream, sequence);
      // Confirmed once the cluster recorded it too. Should that fail the stream stays (it is on
      // disk); the error reaches the caller, and creating it again records it.
      if (cluster !== null) await cluster.recordStream(name, config.replicas, config.minInSync);
      return stream.info();
    });
  }

  /**
   * The cluster as this node sees it (client.cluster.status): SINGLE_NODE_STATUS without one.
   * A view that lists no streams gets this broker's, each with the cluster's leader, epoch and
   * in-sync set (every node holds every stream in this version).
   */
  clusterStatus(): ClusterStatus {
    const cluster = this.#options.cluster;
    if (cluster === null) return SINGLE_NODE_STATUS;
    const status = cluster.status();
    if (status.streams.length > 0) return status;
    return {
      ...status,
      streams: [...this.#streams.values()].map((stream) => ({
        name: stream.name,
        replicas: stream.config.replicas,
        minInSync: stream.config.minInSync,
        leader: status.leader,
        epoch: status.epoch,
        isr: status.isr,
      })),
    };
  }

  /**
   * streams.update: the changed configuration is written to stream.json (atomically, as
   * create writes it) before the stream takes it, so a failed write changes nothing.
   */
  updateStream(name: string, changes: unknown): Promise<StreamInfo> {
    return this.#serially(async () => {
      const stream = this.#stream(name);
      const config = changeStreamConfig(name, stream.config, changes);
      if (sameStreamConfig(stream.config, config)) return stream.info();
      const place = this.#place(config);
      const directory = path.join(place.root, 'streams', name);
      const metadata = (await readJsonFile(
        place.fileSystem,
        path.join(directory, 'stream.json'),
      )) as {
        sequence?: unknown;
      } | null;
      if (stream.closed) throw new WeirError('CLOSED', `stream ${name} is closed`);
      await writeJsonFile(place.fileSystem, path.join(directory, 'stream.json'), {
        version: METADATA_VERSION,
        name,
        sequence: metadata?.sequence ?? 0,
        config,
      });
      stream.reconfigure(config);
      this.#router.replace(stream, config.subjects);
      return stream.info();
    });
  }

  streamInfo(name: string): Promise<StreamInfo> {
    try {
      return Promise.resolve(this.#stream(name).info());
    } catch (error) {
      return rejection(error);
    }
  }

  listStreams(): Promise<StreamInfo[]> {
    return Promise.resolve([...this.#streams.values()].map((stream) => stream.info()));
  }

  deleteStream(name: string): Promise<void> {
    return this.#serially(async () => {
      const stream = this.#stream(name);
      this.#streams.delete(name);
      this.#router.remove(stream);
      await stream.close();
      const place = this.#place(stream.config);
      const directory = path.join(place.root, 'streams', name);
      await place.fileSystem.unlink(path.join(directory, 'stream.json'));
      await place.fileSystem.syncDirectory(directory);
      await place.fileSystem.removeDirectory(directory);
    });
  }

  purgeStream(name: string): Promise<void> {
    return this.#serially(() => this.#stream(name).purge());
  }

  // ---- publishing ------------------------------------------------------------------------

  publish(
    subject: string,
    body: Body,
    options: PublishOptions | undefined,
  ): Promise<PublishReceipt> {
    try {
      if (this.#closed) throw new WeirError('CLOSED', 'the broker is closed');
      const now = this.now();
      const message = encodeMessage(subject, body, options, now);
      if (this.#options.tracing !== null && !isInboxSubject(message.subject)) {
        return this.#tracedStore(this.#options.tracing, message, now);
      }
      return this.#routeOrThrow(message, now);
    } catch (error) {
      return rejection(error);
    }
  }

  /** #routeOrThrow inside a store span that ends when the message is durable (tracing.ts). */
  #tracedStore(tracing: Tracing, message: EncodedMessage, now: number): Promise<PublishReceipt> {
    const span = tracing.startStore(
      message.subject,
      message.record.headers ?? {},
      message.id,
      message.record.body.length,
    );
    let stored: Promise<PublishReceipt>;
    try {
      stored = this.#routeOrThrow(message, now);
    } catch (error) {
      tracing.fail(span, error);
      throw error;
    }
    return tracing.traced(span, stored, (ended, receipt) =>
      tracing.endStore(ended, receipt, message.id),
    );
  }

  /**
   * publish() for callers that publish many and wait once (the server, per PUBLISH frame): a
   * publish to one stream is queued now and its receipt returned with the log and end offset
   * to wait for (`log.durable(end)`); any other (several streams, an inbox, a duplicate) comes
   * back as the promise publish() would give. Throws what publish() would reject with at once.
   */
  publishNow(subject: string, body: Body, options: PublishOptions | undefined): PlacedPublish {
    if (this.#closed) throw new WeirError('CLOSED', 'the broker is closed');
    const now = this.now();
    const message = encodeMessage(subject, body, options, now);
    if (!isInboxSubject(message.subject)) {
      if (this.#options.tracing !== null) {
        return { later: this.#tracedStore(this.#options.tracing, message, now) };
      }
      const streams = this.#router.match(message.subject);
      if (streams.length === 1) {
        const stream = streams[0]!;
        stream.check(message, now);
        const placed = stream.storeNow(message, now);
        if (placed !== null) {
          const receipt: PublishReceipt = {
            stream: placed.stream,
            partition: placed.partition,
            offset: placed.offset,
            duplicate: false,
            scheduled: placed.scheduled,
            streams: [storeResultOf(placed)],
          };
          // A scheduled message is durable once its schedule append is.
          return { receipt, log: placed.log, end: placed.end };
        }
      }
    }
    return { later: this.#routeOrThrow(message, now) };
  }

  /** Stores an encoded message in every stream capturing its subject (or an inbox). */
  #route(message: EncodedMessage, now: number): Promise<PublishReceipt> {
    try {
      return this.#routeOrThrow(message, now);
    } catch (error) {
      return rejection(error);
    }
  }

  #routeOrThrow(message: EncodedMessage, now: number): Promise<PublishReceipt> {
    if (isInboxSubject(message.subject)) {
      // A reply to an inbox that is gone (its client closed or disconnected) or to a request
      // that gave up is dropped and counted: the requester can no longer take it, and the
      // responder must not die of it.
      const inbox = this.#inboxes.get(message.subject);
      if (!inbox || !inbox.deliver(message, now)) this.#repliesDropped++;
      return Promise.resolve({
        stream: '',
        partition: -1,
        offset: -1,
        duplicate: false,
        scheduled: false,
        streams: [],
      });
    }
    const streams = this.#router.match(message.subject);
    if (streams.length === 0) {
      throw new WeirError('NO_ROUTE', `no stream captures the subject ${message.subject}`);
    }
    for (const stream of streams) stream.check(message, now);
    if (streams.length === 1) {
      return streams[0]!.store(message, now).then((result): PublishReceipt => ({
        stream: result.stream,
        partition: result.partition,
        offset: result.offset,
        duplicate: result.duplicate,
        scheduled: result.scheduled,
        streams: [result],
      }));
    }
    return Promise.all(streams.map((stream) => stream.store(message, now))).then(
      (results: StoreResult[]) => ({ ...results[0]!, streams: results }),
    );
  }

  /**
   * Stores in one stream only, bypassing routing (dead-letter redrive to the origin stream);
   * a keyless message goes to `partition` when the stream has it.
   */
  storeIn(stream: Stream, message: EncodedMessage, partition?: number): Promise<StoreResult> {
    try {
      const now = this.now();
      stream.check(message, now);
      return stream.store(message, now, partition);
    } catch (error) {
      return rejection(error);
    }
  }

  #respond(message: StoredMessage, body: Body, options: RespondOptions | undefined): Promise<void> {
    if (message.replyTo === null) {
      return Promise.reject(
        new WeirError('INVALID_ARGUMENT', 'the message has no replyTo to respond to'),
      );
    }
    const publishOptions: {
      headers?: NonNullable<RespondOptions['headers']>;
      correlationId?: string;
    } = {};
    if (options?.headers !== undefined) publishOptions.headers = options.headers;
    if (message.correlationId !== null) publishOptions.correlationId = message.correlationId;
    return this.publish(message.replyTo, body, publishOptions).then(() => undefined);
  }

  // ---- transactions ----------------------------------------------------------------------

  /** Commits a transaction a client buffered (transactions.ts). */
  commitTransaction(request: CommitRequest): Promise<PublishReceipt[]> {
    if (this.#closed) return Promise.reject(new WeirError('CLOSED', 'the broker is closed'));
    return this.#transactions!.commit(request);
  }

  // ---- inboxes ---------------------------------------------------------------------------

  openInbox(): Inbox {
    const inbox = new Inbox(this.#options.clock);
    // 128 random bits: a collision with a live inbox is as unlikely as a guess.
    assert(!this.#inboxes.has(inbox.subject), 'inbox subjects are unique');
    this.#inboxes.set(inbox.subject, inbox);
    return inbox;
  }

  closeInbox(inbox: Inbox): void {
    inbox.close();
    if (this.#inboxes.get(inbox.subject) === inbox) this.#inboxes.delete(inbox.subject);
  }

  // ---- subscriptions ---------------------------------------------------------------------

  /** Adds a consumer to the subscription (creating it first if needed). */
  async subscribe(
    streamName: string,
    options: SubscribeOptions | undefined,
    onClose: (consumer: Consumer) => void,
    delivered: ((message: DeliveredMessage) => void) | null = null,
    tracing: Tracing | null = null,
  ): Promise<Consumer> {
    if (this.#closed) throw new WeirError('CLOSED', 'the broker is closed');
    const resolved = resolveSubscribe(options);
    if (resolved.name !== null) validateUserName(resolved.name, 'subscription');
    let group: SubscriptionGroup;
    if (resolved.name === null) {
      const stream = this.#stream(streamName);
      checkOffsetInRange(resolved.start, stream, 'start');
      group = await createEphemeral(
        stream.host,
        `_ephemeral-${this.#nextEphemeral++}`,
        resolved.config,
        resolved.start,
      );
      if (stream.closed)
        throw new WeirError('STREAM_NOT_FOUND', `stream ${streamName} was deleted`);
      stream.subscriptions.set(group.name, group);
    } else {
      const name = resolved.name;
      group = await this.#serially(async () => {
        const stream = this.#stream(streamName);
        const existing = stream.subscriptions.get(name);
        if (existing) {
          const field = conflictingField(existing.config, resolved);
          if (field !== null) {
            throw new WeirError(
              'SUBSCRIPTION_EXISTS',
              `subscription ${name} exists with a different ${field}`,
            );
          }
          return existing;
        }
        checkOffsetInRange(resolved.start, stream, 'start');
        if (stream.subscriptions.size >= SUBSCRIPTIONS_PER_STREAM_MAX) {
          throw new WeirError(
            'LIMIT_EXCEEDED',
            `stream ${streamName} holds ${SUBSCRIPTIONS_PER_STREAM_MAX} subscriptions`,
          );
        }
        const created = await createDurable(
          stream.host,
          stream.subscriptionStorage,
          name,
          resolved.config,
          resolved.start,
        );
        stream.subscriptions.set(name, created);
        return created;
      });
    }
    if (group.consumerCount >= CONSUMERS_PER_SUBSCRIPTION_MAX) {
      throw new WeirError(
        'LIMIT_EXCEEDED',
        `subscription ${group.name} has ${CONSUMERS_PER_SUBSCRIPTION_MAX} consumers`,
      );
    }
    const consumer = new Consumer({
      id: this.#nextConsumerId++,
      stream: streamName,
      name: group.name,
      maxInFlight: resolved.maxInFlight,
      host: group,
      delivered,
      circuitBreaker: resolved.circuitBreaker,
      clock: this.#options.clock,
      tracing,
      onClose: (closed) => {
        onClose(closed);
        if (!group.durable && group.consumerCount === 0) this.#dropEphemeral(streamName, group);
      },
    });
    try {
      group.addConsumer(consumer);
    } catch (error) {
      if (!group.durable) this.#dropEphemeral(streamName, group);
      throw error;
    }
    return consumer;
  }

  #dropEphemeral(streamName: string, group: SubscriptionGroup): void {
    const stream = this.#streams.get(streamName);
    if (stream?.subscriptions.get(group.name) === group) stream.subscriptions.delete(group.name);
    group.close().catch(() => undefined);
  }

  #group(streamName: string, name: string): { stream: Stream; group: SubscriptionGroup } {
    const stream = this.#stream(streamName);
    if (typeof name !== 'string') throw invalid('subscription', 'must be a string');
    const group = stream.subscriptions.get(name);
    if (!group) {
      throw new WeirError(
        'SUBSCRIPTION_NOT_FOUND',
        `stream ${streamName} has no subscription ${JSON.stringify(name)}`,
      );
    }
    return { stream, group };
  }

  subscriptionInfo(streamName: string, name: string): Promise<SubscriptionInfo> {
    try {
      return Promise.resolve(this.#group(streamName, name).group.info());
    } catch (error) {
      return rejection(error);
    }
  }

  /** The last progress reported for a message of the subscription (Message.progress), or null. */
  findProgress(
    streamName: string,
    name: string,
    selector: ProgressSelector,
  ): Promise<JobProgress | null> {
    try {
      const group = this.#group(streamName, name).group;
      return Promise.resolve(group.findProgress(checkProgressSelector(selector)));
    } catch (error) {
      return rejection(error);
    }
  }

  listProgress(streamName: string, name: string): Promise<JobProgress[]> {
    try {
      return Promise.resolve(this.#group(streamName, name).group.listProgress());
    } catch (error) {
      return rejection(error);
    }
  }

  listSubscriptions(streamName: string): Promise<SubscriptionInfo[]> {
    try {
      return Promise.resolve(
        [...this.#stream(streamName).subscriptions.values()].map((group) => group.info()),
      );
    } catch (error) {
      return rejection(error);
    }
  }

  deleteSubscription(streamName: string, name: string): Promise<void> {
    return this.#serially(async () => {
      const { stream, group } = this.#group(streamName, name);
      stream.subscriptions.delete(name);
      await group.close();
      if (group.durable) await removeDurable(stream.subscriptionStorage, name);
    });
  }

  seek(streamName: string, name: string, position: StartPosition): Promise<void> {
    return this.#serially(async () => {
      const target = validateStart(position, 'position');
      const { stream, group } = this.#group(streamName, name);
      checkOffsetInRange(target, stream, 'position');
      const floors = await floorsFor(target, stream.logs, (partition) =>
        stream.startOffset(partition),
      );
      await group.seek(floors);
    });
  }

  /** Creates a broker-owned durable subscription (names start with '_') if it does not exist. */
  internalSubscription(stream: Stream, name: string, filter: string): Promise<SubscriptionGroup> {
    return this.#serially(async () => {
      if (stream.closed)
        throw new WeirError('STREAM_NOT_FOUND', `stream ${stream.name} was deleted`);
      const existing = stream.subscriptions.get(name);
      if (existing) return existing;
      const { config } = resolveSubscribe({ filter });
      const group = await createDurable(
        stream.host,
        stream.subscriptionStorage,
        name,
        config,
        'earliest',
      );
      stream.subscriptions.set(name, group);
      return group;
    });
  }

  // ---- closing ---------------------------------------------------------------------------

  /** Closes every stream (its consumers end); waits for metadata operations in progress. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#admin.idle();
    // Before the streams: a firing in progress finishes its publish and its state write.
    await this.#schedules?.close();
    // Commits in progress finish applying before the streams close under them.
    try {
      await this.#transactions?.close();
    } catch {
      // Its entries are on disk or not; the next open reads what is there.
    }
    for (const inbox of this.#inboxes.values()) inbox.close();
    this.#inboxes.clear();
    const streams = [...this.#streams.values()];
    this.#streams.clear();
    const errors: unknown[] = [];
    for (const stream of streams) {
      try {
        await stream.close();
      } catch (error) {
        errors.push(error);
      }
    }
    if (errors.length > 0) throw errors[0] as Error;
  }
}

/**
 * `given` with the existing stream's replicas and minInSync where the create left them out:
 * their defaults follow the cluster's node count, which may have changed since the stream was
 * made, and a create repeating a stream's other options is still the same create.
 */
function withReplicationOf(
  existing: Stream['config'],
  given: Stream['config'],
  options: unknown,
): Stream['config'] {
  const input = (options ?? {}) as { replicas?: unknown; minInSync?: unknown };
  if (input.replicas !== undefined && input.minInSync !== undefined) return given;
  return {
    ...given,
    replicas: input.replicas === undefined ? existing.replicas : given.replicas,
    minInSync: input.minInSync === undefined ? existing.minInSync : given.minInSync,
  };
}

/**
 * An offset past a partition's end is refused with OFFSET_OUT_OF_RANGE (the end itself means
 * "from the next message"); with no `partition` the offset applies to every partition, so it
 * must be within each. An offset below a partition's start (retention removed it) is not an
 * error: floorsFor clamps it to the start, as NATS JetStream starts at the first message it
 * still has and Kafka consumers reset to the earliest.
 */
function checkOffsetInRange(position: StartPosition, stream: Stream, field: string): void {
  if (typeof position !== 'object' || !('offset' in position)) return;
  stream.logs.forEach((log, partition) => {
    if (position.partition !== undefined && position.partition !== partition) return;
    if (position.offset > log.endOffset) {
      throw new WeirError(
        'OFFSET_OUT_OF_RANGE',
        `${field}.offset ${position.offset} is past the end of ${stream.name} partition ${partition} (its next offset is ${log.endOffset})`,
      );
    }
  });
}
