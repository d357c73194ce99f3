/**
 * Which streams capture a subject: every stream with a matching pattern, in creation order.
 * Answers are cached per subject (publishers reuse few subjects); the cache is bounded by
 * ROUTE_CACHE_ENTRIES_MAX (emptied when full) and emptied whenever streams change.
 */
import { ROUTE_CACHE_ENTRIES_MAX } from '../limits.js';
import { SubjectPattern } from './subject.js';

interface Route<T> {
  readonly target: T;
  readonly patterns: readonly SubjectPattern[];
}

export class Router<T> {
  #routes: Route<T>[] = [];
  readonly #cache = new Map<string, readonly T[]>();

  add(target: T, patterns: readonly string[]): void {
    this.#routes.push({ target, patterns: patterns.map((pattern) => new SubjectPattern(pattern)) });
    this.#cache.clear();
  }

  /** New patterns for `target`, which keeps its place in the order. */
  replace(target: T, patterns: readonly string[]): void {
    this.#routes = this.#routes.map((route) =>
      route.target === target
        ? { target, patterns: patterns.map((pattern) => new SubjectPattern(pattern)) }
        : route,
    );
    this.#cache.clear();
  }

  remove(target: T): void {
    this.#routes = this.#routes.filter((route) => route.target !== target);
    this.#cache.clear();
  }

  /** Targets whose patterns match `subject` (a valid subject), in the order they were added. */
  match(subject: string): readonly T[] {
    const cached = this.#cache.get(subject);
    if (cached) return cached;
    const targets = this.#routes
      .filter((route) => route.patterns.some((pattern) => pattern.matches(subject)))
      .map((route) => route.target);
    if (this.#cache.size >= ROUTE_CACHE_ENTRIES_MAX) this.#cache.clear();
    this.#cache.set(subject, targets);
    return targets;
  }
}
