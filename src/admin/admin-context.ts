/** What the route handlers of the admin server share (one per server). */
import type { Broker } from '../broker/index.js';
import type { Client } from '../protocol/index.js';
import type { ConnectionsView } from './connections-view.js';
import type { LiveEvents } from './live-events.js';
import type { MessagePeeker } from './message-peek.js';
import type { AdminMetrics } from './metrics.js';
import type { RedriveJobs } from './redrive-jobs.js';
import type { Router } from './router.js';
import type { StatsSampler } from './stats-sampler.js';

export interface AdminContext {
  readonly broker: Broker;
  /** The admin server's own in-process client (every API call goes through it). */
  readonly client: Client;
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
