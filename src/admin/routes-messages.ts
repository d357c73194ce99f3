/** Messages: peek without consuming, and publish. */
import { PUBLISH_OPTION_NAMES, type Body } from '../protocol/index.js';
import { ADMIN_PEEK_MESSAGES_DEFAULT, ADMIN_PEEK_MESSAGES_MAX, PARTITIONS_MAX } from '../limits.js';
import type { AdminContext } from './admin-context.js';
import { integerQuery, invalid, objectBody, onlyKeys, timeQuery } from './http-io.js';
import type { Route } from './router.js';

/** The SDK's publish options, less `confirm`: an HTTP publish always answers with its receipt. */
const PUBLISH_OPTION_KEYS = [...PUBLISH_OPTION_NAMES].filter((name) => name !== 'confirm');

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

/** The body of a publish from its JSON form: `encoding` says how to read `body`. */
export function publishBody(body: unknown, encoding: unknown): Body {
  const how = encoding ?? (typeof body === 'string' ? 'text' : 'json');
  switch (how) {
    case 'text':
      if (typeof body !== 'string') throw invalid('body', "must be a string with encoding 'text'");
      return body;
    case 'json':
      if (body === undefined) throw invalid('body', 'is required');
      // A JSON string is sent as its JSON text (quoted); other values the client encodes.
      return typeof body === 'string' ? JSON.stringify(body) : (body as Body);
    case 'base64': {
      if (typeof body !== 'string' || !BASE64.test(body.replace(/\s+/g, ''))) {
        throw invalid('body', "must be base64 with encoding 'base64'");
      }
      return new Uint8Array(Buffer.from(body, 'base64'));
    }
    default:
      throw invalid('encoding', "must be 'text', 'json' or 'base64'");
  }
}

export function messageRoutes(context: AdminContext): Route[] {
  return [
    {
      method: 'GET',
      path: '/api/streams/{stream}/messages',
      tag: 'messages',
      summary:
        'Peeks at messages without consuming them (no subscription moves), by offset or by time, optionally filtered by subject. Needs the permission to consume from the stream (subscribe:STREAM).',
      query: {
        partition: 'only this partition (default: all)',
        offset: 'from this offset in each partition read (default: the first kept)',
        time: 'from the first message at or after this time: ms since the epoch or ISO 8601 (wins over offset)',
        filter: 'subject pattern; repeat or comma-separate for several',
        limit: `messages to return, 1..${ADMIN_PEEK_MESSAGES_MAX} (default ${ADMIN_PEEK_MESSAGES_DEFAULT})`,
      },
      handler: ({ client, access, params, query }) => {
        // Reading messages is consuming them, as far as permissions go (a peek moves nothing).
        access.checkSubscribe(params.stream!, null);
        const filter = query
          .getAll('filter')
          .flatMap((value) => value.split(','))
          .map((value) => value.trim())
          .filter((value) => value.length > 0);
        return context.peeker.peek(client, {
          stream: params.stream!,
          partition: integerQuery(query, 'partition', 0, PARTITIONS_MAX - 1),
          offset: integerQuery(query, 'offset', 0, Number.MAX_SAFE_INTEGER),
          timeMs: timeQuery(query, 'time'),
          filter: filter.length > 0 ? filter : undefined,
          limit:
            integerQuery(query, 'limit', 1, ADMIN_PEEK_MESSAGES_MAX) ?? ADMIN_PEEK_MESSAGES_DEFAULT,
        });
      },
    },
    {
      method: 'POST',
      path: '/api/publish',
      tag: 'messages',
      summary:
        "Publishes a message to every stream that captures its subject; answers the receipt once stored. `encoding`: 'text', 'json' (default for non-strings) or 'base64'. Needs publish:PATTERN matching the subject.",
      body: {
        description:
          '{ subject, body, encoding?, key?, headers?, id?, delayMs?, deliverAt?, ttlMs?, priority?, replyTo?, correlationId? }',
        example: {
          subject: 'orders.eu.created',
          body: { orderId: 42 },
          key: 'customer-7',
          headers: { source: 'console' },
        },
      },
      handler: async ({ client, body }) => {
        const input = objectBody(await body());
        onlyKeys(input, ['subject', 'body', 'encoding', ...PUBLISH_OPTION_KEYS]);
        if (typeof input.subject !== 'string') throw invalid('subject', 'must be a string');
        const payload = publishBody(input.body, input.encoding);
        const options: Record<string, unknown> = {};
        for (const key of PUBLISH_OPTION_KEYS)
          if (input[key] !== undefined) options[key] = input[key];
        const started = performance.now();
        const receipt = await client.publish(input.subject, payload, options);
        context.metrics.observeHttpPublish((performance.now() - started) / 1000);
        return receipt;
      },
    },
  ];
}
