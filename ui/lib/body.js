/* global atob */
// Shows a message body from the API's preview ({ body: base64, text, bodyBytes, bodyTruncated })
// as JSON, text or hex. 'auto' picks JSON when the text parses, text when it is UTF-8, else hex.
import { h } from './dom.js';

const HEX_BYTES_MAX = 4096;

function bytesOf(base64) {
  const binary = atob(base64);
  const bytes = new Uint8Array(binary.length);
  for (let index = 0; index < binary.length; index++) bytes[index] = binary.charCodeAt(index);
  return bytes;
}

export function hexDump(bytes) {
  const lines = [];
  const shown = Math.min(bytes.length, HEX_BYTES_MAX);
  for (let offset = 0; offset < shown; offset += 16) {
    const row = bytes.subarray(offset, Math.min(offset + 16, shown));
    const hex = [...row].map((byte) => byte.toString(16).padStart(2, '0')).join(' ');
    const ascii = [...row]
      .map((byte) => (byte >= 0x20 && byte < 0x7f ? String.fromCharCode(byte) : '.'))
      .join('');
    lines.push(`${offset.toString(16).padStart(8, '0')}  ${hex.padEnd(47)}  ${ascii}`);
  }
  if (bytes.length > shown) lines.push(`… ${bytes.length - shown} more bytes`);
  return lines.join('\n');
}

/** Which view 'auto' means for this message. */
export function autoView(message) {
  if (message.text === null) return 'hex';
  try {
    JSON.parse(message.text);
    return 'json';
  } catch {
    return 'text';
  }
}

const PREVIEW_CHARACTERS = 120;

/** One line of the body for a list: its text (or hex) cut to PREVIEW_CHARACTERS. */
export function bodyLine(message) {
  const text = message.text ?? hexDump(bytesOf(message.body).subarray(0, 32)).split('\n')[0];
  const line = text.replace(/\s+/g, ' ').trim();
  return line.length > PREVIEW_CHARACTERS ? `${line.slice(0, PREVIEW_CHARACTERS)}…` : line;
}

/** A collapsed body: one line, the whole rendering when opened. */
export function bodyDetails(message, view = 'auto', open = false) {
  return h(
    'details',
    { class: 'body-details', open },
    h('summary', { class: 'mono' }, bodyLine(message) || '(empty body)'),
    renderBody(message, view),
  );
}

export function renderBody(message, view = 'auto') {
  const chosen = view === 'auto' ? autoView(message) : view;
  let content;
  if (chosen === 'json') {
    try {
      content = JSON.stringify(JSON.parse(message.text ?? ''), null, 2);
    } catch {
      content = '(not JSON) ' + (message.text ?? '');
    }
  } else if (chosen === 'text') {
    content = message.text ?? '(not UTF-8 text: see hex)';
  } else {
    content = hexDump(bytesOf(message.body));
  }
  return h(
    'pre',
    { class: `body body-${chosen}`, dataset: { view: chosen } },
    content,
    message.bodyTruncated ? `\n… (${message.bodyBytes} bytes in all)` : null,
  );
}
