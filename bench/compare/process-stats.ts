/**
 * CPU time and memory of a broker process, read from /proc (Linux only), and of this client
 * process (`process.cpuUsage()`). A peer broker is found by the port it listens on: the
 * socket's inode from /proc/net/tcp{,6}, then the process holding that inode among
 * /proc/PID/fd. No external command is needed (`ss -ltnp` would do the same).
 */
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';

/** Linux reports /proc/PID/stat times in clock ticks of USER_HZ, 100 on every common build. */
const CLOCK_TICKS_PER_SECOND = 100;
/** /proc/net/tcp state code of a listening socket. */
const TCP_STATE_LISTEN = '0A';
/** Peak RSS is sampled this often while a meter runs. */
const RSS_SAMPLE_INTERVAL_MS = 100;
/** How many of the other busiest processes a report names, and from what share of a core. */
const TOP_OTHERS_COUNT = 3;
const TOP_OTHERS_PERCENT_MIN = 2;

function listeningInodes(port: number): Set<string> {
  const inodes = new Set<string>();
  const portHex = port.toString(16).toUpperCase().padStart(4, '0');
  for (const file of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      const fields = line.trim().split(/\s+/);
      const local = fields[1];
      if (!local || fields[3] !== TCP_STATE_LISTEN) continue;
      if (local.slice(local.lastIndexOf(':') + 1) !== portHex) continue;
      const inode = fields[9];
      if (inode && inode !== '0') inodes.add(inode);
    }
  }
  return inodes;
}

/** The PID of the process listening on `port` (any local address), or null. */
export function pidListeningOn(port: number): number | null {
  const inodes = listeningInodes(port);
  if (inodes.size === 0) return null;
  const targets = new Set([...inodes].map((inode) => `socket:[${inode}]`));
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let descriptors: string[];
    try {
      descriptors = readdirSync(`/proc/${entry}/fd`);
    } catch {
      continue; // gone, or not ours to read
    }
    for (const descriptor of descriptors) {
      try {
        if (targets.has(readlinkSync(`/proc/${entry}/fd/${descriptor}`))) return Number(entry);
      } catch {
        // closed while we looked
      }
    }
  }
  return null;
}

/** The command name of a process (/proc/PID/comm), or '?'. */
export function processName(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
  } catch {
    return '?';
  }
}

/** User + system CPU seconds a process has used, or NaN when it cannot be read. */
export function processCpuSeconds(pid: number): number {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Field 2 (comm) may hold spaces: count from the closing parenthesis.
    const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS_PER_SECOND;
  } catch {
    return Number.NaN;
  }
}

export interface MemoryStatus {
  /** Resident set now, MiB. */
  readonly rssMiB: number;
  /** Peak resident set since the process started (VmHWM), MiB. */
  readonly highWaterMiB: number;
}

export function processMemory(pid: number): MemoryStatus {
  try {
    const text = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kib = (name: string): number =>
      Number(new RegExp(`^${name}:\\s+(\\d+)`, 'm').exec(text)?.[1] ?? Number.NaN);
    return { rssMiB: kib('VmRSS') / 1024, highWaterMiB: kib('VmHWM') / 1024 };
  } catch {
    return { rssMiB: Number.NaN, highWaterMiB: Number.NaN };
  }
}

interface MachineTicks {
  readonly total: number;
  readonly idle: number;
  /** Interrupt and softirq time (network and disk completion work of the kernel). */
  readonly interrupt: number;
  /** Time the hypervisor gave this VM's CPUs to someone else. */
  readonly steal: number;
}

function machineTicks(): MachineTicks {
  // cpu  user nice system idle iowait irq softirq steal guest guest_nice
  const fields = readFileSync('/proc/stat', 'utf8')
    .split('\n')[0]!
    .trim()
    .split(/\s+/)
    .slice(1)
    .map(Number);
  const at = (index: number): number => fields[index] ?? 0;
  return {
    total: at(0) + at(1) + at(2) + at(3) + at(4) + at(5) + at(6) + at(7),
    idle: at(3) + at(4),
    interrupt: at(5) + at(6),
    steal: at(7),
  };
}

/** CPU seconds of every process on the machine, by PID (threads included). */
function allProcessCpuSeconds(): Map<number, number> {
  const result = new Map<number, number>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const seconds = processCpuSeconds(Number(entry));
    if (Number.isFinite(seconds)) result.set(Number(entry), seconds);
  }
  return result;
}

/**
 * CPU that processes other than `exclude` used between two snapshots, % of one core, and the
 * busiest of them as "name:pid 12.3%".
 */
function otherProcessesUsage(
  before: Map<number, number>,
  after: Map<number, number>,
  exclude: ReadonlySet<number>,
  wallSeconds: number,
): { percent: number; top: string[] } {
  const used: [number, number][] = [];
  let total = 0;
  for (const [pid, seconds] of after) {
    if (exclude.has(pid)) continue;
    const delta = seconds - (before.get(pid) ?? 0);
    if (delta > 0) {
      used.push([pid, delta]);
      total += delta;
    }
  }
  const top = used
    .sort((a, b) => b[1] - a[1])
    .slice(0, TOP_OTHERS_COUNT)
    .filter(([, delta]) => (100 * delta) / wallSeconds >= TOP_OTHERS_PERCENT_MIN)
    .map(([pid, delta]) => `${processName(pid)}:${pid} ${round1((100 * delta) / wallSeconds)}%`);
  return { percent: (100 * total) / wallSeconds, top };
}

