// load: YAML text -> schema -> normalized Lab, with every problem located in the file.
import { Composer, isScalar, Parser, visit, YAMLParseError, type CST, type Document } from 'yaml';
import {
  HOST,
  IPT_TABLES,
  type BridgeSpec,
  type ChainSpec,
  type EndSpec,
  type Family,
  type HostSpec,
  type IfaceSpec,
  type Impairment,
  type InterfaceSettings,
  type IptTable,
  type Lab,
  type LinkSpec,
  type NodeSpec,
  ROUTE_TYPES,
  type RouteSpec,
  type RuleSpec,
  type SrcPath,
  type SysctlSpec,
  type TablesSpec,
} from '../model/types.js';
import { contains, hasHostBits, isLinkLocal6, networkOf, parseAddress, parseCidr, parsePrefix, type Cidr } from '../model/net.js';
import { LabError, didYouMean, type Problem } from './problems.js';
import { SourceMap } from './source.js';
import { readLabBytes } from './read.js';
import { normalizeChecks, normalizeProcesses, type RawCheck, type RawProcess } from './checks.js';
import { validateSchema } from './schema.js';
import { checkImpairment, type RawImpair } from '../model/impair.js';
import { BUILTIN_CHAINS } from '../model/iptables.js';
import { IPT_TARGETS, canonicalMark, checkIptablesRule, parseRouteString, parseRuleString, parseSysctlKey, sysctlDisplay, tableId, tableProblem, type RawRoute, type RawRule } from './syntax.js';

/** Reads and validates a lab file; throws LabError with every problem found. Reads nothing but the file. */
export function loadLabFile(file: string): Lab {
  return loadLab(readLabBytes(file).toString('utf8'), file);
}

/** Collections nested deeper than this are refused: a lab file needs fewer than ten levels. */
export const MAX_DEPTH = 64;
/** YAML's own guard against alias bombs (the yaml library's default). */
const MAX_ALIAS_COUNT = 100;

export function loadLab(text: string, file: string): Lab {
  const src = new SourceMap(file);
  const tokens = [...new Parser(src.lines.addNewLine).parse(text)];
  // The composer, toJS and our own walkers recurse per level: bound the depth before any of them.
  const deep = tooDeep(tokens);
  if (deep !== undefined)
    throw new LabError([
      { file, ...src.pos(deep), path: '', message: `invalid YAML: collections nested more than ${MAX_DEPTH} levels deep`, hint: 'a lab file needs only a few levels: is this the right file?' },
    ]);
  const doc = compose(tokens, text.length);
  src.doc = doc;
  const problems = yamlProblems(text, doc, src, tokens);
  if (problems.length) throw new LabError(problems);
  let data: unknown;
  try {
    data = doc.toJS({ maxAliasCount: MAX_ALIAS_COUNT }) as unknown;
  } catch (e) {
    // The only throw left in toJS is the alias guard: say where the aliases are.
    let first: number | undefined;
    visit(doc, { Alias: (_, a) => ((first = a.range?.[0]), visit.BREAK) });
    throw new LabError([
      {
        file,
        ...src.pos(first ?? 0),
        path: '',
        message: `invalid YAML: the aliases expand to too much data (${(e as Error).message})`,
        hint: `netlab expands at most ${MAX_ALIAS_COUNT} aliased nodes: write the repeated parts out, or alias less`,
      },
    ]);
  }
  if (data === null || typeof data !== 'object' || Array.isArray(data)) {
    throw new LabError([src.problem([], 'a lab file is a mapping with at least a name', 'start with: name: my-lab')]);
  }
  for (const issue of validateSchema(data)) {
    problems.push(src.problem(issue.path, issue.message, issue.hint, { key: issue.key ?? false }));
  }
  if (problems.length) throw new LabError(sortProblems(problems));
  const n = new Normalizer(src);
  const lab = n.lab(data as RawLab);
  if (n.problems.length) throw new LabError(sortProblems(n.problems));
  return lab;
}

/** Composes the one document of a lab file (parseDocument, from tokens already parsed). */
function compose(tokens: CST.Token[], length: number): Document {
  // Duplicate keys are found by yamlProblems, in one pass (the library's check is quadratic).
  const docs = [...new Composer({ prettyErrors: false, uniqueKeys: false }).compose(tokens, true, length)];
  const doc = docs[0]!;
  if (docs.length > 1) doc.errors.push(new YAMLParseError([docs[1]!.range[0], docs[1]!.range[1]], 'MULTIPLE_DOCS', 'Source contains multiple documents'));
  return doc;
}

/** The offset of the first collection nested deeper than MAX_DEPTH, found without recursion. */
function tooDeep(tokens: CST.Token[]): number | undefined {
  const stack: [unknown, number][] = tokens.map((t) => [t, 0]);
  while (stack.length) {
    const [t, d] = stack.pop()!;
    if (t === null || typeof t !== 'object') continue;
    const tok = t as { type?: string; offset?: number; value?: unknown; items?: { key?: unknown; value?: unknown }[] };
    const depth = tok.type === 'block-map' || tok.type === 'block-seq' || tok.type === 'flow-collection' ? d + 1 : d;
    if (depth > MAX_DEPTH) return tok.offset ?? 0;
    if (tok.value) stack.push([tok.value, depth]);
    for (const it of tok.items ?? []) {
      if (it.key) stack.push([it.key, depth]);
      if (it.value) stack.push([it.value, depth]);
    }
  }
  return undefined;
}

