// Pure parsers for what the kernel tools print, into the shared state types.
import { isLinkLocal6, parseCidr, parsePrefix } from '../model/net.js';
import { canonicalMark } from '../load/syntax.js';
import { linkKind, type KernelLinkData } from '../model/linkkinds.js';
import { ROUTE_TYPES, type Family, type LinkState, type RouteState, type RuleState } from '../model/types.js';

/** Splits the output of `ip -j -batch -`: one JSON document per command, one per line. */
export function splitJsonDocs(text: string): unknown[][] {
  const docs: unknown[][] = [];
  for (const line of text.split('\n')) {
    const t = line.trim();
    if (!t) continue;
    docs.push(JSON.parse(t) as unknown[]);
  }
  return docs;
}

interface IpLink {
  ifindex?: number;
  ifname: string;
  flags?: string[];
  mtu?: number;
  address?: string;
  ifalias?: string;
  master?: string;
  link_type?: string;
  /** For a VLAN: its parent, when in the same namespace. */
  link?: string | null;
  linkinfo?: { info_kind?: string; info_data?: KernelLinkData };
  addr_info?: { family: string; local: string; prefixlen: number; scope?: string }[];
}

export function tableNumber(t: string | number | undefined): number {
  if (t === undefined || t === 'main') return 254;
  if (t === 'local') return 255;
  if (t === 'default') return 253;
  return Number(t);
}

/** `ip -j -d addr show` -> links with their managed addresses. */
export function parseLinks(docs: unknown[]): Map<string, LinkState> {
  const out = new Map<string, LinkState>();
  for (const l of docs as IpLink[]) {
    const info = l.linkinfo?.info_kind;
    const kind = l.link_type === 'loopback' ? 'loopback' : info && linkKind(info) ? (info as LinkState['kind']) : 'other';
    const data = l.linkinfo?.info_data ?? {};
    const addresses: string[] = [];
    for (const a of l.addr_info ?? []) {
      if (a.family !== 'inet' && a.family !== 'inet6') continue;
      // lo's own addresses, as the kernel prints them, need no parsing (every namespace has them).
      if (kind === 'loopback' && ((a.local === '127.0.0.1' && a.prefixlen === 8) || (a.local === '::1' && a.prefixlen === 128))) continue;
      if (a.family === 'inet6' && isLinkLocal6(a.local)) continue;
      const c = parseCidr(`${a.local}/${a.prefixlen}`);
      if (!c) continue;
      addresses.push(c.text);
    }
    out.set(l.ifname, {
      name: l.ifname,
      kind,
      up: (l.flags ?? []).includes('UP'),
      addresses,
      ...(l.mtu !== undefined ? { mtu: l.mtu } : {}),
      ...(l.address ? { mac: l.address.toLowerCase() } : {}),
      ...(l.ifalias ? { alias: l.ifalias } : {}),
      ...(l.ifindex !== undefined ? { ifindex: l.ifindex } : {}),
      ...(l.master ? { master: l.master } : {}),
      ...linkKind(kind)?.fromKernel?.(data, l.link),
    });
  }
  return out;
}

interface IpRoute {
  type?: string;
  dst: string;
  gateway?: string;
  dev?: string;
  table?: string;
  protocol?: string;
  scope?: string;
  metric?: number;
  prefsrc?: string;
  flags?: string[];
}

const KERNEL_PROTOS = new Set(['kernel', 'ra', 'redirect']);

/** `ip -j route show table all` -> the routes netlab manages (not the kernel's own). */
export function parseRoutes(docs: unknown[]): RouteState[] {
  const out: RouteState[] = [];
  for (const r of docs as IpRoute[]) {
    if (r.protocol && KERNEL_PROTOS.has(r.protocol)) continue;
    const type = (r.type ?? 'unicast') as RouteState['type'];
    if (!(ROUTE_TYPES as readonly string[]).includes(type)) continue;
    const family: Family = r.dst.includes(':') || r.gateway?.includes(':') ? 'ipv6' : 'ipv4';
    const dst = parsePrefix(r.dst, family);
    if (!dst) continue;
    out.push({
      type,
      to: dst.text,
      family: dst.family,
      ...(r.gateway ? { via: r.gateway } : {}),
      ...(r.dev ? { dev: r.dev } : {}),
      scope: (r.scope ?? 'global') as RouteState['scope'],
      metric: r.metric ?? 0,
      table: tableNumber(r.table),
      ...(r.prefsrc ? { src: r.prefsrc } : {}),
      ...(r.flags?.includes('onlink') ? { onlink: true } : {}),
    });
  }
  return out;
}

interface IpRule {
  priority: number;
  src?: string;
  srclen?: number;
  dst?: string;
  dstlen?: number;
  fwmark?: string;
  fwmask?: string;
  iif?: string;
  oif?: string;
  table?: string;
  action?: string;
}

function rulePrefix(addr: string | undefined, len: number | undefined): string | undefined {
  if (!addr || addr === 'all') return undefined;
  const full = addr.includes(':') ? 128 : 32;
  return parsePrefix(`${addr}/${len ?? full}`)?.text;
}

/** `ip -j rule show` -> rules other than the kernel's three defaults. */
export function parseRules(docs: unknown[], family: Family): RuleState[] {
  const out: RuleState[] = [];
  for (const r of docs as IpRule[]) {
    const table = tableNumber(r.table);
    const isDefault = (r.priority === 0 && table === 255) || (r.priority === 32766 && table === 254) || (r.priority === 32767 && table === 253);
    if (isDefault && !r.src?.includes('/') && (r.src === undefined || r.src === 'all') && !r.fwmark) continue;
    if (r.action && r.action !== 'lookup' && !r.table) continue;
    // The kernel's own rule for VRFs ("lookup [l3mdev-table]", pref 1000), made with the first VRF.
    if ('l3mdev' in r) continue;
    const from = rulePrefix(r.src, r.srclen);
    const to = rulePrefix(r.dst, r.dstlen);
    const fwmark = r.fwmark ? canonicalMark(r.fwmask ? `${r.fwmark}/${r.fwmask}` : r.fwmark) : undefined;
    out.push({
      family,
      ...(from ? { from } : {}),
      ...(to ? { to } : {}),
      ...(fwmark ? { fwmark } : {}),
      ...(r.iif ? { iif: r.iif } : {}),
      ...(r.oif ? { oif: r.oif } : {}),
      pref: r.priority,
      table,
    });
  }
  return out;
}

/** `grep -H '' /proc/sys/a /proc/sys/b` -> key (slash path below /proc/sys) -> value. */
export function parseSysctlGrep(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of text.split('\n')) {
    const m = /^\/proc\/sys\/([^:]+):(.*)$/.exec(line);
    if (m) out.set(m[1]!, m[2]!.trim().replace(/\s+/g, ' '));
  }
  return out;
}
