/**
 * The relay's lag as Prometheus gauges, labelled by table so relays of several outboxes can
 * share one registry:
 *   weir_outbox_pending{table}              rows not published yet
 *   weir_outbox_oldest_age_seconds{table}   age of the oldest of them (0 when none)
 * A registry holds one metric per name, so every relay on a registry shares the same two
 * gauges (the first relay registers them, the next ones find them).
 */
import { Gauge, register as defaultRegistry, type Registry } from 'prom-client';
import { WeirError } from '../util/index.js';

export const OUTBOX_PENDING_METRIC = 'weir_outbox_pending';
export const OUTBOX_OLDEST_AGE_METRIC = 'weir_outbox_oldest_age_seconds';

export interface OutboxGauges {
  readonly pending: Gauge<'table'>;
  readonly oldestAgeSeconds: Gauge<'table'>;
}

function gauge(registry: Registry, name: string, help: string): Gauge<'table'> {
  const existing = registry.getSingleMetric(name);
  if (existing !== undefined) {
    if (!(existing instanceof Gauge)) {
      throw new WeirError('INVALID_ARGUMENT', `the registry's ${name} is not a gauge`);
    }
    return existing;
  }
  return new Gauge({ name, help, labelNames: ['table'], registers: [registry] });
}

export function outboxGauges(registry: Registry = defaultRegistry): OutboxGauges {
  return {
    pending: gauge(registry, OUTBOX_PENDING_METRIC, 'Outbox rows not published yet.'),
    oldestAgeSeconds: gauge(
      registry,
      OUTBOX_OLDEST_AGE_METRIC,
      'Age of the oldest outbox row not published yet (0 when none).',
    ),
  };
}