const YAML_HINTS: Partial<Record<string, string>> = {
  TAB_AS_INDENT: 'indent with spaces: YAML does not allow tabs in indentation',
  BAD_INDENT: 'keys of one mapping (and items of one list) must start at the same column',
  MISSING_CHAR: 'close the quoted string',
  BLOCK_AS_IMPLICIT_KEY: "a key is a single-line scalar followed by ': '",
  MULTILINE_IMPLICIT_KEY: "a key is a single-line scalar followed by ': '",
  MULTIPLE_DOCS: 'a lab file holds one YAML document: remove the --- separator',
};

/**
 * YAML syntax errors, located where the user has to look: a duplicate key at the key itself (the
 * parser reports the end of the previous entry when that entry has no value), an unclosed flow
 * collection at its opening bracket (the parser reports where it gave up, often the end of file).
 */
function yamlProblems(text: string, doc: Document, src: SourceMap, tokens: CST.Token[]): Problem[] {
  const file = src.file;
  const problems: Problem[] = [];
  const at = (offset: number) => src.pos(offset);
  const dups: Problem[] = [];
  const unclosed: { offset: number; open: string; close: string }[] = [];
  const quotes: number[] = [];
  // Unclosed flow collections, from the concrete syntax tree: the composed document cannot tell
  // "[a, b" from "[a, [b]" when the last item closes.
  const walk = (t: unknown): void => {
    if (Array.isArray(t)) {
      for (const x of t) walk(x);
      return;
    }
    if (t === null || typeof t !== 'object') return;
    const tok = t as { type?: string; offset?: number; source?: string; start?: { source?: string }; end?: { type?: string }[] };
    if ((tok.type === 'double-quoted-scalar' || tok.type === 'single-quoted-scalar') && typeof tok.offset === 'number' && typeof tok.source === 'string') {
      const q = tok.source[0]!;
      if (tok.source.length < 2 || !tok.source.endsWith(q)) quotes.push(tok.offset);
    }
    if (tok.type === 'flow-collection' && typeof tok.offset === 'number') {
      const open = tok.start?.source === '{' ? '{' : '[';
      const closeType = open === '[' ? 'flow-seq-end' : 'flow-map-end';
      if (!(tok.end ?? []).some((e) => e.type === closeType)) unclosed.push({ offset: tok.offset, open, close: open === '[' ? ']' : '}' });
    }
    for (const v of Object.values(tok)) if (v !== null && typeof v === 'object') walk(v);
  };
  visit(doc, {
    Map(_, map) {
      const seen = new Map<string, number>();
      for (const pair of map.items) {
        if (!isScalar(pair.key) || !pair.key.range) continue;
        const k = String(pair.key.value);
        const first = seen.get(k);
        if (first === undefined) seen.set(k, pair.key.range[0]);
        else
          dups.push({
            file,
            ...at(pair.key.range[0]),
            path: '',
            message: `invalid YAML: duplicate key '${k}'`,
            hint: `'${k}' is already a key of this mapping at line ${at(first).line}; each key may appear once in a mapping`,
          });
      }
    },
  });
  if (!doc.errors.length) return sortProblems(dups);
  for (const tok of tokens) walk(tok);
  for (const err of doc.errors) {
    const msg = err.message.split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, '');
    if (err.code === 'BAD_INDENT' && /^Flow (sequence|map) in block collection/.test(msg)) {
      // The innermost unclosed collection that opens before the place the parser gave up.
      const u = unclosed.filter((c) => c.offset < err.pos[0]).pop();
      if (u) {
        const where = err.pos[0] >= text.trimEnd().length ? 'the end of the file' : `line ${at(err.pos[0]).line}`;
        problems.push({
          file,
          ...at(u.offset),
          path: '',
          message: `invalid YAML: this '${u.open}' is not closed: expected '${u.close}' before ${where}`,
          hint: `close it with '${u.close}'; if it continues on the next lines, indent them more than its key`,
        });
        unclosed.splice(unclosed.indexOf(u), 1);
        continue;
      }
    }
    if (err.code === 'MISSING_CHAR' && /quote/i.test(msg)) {
      const q = quotes.filter((o) => o < err.pos[0]).pop();
      if (q !== undefined) {
        const ch = text[q]!;
        problems.push({ file, ...at(q), path: '', message: `invalid YAML: this ${ch === '"' ? 'double' : 'single'}-quoted string is not closed`, hint: `end it with ${ch}` });
        continue;
      }
    }
    const hint = err.code === 'MISSING_CHAR' && !/quote/i.test(msg) ? undefined : YAML_HINTS[err.code];
    problems.push({ file, ...at(err.pos[0]), path: '', message: `invalid YAML: ${msg}`, ...(hint ? { hint } : {}) });
  }
  // Past the first syntax error the parser's view of the structure is a guess and later errors
  // mostly follow from the first; duplicate keys are independent of each other and all reported.
  const first = sortProblems(problems).slice(0, 1);
  return sortProblems([...first, ...dups]);
}

function sortProblems(ps: Problem[]): Problem[] {
  return [...ps].sort((a, b) => a.line - b.line || a.col - b.col);
}

// Raw shapes as the schema admits them.
type Addrs = string | string[] | undefined;
interface RawIface {
  addresses?: Addrs;
  mtu?: number;
  mac?: string;
  up?: boolean;
}
interface RawEnd extends RawIface {
  node: string;
  name: string;
  impair?: RawImpair;
}
interface RawInterface extends RawIface {
  type: IfaceSpec['type'];
  link?: string;
  id?: number;
  protocol?: '802.1Q' | '802.1ad';
  table?: number | string;
  mode?: IfaceSpec['mode'];
  members?: string[];
}
interface RawChain {
  policy?: 'ACCEPT' | 'DROP';
  rules?: string[];
}
type RawTables = Partial<Record<IptTable, Record<string, string[] | RawChain>>>;
interface RawNode {
  interfaces?: Record<string, RawInterface>;
  routes?: (string | RawRoute)[];
  rules?: (string | RawRule)[];
  sysctls?: Record<string, string | number | boolean>;
  iptables?: RawTables;
  ip6tables?: RawTables;
  processes?: RawProcess[];
}
interface RawLab {
  name: string;
  description?: string;
  ipv6_link_local?: boolean;
  nodes?: Record<string, RawNode | null>;
  bridges?: Record<string, (RawIface & { node?: string }) | null>;
  links?: { endpoints: (string | RawEnd)[]; addresses?: Record<string, Addrs>; impair?: Record<string, RawImpair>; mtu?: number }[];
  host?: { sysctls?: Record<string, string | number | boolean>; iptables?: RawTables; ip6tables?: RawTables };
  checks?: RawCheck[];
}

