/**
 * The client side of `client.transaction(fn)`, shared by the embedded client and the network
 * SDK: the Transaction `fn` gets (it only buffers), the options check, the timeout, and the
 * order of things (fn, then one commit of everything it buffered). What a publish or an ack
 * becomes, and how the commit reaches the broker, each transport says (`prepare*`, `commit`).
 *
 * Concurrency: one buffer per transaction() call; fn may call publish / ack from several of
 * its own async tasks, up to the moment fn settles (later calls throw CLOSED).
 */
import {
  TRANSACTION_BYTES_MAX,
  TRANSACTION_ENTRIES_MAX,
  TRANSACTION_TIMEOUT_MS_DEFAULT,
  TRANSACTION_TIMEOUT_MS_MAX,
} from '../limits.js';
import { WeirError } from '../util/index.js';
import {
  TRANSACTION_OPTION_NAMES,
  type Body,
  type Message,
  type PublishOptions,
  type PublishReceipt,
  type Transaction,
  type TransactionOptions,
} from './api.js';

/** What a transport makes of one buffered publish (throws INVALID_ARGUMENT for bad input). */
export interface PreparedPublish<P> {
  readonly entry: P;
  /** Body + key + user header bytes, counted against TRANSACTION_BYTES_MAX. */
  readonly bytes: number;
}

export interface TransactionTransport<P, A> {
  preparePublish(
    subject: string,
    body: Body,
    options: PublishOptions | undefined,
  ): PreparedPublish<P>;
  /** Throws INVALID_ARGUMENT for something that is not a message of this transport. */
  prepareAck(message: Message): A;
  /** Commits everything buffered (never called with nothing buffered); the receipts in order. */
  commit(publishes: readonly P[], acks: readonly A[]): Promise<readonly PublishReceipt[]>;
}

export class TransactionBuffer<P, A> implements Transaction {
  readonly publishes: P[] = [];
  readonly acks: A[] = [];
  readonly #transport: TransactionTransport<P, A>;
  #bytes = 0;
  #ended = false;
  #receipts: readonly PublishReceipt[] = [];

  constructor(transport: TransactionTransport<P, A>) {
    this.#transport = transport;
  }

  get receipts(): readonly PublishReceipt[] {
    return this.#receipts;
  }

  publish(subject: string, body: Body, options?: PublishOptions): void {
    this.#checkRoom();
    const prepared = this.#transport.preparePublish(subject, body, options);
    if (this.#bytes + prepared.bytes > TRANSACTION_BYTES_MAX) {
      throw new WeirError(
        'INVALID_ARGUMENT',
        `a transaction publishes at most ${TRANSACTION_BYTES_MAX} bytes (TRANSACTION_BYTES_MAX)`,
      );
    }
    this.#bytes += prepared.bytes;
    this.publishes.push(prepared.entry);
  }

  ack(message: Message): void {
    this.#checkRoom();
    this.acks.push(this.#transport.prepareAck(message));
  }

  #checkRoom(): void {
    if (this.#ended) {
      throw new WeirError('CLOSED', 'the transaction has ended: buffer inside its function only');
    }
    if (this.publishes.length + this.acks.length >= TRANSACTION_ENTRIES_MAX) {
      throw new WeirError(
        'INVALID_ARGUMENT',
        `a transaction holds at most ${TRANSACTION_ENTRIES_MAX} publishes and acks (TRANSACTION_ENTRIES_MAX)`,
      );
    }
  }

  /** fn settled: nothing more may be buffered. */
  end(): void {
    this.#ended = true;
  }

  committed(receipts: readonly PublishReceipt[]): void {
    this.#receipts = Object.freeze([...receipts]);
  }
}

/** The timeout of `options` (INVALID_ARGUMENT naming a bad field). */
export function transactionTimeoutMs(options: TransactionOptions | undefined): number {
  if (options === undefined) return TRANSACTION_TIMEOUT_MS_DEFAULT;
  if (typeof options !== 'object' || options === null || Array.isArray(options)) {
    throw new WeirError('INVALID_ARGUMENT', 'transaction options must be an object');
  }
  for (const name of Object.keys(options)) {
    if (!TRANSACTION_OPTION_NAMES.has(name)) {
      throw new WeirError(
        'INVALID_ARGUMENT',
        `transaction options.${name} is not an option (known: ${[...TRANSACTION_OPTION_NAMES].join(', ')})`,
      );
    }
  }
  const timeoutMs: unknown = options.timeoutMs;
  if (timeoutMs === undefined) return TRANSACTION_TIMEOUT_MS_DEFAULT;
  if (
    typeof timeoutMs !== 'number' ||
    !Number.isSafeInteger(timeoutMs) ||
    timeoutMs < 1 ||
    timeoutMs > TRANSACTION_TIMEOUT_MS_MAX
  ) {
    throw new WeirError(
      'INVALID_ARGUMENT',
      `timeoutMs must be an integer in 1..${TRANSACTION_TIMEOUT_MS_MAX} (got ${typeof timeoutMs === 'number' ? timeoutMs : typeof timeoutMs})`,
    );
  }
  return timeoutMs;
}

/**
 * `client.transaction(fn, options)` over a transport: runs fn with a buffer, then commits
 * what it buffered (nothing buffered: nothing to commit). fn throws, or runs past the
 * timeout: nothing is committed and the error (TIMEOUT) is rethrown.
 */
export async function runTransaction<T, P, A>(
  transport: TransactionTransport<P, A>,
  fn: (tx: Transaction) => Promise<T>,
  options: TransactionOptions | undefined,
): Promise<T> {
  if (typeof fn !== 'function') {
    throw new WeirError('INVALID_ARGUMENT', 'transaction needs a function (tx) => Promise');
  }
  const timeoutMs = transactionTimeoutMs(options);
  const buffer = new TransactionBuffer(transport);
  let timer: ReturnType<typeof setTimeout> | null = null;
  let value: T;
  try {
    const timeout = new Promise<never>((_resolve, reject) => {
      timer = setTimeout(
        () =>
          reject(
            new WeirError(
              'TIMEOUT',
              `the transaction function ran longer than ${timeoutMs} ms: nothing was committed`,
            ),
          ),
        timeoutMs,
      );
    });
    const running = Promise.resolve().then(() => fn(buffer));
    running.catch(() => undefined); // past the timeout nobody waits for it
    value = await Promise.race([running, timeout]);
  } finally {
    if (timer !== null) clearTimeout(timer);
    buffer.end();
  }
  if (buffer.publishes.length === 0 && buffer.acks.length === 0) return value;
  buffer.committed(await transport.commit(buffer.publishes, buffer.acks));
  return value;
}
