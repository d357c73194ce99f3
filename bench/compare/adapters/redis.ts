/**
 * Redis Streams through ioredis, with the peer harness's settings: XADD key * d <payload>
 * (no MAXLEN), auto-pipelined with 1000 outstanding replies; one consumer group per
 * subscriber, read with XREADGROUP GROUP g c1 COUNT 1000 BLOCK 1000 STREAMS key >, one XACK
 * per message, a batch's XACKs sent as one explicit pipeline. W4 is PUBLISH/SUBSCRIBE with
 * 1000 outstanding PUBLISH replies, auto-pipelined.
 *
 * Durability is the server's configuration, read at open with CONFIG GET (appendonly,
 * appendfsync, save) and stated as found: with `appendfsync everysec` a reply comes before
 * the fsync (up to ~1 s of acknowledged writes can be lost); with appendonly no and no save
 * rules, nothing is persisted at all.
 */
import { Redis } from 'ioredis';
import {
  FAST_WINDOW,
  windowedFastProducer,
  type AdapterOptions,
  type BrokerAdapter,
} from '../adapter.js';

const REDIS_HOST = '127.0.0.1';
const REDIS_PORT = 6379;
const BLOCK_MS = 1000;

export interface RedisPersistence {
  readonly appendonly: string;
  readonly appendfsync: string;
  readonly save: string;
}

export function describeRedisPersistence(persistence: RedisPersistence): string {
  if (persistence.appendonly === 'yes') {
    return persistence.appendfsync === 'always'
      ? 'AOF appendfsync always: fsync before the reply'
      : `AOF appendfsync ${persistence.appendfsync}: reply before fsync (everysec: up to ~1 s of acknowledged writes lost on a crash)`;
  }
  return persistence.save.trim() === ''
    ? 'NO persistence on this server (appendonly no, no RDB save rules): acknowledged writes live in memory only'
    : `no AOF (appendonly no); RDB snapshots only (save "${persistence.save}"): acknowledged writes since the last snapshot are lost on a crash`;
}

async function configValue(redis: Redis, name: string): Promise<string> {
  const reply = (await redis.config('GET', name)) as unknown;
  return Array.isArray(reply) && typeof reply[1] === 'string' ? reply[1] : '?';
}

export async function readRedisPersistence(redis: Redis): Promise<RedisPersistence> {
  return {
    appendonly: await configValue(redis, 'appendonly'),
    appendfsync: await configValue(redis, 'appendfsync'),
    save: await configValue(redis, 'save'),
  };
}

/** The few connection options the bench varies. */
export interface RedisConnectionOptions {
  readonly enableAutoPipelining?: boolean;
  readonly lazyConnect?: boolean;
}

export function openRedisConnection(extra: RedisConnectionOptions = {}): Redis {
  return new Redis({
    host: REDIS_HOST,
    port: REDIS_PORT,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null, // no reconnecting: a lost connection fails the run
    ...extra,
  });
}

export async function openRedis(
  options: AdapterOptions,
  clientVersion: string,
): Promise<BrokerAdapter> {
  const connections: Redis[] = [];
  const open = async (extra: RedisConnectionOptions = {}): Promise<Redis> => {
    const connection = openRedisConnection(extra);
    connections.push(connection);
    connection.on('error', (error: Error) =>
      console.error('redis connection error:', error.message),
    );
    await connection.ping();
    return connection;
  };
  const admin = await open();
  const persistence = await readRedisPersistence(admin);
  const info = await admin.info('server');
  const version = /redis_version:(\S+)/.exec(info)?.[1] ?? '?';

  return {
    description: {
      broker: 'redis',
      serverVersion: `Redis ${version}`,
      client: `ioredis ${clientVersion}`,
      durability: describeRedisPersistence(persistence),
      settings: {
        server: `as found: appendonly ${persistence.appendonly}, appendfsync ${persistence.appendfsync}, save "${persistence.save}"`,
        stream: 'XADD key * d <payload>, no MAXLEN trimming; acked entries stay in the stream',
        publish: `XADD with ${options.window} outstanding replies, ioredis enableAutoPipelining`,
        consume: `XREADGROUP GROUP g c1 COUNT ${options.batch} BLOCK ${BLOCK_MS} STREAMS key >, one XACK per message, a batch's XACKs in one pipeline`,
        fanout: 'one stream, one consumer group per subscriber, one connection each',
        w4: `PUBLISH/SUBSCRIBE, ${FAST_WINDOW} outstanding PUBLISH replies, auto-pipelined`,
      },
    },

    async setupDurable(name, groups) {
      await admin.del(name);
      const names = Array.from({ length: groups }, (_, index) => `g${index + 1}`);
      for (const group of names) await admin.xgroup('CREATE', name, group, '$', 'MKSTREAM');
      return { name, groups: names };
    },

    async durableProducer(target) {
      const connection = await open({ enableAutoPipelining: true });
      return {
        publish(body, done) {
          connection.xadd(target.name, '*', 'd', body).then(
            () => done(),
            (error: unknown) => done(error ?? new Error('XADD failed')),
          );
        },
      };
    },

    async consume(target, group, onMessage) {
      // No auto-pipelining: a blocked XREADGROUP in an auto-pipeline would hold the XACK
      // replies back. The XACKs of one batch go as one explicit pipeline instead.
      const connection = await open();
      let stopped = false;
      let lastAck: Promise<unknown> = Promise.resolve();
      // Bounded: each XREADGROUP blocks at most BLOCK_MS; stop() ends the loop.
      const loop = (async () => {
        while (!stopped) {
          const reply = await connection.xreadgroupBuffer(
            'GROUP',
            group,
            'c1',
            'COUNT',
            options.batch,
            'BLOCK',
            BLOCK_MS,
            'STREAMS',
            target.name,
            '>',
          );
          if (!reply) continue;
          const pipeline = connection.pipeline();
          for (const [, entries] of reply as [Buffer, [Buffer, Buffer[] | null][]][]) {
            for (const [id, fields] of entries) {
              const body = fields?.[1];
              if (body) onMessage(body);
              pipeline.xack(target.name, group, id);
            }
          }
          lastAck = pipeline.exec();
        }
      })().catch((error: unknown) => {
        if (!stopped) console.error('redis consumer loop:', error);
      });
      return {
        sync: async () => void (await lastAck),
        stop: async () => {
          stopped = true;
          await loop;
        },
      };
    },

    setupFast(name) {
      return Promise.resolve({ name, groups: [] });
    },

    async fastProducer(target) {
      const connection = await open({ enableAutoPipelining: true });
      return windowedFastProducer((body) => connection.publish(target.name, body));
    },

    async fastSubscribe(target, onMessage) {
      const connection = await open();
      connection.on('messageBuffer', (_channel: Buffer, message: Buffer) => onMessage(message));
      await connection.subscribe(target.name);
      return {
        sync: () => Promise.resolve(),
        stop: async () => void (await connection.unsubscribe(target.name)),
      };
    },

    async verify(target) {
      if (target.groups.length === 0) return {};
      const result: Record<string, unknown> = { length: await admin.xlen(target.name) };
      for (const group of target.groups) {
        const pending = await admin.xpending(target.name, group);
        result[group] = { pending: pending[0] };
      }
      return result;
    },

    async cleanup(target) {
      if (target.groups.length > 0) await admin.del(target.name);
    },

    close() {
      for (const connection of connections.reverse()) connection.disconnect();
      return Promise.resolve();
    },
  };
}