/**
 * Interface names that collide with /proc/sys/net/ipv{4,6}/conf/{all,default}: the kernel cannot give
 * such an interface a sysctl directory of its own, and netlab's sysctl keys could not name it.
 */
const RESERVED_IFNAMES = ['all', 'default'];
const reservedMessage = (name: string) => `interface name '${name}' is reserved: /proc/sys/net/ipv4/conf/${name} already means "${name === 'all' ? 'every interface' : 'new interfaces'}"`;

/** The fields each interface type takes besides addresses, mtu, mac, up. */
const FIELDS_OF: Record<IfaceSpec['type'], string[]> = { vlan: ['link', 'id', 'protocol'], dummy: [], vrf: ['table', 'members'], bond: ['mode', 'members'] };

const list = (a: Addrs): string[] => (a === undefined ? [] : Array.isArray(a) ? a : [a]);

class Normalizer {
  problems: Problem[] = [];
  /** Interfaces per namespace, for duplicate checks and sysctl/route references. */
  private ifaces = new Map<string, Map<string, SrcPath>>();
  /** Interface addresses per namespace, for gateway reachability. */
  private subnets = new Map<string, Cidr[]>();
  private seenAddr = new Map<string, SrcPath>();
  /** Where each route's gateway is written, for messages about it. */
  private viaPath = new WeakMap<RouteSpec, SrcPath>();

  constructor(private src: SourceMap) {}

  private err(path: SrcPath, message: string, hint?: string, key = false): void {
    this.problems.push(this.src.problem(path, message, hint, { key }));
  }

  lab(raw: RawLab): Lab {
    const nodeNames = Object.keys(raw.nodes ?? {});
    const bridgeNames = Object.keys(raw.bridges ?? {});
    for (const b of bridgeNames)
      if (nodeNames.includes(b)) this.err(['bridges', b], `duplicate name '${b}': a node has it too`, 'nodes and bridges share one namespace of names (endpoints refer to either)', true);
    for (const ns of nodeNames) this.ifaces.set(ns, new Map([['lo', ['nodes', ns]]]));
    this.ifaces.set(HOST, new Map());

    const bridges = new Map<string, BridgeSpec>();
    for (const [name, b] of Object.entries(raw.bridges ?? {})) {
      const path: SrcPath = ['bridges', name];
      let ns = HOST;
      if (b?.node !== undefined) {
        if (!nodeNames.includes(b.node)) this.err([...path, 'node'], `no node named '${b.node}'`, didYouMean(b.node, nodeNames));
        else ns = b.node;
      }
      if (RESERVED_IFNAMES.includes(name)) this.err(path, reservedMessage(name), 'pick another name', true);
      this.claimIface(ns, name, path, true);
      bridges.set(name, { name, ns, path, ...this.iface(b ?? {}, path, ns, b?.addresses, [...path, 'addresses']) });
    }

    const links: LinkSpec[] = [];
    (raw.links ?? []).forEach((l, i) => {
      const path: SrcPath = ['links', i];
      const owners = l.endpoints.map((e) => (typeof e === 'string' ? e.slice(0, e.indexOf(':')) : e.node));
      // With both ends in one node the addresses map is ambiguous (reported below): ignore it.
      const eff = owners.length === 2 && owners[0] === owners[1] ? { ...l, addresses: undefined, impair: undefined } : l;
      const ends = l.endpoints.map((e, j) => this.end(e, [...path, 'endpoints', j], eff, nodeNames, bridges)).filter((e): e is EndSpec => !!e);
      for (const field of ['addresses', 'impair'] as const) {
        for (const key of Object.keys(l[field] ?? {})) {
          if (!owners.includes(key))
            this.err([...path, field, key], `'${key}' is not an end of this link`, [didYouMean(key, owners), `the ends are ${owners.join(' and ')}`].filter(Boolean).join('; '), true);
          else if (owners.length === 2 && owners[0] === owners[1])
            this.err(
              [...path, field, key],
              `both ends of this link are in '${key}': the ${field} map cannot tell them apart`,
              `give each end its ${field} in the long form: {node: ..., name: ..., ${field}: ...}`,
              true,
            );
        }
      }
      if (ends.length === 2) links.push({ ends: [ends[0]!, ends[1]!], path });
    });

    const nodes = new Map<string, NodeSpec>();
    for (const name of nodeNames) nodes.set(name, this.node(name, raw.nodes?.[name] ?? {}));
    this.members(nodes, links, bridges);
    const host = this.host(raw.host ?? {});
    const processes = nodeNames.flatMap((n) => normalizeProcesses(n, raw.nodes?.[n]?.processes ?? [], (p, m, h) => this.err(p, m, h), ['nodes', n, 'processes']));
    const addrs = (node: string) => {
      const out: { iface: string; addr: string; family: Family }[] = [];
      const named = [...links.flatMap((l) => l.ends), ...bridges.values(), ...(nodes.get(node)?.interfaces ?? [])];
      for (const e of named) if (e.ns === node) for (const a of e.addresses) out.push({ iface: e.name, addr: a.cidr.split('/')[0]!, family: a.cidr.includes(':') ? 'ipv6' : 'ipv4' });
      return out;
    };
    const checks = normalizeChecks({ nodes: nodeNames, addresses: addrs, err: (p, m, h) => this.err(p, m, h) }, raw.checks ?? []);

    return {
      checks,
      processes,
      name: raw.name,
      ...(raw.description !== undefined ? { description: raw.description } : {}),
      file: this.src.file,
      nodes,
      bridges,
      links,
      host,
      ipv6LinkLocal: raw.ipv6_link_local ?? true,
    };
  }

