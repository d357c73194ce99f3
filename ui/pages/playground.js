/* global document, setInterval, clearInterval, setTimeout, clearTimeout */
// Playground: producers and consumers run by the admin server on a real Weir stream
// (`playground`, memory storage) with the rate, consumer count and speed, failure rate,
// capacity and overflow policy set here, live. Presets start a scenario (spike, slow consumer,
// poison message, consumer crash). The page polls GET /api/playground and draws the stream's
// fill against its capacity, the rates, and redeliveries and dead letters over time.
import { api } from '../lib/api.js';
import { createChart } from '../lib/chart.js';
import { h, svg, replace, formatCount, formatRate, formatTime } from '../lib/dom.js';

const POLL_MS = 500;
/** A slider's change is sent this long after it stops moving. */
const SEND_DELAY_MS = 250;
const EVENTS_SHOWN = 8;
/** Samples the page keeps for its charts (five minutes at the run's two a second). */
const HISTORY_MAX = 600;

/** The parameters the form edits; `fixed` ones are set when a run starts. */
const FIELDS = [
  {
    name: 'ratePerSecond',
    label: 'Producer rate (messages/s)',
    kind: 'range',
    min: 0,
    max: 1000,
    step: 1,
  },
  { name: 'consumers', label: 'Consumers', kind: 'range', min: 0, max: 16, step: 1 },
  {
    name: 'processingMs',
    label: 'Processing time per message (ms)',
    kind: 'range',
    min: 0,
    max: 2000,
    step: 5,
  },
  {
    name: 'failureRate',
    label: 'Failure rate (share nacked)',
    kind: 'range',
    min: 0,
    max: 1,
    step: 0.01,
    format: (value) => `${Math.round(value * 100)} %`,
  },
  { name: 'capacity', label: 'Capacity (maxMessages)', kind: 'number', min: 1, max: 100000 },
  {
    name: 'overflow',
    label: 'Overflow policy',
    kind: 'select',
    options: ['reject-new', 'drop-oldest'],
  },
  {
    name: 'maxDeliveries',
    label: 'Max deliveries',
    kind: 'number',
    min: 1,
    max: 20,
    fixed: true,
  },
  { name: 'leaseMs', label: 'Lease (ms)', kind: 'number', min: 500, max: 60000, fixed: true },
  {
    name: 'durationMs',
    label: 'Stops after (s)',
    kind: 'number',
    min: 1,
    max: 600,
    scale: 1000,
  },
];

const COUNTERS = [
  ['published', 'Published'],
  ['rejected', 'Rejected (stream full)'],
  ['dropped', 'Dropped (oldest)'],
  ['delivered', 'Delivered'],
  ['acked', 'Acked'],
  ['nacked', 'Nacked'],
  ['redelivered', 'Redelivered'],
  ['deadLettered', 'Dead-lettered'],
  ['backlog', 'Backlog'],
  ['inFlight', 'In flight'],
  ['consumers', 'Consumers'],
  ['crashed', 'Crashed'],
];

const EVENTS = [
  { kind: 'spike', label: 'Spike (10× for 3 s)' },
  { kind: 'poison', label: 'Send a poison message' },
  { kind: 'crash', label: 'Crash a consumer' },
];

/** Chart points from the run's samples: counts as they are, rates from consecutive samples. */
function chartPoints(history, capacity) {
  const points = [];
  for (let index = 0; index < history.length; index++) {
    const sample = history[index];
    const previous = history[index - 1];
    const seconds = previous ? (sample.timeMs - previous.timeMs) / 1000 : 0;
    const rate = (key) =>
      previous && seconds > 0 ? Math.max(0, (sample[key] - previous[key]) / seconds) : 0;
    points.push({
      timeMs: sample.timeMs,
      stored: sample.stored,
      backlog: sample.backlog,
      capacity,
      publishedPerSecond: rate('published'),
      ackedPerSecond: rate('acked'),
      rejectedPerSecond: rate('rejected'),
      redelivered: sample.redelivered,
      deadLettered: sample.deadLettered,
    });
  }
  return points;
}

