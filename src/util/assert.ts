/**
 * Assertions that stay on in production. A failed assertion is a broken invariant: a bug in
 * Weir, never a user error (user errors are `WeirError`s with a code). Crash loudly.
 */
export class AssertionError extends Error {
  override readonly name = 'AssertionError';
}

export function assert(condition: unknown, message: string): asserts condition {
  if (!condition) throw new AssertionError(message);
}

/** Marks a branch the type system proves unreachable; throws if it is reached anyway. */
export function unreachable(value: never, message = 'unreachable'): never {
  throw new AssertionError(`${message}: ${String(value)}`);
}
