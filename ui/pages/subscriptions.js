/* global window */
// Subscriptions: lag (messages and seconds), in-flight, redeliveries and dead letters, consumers
// and stalls for every subscription; one subscription's consumers (with credit) and seek.
import { api } from '../lib/api.js';
import {
  h,
  replace,
  formatCount,
  formatRate,
  formatSeconds,
  toLocalInput,
  encodePath,
  table,
  stallBadge,
} from '../lib/dom.js';
import { formatHeaderFilter } from '../lib/header-filter.js';

function seekForm(stream, name, onDone) {
  const position = h(
    'select',
    { name: 'position', dataset: { testid: 'seek-position' } },
    h('option', { value: 'earliest' }, 'earliest (replay everything kept)'),
    h('option', { value: 'latest' }, 'latest (skip the backlog)'),
    h('option', { value: 'offset' }, 'offset'),
    h('option', { value: 'time' }, 'time'),
  );
  const offset = h('input', { name: 'offset', type: 'number', min: 0, value: '0', class: 'short' });
  const partition = h('input', {
    name: 'partition',
    type: 'number',
    min: 0,
    placeholder: 'all',
    class: 'short',
  });
  const time = h('input', {
    name: 'time',
    type: 'datetime-local',
    step: 1,
    value: toLocalInput(Date.now() - 3600_000),
  });
  const message = h('span', { class: 'form-message', role: 'status' });
  const form = h(
    'form',
    { class: 'inline-form', dataset: { testid: 'seek-form' } },
    h('label', null, 'Move to ', position),
    h('label', null, 'Offset ', offset),
    h('label', null, 'Partition ', partition),
    h('label', null, 'Time ', time),
    h('button', { type: 'submit' }, 'Seek'),
    message,
  );
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    let target = position.value;
    if (target === 'offset') {
      target = { offset: Number(offset.value) || 0 };
      if (partition.value !== '') target.partition = Number(partition.value);
    } else if (target === 'time') {
      target = { timeMs: new Date(time.value).getTime() };
    }
    if (
      !window.confirm(
        `Move ${stream} / ${name} to ${JSON.stringify(target)}? Messages from there on are delivered again.`,
      )
    )
      return;
    try {
      await api(
        'POST',
        `/api/streams/${encodePath(stream)}/subscriptions/${encodePath(name)}/seek`,
        { position: target },
      );
      message.textContent = 'moved';
      message.className = 'form-message ok';
      onDone();
    } catch (error) {
      message.textContent = `${error.code}: ${error.message}`;
      message.className = 'form-message error';
    }
  });
  return form;
}

/** Each consumer's circuit breaker (SubscriptionInfo.consumerList); open ones take nothing. */
function breakersSection(info) {
  const withBreaker = (info.consumerList ?? []).filter((consumer) => consumer.breaker !== null);
  if (withBreaker.length === 0) {
    return h(
      'p',
      { class: 'muted', dataset: { testid: 'breakers' } },
      'No consumer has a breaker.',
    );
  }
  return h(
    'div',
    { dataset: { testid: 'breakers' } },
    h('p', null, `${info.consumersPaused} consumer(s) paused by an open breaker.`),
    table(
      null,
      ['Consumer', 'In flight', 'Breaker'],
      withBreaker.map((consumer) =>
        h(
          'tr',
          null,
          h('td', { class: 'number' }, String(consumer.id)),
          h('td', { class: 'number' }, String(consumer.inFlight)),
          h(
            'td',
            {
              class: consumer.breaker === 'open' ? 'error' : null,
              dataset: { testid: 'breaker-state' },
            },
            consumer.breaker,
          ),
        ),
      ),
    ),
  );
}

/** The progress consumers reported for this subscription's messages (msg.progress). */
function progressSection(records) {
  if (records.length === 0) {
    return h('p', { class: 'muted', dataset: { testid: 'progress' } }, 'No progress reported.');
  }
  return h(
    'div',
    { dataset: { testid: 'progress' } },
    table(
      null,
      ['Message', 'Id', 'State', 'Delivery', 'Progress', 'Updated'],
      records.map((record) =>
        h(
          'tr',
          null,
          h('td', { class: 'mono' }, `p${record.partition}:${record.offset}`),
          h('td', { class: 'mono' }, record.id ?? '–'),
          h('td', null, record.state),
          h('td', { class: 'number' }, String(record.deliveryCount)),
          h(
            'td',
            { class: 'mono', dataset: { testid: 'progress-value' } },
            formatProgress(record.value),
          ),
          h('td', null, new Date(record.updatedAtMs).toISOString()),
        ),
      ),
    ),
  );
}