  private claimIface(ns: string, name: string, path: SrcPath, key = false): void {
    const m = this.ifaces.get(ns)!;
    const prev = m.get(name);
    if (name === 'lo') {
      this.err(path, `interface name 'lo' is taken: it is the loopback interface of ${ns === HOST ? 'the host' : `node '${ns}'`}`, 'pick another name', key);
    } else if (prev) {
      const where = ns === HOST ? 'the host namespace' : `node '${ns}'`;
      const at = this.src.problem(prev, '');
      this.err(path, `interface name '${name}' is used twice in ${where}`, `first used at line ${at.line}`, key);
    } else m.set(name, path);
  }

  private iface(raw: RawIface, path: SrcPath, ns: string, addrs: Addrs, addrPath: SrcPath, mtu?: number): InterfaceSettings {
    const addresses: InterfaceSettings['addresses'] = [];
    list(addrs).forEach((a, i) => {
      const p = Array.isArray(addrs) ? [...addrPath, i] : addrPath;
      const c = parseCidr(a);
      if (!c) {
        const bare = parseAddress(a);
        const slash = /^([^/]+)\/(.*)$/.exec(a);
        const base = slash ? parseAddress(slash[1]!) : undefined;
        if (bare) this.err(p, `address '${a}' has no prefix length`, `add one, e.g. ${bare.addr}/${bare.family === 'ipv4' ? 24 : 64}`);
        else if (base)
          this.err(
            p,
            `invalid prefix length in '${a}'`,
            `an ${base.family === 'ipv4' ? 'IPv4 prefix length is 0-32' : 'IPv6 prefix length is 0-128'}, e.g. ${base.addr}/${base.family === 'ipv4' ? 24 : 64}`,
          );
        else this.err(p, `invalid address '${a}'`, 'write an address with its prefix length, e.g. 192.168.20.1/24 or 2001:db8::1/64');
        return;
      }
      const dup = this.seenAddr.get(c.addr);
      if (dup) this.err(p, `duplicate address ${c.addr}: already assigned in this lab`, `first assigned at line ${this.src.problem(dup, '').line}`);
      else this.seenAddr.set(c.addr, p);
      if (c.family === 'ipv4' && c.len > 0 && c.len <= 30 && networkOf(c) === c.addr)
        this.err(p, `${c.text} is a network address, not an interface address`, `pick a host address inside it, e.g. ${c.addr.replace(/\d+$/, (d) => String(Number(d) + 1))}/${c.len}`);
      addresses.push({ cidr: c.text, path: p });
      if (!this.subnets.has(ns)) this.subnets.set(ns, []);
      this.subnets.get(ns)!.push(c);
    });
    const out: InterfaceSettings = { addresses, up: raw.up ?? true };
    const m = raw.mtu ?? mtu;
    if (m !== undefined) out.mtu = m;
    if (raw.mac !== undefined) out.mac = raw.mac.toLowerCase();
    void path;
    return out;
  }

  private end(e: string | RawEnd, path: SrcPath, link: NonNullable<RawLab['links']>[number], nodeNames: string[], bridges: Map<string, BridgeSpec>): EndSpec | undefined {
    const raw: RawEnd = typeof e === 'string' ? { node: e.slice(0, e.indexOf(':')), name: e.slice(e.indexOf(':') + 1) } : e;
    const at = raw.node;
    const bridge = bridges.get(at);
    if (!bridge && !nodeNames.includes(at)) {
      const hint = didYouMean(at, [...nodeNames, ...bridges.keys()]) ?? `declare it under nodes: or bridges:`;
      this.err(typeof e === 'string' ? path : [...path, 'node'], `no node or bridge named '${at}'`, hint);
      return undefined;
    }
    const ns = bridge ? bridge.ns : at;
    const namePath = typeof e === 'string' ? path : [...path, 'name'];
    if (!this.ifName(raw.name, namePath)) return undefined;
    this.claimIface(ns, raw.name, path);
    if (link.addresses?.[at] !== undefined && raw.addresses !== undefined)
      this.err([...path, 'addresses'], `addresses for '${at}:${raw.name}' are given twice: here and in the link's addresses map`, 'keep one of them');
    const addrs = link.addresses?.[at] !== undefined ? link.addresses[at] : raw.addresses;
    const addrPath = link.addresses?.[at] !== undefined ? [...path.slice(0, 2), 'addresses', at] : [...path, 'addresses'];
    if (bridge && list(addrs).length) this.err(addrPath, `'${raw.name}' is a port of bridge '${at}' and cannot hold an address`, `put the address on the bridge: bridges: {${at}: {addresses: [...]}}`);
    const settings = this.iface(raw, path, ns, bridge ? undefined : addrs, addrPath, link.mtu);
    if (link.impair?.[at] !== undefined && raw.impair !== undefined)
      this.err([...path, 'impair'], `impairments for '${at}:${raw.name}' are given twice: here and in the link's impair map`, 'keep one of them');
    const rawImpair = link.impair?.[at] ?? raw.impair;
    const impair = rawImpair ? this.impair(rawImpair, link.impair?.[at] !== undefined ? [...path.slice(0, 2), 'impair', at] : [...path, 'impair']) : undefined;
    return { at, ns, name: raw.name, ...(bridge ? { master: bridge.name } : {}), ...settings, ...(impair ? { impair } : {}), path };
  }

