/**
 * W3C Trace Context (https://www.w3.org/TR/trace-context/) as Weir carries it: a message's
 * `traceparent` and `tracestate` headers. Pure string work, no OpenTelemetry: a broker without
 * `@opentelemetry/api` still carries the headers unchanged and `msg.traceContext()` still
 * reads them.
 *
 *   traceparent = version "-" trace-id "-" parent-id "-" trace-flags
 *                 2 hex      32 hex        16 hex        2 hex        (55 characters, lower case)
 *
 * Version 00 is the one this file writes. A later version is read by its first four fields
 * (the spec's forward-compatibility rule); version ff, an all-zero trace id or parent id, and
 * anything else malformed is no trace context at all.
 */
import type { Headers, TraceContext } from './api.js';
import { TRACESTATE_CHARS_MAX } from '../limits.js';

export const TRACEPARENT_HEADER = 'traceparent';
export const TRACESTATE_HEADER = 'tracestate';

/** The four fields of a valid traceparent. */
export interface TraceParent {
  readonly traceId: string;
  readonly spanId: string;
  /** Bit 0: sampled. */
  readonly traceFlags: number;
}

const TRACEPARENT_V00 = /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/;
const TRACEPARENT_LATER = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-.*)?$/;
const ZERO_TRACE_ID = '0'.repeat(32);
const ZERO_SPAN_ID = '0'.repeat(16);

/** The fields of `value` if it is a valid traceparent, else null. */
export function parseTraceParent(value: unknown): TraceParent | null {
  if (typeof value !== 'string') return null;
  let traceId: string;
  let spanId: string;
  let flags: string;
  const current = TRACEPARENT_V00.exec(value);
  if (current !== null) {
    [, traceId, spanId, flags] = current as unknown as [string, string, string, string];
  } else {
    const later = TRACEPARENT_LATER.exec(value);
    // A version 00 header must be exactly 55 characters; ff is forbidden.
    if (later === null || later[1] === '00' || later[1] === 'ff') return null;
    [, , traceId, spanId, flags] = later as unknown as [string, string, string, string, string];
  }
  if (traceId === ZERO_TRACE_ID || spanId === ZERO_SPAN_ID) return null;
  return { traceId, spanId, traceFlags: parseInt(flags, 16) };
}

/** The version 00 traceparent of these fields. */
export function formatTraceParent(parent: TraceParent): string {
  const flags = (parent.traceFlags & 0xff).toString(16).padStart(2, '0');
  return `00-${parent.traceId}-${parent.spanId}-${flags}`;
}

/**
 * The trace context a message's headers carry (what `msg.traceContext()` gives when no
 * deliver span was made): null without a valid `traceparent`. A `tracestate` longer than
 * TRACESTATE_CHARS_MAX is left out (the spec lets a receiver drop it whole).
 */
export function traceContextOf(headers: Headers): TraceContext | null {
  const traceparent = headers[TRACEPARENT_HEADER];
  if (parseTraceParent(traceparent) === null) return null;
  const tracestate = headers[TRACESTATE_HEADER];
  return tracestate !== undefined && tracestate.length <= TRACESTATE_CHARS_MAX
    ? { traceparent: traceparent!, tracestate }
    : { traceparent: traceparent! };
}
