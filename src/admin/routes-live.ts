/**
 * Overview, live stats (snapshot, history, Server-Sent Events), health, readiness, metrics and
 * the OpenAPI description.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { ADMIN_READY_TIMEOUT_MS } from '../limits.js';
import { WeirError } from '../util/index.js';
import type { AdminContext } from './admin-context.js';
import { sendError } from './http-io.js';
import type { Route } from './router.js';

/** Resolves with what `operation` resolves, or rejects with TIMEOUT after `ms`. */
async function within<T>(ms: number, operation: Promise<T>): Promise<T> {
  const controller = new AbortController();
  try {
    return await Promise.race([
      operation,
      sleep(ms, undefined, { signal: controller.signal, ref: false }).then(() => {
        throw new WeirError('TIMEOUT', `the broker did not answer within ${ms} ms`);
      }),
    ]);
  } finally {
    controller.abort();
  }
}

export function liveRoutes(context: AdminContext): Route[] {
  return [
    {
      method: 'GET',
      path: '/api/overview',
      tag: 'live',
      summary: 'Version, uptime, the latest totals and what this broker supports.',
      handler: () => ({
        version: context.version,
        startedAtMs: context.startedAtMs,
        uptimeMs: Date.now() - context.startedAtMs,
        sampleIntervalMs: context.sampler.intervalMs,
        totals: context.sampler.latest?.totals ?? null,
        capabilities: {
          connections: context.connections !== undefined,
          deadLetterDelete: true,
        },
      }),
    },
    {
      method: 'GET',
      path: '/api/stats',
      tag: 'live',
      summary:
        'The latest stats snapshot: totals, every stream and subscription with rates, lag and stall, and the connections.',
      raw: true,
      handler: ({ response }) => {
        const json = context.sampler.latestJson ?? 'null';
        response.writeHead(200, {
          'content-type': 'application/json; charset=utf-8',
          'cache-control': 'no-store',
          'content-length': Buffer.byteLength(json),
        });
        response.end(json);
      },
    },
    {
      method: 'GET',
      path: '/api/stats/history',
      tag: 'live',
      summary:
        'Totals of the last samples (one per second, five minutes), oldest first: what the charts start from.',
      handler: () => context.sampler.history(),
    },
    {
      method: 'GET',
      path: '/api/events',
      tag: 'live',
      summary:
        'Server-Sent Events: `stats` events with the same snapshot as /api/stats, one per sample.',
      raw: true,
      handler: ({ request, response }) => {
        try {
          context.events.attach(request, response);
        } catch (error) {
          sendError(response, error);
        }
      },
    },
    {
      method: 'GET',
      path: '/healthz',
      tag: 'health',
      summary: 'Alive: the process answers HTTP.',
      handler: () => ({ status: 'ok' }),
    },
    {
      method: 'GET',
      path: '/readyz',
      tag: 'health',
      summary:
        'Ready: the broker is open (its storage recovered) and answers, and the server is not shutting down. 503 with CLOSED or TIMEOUT otherwise.',
      handler: async () => {
        if (!context.accepting() || context.broker.closed || context.client.closed) {
          throw new WeirError('CLOSED', 'the broker is closed or shutting down');
        }
        const streams = await within(ADMIN_READY_TIMEOUT_MS, context.client.streams.list());
        return { status: 'ready', streams: streams.length };
      },
    },
    {
      method: 'GET',
      path: '/metrics',
      tag: 'health',
      summary: 'Prometheus text format: per stream and subscription, latency histograms, process.',
      raw: true,
      handler: async ({ response }) => {
        const text = await context.metrics.text();
        response.writeHead(200, {
          'content-type': context.metrics.contentType,
          'cache-control': 'no-store',
          'content-length': Buffer.byteLength(text),
        });
        response.end(text);
      },
    },
    {
      method: 'GET',
      path: '/api/openapi.json',
      tag: 'health',
      summary: 'This API described in OpenAPI 3.1, generated from the route table.',
      handler: () => context.router.openApi(context.version),
    },
  ];
}
