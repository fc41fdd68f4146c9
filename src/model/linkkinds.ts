// Every kind of link netlab makes, in one table: what is particular to each kind, for the parts
// that make, plan, print and read links. A new kind (vxlan, macvlan) is one entry here, plus its
// lab-file syntax (schemas/lab.schema.json, load/lab.ts) and its kernel probe (capabilities.ts).
import { HOST, type IfaceSpec, type IfaceType, type LinkState } from './types.js';

/** Kind-specific data as `ip -j -d link show` prints it (linkinfo.info_data). */
export interface KernelLinkData {
  id?: number;
  protocol?: string;
  table?: number;
  mode?: string;
  /** vxlan */
  remote?: string;
  local?: string;
  port?: number;
}

export interface LinkKind {
  /**
   * 'links': made before anything is configured (veth ends, bridges: other links are put on
   * them). 'configure': made in its namespace's configure batch, after the links it stacks on.
   */
  phase: 'links' | 'configure';
  /** Made from the root namespace's batch, whatever namespace it lives in (a veth pair). */
  fromRoot?: boolean;
  /** The `ip` batch line(s) that create it in namespace ns. */
  add(l: LinkState, ns: string): string;
  /** What tells it apart beyond its name, for plan lines: " on eth0 id 10". */
  params?(l: LinkState): string;
  /** Why the kernel's link of this kind must be re-created to match (its kind-specific settings differ), or undefined. */
  changed?(want: LinkState, have: LinkState): string | undefined;
  /** Its kind-specific settings as the kernel reports them (`parent`: the link it stacks on, when in the same namespace). */
  fromKernel?(data: KernelLinkData, parent: string | null | undefined): Partial<LinkState>;
  /** Its kind-specific settings from the lab file's interface (node interfaces only). */
  fromSpec?(i: IfaceSpec): Partial<LinkState>;
  /** Its settings as `netlab graph` prints them ("vlan 10 on eth0"). */
  graph?(i: IfaceSpec): string;
}

/**
 * A link made in the host carries the lab's mark from the batch that creates it: netlab can tell
 * it from one someone else made, whenever it is interrupted (src/model/ownership.ts).
 */
const mark = (l: LinkState, ns: string, name: string) => (ns === HOST && l.alias ? `\nlink set dev ${name} alias ${l.alias}` : '');

