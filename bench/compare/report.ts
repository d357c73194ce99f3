/**
 * From the runs to the report: medians with min–max per broker and figure, the ratio Weir /
 * best peer (Weir native against RabbitMQ, NATS JetStream, Redis Streams; Weir over AMQP is
 * not a peer), the ratio Weir over AMQP / RabbitMQ (same client, same settings), the targets
 * of issue 5, as a console table and as Markdown.
 */
import { BROKERS, BROKER_LABELS, isWeirBroker, type BrokerId } from './adapter.js';
import { FIGURES, RESOURCE_KEYS, type FigureSpec } from './matrix.js';
import type { CpuReport } from './process-stats.js';
import { spread, type Spread } from './statistics.js';
import { WORKLOADS, type WorkloadId } from './workloads.js';

/** run-one.ts prints its result as one line starting with this. */
export const RESULT_PREFIX = 'RESULT ';

/** One run as recorded in the results file. */
export interface RunRecord {
  readonly broker: BrokerId;
  readonly workload: WorkloadId;
  readonly run: number;
  readonly messages: number;
  readonly size: number;
  readonly error?: string;
  readonly figures?: Record<string, number | null>;
  readonly cpu?: CpuReport;
  readonly cpuPublish?: CpuReport;
  readonly cpuDrain?: CpuReport;
  readonly durability?: string;
  readonly duplicates?: number;
  readonly publishFailures?: number;
  readonly verify?: Record<string, unknown>;
  /** Position of this broker in the run's order (brokers alternate run by run). */
  readonly order?: number;
  /** 1-minute load average just before the run. */
  readonly loadAverageBefore?: number;
}

export type BrokerState = 'ok' | 'not reachable';

export interface Cell {
  readonly spread: Spread | null;
  /** Why there is no value: 'not reachable', 'error', 'not run'. */
  readonly missing: string | null;
}

export function cellOf(
  runs: readonly RunRecord[],
  broker: BrokerId,
  reachable: Readonly<Record<BrokerId, BrokerState>>,
  workload: WorkloadId,
  read: (run: RunRecord) => number | null | undefined,
): Cell {
  if (reachable[broker] === 'not reachable') return { spread: null, missing: 'not reachable' };
  const mine = runs.filter((run) => run.broker === broker && run.workload === workload);
  if (mine.length === 0) return { spread: null, missing: 'not run' };
  const values = mine
    .filter((run) => !run.error)
    .map(read)
    .filter((value): value is number => typeof value === 'number' && Number.isFinite(value));
  const result = spread(values);
  if (result) return { spread: result, missing: null };
  return { spread: null, missing: mine.some((run) => run.error) ? 'error' : 'n/a' };
}

export function formatNumber(value: number): string {
  const magnitude = Math.abs(value);
  if (magnitude >= 1000) return Math.round(value).toLocaleString('en-US');
  if (magnitude >= 100) return value.toFixed(0);
  if (magnitude >= 10) return value.toFixed(1);
  return value.toFixed(2);
}

export function formatCell(cell: Cell): string {
  if (!cell.spread) return cell.missing ?? '–';
  const { median, min, max, runs } = cell.spread;
  if (runs === 1 || min === max) return formatNumber(median);
  return `${formatNumber(median)} (${formatNumber(min)}–${formatNumber(max)})`;
}

export interface Row {
  readonly label: string;
  readonly cells: Readonly<Record<BrokerId, Cell>>;
  /** Weir / best peer (for a lower-is-better figure too: below 1 means Weir is better). */
  readonly ratio: number | null;
  readonly bestPeer: BrokerId | null;
  /** Weir over AMQP / RabbitMQ, both through amqplib with the same settings. */
  readonly amqpRatio: number | null;
}

function bestPeer(
  cells: Readonly<Record<BrokerId, Cell>>,
  better: 'higher' | 'lower',
): BrokerId | null {
  let best: BrokerId | null = null;
  for (const broker of BROKERS) {
    if (isWeirBroker(broker)) continue;
    const value = cells[broker].spread?.median;
    if (value === undefined) continue;
    const current = best === null ? undefined : cells[best].spread?.median;
    if (current === undefined || (better === 'higher' ? value > current : value < current)) {
      best = broker;
    }
  }
  return best;
}

