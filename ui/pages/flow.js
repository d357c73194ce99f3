/* global document, requestAnimationFrame, cancelAnimationFrame, performance */
// Flow: producers -> streams -> subscriptions -> consumers, drawn from the live stats. Dots
// run along each edge, more of them the higher its rate; a subscription's bar shows its
// backlog, and a stalled one is outlined in red with the reason, so you see where messages
// pile up.
import { h, svg, formatCount, formatRate } from '../lib/dom.js';

const WIDTH = 1000;
const ROW = 96;
const NODE_HEIGHT = 60;
const COLUMNS = {
  producers: { x: 10, width: 150 },
  streams: { x: 270, width: 180 },
  subscriptions: { x: 560, width: 190 },
  consumers: { x: 850, width: 140 },
};
const SPEED_PX_PER_SECOND = 140;

function dotsFor(rate) {
  if (!(rate > 0)) return 0;
  return Math.min(10, 1 + Math.floor(Math.log2(rate + 1)));
}

function strokeFor(rate) {
  return rate > 0 ? Math.min(8, 1.5 + Math.log10(rate + 1) * 1.5) : 1;
}

/** Nodes and edges of the picture for one snapshot. */
function layout(snapshot) {
  const nodes = [];
  const edges = [];
  const place = (column, index, node) => {
    const { x, width } = COLUMNS[column];
    nodes.push({ ...node, column, x, y: 30 + index * ROW, width });
    return nodes[nodes.length - 1];
  };
  const totalIn = snapshot.streams.reduce((sum, stream) => sum + stream.inPerSecond, 0);
  const connections = snapshot.connections;
  const producer = place('producers', 0, {
    id: 'producers',
    title: 'producers',
    lines: [
      `${formatRate(totalIn)} published`,
      connections === null
        ? 'embedded'
        : `${connections.length} connection${connections.length === 1 ? '' : 's'}`,
    ],
  });
  const streamNodes = new Map();
  snapshot.streams.forEach((stream, index) => {
    const node = place('streams', index, {
      id: `stream:${stream.name}`,
      title: stream.name,
      lines: [`${formatCount(stream.messages)} stored · ${formatRate(stream.inPerSecond)} in`],
      href: `#/streams/${encodeURIComponent(stream.name)}`,
    });
    streamNodes.set(stream.name, node);
    edges.push({ id: `p>${stream.name}`, from: producer, to: node, rate: stream.inPerSecond });
  });
  const maxLag = Math.max(
    1,
    ...snapshot.subscriptions.map((subscription) => subscription.lagMessages),
  );
  let consumerIndex = 0;
  snapshot.subscriptions.forEach((subscription, index) => {
    const streamNode = streamNodes.get(subscription.stream);
    const node = place('subscriptions', index, {
      id: `sub:${subscription.stream}/${subscription.name}`,
      title: `${subscription.stream} / ${subscription.name}`,
      lines: [
        `lag ${formatCount(subscription.lagMessages)} · ${formatCount(subscription.inFlight)} in flight`,
      ],
      backlog: Math.log10(subscription.lagMessages + 1) / Math.log10(maxLag + 1),
      stall: subscription.stall,
      href: `#/subscriptions/${encodeURIComponent(subscription.stream)}/${encodeURIComponent(subscription.name)}`,
    });
    if (streamNode) {
      edges.push({
        id: `${streamNode.id}>${node.id}`,
        from: streamNode,
        to: node,
        rate: subscription.deliveredPerSecond,
      });
    }
    const consumers = [];
    for (const connection of connections ?? []) {
      for (const consumer of connection.consumers ?? []) {
        if (
          consumer.stream === subscription.stream &&
          consumer.subscription === subscription.name
        ) {
          consumers.push({ connection, consumer });
        }
      }
    }
    if (consumers.length > 0) {
      for (const { connection, consumer } of consumers) {
        const target = place('consumers', consumerIndex++, {
          id: `consumer:${connection.protocol ?? 'weir'}:${connection.id}/${consumer.id}`,
          title: connection.clientName || connection.remote,
          lines: [`credit ${consumer.credit} · ${consumer.unsettled} unsettled`],
        });
        edges.push({
          id: `${node.id}>${target.id}`,
          from: node,
          to: target,
          rate: subscription.deliveredPerSecond / consumers.length,
        });
      }
    } else {
      const target = place('consumers', consumerIndex++, {
        id: `consumers:${node.id}`,
        title:
          subscription.consumers === 0
            ? 'no consumers'
            : `${subscription.consumers} consumer${subscription.consumers === 1 ? '' : 's'}`,
        lines: [`${formatRate(subscription.ackedPerSecond)} acked`],
        empty: subscription.consumers === 0,
      });
      edges.push({
        id: `${node.id}>${target.id}`,
        from: node,
        to: target,
        rate: subscription.deliveredPerSecond,
      });
    }
  });
  const rows = Math.max(1, snapshot.streams.length, snapshot.subscriptions.length, consumerIndex);
  return { nodes, edges, height: 40 + rows * ROW };
}

