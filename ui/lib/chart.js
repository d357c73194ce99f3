// A small SVG line chart for the live totals: several series over the last minutes, a y axis
// scaled to the visible maximum, and a legend with the current values.
import { h, svg, formatCount } from './dom.js';

const WIDTH = 420;
const HEIGHT = 150;
const PAD_LEFT = 40;
const PAD_RIGHT = 8;
const PAD_TOP = 10;
const PAD_BOTTOM = 20;

/** A "nice" upper bound for an axis: 1, 2 or 5 times a power of ten. */
function niceMax(value) {
  if (value <= 0) return 1;
  const power = 10 ** Math.floor(Math.log10(value));
  for (const step of [1, 2, 5, 10]) if (value <= step * power) return step * power;
  return 10 * power;
}

/**
 * createChart({ title, series: [{ key, label, color }], format }) -> { element, update(points) }
 * points: objects with timeMs and one number per series key, oldest first.
 */
export function createChart({ title, series, format = formatCount, testid }) {
  const plot = svg('g');
  const axis = svg('g', { class: 'axis' });
  const drawing = svg(
    'svg',
    {
      viewBox: `0 0 ${WIDTH} ${HEIGHT}`,
      class: 'chart-svg',
      role: 'img',
      'aria-label': title,
    },
    axis,
    plot,
  );
  const legend = h('div', { class: 'legend' });
  const element = h(
    'section',
    { class: 'card chart', dataset: testid ? { testid } : undefined },
    h('h3', null, title),
    drawing,
    legend,
  );

  function update(points) {
    const visible = points.slice(-300);
    let max = 0;
    for (const point of visible) {
      for (const { key } of series) max = Math.max(max, point[key] ?? 0);
    }
    const top = niceMax(max);
    const innerWidth = WIDTH - PAD_LEFT - PAD_RIGHT;
    const innerHeight = HEIGHT - PAD_TOP - PAD_BOTTOM;
    const last = visible[visible.length - 1]?.timeMs ?? 0;
    // The x axis covers what there is, from half a minute up to five minutes.
    const first = visible[0]?.timeMs ?? last;
    const spanMs = Math.min(300_000, Math.max(30_000, Math.ceil((last - first) / 30_000) * 30_000));
    const x = (timeMs) => PAD_LEFT + innerWidth * (1 - (last - timeMs) / spanMs);
    const y = (value) => PAD_TOP + innerHeight * (1 - (value ?? 0) / top);

    axis.replaceChildren(
      ...[0, 0.5, 1].map((fraction) => {
        const value = top * fraction;
        return svg(
          'g',
          null,
          svg('line', {
            x1: PAD_LEFT,
            x2: WIDTH - PAD_RIGHT,
            y1: y(value),
            y2: y(value),
            class: 'grid',
          }),
          svg('text', { x: PAD_LEFT - 6, y: y(value) + 4, 'text-anchor': 'end' }, format(value)),
        );
      }),
      svg(
        'text',
        { x: PAD_LEFT, y: HEIGHT - 4 },
        spanMs < 60_000 ? `−${spanMs / 1000} s` : `−${spanMs / 60_000} min`,
      ),
      svg('text', { x: WIDTH - PAD_RIGHT, y: HEIGHT - 4, 'text-anchor': 'end' }, 'now'),
    );
    plot.replaceChildren(
      ...series.map(({ key, color }) =>
        svg('polyline', {
          points: visible
            .filter((point) => last - point.timeMs <= spanMs)
            .map((point) => `${x(point.timeMs).toFixed(1)},${y(point[key]).toFixed(1)}`)
            .join(' '),
          fill: 'none',
          stroke: color,
          'stroke-width': 2,
          'stroke-linejoin': 'round',
        }),
      ),
    );
    const current = visible[visible.length - 1] ?? {};
    legend.replaceChildren(
      ...series.map(({ key, label, color }) =>
        h(
          'span',
          { class: 'legend-item' },
          h('i', { class: 'swatch', style: `background:${color}` }),
          `${label} `,
          h('b', null, format(current[key] ?? 0)),
        ),
      ),
    );
  }

  return { element, update };
}