export const LINK_KINDS: Record<'veth' | 'bridge' | IfaceType, LinkKind> = {
  veth: {
    phase: 'links',
    fromRoot: true,
    add: (l, ns) => {
      const peer = l.peer!;
      const here = ns === HOST ? '' : ` netns ${ns}`;
      const there = peer.ns === HOST ? '' : ` netns ${peer.ns}`;
      return `link add name ${l.name}${here} type veth peer name ${peer.name}${there}${mark(l, ns, l.name)}${mark(l, peer.ns, peer.name)}`;
    },
  },
  bridge: {
    phase: 'links',
    add: (l, ns) => `link add name ${l.name} type bridge${mark(l, ns, l.name)}`,
  },
  vlan: {
    phase: 'configure',
    add: (l) => `link add link ${l.vlan!.link} name ${l.name} type vlan id ${l.vlan!.id} protocol ${l.vlan!.protocol}`,
    params: (l) => (l.vlan ? ` on ${l.vlan.link} id ${l.vlan.id}${l.vlan.protocol === '802.1ad' ? ' protocol 802.1ad' : ''}` : ''),
    changed: (want, have) =>
      want.vlan && have.vlan && (want.vlan.id !== have.vlan.id || want.vlan.link !== have.vlan.link || want.vlan.protocol !== have.vlan.protocol)
        ? `was VLAN ${have.vlan.id} on ${have.vlan.link}${have.vlan.protocol !== want.vlan.protocol ? ` (${have.vlan.protocol})` : ''}`
        : undefined,
    fromKernel: (data, parent) => (data.id !== undefined ? { vlan: { link: parent ?? '', id: data.id, protocol: data.protocol === '802.1ad' ? '802.1ad' : '802.1Q' } } : {}),
    fromSpec: (i) => (i.vlan ? { vlan: i.vlan } : {}),
    graph: (i) => (i.vlan ? `vlan ${i.vlan.id} on ${i.vlan.link}` : i.type),
  },
  vrf: {
    phase: 'configure',
    add: (l) => `link add name ${l.name} type vrf table ${l.vrfTable}`,
    params: (l) => (l.vrfTable !== undefined ? ` table ${l.vrfTable}` : ''),
    changed: (want, have) => (want.vrfTable !== undefined && have.vrfTable !== undefined && want.vrfTable !== have.vrfTable ? `was the VRF of table ${have.vrfTable}` : undefined),
    fromKernel: (data) => (data.table !== undefined ? { vrfTable: data.table } : {}),
    fromSpec: (i) => (i.table !== undefined ? { vrfTable: i.table } : {}),
    graph: (i) => (i.table !== undefined ? `vrf table ${i.table}` : i.type),
  },
  bond: {
    phase: 'configure',
    // In active-backup each side picks its own active member, by which link had carrier first: two
    // bonds facing each other could pick different links and pass nothing. The first member is
    // the primary, active whenever it has a link, so both ends agree (it is already in the node).
    add: (l) => `link add name ${l.name} type bond mode ${l.bondMode} miimon 100${l.bondPrimary ? ` primary ${l.bondPrimary}` : ''}`,
    params: (l) => (l.bondMode ? ` mode ${l.bondMode}` : ''),
    changed: (want, have) => (want.bondMode && have.bondMode && want.bondMode !== have.bondMode ? `was a bond in mode ${have.bondMode}` : undefined),
    fromKernel: (data) => (data.mode ? { bondMode: data.mode } : {}),
    fromSpec: (i) => ({ ...(i.mode ? { bondMode: i.mode } : {}), ...(i.mode === 'active-backup' && i.members[0] ? { bondPrimary: i.members[0] } : {}) }),
    graph: (i) => (i.mode ? `bond ${i.mode}` : i.type),
  },
  dummy: {
    phase: 'configure',
    add: (l) => `link add name ${l.name} type dummy`,
  },
  // Made from the host namespace straight into the node (`netns`): the kernel keeps the tunnel's
  // UDP socket in the namespace that made it, so the node sees a plain interface and the underlay
  // stays the host's (flannel's flannel.1, moved into a namespace).
  vxlan: {
    phase: 'links',
    fromRoot: true,
    add: (l, ns) => {
      const v = l.vxlan!;
      const here = ns === HOST ? '' : ` netns ${ns}`;
      return `link add name ${l.name}${here} type vxlan id ${v.id} remote ${v.remote} local ${v.local} dstport ${v.port}${mark(l, ns, l.name)}`;
    },
    params: (l) => (l.vxlan ? ` vni ${l.vxlan.id} to ${l.vxlan.remote}` : ''),
    changed: (want, have) => {
      const w = want.vxlan;
      const h = have.vxlan;
      if (!w || !h) return undefined;
      return w.id !== h.id || w.remote !== h.remote || w.local !== h.local || w.port !== h.port ? `was VNI ${h.id} from ${h.local} to ${h.remote} port ${h.port}` : undefined;
    },
    fromKernel: (data) => (data.id !== undefined ? { vxlan: { id: data.id, remote: data.remote ?? '', local: data.local ?? '', port: data.port ?? 0 } } : {}),
    fromSpec: (i) => (i.vxlan ? { vxlan: i.vxlan } : {}),
    graph: (i) => (i.vxlan ? `vxlan ${i.vxlan.id} to ${i.vxlan.remote}` : i.type),
  },
};

/** The table's entry for a link's kind; undefined for kinds netlab does not make (loopback, other). */
export function linkKind(kind: string): LinkKind | undefined {
  return Object.hasOwn(LINK_KINDS, kind) ? LINK_KINDS[kind as keyof typeof LINK_KINDS] : undefined;
}
