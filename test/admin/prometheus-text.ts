/**
 * A strict parser of the Prometheus text exposition format (version 0.0.4), for the tests:
 * it throws on any line a Prometheus server would reject, and checks what the format
 * promises about families (one TYPE per family, before its samples; histogram buckets
 * cumulative with a +Inf bucket equal to _count).
 */

export interface Sample {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

export interface Family {
  readonly name: string;
  type: string;
  help: string;
  readonly samples: Sample[];
}

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const TYPES = new Set(['counter', 'gauge', 'histogram', 'summary', 'untyped']);

function parseValue(text: string, line: string): number {
  if (text === '+Inf') return Infinity;
  if (text === '-Inf') return -Infinity;
  if (text === 'NaN') return NaN;
  if (!/^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(text)) {
    throw new Error(`bad value ${JSON.stringify(text)} in line: ${line}`);
  }
  return Number(text);
}

function parseLabels(text: string, line: string): Record<string, string> {
  const labels: Record<string, string> = {};
  let at = 0;
  while (at < text.length) {
    const equals = text.indexOf('=', at);
    if (equals < 0) throw new Error(`bad labels in line: ${line}`);
    const name = text.slice(at, equals).trim();
    if (!LABEL_NAME.test(name)) throw new Error(`bad label name ${name} in line: ${line}`);
    if (text[equals + 1] !== '"') throw new Error(`unquoted label value in line: ${line}`);
    let value = '';
    let index = equals + 2;
    for (; index < text.length && text[index] !== '"'; index++) {
      if (text[index] === '\\') {
        const next = text[++index];
        value += next === 'n' ? '\n' : next;
      } else {
        value += text[index];
      }
    }
    if (text[index] !== '"') throw new Error(`unterminated label value in line: ${line}`);
    if (Object.hasOwn(labels, name)) throw new Error(`label ${name} twice in line: ${line}`);
    labels[name] = value;
    at = index + 1;
    if (text[at] === ',') at++;
  }
  return labels;
}

function labelKey(labels: Readonly<Record<string, string>>): string {
  return JSON.stringify(Object.entries(labels).sort(([a], [b]) => (a < b ? -1 : 1)));
}

function familyOf(sampleName: string, families: Map<string, Family>): Family | undefined {
  const direct = families.get(sampleName);
  if (direct) return direct;
  for (const suffix of ['_bucket', '_sum', '_count']) {
    if (sampleName.endsWith(suffix)) {
      const family = families.get(sampleName.slice(0, -suffix.length));
      if (family && (family.type === 'histogram' || family.type === 'summary')) return family;
    }
  }
  return undefined;
}

export function parsePrometheusText(text: string): Map<string, Family> {
  const families = new Map<string, Family>();
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    if (line.startsWith('#')) {
      const match = /^# (HELP|TYPE) ([^ ]+) ?(.*)$/.exec(line);
      if (!match) continue; // a plain comment
      const [, kind, name, rest] = match as unknown as [string, string, string, string];
      if (!METRIC_NAME.test(name)) throw new Error(`bad metric name in line: ${line}`);
      let family = families.get(name);
      if (!family) {
        family = { name, type: 'untyped', help: '', samples: [] };
        families.set(name, family);
      }
      if (kind === 'TYPE') {
        if (!TYPES.has(rest)) throw new Error(`bad type in line: ${line}`);
        if (family.samples.length > 0) throw new Error(`TYPE after samples: ${line}`);
        family.type = rest;
      } else {
        family.help = rest;
      }
      continue;
    }
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? ([^ ]+)( -?\d+)?$/.exec(line);
    if (!match) throw new Error(`bad sample line: ${line}`);
    const name = match[1]!;
    const labels = match[3] === undefined ? {} : parseLabels(match[3], line);
    const value = parseValue(match[4]!, line);
    const family = familyOf(name, families);
    if (!family) throw new Error(`sample without a TYPE: ${line}`);
    family.samples.push({ name, labels, value });
  }
  for (const family of families.values()) {
    if (family.type !== 'histogram') continue;
    const series = new Map<string, Sample[]>();
    for (const sample of family.samples) {
      if (!sample.name.endsWith('_bucket')) continue;
      const { le: _le, ...rest } = sample.labels;
      const key = labelKey(rest);
      series.set(key, [...(series.get(key) ?? []), sample]);
    }
    for (const [key, buckets] of series) {
      let previous = 0;
      for (const bucket of buckets) {
        if (bucket.value < previous)
          throw new Error(`${family.name}${key}: buckets not cumulative`);
        previous = bucket.value;
      }
      const last = buckets[buckets.length - 1]!;
      if (last.labels.le !== '+Inf') throw new Error(`${family.name}${key}: no +Inf bucket`);
      const count = family.samples.find(
        (sample) => sample.name === `${family.name}_count` && labelKey(sample.labels) === key,
      );
      if (!count || count.value !== last.value) {
        throw new Error(`${family.name}${key}: _count differs from the +Inf bucket`);
      }
    }
  }
  return families;
}

/** The value of the sample `name` with exactly these labels (undefined when absent). */
export function valueOf(
  families: Map<string, Family>,
  name: string,
  labels: Record<string, string> = {},
): number | undefined {
  for (const family of families.values()) {
    for (const sample of family.samples) {
      if (sample.name !== name) continue;
      const keys = Object.keys(sample.labels);
      if (
        keys.length === Object.keys(labels).length &&
        keys.every((key) => sample.labels[key] === labels[key])
      ) {
        return sample.value;
      }
    }
  }
  return undefined;
}
