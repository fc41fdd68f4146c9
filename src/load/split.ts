// A lab across hosts, split into one ordinary lab file per host (pure): a host's part holds its
// nodes (with their routes, firewalls, processes), their bridges, the links among them, and for
// each link to another host a VXLAN interface in place of the veth end (unicast to the peer host's
// underlay address, one VNI per link, MTU = underlay MTU - 50), plus the checks sent from its
// nodes, their targets resolved to addresses. Each part is then applied by netlab on its host like
// any lab (its own journal, lock and ownership proofs there); src/engine/hosts.ts runs them.
import { stringify } from 'yaml';
import type { CheckSpec, Lab, LinkSpec } from '../model/types.js';
import { VXLAN_OVERHEAD } from './hosts.js';
import type { RawCheck, RawInterface, RawLab, RawNode } from './raw.js';

export interface HostPart {
  host: string;
  /** The part as a lab file (YAML). */
  text: string;
  raw: RawLab;
  /** Its VXLAN tunnels, for the plan's summary. */
  tunnels: { node: string; iface: string; vni: number; remote: string }[];
}

export const VXLAN_PORT = 4789;
const VNI_MIN = 4096;
const VNI_SPAN = 16777215 - VNI_MIN + 1;

/** FNV-1a: a VNI that depends on the link's two ends only, so editing other links keeps it. */
function hashVni(key: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) h = Math.imul(h ^ key.charCodeAt(i), 0x01000193) >>> 0;
  return VNI_MIN + (h % VNI_SPAN);
}

/** The links between hosts, each with its VNI (unique in the lab; a collision takes the next free one). */
export function crossLinks(lab: Lab): { link: LinkSpec; index: number; vni: number }[] {
  const hostOf = (ns: string) => lab.nodes.get(ns)?.host;
  const used = new Set<number>();
  const out: { link: LinkSpec; index: number; vni: number }[] = [];
  lab.links.forEach((link, index) => {
    const [a, b] = link.ends;
    if (hostOf(a.ns) === hostOf(b.ns)) return;
    let vni = hashVni([`${a.ns}:${a.name}`, `${b.ns}:${b.name}`].sort().join('|'));
    while (used.has(vni)) vni = vni >= 16777215 ? VNI_MIN : vni + 1;
    used.add(vni);
    out.push({ link, index, vni });
  });
  return out;
}

/** A normalized check back in the lab file's form (a reach matrix as its pings). */
function rawCheck(c: CheckSpec): RawCheck {
  const common = { name: c.label, expect: c.expect, timeout: c.timeoutMs, attempts: c.attempts };
  switch (c.kind) {
    case 'ping':
      return { ping: { ...common, from: c.from, to: c.to, family: c.family, count: c.count, ...(c.source ? { source: c.source } : {}) } };
    case 'tcp':
      return { tcp: { ...common, from: c.from, to: c.to, port: c.port, family: c.family } };
    case 'udp':
      return { udp: { ...common, from: c.from, to: c.to, port: c.port, family: c.family } };
    case 'exec':
      return { exec: { ...common, node: c.from, command: c.command, ...(c.exitCode !== undefined ? { exit_code: c.exitCode } : {}), ...(c.output !== undefined ? { output: c.output } : {}) } };
    case 'trace':
      return {
        trace: {
          ...common,
          from: c.from,
          to: c.to,
          proto: c.proto,
          ...(c.port !== undefined ? { port: c.port } : {}),
          ...(c.passes.length ? { passes: c.passes } : {}),
          ...(c.result ? { result: c.result } : {}),
        },
      };
  }
}

/** One part per host, in the order of lab.hosts; raw is the lab file as parsed (plain YAML data). */
export function splitLab(lab: Lab, raw: RawLab): HostPart[] {
  const hosts = lab.hosts;
  if (!hosts) throw new Error(`lab ${lab.name} has no hosts`);
  const hostOf = (ns: string) => lab.nodes.get(ns)!.host!;
  const cross = crossLinks(lab);
  const crossIdx = new Set(cross.map((c) => c.index));
  return [...hosts.values()].map((h) => {
    const nodes: Record<string, RawNode> = {};
    for (const n of lab.nodes.values()) {
      if (n.host !== h.name) continue;
      const { host: _host, ...rest } = raw.nodes?.[n.name] ?? {};
      nodes[n.name] = { ...rest, ...(rest.interfaces ? { interfaces: { ...rest.interfaces } } : {}) };
    }
    const tunnels: HostPart['tunnels'] = [];
    for (const { link, vni } of cross) {
      link.ends.forEach((e, k) => {
        if (hostOf(e.ns) !== h.name) return;
        const peer = hosts.get(hostOf(link.ends[1 - k]!.ns))!;
        const iface: RawInterface = {
          type: 'vxlan',
          id: vni,
          remote: peer.address,
          local: h.address,
          port: VXLAN_PORT,
          peer: { host: peer.name, node: link.ends[1 - k]!.ns },
          mtu: e.mtu ?? Math.min(h.mtu, peer.mtu) - VXLAN_OVERHEAD,
          ...(e.addresses.length ? { addresses: e.addresses.map((a) => a.cidr) } : {}),
          ...(e.mac ? { mac: e.mac } : {}),
          ...(e.up ? {} : { up: false }),
        };
        const node = nodes[e.ns]!;
        node.interfaces = { ...node.interfaces, [e.name]: iface };
        tunnels.push({ node: e.ns, iface: e.name, vni, remote: peer.address });
      });
    }
    const bridges = Object.fromEntries(Object.entries(raw.bridges ?? {}).filter(([, b]) => b?.node !== undefined && nodes[b.node] !== undefined));
    const links = (raw.links ?? []).filter((_l, i) => !crossIdx.has(i) && lab.links[i]!.ends.every((e) => hostOf(e.ns) === h.name));
    const checks = lab.checks.filter((c) => hostOf(c.from) === h.name).map(rawCheck);
    const part: RawLab = {
      name: lab.name,
      description: `${lab.description ? `${lab.description}: ` : ''}host ${h.name}'s part`,
      ...(raw.ipv6_link_local !== undefined ? { ipv6_link_local: raw.ipv6_link_local } : {}),
      nodes,
      ...(Object.keys(bridges).length ? { bridges } : {}),
      ...(links.length ? { links } : {}),
      ...(checks.length ? { checks } : {}),
    };
    const text = `# host ${h.name}'s part of lab ${lab.name} (${lab.file}), made by netlab: edit that file instead\n${stringify(part)}`;
    return { host: h.name, text, raw: part, tunnels };
  });
}