function rowOf(
  runs: readonly RunRecord[],
  reachable: Readonly<Record<BrokerId, BrokerState>>,
  label: string,
  workload: WorkloadId,
  better: 'higher' | 'lower',
  read: (run: RunRecord) => number | null | undefined,
  withRatio = true,
): Row {
  const cells = Object.fromEntries(
    BROKERS.map((broker) => [broker, cellOf(runs, broker, reachable, workload, read)]),
  ) as Record<BrokerId, Cell>;
  const best = withRatio ? bestPeer(cells, better) : null;
  const weir = cells.weir.spread?.median;
  const peer = best === null ? undefined : cells[best].spread?.median;
  const ratio = weir !== undefined && peer !== undefined && peer !== 0 ? weir / peer : null;
  const overAmqp = cells['weir-amqp'].spread?.median;
  const rabbitmq = cells.rabbitmq.spread?.median;
  const amqpRatio =
    withRatio && overAmqp !== undefined && rabbitmq !== undefined && rabbitmq !== 0
      ? overAmqp / rabbitmq
      : null;
  return { label, cells, ratio, bestPeer: best, amqpRatio };
}

export function figureRows(
  runs: readonly RunRecord[],
  reachable: Readonly<Record<BrokerId, BrokerState>>,
  workloads: readonly WorkloadId[],
): Row[] {
  return FIGURES.filter((figure) => workloads.includes(figure.workload)).map((figure) =>
    rowOf(
      runs,
      reachable,
      figure.label,
      figure.workload,
      figure.better,
      (run) => run.figures?.[figure.key],
    ),
  );
}

export function resourceRows(
  runs: readonly RunRecord[],
  reachable: Readonly<Record<BrokerId, BrokerState>>,
  workloads: readonly WorkloadId[],
): Row[] {
  const rows: Row[] = [];
  for (const workload of WORKLOADS.filter((id) => workloads.includes(id))) {
    for (const [key, label] of RESOURCE_KEYS) {
      if (workload === 'w5' && key === 'brokerRssPeakMiB') continue; // a figure of W5 already
      rows.push(
        rowOf(
          runs,
          reachable,
          `${workload.toUpperCase()} ${label}`,
          workload,
          'lower',
          (run) => run.cpu?.[key],
          key !== 'otherCpuPercent' && key !== 'interruptCpuPercent',
        ),
      );
    }
  }
  return rows;
}

export interface TargetResult {
  readonly target: string;
  readonly measured: string;
  readonly met: boolean | null;
}

const median = (row: Row | undefined, broker: BrokerId): number | undefined =>
  row?.cells[broker].spread?.median;

function ratioTarget(
  name: string,
  row: Row | undefined,
  peer: BrokerId | 'best',
  minimum: number,
): TargetResult {
  const weir = median(row, 'weir');
  const against = peer === 'best' ? (row?.bestPeer ?? null) : peer;
  const other = against === null ? undefined : median(row, against);
  if (weir === undefined || other === undefined || against === null) {
    return { target: name, measured: 'no data', met: null };
  }
  const ratio = weir / other;
  return {
    target: name,
    measured: `${ratio.toFixed(2)}× (${formatNumber(weir)} vs ${BROKER_LABELS[against]} ${formatNumber(other)})`,
    met: ratio >= minimum,
  };
}

