import * as dagre from '@dagrejs/dagre';

/** A service on the graph: how it stands, and why when it failed. */
export interface GraphNode {
  name: string;
  /** running, healthy, starting, completed, failed, not started, ... */
  state: string;
  failed: boolean;
  /** The cause of a failure, or what kept it back. */
  reason?: string;
  wave: number;
}

export interface GraphEdge {
  /** The service that waits... */
  from: string;
  /** ...for this one. */
  to: string;
  condition: string;
}

const shortCondition = (c: string) => c.replace(/^service_/, '');

/** The graph as text: its waves in order, each service with its state and what it waits for; failures marked (red on a terminal). */
export function graphText(nodes: GraphNode[], edges: GraphEdge[], color: boolean): string {
  const width = Math.max(0, ...nodes.map((n) => n.name.length));
  const waves = new Map<number, GraphNode[]>();
  for (const n of nodes) waves.set(n.wave, [...(waves.get(n.wave) ?? []), n]);
  let out = '';
  for (const w of [...waves.keys()].sort((a, b) => a - b)) {
    out += `wave ${w + 1}\n`;
    for (const n of waves.get(w)!.sort((a, b) => a.name.localeCompare(b.name))) {
      const needs = edges.filter((e) => e.from === n.name).map((e) => `${e.to}${e.condition === 'service_started' ? '' : ` (${shortCondition(e.condition)})`}`);
      let line = `  ${n.failed ? '✘' : '●'} ${n.name.padEnd(width)}  ${n.state}${n.reason ? `: ${n.reason}` : ''}${needs.length ? `  ← ${needs.join(', ')}` : ''}`;
      if (color && n.failed) line = `\x1b[31m${line}\x1b[0m`;
      out += `${line}\n`;
    }
  }
  return out;
}

const quote = (s: string) => `"${s.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')}"`;

const FILL: Record<string, string> = { failed: '#ffcdd2', ok: '#c8e6c9', waiting: '#fff9c4', none: '#eeeeee' };
const STROKE: Record<string, string> = { failed: '#c62828', ok: '#2e7d32', waiting: '#f9a825', none: '#9e9e9e' };

function tone(n: GraphNode): 'failed' | 'ok' | 'waiting' | 'none' {
  if (n.failed) return 'failed';
  if (['running', 'healthy', 'completed'].includes(n.state)) return 'ok';
  if (n.state === 'starting' || n.state === 'restarting') return 'waiting';
  return 'none';
}

/** Graphviz's dot: edges from a service to what it waits for, labelled with the condition; failed services red with their reason. */
export function graphDot(project: string, nodes: GraphNode[], edges: GraphEdge[]): string {
  const lines = [`digraph ${quote(project)} {`, '  rankdir=LR;', '  node [shape=box, style="rounded,filled", fontname="sans-serif"];'];
  for (const n of nodes) {
    const t = tone(n);
    const label = `${n.name}\n${n.state}${n.reason ? `\n${n.reason.slice(0, 60)}` : ''}`;
    lines.push(`  ${quote(n.name)} [label=${quote(label)}, fillcolor=${quote(FILL[t])}, color=${quote(STROKE[t])}${n.reason ? `, tooltip=${quote(n.reason)}` : ''}];`);
  }
  for (const e of edges) lines.push(`  ${quote(e.from)} -> ${quote(e.to)}${e.condition === 'service_started' ? '' : ` [label=${quote(shortCondition(e.condition))}]`};`);
  lines.push('}');
  return lines.join('\n') + '\n';
}

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

/**
 * A standalone SVG of the graph, laid out by dagre (what is needed on the
 * left, what needs it to the right): each service a box coloured by its
 * state, failed ones red with their reason (whole in the box's tooltip).
 */
export function graphSvg(project: string, nodes: GraphNode[], edges: GraphEdge[]): string {
  const g = new dagre.graphlib.Graph();
  g.setGraph({ rankdir: 'RL', nodesep: 24, ranksep: 60, marginx: 16, marginy: 16 });
  g.setDefaultEdgeLabel(() => ({}));
  const lineH = 16;
  for (const n of nodes) {
    const lines = [n.name, n.state, ...(n.reason ? [n.reason.length > 40 ? `${n.reason.slice(0, 39)}…` : n.reason] : [])];
    g.setNode(n.name, { width: Math.max(...lines.map((l) => l.length)) * 7.2 + 24, height: lines.length * lineH + 16 });
  }
  for (const e of edges) g.setEdge(e.from, e.to, { label: e.condition === 'service_started' ? '' : shortCondition(e.condition), width: 60, height: 14 });
  dagre.layout(g);
  const { width = 0, height = 0 } = g.graph();
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${Math.ceil(width)}" height="${Math.ceil(height)}" viewBox="0 0 ${Math.ceil(width)} ${Math.ceil(height)}" font-family="sans-serif" font-size="12">`,
    `<title>${esc(project)}</title>`,
    '<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="8" markerHeight="8" orient="auto-start-reverse"><path d="M 0 0 L 10 5 L 0 10 z" fill="#555"/></marker></defs>',
  ];
  for (const e of g.edges()) {
    const edge = g.edge(e) as { points: { x: number; y: number }[]; label?: string; x?: number; y?: number };
    parts.push(`<path d="M ${edge.points.map((p) => `${p.x.toFixed(1)} ${p.y.toFixed(1)}`).join(' L ')}" fill="none" stroke="#555" marker-end="url(#arrow)"/>`);
    if (edge.label) parts.push(`<text x="${edge.x!.toFixed(1)}" y="${edge.y!.toFixed(1)}" text-anchor="middle" fill="#555" font-size="10">${esc(edge.label)}</text>`);
  }
  for (const n of nodes) {
    const box = g.node(n.name) as { x: number; y: number; width: number; height: number };
    const t = tone(n);
    const x = box.x - box.width / 2;
    const y = box.y - box.height / 2;
    const lines = [n.name, n.state, ...(n.reason ? [n.reason.length > 40 ? `${n.reason.slice(0, 39)}…` : n.reason] : [])];
    parts.push(`<g class="service ${t}" data-service="${esc(n.name)}"><title>${esc(`${n.name}: ${n.state}${n.reason ? ` — ${n.reason}` : ''}`)}</title>`);
    parts.push(`<rect x="${x.toFixed(1)}" y="${y.toFixed(1)}" width="${box.width.toFixed(1)}" height="${box.height.toFixed(1)}" rx="6" fill="${FILL[t]}" stroke="${STROKE[t]}" stroke-width="${t === 'failed' ? 2 : 1}"/>`);
    lines.forEach((l, i) => parts.push(`<text x="${box.x.toFixed(1)}" y="${(y + 20 + i * lineH).toFixed(1)}" text-anchor="middle"${i === 0 ? ' font-weight="bold"' : ''}${i === 2 ? ` fill="${STROKE[t]}"` : ''}>${esc(l)}</text>`));
    parts.push('</g>');
  }
  parts.push('</svg>');
  return parts.join('\n') + '\n';
}
