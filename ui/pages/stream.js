/* global window, confirm, setInterval, clearInterval, URLSearchParams */
// One stream: configuration, partitions, subscriptions, and the message browser (by offset,
// by time, by subject filter; bodies as JSON, text or hex). Browsing peeks: nothing is consumed.
import { api } from '../lib/api.js';
import { bodyDetails } from '../lib/body.js';
import {
  h,
  replace,
  formatBytes,
  formatCount,
  formatRate,
  formatSeconds,
  formatTime,
  toLocalInput,
  encodePath,
  table,
  stallBadge,
} from '../lib/dom.js';

const REFRESH_MS = 2000;

function messageBrowser(streamName, getInfo) {
  const partition = h('select', { name: 'partition', dataset: { testid: 'browse-partition' } });
  const mode = h(
    'select',
    { name: 'mode', dataset: { testid: 'browse-mode' } },
    h('option', { value: 'latest' }, 'latest'),
    h('option', { value: 'offset' }, 'from offset'),
    h('option', { value: 'time' }, 'from time'),
  );
  const offset = h('input', { name: 'offset', type: 'number', min: 0, value: '0', class: 'short' });
  const time = h('input', {
    name: 'time',
    type: 'datetime-local',
    step: 1,
    value: toLocalInput(Date.now() - 3600_000),
  });
  const filter = h('input', {
    name: 'filter',
    placeholder: 'subject filter, e.g. orders.*.created',
  });
  const limit = h('input', {
    name: 'limit',
    type: 'number',
    min: 1,
    max: 1000,
    value: '20',
    class: 'short',
  });
  const view = h(
    'select',
    { name: 'view', dataset: { testid: 'browse-view' } },
    ['auto', 'json', 'text', 'hex'].map((value) => h('option', { value }, value)),
  );
  const results = h('div', { class: 'messages', dataset: { testid: 'messages' } });
  const note = h('p', { class: 'muted' });
  let page = null;

  function syncInputs() {
    offset.disabled = mode.value !== 'offset';
    time.disabled = mode.value !== 'time';
  }
  mode.addEventListener('change', syncInputs);
  syncInputs();

  function render() {
    if (!page) return;
    replace(
      results,
      page.messages.length === 0
        ? h('p', { class: 'muted' }, 'No messages here.')
        : page.messages.map((message) =>
            h(
              'article',
              {
                class: 'message',
                dataset: {
                  testid: 'message',
                  offset: message.offset,
                  partition: message.partition,
                },
              },
              h(
                'header',
                null,
                h('span', { class: 'mono' }, `p${message.partition} @ ${message.offset}`),
                h('span', { class: 'mono subject' }, message.subject),
                message.key === null ? null : h('span', { class: 'tag' }, `key ${message.key}`),
                message.priority > 0
                  ? h('span', { class: 'tag' }, `priority ${message.priority}`)
                  : null,
                h('span', { class: 'muted' }, formatTime(message.timestamp)),
                h('span', { class: 'muted' }, `${message.bodyBytes} B`),
              ),
              Object.keys(message.headers).length === 0
                ? null
                : h(
                    'div',
                    { class: 'headers mono' },
                    Object.entries(message.headers).map(([name, value]) =>
                      h('span', { class: 'tag' }, `${name}: ${value}`),
                    ),
                  ),
              bodyDetails(message, view.value, page.messages.length === 1),
            ),
          ),
    );
  }
  view.addEventListener('change', render);

  const LATEST_PARTITIONS_MAX = 16;

  function filters(query) {
    for (const pattern of filter.value
      .split(',')
      .map((value) => value.trim())
      .filter(Boolean)) {
      query.append('filter', pattern);
    }
    return query;
  }

  function peek(query) {
    return api('GET', `/api/streams/${encodePath(streamName)}/messages?${filters(query)}`);
  }

  /** The last messages of each partition (one peek per partition), newest last. */
  async function latestOfEach(partitions, count) {
    const each = Math.max(1, Math.ceil(count / partitions.length));
    // One after another: the server runs a few peeks at once and refuses more.
    const pages = [];
    for (const entry of partitions) {
      pages.push(
        await peek(
          new URLSearchParams({
            partition: String(entry.partition),
            limit: String(each),
            offset: String(Math.max(entry.startOffset, entry.endOffset - each)),
          }),
        ),
      );
    }
    const messages = pages
      .flatMap((one) => one.messages)
      .sort((a, b) => a.timestamp - b.timestamp || a.partition - b.partition);
    return { messages, complete: true, nextOffsets: {} };
  }

  async function load(from) {
    const info = getInfo();
    const query = new URLSearchParams();
    const chosenPartition = partition.value === '' ? null : Number(partition.value);
    if (chosenPartition !== null) query.set('partition', String(chosenPartition));
    const count = Math.max(1, Math.min(1000, Number(limit.value) || 20));
    query.set('limit', String(count));
    note.textContent = 'loading…';
    try {
      if (from !== undefined) {
        query.set('offset', String(from));
        page = await peek(query);
      } else if (mode.value === 'offset') {
        query.set('offset', String(Math.max(0, Number(offset.value) || 0)));
        page = await peek(query);
      } else if (mode.value === 'time') {
        query.set('time', String(new Date(time.value).getTime()));
        page = await peek(query);
      } else {
        const partitions = (info?.partitions ?? []).filter(
          (entry) => chosenPartition === null || entry.partition === chosenPartition,
        );
        if (partitions.length === 1) {
          const [only] = partitions;
          query.set('offset', String(Math.max(only.startOffset, only.endOffset - count)));
          page = await peek(query);
        } else {
          page = await latestOfEach(partitions.slice(0, LATEST_PARTITIONS_MAX), count);
        }
      }
      const next = Object.values(page.nextOffsets);
      note.textContent = `${page.messages.length} message(s)${page.complete ? ', up to the end' : ''}.`;
      nextButton.disabled = page.complete || next.length === 0;
      nextButton.dataset.from = String(Math.min(...next));
      render();
    } catch (error) {
      note.textContent = `${error.code}: ${error.message}`;
    }
  }

  const nextButton = h(
    'button',
    { type: 'button', disabled: true, onclick: () => load(Number(nextButton.dataset.from)) },
    'Next page',
  );
  const form = h(
    'form',
    { class: 'inline-form', dataset: { testid: 'browse-form' } },
    h('label', null, 'Partition ', partition),
    h('label', null, 'Show ', mode),
    h('label', null, 'Offset ', offset),
    h('label', null, 'Time ', time),
    h('label', null, 'Filter ', filter),
    h('label', null, 'Limit ', limit),
    h('label', null, 'Body as ', view),
    h('button', { type: 'submit', dataset: { testid: 'browse-load' } }, 'Load'),
    nextButton,
  );
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    void load();
  });

  function setPartitions(count) {
    if (partition.options.length === count + 1) return;
    replace(
      partition,
      h('option', { value: '' }, 'all'),
      Array.from({ length: count }, (_, index) =>
        h('option', { value: String(index) }, String(index)),
      ),
    );
  }

  return {
    element: h(
      'section',
      { class: 'card' },
      h('h2', null, 'Messages'),
      h('p', { class: 'muted' }, 'Peeking consumes nothing: no subscription moves.'),
      form,
      note,
      results,
    ),
    setPartitions,
    load,
  };
}