/** Producers -> the stream's tank -> the consumers, with the dead-letter bin under them. */
function picture(view) {
  const counters = view.counters ?? {};
  const capacity = view.parameters.capacity;
  const fill = Math.min(1, (counters.stored ?? 0) / capacity);
  const tankHeight = 120;
  const level = tankHeight * fill;
  const consumers = counters.consumers ?? 0;
  const consumerNodes = [];
  for (let index = 0; index < Math.max(consumers, 1); index++) {
    const y = 30 + (index % 8) * 18;
    const x = 560 + Math.floor(index / 8) * 26;
    consumerNodes.push(
      svg('circle', {
        cx: x,
        cy: y,
        r: 7,
        class: consumers === 0 ? 'playground-consumer idle' : 'playground-consumer',
      }),
    );
  }
  const running = view.state === 'running';
  return [
    svg('rect', { x: 10, y: 55, width: 130, height: 60, rx: 8, class: 'playground-box' }),
    svg('text', { x: 22, y: 78, class: 'flow-title' }, 'producers'),
    svg('text', { x: 22, y: 98, class: 'flow-line' }, formatRate(view.producerRatePerSecond)),
    svg('path', {
      d: 'M140,85 L250,85',
      class: running && view.producerRatePerSecond > 0 ? 'flow-edge flow-edge-active' : 'flow-edge',
    }),
    svg('rect', { x: 250, y: 25, width: 180, height: tankHeight, rx: 6, class: 'playground-tank' }),
    svg('rect', {
      x: 250,
      y: 25 + tankHeight - level,
      width: 180,
      height: level,
      rx: 6,
      class:
        fill >= 1
          ? 'playground-level full'
          : fill > 0.8
            ? 'playground-level high'
            : 'playground-level',
      'data-testid': 'playground-level',
    }),
    svg('text', { x: 262, y: 18, class: 'flow-title' }, `stream ${view.stream}`),
    svg(
      'text',
      { x: 262, y: 165, class: 'flow-line' },
      `${formatCount(counters.stored ?? 0)} / ${formatCount(capacity)} · ${view.parameters.overflow}`,
    ),
    svg('path', {
      d: 'M430,85 L540,85',
      class: running && consumers > 0 ? 'flow-edge flow-edge-active' : 'flow-edge',
    }),
    ...consumerNodes,
    svg(
      'text',
      { x: 620, y: 34, class: 'flow-line' },
      `${consumers} consumer${consumers === 1 ? '' : 's'}${counters.crashed ? ` · ${counters.crashed} crashed` : ''}`,
    ),
    svg('rect', { x: 600, y: 120, width: 170, height: 46, rx: 8, class: 'playground-dead' }),
    svg('text', { x: 612, y: 140, class: 'flow-title' }, 'dead letters'),
    svg(
      'text',
      { x: 612, y: 158, class: 'flow-line' },
      `${formatCount(counters.deadLettered ?? 0)} in ${view.deadLetterStream}`,
    ),
  ];
}

