// The nodes section: each node with its own interfaces (VLAN, dummy, VRF, bond) and the sections
// nested in it, and the members that VRFs and bonds enslave once every interface is known.
import type { BridgeSpec, IfaceSpec, LinkSpec, NodeSpec, SrcPath } from '../model/types.js';
import { didYouMean } from './problems.js';
import { parseAddress } from '../model/net.js';
import { tableId, tableProblem } from './syntax.js';
import type { LabContext } from './context.js';
import { normalizeRoutes, normalizeRules } from './routing.js';
import { normalizeSysctls } from './sysctls.js';
import { normalizeTables } from './firewall.js';
import { normalizeIpsets } from './ipsets.js';
import type { RawInterface, RawNode } from './raw.js';

/** The fields each interface type takes besides addresses, mtu, mac, up. */
const FIELDS_OF: Record<IfaceSpec['type'], string[]> = {
  vlan: ['link', 'id', 'protocol'],
  dummy: [],
  vrf: ['table', 'members'],
  bond: ['mode', 'members'],
  vxlan: ['id', 'remote', 'local', 'port', 'peer'],
};

/** One node: its own interfaces, then routes and rules (which refer to them), sysctls, firewall. */
export function normalizeNode(ctx: LabContext, name: string, raw: RawNode): NodeSpec {
  const path: SrcPath = ['nodes', name];
  const interfaces = normalizeInterfaces(ctx, name, raw.interfaces ?? {}, [...path, 'interfaces']);
  const routes = normalizeRoutes(ctx, name, raw.routes ?? [], [...path, 'routes']);
  const rules = normalizeRules(ctx, name, raw.rules ?? [], [...path, 'rules']);
  const sysctls = normalizeSysctls(ctx, raw.sysctls ?? {}, [...path, 'sysctls'], name);
  const ipsets = normalizeIpsets(ctx, raw.ipsets ?? {}, [...path, 'ipsets']);
  const sets = { declared: ipsets, path: [...path, 'ipsets'] };
  return {
    name,
    interfaces,
    routes,
    rules,
    sysctls,
    iptables: { ipv4: normalizeTables(ctx, raw.iptables ?? {}, [...path, 'iptables'], 'ipv4', sets), ipv6: normalizeTables(ctx, raw.ip6tables ?? {}, [...path, 'ip6tables'], 'ipv6', sets) },
    ipsets,
    path,
  };
}

