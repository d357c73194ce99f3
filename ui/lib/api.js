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

let onUnauthenticated = null;

/**
 * `handler(error)` runs when the API answers 401 (no session, or it ended): the console shows
 * its login page. Not for /api/session itself, whose callers handle its answers.
 */
export function whenUnauthenticated(handler) {
  onUnauthenticated = handler;
}

/**
 * Calls the API; resolves with the JSON answer, rejects with ApiError { status, code, message }.
 * Every request says it comes from the console (x-weir-console), so a 401 carries no Basic
 * challenge and the browser shows no password box of its own.
 */
export async function api(method, path, body) {
  const init = { method, headers: { accept: 'application/json', 'x-weir-console': '1' } };
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
    const failure = new ApiError(
      response.status,
      error.code ?? 'INTERNAL',
      error.message ?? `HTTP ${response.status}`,
    );
    if (response.status === 401 && path !== '/api/session') onUnauthenticated?.(failure);
    throw failure;
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

/** Stops following /api/events (logout, or the session ended). */
export function stopLive() {
  source?.close();
  source = null;
  clearTimeout(staleTimer);
}

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
    // A refused stream (401: the session ended) is not retried by the browser: ask the API
    // why, which shows the login page when that is the reason.
    if (source?.readyState === EventSource.CLOSED) {
      api('GET', '/api/stats').catch(() => undefined);
    }
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
