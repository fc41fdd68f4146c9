// Typed actions: what a plan is made of, and how it prints (Terraform's + ~ - -/+).
import { nsLabel, type Family, type HostRule, type IpsetState, type IptTable, type LinkState, type ProcessSpec, type QdiscState, type RouteState, type RuleState } from '../model/types.js';
import { impairText } from '../model/impair.js';
import { linkKind } from '../model/linkkinds.js';

/**
 * Phases run in this order; steps within a phase run in parallel. ipsets exist before the firewall
 * rules that name them and go after them; a set re-created (its type changed) is first taken out of
 * the rules that use it (unhook): the kernel destroys no set in use.
 */
export const PHASES = ['stop', 'delete', 'namespaces', 'links', 'configure', 'sysctls', 'unhook', 'ipsets', 'firewall', 'unused-ipsets', 'processes'] as const;
export type Phase = (typeof PHASES)[number];

export interface LinkSet {
  alias?: string;
  addrGenNone?: boolean;
  mtu?: number;
  mac?: string;
  /** null: release from its bridge (VRF, bond). */
  master?: string | null;
  /** Set the link down before enslaving it (a bond takes only members that are down). */
  downFirst?: boolean;
  up?: boolean;
}

interface Base {
  /** The lab object the action serves, for messages ("link ns1:tap1 <-> br1:tap1_peer"). */
  object: string;
  reason: string;
  /** Part of replacing an object (printed -/+). */
  replace?: boolean;
}

export type Action = Base &
  (
    | { kind: 'netns.add'; ns: string }
    | { kind: 'netns.del'; ns: string }
    | { kind: 'link.add'; ns: string; link: LinkState }
    | { kind: 'link.del'; ns: string; name: string }
    | { kind: 'link.set'; ns: string; name: string; set: LinkSet }
    | { kind: 'addr.add' | 'addr.del'; ns: string; dev: string; cidr: string }
    | { kind: 'qdisc.replace'; ns: string; dev: string; qdisc: QdiscState; fresh?: boolean }
    | { kind: 'qdisc.del'; ns: string; dev: string }
    | { kind: 'route.add' | 'route.del' | 'route.replace'; ns: string; route: RouteState }
    | { kind: 'rule.add' | 'rule.del'; ns: string; rule: RuleState }
    | {
        kind: 'sysctl.set';
        ns: string;
        key: string;
        value: string;
        previous?: string;
        /** Host keys the kernel rewrites when this one is written, with their values before: journaled. */
        sides?: Record<string, string>;
        /** Those keys' values before the lab, written right after this one (a restore). */
        restoreSides?: Record<string, string>;
      }
    | { kind: 'iptables.restore'; ns: string; family: Family; table: IptTable; payload: string; hash: string; rules: number }
    /** The table as the kernel has it, without the rules that name `sets` (re-created next). */
    | { kind: 'iptables.unhook'; ns: string; family: Family; table: IptTable; payload: string; sets: string[] }
    | { kind: 'ipset.create'; ns: string; set: IpsetState }
    | { kind: 'ipset.update'; ns: string; name: string; add: string[]; del: string[] }
    /** A set the lab no longer has (after the rules), or the old one of a set re-created (replace, before its create). */
    | { kind: 'ipset.destroy'; ns: string; name: string }
    | { kind: 'hostipt.add' | 'hostipt.del'; ns: string; rule: HostRule; tablesBefore?: string[]; chainsBefore?: string[]; at?: number }
    | { kind: 'process.start'; ns: string; process: ProcessSpec }
    | { kind: 'process.stop'; ns: string; key: string; pid: number }
    | { kind: 'process.adopt'; ns: string; key: string; process: ProcessSpec; pid: number; start: string }
  );

export type ActionKind = Action['kind'];

