/**
 * Overview, live stats (snapshot, history, Server-Sent Events), health, readiness, metrics and
 * the OpenAPI description.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { ADMIN_READY_TIMEOUT_MS } from '../limits.js';
import { WeirError, isWeirError } from '../util/index.js';
import type { AdminContext } from './admin-context.js';
import { sendError, sendJson } from './http-io.js';
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

const READY_OK_STATUS = 200;
/** Service Unavailable: a load balancer takes the broker out while something has failed. */
const READY_FAILED_STATUS = 503;

/** One thing that failed, as /readyz names it. */
interface ReadyFailure {
  readonly stream: string;
  /** 'partition', 'schedule', 'retention' or 'subscription' */
  readonly what: string;
  readonly partition?: number;
  readonly subscription?: string;
  readonly code: string;
  readonly message: string;
}

/** Every failed partition log, scheduler, retention pass and subscription (journal or read), from info. */
async function storageFailures(
  context: AdminContext,
): Promise<{ streams: number; failures: ReadyFailure[] }> {
  const streams = await context.ownClient.streams.list();
  const failures: ReadyFailure[] = [];
  for (const stream of streams) {
    for (const partition of stream.partitions) {
      if (partition.failure) {
        failures.push({
          stream: stream.name,
          what: 'partition',
          partition: partition.partition,
          ...partition.failure,
        });
      }
      if (partition.scheduleFailure) {
        failures.push({
          stream: stream.name,
          what: 'schedule',
          partition: partition.partition,
          ...partition.scheduleFailure,
        });
      }
    }
    if (stream.retentionFailure) {
      failures.push({ stream: stream.name, what: 'retention', ...stream.retentionFailure });
    }
    let subscriptions;
    try {
      subscriptions = await context.ownClient.subscriptions.list(stream.name);
    } catch (error) {
      if (isWeirError(error, 'STREAM_NOT_FOUND')) continue; // deleted meanwhile
      throw error;
    }
    for (const subscription of subscriptions) {
      if (subscription.failure) {
        failures.push({
          stream: stream.name,
          what: 'subscription',
          subscription: subscription.name,
          ...subscription.failure,
        });
      }
    }
  }
  return { streams: streams.length, failures };
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
        'Server-Sent Events: `stats` events with the same snapshot as /api/stats, one per sample. The stream ends when the credentials that opened it no longer hold (logout, session ended, token deleted, user removed).',
      raw: true,
      handler: ({ request, response, principal }) => {
        try {
          context.events.attach(request, response, () =>
            context.authentication.stillValid(request, principal),
          );
        } catch (error) {
          sendError(response, error);
        }
      },
    },
    {
      method: 'GET',
      path: '/healthz',
      tag: 'health',
      summary: 'Alive: the process answers HTTP. Needs no credentials.',
      public: true,
      handler: () => ({ status: 'ok' }),
    },
    {
      method: 'GET',
      path: '/readyz',
      tag: 'health',
      public: true,
      summary:
        'Ready: the broker is open (its storage recovered) and answers, the server is not shutting down, and no partition log, scheduler, retention pass or subscription has failed (needs no credentials). 503 otherwise: CLOSED or TIMEOUT as an error, or `{ status: "failed", failures }` naming what failed.',
      raw: true,
      handler: async ({ response }) => {
        try {
          if (!context.accepting() || context.broker.closed || context.ownClient.closed) {
            throw new WeirError('CLOSED', 'the broker is closed or shutting down');
          }
          const { streams, failures } = await within(
            ADMIN_READY_TIMEOUT_MS,
            storageFailures(context),
          );
          if (failures.length > 0)
            sendJson(response, READY_FAILED_STATUS, { status: 'failed', failures });
          else sendJson(response, READY_OK_STATUS, { status: 'ready', streams });
        } catch (error) {
          sendError(response, error);
        }
      },
    },
    {
      method: 'GET',
      path: '/metrics',
      tag: 'health',
      summary:
        'Prometheus text format: per stream and subscription, latency histograms, process. Needs credentials once the broker has users (a Bearer token suits a scraper).',
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
