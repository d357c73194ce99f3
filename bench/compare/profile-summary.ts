/**
 * Where the CPU time of a V8 CPU profile (node --cpu-prof; `npm run bench -- --profile DIR`)
 * goes: self time by layer (storage, broker, server, protocol codec, SDK, Node's net and fs,
 * native calls and syscalls, GC) and the top functions by self time.
 *
 *   node dist/bench/compare/profile-summary.js <file.cpuprofile | directory> [--top 30]
 *
 * A directory is summarised as one: every .cpuprofile under it, added up.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';

interface CallFrame {
  readonly functionName: string;
  readonly url: string;
  readonly lineNumber: number;
}

interface ProfileNode {
  readonly id: number;
  readonly callFrame: CallFrame;
}

interface CpuProfile {
  readonly nodes: readonly ProfileNode[];
  readonly samples: readonly number[];
  readonly timeDeltas: readonly number[];
}

/** Layers, first match wins: [name, test on url, test on function name]. */
const CATEGORIES: readonly [string, (url: string, name: string) => boolean][] = [
  ['idle', (_url, name) => name === '(idle)'],
  ['GC', (_url, name) => name === '(garbage collector)'],
  ['V8/native, unattributed ((program))', (_url, name) => name === '(program)'],
  ['weir storage', (url) => url.includes('/src/storage/')],
  ['weir broker', (url) => url.includes('/src/broker/')],
  ['weir server', (url) => url.includes('/src/server/')],
  ['weir protocol codec', (url) => url.includes('/src/protocol/')],
  ['weir SDK (client)', (url) => url.includes('/src/client/')],
  ['weir crc32c', (url) => url.includes('/src/util/crc32c')],
  ['weir util', (url) => url.includes('/src/util/')],
  ['weir admin (HTTP console)', (url) => url.includes('/src/admin/')],
  ['weir cli', (url) => url.includes('/src/cli/')],
  ['bench harness', (url) => url.includes('/bench/')],
  ['client libraries (node_modules)', (url) => url.includes('node_modules')],
  ['node fs', (url) => /node:(internal\/)?fs/.test(url)],
  [
    'node net/streams',
    (url) => /node:(net|stream|internal\/(net|stream_base_commons|streams\/|socket))/.test(url),
  ],
  [
    'node event loop (microtasks, timers, nextTick)',
    (url) => /node:(timers|internal\/(timers|process\/task_queues|async_hooks))/.test(url),
  ],
  ['node buffer', (url) => /node:(buffer|internal\/buffer)/.test(url)],
  ['node other', (url) => url.startsWith('node:')],
  ['native calls: bindings, builtins, syscalls', (url) => url === ''],
  ['other', () => true],
];

function categoryOf(frame: CallFrame): string {
  for (const [name, test] of CATEGORIES) if (test(frame.url, frame.functionName)) return name;
  return 'other';
}

function shortUrl(url: string): string {
  const at = url.search(/\/(src|bench|node_modules)\//);
  return at >= 0 ? url.slice(at + 1) : url.replace(/^file:\/\//, '');
}

function profilesUnder(path: string): string[] {
  if (!statSync(path).isDirectory()) return [path];
  return readdirSync(path, { recursive: true, encoding: 'utf8' })
    .filter((name) => name.endsWith('.cpuprofile'))
    .map((name) => join(path, name));
}

export interface ProfileSummary {
  readonly files: number;
  readonly totalMs: number;
  readonly idleMs: number;
  readonly categories: readonly { name: string; ms: number }[];
  readonly functions: readonly { name: string; where: string; category: string; ms: number }[];
}

export function summarize(files: readonly string[]): ProfileSummary {
  const byCategory = new Map<string, number>();
  const byFunction = new Map<
    string,
    { name: string; where: string; category: string; ms: number }
  >();
  let totalMs = 0;
  for (const file of files) {
    const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
    const nodes = new Map(profile.nodes.map((node) => [node.id, node]));
    profile.samples.forEach((id, index) => {
      const node = nodes.get(id);
      // timeDeltas[i] is the time since the previous sample: it belongs to this sample.
      const ms = (profile.timeDeltas[index] ?? 0) / 1000;
      if (!node || ms <= 0) return;
      totalMs += ms;
      const frame = node.callFrame;
      const category = categoryOf(frame);
      byCategory.set(category, (byCategory.get(category) ?? 0) + ms);
      const where = frame.url ? `${shortUrl(frame.url)}:${frame.lineNumber + 1}` : '(native)';
      const key = `${frame.functionName}@${where}`;
      const entry = byFunction.get(key) ?? {
        name: frame.functionName || '(anonymous)',
        where,
        category,
        ms: 0,
      };
      entry.ms += ms;
      byFunction.set(key, entry);
    });
  }
  return {
    files: files.length,
    totalMs,
    idleMs: byCategory.get('idle') ?? 0,
    categories: [...byCategory].map(([name, ms]) => ({ name, ms })).sort((a, b) => b.ms - a.ms),
    functions: [...byFunction.values()].sort((a, b) => b.ms - a.ms),
  };
}

export function formatSummary(summary: ProfileSummary, top: number): string {
  const busyMs = Math.max(1e-9, summary.totalMs - summary.idleMs);
  const percent = (ms: number): string => `${((100 * ms) / busyMs).toFixed(1)}%`.padStart(6);
  const lines = [
    `${summary.files} profile(s): ${(summary.totalMs / 1000).toFixed(2)} s sampled, ${(summary.idleMs / 1000).toFixed(2)} s idle; percentages are of the busy (non-idle) time, ${(busyMs / 1000).toFixed(2)} s`,
    '',
    'self time by layer:',
    ...summary.categories
      .filter((category) => category.name !== 'idle')
      .map(
        (category) =>
          `  ${percent(category.ms)}  ${(category.ms / 1000).toFixed(2).padStart(7)} s  ${category.name}`,
      ),
    '',
    `top ${top} functions by self time:`,
    ...summary.functions
      .filter((entry) => entry.category !== 'idle')
      .slice(0, top)
      .map((entry) => `  ${percent(entry.ms)}  ${entry.name}  ${entry.where}  [${entry.category}]`),
  ];
  return lines.join('\n');
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: { top: { type: 'string', default: '30' } },
  });
  const path = positionals[0];
  if (!path) {
    console.error('usage: profile-summary <file.cpuprofile | directory> [--top N]');
    process.exit(2);
  }
  console.log(formatSummary(summarize(profilesUnder(path)), Number(values.top)));
}