  /** An interface name the kernel and netlab's commands accept; reports and returns false if not. */
  private ifName(name: string, path: SrcPath, key = false): boolean {
    if (Buffer.byteLength(name) > 15) {
      this.err(path, `interface name '${name}' is ${Buffer.byteLength(name)} bytes; the kernel allows at most 15`, 'shorten it (IFNAMSIZ is 16 including the terminating NUL)', key);
      return false;
    }
    if (!/^[A-Za-z0-9_][A-Za-z0-9_.-]*$/.test(name)) {
      this.err(path, `invalid interface name '${name}'`, 'use letters, digits, _ . and - (at most 15 bytes, as the kernel allows)', key);
      return false;
    }
    if (RESERVED_IFNAMES.includes(name)) {
      this.err(path, reservedMessage(name), 'pick another name', key);
      return false;
    }
    return true;
  }

  private impair(raw: RawImpair, path: SrcPath): Impairment | undefined {
    const { impair, problems } = checkImpairment(raw);
    for (const p of problems) this.err([...path, p.field], p.message, p.hint);
    return impair;
  }

  private node(name: string, raw: RawNode): NodeSpec {
    const path: SrcPath = ['nodes', name];
    const interfaces = this.interfaces(name, raw.interfaces ?? {}, [...path, 'interfaces']);
    const routes: RouteSpec[] = [];
    (raw.routes ?? []).forEach((r, i) => {
      const rs = this.route(name, r, [...path, 'routes', i]);
      if (rs) routes.push(rs);
    });
    this.checkGateways(name, routes);
    const rules: RuleSpec[] = [];
    (raw.rules ?? []).forEach((r, i) => {
      const rs = this.rule(name, r, [...path, 'rules', i]);
      if (rs) rules.push(rs);
    });
    const sysctls = this.sysctls(raw.sysctls ?? {}, [...path, 'sysctls'], name);
    return {
      name,
      interfaces,
      routes,
      rules,
      sysctls,
      iptables: { ipv4: this.tables(raw.iptables ?? {}, [...path, 'iptables'], false), ipv6: this.tables(raw.ip6tables ?? {}, [...path, 'ip6tables'], false) },
      path,
    };
  }

  /** A node's own interfaces (VLAN, dummy, VRF, bond), ordered so that parents come first. */
  private interfaces(ns: string, raw: Record<string, RawInterface>, path: SrcPath): IfaceSpec[] {
    const out: IfaceSpec[] = [];
    const vlanKeys = new Map<string, string>();
    const vrfTables = new Map<number, string>();
    for (const [name, r] of Object.entries(raw)) {
      const p = [...path, name];
      if (!this.ifName(name, p, true)) continue;
      this.claimIface(ns, name, p, true);
      const spec: IfaceSpec = { name, ns, type: r.type, members: [], path: p, ...this.iface(r, p, ns, r.addresses, [...p, 'addresses']) };
      const misplaced = (['link', 'id', 'protocol', 'table', 'mode', 'members'] as const).filter((k) => r[k] !== undefined && !FIELDS_OF[r.type].includes(k));
      for (const k of misplaced) this.err([...p, k], `'${k}' does not apply to a ${r.type} interface`, `${r.type} interfaces take: ${FIELDS_OF[r.type].join(', ') || 'addresses, mtu, mac, up'}`, true);
      if (r.type === 'vlan') {
        if (r.link === undefined) this.err(p, `vlan '${name}' needs 'link': the interface it tags traffic on`, `e.g. ${name}: {type: vlan, link: eth0, id: 10}`);
        if (r.id === undefined) this.err(p, `vlan '${name}' needs 'id'`, 'a VLAN id from 1 to 4094');
        else if (!Number.isInteger(r.id) || r.id < 1 || r.id > 4094) this.err([...p, 'id'], `VLAN id ${r.id} is out of range`, 'use 1-4094 (0 and 4095 are reserved)');
        if (r.link !== undefined && r.id !== undefined) {
          const k = `${r.link}/${r.id}/${r.protocol ?? '802.1Q'}`;
          if (vlanKeys.has(k)) this.err([...p, 'id'], `VLAN ${r.id} on '${r.link}' is already '${vlanKeys.get(k)}'`, 'the kernel allows one VLAN interface per id on a parent');
          vlanKeys.set(k, name);
          spec.vlan = { link: r.link, id: r.id, protocol: r.protocol ?? '802.1Q' };
        }
      } else if (r.type === 'vrf') {
        const t = tableId(r.table);
        if (r.table === undefined) this.err(p, `vrf '${name}' needs 'table': the routing table of its routes`, `e.g. ${name}: {type: vrf, table: 10}`);
        else if (t === undefined) this.err([...p, 'table'], tableProblem(r.table).message, tableProblem(r.table).hint);
        else if (t === 253 || t === 254 || t === 255) this.err([...p, 'table'], `a VRF needs a table of its own, not the ${r.table} table`, 'use a number such as 10');
        else if (vrfTables.has(t)) this.err([...p, 'table'], `table ${t} is already the table of vrf '${vrfTables.get(t)}'`, 'each VRF has its own table');
        else {
          vrfTables.set(t, name);
          spec.table = t;
        }
      } else if (r.type === 'bond') spec.mode = r.mode ?? 'active-backup';
      if (r.members) spec.members = r.members;
      out.push(spec);
    }
    // VLAN parents must exist in the node; create them before the VLANs on them.
    const known = this.ifaces.get(ns)!;
    const byName = new Map(out.map((i) => [i.name, i]));
    for (const i of out) {
      if (i.vlan && !known.has(i.vlan.link)) {
        this.err([...i.path, 'link'], `node '${ns}' has no interface '${i.vlan.link}'`, didYouMean(i.vlan.link, known.keys()) ?? `its interfaces: ${[...known.keys()].join(', ')}`);
        delete i.vlan;
      }
    }
    const depth = (i: IfaceSpec, seen = new Set<string>()): number => {
      const parent = i.vlan ? byName.get(i.vlan.link) : undefined;
      if (!parent || seen.has(i.name)) return 0;
      seen.add(i.name);
      return 1 + depth(parent, seen);
    };
    return out
      .map((i) => [i, depth(i)] as const)
      .sort((a, b) => a[1] - b[1])
      .map(([i]) => i);
  }

