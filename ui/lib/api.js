/* global fetch, EventSource, setTimeout, clearTimeout */
// The console talks only to the HTTP API: api() for requests, and the live store, which
// starts from /api/stats/history and /api/stats, then follows /api/events (Server-Sent Events).

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

/** Calls the API; resolves with the JSON answer, rejects with ApiError { code, message }. */
export async function api(method, path, body) {
  const init = { method, headers: { accept: 'application/json' } };
  if (body !== undefined) {
    init.headers['content-type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  const response = await fetch(path, init);
  const text = await response.text();
  let value = null;
  try {
    value = text === '' ? null : JSON.parse(text);
  } catch {
    throw new ApiError(response.status, 'INTERNAL', `not JSON: ${text.slice(0, 200)}`);
  }
  if (!response.ok) {
    const error = value?.error ?? {};
    throw new ApiError(
      response.status,
      error.code ?? 'INTERNAL',
      error.message ?? `HTTP ${response.status}`,
    );
  }
  return value;
}

const HISTORY_MAX = 300;

/** The live stats every page reads: the latest snapshot and the totals history. */
export const live = {
  snapshot: null,
  history: [],
  /** 'connecting' | 'live' | 'reconnecting' */
  status: 'connecting',
  listeners: new Set(),
};

function notify() {
  for (const listener of live.listeners) {
    try {
      listener(live.snapshot);
    } catch (error) {
      console.error(error);
    }
  }
}

/** Calls `listener(snapshot)` on every update; returns the unsubscribe function. */
export function onLive(listener) {
  live.listeners.add(listener);
  return () => live.listeners.delete(listener);
}

function accept(snapshot) {
  if (!snapshot) return;
  const last = live.history[live.history.length - 1];
  if (!last || snapshot.totals.timeMs > last.timeMs) {
    live.history.push(snapshot.totals);
    if (live.history.length > HISTORY_MAX) live.history.shift();
  }
  live.snapshot = snapshot;
  notify();
}

let source = null;
let staleTimer = null;

export async function startLive() {
  try {
    live.history = (await api('GET', '/api/stats/history')) ?? [];
    accept(await api('GET', '/api/stats'));
  } catch (error) {
    console.error(error);
  }
  connect();
}

function connect() {
  source = new EventSource('/api/events');
  source.addEventListener('stats', (event) => {
    live.status = 'live';
    watchStale();
    accept(JSON.parse(event.data));
  });
  source.addEventListener('error', () => {
    live.status = 'reconnecting';
    notify();
  });
}

// No event for three sample periods: say so (the EventSource reconnects by itself).
function watchStale() {
  clearTimeout(staleTimer);
  const interval = live.snapshot?.intervalMs ?? 1000;
  staleTimer = setTimeout(() => {
    live.status = 'reconnecting';
    notify();
  }, interval * 3);
}
