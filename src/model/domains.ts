// Broadcast domains: the sets of interfaces joined at layer 2 (a veth pair; a bridge with its ports
// and everything on them; a bond with its members; a VLAN id on a domain). An address may repeat in
// a lab, but not within one domain, nor within one namespace and VRF (save the CNI ptp layout: the
// same /32 gateway on several veth ends). A node's address means that node only where it is not
// ambiguous from where it is used. Pure.
import { parseCidr } from './net.js';
import type { Family, IfaceType, Lab, SrcPath } from './types.js';

/** One address on one interface. */
export interface Site {
  ns: string;
  iface: string;
  kind: 'veth' | 'bridge' | IfaceType;
  addr: string;
  family: Family;
  len: number;
  path: SrcPath;
  /** The broadcast domain of the interface (an opaque id; `label` says it in words). */
  domain: string;
  /** The VRF the address is in ('' for the main table). */
  vrf: string;
}

export interface Domains {
  /** Every address of the lab, in declaration order (link ends, bridges, node interfaces). */
  sites: Site[];
  /** The domain of an interface (ns, name); undefined for one the lab does not make. */
  of(ns: string, iface: string): string | undefined;
  /** The addresses of a namespace, and the places of an address, in declaration order. */
  inNs(ns: string): Site[];
  withAddr(addr: string): Site[];
  /** The domains a namespace has an interface on. */
  domainsOf(ns: string): Set<string>;
  /** A domain in words: "bridge br1", "link ns1:eth0 - ns2:eth0", "VLAN 10 on ...", "r1:dum0". */
  label(domain: string): string;
}

/** Where an address is used twice where it must be once. */
export interface AddressClash {
  site: Site;
  /** The first use. */
  first: Site;
  /** 'domain': twice in one broadcast domain; 'namespace': on two interfaces of one namespace and VRF. */
  where: 'domain' | 'namespace';
}

const key = (ns: string, name: string) => `${ns}:${name}`;
const where = (ns: string, name: string) => `${ns || 'host'}:${name}`;