export function mount(container) {
  let view = null;
  /** The run's samples, fetched once each (GET ?since=), and the run they belong to. */
  let history = [];
  let historyRun = null;
  let pollTimer = null;
  let sendTimer = null;
  const pending = {};

  const message = h('p', {
    class: 'form-message',
    role: 'status',
    dataset: { testid: 'playground-message' },
  });
  const say = (text, kind = 'ok') => {
    message.className = `form-message ${kind}`;
    message.textContent = text;
  };

  const inputs = new Map();
  const outputs = new Map();
  const fieldElements = FIELDS.map((field) => {
    let input;
    const id = `playground-${field.name}`;
    if (field.kind === 'select') {
      input = h(
        'select',
        { id, name: field.name, dataset: { testid: `playground-input-${field.name}` } },
        field.options.map((option) => h('option', { value: option }, option)),
      );
    } else {
      input = h('input', {
        id,
        name: field.name,
        type: field.kind,
        min: field.min,
        max: field.max,
        step: field.step ?? 1,
        class: field.kind === 'number' ? 'short' : null,
        dataset: { testid: `playground-input-${field.name}` },
      });
    }
    const output = h('output', { for: id, class: 'playground-value' });
    inputs.set(field.name, input);
    outputs.set(field.name, output);
    input.addEventListener('input', () => onEdit(field));
    return h(
      'div',
      { class: 'playground-field' },
      h('label', { for: id }, field.label),
      input,
      field.kind === 'range' ? output : null,
    );
  });

  function fieldValue(field) {
    const input = inputs.get(field.name);
    if (field.kind === 'select') return input.value;
    return Number(input.value) * (field.scale ?? 1);
  }

  function showValue(field, value) {
    const output = outputs.get(field.name);
    output.textContent = field.format ? field.format(value) : String(value);
  }

  function fill(parameters) {
    for (const field of FIELDS) {
      const value = parameters[field.name];
      const input = inputs.get(field.name);
      if (document.activeElement !== input && !(field.name in pending)) {
        input.value = String(field.scale ? value / field.scale : value);
      }
      showValue(field, field.kind === 'select' ? input.value : fieldValue(field));
    }
  }

  function onEdit(field) {
    const value = fieldValue(field);
    showValue(field, value);
    if (view?.state !== 'running' || field.fixed) return;
    pending[field.name] = value;
    clearTimeout(sendTimer);
    sendTimer = setTimeout(() => void sendChanges(), SEND_DELAY_MS);
  }

  async function sendChanges() {
    const changes = { ...pending };
    for (const name of Object.keys(changes)) delete pending[name];
    if (Object.keys(changes).length === 0) return;
    await post(changes, `Changed ${Object.keys(changes).join(', ')}`);
  }

  async function post(body, done) {
    try {
      show(await api('POST', '/api/playground', body));
      say(done);
    } catch (error) {
      say(`${error.code}: ${error.message}`, 'error');
    }
  }

  const startButton = h(
    'button',
    {
      type: 'button',
      dataset: { testid: 'playground-start' },
      onclick: () => {
        const body = {};
        for (const field of FIELDS) body[field.name] = fieldValue(field);
        void post(body, 'Started');
      },
    },
    'Start',
  );
  const stopButton = h(
    'button',
    {
      type: 'button',
      class: 'danger',
      dataset: { testid: 'playground-stop' },
      onclick: async () => {
        try {
          show(await api('DELETE', '/api/playground'));
          say('Stopped: the playground streams are deleted');
        } catch (error) {
          say(`${error.code}: ${error.message}`, 'error');
        }
      },
    },
    'Stop',
  );
  const eventButtons = EVENTS.map(({ kind, label }) =>
    h(
      'button',
      {
        type: 'button',
        class: 'danger-outline',
        dataset: { testid: `playground-event-${kind}` },
        onclick: () => void post({ event: kind }, label),
      },
      label,
    ),
  );
  const presetRow = h('div', { class: 'actions playground-presets' });
  const state = h('span', { class: 'badge', dataset: { testid: 'playground-state' } }, '…');
  const drawing = svg('svg', {
    class: 'playground-svg',
    viewBox: '0 0 800 180',
    role: 'img',
    'aria-label': 'the playground stream filling against its capacity',
  });
  const fillBar = h('div', { class: 'bar-fill', style: 'width:0%' });
  const fillMeter = h(
    'div',
    {
      class: 'bar playground-bar',
      role: 'progressbar',
      'aria-label': 'stream fill against capacity',
      'aria-valuemin': 0,
      'aria-valuemax': 100,
      dataset: { testid: 'playground-fill' },
    },
    fillBar,
  );
  const fillText = h('span', { class: 'muted', dataset: { testid: 'playground-fill-text' } });
  const cards = h('div', { class: 'stats-row', dataset: { testid: 'playground-counters' } });
  const eventList = h('ul', {
    class: 'playground-events',
    dataset: { testid: 'playground-events' },
  });

  const fillChart = createChart({
    title: 'Stream fill',
    testid: 'playground-chart-fill',
    series: [
      { key: 'stored', label: 'stored', color: '#2f80ed' },
      { key: 'backlog', label: 'backlog', color: '#f2994a' },
      { key: 'capacity', label: 'capacity', color: '#d63b3b' },
    ],
  });
  const rateChart = createChart({
    title: 'Producer and consumer rates (per second)',
    testid: 'playground-chart-rates',
    series: [
      { key: 'publishedPerSecond', label: 'published', color: '#2f80ed' },
      { key: 'ackedPerSecond', label: 'acked', color: '#27ae60' },
      { key: 'rejectedPerSecond', label: 'rejected', color: '#d63b3b' },
    ],
  });
  const failureChart = createChart({
    title: 'Redeliveries and dead letters',
    testid: 'playground-chart-failures',
    series: [
      { key: 'redelivered', label: 'redelivered', color: '#f2994a' },
      { key: 'deadLettered', label: 'dead-lettered', color: '#9b51e0' },
    ],
  });

  container.append(
    h('h1', null, 'Playground'),
    h(
      'p',
      { class: 'muted' },
      'Producers and consumers run by the broker on a real stream (playground, memory storage: nothing is written to disk) with a shared durable subscription and a dead-letter stream (playground-dead). Set the parameters, start a run or a preset, and change them while it runs. Stop deletes both streams.',
    ),
    h(
      'section',
      { class: 'card', dataset: { testid: 'playground-controls' } },
      h('div', { class: 'title-row' }, h('h2', null, 'Scenario'), state),
      h('h3', null, 'Presets'),
      presetRow,
      h('h3', null, 'Parameters'),
      h('div', { class: 'playground-fields' }, fieldElements),
      h('div', { class: 'actions' }, startButton, stopButton, ...eventButtons),
      message,
    ),
    h(
      'section',
      { class: 'card', dataset: { testid: 'playground-picture' } },
      drawing,
      h('div', { class: 'progress' }, fillMeter, fillText),
    ),
    cards,
    h('div', { class: 'charts' }, fillChart.element, rateChart.element, failureChart.element),
    h('section', { class: 'card' }, h('h3', null, 'Events'), eventList),
  );

  function show(next) {
    const first = view === null;
    view = next;
    const running = view.state === 'running';
    state.textContent = view.preset ? `${view.state} · ${view.preset}` : view.state;
    state.className = `badge ${running ? 'good' : ''}`;
    if (first) {
      replace(
        presetRow,
        view.presets.map((preset) =>
          h(
            'button',
            {
              type: 'button',
              title: preset.description,
              dataset: { testid: `playground-preset-${preset.name}` },
              onclick: () => void post({ preset: preset.name }, `Started ${preset.title}`),
            },
            preset.title,
          ),
        ),
      );
    }
    // While a run goes the form shows its parameters; otherwise what the person set stays.
    if (first || running) fill(view.parameters);
    for (const field of FIELDS) {
      if (field.fixed) inputs.get(field.name).disabled = running;
    }
    // A run going changes live; starting anew (other maxDeliveries or lease) is Stop, then Start.
    startButton.disabled = running;
    stopButton.disabled = !running;
    for (const button of eventButtons) button.disabled = !running;

    const counters = view.counters ?? {};
    const capacity = view.parameters.capacity;
    const percent = Math.min(100, Math.round(((counters.stored ?? 0) / capacity) * 100));
    fillBar.style.width = `${percent}%`;
    fillBar.style.background = percent >= 100 ? 'var(--bad)' : percent > 80 ? 'var(--warn)' : '';
    fillMeter.setAttribute('aria-valuenow', String(percent));
    fillText.textContent = `${formatCount(counters.stored ?? 0)} of ${formatCount(capacity)} stored (${percent} %)`;
    replace(drawing, ...picture(view));
    replace(
      cards,
      COUNTERS.map(([key, label]) =>
        h(
          'div',
          { class: 'stat', dataset: { testid: `playground-counter-${key}` } },
          h('span', { class: 'stat-label' }, label),
          h('span', { class: 'stat-value' }, formatCount(counters[key] ?? 0)),
        ),
      ),
    );
    if (view.startedAtMs !== historyRun) {
      history = [];
      historyRun = view.startedAtMs;
    }
    const lastMs = history.at(-1)?.timeMs ?? -Infinity;
    history.push(...view.history.filter((sample) => sample.timeMs > lastMs));
    if (history.length > HISTORY_MAX) history.splice(0, history.length - HISTORY_MAX);
    const points = chartPoints(history, capacity);
    fillChart.update(points);
    rateChart.update(points);
    failureChart.update(points);
    replace(
      eventList,
      view.events.length === 0
        ? h('li', { class: 'muted' }, 'none yet')
        : view.events
            .slice(-EVENTS_SHOWN)
            .reverse()
            .map((event) =>
              h(
                'li',
                null,
                h('span', { class: 'muted' }, formatTime(event.timeMs)),
                ` ${event.kind}: ${event.detail}`,
              ),
            ),
    );
    if (view.lastError) say(`The run met an error: ${view.lastError}`, 'error');
  }

  async function poll() {
    try {
      const since = history.at(-1)?.timeMs;
      show(await api('GET', `/api/playground${since === undefined ? '' : `?since=${since}`}`));
    } catch (error) {
      say(`${error.code}: ${error.message}`, 'error');
    }
  }

  void poll();
  pollTimer = setInterval(() => void poll(), POLL_MS);

  return {
    unmount() {
      clearInterval(pollTimer);
      clearTimeout(sendTimer);
    },
  };
}
