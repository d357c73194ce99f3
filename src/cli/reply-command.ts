/**
 * `weir reply SUBJECT [body]`: a responder, like `nats reply`. Requests are stored in the
 * stream that captures their subject (request-reply in docs/concepts.md); the responder
 * subscribes to that stream with SUBJECT as its filter, answers each request with `body` (or
 * echoes the request's body) through `msg.respond`, and acks it.
 */
import { SubjectPattern } from '../broker/index.js';
import type { Client } from '../protocol/index.js';
import { WeirError } from '../util/index.js';
import { withClient, type ClientFlags } from './client-connection.js';

export interface ReplyCommandOptions {
  /** The stream to take requests from; default: the one stream whose patterns capture SUBJECT. */
  readonly stream?: string;
  /** Join this durable subscription (competing responders) instead of an ephemeral one. */
  readonly subscription?: string;
  readonly count?: number;
  readonly timeoutMs?: number;
}

async function streamCapturing(client: Client, subject: string): Promise<string> {
  const capturing = (await client.streams.list())
    .filter((info) =>
      info.config.subjects.some((pattern) => new SubjectPattern(pattern).matches(subject)),
    )
    .map((info) => info.name);
  if (capturing.length === 1) return capturing[0]!;
  throw new WeirError(
    capturing.length === 0 ? 'STREAM_NOT_FOUND' : 'INVALID_ARGUMENT',
    capturing.length === 0
      ? `no stream captures ${subject}: a request to it would get NO_ROUTE`
      : `streams ${capturing.join(', ')} capture ${subject}: choose one with --stream`,
  );
}

/** Answers requests until --count is reached, --timeout-ms passes idle, or Ctrl-C. */
export async function replyCommand(
  target: ClientFlags,
  subject: string,
  body: string | undefined,
  options: ReplyCommandOptions,
): Promise<void> {
  await withClient(target, async (client) => {
    const stream = options.stream ?? (await streamCapturing(client, subject));
    const requests = await client.subscribe(stream, {
      filter: subject,
      ...(options.subscription === undefined ? {} : { subscription: options.subscription }),
    });
    const stop = () => void requests.close();
    process.once('SIGINT', stop);
    let answered = 0;
    try {
      console.log(`replying to ${subject} on stream ${stream}`);
      while (options.count === undefined || answered < options.count) {
        const request = await requests.receive(
          options.timeoutMs === undefined ? {} : { timeoutMs: options.timeoutMs },
        );
        if (request === null) break;
        if (request.replyTo === null) {
          // Not a request: nothing to answer; settle it so it is not offered again.
          console.log(`[${request.subject}] no replyTo, skipped: ${request.text()}`);
        } else {
          await request.respond(body ?? request.body);
          console.log(`[${request.subject}] replied to ${request.text()}`);
          answered++;
        }
        await request.ack();
      }
    } finally {
      process.off('SIGINT', stop);
      await requests.close();
    }
  });
}
