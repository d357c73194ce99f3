/**
 * Publish + ack load on a cluster for the failover tests: publishers that publish numbered
 * messages (each with an `id`, so a retry after an unknown outcome is deduplicated) and
 * retry a failed one until it is confirmed, and a consumer that acks what it gets. It keeps
 * what the guarantees are about: the numbers confirmed, the numbers whose ack resolved, and
 * every delivery of a number whose ack had resolved before (an acked message redelivered).
 */
import type { Client } from '../../src/index.js';

/** After a failed publish or a lost subscription, wait this before the next try. */
const RETRY_MS = 50;

export interface ClusterLoad {
  readonly confirmed: Set<number>;
  readonly acked: Set<number>;
  /** Numbers delivered again after their ack had resolved. */
  readonly ackedRedelivered: number[];
  /** Resolves at the first confirm of a publish started after `sinceMs` (ms since the epoch). */
  confirmAfter(sinceMs: number, timeoutMs: number): Promise<number>;
  /** Resolves once `count` more publishes were confirmed than now. */
  progress(count: number, timeoutMs: number): Promise<void>;
  stop(): Promise<void>;
}

export function startLoad(
  mq: Client,
  options: { stream: string; subject: string; publishers: number },
): ClusterLoad {
  const confirmed = new Set<number>();
  const acked = new Set<number>();
  const ackedRedelivered: number[] = [];
  const waiters = new Set<() => void>();
  let stopped = false;
  let next = 0;
  const confirms: { startedMs: number; confirmedMs: number }[] = [];
  const notify = () => {
    for (const waiter of waiters) waiter();
  };
  const publisher = async () => {
    while (!stopped) {
      const n = next++;
      for (;;) {
        if (stopped) return;
        const startedMs = Date.now();
        try {
          await mq.publish(options.subject, { n }, { id: `m-${n}` });
          confirmed.add(n);
          confirms.push({ startedMs, confirmedMs: Date.now() });
          if (confirms.length > 10_000) confirms.splice(0, 5_000);
          notify();
          break;
        } catch {
          await new Promise((resolve) => setTimeout(resolve, RETRY_MS));
        }
      }
    }
  };
  const consumer = async () => {
    while (!stopped) {
      try {
        const subscription = await mq.subscribe(options.stream, {
          subscription: 'workers',
          maxInFlight: 64,
        });
        for await (const msg of subscription) {
          const n = msg.json<{ n: number }>().n;
          if (acked.has(n)) ackedRedelivered.push(n);
          try {
            await msg.ack();
            acked.add(n);
          } catch {
            // not acked (the connection went): it may come again, which is allowed
          }
          if (stopped) break;
        }
        await subscription.close().catch(() => {});
      } catch {
        await new Promise((resolve) => setTimeout(resolve, RETRY_MS));
      }
    }
  };
  const running = [...Array.from({ length: options.publishers }, () => publisher()), consumer()];
  const waitUntil = (condition: () => number | null, timeoutMs: number, what: string) =>
    new Promise<number>((resolve, reject) => {
      const check = () => {
        const value = condition();
        if (value === null) return;
        finish();
        resolve(value);
      };
      const timer = setTimeout(() => {
        finish();
        reject(new Error(`${what} not within ${timeoutMs} ms (confirmed ${confirmed.size})`));
      }, timeoutMs);
      const finish = () => {
        clearTimeout(timer);
        waiters.delete(check);
      };
      waiters.add(check);
      check();
    });
  return {
    confirmed,
    acked,
    ackedRedelivered,
    confirmAfter: (sinceMs, timeoutMs) =>
      waitUntil(
        () => confirms.find((entry) => entry.startedMs >= sinceMs)?.confirmedMs ?? null,
        timeoutMs,
        'a publish confirmed after the kill',
      ),
    progress: (count, timeoutMs) => {
      const target = confirmed.size + count;
      return waitUntil(
        () => (confirmed.size >= target ? 1 : null),
        timeoutMs,
        `${count} more confirms`,
      ).then(() => undefined);
    },
    stop: async () => {
      stopped = true;
      notify();
      await Promise.race([
        Promise.allSettled(running),
        new Promise((resolve) => setTimeout(resolve, 5_000)),
      ]);
    },
  };
}
