/**
 * The audit trail: every admin action and every refused authentication is one event on the
 * diagnostics channel `weir:audit`; `weir serve` writes each as one JSON log line. Fields:
 * `action` (e.g. `streams.delete`, `users.add`, `authenticate`), `user` (null when none was
 * established), `remote` (the client's address; null in-process), `outcome` ('ok' or
 * 'refused'), and what the action names (`stream`, `subscription`, `subject`, `target`, `code`).
 */
import * as diagnosticsChannel from 'node:diagnostics_channel';

export const AUDIT_CHANNEL_NAME = 'weir:audit';
const channel = diagnosticsChannel.channel(AUDIT_CHANNEL_NAME);

export interface AuditEvent {
  readonly action: string;
  readonly user: string | null;
  readonly remote: string | null;
  readonly outcome: 'ok' | 'refused';
  readonly [field: string]: unknown;
}

export function audit(event: AuditEvent): void {
  if (channel.hasSubscribers) channel.publish(event);
}