export function phaseOf(a: Action): Phase {
  switch (a.kind) {
    case 'netns.del':
    case 'link.del':
    case 'addr.del':
    case 'route.del':
    case 'rule.del':
    case 'hostipt.del':
      return a.kind === 'hostipt.del' ? 'firewall' : 'delete';
    case 'netns.add':
      return 'namespaces';
    case 'process.stop':
      return 'stop';
    case 'process.start':
    case 'process.adopt':
      return 'processes';
    case 'link.add':
      // veths and bridges first; VLANs, VRFs, bonds, dummies in the namespace's configure batch,
      // where the interfaces they stack on exist already (src/model/linkkinds.ts).
      return linkKind(a.link.kind)?.phase ?? 'configure';
    case 'sysctl.set':
      return 'sysctls';
    case 'iptables.unhook':
      return 'unhook';
    case 'ipset.create':
    case 'ipset.update':
      return 'ipsets';
    case 'ipset.destroy':
      return a.replace ? 'ipsets' : 'unused-ipsets';
    case 'iptables.restore':
    case 'hostipt.add':
      return 'firewall';
    default:
      return 'configure';
  }
}

export function symbol(a: Action): string {
  if (a.replace) return '-/+';
  if (a.kind.endsWith('.add') || a.kind === 'process.start' || a.kind === 'ipset.create') return '+';
  if (a.kind.endsWith('.del') || a.kind === 'process.stop' || a.kind === 'ipset.destroy') return '-';
  return '~';
}

function describeSet(s: LinkSet): string {
  const parts: string[] = [];
  if (s.mtu !== undefined) parts.push(`mtu ${s.mtu}`);
  if (s.mac !== undefined) parts.push(`address ${s.mac}`);
  if (s.master !== undefined) parts.push(s.master === null ? 'nomaster' : `master ${s.master}`);
  if (s.up !== undefined) parts.push(s.up ? 'up' : 'down');
  if (s.alias !== undefined) parts.push(`alias ${s.alias}`);
  if (s.addrGenNone) parts.push('addrgenmode none');
  return parts.join(' ');
}

export function routeText(r: RouteState): string {
  const parts: string[] = [];
  if (r.type !== 'unicast') parts.push(r.type);
  parts.push(r.to === '0.0.0.0/0' || r.to === '::/0' ? 'default' : r.to.replace(/\/(32|128)$/, ''));
  if (r.via) parts.push('via', r.via);
  if (r.dev) parts.push('dev', r.dev);
  const inferred = r.family === 'ipv6' ? 'global' : r.type === 'local' ? 'host' : r.type === 'unicast' && !r.via ? 'link' : 'global';
  if (r.scope !== inferred) parts.push('scope', r.scope);
  if (r.metric !== (r.family === 'ipv6' ? 1024 : 0)) parts.push('metric', String(r.metric));
  if (r.table !== 254) parts.push('table', String(r.table));
  if (r.src) parts.push('src', r.src);
  if (r.onlink) parts.push('onlink');
  return parts.join(' ');
}

export function ruleText(r: RuleState): string {
  const parts: string[] = [];
  if (r.from) parts.push('from', r.from);
  if (r.to) parts.push('to', r.to);
  if (r.fwmark) parts.push('fwmark', r.fwmark);
  if (r.iif) parts.push('iif', r.iif);
  if (r.oif) parts.push('oif', r.oif);
  if (r.pref !== undefined) parts.push('pref', String(r.pref));
  parts.push('table', String(r.table === 254 ? 'main' : r.table === 255 ? 'local' : r.table === 253 ? 'default' : r.table));
  return parts.join(' ');
}

/** What distinguishes a VLAN, VRF or bond beyond its name: " on eth0 id 10", " table 10". */
export function linkParams(l: LinkState): string {
  return linkKind(l.kind)?.params?.(l) ?? '';
}

