/**
 * The progress consumers reported for a subscription's messages (Message.progress), in memory:
 * one record per message, the last value only. A record stays while its message is unsettled
 * and PROGRESS_KEPT_MS_AFTER_SETTLE after it was settled, so a publisher that asks by id just
 * after the ack still sees the final value. Nothing of it is journalled: a restart forgets it.
 *
 * Memory: at most PROGRESS_RECORDS_MAX records; past it the oldest settled record goes first,
 * else the oldest record.
 *
 * Concurrency: synchronous, on the event loop (called by SubscriptionGroup).
 */
import type { JobProgress, JsonValue, ProgressSelector } from '../protocol/index.js';
import { PROGRESS_KEPT_MS_AFTER_SETTLE, PROGRESS_RECORDS_MAX } from '../limits.js';
import type { Entry } from './partition-cursor.js';
import { integerIn, invalid } from './option-checks.js';

/** Checks what `subscriptions.progress` looks up: `{ id }` or `{ partition, offset }`. */
export function checkProgressSelector(selector: unknown): ProgressSelector {
  if (typeof selector !== 'object' || selector === null || Array.isArray(selector))
    throw invalid('selector', 'must be { id } or { partition, offset }');
  const given = selector as Record<string, unknown>;
  if (given.id !== undefined) {
    if (typeof given.id !== 'string' || given.id.length === 0)
      throw invalid('selector.id', 'must be a non-empty string');
    return { id: given.id };
  }
  if (given.partition === undefined || given.offset === undefined)
    throw invalid('selector', 'must be { id } or { partition, offset }');
  return {
    partition: integerIn(given.partition, 'selector.partition', 0, 0xffff_ffff),
    offset: integerIn(given.offset, 'selector.offset', 0, Number.MAX_SAFE_INTEGER),
  };
}

interface ProgressRecord {
  readonly entry: Entry;
  value: JsonValue;
  updatedAtMs: number;
  deliveryCount: number;
  /** When its message was settled (or left this subscription's tracking), or null. */
  settledAtMs: number | null;
}

export class ProgressStore {
  /** By entry, in insertion order (Map keeps it): the first is the oldest. */
  readonly #records = new Map<Entry, ProgressRecord>();
  /** Settled records, in the order they were settled. */
  readonly #settled = new Set<ProgressRecord>();

  get size(): number {
    return this.#records.size;
  }

  record(entry: Entry, value: JsonValue, now: number): void {
    this.#expire(now);
    let record = this.#records.get(entry);
    if (record === undefined) {
      if (this.#records.size >= PROGRESS_RECORDS_MAX) this.#evictOne();
      record = {
        entry,
        value,
        updatedAtMs: now,
        deliveryCount: entry.deliveryCount,
        settledAtMs: null,
      };
      this.#records.set(entry, record);
      return;
    }
    record.value = value;
    record.updatedAtMs = now;
    record.deliveryCount = entry.deliveryCount;
    if (record.settledAtMs !== null) {
      record.settledAtMs = null;
      this.#settled.delete(record);
    }
  }

  /** The entry's message was settled (or taken out of tracking): its record now ages out. */
  settled(entry: Entry, now: number): void {
    const record = this.#records.get(entry);
    if (record === undefined || record.settledAtMs !== null) return;
    record.settledAtMs = now;
    this.#settled.add(record);
  }

  find(selector: ProgressSelector, now: number): JobProgress | null {
    this.#expire(now);
    let found: ProgressRecord | null = null;
    for (const record of this.#records.values()) {
      const entry = record.entry;
      const matches =
        'id' in selector
          ? entry.message.id === selector.id
          : entry.partition === selector.partition && entry.offset === selector.offset;
      // The latest record wins (a message re-driven under the same id is a new entry).
      if (matches) found = record;
    }
    return found === null ? null : view(found);
  }

  list(now: number): JobProgress[] {
    this.#expire(now);
    return [...this.#records.values()].map(view);
  }

  clear(): void {
    this.#records.clear();
    this.#settled.clear();
  }

  #expire(now: number): void {
    for (const record of this.#settled) {
      if (record.settledAtMs! + PROGRESS_KEPT_MS_AFTER_SETTLE > now) return;
      this.#settled.delete(record);
      this.#records.delete(record.entry);
    }
  }

  #evictOne(): void {
    for (const record of this.#settled) {
      this.#settled.delete(record);
      this.#records.delete(record.entry);
      return;
    }
    for (const entry of this.#records.keys()) {
      this.#records.delete(entry);
      return;
    }
  }
}

function view(record: ProgressRecord): JobProgress {
  const entry = record.entry;
  return {
    partition: entry.partition,
    offset: entry.offset,
    id: entry.message.id,
    value: record.value,
    updatedAtMs: record.updatedAtMs,
    deliveryCount: record.deliveryCount,
    state: record.settledAtMs !== null ? 'settled' : entry.state,
  };
}
