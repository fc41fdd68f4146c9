// ops/graph: a lab's topology as Mermaid or Graphviz DOT text. Pure: Lab in, text out, the same
// text for the same lab (declaration order throughout), every user-written string escaped for the
// format it lands in.
import { HOST, type BridgeSpec, type EndSpec, type IfaceSpec, type Lab } from '../model/types.js';
import { impairText } from '../model/impair.js';
import { linkKind } from '../model/linkkinds.js';

export const GRAPH_FORMATS = ['mermaid', 'dot', 'svg', 'png', 'pdf'] as const;
export type GraphFormat = (typeof GRAPH_FORMATS)[number];
/** Formats drawn by netlab itself; svg and png are DOT rendered by Graphviz's `dot`. */
export type TextFormat = 'mermaid' | 'dot';

/** The format a file name asks for (`-o lab.svg`), when --format is not given. */
export function formatFromFileName(file: string | undefined): GraphFormat | undefined {
  const ext = /\.([A-Za-z]+)$/.exec(file ?? '')?.[1]?.toLowerCase();
  if (ext === 'mmd' || ext === 'mermaid') return 'mermaid';
  if (ext === 'dot' || ext === 'gv') return 'dot';
  if (ext === 'svg' || ext === 'png' || ext === 'pdf') return ext;
  return undefined;
}

export function graph(lab: Lab, format: TextFormat): string {
  return format === 'dot' ? toDot(lab) : toMermaid(lab);
}

// ---------------------------------------------------------------------------------------------
// The topology, independent of the format.

interface Vertex {
  /** Node or bridge name (they share one set of names in a lab). */
  name: string;
  kind: 'node' | 'bridge';
  /** Lines of the label after the name. */
  details: string[];
  /** For a bridge: the namespace it lives in (HOST or a node). */
  ns?: string;
}

interface Edge {
  from: string;
  to: string;
  /** Interface name and addresses at each end. */
  tail: string[];
  head: string[];
  /** Link-wide facts (mtu). */
  note?: string;
  /** A bridge inside a node: drawn dashed, labelled "in". */
  within?: boolean;
}

interface Topology {
  name: string;
  description?: string;
  nodes: Vertex[];
  /** Bridges in the host's root namespace (drawn inside a "host" group). */
  hostBridges: Vertex[];
  /** Bridges inside nodes. */
  nodeBridges: Vertex[];
  edges: Edge[];
}

const addrs = (x: { addresses: { cidr: string }[] }) => x.addresses.map((a) => a.cidr);

function bridgeVertex(b: BridgeSpec): Vertex {
  return { name: b.name, kind: 'bridge', ns: b.ns, details: [b.ns === HOST ? 'bridge' : `bridge in ${b.ns}`, ...addrs(b)] };
}

function endLines(e: EndSpec, bridge: boolean): string[] {
  return [e.name, ...addrs(e), ...(e.master && !bridge ? [`in ${e.master}`] : []), ...(e.impair ? [impairText(e.impair)] : [])];
}

/** A node's own interfaces (VLAN, dummy, VRF, bond), one line each, under its name. */
function ifaceLine(i: IfaceSpec): string {
  const what = linkKind(i.type)?.graph?.(i) ?? i.type;
  return [`${i.name}: ${what}`, ...(i.members.length ? [`(${i.members.join(', ')})`] : []), ...(i.master ? [`in ${i.master}`] : []), ...addrs(i)].join(' ');
}

export function topology(lab: Lab): Topology {
  const bridges = [...lab.bridges.values()];
  const edges: Edge[] = [];
  for (const b of bridges) if (b.ns !== HOST) edges.push({ from: b.ns, to: b.name, tail: [], head: [], within: true });
  for (const l of lab.links) {
    const [a, b] = l.ends;
    const mtus = [...new Set([a.mtu, b.mtu].filter((m): m is number => m !== undefined))];
    edges.push({ from: a.at, to: b.at, tail: endLines(a, lab.bridges.has(a.at)), head: endLines(b, lab.bridges.has(b.at)), ...(mtus.length ? { note: `mtu ${mtus.join('/')}` } : {}) });
  }
  return {
    name: lab.name,
    ...(lab.description !== undefined ? { description: lab.description } : {}),
    nodes: [...lab.nodes].map(([name, n]) => ({ name, kind: 'node', details: n.interfaces.map(ifaceLine) })),
    hostBridges: bridges.filter((b) => b.ns === HOST).map(bridgeVertex),
    nodeBridges: bridges.filter((b) => b.ns !== HOST).map(bridgeVertex),
    edges,
  };
}

// ---------------------------------------------------------------------------------------------
// Mermaid (flowchart). Ids are generated (n0, b0, ...): names may hold '.' and '-', which Mermaid
// ids do not take. Labels are double-quoted; inside them Mermaid reads entity codes, so '"', '#',
// '<', '>' and '&' are written as codes and line breaks as <br/>.

