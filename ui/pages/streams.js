/* global FormData */
// Streams: every stream with its rates and sizes, and a form to create one.
import { api } from '../lib/api.js';
import { h, replace, formatBytes, formatCount, formatRate, encodePath, table } from '../lib/dom.js';

function createForm(onCreated) {
  const message = h('span', { class: 'form-message', role: 'status' });
  const form = h(
    'form',
    { class: 'inline-form', dataset: { testid: 'create-stream-form' } },
    h('label', null, 'Name ', h('input', { name: 'name', required: true, placeholder: 'orders' })),
    h(
      'label',
      null,
      'Subjects ',
      h('input', { name: 'subjects', placeholder: 'orders.> (default: the name)' }),
    ),
    h(
      'label',
      null,
      'Partitions ',
      h('input', { name: 'partitions', type: 'number', min: 1, max: 256, value: '1' }),
    ),
    h(
      'label',
      null,
      'Retention ',
      h(
        'select',
        { name: 'retention' },
        h('option', { value: 'limits' }, 'limits'),
        h('option', { value: 'work-queue' }, 'work-queue'),
      ),
    ),
    h(
      'label',
      null,
      'Storage ',
      h(
        'select',
        { name: 'storage' },
        h('option', { value: 'file' }, 'file'),
        h('option', { value: 'memory' }, 'memory'),
      ),
    ),
    h('button', { type: 'submit' }, 'Create stream'),
    message,
  );
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const data = new FormData(form);
    const subjects = String(data.get('subjects') ?? '')
      .split(',')
      .map((subject) => subject.trim())
      .filter(Boolean);
    const body = {
      name: String(data.get('name')).trim(),
      partitions: Number(data.get('partitions')),
      retention: data.get('retention'),
      storage: data.get('storage'),
      ...(subjects.length > 0 ? { subjects } : {}),
    };
    try {
      await api('POST', '/api/streams', body);
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
  const body = h('tbody');
  const empty = h('p', { class: 'muted' });
  let latest = null;
  container.append(
    h('h1', null, 'Streams'),
    h(
      'section',
      { class: 'card' },
      table(
        { dataset: { testid: 'streams-table' } },
        [
          'Stream',
          'Subjects',
          'Partitions',
          'Messages',
          'Size',
          'In',
          'Out',
          'Subscriptions',
          'Retention',
        ],
        body,
      ),
      empty,
    ),
    h(
      'section',
      { class: 'card' },
      h('h2', null, 'New stream'),
      createForm(() => latest && update(latest)),
    ),
  );

  function update(snapshot) {
    latest = snapshot;
    empty.textContent = snapshot.streams.length === 0 ? 'No streams yet.' : '';
    replace(
      body,
      snapshot.streams.map((stream) =>
        h(
          'tr',
          { dataset: { testid: 'stream-row', stream: stream.name } },
          h('td', null, h('a', { href: `#/streams/${encodePath(stream.name)}` }, stream.name)),
          h('td', { class: 'mono' }, stream.subjects.join(', ')),
          h('td', { class: 'number' }, String(stream.partitions)),
          h(
            'td',
            { class: 'number', dataset: { testid: 'stream-messages' } },
            String(stream.messages),
          ),
          h('td', { class: 'number' }, formatBytes(stream.bytes)),
          h('td', { class: 'number' }, formatRate(stream.inPerSecond)),
          h('td', { class: 'number' }, formatRate(stream.outPerSecond)),
          h('td', { class: 'number' }, formatCount(stream.subscriptions)),
          h('td', null, stream.retention),
        ),
      ),
    );
  }

  return { update };
}
