// Pure parts of `netlab trace`: the nft trace table, the parsing of `nft monitor trace`, the
// ordering of namespaces along the path, and the outcome.
import type { Family } from '../model/types.js';

export const TRACE_TABLE = 'netlab_trace';

export interface TraceSpec {
  to: string;
  family: Family;
  proto: 'icmp' | 'tcp' | 'udp';
  port?: number;
}

/** A table of its own, hooked before raw (-300), that sets nftrace on matching packets. */
export function traceTable(t: TraceSpec, name = TRACE_TABLE): string {
  const fam = t.family === 'ipv4' ? 'ip' : 'ip6';
  const l4 = t.proto === 'icmp' ? `meta l4proto ${t.family === 'ipv4' ? 'icmp' : 'ipv6-icmp'}` : `meta l4proto ${t.proto}${t.port ? ` th dport ${t.port}` : ''}`;
  const match = `${fam} daddr ${t.to} ${l4} meta nftrace set 1`;
  return [`table ${fam} ${name} {`, `  chain pre { type filter hook prerouting priority -350; ${match}; }`, `  chain out { type filter hook output priority -350; ${match}; }`, '}', ''].join('\n');
}

export interface Hop {
  ns: string;
  id: string;
  table: string;
  chain: string;
  /** What happened in the chain: the rules that matched and the verdict that ended it. */
  rules: string[];
  verdict: string;
  iif?: string;
  oif?: string;
}

const HOOKS = ['PREROUTING', 'INPUT', 'FORWARD', 'OUTPUT', 'POSTROUTING'];

/** Removes counters and the empty text of xt matches from an nft rule as the monitor prints it. */
function cleanRule(r: string): string {
  return r
    .replace(/counter packets \d+ bytes \d+/g, '')
    .replace(/\s+/g, ' ')
    .trim();
}

/** `nft monitor trace` lines of one namespace -> chains passed, in order. */
export function parseTrace(ns: string, text: string): Hop[] {
  const hops: Hop[] = [];
  for (const line of text.split('\n')) {
    const m = /^trace id (\S+) (?:ip|ip6|inet) (\S+) (\S+) (.*)$/.exec(line.trim());
    if (!m) continue;
    const [, id, table, chain, rest] = m as unknown as [string, string, string, string, string];
    if (table.startsWith(TRACE_TABLE)) {
      // Netlab's own hook: shows the packet passed a namespace even where it has no iptables rules.
      if (rest.startsWith('packet:') && hops.length === 0) {
        const iif = /\biif "([^"]+)"/.exec(rest)?.[1];
        const oif = /\boif "([^"]+)"/.exec(rest)?.[1];
        hops.push({ ns, id, table: '-', chain: chain === 'out' ? 'OUTPUT' : 'PREROUTING', rules: [], verdict: 'no iptables rules', ...(iif ? { iif } : {}), ...(oif ? { oif } : {}) });
      }
      continue;
    }
    const prev = hops[hops.length - 1];
    if (prev?.table === '-' && hops.length === 1) hops.pop(); // real chains follow: drop the marker
    let hop = hops[hops.length - 1];
    if (!hop || hop.id !== id || hop.table !== table || hop.chain !== chain || hop.verdict) {
      // A jump to a custom chain returns to its caller: that is the same hook, a new hop.
      hop = { ns, id, table, chain, rules: [], verdict: '' };
      hops.push(hop);
    }
    if (rest.startsWith('packet:')) {
      const iif = /\biif "([^"]+)"/.exec(rest)?.[1];
      const oif = /\boif "([^"]+)"/.exec(rest)?.[1];
      if (iif) hop.iif = iif;
      if (oif) hop.oif = oif;
    } else if (rest.startsWith('rule ')) {
      const v = /\(verdict (\w+)(?: ([^)]*))?\)\s*$/.exec(rest);
      const text = cleanRule(rest.slice(5).replace(/\(verdict [^)]*\)\s*$/, ''));
      hop.rules.push(text || '(an xt match nft cannot print, e.g. a comment)');
      if (v && v[1] !== 'continue') hop.verdict = v[2] ? `${v[1]} ${v[2]}` : v[1]!;
      if (v?.[1] === 'jump' || v?.[1] === 'goto') hop.verdict = '';
    } else if (rest.startsWith('policy ')) hop.verdict = `policy ${rest.slice(7).trim()}`;
    else if (rest.startsWith('verdict ')) hop.verdict = rest.slice(8).trim();
  }
  return hops;
}

