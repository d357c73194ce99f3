/**
 * An SVG chart of the results, drawn here without a chart library: one panel per charted
 * figure (matrix.ts FIGURES with chart: true), one horizontal bar per broker at its median,
 * a whisker from min to max, the value at the end of the bar. A broker without a value shows
 * why (not reachable, error).
 */
import { BROKERS, BROKER_LABELS, type BrokerId } from './adapter.js';
import { FIGURES } from './matrix.js';
import { formatCell, formatNumber, type Row } from './report.js';

const COLORS: Readonly<Record<BrokerId, string>> = {
  weir: '#2b8a3e',
  'weir-amqp': '#69db7c',
  rabbitmq: '#e8590c',
  nats: '#1971c2',
  redis: '#c92a2a',
};

const PANEL_WIDTH = 300;
const COLUMNS = 4;
const MARGIN = 16;
const LABEL_WIDTH = 118;
const BAR_HEIGHT = 20;
const BAR_GAP = 10;
const TITLE_HEIGHT = 44;
/** Room for one bar per broker (178 px for four). */
const PANEL_HEIGHT = TITLE_HEIGHT + BROKERS.length * (BAR_HEIGHT + BAR_GAP) + 14;
const HEADER_HEIGHT = 56;

function escape(text: string): string {
  return text
    .replaceAll('&', '&amp;')
    .replaceAll('<', '&lt;')
    .replaceAll('>', '&gt;')
    .replaceAll('"', '&quot;');
}

function panel(row: Row, better: 'higher' | 'lower', x: number, y: number): string {
  const parts: string[] = [];
  parts.push(`<g transform="translate(${x},${y})">`);
  parts.push(
    `<rect width="${PANEL_WIDTH}" height="${PANEL_HEIGHT}" rx="6" fill="#f8f9fa" stroke="#dee2e6"/>`,
  );
  parts.push(
    `<text x="12" y="20" font-size="14" font-weight="600" fill="#212529">${escape(row.label)}</text>`,
  );
  parts.push(
    `<text x="12" y="36" font-size="11" fill="#868e96">${better} is better · median, whisker min–max</text>`,
  );
  const scaleMax = Math.max(1e-9, ...BROKERS.map((broker) => row.cells[broker].spread?.max ?? 0));
  const barMax = PANEL_WIDTH - LABEL_WIDTH - 78;
  const scale = (value: number): number => (value / scaleMax) * barMax;
  BROKERS.forEach((broker, index) => {
    const top = TITLE_HEIGHT + index * (BAR_HEIGHT + BAR_GAP);
    const cell = row.cells[broker];
    parts.push(
      `<text x="12" y="${top + 14}" font-size="12" fill="#343a40"${broker === 'weir' ? ' font-weight="700"' : ''}>${escape(BROKER_LABELS[broker])}</text>`,
    );
    if (!cell.spread) {
      parts.push(
        `<text x="${LABEL_WIDTH}" y="${top + 14}" font-size="11" font-style="italic" fill="#868e96">${escape(cell.missing ?? '–')}</text>`,
      );
      return;
    }
    const width = Math.max(1, scale(cell.spread.median));
    parts.push(
      `<rect x="${LABEL_WIDTH}" y="${top}" width="${width.toFixed(1)}" height="${BAR_HEIGHT}" fill="${COLORS[broker]}" rx="2"/>`,
    );
    if (cell.spread.max > cell.spread.min) {
      const from = LABEL_WIDTH + scale(cell.spread.min);
      const to = LABEL_WIDTH + scale(cell.spread.max);
      const middle = top + BAR_HEIGHT / 2;
      parts.push(
        `<path d="M${from.toFixed(1)} ${middle}H${to.toFixed(1)}M${from.toFixed(1)} ${middle - 5}V${middle + 5}M${to.toFixed(1)} ${middle - 5}V${middle + 5}" stroke="#212529" stroke-width="1.2" fill="none"/>`,
      );
    }
    const labelX = LABEL_WIDTH + Math.max(width, scale(cell.spread.max)) + 6;
    parts.push(
      `<text x="${labelX.toFixed(1)}" y="${top + 14}" font-size="11" fill="#212529">${escape(formatNumber(cell.spread.median))}</text>`,
    );
  });
  parts.push('</g>');
  return parts.join('\n');
}

function notesPanel(notes: readonly string[], x: number, y: number): string {
  const lines = notes.map(
    (note, index) =>
      `<text x="12" y="${22 + index * 16}" font-size="11" fill="#343a40">${escape(note)}</text>`,
  );
  return [
    `<g transform="translate(${x},${y})">`,
    `<rect width="${PANEL_WIDTH}" height="${PANEL_HEIGHT}" rx="6" fill="#ffffff" stroke="#dee2e6"/>`,
    ...lines,
    '</g>',
  ].join('\n');
}

/**
 * The chart as SVG text. `rows` are figureRows(); `subtitle` says what machine and when;
 * `notes` (short lines: durability, caveats) fill the panel after the last figure.
 */
export function renderChart(
  rows: readonly Row[],
  title: string,
  subtitle: string,
  notes: readonly string[] = [],
): string {
  const charted = FIGURES.filter((figure) => figure.chart)
    .map((figure) => ({ figure, row: rows.find((row) => row.label === figure.label) }))
    .filter((entry): entry is { figure: (typeof FIGURES)[number]; row: Row } => !!entry.row);
  const slots = charted.length + (notes.length > 0 ? 1 : 0);
  const panelRows = Math.max(1, Math.ceil(slots / COLUMNS));
  const width = MARGIN + COLUMNS * (PANEL_WIDTH + MARGIN);
  const height = HEADER_HEIGHT + panelRows * (PANEL_HEIGHT + MARGIN) + MARGIN;
  const panels = charted.map(({ figure, row }, index) =>
    panel(
      row,
      figure.better,
      MARGIN + (index % COLUMNS) * (PANEL_WIDTH + MARGIN),
      HEADER_HEIGHT + Math.floor(index / COLUMNS) * (PANEL_HEIGHT + MARGIN),
    ),
  );
  if (notes.length > 0) {
    const index = charted.length;
    panels.push(
      notesPanel(
        notes,
        MARGIN + (index % COLUMNS) * (PANEL_WIDTH + MARGIN),
        HEADER_HEIGHT + Math.floor(index / COLUMNS) * (PANEL_HEIGHT + MARGIN),
      ),
    );
  }
  const summary = charted
    .map(({ row }) => `${row.label}: Weir ${formatCell(row.cells.weir)}`)
    .join('; ');
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif">`,
    `<title>${escape(title)}</title>`,
    `<desc>${escape(summary)}</desc>`,
    `<rect width="${width}" height="${height}" fill="#ffffff"/>`,
    `<text x="${MARGIN}" y="26" font-size="18" font-weight="700" fill="#212529">${escape(title)}</text>`,
    `<text x="${MARGIN}" y="44" font-size="12" fill="#495057">${escape(subtitle)}</text>`,
    ...panels,
    '</svg>',
    '',
  ].join('\n');
}
