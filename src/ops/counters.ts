// ops/counters: a node's firewall rules with their packet and byte counters, as `netlab counters`
// shows them (pure): iptables-save -c and nft -a list ruleset parsed into chains, ordered as the
// lab file writes them, the difference across a probe, and the lines a trainee reads.
import { columns } from '../core/table.js';
import type { ChainSpec, Family, IptTable, TablesSpec } from '../model/types.js';

/** Where a chain's rules live: iptables (IPv4), ip6tables (IPv6) or nft (a table of its own). */
export type Source = 'iptables' | 'ip6tables' | 'nft';

export interface CountedRule {
  /** Position in the chain, from 1 (as `iptables -L --line-numbers` counts). */
  num: number;
  /** The rule as iptables-save prints it without `-A CHAIN`, or nft's statement without its counter. */
  rule: string;
  packets: number;
  bytes: number;
  /** nft: the rule's handle. */
  handle?: number;
  /** nft: the rule has no counter statement, so it counts nothing. */
  uncounted?: true;
}

export interface CountedChain {
  source: Source;
  /** iptables: filter, nat, ...; nft: FAMILY NAME (inet fw). */
  table: string;
  chain: string;
  /** Built-in (base) chains: the policy, and (iptables) the packets and bytes it decided. */
  policy?: { verdict: string; packets?: number; bytes?: number };
  rules: CountedRule[];
}

/** `iptables-save -c` (or ip6tables-save -c) -> its chains in the order it prints them. */
export function parseSaveCounters(text: string, source: 'iptables' | 'ip6tables'): CountedChain[] {
  const out: CountedChain[] = [];
  let table = '';
  const chains = new Map<string, CountedChain>();
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (!line || line.startsWith('#')) continue;
    if (line.startsWith('*')) {
      table = line.slice(1);
      chains.clear();
      continue;
    }
    if (line === 'COMMIT') continue;
    const decl = /^:(\S+) (\S+) \[(\d+):(\d+)\]$/.exec(line);
    if (decl) {
      const c: CountedChain = { source, table, chain: decl[1]!, rules: [] };
      if (decl[2] !== '-') c.policy = { verdict: decl[2]!, packets: Number(decl[3]), bytes: Number(decl[4]) };
      chains.set(c.chain, c);
      out.push(c);
      continue;
    }
    const rule = /^(?:\[(\d+):(\d+)\] )?-A (\S+)(?: (.*))?$/.exec(line);
    if (!rule) continue;
    const c = chains.get(rule[3]!);
    if (!c) continue;
    c.rules.push({ num: c.rules.length + 1, rule: rule[4] ?? '', packets: Number(rule[1] ?? 0), bytes: Number(rule[2] ?? 0) });
  }
  return out;
}

/** The tables iptables-nft keeps in nft (ip/ip6 filter, nat, ...): shown once, as iptables rules. */
const IPTABLES_NFT = /^(ip|ip6) (filter|nat|mangle|raw|security)$/;

/**
 * `nft -a list ruleset` -> the chains of the tables that are not iptables' own. A rule's counter
 * statement (`counter packets N bytes M`) gives its counts; a rule without one counts nothing.
 */
