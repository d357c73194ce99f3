/**
 * Peeking at a stream's messages without consuming them: an ephemeral subscription with ack
 * 'none' that starts at the asked position, reads up to `limit` messages, and closes. It is a
 * cursor of its own, so durable subscriptions do not move, and an ephemeral subscription
 * holds nothing back in a work-queue stream.
 *
 * What it cannot show: messages whose deliverAt is still ahead (they are not deliverable yet)
 * and messages whose ttl passed. Among ready messages the broker delivers higher priorities
 * first, so the page is sorted by partition and offset before it is returned.
 *
 * Bounds: ADMIN_PEEKS_CONCURRENT_MAX peeks at once; each stops at `limit` messages, after
 * ADMIN_PEEK_SCAN_MAX passed-over messages, after ADMIN_PEEK_IDLE_MS without a message, or
 * after ADMIN_PEEK_TIMEOUT_MS, whichever comes first.
 */
import type { Client, Message, StartPosition, StreamInfo } from '../protocol/index.js';
import {
  ADMIN_BODY_PREVIEW_BYTES_MAX,
  ADMIN_PEEK_IDLE_MS,
  ADMIN_PEEK_SCAN_MAX,
  ADMIN_PEEK_TIMEOUT_MS,
  ADMIN_PEEKS_CONCURRENT_MAX,
} from '../limits.js';
import { WeirError } from '../util/index.js';

export interface PeekRequest {
  readonly stream: string;
  /** Only this partition (default: all). */
  readonly partition?: number | undefined;
  /** From this offset in every partition read (default: the first). */
  readonly offset?: number | undefined;
  /** From the first message at or after this time (ms since the epoch); wins over offset. */
  readonly timeMs?: number | undefined;
  /** Subject patterns (as a subscription filter). */
  readonly filter?: readonly string[] | undefined;
  readonly limit: number;
}

/** A message body as the API shows it: base64 of at most ADMIN_BODY_PREVIEW_BYTES_MAX bytes. */
export interface BodyPreview {
  readonly bodyBytes: number;
  readonly body: string;
  /** The (shown part of the) body as text when it is valid UTF-8, else null. */
  readonly text: string | null;
  readonly bodyTruncated: boolean;
}

export interface PeekedMessage extends BodyPreview {
  readonly partition: number;
  readonly offset: number;
  readonly subject: string;
  readonly key: string | null;
  readonly headers: Readonly<Record<string, string>>;
  readonly timestamp: number;
  readonly id: string | null;
  readonly priority: number;
  readonly replyTo: string | null;
  readonly correlationId: string | null;
}

export interface PeekResult {
  readonly messages: PeekedMessage[];
  /** true: every message from the position up to the end was looked at. */
  readonly complete: boolean;
  /** Per partition, the offset after the last message returned (where the next page starts). */
  readonly nextOffsets: Readonly<Record<string, number>>;
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

export function bodyPreview(body: Uint8Array): BodyPreview {
  const shown = body.subarray(0, ADMIN_BODY_PREVIEW_BYTES_MAX);
  let text: string | null;
  try {
    text = utf8.decode(shown);
  } catch {
    // A cut in the middle of a UTF-8 sequence is not a binary body: retry without the tail.
    text = null;
    if (shown.length < body.length) {
      for (let cut = 1; cut <= 3 && text === null; cut++) {
        try {
          text = utf8.decode(shown.subarray(0, shown.length - cut));
        } catch {
          text = null;
        }
      }
    }
  }
  return {
    bodyBytes: body.length,
    body: Buffer.from(shown.buffer, shown.byteOffset, shown.length).toString('base64'),
    text,
    bodyTruncated: shown.length < body.length,
  };
}

function peeked(message: Message): PeekedMessage {
  return {
    partition: message.partition,
    offset: message.offset,
    subject: message.subject,
    key: message.key,
    headers: message.headers,
    timestamp: message.timestamp,
    id: message.id,
    priority: message.priority,
    replyTo: message.replyTo,
    correlationId: message.correlationId,
    ...bodyPreview(message.body),
  };
}

/**
 * Peeks for every request of one admin server: each runs through the client of the request
 * (acting for its user, so the broker checks it may subscribe); the peeker bounds how many run
 * and remembers their subscriptions for the stats, which leave them out.
 */
export class MessagePeeker {
  /** `stream\0subscription` of the ephemeral subscriptions open now. */
  readonly #open = new Set<string>();
  #running = 0;