function edgePath(edge) {
  const x1 = edge.from.x + edge.from.width;
  const y1 = edge.from.y + NODE_HEIGHT / 2;
  const x2 = edge.to.x;
  const y2 = edge.to.y + NODE_HEIGHT / 2;
  const middle = (x1 + x2) / 2;
  return `M${x1},${y1} C${middle},${y1} ${middle},${y2} ${x2},${y2}`;
}

function nodeElement(node) {
  const classes = ['flow-node', `flow-${node.column}`];
  if (node.stall) classes.push('flow-stalled');
  if (node.empty) classes.push('flow-empty');
  const group = svg(
    'g',
    {
      class: classes.join(' '),
      transform: `translate(${node.x},${node.y})`,
      'data-testid': 'flow-node',
      'data-node': node.id,
    },
    svg('rect', { width: node.width, height: NODE_HEIGHT, rx: 8 }),
    svg(
      'text',
      { x: 10, y: 20, class: 'flow-title' },
      node.title.length > 26 ? `${node.title.slice(0, 25)}…` : node.title,
    ),
    ...node.lines.map((line, index) =>
      svg('text', { x: 10, y: 38 + index * 14, class: 'flow-line' }, line),
    ),
  );
  if (node.backlog !== undefined) {
    group.append(
      svg('rect', {
        x: 0,
        y: NODE_HEIGHT + 3,
        width: node.width,
        height: 5,
        rx: 2,
        class: 'flow-backlog-track',
      }),
      svg('rect', {
        x: 0,
        y: NODE_HEIGHT + 3,
        width: Math.max(0, node.width * node.backlog),
        height: 5,
        rx: 2,
        class: 'flow-backlog',
      }),
    );
  }
  if (node.stall) {
    group.append(
      svg(
        'text',
        { x: 0, y: NODE_HEIGHT + 20, class: 'flow-stall' },
        `stalled: ${node.stall.reason}`,
      ),
    );
  }
  if (!node.href) return group;
  const link = svg('a', { href: node.href });
  link.append(group);
  return link;
}

export function mount(container) {
  const drawing = svg('svg', {
    class: 'flow-svg',
    viewBox: `0 0 ${WIDTH} 200`,
    role: 'img',
    'aria-label': 'message flow',
  });
  const legend = h(
    'p',
    { class: 'muted' },
    'Dots move along each edge: more dots, more messages per second. The bar under a subscription is its backlog; red means stalled.',
  );
  container.append(
    h('h1', null, 'Flow'),
    h('section', { class: 'card flow', dataset: { testid: 'flow' } }, legend, drawing),
  );

  /** Per edge: its path element, length, dot elements and their phases (kept across updates). */
  let animated = new Map();
  let frame = null;
  let last = performance.now();

  function update(snapshot) {
    const { nodes, edges, height } = layout(snapshot);
    drawing.setAttribute('viewBox', `0 0 ${WIDTH} ${height}`);
    const edgeLayer = svg('g', { class: 'flow-edges' });
    const dotLayer = svg('g', { class: 'flow-dots' });
    const next = new Map();
    for (const edge of edges) {
      const path = svg('path', {
        d: edgePath(edge),
        class: edge.rate > 0 ? 'flow-edge flow-edge-active' : 'flow-edge',
        'stroke-width': strokeFor(edge.rate),
      });
      edgeLayer.append(path);
      const previous = animated.get(edge.id);
      const count = dotsFor(edge.rate);
      const phases = Array.from(
        { length: count },
        (_, index) => previous?.phases[index] ?? index / count,
      );
      const dots = phases.map(() => svg('circle', { r: 3.5, class: 'flow-dot' }));
      dotLayer.append(...dots);
      next.set(edge.id, { path, length: 0, dots, phases });
    }
    drawing.replaceChildren(edgeLayer, svg('g', null, ...nodes.map(nodeElement)), dotLayer);
    for (const entry of next.values()) entry.length = entry.path.getTotalLength();
    animated = next;
  }

  function tick(now) {
    const seconds = Math.min(0.1, (now - last) / 1000);
    last = now;
    if (!document.hidden) {
      for (const entry of animated.values()) {
        if (entry.length === 0) continue;
        const step = (SPEED_PX_PER_SECOND * seconds) / entry.length;
        entry.dots.forEach((dot, index) => {
          entry.phases[index] = (entry.phases[index] + step) % 1;
          const point = entry.path.getPointAtLength(entry.phases[index] * entry.length);
          dot.setAttribute('cx', point.x.toFixed(1));
          dot.setAttribute('cy', point.y.toFixed(1));
        });
      }
    }
    frame = requestAnimationFrame(tick);
  }
  frame = requestAnimationFrame(tick);

  return {
    update,
    unmount: () => cancelAnimationFrame(frame),
  };
}