export function parseNftCounters(text: string): CountedChain[] {
  const out: CountedChain[] = [];
  let table: string | undefined;
  let chain: CountedChain | undefined;
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    const t = /^table (\S+) (\S+) \{/.exec(line);
    if (t) {
      table = `${t[1]} ${t[2]}`;
      continue;
    }
    const c = /^chain (\S+) \{/.exec(line);
    if (c && table !== undefined) {
      chain = { source: 'nft', table, chain: c[1]!, rules: [] };
      if (!IPTABLES_NFT.test(table)) out.push(chain);
      continue;
    }
    if (!chain) continue;
    if (line === '}') {
      chain = undefined;
      continue;
    }
    const policy = /\bhook \S+ .*policy (\S+);/.exec(line);
    if (policy) {
      chain.policy = { verdict: policy[1]!.toUpperCase() };
      continue;
    }
    const handle = /\s*# handle (\d+)$/.exec(line);
    if (!handle) continue;
    const body = line.slice(0, handle.index);
    const counter = /\s*\bcounter packets (\d+) bytes (\d+)/.exec(body);
    const rule = counter ? `${body.slice(0, counter.index)}${body.slice(counter.index + counter[0].length)}`.trim() : body.trim();
    chain.rules.push({
      num: chain.rules.length + 1,
      rule,
      packets: Number(counter?.[1] ?? 0),
      bytes: Number(counter?.[2] ?? 0),
      handle: Number(handle[1]),
      ...(counter ? {} : { uncounted: true as const }),
    });
  }
  return out;
}

/**
 * The chains in the order of the lab file (each table's chains as the node declares them), then the
 * others in the order the kernel's tools print them.
 */
export function inFileOrder(chains: CountedChain[], declared: Record<Family, TablesSpec> | undefined): CountedChain[] {
  const rank = new Map<string, number>();
  for (const [family, source] of [
    ['ipv4', 'iptables'],
    ['ipv6', 'ip6tables'],
  ] as const) {
    for (const [table, cs] of declared?.[family] ?? new Map<IptTable, ChainSpec[]>()) cs.forEach((c, i) => rank.set(`${source} ${table} ${c.name}`, i));
  }
  const group = (c: CountedChain) => `${c.source} ${c.table}`;
  const groups = [...new Set(chains.map(group))];
  return groups.flatMap((g) => {
    const mine = chains.filter((c) => group(c) === g);
    const at = (c: CountedChain) => rank.get(`${g} ${c.chain}`) ?? Number.POSITIVE_INFINITY;
    return mine
      .map((c, i) => [c, i] as const)
      .sort((a, b) => at(a[0]) - at(b[0]) || a[1] - b[1])
      .map(([c]) => c);
  });
}

/**
 * What changed between two reads: per chain, the rules (matched by position and text) and the
 * policy whose counters grew, with the growth. Chains where nothing changed are left out.
 */
export function counterDelta(before: CountedChain[], after: CountedChain[]): CountedChain[] {
  const key = (c: CountedChain) => `${c.source}|${c.table}|${c.chain}`;
  const was = new Map(before.map((c) => [key(c), c]));
  const out: CountedChain[] = [];
  for (const c of after) {
    const b = was.get(key(c));
    const rules: CountedRule[] = [];
    for (const r of c.rules) {
      const old = b?.rules.find((x) => x.num === r.num && x.rule === r.rule);
      const packets = r.packets - (old?.packets ?? 0);
      const bytes = r.bytes - (old?.bytes ?? 0);
      if (packets || bytes) rules.push({ ...r, packets, bytes });
    }
    const d: CountedChain = { ...c, rules };
    delete d.policy;
    if (c.policy?.packets !== undefined && b?.policy?.packets !== undefined) {
      const packets = c.policy.packets - b.policy.packets;
      const bytes = (c.policy.bytes ?? 0) - (b.policy.bytes ?? 0);
      if (packets || bytes) d.policy = { verdict: c.policy.verdict, packets, bytes };
    }
    if (rules.length || d.policy) out.push(d);
  }
  return out;
}

const n = (x: number, delta: boolean) => (delta && x > 0 ? `+${x}` : String(x));

/** The chains as lines: per table a heading, per chain its policy, then its rules numbered with their counters. */
export function formatCounters(chains: CountedChain[], o: { delta?: boolean } = {}): string[] {
  const delta = o.delta ?? false;
  const lines: string[] = [];
  let heading = '';
  for (const c of chains) {
    const h = `${c.source} ${c.table}`;
    if (h !== heading) {
      if (heading) lines.push('');
      lines.push(c.source === 'nft' ? `nft table ${c.table}` : `${c.source} -t ${c.table}`);
      heading = h;
    }
    const counts = c.policy?.packets !== undefined ? `: ${n(c.policy.packets, delta)} packets, ${n(c.policy.bytes ?? 0, delta)} bytes` : '';
    const pol = c.policy ? `  policy ${c.policy.verdict}${counts}` : '';
    lines.push(`  chain ${c.chain}${pol}`);
    if (!c.rules.length) {
      if (!delta) lines.push('    (no rules)');
      continue;
    }
    const rows = [
      ['#', delta ? '+packets' : 'packets', delta ? '+bytes' : 'bytes', 'rule'],
      ...c.rules.map((r) => [String(r.num), r.uncounted ? '-' : n(r.packets, delta), r.uncounted ? '-' : n(r.bytes, delta), r.rule]),
    ];
    for (const l of columns(rows, { align: ['right', 'right', 'right', 'left'] })) lines.push(`    ${l}`);
  }
  return lines;
}
