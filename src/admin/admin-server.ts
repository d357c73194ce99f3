/**
 * The admin HTTP server (HTTPS with `tls`): the JSON API under /api, /metrics, /healthz,
 * /readyz, and the console (ui/) at /. It talks to the broker only through in-process
 * Clients, so everything it does is something an SDK user could do too: each request through
 * a client acting for the request's user (`broker.connect({ principal, remote })`, made on
 * first use and closed with the response), the server's own work (stats sampler, re-drive
 * jobs, /readyz) through a client of its own.
 *
 * Request life: check the Host header (host-check.ts; NOT_AUTHORIZED 403 for a name this
 * server is not reached by) -> the console's files, which need no credentials (so the login
 * page loads) -> match the route (405 with INVALID_ARGUMENT for a wrong method) -> for POST,
 * PUT, PATCH and DELETE, refuse a cross-origin request (NOT_AUTHORIZED) -> unless the route is
 * public (/healthz, /readyz, login, logout), authenticate (http-authentication.ts: 401 with
 * `WWW-Authenticate: Basic realm="weir"`) -> run the handler -> JSON, or an error
 * `{ error: { code, message } }` with the registry's HTTP status.
 *
 * Closing: stop accepting, end the event streams, stop the playground's run (deleting its
 * memory streams), stop re-drives (each within about a chunk;
 * saved as running, they resume when an admin server opens this data directory again), stop the sampler, give open requests ADMIN_CLOSE_GRACE_MS, then cut the rest, and
 * close the admin client. The broker itself belongs to the caller.
 */
import * as http from 'node:http';
import * as https from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import * as path from 'node:path';
import { Access, OPEN_PRINCIPAL, type Broker, type Principal } from '../broker/index.js';
import type { Client } from '../protocol/index.js';
import {
  ADMIN_CLOSE_GRACE_MS,
  ADMIN_HEADERS_TIMEOUT_MS,
  ADMIN_HTTP_CONNECTIONS_MAX,
  ADMIN_KEEP_ALIVE_TIMEOUT_MS,
  ADMIN_REQUEST_BODY_BYTES_MAX,
  ADMIN_REQUEST_TIMEOUT_MS,
  ADMIN_SOCKET_IDLE_TIMEOUT_MS,
  ADMIN_TIMEOUT_CHECK_INTERVAL_MS,
} from '../limits.js';
import { WeirError, assert, systemClock, type Clock } from '../util/index.js';
import type { AdminContext } from './admin-context.js';
import type { ConnectionsView } from './connections-view.js';
import { HostCheck } from './host-check.js';
import { HttpAuthentication, remoteAddress } from './http-authentication.js';
import { readJsonBody, sendError, sendJson } from './http-io.js';
import { DeadLetterArrivals } from './dead-letter-arrivals.js';
import {
  DeadLetterWebhook,
  validateDeadLetterWebhookOptions,
  type DeadLetterWebhookOptions,
} from './dead-letter-webhook.js';
import { LiveEvents } from './live-events.js';
import { MessagePeeker } from './message-peek.js';
import { AdminMetrics } from './metrics.js';
import { RedriveJobs } from './redrive-jobs.js';
import { Router, type RouteContext } from './router.js';
import { deadLetterRoutes } from './routes-dead-letters.js';
import { liveRoutes } from './routes-live.js';
import { messageRoutes } from './routes-messages.js';
import { Playground, playgroundRoutes } from './playground/index.js';
import { sessionRoutes } from './routes-session.js';
import { streamRoutes } from './routes-streams.js';
import { scheduleRoutes } from './routes-schedules.js';
import { clusterRoutes } from './routes-cluster.js';
import { userRoutes } from './routes-users.js';
import { StatsSampler } from './stats-sampler.js';
import { StaticFiles, defaultUiDirectory } from './static-files.js';

export interface AdminServerOptions {
  readonly broker: Broker;
  /** The TCP server's connections (weir serve); absent for an embedded broker. */
  readonly connections?: ConnectionsView;
  /** Default 127.0.0.1. */
  readonly host?: string;
  /** 0 picks a free port (see address()). */
  readonly port: number;
  /** Shown by /api/overview and the console. Default '0.0.0.0-dev'. */
  readonly version?: string;
  /** Directory of the console; default: this package's ui/; null: no console, API only. */
  readonly uiDirectory?: string | null;
  /** Stats sample period. Default ADMIN_SAMPLE_INTERVAL_MS. */
  readonly sampleIntervalMs?: number;
  /** Backlog without progress for this long is a stall. Default ADMIN_STALL_AFTER_MS_DEFAULT. */
  readonly stallAfterMs?: number;
  /**
   * HTTPS with this certificate and key (PEM). With `ca`, a client certificate signed by it is
   * required as well (the TLS handshake refuses others).
   */
  readonly tls?: {
    readonly cert: string | Buffer;
    readonly key: string | Buffer;
    readonly ca?: string | Buffer;
  };
  /**
   * Host header values accepted besides the addresses the server is bound to (a DNS name, or
   * what a proxy forwards): `name` (any port) or `name:port`. See host-check.ts.
   */
  readonly allowedHosts?: readonly string[];
  /**
   * POST a JSON notice `{ stream, subscription, subject, count, at }` here when new dead
   * letters are seen, with retries (dead-letter-webhook.ts). Default: none.
   */
  readonly deadLetterWebhook?: DeadLetterWebhookOptions;
  /**
   * Times console sessions, remembered password checks, the dead-letter webhook's backoff and
   * the playground (give the broker's clock). Default the system clock.
   */
  readonly clock?: Clock;
}