  /** Enslaves the interfaces a VRF or bond lists as members. */
  private members(nodes: Map<string, NodeSpec>, links: LinkSpec[], bridges: Map<string, BridgeSpec>): void {
    for (const node of nodes.values()) {
      const own = new Map<string, { master?: string; addresses: unknown[]; kind: string; setMaster: (m: string) => void }>();
      for (const l of links) for (const e of l.ends) if (e.ns === node.name) own.set(e.name, { ...e, kind: 'veth', setMaster: (m) => (e.master = m) });
      for (const b of bridges.values()) if (b.ns === node.name) own.set(b.name, { ...b, kind: 'bridge', setMaster: (m) => (b.master = m) });
      for (const i of node.interfaces) own.set(i.name, { ...i, kind: i.type, setMaster: (m) => (i.master = m) });
      const taken = new Map<string, string>();
      for (const i of node.interfaces) {
        i.members.forEach((m, k) => {
          const p = [...i.path, 'members', k];
          const t = own.get(m);
          if (!t) return this.err(p, `node '${node.name}' has no interface '${m}'`, didYouMean(m, own.keys()) ?? `its interfaces: ${[...own.keys()].join(', ') || 'none'}`);
          if (m === i.name) return this.err(p, `${i.type} '${i.name}' cannot be a member of itself`);
          const master = taken.get(m) ?? t.master;
          if (master) return this.err(p, `'${m}' is already enslaved to '${master}'`, 'an interface has at most one master (bridge, VRF or bond)');
          if (i.type === 'bond' && t.kind !== 'veth') return this.err(p, `'${m}' is a ${t.kind}: bond members are veth ends here`, 'list the veth ends of links to bond');
          if (i.type === 'bond' && t.addresses.length)
            return this.err(p, `'${m}' is a member of bond '${i.name}' and cannot hold an address`, `put the address on the bond: ${i.name}: {addresses: [...]}`);
          if (i.type === 'vrf' && t.kind === 'vrf') return this.err(p, `'${m}' is a VRF: VRFs do not nest`);
          taken.set(m, i.name);
          t.setMaster(i.name);
        });
      }
    }
  }

  private host(raw: NonNullable<RawLab['host']>): HostSpec {
    return {
      sysctls: this.sysctls(raw.sysctls ?? {}, ['host', 'sysctls'], HOST),
      iptables: { ipv4: this.tables(raw.iptables ?? {}, ['host', 'iptables'], true), ipv6: this.tables(raw.ip6tables ?? {}, ['host', 'ip6tables'], true) },
    };
  }

  private route(ns: string, r: string | RawRoute, path: SrcPath): RouteSpec | undefined {
    const raw = typeof r === 'string' ? parseRouteString(r) : r;
    if (typeof raw === 'string') {
      this.err(path, `invalid route '${String(r)}': ${raw}`, "ip route syntax, e.g. 'default via 192.168.20.1' or '10.0.0.0/8 dev eth0 scope link'");
      return undefined;
    }
    const at = (k: string): SrcPath => (typeof r === 'string' ? path : [...path, k]);
    let family: Family | undefined;
    let via: string | undefined;
    if (raw.via !== undefined) {
      const a = parseAddress(raw.via);
      if (!a) return (this.err(at('via'), `invalid gateway address '${raw.via}'`, 'a gateway is one address, without a prefix length, e.g. via 192.168.20.1'), undefined);
      family = a.family;
      via = a.addr;
    }
    const to = parsePrefix(raw.to!, family);
    if (!to) return (this.err(at('to'), `invalid destination '${raw.to}'`, 'write default, an address, or a prefix such as 10.0.0.0/8'), undefined);
    if (family && to.family !== family) return (this.err(path, `destination ${to.text} and gateway ${via} are of different address families`), undefined);
    if (hasHostBits(to)) return (this.err(at('to'), `destination ${to.text} has host bits set`, `did you mean ${networkOf(to)}/${to.len}?`), undefined);
    const type = (raw.type ?? 'unicast') as RouteSpec['type'];
    if (!(ROUTE_TYPES as readonly string[]).includes(type)) return (this.err(at('type'), `unknown route type '${type}'`, `use one of ${ROUTE_TYPES.join(', ')}`), undefined);
    // Without a table, ip route files a local route in the local table (255), the others in main.
    const table = raw.table === undefined && type === 'local' ? 255 : tableId(raw.table);
    if (table === undefined) {
      const t = tableProblem(raw.table!);
      return (this.err(at('table'), t.message, t.hint), undefined);
    }
    if (raw.metric !== undefined && (!Number.isInteger(raw.metric) || raw.metric < 0 || raw.metric > 0xffffffff))
      return (this.err(at('metric'), `metric ${raw.metric} is out of range`, 'use 0-4294967295'), undefined);
    if (type === 'unicast' && !via && !raw.dev) return (this.err(path, `route to ${to.text} needs 'via' or 'dev'`), undefined);
    if (raw.dev !== undefined && !this.ifaces.get(ns)?.has(raw.dev)) {
      const known = [...(this.ifaces.get(ns)?.keys() ?? [])];
      return (this.err(at('dev'), `node '${ns}' has no interface '${raw.dev}'`, didYouMean(raw.dev, known) ?? `its interfaces: ${known.join(', ')}`), undefined);
    }
    if (raw.scope !== undefined && !['global', 'link', 'host'].includes(raw.scope)) return (this.err(at('scope'), `unknown scope '${raw.scope}'`, 'use global, link or host'), undefined);
    let src: string | undefined;
    if (raw.src !== undefined) {
      const a = parseAddress(raw.src);
      if (!a || a.family !== to.family)
        return (this.err(at('src'), `invalid source address '${raw.src}'`, `an ${to.family === 'ipv4' ? 'IPv4' : 'IPv6'} address of node '${ns}', without a prefix length`), undefined);
      // The kernel refuses a preferred source the namespace does not own (a local route may name its own destination).
      const own = (this.subnets.get(ns) ?? []).some((c) => c.addr === a.addr) || (a.family === 'ipv4' && a.addr.startsWith('127.')) || a.addr === '::1' || (type === 'local' && to.addr === a.addr);
      if (!own) {
        const mine = (this.subnets.get(ns) ?? []).filter((c) => c.family === a.family).map((c) => c.addr);
        return (
          this.err(
            at('src'),
            `source address ${a.addr} is not an address of node '${ns}'`,
            mine.length ? `its ${a.family === 'ipv4' ? 'IPv4' : 'IPv6'} addresses: ${mine.join(', ')}` : `give one of its interfaces the address ${a.addr} first`,
          ),
          undefined
        );
      }
      src = a.addr;
    }
    const spec: RouteSpec = {
      type,
      to: to.text,
      family: to.family,
      ...(via ? { via } : {}),
      ...(raw.dev ? { dev: raw.dev } : {}),
      ...(raw.scope ? { scope: raw.scope as RouteSpec['scope'] } : {}),
      ...(raw.metric !== undefined ? { metric: raw.metric } : {}),
      table,
      ...(src ? { src } : {}),
      ...(raw.onlink ? { onlink: true } : {}),
      path,
    };
    this.viaPath.set(spec, at('via'));
    return spec;
  }

