/**
 * The playground run's consumers: handles of one durable shared subscription, as many as the
 * parameters say, each working like an application's worker.
 *
 * A consumer takes one message at a time (it holds up to PLAYGROUND_CONSUMER_IN_FLIGHT), works
 * on it for `processingMs`, then nacks it with probability `failureRate` (always, for a
 * poison message) or acks it. Fewer consumers: the surplus closes, handing back what it holds
 * at once (a graceful stop).
 *
 * A crash is not graceful: the consumer takes every delivery it holds (their leases start)
 * and stops working, settling nothing, so the broker's lease timers bring the messages back
 * and they are redelivered to the others. Its handle is closed once its leases have run out
 * (and before their retry backoff ends), like the connection of a dead peer, and a new
 * consumer starts in its place.
 *
 * Concurrency: `reconcile` runs in a Lane (a change and a crash's replacement may ask at once).
 */
import type { Client, Message, SubscribeOptions, Subscription } from '../../protocol/index.js';
import {
  PLAYGROUND_BACKOFF_MS_INITIAL,
  PLAYGROUND_BACKOFF_MS_MAX,
  PLAYGROUND_CONSUMER_IN_FLIGHT,
  PLAYGROUND_TICK_MS,
} from '../../limits.js';
import { Lane } from '../../util/index.js';
import type { PlaygroundParameters } from './playground-parameters.js';

/** The header that marks the poison message (every consumer fails it). */
export const POISON_HEADER = 'playground-poison';

/** What the consumers need from their run. */
export interface ConsumersHost {
  readonly client: Client;
  readonly stream: string;
  readonly subscription: string;
  readonly deadLetterSubject: string;
  parameters(): PlaygroundParameters;
  stopped(): boolean;
  /** Draws in [0, 1) for the failure rate. */
  random(): number;
  /** Resolves after `ms` on the run's clock, or when the run stops. */
  wait(ms: number): Promise<void>;
  /** Runs `callback` `ms` from now on the run's clock, unless the run stopped. */
  once(ms: number, callback: () => void): void;
  settled(outcome: 'acked' | 'nacked'): void;
  crashed(detail: string): void;
  failed(error: unknown): void;
}

interface Worker {
  readonly id: number;
  readonly subscription: Subscription;
  state: 'working' | 'crashed' | 'leaving';
  loop: Promise<void>;
}

export class PlaygroundConsumers {
  readonly #host: ConsumersHost;
  readonly #workers: Worker[] = [];
  readonly #lane = new Lane();
  #nextId = 1;

  constructor(host: ConsumersHost) {
    this.#host = host;
  }

  /** Consumers working now (not crashed, not leaving). */
  get working(): number {
    return this.#working().length;
  }

  /** Starts or stops consumers until as many work as the parameters say. */
  reconcile(): Promise<void> {
    return this.#lane.run(async () => {
      const host = this.#host;
      while (!host.stopped() && this.#working().length < host.parameters().consumers) {
        const subscription = await host.client.subscribe(host.stream, this.#options());
        if (host.stopped()) {
          await subscription.close();
          return;
        }
        const worker: Worker = {
          id: this.#nextId++,
          subscription,
          state: 'working',
          loop: Promise.resolve(),
        };
        this.#workers.push(worker);
        worker.loop = this.#work(worker);
      }
      for (const worker of this.#working().slice(host.parameters().consumers)) {
        worker.state = 'leaving';
        await worker.subscription.close();
        await worker.loop;
        this.#remove(worker);
      }
    });
  }

  /** Crashes the first working consumer (see the header); false if none works. */
  async crash(): Promise<boolean> {
    const victim = this.#working()[0];
    if (victim === undefined) return false;
    victim.state = 'crashed';
    // Take whatever it had buffered, as a consumer in the middle of a batch would: every
    // delivery it holds now has a running lease that nothing will settle.
    let taken = 0;
    for (let index = 0; index < PLAYGROUND_CONSUMER_IN_FLIGHT; index++) {
      const message = await victim.subscription.receive({ timeoutMs: 0 });
      if (message === null) break;
      taken++;
    }
    const leaseMs = this.#host.parameters().leaseMs;
    this.#host.crashed(
      `consumer ${victim.id} crashed holding its deliveries (${taken} more taken); they come back after the ${leaseMs} ms lease`,
    );
    this.#host.once(leaseMs + PLAYGROUND_TICK_MS, () => {
      void (async () => {
        await victim.subscription.close();
        await victim.loop;
        this.#remove(victim);
        await this.reconcile();
      })().catch((error: unknown) => this.#host.failed(error));
    });
    return true;
  }

  /** Closes every consumer (what they hold goes back) and waits for their loops to end. */
  async close(): Promise<void> {
    await this.#lane.idle();
    for (const worker of this.#workers) worker.state = 'leaving';
    await Promise.allSettled(this.#workers.map((worker) => worker.subscription.close()));
    await Promise.allSettled(this.#workers.map((worker) => worker.loop));
    this.#workers.length = 0;
  }

  #options(): SubscribeOptions {
    const { leaseMs, maxDeliveries } = this.#host.parameters();
    return {
      subscription: this.#host.subscription,
      mode: 'shared',
      start: 'earliest',
      leaseMs,
      maxDeliveries,
      deadLetter: this.#host.deadLetterSubject,
      backoff: {
        initialMs: PLAYGROUND_BACKOFF_MS_INITIAL,
        maxMs: PLAYGROUND_BACKOFF_MS_MAX,
        multiplier: 2,
      },
      maxInFlight: PLAYGROUND_CONSUMER_IN_FLIGHT,
    };
  }

  async #work(worker: Worker): Promise<void> {
    try {
      while (worker.state === 'working') {
        const message = await worker.subscription.receive();
        if (message === null || worker.state !== 'working') return; // closed, or crashed: held
        await this.#host.wait(this.#host.parameters().processingMs);
        if (worker.state !== 'working') return; // crashed while working: never settled
        await this.#settle(message);
      }
    } catch (error) {
      if (!this.#host.stopped() && worker.state === 'working') this.#host.failed(error);
    }
  }

  async #settle(message: Message): Promise<void> {
    const poison = message.headers[POISON_HEADER] === 'true';
    if (poison || this.#host.random() < this.#host.parameters().failureRate) {
      await message.nack();
      this.#host.settled('nacked');
    } else {
      await message.ack();
      this.#host.settled('acked');
    }
  }

  #working(): Worker[] {
    return this.#workers.filter((worker) => worker.state === 'working');
  }

  #remove(worker: Worker): void {
    const index = this.#workers.indexOf(worker);
    if (index >= 0) this.#workers.splice(index, 1);
  }
}
