/* global window, setTimeout, clearTimeout, URLSearchParams */
// Dead letters: the targets the subscriptions name, one target's dead letters with reason,
// error, attempts and origin, re-drive (all, a selection by origin, reason and count, or the
// ticked rows; to the subscription each died in, its whole origin stream, or its subject) with
// a progress bar, and delete (matching or ticked).
import { api } from '../lib/api.js';
import { bodyDetails } from '../lib/body.js';
import { h, replace, formatCount, formatTime, encodePath, table } from '../lib/dom.js';

const REASONS = ['max-deliveries', 'terminated', 'expired', 'overflow'];
const POLL_MS = 400;

export function mount(container, params) {
  const subject = params.subject ?? null;
  const targets = h('div', { dataset: { testid: 'dead-letter-targets' } });
  const other = h('input', {
    name: 'subject',
    placeholder: 'dead-letter subject, e.g. dead.orders',
  });
  const chooser = h(
    'form',
    { class: 'inline-form' },
    h('label', null, 'Subject ', other),
    h('button', { type: 'submit' }, 'Open'),
  );
  chooser.addEventListener('submit', (event) => {
    event.preventDefault();
    if (other.value.trim())
      window.location.hash = `#/dead-letters/${encodePath(other.value.trim())}`;
  });
  container.append(
    h('h1', null, 'Dead letters'),
    h('section', { class: 'card' }, h('h2', null, 'Targets'), targets, chooser),
  );
  let stopped = false;
  let pollTimer = null;

  async function loadTargets() {
    try {
      const list = await api('GET', '/api/dead-letters');
      replace(
        targets,
        list.length === 0
          ? h('p', { class: 'muted' }, 'No subscription names a dead-letter subject.')
          : h(
              'ul',
              { class: 'target-list' },
              list.map((target) =>
                h(
                  'li',
                  { class: target.subject === subject ? 'selected' : null },
                  h(
                    'a',
                    {
                      href: `#/dead-letters/${encodePath(target.subject)}`,
                      dataset: { testid: 'dead-letter-target' },
                    },
                    target.subject,
                  ),
                  h(
                    'span',
                    { class: 'muted' },
                    ` ${formatCount(target.deadLettered)} dead-lettered since start, from `,
                  ),
                  target.subscriptions.map((entry) => `${entry.stream}/${entry.name}`).join(', '),
                ),
              ),
            ),
      );
    } catch (error) {
      replace(targets, h('p', { class: 'form-message error' }, `${error.code}: ${error.message}`));
    }
  }
  void loadTargets();
  if (subject === null) return { unmount: () => (stopped = true) };

  const reason = h(
    'select',
    { name: 'reason' },
    h('option', { value: '' }, 'any reason'),
    REASONS.map((value) => h('option', { value }, value)),
  );
  const originStream = h('input', { name: 'originStream', placeholder: 'any origin stream' });
  const limit = h('input', {
    name: 'limit',
    type: 'number',
    min: 1,
    max: 10000,
    value: '100',
    class: 'short',
  });
  const view = h(
    'select',
    { name: 'view' },
    ['auto', 'json', 'text', 'hex'].map((value) => h('option', { value }, value)),
  );
  const rate = h('input', {
    name: 'rate',
    type: 'number',
    min: 1,
    max: 100000,
    value: '100',
    class: 'short',
    dataset: { testid: 'redrive-rate' },
  });
  const target = h(
    'select',
    {
      name: 'to',
      title:
        'its subscription: only the subscription each died in; its stream: every subscription of its origin stream; its subject: every stream capturing its subject',
      dataset: { testid: 'redrive-to' },
    },
    ['subscription', 'stream', 'subject'].map((value) => h('option', { value }, `its ${value}`)),
  );
  const count = h('input', {
    name: 'count',
    type: 'number',
    min: 1,
    placeholder: 'all',
    class: 'short',
    dataset: { testid: 'redrive-count' },
  });
  const rows = h('div', { class: 'dead-letters', dataset: { testid: 'dead-letters' } });
  const note = h('p', { class: 'muted' });
  const progress = h('div', { class: 'progress', dataset: { testid: 'redrive-progress' } });
  const deleteButton = h(
    'button',
    { type: 'button', class: 'danger', hidden: true, onclick: () => void remove('matching') },
    'Delete matching',
  );
  let letters = [];
  /** Dead letters ticked in the table, by position (stream/partition/offset). */
  const checked = new Map();
  const positionKey = (letter) => `${letter.stream}/${letter.partition}/${letter.offset}`;

  function selection() {
    return {
      ...(reason.value ? { reason: reason.value } : {}),
      ...(originStream.value.trim() ? { originStream: originStream.value.trim() } : {}),
    };
  }

  async function load() {
    const query = new URLSearchParams({
      limit: String(Math.max(1, Math.min(10000, Number(limit.value) || 100))),
      ...selection(),
    });
    try {
      const page = await api('GET', `/api/dead-letters/${encodePath(subject)}?${query}`);
      letters = page.deadLetters;
      const shown = new Set(letters.map(positionKey));
      for (const key of [...checked.keys()]) if (!shown.has(key)) checked.delete(key);
      note.textContent = `${letters.length}${page.more ? '+' : ''} dead letter(s) waiting, oldest first.`;
      render();
    } catch (error) {
      note.textContent = `${error.code}: ${error.message}`;
    }
  }

  function render() {
    replace(
      rows,
      letters.length === 0
        ? h('p', { class: 'ok', dataset: { testid: 'no-dead-letters' } }, 'No dead letters here.')
        : table(
            null,
            ['', 'Time', 'Reason', 'Attempts', 'Error', 'Origin', 'Key', 'Body'],
            letters.map((letter) =>
              h(
                'tr',
                { dataset: { testid: 'dead-letter-row', offset: letter.offset } },
                h(
                  'td',
                  null,
                  h('input', {
                    type: 'checkbox',
                    checked: checked.has(positionKey(letter)),
                    dataset: { testid: 'dead-letter-check' },
                    'aria-label': `choose dead letter at offset ${letter.offset}`,
                    onchange: (event) => {
                      if (event.target.checked) {
                        checked.set(positionKey(letter), {
                          stream: letter.stream,
                          partition: letter.partition,
                          offset: letter.offset,
                        });
                      } else checked.delete(positionKey(letter));
                    },
                  }),
                ),
                h('td', { class: 'nowrap' }, formatTime(letter.timestamp)),
                h('td', null, h('span', { class: 'badge bad' }, letter.reason)),
                h('td', { class: 'number' }, String(letter.deliveries)),
                h('td', null, letter.error ?? '–'),
                h(
                  'td',
                  { class: 'mono' },
                  h(
                    'a',
                    { href: `#/streams/${encodePath(letter.origin.stream)}` },
                    letter.origin.stream,
                  ),
                  ` ${letter.origin.subject} p${letter.origin.partition}@${letter.origin.offset}`,
                  letter.origin.subscription === null ? '' : ` (${letter.origin.subscription})`,
                ),
                h('td', { class: 'mono' }, letter.key ?? '–'),
                h('td', { class: 'body-cell' }, bodyDetails(letter, view.value)),
              ),
            ),
          ),
    );
  }
  view.addEventListener('change', render);

  function showJob(job) {
    const total = job.total ?? Math.max(job.redriven, 1);
    const percent = total === 0 ? 100 : Math.min(100, Math.round((job.redriven / total) * 100));
    replace(
      progress,
      h(
        'div',
        { class: 'bar' },
        h('div', { class: 'bar-fill', style: `width:${job.state === 'done' ? 100 : percent}%` }),
      ),
      h(
        'span',
        { dataset: { testid: 'redrive-state', state: job.state } },
        `${job.state}: ${job.redriven}${job.total === null ? '' : ` of ${job.total}`} re-driven`,
      ),
      job.skipped > 0
        ? h(
            'span',
            { class: 'muted', dataset: { testid: 'redrive-skipped' } },
            ` (${job.skipped} left in place: where they would go is gone)`,
          )
        : null,
      job.error
        ? h('span', { class: 'form-message error' }, ` ${job.error.code}: ${job.error.message}`)
        : null,
    );
  }

  async function follow(id) {
    if (stopped) return;
    try {
      const job = await api('GET', `/api/redrives/${id}`);
      showJob(job);
      if (job.state === 'running') {
        pollTimer = setTimeout(() => void follow(id), POLL_MS);
        return;
      }
      await load();
      void loadTargets();
    } catch (error) {
      replace(
        progress,
        h('span', { class: 'form-message error' }, `${error.code}: ${error.message}`),
      );
    }
  }

  async function redrive(mode) {
    const body = { to: target.value, ratePerSecond: Math.max(1, Number(rate.value) || 100) };
    if (mode === 'checked') {
      if (checked.size === 0) return;
      body.only = [...checked.values()];
    } else if (mode === 'matching') {
      Object.assign(body, selection());
      if (count.value) body.limit = Math.max(1, Number(count.value));
    }
    try {
      const job = await api('POST', `/api/dead-letters/${encodePath(subject)}/redrive`, body);
      showJob(job);
      void follow(job.id);
    } catch (error) {
      replace(
        progress,
        h('span', { class: 'form-message error' }, `${error.code}: ${error.message}`),
      );
    }
  }

  async function remove(mode) {
    const what = mode === 'checked' ? `${checked.size} chosen` : 'the matching';
    if (mode === 'checked' && checked.size === 0) return;
    if (!window.confirm(`Delete ${what} dead letters of ${subject}? They are not re-driven.`))
      return;
    const body = mode === 'checked' ? { only: [...checked.values()] } : { ...selection() };
    if (mode !== 'checked' && count.value) body.limit = Math.max(1, Number(count.value));
    try {
      const result = await api('POST', `/api/dead-letters/${encodePath(subject)}/delete`, body);
      checked.clear();
      replace(progress, h('span', null, `${result.deleted} deleted`));
      await load();
    } catch (error) {
      replace(
        progress,
        h('span', { class: 'form-message error' }, `${error.code}: ${error.message}`),
      );
    }
  }

  const filters = h(
    'form',
    { class: 'inline-form' },
    h('label', null, 'Reason ', reason),
    h('label', null, 'Origin ', originStream),
    h('label', null, 'Show ', limit),
    h('label', null, 'Body as ', view),
    h('button', { type: 'submit' }, 'Filter'),
  );
  filters.addEventListener('submit', (event) => {
    event.preventDefault();
    void load();
  });
  const actions = h(
    'div',
    { class: 'inline-form' },
    h('label', null, 'Back to ', target),
    h('label', null, 'Rate (msgs/s) ', rate),
    h(
      'button',
      { type: 'button', dataset: { testid: 'redrive-all' }, onclick: () => void redrive('all') },
      'Re-drive all',
    ),
    h('label', null, 'Oldest ', count),
    h(
      'button',
      {
        type: 'button',
        dataset: { testid: 'redrive-selected' },
        onclick: () => void redrive('matching'),
      },
      'Re-drive matching',
    ),
    deleteButton,
    h(
      'button',
      {
        type: 'button',
        dataset: { testid: 'redrive-checked' },
        onclick: () => void redrive('checked'),
      },
      'Re-drive ticked',
    ),
    h(
      'button',
      {
        type: 'button',
        class: 'danger',
        dataset: { testid: 'delete-checked' },
        onclick: () => void remove('checked'),
      },
      'Delete ticked',
    ),
  );
  container.append(
    h('section', { class: 'card' }, h('h2', null, subject), filters, actions, progress, note, rows),
  );
  void api('GET', '/api/overview').then((overview) => {
    deleteButton.hidden = !overview.capabilities.deadLetterDelete;
  });
  void load();
  return {
    unmount: () => {
      stopped = true;
      clearTimeout(pollTimer);
    },
  };
}