  /** A gateway must be inside one of the node's subnets or reached by a declared on-link route. */
  private checkGateways(ns: string, routes: RouteSpec[]): void {
    const subnets = [...(this.subnets.get(ns) ?? [])];
    for (const r of routes) if (!r.via && r.type === 'unicast' && r.dev) subnets.push(parsePrefix(r.to)!);
    for (const r of routes) {
      if (!r.via || r.onlink) continue;
      if (isLinkLocal6(r.via)) {
        // Every interface has an fe80::/64 of its own: the kernel needs to be told which one.
        if (!r.dev) this.err(this.viaPath.get(r) ?? r.path, `link-local gateway ${r.via} needs 'dev'`, `add the interface it is reached on, e.g. 'default via ${r.via} dev eth0'`);
        continue;
      }
      if (!subnets.some((s) => contains(s, r.via!))) {
        this.err(
          this.viaPath.get(r) ?? r.path,
          `gateway ${r.via} is not reachable from node '${ns}': no interface address or on-link route covers it`,
          `give an interface of '${ns}' an address in the gateway's subnet, add a route '${r.via} dev IFACE scope link' first, or add 'onlink'`,
        );
      }
    }
  }

  private rule(ns: string, r: string | RawRule, path: SrcPath): RuleSpec | undefined {
    const raw = typeof r === 'string' ? parseRuleString(r) : r;
    if (typeof raw === 'string') {
      this.err(path, `invalid rule '${String(r)}': ${raw}`, "ip rule syntax, e.g. 'fwmark 0x1/0x1 pref 100 table 100'");
      return undefined;
    }
    const at = (k: string): SrcPath => (typeof r === 'string' ? path : [...path, k]);
    let family: Family | undefined;
    const pfx = (k: 'from' | 'to'): string | undefined => {
      const v = raw[k];
      if (v === undefined || v === 'all') return undefined;
      const c = parsePrefix(v);
      if (!c) {
        this.err(at(k), `invalid prefix '${v}'`);
        return undefined;
      }
      if (hasHostBits(c)) this.err(at(k), `${c.text} has host bits set`, `did you mean ${networkOf(c)}/${c.len}?`);
      if (family && family !== c.family) this.err(path, 'from and to are of different address families');
      family = c.family;
      return c.text;
    };
    const from = pfx('from');
    const to = pfx('to');
    const table = tableId(raw.table);
    if (table === undefined) {
      const t = tableProblem(raw.table!);
      return (this.err(at('table'), t.message, t.hint), undefined);
    }
    let fwmark: string | undefined;
    if (raw.fwmark !== undefined) {
      fwmark = canonicalMark(raw.fwmark);
      if (!fwmark) return (this.err(at('fwmark'), `invalid fwmark '${String(raw.fwmark)}'`, 'write MARK or MARK/MASK as 32-bit numbers (decimal or 0x hex), e.g. 0x1/0x1'), undefined);
    }
    if (raw.pref !== undefined && (raw.pref < 1 || raw.pref > 32765))
      return (this.err(at('pref'), `pref ${raw.pref} is out of range`, '0, 32766 and 32767 hold the kernel default rules: use 1-32765'), undefined);
    for (const k of ['iif', 'oif'] as const) {
      const v = raw[k];
      if (v !== undefined && !/^[A-Za-z0-9_][A-Za-z0-9_.-]{0,14}$/.test(v)) return (this.err(at(k), `invalid interface name '${v}'`), undefined);
    }
    void ns;
    return {
      family: family ?? 'ipv4',
      ...(from ? { from } : {}),
      ...(to ? { to } : {}),
      ...(fwmark ? { fwmark } : {}),
      ...(raw.iif ? { iif: raw.iif } : {}),
      ...(raw.oif ? { oif: raw.oif } : {}),
      ...(raw.pref !== undefined ? { pref: raw.pref } : {}),
      table,
      path,
    };
  }

