/**
 * The admin layer's public face: the HTTP API, /metrics, /healthz, /readyz and the console,
 * started next to a broker (`weir serve` starts it next to the TCP server).
 */
export { startAdminServer, type AdminServer, type AdminServerOptions } from './admin-server.js';
export type { ConnectionSnapshot, ConnectionsView, ConsumerSnapshot } from './connections-view.js';
export type { Stall, StallReason } from './stall-detector.js';
export type {
  StatsSnapshot,
  StreamStats,
  SubscriptionStats,
  TotalStats,
} from './stats-snapshot.js';
export type { DeadLetterWebhookOptions } from './dead-letter-webhook.js';
