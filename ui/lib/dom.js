/* global document */
// Small DOM helpers: h() builds elements (text is always set as text, never parsed as HTML),
// and the formatters every page uses.

/**
 * h('div', { class: 'card', onclick: fn, dataset: { testid: 'x' } }, child, 'text', [more])
 * Attributes starting with "on" become listeners; null / false attributes are left out.
 */
export function h(tag, attributes, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes ?? {})) {
    if (value === null || value === undefined || value === false) continue;
    if (name.startsWith('on') && typeof value === 'function') {
      element.addEventListener(name.slice(2), value);
    } else if (name === 'dataset') {
      Object.assign(element.dataset, value);
    } else if (name === 'value') {
      element.value = value;
    } else if (name === 'checked') {
      element.checked = Boolean(value);
    } else {
      element.setAttribute(name, value === true ? '' : String(value));
    }
  }
  append(element, children);
  return element;
}

function append(element, children) {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    if (Array.isArray(child)) append(element, child);
    else if (typeof child === 'string' || typeof child === 'number') {
      element.append(document.createTextNode(String(child)));
    } else element.append(child);
  }
}

const SVG_NS = 'http://www.w3.org/2000/svg';

/** Like h() for SVG elements. */
export function svg(tag, attributes, ...children) {
  const element = document.createElementNS(SVG_NS, tag);
  for (const [name, value] of Object.entries(attributes ?? {})) {
    if (value === null || value === undefined) continue;
    element.setAttribute(name, String(value));
  }
  for (const child of children) {
    if (child === null || child === undefined) continue;
    element.append(typeof child === 'string' ? document.createTextNode(child) : child);
  }
  return element;
}

/** Replaces every child of `element`. */
export function replace(element, ...children) {
  element.replaceChildren();
  append(element, children);
}

export function formatCount(value) {
  if (value === null || value === undefined || Number.isNaN(value)) return '–';
  const size = Math.abs(value);
  if (size >= 1e9) return `${(value / 1e9).toFixed(1)}G`;
  if (size >= 1e6) return `${(value / 1e6).toFixed(1)}M`;
  if (size >= 1e4) return `${(value / 1e3).toFixed(1)}k`;
  return String(Math.round(value * 10) / 10);
}

export function formatRate(value) {
  return `${formatCount(value)}/s`;
}

export function formatBytes(value) {
  if (value === null || value === undefined) return '–';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let size = value;
  let unit = 0;
  while (size >= 1024 && unit < units.length - 1) {
    size /= 1024;
    unit++;
  }
  return `${unit === 0 ? size : size.toFixed(1)} ${units[unit]}`;
}

export function formatSeconds(value) {
  if (value === null || value === undefined) return '–';
  if (value < 1) return `${Math.round(value * 1000)} ms`;
  if (value < 120) return `${value.toFixed(1)} s`;
  if (value < 7200) return `${(value / 60).toFixed(1)} min`;
  if (value < 172800) return `${(value / 3600).toFixed(1)} h`;
  return `${(value / 86400).toFixed(1)} d`;
}

export function formatTime(ms) {
  if (ms === null || ms === undefined) return '–';
  const date = new Date(ms);
  const pad = (number, width = 2) => String(number).padStart(width, '0');
  return (
    `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())} ` +
    `${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())}.${pad(date.getMilliseconds(), 3)}`
  );
}

/** The value of a <input type="datetime-local"> for a time in ms. */
export function toLocalInput(ms) {
  const date = new Date(ms - new Date(ms).getTimezoneOffset() * 60000);
  return date.toISOString().slice(0, 19);
}

export function encodePath(value) {
  return encodeURIComponent(value);
}

/** A subscription's stall state as a badge: the reason (with the detector's message) or ok. */
export function stallBadge(subscription) {
  return subscription.stall
    ? h(
        'span',
        { class: 'badge bad', title: subscription.stall.message },
        subscription.stall.reason,
      )
    : h('span', { class: 'badge good' }, 'ok');
}

/**
 * A table: a header row of `titles`, then `body`: a tbody element the page fills in later, or
 * the rows (an array) of a new one.
 */
export function table(attributes, titles, body) {
  return h(
    'table',
    attributes,
    h(
      'thead',
      null,
      h(
        'tr',
        null,
        titles.map((title) => h('th', null, title)),
      ),
    ),
    Array.isArray(body) ? h('tbody', null, body) : body,
  );
}
