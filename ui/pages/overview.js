// Overview: totals, live charts (publish and delivery rates, backlog, connections), and the
// stall detector's findings.
import { live } from '../lib/api.js';
import { createChart } from '../lib/chart.js';
import {
  h,
  replace,
  formatBytes,
  formatCount,
  formatRate,
  formatSeconds,
  encodePath,
  table,
} from '../lib/dom.js';

const REASON_TITLES = {
  'no-consumers': 'No consumers',
  'consumer-erroring': 'Consumer erroring',
  'messages-delayed': 'Messages delayed',
  'all-leased': 'All messages leased',
  'credit-exhausted': 'All credit used',
  'consumers-idle': 'Consumers idle',
};

function card(label, value, testid) {
  return h(
    'div',
    { class: 'stat', dataset: { testid } },
    h('span', { class: 'stat-label' }, label),
    h('span', { class: 'stat-value' }, value),
  );
}

export function mount(container) {
  const cards = h('div', { class: 'stats-row', dataset: { testid: 'overview-cards' } });
  const rates = createChart({
    title: 'Messages per second',
    testid: 'chart-rates',
    series: [
      { key: 'inPerSecond', label: 'published', color: '#2f80ed' },
      { key: 'outPerSecond', label: 'delivered', color: '#27ae60' },
      { key: 'ackedPerSecond', label: 'acked', color: '#9b51e0' },
    ],
  });
  const backlog = createChart({
    title: 'Backlog (unsettled messages)',
    testid: 'chart-backlog',
    series: [
      { key: 'backlog', label: 'backlog', color: '#f2994a' },
      { key: 'inFlight', label: 'in flight', color: '#56ccf2' },
    ],
  });
  const connections = createChart({
    title: 'Connections and consumers',
    testid: 'chart-connections',
    series: [
      { key: 'connections', label: 'connections', color: '#eb5757' },
      { key: 'consumers', label: 'consumers', color: '#219653' },
    ],
  });
  const stalls = h('div', { class: 'stalls', dataset: { testid: 'stalls' } });
  const busiest = h('div');
  container.append(
    h('h1', null, 'Overview'),
    cards,
    h('div', { class: 'charts' }, rates.element, backlog.element, connections.element),
    h('section', { class: 'card' }, h('h2', null, 'Stall detector'), stalls),
    h('section', { class: 'card' }, h('h2', null, 'Busiest streams'), busiest),
  );

  function update(snapshot) {
    const totals = snapshot.totals;
    replace(
      cards,
      card('Publish rate', formatRate(totals.inPerSecond), 'total-in'),
      card('Delivery rate', formatRate(totals.outPerSecond), 'total-out'),
      card('Backlog', formatCount(totals.backlog), 'total-backlog'),
      card('Streams', formatCount(totals.streams), 'total-streams'),
      card(
        'Stored',
        `${formatCount(totals.messages)} msgs · ${formatBytes(totals.bytes)}`,
        'total-stored',
      ),
      card('Consumers', formatCount(totals.consumers), 'total-consumers'),
      card(
        'Connections',
        totals.connections === null ? 'embedded' : formatCount(totals.connections),
        'total-connections',
      ),
      card('Stalled', formatCount(totals.stalled), 'total-stalled'),
      card('Memory (RSS)', formatBytes(totals.rssBytes), 'total-rss'),
      card('Event-loop lag p99', `${totals.eventLoopLagMs} ms`, 'total-lag'),
    );
    const history = live.history.map((point) => ({
      ...point,
      connections: point.connections ?? 0,
    }));
    rates.update(history);
    backlog.update(history);
    connections.update(history);

    const stalled = snapshot.subscriptions.filter((subscription) => subscription.stall !== null);
    if (stalled.length === 0) {
      replace(
        stalls,
        h(
          'p',
          { class: 'ok', dataset: { testid: 'no-stalls' } },
          'Every subscription with a backlog is making progress.',
        ),
      );
    } else {
      replace(
        stalls,
        h(
          'ul',
          { class: 'stall-list' },
          stalled.map((subscription) =>
            h(
              'li',
              {
                class: `stall stall-${subscription.stall.reason}`,
                dataset: {
                  testid: 'stall',
                  reason: subscription.stall.reason,
                  subscription: `${subscription.stream}/${subscription.name}`,
                },
              },
              h(
                'a',
                {
                  href: `#/subscriptions/${encodePath(subscription.stream)}/${encodePath(subscription.name)}`,
                },
                `${subscription.stream} / ${subscription.name}`,
              ),
              h('span', { class: 'badge bad' }, REASON_TITLES[subscription.stall.reason]),
              h(
                'span',
                { class: 'muted' },
                ` for ${formatSeconds((snapshot.timeMs - subscription.stall.sinceMs) / 1000)}: `,
              ),
              subscription.stall.message,
            ),
          ),
        ),
      );
    }
    const top = [...snapshot.streams]
      .sort(
        (a, b) =>
          b.inPerSecond + b.outPerSecond - (a.inPerSecond + a.outPerSecond) ||
          b.messages - a.messages,
      )
      .slice(0, 8);
    replace(
      busiest,
      top.length === 0
        ? h(
            'p',
            { class: 'muted' },
            'No streams yet. Create one on the Streams page or with the SDK.',
          )
        : table(
            null,
            ['Stream', 'In', 'Out', 'Messages', 'Size'],
            top.map((stream) =>
              h(
                'tr',
                null,
                h(
                  'td',
                  null,
                  h('a', { href: `#/streams/${encodePath(stream.name)}` }, stream.name),
                ),
                h('td', { class: 'number' }, formatRate(stream.inPerSecond)),
                h('td', { class: 'number' }, formatRate(stream.outPerSecond)),
                h('td', { class: 'number' }, formatCount(stream.messages)),
                h('td', { class: 'number' }, formatBytes(stream.bytes)),
              ),
            ),
          ),
    );
  }

  return { update };
}

export { REASON_TITLES };
