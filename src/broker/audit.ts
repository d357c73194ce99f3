/**
 * The audit trail: every admin action and every refused authentication is one event on the
 * diagnostics channel `weir:audit`; `weir serve` writes each as one JSON log line. Fields:
 * `action` (`streams.create|update|delete|purge`, `subscriptions.delete|seek`,
 * `deadLetters.redrive|delete`, `users.*`, `authenticate`, ...), `user` (null when none was
 * established), `remote` (the client's address; null in-process), `outcome` ('ok' or
 * 'refused'), and what the action names (`target`: the stream, `stream/subscription`, subject
 * or user name; `stream`, `subscription`, `subject` where they apply; `code` when refused).
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
