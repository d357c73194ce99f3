/**
 * docs/alerts.yml: valid Prometheus alerting rules (checked with promtool when it is on PATH,
 * parsed and checked field by field in any case) whose expressions name only metrics a real
 * admin server exports at /metrics.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { describe, test } from 'node:test';
import { parse } from 'yaml';
import { eventually, withAdmin } from './admin-fixture.js';
import { parsePrometheusText } from './prometheus-text.js';

// dist/test/admin -> the repository root.
const RULES_FILE = fileURLToPath(new URL('../../../docs/alerts.yml', import.meta.url));

/** Series Prometheus writes itself for each scrape target, not the broker. */
const PROMETHEUS_OWN_SERIES = new Set(['up']);

/** PromQL words that look like metric names: functions, aggregations, keywords. */
const PROMQL_WORDS = new Set([
  'abs', 'absent', 'absent_over_time', 'and', 'avg', 'avg_over_time', 'bool', 'by', 'ceil',
  'changes', 'clamp_max', 'clamp_min', 'count', 'count_over_time', 'delta', 'deriv', 'floor',
  'group_left', 'group_right', 'histogram_quantile', 'ignoring', 'increase', 'irate', 'max',
  'max_over_time', 'min', 'min_over_time', 'offset', 'on', 'or', 'predict_linear', 'quantile',
  'rate', 'resets', 'round', 'sum', 'sum_over_time', 'time', 'topk', 'unless', 'vector',
  'without',
]); // prettier-ignore

const RULE_KEYS = new Set(['alert', 'expr', 'for', 'labels', 'annotations', 'keep_firing_for']);
const DURATION = /^(\d+(ms|s|m|h|d|w|y))+$/;
const SEVERITIES = new Set(['warning', 'critical']);

interface Rule {
  readonly alert: string;
  readonly expr: string;
  readonly for: string;
  readonly labels: Record<string, string>;
  readonly annotations: Record<string, string>;
}

/** The metric names an expression reads: identifiers that are not in braces, strings, ranges. */
function metricNames(expression: string): Set<string> {
  const bare = expression
    .replace(/"(?:[^"\\]|\\.)*"/g, '""') // label values
    .replace(/\{[^}]*\}/g, '') // label matchers
    .replace(/\[[^\]]*\]/g, '') // range selectors
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, '$1'); // label lists
  const names = new Set<string>();
  for (const match of bare.matchAll(/[a-zA-Z_:][a-zA-Z0-9_:]*/g)) {
    const word = match[0];
    const start = match.index;
    // A number's exponent or unit (1e3, 4h) is not a name.
    if (start > 0 && /[0-9.]/.test(bare[start - 1]!)) continue;
    if (PROMQL_WORDS.has(word)) continue;
    names.add(word);
  }
  return names;
}

async function loadRules(): Promise<Rule[]> {
  const document = parse(await readFile(RULES_FILE, 'utf8')) as unknown;
  assert.ok(document !== null && typeof document === 'object', 'the file is a YAML mapping');
  const groups = (document as { groups?: unknown }).groups;
  assert.ok(Array.isArray(groups) && groups.length > 0, 'it has groups');
  const rules: Rule[] = [];
  const groupNames = new Set<string>();
  for (const group of groups as { name?: unknown; rules?: unknown }[]) {
    assert.equal(typeof group.name, 'string', 'every group has a name');
    assert.ok(!groupNames.has(group.name as string), `group ${String(group.name)} is unique`);
    groupNames.add(group.name as string);
    assert.ok(
      Array.isArray(group.rules) && group.rules.length > 0,
      `${String(group.name)} has rules`,
    );
    for (const rule of group.rules as Record<string, unknown>[]) {
      const name = String(rule.alert);
      for (const key of Object.keys(rule))
        assert.ok(RULE_KEYS.has(key), `${name}: unknown key ${key}`);
      assert.match(name, /^Weir[A-Za-z]+$/, 'alert names are CamelCase, starting with Weir');
      assert.equal(typeof rule.expr, 'string', `${name} has an expr`);
      assert.match(String(rule.for), DURATION, `${name} has a duration in for`);
      const labels = rule.labels as Record<string, unknown>;
      assert.ok(SEVERITIES.has(String(labels.severity)), `${name} has a severity`);
      const annotations = rule.annotations as Record<string, unknown>;
      assert.equal(typeof annotations.summary, 'string', `${name} has a summary`);
      assert.equal(typeof annotations.description, 'string', `${name} has a description`);
      rules.push(rule as unknown as Rule);
    }
  }
  return rules;
}

