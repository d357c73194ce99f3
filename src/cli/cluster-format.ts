/**
 * The human format of `weir cluster status` (`--json` prints the ClusterStatus as it is):
 *
 *   cluster: leader a, epoch 3, node a, leader seq 1204, in sync a, b
 *
 *   NODE  ROLE      IN-SYNC  ACKED  LAG
 *   a     leader    yes      1204   0 ops, 0 ms
 *   c     offline   no       -      -
 *
 *   STREAM  REPLICAS  MIN-IN-SYNC  LEADER  EPOCH  ISR
 *   orders  3         2            a       3      a, b
 *
 * A single node prints `single node (no cluster)`.
 */
import type { ClusterStatus } from '../protocol/index.js';

/** Columns separated by two spaces, each as wide as its widest cell. */
function table(rows: readonly (readonly string[])[]): string[] {
  const widths: number[] = [];
  for (const row of rows) {
    row.forEach((cell, index) => (widths[index] = Math.max(widths[index] ?? 0, cell.length)));
  }
  return rows.map((row) =>
    row
      .map((cell, index) => (index === row.length - 1 ? cell : cell.padEnd(widths[index]!)))
      .join('  '),
  );
}

function known(value: number | null): string {
  return value === null ? '-' : String(value);
}

function lag(ops: number | null, ms: number | null): string {
  if (ops === null && ms === null) return '-';
  return `${known(ops)} ops, ${known(ms)} ms`;
}

export function formatClusterStatus(status: ClusterStatus): string {
  if (!status.clusterMode) return 'single node (no cluster)';
  const header = [
    `leader ${status.leader ?? 'none'}`,
    `epoch ${status.epoch}`,
    ...(status.nodeId === null ? [] : [`node ${status.nodeId}`]),
    ...(status.leaderSeq === null ? [] : [`leader seq ${status.leaderSeq}`]),
    `in sync ${status.isr.length === 0 ? 'none' : status.isr.join(', ')}`,
  ];
  const lines = [`cluster: ${header.join(', ')}`, ''];
  lines.push(
    ...table([
      ['NODE', 'ROLE', 'IN-SYNC', 'ACKED', 'LAG'],
      ...status.nodes.map((node) => [
        node.nodeId,
        node.role,
        node.inSync ? 'yes' : 'no',
        known(node.ackedSeq),
        lag(node.lagOps, node.lagMs),
      ]),
    ]),
  );
  lines.push('');
  if (status.streams.length === 0) {
    lines.push('no streams');
  } else {
    lines.push(
      ...table([
        ['STREAM', 'REPLICAS', 'MIN-IN-SYNC', 'LEADER', 'EPOCH', 'ISR'],
        ...status.streams.map((stream) => [
          stream.name,
          String(stream.replicas),
          String(stream.minInSync),
          stream.leader ?? 'none',
          String(stream.epoch),
          stream.isr.join(', '),
        ]),
      ]),
    );
  }
  return lines.join('\n');
}