/** A number in 0..1 as a percentage; anything else as its JSON. */
function formatProgress(value) {
  if (typeof value === 'number' && value >= 0 && value <= 1) return `${Math.round(value * 100)}%`;
  return JSON.stringify(value);
}

function detail(stream, name) {
  const body = h('div');
  const element = h(
    'section',
    { class: 'card', dataset: { testid: 'subscription-detail' } },
    h('h2', null, `${stream} / ${name}`),
    body,
  );
  async function refresh() {
    let info;
    try {
      info = await api(
        'GET',
        `/api/streams/${encodePath(stream)}/subscriptions/${encodePath(name)}`,
      );
    } catch (error) {
      replace(body, h('p', { class: 'form-message error' }, `${error.code}: ${error.message}`));
      return;
    }
    const config = info.config;
    replace(
      body,
      h(
        'dl',
        { class: 'config' },
        [
          ['mode', config.mode],
          ['ack', config.ack],
          ['filter', config.filter.join(', ') || 'every message'],
          ['header filter', formatHeaderFilter(config.headerFilter)],
          ['lease', `${config.leaseMs} ms`],
          ['max deliveries', config.maxDeliveries ?? 'no limit'],
          ['dead letters to', config.deadLetter ?? 'none'],
          ['fair by', formatGroupBy(config.fairBy)],
          ['rate limit', formatRateLimit(config.rateLimit)],
          [
            'ack floors',
            info.partitions
              .map(
                (partition) =>
                  `p${partition.partition}: ${partition.ackFloor} / ${partition.endOffset}`,
              )
              .join(', '),
          ],
        ].flatMap(([key, value]) => [
          h('dt', null, key),
          h('dd', { class: 'mono' }, String(value)),
        ]),
      ),
      h('h3', null, 'Consumers'),
      info.consumerDetails === null
        ? h(
            'p',
            { class: 'muted' },
            `${info.consumers} consumer(s) (no per-consumer details from this broker).`,
          )
        : info.consumerDetails.length === 0
          ? h('p', { class: 'muted' }, `${info.consumers} consumer(s); none over the network.`)
          : table(
              null,
              ['Connection', 'Client', 'Consumer', 'Credit left', 'Unsettled'],
              info.consumerDetails.map((consumer) =>
                h(
                  'tr',
                  null,
                  h('td', { class: 'mono' }, `#${consumer.connection} ${consumer.remote}`),
                  h('td', null, consumer.clientName || '–'),
                  h('td', { class: 'number' }, String(consumer.id)),
                  h('td', { class: 'number' }, String(consumer.credit)),
                  h('td', { class: 'number' }, String(consumer.unsettled)),
                ),
              ),
            ),
      h('h3', null, 'Circuit breakers'),
      breakersSection(info),
      h('h3', null, 'In-flight progress'),
      progressSection(info.progress ?? []),
      h('h3', null, 'Seek'),
      seekForm(stream, name, refresh),
    );
  }
  void refresh();
  return { element, refresh };
}