export function mount(container, params) {
  const name = params.stream;
  const header = h('div', { class: 'title-row' });
  const summary = h('div', { class: 'stats-row' });
  const config = h('dl', { class: 'config' });
  const partitions = h('tbody');
  const subscriptions = h('tbody');
  const error = h('p', { class: 'form-message error' });
  let info = null;
  const browser = messageBrowser(name, () => info);

  async function act(label, method, path) {
    if (!confirm(`${label} stream ${name}?`)) return;
    try {
      await api(method, path);
      if (method === 'DELETE') window.location.hash = '#/streams';
      else await refresh();
    } catch (failure) {
      error.textContent = `${failure.code}: ${failure.message}`;
    }
  }

  container.append(
    header,
    error,
    summary,
    h(
      'div',
      { class: 'two-columns' },
      h('section', { class: 'card' }, h('h2', null, 'Configuration'), config),
      h(
        'section',
        { class: 'card' },
        h('h2', null, 'Partitions'),
        table(
          { dataset: { testid: 'partitions-table' } },
          ['Partition', 'First offset', 'End offset', 'Messages', 'Size'],
          partitions,
        ),
      ),
    ),
    h(
      'section',
      { class: 'card' },
      h('h2', null, 'Subscriptions'),
      table(
        null,
        [
          'Subscription',
          'Mode',
          'Consumers',
          'Lag',
          'Lag age',
          'In flight',
          'Redelivered',
          'Dead-lettered',
          'Out',
          'Status',
        ],
        subscriptions,
      ),
    ),
    browser.element,
  );

  async function refresh() {
    try {
      info = await api('GET', `/api/streams/${encodePath(name)}`);
      error.textContent = '';
    } catch (failure) {
      error.textContent = `${failure.code}: ${failure.message}`;
      return;
    }
    replace(
      header,
      h('h1', null, h('a', { href: '#/streams' }, 'Streams'), ' / ', name),
      h(
        'div',
        { class: 'actions' },
        h(
          'button',
          {
            class: 'danger-outline',
            onclick: () => act('Purge', 'POST', `/api/streams/${encodePath(name)}/purge`),
          },
          'Purge',
        ),
        h(
          'button',
          {
            class: 'danger',
            onclick: () => act('Delete', 'DELETE', `/api/streams/${encodePath(name)}`),
          },
          'Delete',
        ),
      ),
    );
    replace(
      summary,
      h(
        'div',
        { class: 'stat', dataset: { testid: 'stream-message-count' } },
        h('span', { class: 'stat-label' }, 'Messages'),
        h('span', { class: 'stat-value' }, String(info.messages)),
      ),
      h(
        'div',
        { class: 'stat' },
        h('span', { class: 'stat-label' }, 'Size'),
        h('span', { class: 'stat-value' }, formatBytes(info.bytes)),
      ),
      h(
        'div',
        { class: 'stat' },
        h('span', { class: 'stat-label' }, 'In'),
        h('span', { class: 'stat-value' }, formatRate(info.inPerSecond)),
      ),
      h(
        'div',
        { class: 'stat' },
        h('span', { class: 'stat-label' }, 'Out'),
        h('span', { class: 'stat-value' }, formatRate(info.outPerSecond)),
      ),
      h(
        'div',
        { class: 'stat' },
        h('span', { class: 'stat-label' }, 'Dropped / rejected / duplicates'),
        h(
          'span',
          { class: 'stat-value' },
          `${info.dropped} / ${info.rejected} / ${info.duplicates}`,
        ),
      ),
    );
    replace(
      config,
      Object.entries(info.config).flatMap(([key, value]) => [
        h('dt', null, key),
        h(
          'dd',
          { class: 'mono' },
          Array.isArray(value) ? value.join(', ') : value === null ? 'no limit' : String(value),
        ),
      ]),
    );
    browser.setPartitions(info.partitions.length);
    replace(
      partitions,
      info.partitions.map((partition) =>
        h(
          'tr',
          null,
          h('td', null, String(partition.partition)),
          h('td', { class: 'number' }, String(partition.startOffset)),
          h('td', { class: 'number' }, String(partition.endOffset)),
          h('td', { class: 'number' }, formatCount(partition.messages)),
          h('td', { class: 'number' }, formatBytes(partition.bytes)),
        ),
      ),
    );
    replace(
      subscriptions,
      info.subscriptionDetails.length === 0
        ? h('tr', null, h('td', { colspan: 10, class: 'muted' }, 'No subscriptions.'))
        : info.subscriptionDetails.map((subscription) =>
            h(
              'tr',
              null,
              h(
                'td',
                null,
                h(
                  'a',
                  { href: `#/subscriptions/${encodePath(name)}/${encodePath(subscription.name)}` },
                  subscription.name,
                ),
                subscription.durable ? null : h('span', { class: 'tag' }, 'ephemeral'),
              ),
              h('td', null, subscription.config.mode),
              h('td', { class: 'number' }, String(subscription.consumers)),
              h('td', { class: 'number' }, formatCount(subscription.lagMessages)),
              h('td', { class: 'number' }, formatSeconds(subscription.lagSeconds)),
              h('td', { class: 'number' }, formatCount(subscription.inFlight)),
              h('td', { class: 'number' }, formatCount(subscription.redelivered)),
              h('td', { class: 'number' }, formatCount(subscription.deadLettered)),
              h('td', { class: 'number' }, formatRate(subscription.deliveredPerSecond)),
              h('td', null, stallBadge(subscription)),
            ),
          ),
    );
  }

  let first = true;
  void refresh().then(() => {
    if (first && info) void browser.load();
    first = false;
  });
  const timer = setInterval(() => void refresh(), REFRESH_MS);
  return { unmount: () => clearInterval(timer) };
}
