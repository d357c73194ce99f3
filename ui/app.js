/* global document, window, URLSearchParams */
// The console's entry point: a hash router over the pages, and the live store every page
// reads. A page module exports mount(container, params) -> { update(snapshot)?, unmount()? }.
//
// It starts by asking GET /api/session who it is. On a broker without users the answer is
// "nobody, and no one needs to be": the console runs as it always did. On a broker with users
// a 401 shows the login page (also whenever a later call answers 401: the session ended); once
// logged in, the header shows the user's name and a logout button.
import { api, live, onLive, startLive, stopLive, whenUnauthenticated } from './lib/api.js';
import * as login from './pages/login.js';
import * as overview from './pages/overview.js';
import * as streams from './pages/streams.js';
import * as stream from './pages/stream.js';
import * as subscriptions from './pages/subscriptions.js';
import * as deadLetters from './pages/dead-letters.js';
import * as publish from './pages/publish.js';
import * as flow from './pages/flow.js';
import * as schedules from './pages/schedules.js';
import * as cluster from './pages/cluster.js';
import * as playground from './pages/playground.js';
import { createDeadLetterBanner } from './lib/dead-letter-banner.js';

const ROUTES = [
  { pattern: /^\/?$/, page: overview, nav: 'overview' },
  { pattern: /^\/streams\/?$/, page: streams, nav: 'streams' },
  { pattern: /^\/streams\/([^/]+)$/, page: stream, nav: 'streams', params: ['stream'] },
  { pattern: /^\/subscriptions\/?$/, page: subscriptions, nav: 'subscriptions' },
  {
    pattern: /^\/subscriptions\/([^/]+)\/([^/]+)$/,
    page: subscriptions,
    nav: 'subscriptions',
    params: ['stream', 'subscription'],
  },
  { pattern: /^\/dead-letters\/?$/, page: deadLetters, nav: 'dead-letters' },
  {
    pattern: /^\/dead-letters\/([^/]+)$/,
    page: deadLetters,
    nav: 'dead-letters',
    params: ['subject'],
  },
  { pattern: /^\/publish\/?$/, page: publish, nav: 'publish' },
  { pattern: /^\/flow\/?$/, page: flow, nav: 'flow' },
  { pattern: /^\/schedules\/?$/, page: schedules, nav: 'schedules' },
  { pattern: /^\/cluster\/?$/, page: cluster, nav: 'cluster' },
  { pattern: /^\/playground\/?$/, page: playground, nav: 'playground' },
];

const container = document.getElementById('page');
const who = document.getElementById('who');
const whoName = document.getElementById('who-name');
let current = null;
let started = false;

function route() {
  if (!started) return;
  const path = window.location.hash.replace(/^#/, '') || '/';
  const [pathname, search = ''] = path.split('?');
  const found = ROUTES.find((candidate) => candidate.pattern.test(pathname)) ?? ROUTES[0];
  const match = pathname.match(found.pattern) ?? [];
  const params = Object.fromEntries(new URLSearchParams(search));
  (found.params ?? []).forEach((name, index) => {
    params[name] = decodeURIComponent(match[index + 1] ?? '');
  });
  current?.unmount?.();
  container.replaceChildren();
  for (const link of document.querySelectorAll('nav a')) {
    link.classList.toggle('active', link.dataset.page === found.nav);
  }
  current = found.page.mount(container, params) ?? null;
  if (live.snapshot) current?.update?.(live.snapshot);
}

const status = document.getElementById('live-status');
const banner = createDeadLetterBanner(document.getElementById('dead-letter-banner'));
onLive((snapshot) => {
  status.textContent = live.status === 'live' ? 'live' : live.status;
  status.className = `status status-${live.status}`;
  if (snapshot) {
    banner.update(snapshot);
    current?.update?.(snapshot);
  }
});

window.addEventListener('hashchange', route);

function showLogin() {
  started = false;
  stopLive();
  current?.unmount?.();
  current = null;
  document.body.classList.add('logged-out');
  who.hidden = true;
  banner.hide();
  login.mount(container, (session) => start(session));
}

function start(session) {
  document.body.classList.remove('logged-out');
  if (session.user !== null) {
    whoName.textContent = session.user;
    who.hidden = false;
  } else {
    who.hidden = true;
  }
  started = true;
  route();
  void startLive();
}

document.getElementById('logout').addEventListener('click', async () => {
  try {
    await api('DELETE', '/api/session');
  } catch (error) {
    console.error(error);
  }
  showLogin();
});

whenUnauthenticated(() => {
  if (started) showLogin();
});

async function boot() {
  try {
    start(await api('GET', '/api/session'));
  } catch (error) {
    if (error.status === 401) showLogin();
    else {
      // Not a refusal (the server is down, an old server without /api/session): run as before.
      console.warn(error);
      start({ user: null });
    }
  }
}

void boot();