export interface AdminServer {
  address(): { host: string; port: number; url: string };
  close(): Promise<void>;
}

/** Starts the admin HTTP server; resolves once it listens and the first stats sample is taken. */
export async function startAdminServer(options: AdminServerOptions): Promise<AdminServer> {
  const { broker } = options;
  const clock = options.clock ?? systemClock;
  if (options.deadLetterWebhook) validateDeadLetterWebhookOptions(options.deadLetterWebhook);
  const client = broker.connect();
  const peeker = new MessagePeeker();
  const sampler = new StatsSampler({
    client,
    connections: options.connections,
    intervalMs: options.sampleIntervalMs,
    stallAfterMs: options.stallAfterMs,
    isOwnSubscription: (stream, name) => peeker.owns(stream, name),
  });
  const webhook = options.deadLetterWebhook
    ? new DeadLetterWebhook(options.deadLetterWebhook, clock)
    : null;
  if (webhook) {
    // Registered before the first sample, which sets the baseline: dead letters from before
    // this server started are not announced.
    const arrivals = new DeadLetterArrivals();
    sampler.onSample((snapshot) => {
      for (const arrival of arrivals.observe(snapshot)) webhook.notify(arrival);
    });
  }
  const files = await StaticFiles.load(
    options.uiDirectory === undefined ? defaultUiDirectory() : options.uiDirectory,
  );
  const router = new Router();
  let accepting = true;
  const context: AdminContext = {
    broker,
    ownClient: client,
    authentication: new HttpAuthentication(broker.authenticator, () => clock.now()),
    secure: options.tls !== undefined,
    connections: options.connections,
    sampler,
    metrics: new AdminMetrics(sampler, broker.dataDir, webhook && (() => webhook.stats)),
    peeker,
    redrives: new RedriveJobs(
      client,
      broker.dataDir === null ? null : path.join(broker.dataDir, 'admin', 'redrive-jobs.json'),
    ),
    events: new LiveEvents(sampler),
    router,
    version: options.version ?? '0.0.0-dev',
    startedAtMs: Date.now(),
    accepting: () => accepting,
  };
  const playground = new Playground({ connect: () => broker.connect(), clock });
  router.add(streamRoutes(context));
  router.add(messageRoutes(context));
  router.add(deadLetterRoutes(context));
  router.add(liveRoutes(context));
  router.add(sessionRoutes(context));
  router.add(userRoutes());
  router.add(scheduleRoutes());
  router.add(clusterRoutes());
  router.add(playgroundRoutes(playground));

  // Known once the server listens (the port may be 0 until then).
  let hosts: HostCheck | null = null;
  const listener = (request: http.IncomingMessage, response: http.ServerResponse): void => {
    handle(context, files, hosts, request, response).catch((error: unknown) =>
      sendError(response, error),
    );
  };
  // Silent or slow sockets go quickly (Node's defaults kept them up to a minute), and a full
  // connection table makes room for a new connection by dropping an idle one.
  const serverOptions: http.ServerOptions = {
    headersTimeout: ADMIN_HEADERS_TIMEOUT_MS,
    requestTimeout: ADMIN_REQUEST_TIMEOUT_MS,
    keepAliveTimeout: ADMIN_KEEP_ALIVE_TIMEOUT_MS,
    connectionsCheckingInterval: ADMIN_TIMEOUT_CHECK_INTERVAL_MS,
  };
  const { tls } = options;
  const server: http.Server =
    tls === undefined
      ? http.createServer(serverOptions, listener)
      : https.createServer(
          {
            ...serverOptions,
            cert: tls.cert,
            key: tls.key,
            ...(tls.ca === undefined
              ? {}
              : { ca: tls.ca, requestCert: true, rejectUnauthorized: true }),
          },
          listener,
        );
  server.timeout = ADMIN_SOCKET_IDLE_TIMEOUT_MS;
  capConnections(server, ADMIN_HTTP_CONNECTIONS_MAX);

  try {
    await sampler.start();
    await context.redrives.open();
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(options.port, options.host ?? '127.0.0.1', () => {
        server.off('error', reject);
        const address = server.address() as AddressInfo;
        hosts = new HostCheck({
          address: address.address,
          port: address.port,
          secure: tls !== undefined,
          allowedHosts: options.allowedHosts,
        });
        resolve();
      });
    });
  } catch (error) {
    await playground.close();
    await context.redrives.close();
    await sampler.stop();
    await webhook?.close();
    context.metrics.close();
    await client.close();
    throw error;
  }

  let closing: Promise<void> | null = null;
  return {
    address() {
      const address = server.address() as AddressInfo;
      const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
      const scheme = tls === undefined ? 'http' : 'https';
      return {
        host: address.address,
        port: address.port,
        url: `${scheme}://${host}:${address.port}`,
      };
    },
    close() {
      closing ??= (async () => {
        accepting = false;
        const closed = new Promise<void>((resolve) => server.close(() => resolve()));
        context.events.close();
        server.closeIdleConnections();
        await playground.close();
        await context.redrives.close();
        await sampler.stop();
        await webhook?.close();
        const grace = setTimeout(() => server.closeAllConnections(), ADMIN_CLOSE_GRACE_MS);
        await closed;
        clearTimeout(grace);
        context.metrics.close();
        await client.close();
      })();
      return closing;
    },
  };
}

