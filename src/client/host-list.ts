/**
 * The hosts a client may connect to (one, or a cluster's nodes: `weir://h1:p1,h2:p2,…`) and
 * the order one connect round tries them in.
 *
 * A round starts with the address that last worked and goes on through the listed hosts in
 * list order, each tried at most once. A host that answers HELLO with NOT_LEADER and a hint
 * (its message ends with ` leader=HOST:PORT`, docs/cluster.md) is followed to that address
 * next, at most CLIENT_LEADER_HOPS_MAX times a round; without a hint, or with a hint at an
 * address this round already tried, the round goes on with the next listed host. Any other
 * failure to reach a host or to shake hands with it (refused, reset, timed out, a server at
 * its connection limit) does too, except a refusal no other node would change (`isFinal`:
 * the credentials): that ends the round at once. Backoff between rounds is the caller's
 * (network-client.ts); a round itself waits only for each attempt.
 *
 * Concurrency: one round at a time per list (the client opens one connection at a time).
 */
import { CLIENT_LEADER_HOPS_MAX } from '../limits.js';
import { WeirError, isWeirError } from '../protocol/index.js';
import { assert } from '../util/index.js';
import type { TransportAddress } from './transport.js';
import { parseHostPort } from './weir-url.js';

/** The hint a follower's NOT_LEADER ends with. */
const LEADER_HINT = / leader=(\S+)$/;

function endpoint(address: TransportAddress): string {
  return `${address.host.toLowerCase()}:${address.port}`;
}

export class HostList {
  readonly addresses: readonly TransportAddress[];
  /** The list as it may be shown (no user information). */
  readonly url: string;
  readonly #secure: boolean;
  /** What the last connection that got through was made to: a listed host or a leader a hint named. */
  #lastWorked: TransportAddress | null = null;
  /** The listed host the next round starts from: the one that led to the last connection. */
  #startIndex = 0;
  /**
   * The last round failed but a node of it answered NOT_LEADER: the cluster is up and electing
   * (or about to be followed), so the next round is worth trying soon (network-client.ts).
   */
  electing = false;

  constructor(addresses: readonly TransportAddress[], url: string, secure: boolean) {
    assert(addresses.length >= 1, 'a host list has a host');
    this.addresses = addresses;
    this.url = url;
    this.#secure = secure;
  }

  /** Where a NOT_LEADER refusal says the leader is; null when it names none (or not readably). */
  leaderHint(error: WeirError): TransportAddress | null {
    if (error.code !== 'NOT_LEADER') return null;
    const hint = LEADER_HINT.exec(error.message);
    return hint === null ? null : parseHostPort(hint[1]!, this.#secure);
  }

  /**
   * One round: resolves with the first attempt that succeeds, rejects with a final refusal at
   * once, or, once every host failed, with the last failure (its message saying a list was
   * tried). `stopped` is asked before each attempt after the first: true ends the round with
   * the failure so far (the client was closed meanwhile).
   */
  async connect<T>(
    attempt: (address: TransportAddress) => Promise<T>,
    isFinal: (error: WeirError) => boolean,
    stopped: () => boolean,
  ): Promise<T> {
    const tried = new Set<string>();
    let lastError: WeirError | null = null;
    let hops = 0;
    this.electing = false;
    for (const start of this.#roundOrder()) {
      let target: TransportAddress | null = start.address;
      while (target !== null && !tried.has(endpoint(target))) {
        if (lastError !== null && stopped()) throw lastError;
        tried.add(endpoint(target));
        try {
          const result = await attempt(target);
          this.#worked(target, start.listIndex);
          return result;
        } catch (error) {
          if (!isWeirError(error)) throw error; // a bug: crash loudly
          if (isFinal(error)) throw error;
          lastError = error;
          if (error.code === 'NOT_LEADER') this.electing = true;
          const hint = this.leaderHint(error);
          target = hint !== null && hops < CLIENT_LEADER_HOPS_MAX ? hint : null;
          if (target !== null) hops++;
        }
      }
    }
    assert(lastError !== null, 'a round that got nowhere has failed at least once');
    if (tried.size === 1) throw lastError; // a single host: its own error, as it was
    throw new WeirError(lastError.code, `${lastError.message} (tried ${this.url})`, {
      cause: lastError,
    });
  }

  /** The address that last worked if a hint led to it off the list, then the list once round. */
  #roundOrder(): { address: TransportAddress; listIndex: number }[] {
    const order: { address: TransportAddress; listIndex: number }[] = [];
    if (this.#lastWorked !== null && this.#listIndexOf(this.#lastWorked) === -1) {
      order.push({ address: this.#lastWorked, listIndex: this.#startIndex });
    }
    for (let step = 0; step < this.addresses.length; step++) {
      const listIndex = (this.#startIndex + step) % this.addresses.length;
      order.push({ address: this.addresses[listIndex]!, listIndex });
    }
    return order;
  }

  #listIndexOf(address: TransportAddress): number {
    const wanted = endpoint(address);
    return this.addresses.findIndex((listed) => endpoint(listed) === wanted);
  }

  #worked(address: TransportAddress, startedFrom: number): void {
    const listIndex = this.#listIndexOf(address);
    this.#lastWorked = address;
    this.#startIndex = listIndex === -1 ? startedFrom : listIndex;
  }
}
