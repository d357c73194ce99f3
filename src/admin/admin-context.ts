/** What the route handlers of the admin server share (one per server). */
import type { Broker } from '../broker/index.js';
import type { Client } from '../protocol/index.js';
import type { ConnectionsView } from './connections-view.js';
import type { HttpAuthentication } from './http-authentication.js';
import type { LiveEvents } from './live-events.js';
import type { MessagePeeker } from './message-peek.js';
import type { AdminMetrics } from './metrics.js';
import type { RedriveJobs } from './redrive-jobs.js';
import type { Router } from './router.js';
import type { StatsSampler } from './stats-sampler.js';

export interface AdminContext {
  readonly broker: Broker;
  /**
   * The admin server's own in-process client, acting for the broker (OPEN_PRINCIPAL): for the
   * server's own work only (the stats sampler, re-drive jobs, /readyz). A route acts for its
   * user through RouteContext.client instead.
   */
  readonly ownClient: Client;
  /** Who each request acts for: Basic, Bearer, the console's sessions. */
  readonly authentication: HttpAuthentication;
  /** Served over HTTPS (the session cookie is then Secure). */
  readonly secure: boolean;
  readonly connections: ConnectionsView | undefined;
  readonly sampler: StatsSampler;
  readonly metrics: AdminMetrics;
  readonly peeker: MessagePeeker;
  readonly redrives: RedriveJobs;
  readonly events: LiveEvents;
  readonly router: Router;
  readonly version: string;
  readonly startedAtMs: number;
  /** false once close() began: /readyz answers 503. */
  readonly accepting: () => boolean;
}
