/** The human format of `weir stream info` (`--json` prints the StreamInfo as it is). */
import type { StreamInfo } from '../protocol/index.js';
import { formatBytes } from './format-bytes.js';

const LABEL_WIDTH = 15;

function limit(value: number | null, format: (value: number) => string = String): string {
  return value === null ? 'none' : format(value);
}

function row(label: string, value: string): string {
  return `${label.padEnd(LABEL_WIDTH)}${value}`;
}

export function formatStreamInfo(info: StreamInfo): string {
  const config = info.config;
  const fsync =
    config.fsync === 'interval' ? `interval (${config.fsyncIntervalMs} ms)` : config.fsync;
  const lines = [
    row('stream', info.name),
    row('subjects', config.subjects.join(', ')),
    row('storage', `${config.storage}, fsync ${fsync}`),
    row('retention', config.retention),
    // An older server sends neither (it knows no cluster).
    ...(config.replicas === undefined
      ? []
      : [row('replicas', `${config.replicas}, min in sync ${config.minInSync}`)]),
    row(
      'limits',
      `max age ${limit(config.maxAgeMs, (ms) => `${ms} ms`)}, max bytes ${limit(config.maxBytes, formatBytes)}, max messages ${limit(config.maxMessages)}, overflow ${config.overflow}`,
    ),
    row(
      'messages',
      `at most ${formatBytes(config.maxMessageBytes)} each, ttl ${limit(config.ttlMs, (ms) => `${ms} ms`)}, dedup window ${config.dedupWindowMs} ms, segments of ${formatBytes(config.segmentBytes)}`,
    ),
    row('stored', `${info.messages} messages, ${formatBytes(info.bytes)}`),
    // Only when some wait (and an older server sends no count).
    ...(info.scheduled > 0
      ? [row('scheduled', `${info.scheduled} delayed messages, entering when due`)]
      : []),
    row(
      'since open',
      `${info.dropped} dropped, ${info.rejected} rejected, ${info.duplicates} duplicates`,
    ),
    row('subscriptions', info.subscriptions.length === 0 ? 'none' : info.subscriptions.join(', ')),
    '',
    `${'partition'.padStart(9)} ${'start'.padStart(12)} ${'end'.padStart(12)} ${'messages'.padStart(12)} ${'bytes'.padStart(12)}`,
  ];
  for (const partition of info.partitions) {
    lines.push(
      `${String(partition.partition).padStart(9)} ${String(partition.startOffset).padStart(12)} ${String(partition.endOffset).padStart(12)} ${String(partition.messages).padStart(12)} ${formatBytes(partition.bytes).padStart(12)}`,
    );
  }
  return lines.join('\n');
}
