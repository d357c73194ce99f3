// Cluster: the cluster as this node sees it (GET /api/cluster): the leader and its epoch, a
// row per node (role, in sync, acknowledged op, lag) and a row per stream (replicas,
// minInSync, leader, in-sync set). A single node says so and shows nothing else.
import { api } from '../lib/api.js';
import { h, replace, table } from '../lib/dom.js';

/** Refresh at most this often while live snapshots arrive (the cluster is not in them). */
const REFRESH_MS = 2000;

function known(value) {
  return value === null || value === undefined ? '–' : String(value);
}

function lag(node) {
  if (node.lagOps === null && node.lagMs === null) return '–';
  return `${known(node.lagOps)} ops, ${known(node.lagMs)} ms`;
}

function nodeRow(node) {
  return h(
    'tr',
    { dataset: { testid: 'cluster-node', node: node.nodeId } },
    h('td', null, node.nodeId),
    h('td', { class: 'mono' }, node.advertise),
    h(
      'td',
      null,
      h(
        'span',
        {
          class: `badge ${node.role === 'leader' ? 'good' : node.role === 'offline' ? 'bad' : ''}`,
        },
        node.role,
      ),
    ),
    h('td', null, node.inSync ? 'yes' : 'no'),
    h('td', { class: 'number' }, known(node.ackedSeq)),
    h('td', { class: 'number' }, lag(node)),
  );
}

function streamRow(stream) {
  return h(
    'tr',
    { dataset: { testid: 'cluster-stream', stream: stream.name } },
    h('td', null, h('a', { href: `#/streams/${encodeURIComponent(stream.name)}` }, stream.name)),
    h('td', { class: 'number' }, String(stream.replicas)),
    h('td', { class: 'number' }, String(stream.minInSync)),
    h('td', null, known(stream.leader)),
    h('td', { class: 'number' }, String(stream.epoch)),
    h('td', null, stream.isr.join(', ')),
  );
}

export function mount(container) {
  const summary = h('p', { dataset: { testid: 'cluster-summary' } });
  const failure = h('p', { class: 'form-message error', role: 'alert' });
  const nodes = h('tbody');
  const streams = h('tbody');
  const details = h(
    'div',
    { hidden: true, dataset: { testid: 'cluster-details' } },
    h(
      'section',
      { class: 'card' },
      h('h2', null, 'Nodes'),
      table(
        { dataset: { testid: 'cluster-nodes' } },
        ['Node', 'Address', 'Role', 'In sync', 'Acked op', 'Lag'],
        nodes,
      ),
    ),
    h(
      'section',
      { class: 'card' },
      h('h2', null, 'Streams'),
      table(
        { dataset: { testid: 'cluster-streams' } },
        ['Stream', 'Replicas', 'Min in sync', 'Leader', 'Epoch', 'In-sync set'],
        streams,
      ),
    ),
  );
  let lastRefresh = 0;
  let gone = false;

  async function refresh() {
    lastRefresh = Date.now();
    let status;
    try {
      status = await api('GET', '/api/cluster');
    } catch (error) {
      failure.textContent = `${error.code}: ${error.message}`;
      return;
    }
    if (gone) return;
    failure.textContent = '';
    if (!status.clusterMode) {
      summary.textContent = 'Single node (no cluster): every stream lives on this broker alone.';
      details.hidden = true;
      return;
    }
    summary.textContent = `Leader ${status.leader ?? 'none'}, epoch ${status.epoch}; this node ${known(status.nodeId)}; in sync: ${status.isr.join(', ') || 'none'}.`;
    details.hidden = false;
    replace(nodes, status.nodes.map(nodeRow));
    replace(streams, status.streams.map(streamRow));
  }

  container.append(
    h('h1', null, 'Cluster'),
    h('section', { class: 'card' }, summary, failure),
    details,
  );
  void refresh();
  return {
    update() {
      if (Date.now() - lastRefresh >= REFRESH_MS) void refresh();
    },
    unmount() {
      gone = true;
    },
  };
}
