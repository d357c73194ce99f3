/**
 * The outbox layer's public face (`weir/outbox`): the transactional outbox for PostgreSQL.
 * The application writes an outbox row in its own transaction (insertOutbox); the relay
 * publishes each row exactly once to Weir and marks it published (OutboxRelay).
 */
export {
  OUTBOX_TABLE_DEFAULT,
  createOutboxTable,
  dropOutboxTableDdl,
  outboxMessageId,
  outboxNames,
  outboxTableDdl,
  type CreateOutboxTableOptions,
  type OutboxNames,
} from './outbox-table.js';
export {
  insertOutbox,
  outboxBodyBytes,
  type InsertOutboxOptions,
  type OutboxMessage,
} from './insert-outbox.js';
export {
  OutboxRelay,
  type OutboxBatchReport,
  type OutboxLag,
  type OutboxRelayEvents,
  type OutboxRelayOptions,
  type OutboxRelayStats,
} from './outbox-relay.js';
export { OUTBOX_OLDEST_AGE_METRIC, OUTBOX_PENDING_METRIC, outboxGauges } from './outbox-metrics.js';
export type { OutboxQueryable } from './queryable.js';
