/**
 * The playground over HTTP: start or change a run (JSON parameters, a preset name, an event),
 * read its parameters and live counters, stop it. Admin only once the broker has users (the
 * run acts on the broker through a client of its own, after the request is answered, so the
 * routes check admin themselves).
 */
import { PLAYGROUND_SPIKE_FACTOR, PLAYGROUND_SPIKE_MS } from '../../limits.js';
import { integerQuery, invalid, objectBody, onlyKeys } from '../http-io.js';
import type { Route } from '../router.js';
import { PARAMETER_NAMES } from './playground-parameters.js';
import { EVENT_KINDS, type PlaygroundEventKind } from './playground-presets.js';
import type { Playground, PlaygroundRequest } from './playground.js';

function requestOf(input: Record<string, unknown>): PlaygroundRequest {
  onlyKeys(input, ['preset', 'event', ...PARAMETER_NAMES]);
  const { preset, event, ...parameters } = input;
  if (preset !== undefined && preset !== null && typeof preset !== 'string') {
    throw invalid('preset', 'must be a string');
  }
  if (
    event !== undefined &&
    event !== null &&
    (typeof event !== 'string' || !EVENT_KINDS.includes(event as PlaygroundEventKind))
  ) {
    throw invalid('event', `must be one of ${EVENT_KINDS.join(', ')}`);
  }
  return {
    preset: typeof preset === 'string' ? preset : undefined,
    event: typeof event === 'string' ? (event as PlaygroundEventKind) : undefined,
    parameters,
  };
}

export function playgroundRoutes(playground: Playground): Route[] {
  return [
    {
      method: 'GET',
      path: '/api/playground',
      tag: 'playground',
      summary:
        'The playground: state (idle, running, finished), parameters, live counters (published, rejected, delivered, acked, nacked, redelivered, deadLettered, dropped, backlog, inFlight, stored, consumers), the history of samples, events and the presets. Admin only.',
      query: {
        since: 'only the history samples taken after this time (ms since the epoch)',
      },
      handler: ({ access, query }) => {
        access.checkAdmin('read the playground');
        return playground.view(integerQuery(query, 'since', 0, Number.MAX_SAFE_INTEGER));
      },
    },
    {
      method: 'POST',
      path: '/api/playground',
      tag: 'playground',
      summary: `Starts a run (with a preset: spike, slow-consumer, poison, crash; a preset replaces a run going) or changes the one going live; event runs one now: spike (${PLAYGROUND_SPIKE_FACTOR}× the rate for ${PLAYGROUND_SPIKE_MS / 1000} s), poison (one message that always fails), crash (a consumer dies holding leases). Uses memory streams playground and playground-dead. Admin only.`,
      body: {
        description:
          "{ preset?, event?: 'spike' | 'poison' | 'crash', ratePerSecond?, consumers?, processingMs?, failureRate? (0..1), capacity?, overflow?: 'reject-new' | 'drop-oldest', maxDeliveries?, leaseMs?, durationMs? }",
        example: { preset: 'slow-consumer', overflow: 'drop-oldest' },
      },
      handler: async ({ access, body }) => {
        access.checkAdmin('run the playground');
        return playground.apply(requestOf(objectBody(await body())));
      },
    },
    {
      method: 'DELETE',
      path: '/api/playground',
      tag: 'playground',
      summary:
        'Stops the run going and deletes its streams; its last counters stay readable. Admin only.',
      handler: ({ access }) => {
        access.checkAdmin('stop the playground');
        return playground.stop();
      },
    },
  ];
}
