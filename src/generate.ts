// netlab generate: writes lab files of N namespaces (Mininet's --topo, containerlab's generate).
import { dirname, relative, resolve } from 'node:path';
import { stringify } from 'yaml';
import { SCHEMA_PATH } from './paths.js';
import { CliError } from './core/errors.js';

export type Topology = 'single' | 'linear' | 'ring' | 'tree';

export interface GenerateOptions {
  topology: Topology;
  /** single, linear, ring: number of nodes. */
  n: number;
  /** tree: depth and fanout. */
  depth?: number;
  fanout?: number;
  name?: string;
  /** Prefix of node names, so that generated labs can run side by side. */
  prefix?: string;
  /** Where the file will be written (standard output: the current directory's view). */
  output?: string;
}

/**
 * The schema modeline's path, relative to where the file is written (as labs/ has
 * `../schemas/lab.schema.json`): a generated lab stays valid when the tree is moved or shared.
 */
export function schemaRef(output: string | undefined, schema = SCHEMA_PATH): string {
  const from = output && output !== '-' ? dirname(resolve(output)) : resolve('.');
  const rel = relative(from, schema);
  return rel.startsWith('.') ? rel : `./${rel}`;
}

/** A topology that cannot be generated: a usage error (exit 1). */
export class GenerateError extends CliError {}

const v4 = (i: number, base: [number, number]) => `10.${base[0] + (i >> 16)}.${base[1] + ((i >> 8) & 255)}.${i & 255}`;

function header(name: string, description: string): Record<string, unknown> {
  return { name, description, ipv6_link_local: false };
}

/** N hosts on one bridge, addresses 10.0.0.0/16 (the bench's bridge-N). */
function single(o: GenerateOptions, p: string, name: string) {
  if (o.n < 1 || o.n > 65000) throw new GenerateError('single takes 1 to 65000 hosts');
  const nodes: Record<string, null> = {};
  const links = [];
  for (let i = 1; i <= o.n; i++) {
    nodes[`${p}h${i}`] = null;
    links.push({ endpoints: [`${p}h${i}:eth0`, `${p}br:${p}p${i}`], addresses: { [`${p}h${i}`]: `${v4(i, [0, 0])}/16` } });
  }
  // The far ends reach each other: the bridge forwards between any two of its ports.
  const checks = o.n >= 2 ? [{ ping: { from: `${p}h1`, to: v4(o.n, [0, 0]) } }, { ping: { from: `${p}h${o.n}`, to: v4(1, [0, 0]) } }] : [];
  return { ...header(name, `${o.n} namespaces on one bridge`), nodes, bridges: { [`${p}br`]: null }, links, ...(checks.length ? { checks } : {}) };
}

/** N routers in a line; every router routes to every link's subnet (static routes, forwarding). */
function linear(o: GenerateOptions, p: string, name: string, ring: boolean) {
  const max = ring ? 250 : 250;
  if (o.n < 2 || o.n > max) throw new GenerateError(`${ring ? 'ring' : 'linear'} takes 2 to ${max} nodes`);
  const nodes: Record<string, object> = {};
  const links = [];
  const count = ring && o.n > 2 ? o.n : o.n - 1;
  const subnet = (k: number) => `10.${100 + (k >> 8)}.${k & 255}`;
  for (let i = 1; i <= o.n; i++) nodes[`${p}r${i}`] = { sysctls: { 'net.ipv4.ip_forward': 1 }, routes: [] as string[] };
  for (let k = 0; k < count; k++) {
    const a = `${p}r${k + 1}`;
    const b = `${p}r${((k + 1) % o.n) + 1}`;
    links.push({ endpoints: [`${a}:e${k}a`, `${b}:e${k}b`], addresses: { [a]: `${subnet(k)}.1/24`, [b]: `${subnet(k)}.2/24` } });
  }
  if (!ring) {
    // Router i reaches link k (between r(k+1) and r(k+2)) through its left or right neighbour.
    for (let i = 1; i <= o.n; i++) {
      const routes = (nodes[`${p}r${i}`] as { routes: string[] }).routes;
      for (let k = 0; k < count; k++) {
        if (k === i - 1 || k === i - 2) continue; // directly connected
        routes.push(k < i - 2 ? `${subnet(k)}.0/24 via ${subnet(i - 2)}.1` : `${subnet(k)}.0/24 via ${subnet(i - 1)}.2`);
      }
    }
  }
  // A line: the first router reaches the last one through every router in between, and back.
  // A ring has no routes: each router reaches its neighbours.
  const checks = ring
    ? [{ ping: { from: `${p}r1`, to: `${subnet(0)}.2` } }, { ping: { from: `${p}r${o.n}`, to: `${subnet(count - 1)}.1` } }]
    : [{ ping: { from: `${p}r1`, to: `${subnet(count - 1)}.2` } }, { ping: { from: `${p}r${o.n}`, to: `${subnet(0)}.1` } }];
  return { ...header(name, `${o.n} routers in a ${ring ? 'ring' : 'line'}`), nodes, links, checks };
}

/** A tree of bridges (depth, fanout) with hosts under the leaves, one subnet 10.0.0.0/16. */
function tree(o: GenerateOptions, p: string, name: string) {
  const depth = o.depth ?? 2;
  const fanout = o.fanout ?? 2;
  if (depth < 1 || fanout < 1 || fanout ** depth > 4096) throw new GenerateError('tree takes depth >= 1, fanout >= 1, at most 4096 hosts');
  const bridges: Record<string, null> = {};
  const nodes: Record<string, null> = {};
  const links: object[] = [];
  let s = 0;
  let h = 0;
  const build = (level: number): string => {
    const br = `${p}s${++s}`;
    bridges[br] = null;
    for (let c = 0; c < fanout; c++) {
      if (level === depth) {
        const host = `${p}h${++h}`;
        nodes[host] = null;
        links.push({ endpoints: [`${host}:eth0`, `${br}:${p}h${h}p`], addresses: { [host]: `${v4(h, [0, 0])}/16` } });
      } else {
        const child = build(level + 1);
        links.push({ endpoints: [`${br}:${br}c${c}`, `${child}:${child}up`] });
      }
    }
    return br;
  };
  build(1);
  // The first and the last host are the furthest apart: through the root bridge.
  const checks = h >= 2 ? [{ ping: { from: `${p}h1`, to: v4(h, [0, 0]) } }, { ping: { from: `${p}h${h}`, to: v4(1, [0, 0]) } }] : [];
  return { ...header(name, `tree of bridges, depth ${depth}, fanout ${fanout}, ${h} hosts`), nodes, bridges, links, ...(checks.length ? { checks } : {}) };
}

export function generate(o: GenerateOptions): string {
  const name = o.name ?? `${o.topology}-${o.topology === 'tree' ? `${o.depth ?? 2}x${o.fanout ?? 2}` : o.n}`;
  const p = o.prefix ?? '';
  const body = o.topology === 'single' ? single(o, p, name) : o.topology === 'tree' ? tree(o, p, name) : linear(o, p, name, o.topology === 'ring');
  return `# yaml-language-server: $schema=${schemaRef(o.output)}\n# generated by: netlab generate ${o.topology}\n${stringify(body, { lineWidth: 0 })}`;
}