/** The targets of issue 5, evaluated on the medians. */
export function evaluateTargets(rows: readonly Row[]): TargetResult[] {
  const find = (label: string): Row | undefined => rows.find((row) => row.label === label);
  const w1 = find(FIGURES[0]!.label);
  const label = (workload: WorkloadId, key: string): string =>
    FIGURES.find((figure: FigureSpec) => figure.workload === workload && figure.key === key)!.label;
  const results = [
    ratioTarget('W1 ≥ 4× RabbitMQ (fsync always)', w1, 'rabbitmq', 4),
    ratioTarget('W1 ≥ 1.5× Redis Streams (fsync always)', w1, 'redis', 1.5),
    ratioTarget(
      'W2 ≥ 2× best peer deliveries/s',
      find(label('w2', 'deliveriesPerSecond')),
      'best',
      2,
    ),
  ];
  const p99 = find(label('w3', 'e2eP99Ms'));
  const weirP99 = median(p99, 'weir');
  const bestP99 = p99?.bestPeer ? median(p99, p99.bestPeer) : undefined;
  results.push(
    weirP99 === undefined || bestP99 === undefined
      ? { target: 'W3 p99 ≤ best peer p99', measured: 'no data', met: null }
      : {
          target: 'W3 p99 ≤ best peer p99 (fsync always)',
          measured: `${formatNumber(weirP99)} ms vs ${BROKER_LABELS[p99!.bestPeer!]} ${formatNumber(bestP99)} ms`,
          met: weirP99 <= bestP99,
        },
  );
  results.push(ratioTarget('W4 ≥ 1× core NATS', find(label('w4', 'msgsPerSecond')), 'nats', 1));
  results.push(
    ratioTarget('W5 publish ≥ 1.5× best peer', find(label('w5', 'publishPerSecond')), 'best', 1.5),
  );
  results.push(
    ratioTarget('W5 drain ≥ 1.5× best peer', find(label('w5', 'drainPerSecond')), 'best', 1.5),
  );
  const rss = median(find(label('w5', 'brokerPeakRssMiB')), 'weir');
  // 150 MB (decimal) is 143.05 MiB.
  const rssLimitMiB = 150e6 / 1048576;
  results.push(
    rss === undefined
      ? { target: 'W5 Weir peak RSS ≤ 150 MB', measured: 'no data', met: null }
      : {
          target: 'W5 Weir peak RSS ≤ 150 MB',
          measured: `${formatNumber(rss)} MiB (${formatNumber((rss * 1048576) / 1e6)} MB)`,
          met: rss <= rssLimitMiB,
        },
  );
  return results;
}

const COLUMNS = [
  ...BROKERS.map((broker) => BROKER_LABELS[broker]),
  'Weir / best peer',
  'Weir over AMQP / RabbitMQ',
];

function rowTexts(row: Row): string[] {
  const ratio =
    row.ratio === null ? '–' : `${row.ratio.toFixed(2)}× (${BROKER_LABELS[row.bestPeer!]})`;
  const amqpRatio = row.amqpRatio === null ? '–' : `${row.amqpRatio.toFixed(2)}×`;
  return [row.label, ...BROKERS.map((broker) => formatCell(row.cells[broker])), ratio, amqpRatio];
}

export function consoleTable(rows: readonly Row[]): string {
  const table = [['figure', ...COLUMNS], ...rows.map(rowTexts)];
  const widths = table[0]!.map((_, column) =>
    Math.max(...table.map((line) => line[column]!.length)),
  );
  return table
    .map((line, index) => {
      const text = line
        .map((cell, column) =>
          column === 0 ? cell.padEnd(widths[column]!) : cell.padStart(widths[column]!),
        )
        .join('  ');
      return index === 0 ? `${text}\n${'-'.repeat(text.length)}` : text;
    })
    .join('\n');
}

export function markdownTable(rows: readonly Row[], firstColumn = 'figure'): string {
  const lines = [
    `| ${firstColumn} | ${COLUMNS.join(' | ')} |`,
    `|---|${COLUMNS.map(() => '---:').join('|')}|`,
    ...rows.map((row) => `| ${rowTexts(row).join(' | ')} |`),
  ];
  return lines.join('\n');
}

export function targetLines(targets: readonly TargetResult[], markdown: boolean): string {
  const mark = (met: boolean | null): string => (met === null ? 'n/a' : met ? 'met' : 'MISSED');
  if (markdown) {
    return [
      '| target | measured (medians) | |',
      '|---|---|---|',
      ...targets.map((target) => `| ${target.target} | ${target.measured} | ${mark(target.met)} |`),
    ].join('\n');
  }
  return targets
    .map((target) => `${mark(target.met).padEnd(6)} ${target.target}: ${target.measured}`)
    .join('\n');
}