/** A node's own interfaces (VLAN, dummy, VRF, bond), ordered so that parents come first. */
function normalizeInterfaces(ctx: LabContext, ns: string, raw: Record<string, RawInterface>, path: SrcPath): IfaceSpec[] {
  const out: IfaceSpec[] = [];
  const vlanKeys = new Map<string, string>();
  const vrfTables = new Map<number, string>();
  for (const [name, r] of Object.entries(raw)) {
    const p = [...path, name];
    if (!ctx.ifName(name, p, true)) continue;
    ctx.claimIface(ns, name, p, true);
    const spec: IfaceSpec = { name, ns, type: r.type, members: [], path: p, ...ctx.iface(r, ns, r.addresses, [...p, 'addresses']) };
    const misplaced = (['link', 'id', 'protocol', 'table', 'mode', 'members', 'remote', 'local', 'port', 'peer'] as const).filter((k) => r[k] !== undefined && !FIELDS_OF[r.type].includes(k));
    for (const k of misplaced) ctx.err([...p, k], `'${k}' does not apply to a ${r.type} interface`, `${r.type} interfaces take: ${FIELDS_OF[r.type].join(', ') || 'addresses, mtu, mac, up'}`, true);
    if (r.type === 'vlan') {
      if (r.link === undefined) ctx.err(p, `vlan '${name}' needs 'link': the interface it tags traffic on`, `e.g. ${name}: {type: vlan, link: eth0, id: 10}`);
      if (r.id === undefined) ctx.err(p, `vlan '${name}' needs 'id'`, 'a VLAN id from 1 to 4094');
      else if (!Number.isInteger(r.id) || r.id < 1 || r.id > 4094) ctx.err([...p, 'id'], `VLAN id ${r.id} is out of range`, 'use 1-4094 (0 and 4095 are reserved)');
      if (r.link !== undefined && r.id !== undefined) {
        const k = `${r.link}/${r.id}/${r.protocol ?? '802.1Q'}`;
        if (vlanKeys.has(k)) ctx.err([...p, 'id'], `VLAN ${r.id} on '${r.link}' is already '${vlanKeys.get(k)}'`, 'the kernel allows one VLAN interface per id on a parent');
        vlanKeys.set(k, name);
        spec.vlan = { link: r.link, id: r.id, protocol: r.protocol ?? '802.1Q' };
      }
    } else if (r.type === 'vrf') {
      const t = tableId(r.table);
      if (r.table === undefined) ctx.err(p, `vrf '${name}' needs 'table': the routing table of its routes`, `e.g. ${name}: {type: vrf, table: 10}`);
      else if (t === undefined) ctx.err([...p, 'table'], tableProblem(r.table).message, tableProblem(r.table).hint);
      else if (t === 253 || t === 254 || t === 255) ctx.err([...p, 'table'], `a VRF needs a table of its own, not the ${r.table} table`, 'use a number such as 10');
      else if (vrfTables.has(t)) ctx.err([...p, 'table'], `table ${t} is already the table of vrf '${vrfTables.get(t)}'`, 'each VRF has its own table');
      else {
        vrfTables.set(t, name);
        spec.table = t;
      }
    } else if (r.type === 'bond') spec.mode = r.mode ?? 'active-backup';
    else if (r.type === 'vxlan') {
      if (r.id === undefined) ctx.err(p, `vxlan '${name}' needs 'id': the VNI`, `e.g. ${name}: {type: vxlan, id: 100, remote: 192.168.56.12, local: 192.168.56.11}`);
      else if (!Number.isInteger(r.id) || r.id < 1 || r.id > 16777215) ctx.err([...p, 'id'], `VNI ${r.id} is out of range`, 'use 1-16777215');
      for (const k of ['remote', 'local'] as const) {
        if (r[k] === undefined) ctx.err(p, `vxlan '${name}' needs '${k}': ${k === 'remote' ? "the peer's" : "this host's"} underlay IPv4 address`);
        else if (parseAddress(r[k])?.family !== 'ipv4') ctx.err([...p, k], `'${r[k]}' is not an IPv4 address`, 'the underlay address, without a prefix length: 192.168.56.11');
      }
      if (r.id !== undefined && r.remote !== undefined && r.local !== undefined) spec.vxlan = { id: r.id, remote: r.remote, local: r.local, port: r.port ?? 4789 };
      if (r.peer) spec.peer = { ...r.peer };
    }
    if (r.members) spec.members = r.members;
    out.push(spec);
  }
  // VLAN parents must exist in the node; create them before the VLANs on them.
  const known = ctx.ifaces.get(ns)!;
  const byName = new Map(out.map((i) => [i.name, i]));
  for (const i of out) {
    if (i.vlan && !known.has(i.vlan.link)) {
      ctx.err([...i.path, 'link'], `node '${ns}' has no interface '${i.vlan.link}'`, didYouMean(i.vlan.link, known.keys()) ?? `its interfaces: ${[...known.keys()].join(', ')}`);
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
export function enslaveMembers(ctx: LabContext, nodes: Map<string, NodeSpec>, links: LinkSpec[], bridges: Map<string, BridgeSpec>): void {
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
        if (!t) return ctx.err(p, `node '${node.name}' has no interface '${m}'`, didYouMean(m, own.keys()) ?? `its interfaces: ${[...own.keys()].join(', ') || 'none'}`);
        if (m === i.name) return ctx.err(p, `${i.type} '${i.name}' cannot be a member of itself`);
        const master = taken.get(m) ?? t.master;
        if (master) return ctx.err(p, `'${m}' is already enslaved to '${master}'`, 'an interface has at most one master (bridge, VRF or bond)');
        if (i.type === 'bond' && t.kind !== 'veth') return ctx.err(p, `'${m}' is a ${t.kind}: bond members are veth ends here`, 'list the veth ends of links to bond');
        if (i.type === 'bond' && t.addresses.length)
          return ctx.err(p, `'${m}' is a member of bond '${i.name}' and cannot hold an address`, `put the address on the bond: ${i.name}: {addresses: [...]}`);
        if (i.type === 'vrf' && t.kind === 'vrf') return ctx.err(p, `'${m}' is a VRF: VRFs do not nest`);
        taken.set(m, i.name);
        t.setMaster(i.name);
      });
    }
  }
}