function consumersSection() {
  const body = h('div');
  const element = h('section', { class: 'card' }, h('h2', null, 'Connected clients'), body);
  async function refresh() {
    try {
      const { connections } = await api('GET', '/api/consumers');
      if (connections === null) {
        replace(body, h('p', { class: 'muted' }, 'Embedded broker: no network connections.'));
        return;
      }
      replace(
        body,
        connections.length === 0
          ? h('p', { class: 'muted' }, 'No clients connected.')
          : table(
              { dataset: { testid: 'connections-table' } },
              ['Connection', 'Client', 'Consumers', 'Subscriptions (credit left)'],
              connections.map((connection) =>
                h(
                  'tr',
                  null,
                  h(
                    'td',
                    { class: 'mono' },
                    `${connection.protocol === 'amqp' ? 'AMQP ' : ''}#${connection.id} ${connection.remote}`,
                  ),
                  h('td', null, connection.clientName || '–'),
                  h('td', { class: 'number' }, String(connection.consumerCount)),
                  h(
                    'td',
                    { class: 'mono' },
                    (connection.consumers ?? [])
                      .map(
                        (consumer) =>
                          `${consumer.stream}/${consumer.subscription} (${consumer.credit})`,
                      )
                      .join(', ') || '–',
                  ),
                ),
              ),
            ),
      );
    } catch (error) {
      replace(body, h('p', { class: 'form-message error' }, `${error.code}: ${error.message}`));
    }
  }
  return { element, refresh };
}

export function mount(container, params) {
  const rows = h('tbody');
  const selected =
    params.stream && params.subscription ? detail(params.stream, params.subscription) : null;
  const consumers = consumersSection();
  container.append(
    h('h1', null, 'Subscriptions'),
    selected ? selected.element : null,
    h(
      'section',
      { class: 'card' },
      table(
        { dataset: { testid: 'subscriptions-table' } },
        [
          'Stream',
          'Subscription',
          'Mode',
          'Consumers',
          'Lag',
          'Lag age',
          'In flight',
          'Delayed',
          'Redelivered',
          'Dead-lettered',
          'Out',
          'Acked',
          'Status',
        ],
        rows,
      ),
    ),
    consumers.element,
  );
  let ticks = 0;
  void consumers.refresh();

  function update(snapshot) {
    replace(
      rows,
      snapshot.subscriptions.length === 0
        ? h('tr', null, h('td', { colspan: 13, class: 'muted' }, 'No subscriptions yet.'))
        : snapshot.subscriptions.map((subscription) =>
            h(
              'tr',
              {
                dataset: {
                  testid: 'subscription-row',
                  stream: subscription.stream,
                  subscription: subscription.name,
                },
                class:
                  params.stream === subscription.stream && params.subscription === subscription.name
                    ? 'selected'
                    : null,
              },
              h(
                'td',
                null,
                h(
                  'a',
                  { href: `#/streams/${encodePath(subscription.stream)}` },
                  subscription.stream,
                ),
              ),
              h(
                'td',
                null,
                h(
                  'a',
                  {
                    href: `#/subscriptions/${encodePath(subscription.stream)}/${encodePath(subscription.name)}`,
                  },
                  subscription.name,
                ),
                subscription.durable ? null : h('span', { class: 'tag' }, 'ephemeral'),
              ),
              h('td', null, subscription.mode),
              h('td', { class: 'number' }, String(subscription.consumers)),
              h(
                'td',
                { class: 'number', dataset: { testid: 'subscription-lag' } },
                formatCount(subscription.lagMessages),
              ),
              h('td', { class: 'number' }, formatSeconds(subscription.lagSeconds)),
              h('td', { class: 'number' }, formatCount(subscription.inFlight)),
              h('td', { class: 'number' }, formatCount(subscription.delayed)),
              h('td', { class: 'number' }, formatCount(subscription.redelivered)),
              h('td', { class: 'number' }, formatCount(subscription.deadLettered)),
              h('td', { class: 'number' }, formatRate(subscription.deliveredPerSecond)),
              h('td', { class: 'number' }, formatRate(subscription.ackedPerSecond)),
              h('td', null, stallBadge(subscription)),
            ),
          ),
    );
    // Connection details change slower than rates: every fifth sample.
    if (++ticks % 5 === 0) void consumers.refresh();
  }

  return { update };
}

/** fairBy / rateLimit.by as shown: 'key', 'header NAME', or 'none' (older brokers: absent). */
function formatGroupBy(by) {
  if (by === null || by === undefined) return 'none';
  return by === 'key' ? 'key' : `header ${by.header}`;
}

function formatRateLimit(limit) {
  if (limit === null || limit === undefined) return 'none';
  const scope = limit.by === null ? 'for the subscription' : `per ${formatGroupBy(limit.by)}`;
  return `${limit.perSecond}/s ${scope}, burst ${limit.burst}`;
}
