// The hosts section: the machines a lab spans, each node's host, and what a lab across hosts
// cannot hold (yet): objects in the host namespace, which would need a host of their own.
import { parseAddress } from '../model/net.js';
import { HOST, type LabHost, type LinkSpec, type NodeSpec, type BridgeSpec, type SrcPath } from '../model/types.js';
import { didYouMean } from './problems.js';
import type { LabContext } from './context.js';
import type { RawLab, RawLabHost } from './raw.js';

/** VXLAN over IPv4: outer IPv4 (20) + UDP (8) + VXLAN (8) + inner Ethernet (14). */
export const VXLAN_OVERHEAD = 50;

/** One host from the lab file or an inventory: how it is reached, checked (one way to reach it). */
export function labHost(name: string, r: RawLabHost, path: SrcPath, err: (p: SrcPath, m: string, h?: string) => void): LabHost | undefined {
  if (parseAddress(r.address)?.family !== 'ipv4') {
    err([...path, 'address'], `'${r.address}' is not an IPv4 address`, "the host's underlay address, without a prefix length: 192.168.56.11");
    return undefined;
  }
  const ways = (['ssh', 'local', 'exec'] as const).filter((k) => r[k] !== undefined);
  if (ways.length !== 1) {
    err(
      path,
      ways.length ? `host '${name}' gives ${ways.join(' and ')}: one way to reach it` : `host '${name}' needs a way to reach it`,
      'ssh: [USER@]HOST[:PORT], local: true (this machine), or exec: [ARGV...]',
    );
    return undefined;
  }
  const reach = r.ssh !== undefined ? { ssh: r.ssh } : r.exec !== undefined ? { exec: r.exec } : { local: true as const };
  return { name, address: r.address, mtu: r.mtu ?? 1500, reach, ...(r.sudo ? { sudo: true } : {}), path };
}

/** The hosts of a lab (the file's, over those of an inventory), and each node's host; undefined for a lab on one host. */
export function normalizeHosts(
  ctx: LabContext,
  raw: RawLab,
  nodes: Map<string, NodeSpec>,
  bridges: Map<string, BridgeSpec>,
  links: LinkSpec[],
  inventory?: Map<string, LabHost>,
): Map<string, LabHost> | undefined {
  const hosts = new Map(inventory ?? []);
  for (const [name, r] of Object.entries(raw.hosts ?? {})) {
    const h = labHost(name, r, ['hosts', name], (p, m, hint) => ctx.err(p, m, hint));
    if (h) hosts.set(name, h);
  }
  const placed = [...nodes.values()].filter((n) => raw.nodes?.[n.name]?.host !== undefined);
  if (!raw.hosts && !inventory && !placed.length) return undefined;
  if (!hosts.size && !raw.hosts) {
    for (const n of placed) ctx.err([...n.path, 'host'], `node '${n.name}' names host '${raw.nodes?.[n.name]?.host}' but the lab has no hosts`, "add a 'hosts' section or give --inventory FILE");
    return undefined;
  }
  // An inventory's host is located in the inventory: point at the lab's hosts section instead.
  const at = (h: LabHost): SrcPath => (raw.hosts?.[h.name] ? h.path : ['hosts']);
  const local = [...hosts.values()].filter((h) => 'local' in h.reach);
  if (local.length > 1) ctx.err(at(local[1]!), `hosts '${local[0]!.name}' and '${local[1]!.name}' are both local`, 'one host is this machine; reach the others with ssh');
  const seen = new Map<string, string>();
  for (const h of hosts.values()) {
    const other = seen.get(h.address);
    if (other) ctx.err(raw.hosts?.[h.name] ? [...h.path, 'address'] : ['hosts'], `hosts '${other}' and '${h.name}' have the same address ${h.address}`, 'each host has its own underlay address');
    seen.set(h.address, h.name);
  }
  for (const n of nodes.values()) {
    const h = raw.nodes?.[n.name]?.host;
    if (h === undefined) ctx.err(n.path, `node '${n.name}' needs 'host': the lab spans hosts`, `one of: ${[...hosts.keys()].join(', ')}`, true);
    else if (!hosts.has(h)) ctx.err([...n.path, 'host'], `no host '${h}'`, didYouMean(h, hosts.keys()) ?? `hosts: ${[...hosts.keys()].join(', ')}`);
    else n.host = h;
  }
  for (const b of bridges.values()) {
    if (b.ns === HOST) ctx.err(['bridges', b.name], `bridge '${b.name}' is in the host namespace, which a lab across hosts does not manage`, `put it in a node: ${b.name}: {node: NODE}`, true);
  }
  if ((raw.host?.sysctls && Object.keys(raw.host.sysctls).length) || raw.host?.iptables || raw.host?.ip6tables || raw.host?.uplink)
    ctx.err(['host'], "a lab across hosts cannot change the host namespace ('host' section)", 'put the settings in nodes, or run a lab per host');
  // A link between hosts is a VXLAN tunnel between two nodes' interfaces.
  for (const l of links) {
    const [a, b] = l.ends;
    const ha = nodes.get(a.ns)?.host;
    const hb = nodes.get(b.ns)?.host;
    if (!ha || !hb || ha === hb) continue;
    for (const e of l.ends) {
      if (e.at !== e.ns)
        ctx.err(e.path, `'${e.at}:${e.name}' is a bridge port on a link between hosts '${ha}' and '${hb}'`, 'a link between hosts is a VXLAN tunnel between two node interfaces: end it on a node');
      if (e.impair) ctx.err(e.path, `impairments on a link between hosts are not supported ('${e.at}:${e.name}')`, 'impair a link inside one host');
      const max = Math.min(hosts.get(ha)!.mtu, hosts.get(hb)!.mtu) - VXLAN_OVERHEAD;
      if (e.mtu !== undefined && e.mtu > max)
        ctx.err(e.path, `mtu ${e.mtu} on '${e.at}:${e.name}' does not fit the tunnel between '${ha}' and '${hb}'`, `at most ${max}: the underlay MTU minus ${VXLAN_OVERHEAD} bytes of VXLAN`);
    }
  }
  return hosts;
}
