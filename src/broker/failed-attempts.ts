/**
 * Failed authentications counted per remote address: past AUTH_FAILURES_PER_ADDRESS_MAX in
 * AUTH_FAILURE_WINDOW_MS, that address is refused (NOT_AUTHORIZED, before any password is
 * looked at) until its window ends. At most AUTH_FAILURE_ADDRESSES_MAX addresses are tracked;
 * the one tracked longest is forgotten first. In-process clients (remote null) are not counted.
 */
import {
  AUTH_FAILURE_ADDRESSES_MAX,
  AUTH_FAILURE_WINDOW_MS,
  AUTH_FAILURES_PER_ADDRESS_MAX,
} from '../limits.js';
import { WeirError } from '../util/index.js';

interface Window {
  readonly startMs: number;
  count: number;
}

export class FailedAttempts {
  readonly #now: () => number;
  readonly #windows = new Map<string, Window>();

  constructor(now: () => number) {
    this.#now = now;
  }

  /** Throws NOT_AUTHORIZED if `remote` has failed too often lately. */
  check(remote: string | null): void {
    if (remote === null) return;
    const window = this.#current(remote);
    if (window !== null && window.count >= AUTH_FAILURES_PER_ADDRESS_MAX) {
      const waitMs = window.startMs + AUTH_FAILURE_WINDOW_MS - this.#now();
      throw new WeirError(
        'NOT_AUTHORIZED',
        `too many failed authentications from ${remote}; try again in ${Math.ceil(waitMs / 1000)} s`,
      );
    }
  }

  fail(remote: string | null): void {
    if (remote === null) return;
    const window = this.#current(remote);
    if (window !== null) {
      window.count++;
      return;
    }
    if (this.#windows.size >= AUTH_FAILURE_ADDRESSES_MAX) {
      this.#windows.delete(this.#windows.keys().next().value!);
    }
    this.#windows.set(remote, { startMs: this.#now(), count: 1 });
  }

  /** Failures counted for `remote` in its current window. */
  count(remote: string): number {
    return this.#current(remote)?.count ?? 0;
  }

  #current(remote: string): Window | null {
    const window = this.#windows.get(remote);
    if (window === undefined) return null;
    if (this.#now() - window.startMs >= AUTH_FAILURE_WINDOW_MS) {
      this.#windows.delete(remote);
      return null;
    }
    return window;
  }
}