export function mermaidText(s: string): string {
  return s.replace(/[\r\n\t]+/g, ' ').replace(/[#"<>&`|]/g, (c) => `#${c.codePointAt(0)};`);
}

/** A %% comment holds one line, and no '%%{' (Mermaid looks for %%{init: ...}%% directives anywhere in the text). */
export function mermaidComment(s: string): string {
  return s
    .replace(/[\r\n]+/g, ' ')
    .replace(/%%\{/g, '%% {')
    .trim();
}

export function toMermaid(lab: Lab): string {
  const t = topology(lab);
  const ids = new Map<string, string>();
  t.nodes.forEach((v, i) => ids.set(v.name, `n${i}`));
  [...t.hostBridges, ...t.nodeBridges].forEach((v, i) => ids.set(v.name, `b${i}`));
  const label = (lines: string[]) => `"${lines.map(mermaidText).join('<br/>')}"`;
  const vertex = (v: Vertex) => (v.kind === 'bridge' ? `${ids.get(v.name)}{{${label([v.name, ...v.details])}}}` : `${ids.get(v.name)}[${label([v.name, ...v.details])}]`);
  const out: string[] = ['---', `title: ${JSON.stringify(t.name)}`, '---', 'flowchart LR'];
  if (t.description) out.push(`  %% ${mermaidComment(t.description)}`);
  for (const v of t.nodes) out.push(`  ${vertex(v)}`);
  if (t.hostBridges.length) {
    out.push(`  subgraph hostns[${label(['host (root namespace)'])}]`);
    for (const v of t.hostBridges) out.push(`    ${vertex(v)}`);
    out.push('  end');
  }
  for (const v of t.nodeBridges) out.push(`  ${vertex(v)}`);
  for (const e of t.edges) {
    const from = ids.get(e.from)!;
    const to = ids.get(e.to)!;
    if (e.within) {
      out.push(`  ${from} -.-|${label(['in'])}| ${to}`);
      continue;
    }
    const text = `${e.tail.join(' ')} — ${e.head.join(' ')}${e.note ? ` (${e.note})` : ''}`;
    out.push(`  ${from} ---|${label([text])}| ${to}`);
  }
  out.push('  classDef bridge fill:#eef6ff,stroke:#4a7bb7');
  const bridgeIds = [...t.hostBridges, ...t.nodeBridges].map((v) => ids.get(v.name)!);
  if (bridgeIds.length) out.push(`  class ${bridgeIds.join(',')} bridge`);
  return `${out.join('\n')}\n`;
}

// ---------------------------------------------------------------------------------------------
// Graphviz DOT. Every id and label is a double-quoted string: '"' and '\' are backslash-escaped
// (so a name can never close the string or start an escape such as \N or \l), and line breaks in
// a label are written as \n, Graphviz's centred line break.

export function dotString(s: string): string {
  return `"${s
    .replace(/\\/g, '\\\\')
    .replace(/"/g, '\\"')
    .replace(/\r\n|\r|\n/g, '\\n')}"`;
}

const dotLabel = (lines: string[]) => dotString(lines.join('\n'));

export function toDot(lab: Lab): string {
  const t = topology(lab);
  const vertex = (v: Vertex) =>
    v.kind === 'bridge'
      ? `${dotString(v.name)} [label=${dotLabel([v.name, ...v.details])}, shape=hexagon, style=filled, fillcolor="#eef6ff"];`
      : `${dotString(v.name)} [label=${dotLabel([v.name, ...v.details])}, shape=box, style=rounded];`;
  const title = t.description ? [t.name, t.description] : [t.name];
  const out: string[] = [
    `graph ${dotString(t.name)} {`,
    `  graph [rankdir=LR, ranksep=1.8, nodesep=0.5, labelloc=t, fontname="Helvetica", label=${dotLabel(title)}];`,
    '  node [fontname="Helvetica"];',
    '  edge [fontname="Helvetica", fontsize=10, labelfontsize=9, labeldistance=2.2];',
  ];
  for (const v of t.nodes) out.push(`  ${vertex(v)}`);
  if (t.hostBridges.length) {
    out.push('  subgraph "cluster_host" {', '    label="host (root namespace)";', '    style=dashed;');
    for (const v of t.hostBridges) out.push(`    ${vertex(v)}`);
    out.push('  }');
  }
  for (const v of t.nodeBridges) out.push(`  ${vertex(v)}`);
  for (const e of t.edges) {
    const ends = `${dotString(e.from)} -- ${dotString(e.to)}`;
    if (e.within) {
      out.push(`  ${ends} [style=dashed, label="in"];`);
      continue;
    }
    const attrs = [`taillabel=${dotLabel(e.tail)}`, `headlabel=${dotLabel(e.head)}`];
    if (e.note) attrs.push(`label=${dotString(e.note)}`);
    out.push(`  ${ends} [${attrs.join(', ')}];`);
  }
  out.push('}');
  return `${out.join('\n')}\n`;
}