/** What one measured interval cost: all CPU figures are % of one core. */
export interface CpuReport {
  readonly wallSeconds: number;
  readonly brokerCpuPercent: number;
  readonly clientCpuPercent: number;
  /** Busy % of the whole machine (all cores), to see other load. */
  readonly machineBusyPercent: number;
  /** CPU used by every other process, % of one core: the noise. */
  readonly otherCpuPercent: number;
  /** Kernel interrupt + softirq time, % of one core (loopback TCP and disk completions). */
  readonly interruptCpuPercent: number;
  /** CPU time the hypervisor took away, % of one core. */
  readonly stealCpuPercent: number;
  readonly brokerRssStartMiB: number;
  readonly brokerRssPeakMiB: number;
  readonly brokerRssEndMiB: number;
  /** The other processes that used most CPU meanwhile (the noise, by name). */
  readonly topOtherProcesses: readonly string[];
}

const round1 = (value: number): number => Math.round(value * 10) / 10;

/**
 * Measures one interval: broker CPU from /proc, client CPU from process.cpuUsage(), broker
 * RSS sampled every RSS_SAMPLE_INTERVAL_MS (the peak of the samples and the end value).
 */
export class Meter {
  readonly #pid: number | null;
  readonly #cores: number;
  #startedAt = 0;
  #brokerCpuStart = 0;
  #clientCpuStart: NodeJS.CpuUsage = { user: 0, system: 0 };
  #machineStart: MachineTicks = { total: 0, idle: 0, interrupt: 0, steal: 0 };
  #rssStart = Number.NaN;
  #rssPeak = Number.NaN;
  #sampler: ReturnType<typeof setInterval> | null = null;
  #processesStart = new Map<number, number>();

  constructor(pid: number | null, cores: number) {
    this.#pid = pid;
    this.#cores = cores;
  }

  start(): this {
    this.#startedAt = performance.now();
    this.#brokerCpuStart = this.#pid === null ? Number.NaN : processCpuSeconds(this.#pid);
    this.#clientCpuStart = process.cpuUsage();
    this.#machineStart = machineTicks();
    this.#processesStart = allProcessCpuSeconds();
    this.#rssStart = this.#pid === null ? Number.NaN : processMemory(this.#pid).rssMiB;
    this.#rssPeak = this.#rssStart;
    this.#sampler = setInterval(() => this.#sample(), RSS_SAMPLE_INTERVAL_MS);
    return this;
  }

  #sample(): number {
    if (this.#pid === null) return Number.NaN;
    const rss = processMemory(this.#pid).rssMiB;
    if (Number.isNaN(this.#rssPeak) || rss > this.#rssPeak) this.#rssPeak = rss;
    return rss;
  }

  /** Stops sampling without a report (cleanup on failure; harmless after stop()). */
  dispose(): void {
    if (this.#sampler) clearInterval(this.#sampler);
    this.#sampler = null;
  }

  stop(): CpuReport {
    this.dispose();
    const wallSeconds = (performance.now() - this.#startedAt) / 1000;
    const broker =
      this.#pid === null ? Number.NaN : processCpuSeconds(this.#pid) - this.#brokerCpuStart;
    const clientUsage = process.cpuUsage(this.#clientCpuStart);
    const client = (clientUsage.user + clientUsage.system) / 1e6;
    const machine = machineTicks();
    const busyTicks =
      machine.total - this.#machineStart.total - (machine.idle - this.#machineStart.idle);
    const machineBusy = busyTicks / Math.max(1, machine.total - this.#machineStart.total);
    const rssEnd = this.#sample();
    const exclude = new Set([process.pid]);
    if (this.#pid !== null) exclude.add(this.#pid);
    const others = otherProcessesUsage(
      this.#processesStart,
      allProcessCpuSeconds(),
      exclude,
      wallSeconds,
    );
    const brokerPercent = (100 * broker) / wallSeconds;
    const clientPercent = (100 * client) / wallSeconds;
    const tickPercent = (ticks: number): number =>
      (100 * this.#cores * ticks) / Math.max(1, machine.total - this.#machineStart.total);
    return {
      wallSeconds: Math.round(wallSeconds * 1000) / 1000,
      brokerCpuPercent: round1(brokerPercent),
      clientCpuPercent: round1(clientPercent),
      machineBusyPercent: round1(100 * machineBusy),
      otherCpuPercent: round1(others.percent),
      interruptCpuPercent: round1(tickPercent(machine.interrupt - this.#machineStart.interrupt)),
      stealCpuPercent: round1(tickPercent(machine.steal - this.#machineStart.steal)),
      brokerRssStartMiB: round1(this.#rssStart),
      brokerRssPeakMiB: round1(this.#rssPeak),
      brokerRssEndMiB: round1(rssEnd),
      topOtherProcesses: others.top,
    };
  }
}
