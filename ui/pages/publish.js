// Publish: a form to publish a test message (or a few copies of it) and see the receipt.
import { api } from '../lib/api.js';
import { h, replace } from '../lib/dom.js';

const COPIES_MAX = 1000;

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

export function mount(container, params) {
  const subject = h('input', {
    name: 'subject',
    required: true,
    placeholder: 'orders.eu.created',
    value: params.subject ?? '',
    dataset: { testid: 'publish-subject' },
  });
  const body = h('textarea', {
    name: 'body',
    rows: 8,
    placeholder: '{"orderId": 42}',
    dataset: { testid: 'publish-body' },
  });
  const encoding = h(
    'select',
    { name: 'encoding', dataset: { testid: 'publish-encoding' } },
    h('option', { value: 'json' }, 'JSON'),
    h('option', { value: 'text' }, 'text'),
    h('option', { value: 'base64' }, 'base64 (bytes)'),
  );
  const key = h('input', { name: 'key', placeholder: 'partition key (optional)' });
  const headers = h('textarea', {
    name: 'headers',
    rows: 3,
    placeholder: 'name: value (one a line)',
  });
  const id = h('input', { name: 'id', placeholder: 'de-duplication id (optional)' });
  const priority = h('input', {
    name: 'priority',
    type: 'number',
    min: 0,
    max: 9,
    value: '0',
    class: 'short',
  });
  const delayMs = h('input', {
    name: 'delayMs',
    type: 'number',
    min: 0,
    placeholder: '0',
    class: 'short',
  });
  const ttlMs = h('input', {
    name: 'ttlMs',
    type: 'number',
    min: 1,
    placeholder: 'none',
    class: 'short',
  });
  const copies = h('input', {
    name: 'copies',
    type: 'number',
    min: 1,
    max: COPIES_MAX,
    value: '1',
    class: 'short',
  });
  const result = h('div', {
    class: 'receipt',
    dataset: { testid: 'publish-result' },
    role: 'status',
  });
  const button = h('button', { type: 'submit', dataset: { testid: 'publish-submit' } }, 'Publish');

  const form = h(
    'form',
    { class: 'stacked-form', dataset: { testid: 'publish-form' } },
    h('label', null, 'Subject', subject),
    h('label', null, 'Body', body),
    h(
      'div',
      { class: 'inline-form' },
      h('label', null, 'Body is ', encoding),
      h('label', null, 'Key ', key),
      h('label', null, 'Id ', id),
    ),
    h('label', null, 'Headers', headers),
    h(
      'div',
      { class: 'inline-form' },
      h('label', null, 'Priority ', priority),
      h('label', null, 'Delay (ms) ', delayMs),
      h('label', null, 'TTL (ms) ', ttlMs),
      h('label', null, 'Copies ', copies),
      button,
    ),
    result,
  );

  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    let request;
    try {
      let value = body.value;
      if (encoding.value === 'json') value = value.trim() === '' ? null : JSON.parse(value);
      request = {
        subject: subject.value.trim(),
        body: value,
        encoding: encoding.value,
        ...(key.value ? { key: key.value } : {}),
        ...(id.value ? { id: id.value } : {}),
        ...(headers.value.trim() ? { headers: parseHeaders(headers.value) } : {}),
        ...(Number(priority.value) > 0 ? { priority: Number(priority.value) } : {}),
        ...(delayMs.value ? { delayMs: Number(delayMs.value) } : {}),
        ...(ttlMs.value ? { ttlMs: Number(ttlMs.value) } : {}),
      };
    } catch (error) {
      replace(result, h('p', { class: 'form-message error' }, `Not sent: ${error.message}`));
      return;
    }
    const count = Math.max(1, Math.min(COPIES_MAX, Number(copies.value) || 1));
    button.disabled = true;
    try {
      let receipt = null;
      for (let index = 0; index < count; index++) {
        receipt = await api('POST', '/api/publish', request);
      }
      replace(
        result,
        h(
          'p',
          { class: 'form-message ok' },
          `Published ${count === 1 ? '' : `${count} copies `}to ${receipt.streams.map((entry) => `${entry.stream} (partition ${entry.partition}, offset ${entry.offset}${entry.duplicate ? ', duplicate' : ''})`).join(', ')}`,
        ),
      );
    } catch (error) {
      replace(result, h('p', { class: 'form-message error' }, `${error.code}: ${error.message}`));
    } finally {
      button.disabled = false;
    }
  });

  container.append(h('h1', null, 'Publish'), h('section', { class: 'card' }, form));
  return {};
}