  /** Whether a subscription is one of this peeker's (the stats leave them out). */
  owns(stream: string, subscription: string): boolean {
    return this.#open.has(`${stream}\u0000${subscription}`);
  }

  async peek(client: Client, request: PeekRequest): Promise<PeekResult> {
    if (this.#running >= ADMIN_PEEKS_CONCURRENT_MAX) {
      throw new WeirError('LIMIT_EXCEEDED', `${ADMIN_PEEKS_CONCURRENT_MAX} peeks are running`);
    }
    this.#running++;
    try {
      return await this.#peek(client, request, await client.streams.info(request.stream));
    } finally {
      this.#running--;
    }
  }

  async #peek(client: Client, request: PeekRequest, info: StreamInfo): Promise<PeekResult> {
    if (request.partition !== undefined && request.partition >= info.partitions.length) {
      throw new WeirError(
        'INVALID_ARGUMENT',
        `partition ${request.partition} is not below ${info.partitions.length}`,
      );
    }
    const wanted = info.partitions.filter(
      (partition) => request.partition === undefined || partition.partition === request.partition,
    );
    // Where each wanted partition starts and ends now (the subscription clamps the same way).
    const starts = new Map<number, number>();
    for (const partition of wanted) {
      const from = request.offset ?? partition.startOffset;
      starts.set(
        partition.partition,
        Math.min(Math.max(from, partition.startOffset), partition.endOffset),
      );
    }
    const nextOffsets: Record<string, number> = {};
    for (const [partition, start] of starts) nextOffsets[String(partition)] = start;
    const nothingToRead =
      request.timeMs === undefined &&
      wanted.every((partition) => starts.get(partition.partition)! >= partition.endOffset);
    if (nothingToRead || request.limit === 0) {
      return { messages: [], complete: nothingToRead, nextOffsets };
    }

    const start: StartPosition =
      request.timeMs !== undefined
        ? { timeMs: request.timeMs }
        : request.offset !== undefined
          ? { offset: request.offset }
          : 'earliest';
    const subscription = await client.subscribe(request.stream, {
      ack: 'none',
      start,
      maxInFlight: request.limit,
      ...(request.filter && request.filter.length > 0 ? { filter: request.filter } : {}),
    });
    const key = `${request.stream}\u0000${subscription.name}`;
    this.#open.add(key);
    const found: PeekedMessage[] = [];
    const ends = new Map(wanted.map((partition) => [partition.partition, partition.endOffset]));
    const lastSeen = new Map<number, number>();
    let scanned = 0;
    let complete = false;
    try {
      const deadline = performance.now() + ADMIN_PEEK_TIMEOUT_MS;
      while (found.length < request.limit && scanned < ADMIN_PEEK_SCAN_MAX) {
        const left = deadline - performance.now();
        if (left <= 0) break;
        const message = await subscription.receive({
          timeoutMs: Math.max(1, Math.min(ADMIN_PEEK_IDLE_MS, Math.ceil(left))),
        });
        if (message === null) {
          complete = request.filter !== undefined || request.timeMs !== undefined;
          break;
        }
        scanned++;
        const end = ends.get(message.partition);
        if (end === undefined || message.offset >= end) continue; // another partition, or newer
        lastSeen.set(
          message.partition,
          Math.max(lastSeen.get(message.partition) ?? -1, message.offset),
        );
        found.push(peeked(message));
        const allRead = [...ends].every(
          ([partition, partitionEnd]) =>
            (lastSeen.get(partition) ?? (starts.get(partition) ?? 0) - 1) >= partitionEnd - 1,
        );
        if (allRead) {
          complete = true;
          break;
        }
      }
    } finally {
      this.#open.delete(key);
      await subscription.close();
    }
    found.sort((a, b) => a.partition - b.partition || a.offset - b.offset);
    for (const message of found) nextOffsets[String(message.partition)] = message.offset + 1;
    return { messages: found, complete, nextOffsets };
  }
}