describe('docs/alerts.yml', () => {
  test('the metric-name extractor skips functions, labels, ranges and numbers', () => {
    assert.deepEqual(
      [...metricNames('sum by (stream) (rate(weir_a_total{job="x"}[5m])) > 1e3 and weir_b < 4')],
      ['weir_a_total', 'weir_b'],
    );
    assert.deepEqual([...metricNames('predict_linear(weir_c[1h], 4 * 3600) < 0')], ['weir_c']);
  });

  test('is valid alerting rules (promtool when present) for every kind of trouble', async (context) => {
    const rules = await loadRules();
    const names = new Set(rules.map((rule) => rule.alert));
    assert.equal(names.size, rules.length, 'alert names are unique');
    const promtool = spawnSync('promtool', ['check', 'rules', RULES_FILE], { encoding: 'utf8' });
    if (promtool.error === undefined) {
      assert.equal(
        promtool.status,
        0,
        `promtool check rules: ${promtool.stdout}${promtool.stderr}`,
      );
    } else {
      context.diagnostic(
        'promtool is not on PATH: the rules were parsed and checked, not compiled',
      );
    }
    // Each concern the rules are for has at least one rule reading its metric.
    const reads = (metric: string): boolean =>
      rules.some((rule) => metricNames(rule.expr).has(metric));
    assert.ok(reads('weir_subscription_dead_lettered_total'), 'dead-letter growth');
    assert.ok(reads('weir_subscription_lag_seconds'), 'subscription lag');
    assert.ok(reads('weir_subscription_stalled'), 'stalls');
    assert.ok(reads('weir_storage_failures'), 'storage failures');
    assert.ok(reads('weir_data_dir_free_bytes'), 'free disk space');
    assert.ok(reads('up'), 'broker down');
    assert.ok(reads('weir_dead_letter_webhook_dropped_total'), 'a failing webhook');
  });

  test('every metric an expression reads is in a real /metrics scrape', async () => {
    // A dead-letter webhook receiver on loopback, so the webhook's series exist too.
    const receiver = http.createServer((request, response) => {
      request.resume();
      request.on('end', () => response.writeHead(204).end());
    });
    await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/`;
    try {
      await withAdmin({ storage: 'file', deadLetterWebhook: { url } }, async (harness) => {
        const { client } = harness;
        // A stream with a dead-letter subscription, so the labelled series exist.
        await client.streams.create('orders', { subjects: ['orders.>'] });
        await client.streams.create('dead', { subjects: ['dead.>'] });
        const consumer = await client.subscribe('orders', {
          subscription: 'billing',
          maxDeliveries: 1,
          deadLetter: 'dead.orders',
        });
        await client.publish('orders.eu.created', { order: 1 });
        const message = await consumer.receive({ timeoutMs: 2000 });
        await message!.term('cannot bill');
        await consumer.close();
        const families = await eventually(async () => {
          const answer = await harness.request('GET', '/metrics');
          const parsed = parsePrometheusText(answer.text);
          const deadLettered = parsed.get('weir_subscription_dead_lettered_total');
          return deadLettered?.samples.some((sample) => sample.value === 1) ? parsed : null;
        });
        const rules = await loadRules();
        for (const rule of rules) {
          for (const metric of metricNames(rule.expr)) {
            if (PROMETHEUS_OWN_SERIES.has(metric)) continue;
            const family = families.get(metric);
            assert.ok(family, `${rule.alert} reads ${metric}, which /metrics does not export`);
            assert.ok(family.samples.length > 0, `${rule.alert}: ${metric} has no series`);
          }
        }
      });
    } finally {
      receiver.closeAllConnections();
      await new Promise<void>((resolve) => receiver.close(() => resolve()));
    }
  });
});
