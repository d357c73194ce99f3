/**
 * A lane runs async operations one at a time, in the order they were queued (a mutex that
 * keeps order). The log runs its flushes, rolls, retention and close through one lane, and
 * the broker its metadata changes, so none of them sees another half done.
 */
export class Lane {
  #tail: Promise<unknown> = Promise.resolve();

  run<T>(operation: () => Promise<T>): Promise<T> {
    const result = this.#tail.then(operation, operation);
    this.#tail = result.catch(() => undefined);
    return result;
  }

  /** Resolves once every operation queued so far has finished (whatever its outcome). */
  async idle(): Promise<void> {
    await this.#tail;
  }
}