/** Hops of one packet: a trace id can be reused, and a new packet starts again at an entry hook. */
export function firstPacket(hops: Hop[]): Hop[] {
  let left = false;
  const out: Hop[] = [];
  for (const h of hops) {
    const entry = h.chain === 'PREROUTING' || h.chain === 'OUTPUT';
    if (entry && left) break;
    if (!entry && ['INPUT', 'FORWARD', 'POSTROUTING'].includes(h.chain)) left = true;
    out.push(h);
  }
  return out;
}

export function hookOf(h: Hop, all: Hop[]): string {
  if (HOOKS.includes(h.chain)) return h.chain;
  // A custom chain: the hook of the built-in chain that jumped to it.
  const i = all.indexOf(h);
  for (let k = i - 1; k >= 0; k--) if (all[k]!.ns === h.ns && HOOKS.includes(all[k]!.chain)) return all[k]!.chain;
  return '?';
}

/** Orders namespaces along the path: from the source, each next one adjacent to one already placed. */
export function orderNamespaces(from: string, traced: string[], adjacent: (a: string, b: string) => boolean): string[] {
  const out = traced.includes(from) ? [from] : [];
  const left = traced.filter((n) => n !== from);
  while (left.length) {
    const i = left.findIndex((n) => out.some((o) => adjacent(o, n)));
    out.push(...left.splice(Math.max(i, 0), 1));
  }
  return out;
}

export interface Outcome {
  result: 'delivered' | 'dropped' | 'rejected' | 'left' | 'unseen';
  ns?: string;
  where?: string;
  text: string;
}

export function outcome(hops: Hop[], probeOk: boolean, owner?: string): Outcome {
  const last = hops[hops.length - 1];
  if (!last) return { result: 'unseen', text: 'no namespace of the lab saw the packet (is the address routed into the lab?)' };
  const where = `${last.table}/${last.chain}`;
  const rule = last.rules[last.rules.length - 1];
  if (/drop/.test(last.verdict) || /reject/i.test(rule ?? '')) {
    const rejected = /reject/i.test(rule ?? '');
    return {
      result: rejected ? 'rejected' : 'dropped',
      ns: last.ns,
      where,
      text: `${rejected ? 'rejected' : 'dropped'} at ${where} in ${last.ns}${rule ? ` by rule: ${rule}` : ` (${last.verdict})`}`,
    };
  }
  // Delivered: it reached INPUT, or it entered the namespace that owns the address (one without
  // iptables rules shows only netlab's own PREROUTING hook).
  if (last.chain === 'INPUT' || hops.some((h) => h.ns === last.ns && h.chain === 'INPUT') || (last.ns === owner && last.chain === 'PREROUTING'))
    return { result: 'delivered', ns: last.ns, where, text: `delivered locally in ${last.ns}${probeOk ? ' (the probe was answered)' : ''}` };
  return { result: 'left', ns: last.ns, where, text: `left ${last.ns}${last.oif ? ` through ${last.oif}` : ''} after ${where}; no lab namespace saw it after that` };
}

/** Human-readable path: one line per chain passed, then the routing steps and the outcome. */
export function formatTrace(hops: Hop[], out: Outcome): string[] {
  const lines: string[] = [];
  let prevNs = '';
  for (const h of hops) {
    if (h.ns !== prevNs) {
      lines.push(`${h.ns}${h.iif ? ` (in: ${h.iif})` : ''}`);
      prevNs = h.ns;
    }
    const last = h.rules[h.rules.length - 1];
    const rules = last && !last.startsWith('(') ? ` rule: ${last}` : '';
    lines.push(
      `  ${hookOf(h, hops).padEnd(11)} ${(h.table === '-' ? '-' : `${h.table}/${h.chain}`).padEnd(20)} ${h.verdict || 'continue'}${rules}${h.oif && (h.chain === 'POSTROUTING' || h.table === '-') ? `  -> out ${h.oif}` : ''}`,
    );
  }
  lines.push(`=> ${out.text}`);
  return lines;
}