/** One line per action: symbol, where, what, and why. */
export function describe(a: Action): string {
  const where = nsLabel(a.ns);
  let what: string;
  switch (a.kind) {
    case 'netns.add':
    case 'netns.del':
      what = `namespace ${a.ns}`;
      break;
    case 'link.add':
      what = a.link.kind === 'veth' ? `veth ${where}:${a.link.name} <-> ${nsLabel(a.link.peer!.ns)}:${a.link.peer!.name}` : `${a.link.kind} ${where}:${a.link.name}${linkParams(a.link)}`;
      break;
    case 'link.del':
      what = `link ${where}:${a.name}`;
      break;
    case 'link.set':
      what = `link ${where}:${a.name} ${describeSet(a.set)}`;
      break;
    case 'addr.add':
    case 'addr.del':
      what = `address ${a.cidr} on ${where}:${a.dev}`;
      break;
    case 'qdisc.replace':
      what = `impairment on ${where}:${a.dev}: ${a.qdisc.kind} ${impairText(a.qdisc.impair)}`;
      break;
    case 'qdisc.del':
      what = `impairment on ${where}:${a.dev}`;
      break;
    case 'route.add':
    case 'route.del':
    case 'route.replace':
      what = `route ${routeText(a.route)} in ${where}`;
      break;
    case 'rule.add':
    case 'rule.del':
      what = `${a.rule.family === 'ipv6' ? 'ipv6 ' : ''}rule ${ruleText(a.rule)} in ${where}`;
      break;
    case 'sysctl.set':
      what = `sysctl ${a.key.replace(/\//g, '.')} = ${a.value} in ${where}${a.previous !== undefined ? ` (was ${a.previous})` : ''}`;
      if (a.restoreSides)
        what += `, then ${Object.entries(a.restoreSides)
          .map(([k, v]) => `${k.replace(/\//g, '.')} = ${v}`)
          .join(', ')} (the kernel resets them)`;
      break;
    case 'iptables.restore':
      what = `${a.family === 'ipv4' ? 'iptables' : 'ip6tables'} table ${a.table} in ${where} (${a.rules} rule${a.rules === 1 ? '' : 's'})`;
      break;
    case 'iptables.unhook':
      what = `${a.family === 'ipv4' ? 'iptables' : 'ip6tables'} table ${a.table} in ${where} without the rules that use ipset ${a.sets.join(', ')}`;
      break;
    case 'ipset.create':
      what = `ipset ${a.set.name} ${a.set.type}${a.set.family === 'ipv6' ? ' family inet6' : ''} in ${where} (${a.set.members.length} member${a.set.members.length === 1 ? '' : 's'})`;
      break;
    case 'ipset.update':
      what = `ipset ${a.name} in ${where}: ${[...a.add.map((m) => `+${m}`), ...a.del.map((m) => `-${m}`)].join(' ')}`;
      break;
    case 'ipset.destroy':
      what = `ipset ${a.name} in ${where}`;
      break;
    case 'hostipt.add':
    case 'hostipt.del':
      what = `${a.rule.family === 'ipv4' ? 'iptables' : 'ip6tables'} -t ${a.rule.table} ${a.rule.chain} ${a.rule.spec} in host`;
      break;
    case 'process.start':
      what = `process ${a.ns}/${a.process.name}: ${a.process.argv.join(' ')}`;
      break;
    case 'process.stop':
      what = `process ${a.key} (pid ${a.pid})`;
      break;
    case 'process.adopt':
      what = `process ${a.key} (pid ${a.pid}): ${a.process.argv.join(' ')}`;
      break;
  }
  return `${symbol(a).padEnd(3)} ${what}  (${a.reason})`;
}

/** "3 changes: 2 to add, 1 to change, 0 to delete, 0 to replace" */
export function summarize(actions: Action[]): string {
  const n = actions.length;
  const c: Record<string, number> = { '+': 0, '~': 0, '-': 0, '-/+': 0 };
  for (const a of actions) c[symbol(a)] = (c[symbol(a)] ?? 0) + 1;
  return n === 0 ? 'no changes: the kernel matches the lab file' : `${n} change${n === 1 ? '' : 's'}: ${c['+']} to add, ${c['~']} to change, ${c['-']} to delete, ${c['-/+']} to replace`;
}