export function domains(lab: Pick<Lab, 'links' | 'bridges' | 'nodes'>): Domains {
  const parent = new Map<string, string>();
  const find = (k: string): string => {
    let r = k;
    while (parent.get(r) !== r) r = parent.get(r)!;
    parent.set(k, r);
    return r;
  };
  const union = (a: string, b: string) => {
    const ra = find(a);
    const rb = find(b);
    if (ra !== rb) parent.set(rb, ra);
    return ra !== rb;
  };
  type Iface = { ns: string; name: string; kind: Site['kind']; master?: string; addresses: { cidr: string; path: SrcPath }[] };
  const ifaces: Iface[] = [];
  const add = (i: Iface) => {
    ifaces.push(i);
    parent.set(key(i.ns, i.name), key(i.ns, i.name));
  };
  for (const l of lab.links) for (const e of l.ends) add({ ns: e.ns, name: e.name, kind: 'veth', ...(e.master ? { master: e.master } : {}), addresses: e.addresses });
  for (const b of lab.bridges.values()) add({ ns: b.ns, name: b.name, kind: 'bridge', ...(b.master ? { master: b.master } : {}), addresses: b.addresses });
  for (const n of lab.nodes.values()) for (const i of n.interfaces) add({ ns: i.ns, name: i.name, kind: i.type, ...(i.master ? { master: i.master } : {}), addresses: i.addresses });
  const labels = new Map<string, string>();

  for (const l of lab.links) {
    const [x, y] = l.ends;
    union(key(x.ns, x.name), key(y.ns, y.name));
    labels.set(key(x.ns, x.name), `link ${where(x.ns, x.name)} - ${where(y.ns, y.name)}`);
  }
  for (const b of lab.bridges.values()) labels.set(key(b.ns, b.name), `bridge ${b.name}`);
  for (const l of lab.links) for (const e of l.ends) if (lab.bridges.has(e.at)) union(key(e.ns, e.name), key(e.ns, e.at));
  for (const n of lab.nodes.values()) for (const i of n.interfaces) if (i.type === 'bond') for (const m of i.members) if (parent.has(key(n.name, m))) union(key(n.name, i.name), key(n.name, m));
  // A VLAN id on a domain is a domain of its own, shared by the same id on every interface of that
  // domain. Stacked VLANs depend on their parents' domains: repeat until nothing joins.
  const vlans = [...lab.nodes.values()].flatMap((n) => n.interfaces.filter((i) => i.vlan && parent.has(key(n.name, i.vlan.link))));
  for (let changed = true; changed; ) {
    changed = false;
    const seen = new Map<string, string>();
    for (const v of vlans) {
      const k = `${find(key(v.ns, v.vlan!.link))}|${v.vlan!.protocol}|${v.vlan!.id}`;
      const other = seen.get(k);
      if (other === undefined) seen.set(k, key(v.ns, v.name));
      else if (union(other, key(v.ns, v.name))) changed = true;
    }
  }
  const label = (d: string): string => {
    const members = ifaces.filter((i) => find(key(i.ns, i.name)) === d);
    const bridge = members.find((i) => i.kind === 'bridge');
    if (bridge) return labels.get(key(bridge.ns, bridge.name))!;
    const vlan = vlans.find((v) => find(key(v.ns, v.name)) === d);
    if (vlan) return `VLAN ${vlan.vlan!.id} on ${label(find(key(vlan.ns, vlan.vlan!.link)))}`;
    const veth = members.find((i) => labels.has(key(i.ns, i.name)));
    if (veth && members.every((i) => i.kind === 'veth')) return labels.get(key(veth.ns, veth.name))!;
    const first = members.find((i) => i.kind !== 'veth') ?? members[0];
    return first ? where(first.ns, first.name) : d;
  };
  const vrfs = new Set(ifaces.filter((i) => i.kind === 'vrf').map((i) => key(i.ns, i.name)));
  const sites: Site[] = [];
  for (const i of ifaces) {
    const vrf = i.kind === 'vrf' ? i.name : i.master && vrfs.has(key(i.ns, i.master)) ? i.master : '';
    for (const a of i.addresses) {
      const c = parseCidr(a.cidr);
      if (c) sites.push({ ns: i.ns, iface: i.name, kind: i.kind, addr: c.addr, family: c.family, len: c.len, path: a.path, domain: find(key(i.ns, i.name)), vrf });
    }
  }
  const index = <K>(k: (s: Site) => K) => {
    const m = new Map<K, Site[]>();
    for (const x of sites) {
      const list = m.get(k(x));
      if (list) list.push(x);
      else m.set(k(x), [x]);
    }
    return m;
  };
  const byNs = index((x) => x.ns);
  const byAddr = index((x) => x.addr);
  const nsDomains = new Map<string, Set<string>>();
  for (const i of ifaces) nsDomains.set(i.ns, (nsDomains.get(i.ns) ?? new Set()).add(find(key(i.ns, i.name))));
  return {
    sites,
    inNs: (ns) => byNs.get(ns) ?? [],
    withAddr: (addr) => byAddr.get(addr) ?? [],
    of: (ns, name) => (parent.has(key(ns, name)) ? find(key(ns, name)) : undefined),
    domainsOf: (ns) => nsDomains.get(ns) ?? new Set(),
    label,
  };
}

const hostPrefix = (s: Site) => s.len === (s.family === 'ipv4' ? 32 : 128);

/**
 * Addresses used twice where they must be unique: within one broadcast domain, and within one
 * namespace and VRF. Several veth ends of one namespace may share a host address (/32, /128): the
 * CNI ptp plugin gives every host-side veth the pods' gateway so.
 */
export function addressClashes(d: Domains): AddressClash[] {
  const out: AddressClash[] = [];
  const byDomain = new Map<string, Site>();
  const byScope = new Map<string, Site[]>();
  for (const s of d.sites) {
    const dk = `${s.domain}|${s.addr}`;
    const first = byDomain.get(dk);
    if (first) {
      out.push({ site: s, first, where: 'domain' });
      continue;
    }
    byDomain.set(dk, s);
    const sk = `${s.ns}|${s.vrf}|${s.addr}`;
    const same = byScope.get(sk) ?? [];
    const ptp = (x: Site) => x.kind === 'veth' && hostPrefix(x);
    if (same.length && !(ptp(s) && same.every(ptp))) out.push({ site: s, first: same[0]!, where: 'namespace' });
    byScope.set(sk, [...same, s]);
  }
  return out;
}

/**
 * The node an address means when used from node `from`: `from` itself if it holds the address;
 * else the one node that holds it; else the one holder on a broadcast domain `from` is on.
 * undefined when no node holds it, or it is ambiguous from there.
 */
export function holderFrom(d: Domains, from: string, addr: string): string | undefined {
  const sites = d.withAddr(addr);
  if (sites.some((s) => s.ns === from)) return from;
  const holders = new Set(sites.map((s) => s.ns));
  if (holders.size <= 1) return [...holders][0];
  const mine = d.domainsOf(from);
  const near = new Set(sites.filter((s) => mine.has(s.domain)).map((s) => s.ns));
  return near.size === 1 ? [...near][0] : undefined;
}