/** A POST, PATCH or DELETE from a page of another origin is refused (the API has no CORS). */
function crossOrigin(request: http.IncomingMessage): boolean {
  const origin = request.headers.origin;
  if (origin === undefined) return false;
  try {
    return new URL(origin).host !== request.headers.host;
  } catch {
    return true;
  }
}

async function handle(
  context: AdminContext,
  files: StaticFiles,
  hosts: HostCheck | null,
  request: http.IncomingMessage,
  response: http.ServerResponse,
): Promise<void> {
  if (hosts === null || !hosts.allows(request.headers.host)) {
    throw new WeirError(
      'NOT_AUTHORIZED',
      `this server does not answer for Host ${JSON.stringify(request.headers.host ?? '')} (see allowedHosts)`,
    );
  }
  const method = request.method ?? 'GET';
  const url = new URL(request.url ?? '/', 'http://admin.invalid');
  const match = context.router.match(method, url.pathname);
  if (match === null) {
    if ((method === 'GET' || method === 'HEAD') && files.serve(request, response, url.pathname)) {
      return;
    }
    if (url.pathname.startsWith('/api/')) {
      throw new WeirError(
        'INVALID_ARGUMENT',
        `no endpoint ${method} ${url.pathname} (see /api/openapi.json)`,
      );
    }
    response.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' });
    response.end(
      files.available ? 'not found\n' : 'not found (this server has no console files)\n',
    );
    return;
  }
  if (match === 'method') {
    throw new WeirError('INVALID_ARGUMENT', `${method} is not allowed on ${url.pathname}`);
  }
  if (method !== 'GET' && method !== 'HEAD' && crossOrigin(request)) {
    throw new WeirError('NOT_AUTHORIZED', 'cross-origin requests may not change the broker');
  }
  const principal: Principal = match.route.public
    ? OPEN_PRINCIPAL
    : await context.authentication.authenticate(request);
  let access: Access | null = null;
  let client: Client | null = null;
  const routeContext: RouteContext = {
    request,
    response,
    params: match.params,
    query: url.searchParams,
    body: () => readJsonBody(request, ADMIN_REQUEST_BODY_BYTES_MAX),
    principal,
    get access() {
      return (access ??= new Access(principal));
    },
    get client() {
      // A public route acts for no one: it must not reach the broker as the open principal.
      assert(!match.route.public, `the public route ${match.route.path} uses no client`);
      return (client ??= context.broker.connect({ principal, remote: remoteAddress(request) }));
    },
  };
  try {
    const result: unknown = await match.route.handler(routeContext);
    if (match.route.raw) return;
    sendJson(response, match.route.status ?? 200, result);
  } finally {
    // Typed as null by the flow analysis, which does not see the getter assign it.
    const used = client as Client | null;
    if (used !== null) await used.close();
  }
}

/**
 * At most `max` sockets. A connection past that takes the place of the oldest socket with no
 * request in progress (silent, half a request, or kept alive between requests), so sockets
 * that send nothing cannot lock /healthz and the console out; when every socket has a request
 * in progress the new one is closed. (server.maxConnections would close the new one always.)
 */
function capConnections(server: http.Server, max: number): void {
  /** Every open socket, oldest first, with its requests in progress. */
  const sockets = new Map<Socket, number>();
  server.on('connection', (socket: Socket) => {
    if (sockets.size >= max) {
      let idle: Socket | null = null;
      for (const [candidate, requests] of sockets) {
        if (requests === 0) {
          idle = candidate;
          break;
        }
      }
      if (idle === null) {
        socket.destroy();
        return;
      }
      sockets.delete(idle);
      idle.destroy();
    }
    sockets.set(socket, 0);
    socket.once('close', () => sockets.delete(socket));
  });
  server.on('request', (request: http.IncomingMessage, response: http.ServerResponse) => {
    const socket = request.socket;
    const requests = sockets.get(socket);
    if (requests === undefined) return; // already evicted or closed
    sockets.set(socket, requests + 1);
    response.once('close', () => {
      const left = sockets.get(socket);
      if (left !== undefined) sockets.set(socket, Math.max(0, left - 1));
    });
  });
}
