// Compiles a Lab into the kernel state it asks for, in the same types the observer returns.
import { qdiscOf } from './impair.js';
import { linkKind } from './linkkinds.js';
import { emptyTablePayload, hashText, hostComment, tablePayload } from './iptables.js';
import {
  HOST,
  markOf,
  tableKey,
  type DesiredState,
  type EndSpec,
  type Family,
  type HostRule,
  type IptTable,
  type Lab,
  type LinkState,
  type NsState,
  type RouteSpec,
  type RouteState,
  type RuleSpec,
  type RuleState,
} from './types.js';

export function emptyNs(): NsState {
  return { links: new Map(), routes: [], rules: [], sysctls: new Map(), iptables: new Map(), ipsets: new Map() };
}

export function endLabel(e: { at: string; name: string }): string {
  return `${e.at}:${e.name}`;
}

export function routeState(r: RouteSpec): RouteState {
  // IPv6 routes have no scope: the kernel reports them all as global.
  const scope = r.family === 'ipv6' ? 'global' : (r.scope ?? (r.type === 'local' ? 'host' : r.type === 'unicast' && !r.via ? 'link' : 'global'));
  return {
    type: r.type,
    to: r.to,
    family: r.family,
    ...(r.via ? { via: r.via } : {}),
    ...(r.dev ? { dev: r.dev } : {}),
    scope,
    metric: r.metric ?? (r.family === 'ipv6' ? 1024 : 0),
    table: r.table,
    ...(r.src ? { src: r.src } : {}),
    ...(r.onlink ? { onlink: true } : {}),
  };
}

export function ruleState(r: RuleSpec): RuleState {
  const { path: _p, ...rest } = r;
  return rest;
}

export function desiredState(lab: Lab): DesiredState {
  const mark = markOf(lab.name);
  const ns = new Map<string, NsState>([[HOST, emptyNs()]]);
  for (const name of lab.nodes.keys()) {
    const s = emptyNs();
    s.links.set('lo', { name: 'lo', kind: 'loopback', up: true, addresses: [], alias: mark, object: `node ${name}` });
    ns.set(name, s);
  }
  const addrGenNone = lab.ipv6LinkLocal ? undefined : true;
  for (const b of lab.bridges.values()) {
    const l: LinkState = {
      name: b.name,
      kind: 'bridge',
      up: b.up,
      addresses: b.addresses.map((a) => a.cidr),
      alias: mark,
      object: `bridge ${b.name}`,
      ...(b.master ? { master: b.master } : {}),
      ...(b.mtu !== undefined ? { mtu: b.mtu } : {}),
      ...(b.mac ? { mac: b.mac } : {}),
      ...(addrGenNone ? { addrGenNone } : {}),
    };
    ns.get(b.ns)!.links.set(b.name, l);
  }
  for (const link of lab.links) {
    const object = `link ${endLabel(link.ends[0])} <-> ${endLabel(link.ends[1])}`;
    link.ends.forEach((e: EndSpec, i) => {
      const other = link.ends[1 - i]!;
      const qdisc = qdiscOf(e.impair);
      ns.get(e.ns)!.links.set(e.name, {
        name: e.name,
        kind: 'veth',
        peer: { ns: other.ns, name: other.name },
        up: e.up,
        addresses: e.addresses.map((a) => a.cidr),
        alias: mark,
        object,
        ...(e.master ? { master: e.master } : {}),
        ...(qdisc ? { qdisc } : {}),
        ...(e.mtu !== undefined ? { mtu: e.mtu } : {}),
        ...(e.mac ? { mac: e.mac } : {}),
        ...(addrGenNone ? { addrGenNone } : {}),
      });
    });
  }
  // A node's own interfaces after the veth ends: a VLAN can only come up after its parent, and
  // the settings are applied in this order.
  for (const node of lab.nodes.values()) {
    for (const i of node.interfaces) {
      ns.get(node.name)!.links.set(i.name, {
        name: i.name,
        kind: i.type,
        up: i.up,
        addresses: i.addresses.map((a) => a.cidr),
        alias: mark,
        object: `${i.type} ${node.name}:${i.name}`,
        ...linkKind(i.type)?.fromSpec?.(i),
        ...(i.master ? { master: i.master } : {}),
        ...(i.mtu !== undefined ? { mtu: i.mtu } : {}),
        ...(i.mac ? { mac: i.mac } : {}),
        ...(addrGenNone ? { addrGenNone } : {}),
      });
    }
  }
  for (const node of lab.nodes.values()) {
    const s = ns.get(node.name)!;
    s.routes = node.routes.map(routeState);
    s.rules = node.rules.map(ruleState);
    for (const sc of node.sysctls) s.sysctls.set(sc.key, sc.value);
    for (const set of node.ipsets) s.ipsets.set(set.name, { name: set.name, type: set.type, family: set.family, members: set.members.map((m) => m.value).sort() });
    for (const family of ['ipv4', 'ipv6'] as Family[]) {
      for (const [table, chains] of node.iptables[family]) {
        const payload = tablePayload(table, chains);
        s.iptables.set(tableKey(family, table), { family, table, payload, hash: hashText(payload), object: `${family === 'ipv4' ? 'iptables' : 'ip6tables'} ${table} in ${node.name}` });
      }
    }
  }
  const hostIptables: HostRule[] = [];
  for (const family of ['ipv4', 'ipv6'] as Family[]) {
    for (const [table, chains] of lab.host.iptables[family]) {
      for (const c of chains) for (const r of c.rules) hostIptables.push({ family, table, chain: c.name, spec: `${r.text} -m comment --comment ${hostComment(lab.name)}` });
    }
  }
  return {
    lab: lab.name,
    namespaces: [...lab.nodes.keys()],
    ns,
    hostSysctls: new Map(lab.host.sysctls.map((s) => [s.key, s.value])),
    hostIptables,
    processes: lab.processes,
  };
}

/** Payload and hash that reset a table a lab no longer declares. */
export function resetTable(family: Family, table: IptTable) {
  const payload = emptyTablePayload(table);
  return { family, table, payload, hash: hashText(payload) };
}
