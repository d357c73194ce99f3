/* global document, window, URLSearchParams */
// The console's entry point: a hash router over the pages, and the live store every page
// reads. A page module exports mount(container, params) -> { update(snapshot)?, unmount()? }.
import { live, onLive, startLive } from './lib/api.js';
import * as overview from './pages/overview.js';
import * as streams from './pages/streams.js';
import * as stream from './pages/stream.js';
import * as subscriptions from './pages/subscriptions.js';
import * as deadLetters from './pages/dead-letters.js';
import * as publish from './pages/publish.js';
import * as flow from './pages/flow.js';

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
];

const container = document.getElementById('page');
let current = null;

function route() {
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
onLive((snapshot) => {
  status.textContent = live.status === 'live' ? 'live' : live.status;
  status.className = `status status-${live.status}`;
  if (snapshot) current?.update?.(snapshot);
});

window.addEventListener('hashchange', route);
route();
void startLive();
