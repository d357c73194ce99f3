/** W3C traceparent reading and writing (src/protocol/trace-context.ts). */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  formatTraceParent,
  parseTraceParent,
  traceContextOf,
} from '../../src/protocol/trace-context.js';
import { TRACESTATE_CHARS_MAX } from '../../src/limits.js';

const TRACE_ID = '4bf92f3577b34da6a3ce929d0e0e4736';
const SPAN_ID = '00f067aa0ba902b7';

test('a version 00 traceparent is read into its fields and written back the same', () => {
  const value = `00-${TRACE_ID}-${SPAN_ID}-01`;
  const parsed = parseTraceParent(value);
  assert.deepEqual(parsed, { traceId: TRACE_ID, spanId: SPAN_ID, traceFlags: 1 });
  assert.equal(formatTraceParent(parsed), value);
  assert.equal(
    formatTraceParent({ traceId: TRACE_ID, spanId: SPAN_ID, traceFlags: 0 }),
    `00-${TRACE_ID}-${SPAN_ID}-00`,
  );
});

test('a later version is read by its first four fields; ff and malformed values are not a trace context', () => {
  assert.deepEqual(parseTraceParent(`01-${TRACE_ID}-${SPAN_ID}-01-extra`), {
    traceId: TRACE_ID,
    spanId: SPAN_ID,
    traceFlags: 1,
  });
  for (const bad of [
    `ff-${TRACE_ID}-${SPAN_ID}-01`,
    `00-${TRACE_ID}-${SPAN_ID}-01-extra`, // version 00 is exactly 55 characters
    `00-${'0'.repeat(32)}-${SPAN_ID}-01`,
    `00-${TRACE_ID}-${'0'.repeat(16)}-01`,
    `00-${TRACE_ID.toUpperCase()}-${SPAN_ID}-01`,
    `00-${TRACE_ID}-${SPAN_ID}`,
    `00-${TRACE_ID.slice(1)}-${SPAN_ID}-01`,
    '',
    undefined,
    42,
  ]) {
    assert.equal(parseTraceParent(bad), null, String(bad));
  }
});

test('traceContextOf reads the headers; an overlong tracestate is left out', () => {
  const traceparent = `00-${TRACE_ID}-${SPAN_ID}-01`;
  assert.deepEqual(traceContextOf({ traceparent, tracestate: 'a=1' }), {
    traceparent,
    tracestate: 'a=1',
  });
  assert.deepEqual(
    traceContextOf({ traceparent, tracestate: 'a'.repeat(TRACESTATE_CHARS_MAX + 1) }),
    {
      traceparent,
    },
  );
  assert.equal(traceContextOf({ traceparent: 'nonsense', tracestate: 'a=1' }), null);
  assert.equal(traceContextOf({}), null);
});