  private sysctls(raw: Record<string, string | number | boolean>, path: SrcPath, ns: string): SysctlSpec[] {
    const out: SysctlSpec[] = [];
    const seen = new Map<string, string>();
    for (const [key, v] of Object.entries(raw)) {
      const p = [...path, key];
      const k = parseSysctlKey(key);
      if (typeof k === 'string') {
        this.err(p, `invalid sysctl key '${key}': ${k}`, undefined, true);
        continue;
      }
      if (ns !== HOST && !k.path.startsWith('net/')) {
        this.err(
          p,
          `sysctl '${key}' is not per network namespace: setting it in node '${ns}' would change the whole host`,
          "only net.* keys can be set in a node; host-wide keys go under 'host: sysctls:'",
          true,
        );
        continue;
      }
      if (k.iface !== undefined && !['all', 'default'].includes(k.iface)) {
        const known = this.ifaces.get(ns)!;
        if (!known.has(k.iface)) {
          const where = ns === HOST ? 'the lab has no host interface' : `node '${ns}' has no interface`;
          this.err(
            p,
            `${where} '${k.iface}'`,
            didYouMean(k.iface, known.keys()) ??
              (ns === HOST ? "host sysctls may name only the lab's own bridges and host-side veth ends, or all/default" : `its interfaces: ${[...known.keys()].join(', ')}`),
            true,
          );
          continue;
        }
      }
      // The kernel registers neigh/default only in the initial namespace, and a node never is one.
      if (ns !== HOST && k.iface === 'default' && k.path.split('/')[2] === 'neigh') {
        const leaf = k.path.split('/').pop()!;
        const hint = leaf.startsWith('gc_')
          ? "the neighbour table's gc_* limits are one per kernel: set them under 'host: sysctls:' where netlab runs in the initial namespace"
          : `set it per interface in the node (${sysctlDisplay(k.path.replace('/default/', `/${[...this.ifaces.get(ns)!.keys()].find((i) => i !== 'lo') ?? 'eth0'}/`))})`;
        this.err(p, `sysctl '${key}' exists only in the initial network namespace, never in a node`, hint, true);
        continue;
      }
      const value = typeof v === 'boolean' ? (v ? '1' : '0') : String(v);
      if (/[\r\n\0]/.test(value) || value.trim() === '') {
        this.err(p, 'a sysctl value must be one non-empty line');
        continue;
      }
      if (seen.has(k.path)) {
        this.err(p, `sysctl '${key}' is set twice (also as '${seen.get(k.path)}')`, undefined, true);
        continue;
      }
      seen.set(k.path, key);
      out.push({ key: k.path, value: value.trim().replace(/\s+/g, ' '), path: p });
    }
    return out;
  }

  private tables(raw: RawTables, path: SrcPath, host: boolean): TablesSpec {
    const out: TablesSpec = new Map();
    for (const table of IPT_TABLES) {
      const chains = raw[table];
      if (!chains) continue;
      const builtins = BUILTIN_CHAINS[table]!;
      const specs: ChainSpec[] = [];
      const names = Object.keys(chains);
      for (const [name, c] of Object.entries(chains)) {
        const cp = [...path, table, name];
        const builtin = builtins.includes(name);
        if (!builtin && /^[A-Z]+$/.test(name) && ['PREROUTING', 'INPUT', 'FORWARD', 'OUTPUT', 'POSTROUTING'].includes(name)) {
          this.err(cp, `table ${table} has no built-in chain ${name}`, `its chains: ${builtins.join(', ')}`, true);
          continue;
        }
        if (!builtin && IPT_TARGETS.has(name)) {
          this.err(cp, `'${name}' is a target name and cannot name a chain`, undefined, true);
          continue;
        }
        const rules = Array.isArray(c) ? c : (c.rules ?? []);
        const rulesPath = Array.isArray(c) ? cp : [...cp, 'rules'];
        const policy = Array.isArray(c) ? undefined : c.policy;
        if (policy && !builtin) this.err([...cp, 'policy'], `custom chain ${name} cannot have a policy`, 'only built-in chains have policies; end the chain with a rule instead');
        const spec: ChainSpec = { name, builtin, rules: [], path: cp, ...(policy && builtin ? { policy } : {}) };
        rules.forEach((text, i) => {
          const rp = [...rulesPath, i];
          const chk = checkIptablesRule(text);
          if (typeof chk === 'string') return this.err(rp, `invalid iptables rule: ${chk}`);
          if (chk.target && builtins.includes(chk.target))
            return this.err(rp, `a rule cannot jump to the built-in chain ${chk.target}`, 'jump to a custom chain, or use a target such as ACCEPT, DROP or RETURN');
          if (chk.target && !IPT_TARGETS.has(chk.target) && !names.includes(chk.target)) {
            const custom = names.filter((n) => !builtins.includes(n));
            const dym = didYouMean(chk.target, [...custom, ...IPT_TARGETS]);
            if (host)
              return this.err(
                rp,
                `rule jumps to '${chk.target}', which is not a target`,
                dym ?? 'host rules may only use targets such as ACCEPT, DROP, MASQUERADE: custom chains can be declared in nodes only',
              );
            return this.err(rp, `rule jumps to chain '${chk.target}', which does not exist in table ${table}`, dym ?? `declare it: ${table}: {${chk.target}: [...]}`);
          }
          spec.rules.push({ text, path: rp });
        });
        specs.push(spec);
      }
      out.set(table, specs);
    }
    return out;
  }
}
