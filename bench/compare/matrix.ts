/**
 * The measurement matrix: the size of each workload (full as in shared/bench/README.md, and
 * --quick), and the figures the report shows for each, with which direction is better.
 */
import type { WorkloadId, WorkloadParameters } from './workloads.js';

export interface Matrix {
  readonly runs: number;
  /** A run that outlives this is ended and recorded as an error. */
  readonly runTimeoutMs: number;
  /** Pause between two runs, so one broker's cleanup does not land in the next run. */
  readonly pauseMs: number;
  readonly workloads: Readonly<Record<WorkloadId, WorkloadParameters>>;
}

const COMMON = { window: 1000, subscribers: 4, ratePerSecond: 2000, durationSeconds: 10 };

export const FULL: Matrix = {
  runs: 3,
  runTimeoutMs: 400_000,
  pauseMs: 2000,
  workloads: {
    w1: { ...COMMON, messages: 300_000, size: 1024 },
    w2: { ...COMMON, messages: 150_000, size: 1024 },
    w3: { ...COMMON, messages: 20_000, size: 1024 },
    w4: { ...COMMON, messages: 2_000_000, size: 128 },
    w5: { ...COMMON, messages: 1_000_000, size: 256 },
  },
};

export const QUICK: Matrix = {
  runs: 1,
  runTimeoutMs: 30_000,
  pauseMs: 200,
  workloads: {
    w1: { ...COMMON, messages: 50_000, size: 1024 },
    w2: { ...COMMON, messages: 15_000, size: 1024 },
    w3: { ...COMMON, messages: 4000, size: 1024, durationSeconds: 2 },
    w4: { ...COMMON, messages: 300_000, size: 128 },
    w5: { ...COMMON, messages: 80_000, size: 256 },
  },
};

export interface FigureSpec {
  readonly workload: WorkloadId;
  /** Key in a run's `figures`. */
  readonly key: string;
  readonly label: string;
  readonly unit: string;
  readonly better: 'higher' | 'lower';
  /** Shown in the chart. */
  readonly chart?: boolean;
}

export const FIGURES: readonly FigureSpec[] = [
  {
    workload: 'w1',
    key: 'msgsPerSecond',
    label: 'W1 msgs/s',
    unit: 'msgs/s',
    better: 'higher',
    chart: true,
  },
  { workload: 'w1', key: 'confirmP50Ms', label: 'W1 confirm p50 ms', unit: 'ms', better: 'lower' },
  { workload: 'w1', key: 'confirmP99Ms', label: 'W1 confirm p99 ms', unit: 'ms', better: 'lower' },
  {
    workload: 'w2',
    key: 'deliveriesPerSecond',
    label: 'W2 deliveries/s (4 subscribers)',
    unit: 'deliveries/s',
    better: 'higher',
    chart: true,
  },
  { workload: 'w3', key: 'e2eP50Ms', label: 'W3 e2e p50 ms', unit: 'ms', better: 'lower' },
  {
    workload: 'w3',
    key: 'e2eP99Ms',
    label: 'W3 e2e p99 ms',
    unit: 'ms',
    better: 'lower',
    chart: true,
  },
  { workload: 'w3', key: 'e2eP999Ms', label: 'W3 e2e p99.9 ms', unit: 'ms', better: 'lower' },
  { workload: 'w3', key: 'e2eMaxMs', label: 'W3 e2e max ms', unit: 'ms', better: 'lower' },
  {
    workload: 'w4',
    key: 'msgsPerSecond',
    label: 'W4 msgs/s received',
    unit: 'msgs/s',
    better: 'higher',
    chart: true,
  },
  { workload: 'w4', key: 'lost', label: 'W4 lost', unit: 'messages', better: 'lower' },
  {
    workload: 'w5',
    key: 'publishPerSecond',
    label: 'W5 publish msgs/s',
    unit: 'msgs/s',
    better: 'higher',
    chart: true,
  },
  {
    workload: 'w5',
    key: 'drainPerSecond',
    label: 'W5 drain msgs/s',
    unit: 'msgs/s',
    better: 'higher',
    chart: true,
  },
  {
    workload: 'w5',
    key: 'brokerPeakRssMiB',
    label: 'W5 broker peak RSS MiB',
    unit: 'MiB',
    better: 'lower',
    chart: true,
  },
];

/** Resource figures, per workload: keys into a run's `cpu` report. */
export const RESOURCE_KEYS = [
  ['brokerCpuPercent', 'broker CPU %'],
  ['clientCpuPercent', 'client CPU %'],
  ['otherCpuPercent', 'other processes CPU % (noise)'],
  ['interruptCpuPercent', 'kernel irq+softirq CPU %'],
  ['brokerRssPeakMiB', 'broker RSS peak MiB'],
] as const;
