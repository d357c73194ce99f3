/* global FormData, window */
// Schedules: cron and repeatable messages. Every schedule with its next and last tick and its
// counts, a form to create one (cron in a time zone, or every N ms) and a delete per row.
import { api } from '../lib/api.js';
import { h, replace, formatTime, table } from '../lib/dom.js';

/** Refresh at most this often while live snapshots arrive (schedules are not in them). */
const REFRESH_MS = 2000;

function parseHeaders(text) {
  const headers = {};
  for (const line of text.split('\n')) {
    const trimmed = line.trim();
    if (!trimmed) continue;
    const at = trimmed.search(/[:=]/);
    if (at <= 0) throw new Error(`header line "${trimmed}" is not name: value`);
    headers[trimmed.slice(0, at).trim()] = trimmed.slice(at + 1).trim();
  }
  return headers;
}

function when(config) {
  return config.cron !== null
    ? `${config.cron} (${config.timezone ?? 'UTC'})`
    : `every ${config.everyMs} ms`;
}

function createForm(onCreated) {
  const message = h('span', {
    class: 'form-message',
    role: 'status',
    dataset: { testid: 'schedule-message' },
  });
  const kind = h(
    'select',
    { name: 'kind', dataset: { testid: 'schedule-kind' } },
    h('option', { value: 'cron' }, 'cron'),
    h('option', { value: 'every' }, 'every (ms)'),
  );
  const form = h(
    'form',
    { class: 'stacked-form', dataset: { testid: 'create-schedule-form' } },
    h(
      'div',
      { class: 'inline-form' },
      h(
        'label',
        null,
        'Name ',
        h('input', { name: 'name', required: true, placeholder: 'daily-report' }),
      ),
      h('label', null, 'Kind ', kind),
      h(
        'label',
        null,
        'When ',
        h('input', { name: 'when', required: true, placeholder: '0 9 * * 1-5 or 60000' }),
      ),
      h('label', null, 'Time zone ', h('input', { name: 'timezone', placeholder: 'UTC' })),
      h(
        'label',
        null,
        'Missed ticks ',
        h(
          'select',
          { name: 'missed' },
          h('option', { value: 'once' }, 'once (latest)'),
          h('option', { value: 'skip' }, 'skip'),
          h('option', { value: 'all' }, 'all'),
        ),
      ),
    ),
    h(
      'label',
      null,
      'Subject',
      h('input', { name: 'subject', required: true, placeholder: 'reports.daily' }),
    ),
    h(
      'label',
      null,
      'Body (text)',
      h('textarea', { name: 'body', rows: 3, placeholder: '{"report": "sales"}' }),
    ),
    h(
      'label',
      null,
      'Headers',
      h('textarea', { name: 'headers', rows: 2, placeholder: 'name: value (one a line)' }),
    ),
    h('div', { class: 'inline-form' }, h('button', { type: 'submit' }, 'Create schedule'), message),
  );
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const data = new FormData(form);
    let body;
    try {
      const whenText = String(data.get('when')).trim();
      const timezone = String(data.get('timezone') ?? '').trim();
      const headers = String(data.get('headers') ?? '');
      const text = String(data.get('body') ?? '');
      body = {
        name: String(data.get('name')).trim(),
        subject: String(data.get('subject')).trim(),
        missed: data.get('missed'),
        ...(data.get('kind') === 'cron'
          ? { cron: whenText, ...(timezone ? { timezone } : {}) }
          : { everyMs: Number(whenText) }),
        ...(text ? { body: text } : {}),
        ...(headers.trim() ? { headers: parseHeaders(headers) } : {}),
      };
    } catch (error) {
      message.textContent = `Not sent: ${error.message}`;
      message.className = 'form-message error';
      return;
    }
    try {
      await api('POST', '/api/schedules', body);
      message.textContent = `created ${body.name}`;
      message.className = 'form-message ok';
      form.reset();
      onCreated();
    } catch (error) {
      message.textContent = `${error.code}: ${error.message}`;
      message.className = 'form-message error';
    }
  });
  return form;
}

export function mount(container) {
  const rows = h('tbody');
  const empty = h('p', { class: 'muted', dataset: { testid: 'schedules-empty' } });
  const failure = h('p', { class: 'form-message error', role: 'alert' });
  let lastRefresh = 0;
  let gone = false;

  async function refresh() {
    lastRefresh = Date.now();
    let schedules;
    try {
      schedules = await api('GET', '/api/schedules');
    } catch (error) {
      failure.textContent = `${error.code}: ${error.message}`;
      return;
    }
    if (gone) return;
    failure.textContent = '';
    empty.textContent = schedules.length === 0 ? 'No schedules yet.' : '';
    replace(rows, schedules.map(row));
  }

  function row(schedule) {
    const problem = schedule.failure ?? schedule.lastError;
    return h(
      'tr',
      { dataset: { testid: 'schedule-row', schedule: schedule.name } },
      h('td', null, schedule.name),
      h('td', { class: 'mono' }, when(schedule.config)),
      h('td', { class: 'mono' }, schedule.config.subject),
      h('td', { dataset: { testid: 'schedule-next' } }, formatTime(schedule.nextFireMs)),
      h('td', null, formatTime(schedule.lastFiredMs)),
      h('td', { class: 'number', dataset: { testid: 'schedule-fired' } }, String(schedule.fired)),
      h('td', { class: 'number' }, `${schedule.skipped} / ${schedule.failed}`),
      h(
        'td',
        null,
        problem
          ? h('span', { class: 'badge bad', title: problem.message }, problem.code)
          : h('span', { class: 'badge good' }, 'ok'),
      ),
      h(
        'td',
        null,
        h(
          'button',
          {
            type: 'button',
            dataset: { testid: 'schedule-delete' },
            onclick: async () => {
              if (!window.confirm(`Delete schedule ${schedule.name}? No tick fires after it.`))
                return;
              try {
                await api('DELETE', `/api/schedules/${encodeURIComponent(schedule.name)}`);
              } catch (error) {
                failure.textContent = `${error.code}: ${error.message}`;
              }
              await refresh();
            },
          },
          'Delete',
        ),
      ),
    );
  }

  container.append(
    h('h1', null, 'Schedules'),
    h(
      'section',
      { class: 'card' },
      table(
        { dataset: { testid: 'schedules-table' } },
        [
          'Schedule',
          'When',
          'Subject',
          'Next tick',
          'Last fired',
          'Fired',
          'Skipped / failed',
          'State',
          '',
        ],
        rows,
      ),
      empty,
      failure,
    ),
    h(
      'section',
      { class: 'card' },
      h('h2', null, 'New schedule'),
      createForm(() => void refresh()),
    ),
  );
  void refresh();
  return {
    update() {
      if (Date.now() - lastRefresh >= REFRESH_MS) void refresh();
    },
    unmount() {
      gone = true;
    },
  };
}
