/**
 * The `--fair-by` and `--rate-limit` flags of `weir sub add`, parsed into SubscribeOptions
 * values (the broker validates the numbers again and names the option if they are wrong):
 *
 *   --fair-by key | header:NAME
 *   --rate-limit N[/s][,by=key|by=header:NAME][,burst=B]
 */
import type { GroupBy, RateLimit, RateLimitOptions } from '../protocol/index.js';
import { WeirError } from '../util/index.js';

function invalid(message: string): WeirError {
  return new WeirError('INVALID_ARGUMENT', message);
}

function groupBy(value: string, flag: string): GroupBy {
  if (value === 'key') return 'key';
  if (value.startsWith('header:') && value.length > 'header:'.length)
    return { header: value.slice('header:'.length) };
  throw invalid(`${flag} must be key or header:NAME (got ${value})`);
}

export function parseFairBy(value: string): GroupBy {
  return groupBy(value, '--fair-by');
}

export function parseRateLimit(value: string): RateLimitOptions {
  const [rate = '', ...parts] = value.split(',');
  const perSecond = Number(rate.endsWith('/s') ? rate.slice(0, -2) : rate);
  if (rate === '' || !Number.isFinite(perSecond) || perSecond <= 0)
    throw invalid(`--rate-limit must start with a rate N or N/s (got ${value})`);
  let by: GroupBy | undefined;
  let burst: number | undefined;
  for (const part of parts) {
    if (part.startsWith('by=')) by = groupBy(part.slice(3), '--rate-limit by=');
    else if (part.startsWith('burst=') && Number.isSafeInteger(Number(part.slice(6))))
      burst = Number(part.slice(6));
    else throw invalid(`--rate-limit: ${part} is not by=... or burst=N`);
  }
  return {
    perSecond,
    ...(by === undefined ? {} : { by }),
    ...(burst === undefined ? {} : { burst }),
  };
}

/** How `weir sub info` and the console show them. */
export function formatGroupBy(by: GroupBy | null): string {
  if (by === null) return 'none';
  return by === 'key' ? 'key' : `header ${by.header}`;
}

export function formatRateLimit(limit: RateLimit | null): string {
  if (limit === null) return 'none';
  const scope = limit.by === null ? 'for the subscription' : `per ${formatGroupBy(limit.by)}`;
  return `${limit.perSecond}/s ${scope}, burst ${limit.burst}`;
}
