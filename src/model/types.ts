// The lab as the user declared it (after normalization), and the kernel state that both the
// desired side (compiled from the lab) and the observed side (read from the kernel) are
// expressed in, so that the planner compares like with like.

/** Key of the host's root network namespace in every per-namespace map. Never a valid node name. */
export const HOST = '';

/** Where `ip netns` keeps its namespaces (iproute2's NETNS_RUN_DIR; /var/run is /run). */
export const NETNS_DIR = '/run/netns';

/**
 * A command of netlab's own in a namespace (HOST: as it is). `nsenter --net` joins only the
 * network namespace; `ip -n` and `ip netns exec` also copy the whole mount namespace (one mount per
 * lab namespace), so N of them cost N squared (bench/README.md). netlab's commands need no /sys;
 * the lab's processes and checks, which may, still run under `ip netns exec`.
 */
export function inNetns(ns: string, argv: string[]): string[] {
  return ns === HOST ? argv : ['nsenter', `--net=${NETNS_DIR}/${ns}`, ...argv];
}

export type Family = 'ipv4' | 'ipv6';
export const IPT_TABLES = ['filter', 'nat', 'mangle', 'raw', 'security'] as const;
export type IptTable = (typeof IPT_TABLES)[number];

/** Where a value came from in the lab file, as a path into the YAML document. */
export type SrcPath = (string | number)[];

/** The route types netlab manages. */
export const ROUTE_TYPES = ['unicast', 'local', 'blackhole', 'unreachable', 'prohibit', 'throw'] as const;

export interface RouteSpec {
  type: (typeof ROUTE_TYPES)[number];
  /** Canonical prefix ("default" is 0.0.0.0/0 or ::/0). */
  to: string;
  family: Family;
  via?: string;
  dev?: string;
  scope?: 'global' | 'link' | 'host';
  metric?: number;
  /** Numeric table id; 254 = main. */
  table: number;
  src?: string;
  onlink?: boolean;
  path: SrcPath;
}

export interface RuleSpec {
  family: Family;
  from?: string;
  to?: string;
  /** "0x1" or "0x1/0x1", canonical lower-case hex. */
  fwmark?: string;
  iif?: string;
  oif?: string;
  pref?: number;
  table: number;
  path: SrcPath;
}

export interface ChainSpec {
  name: string;
  builtin: boolean;
  policy?: 'ACCEPT' | 'DROP';
  rules: { text: string; path: SrcPath }[];
  path: SrcPath;
}
/** table name -> chains, in declaration order. */
export type TablesSpec = Map<IptTable, ChainSpec[]>;

/** The ipset types netlab manages (members are checked and canonicalized for each, src/model/ipset.ts). */
export const IPSET_TYPES = ['hash:net', 'hash:ip', 'hash:ip,port'] as const;
export type IpsetType = (typeof IPSET_TYPES)[number];

export interface IpsetSpec {
  name: string;
  type: IpsetType;
  family: Family;
  /** Canonical members (as `ipset save` prints them), in file order. */
  members: { value: string; path: SrcPath }[];
  path: SrcPath;
}

/** An ipset as desired or as `ipset save` shows it: members canonical, sorted. */
export interface IpsetState {
  name: string;
  type: string;
  family: Family;
  members: string[];
}

export interface SysctlSpec {
  key: string;
  value: string;
  path: SrcPath;
}

/** Link impairments (tc netem, or tbf when only a rate is given), in canonical units. */
export interface Impairment {
  /** Microseconds. */
  delay?: number;
  /** Microseconds (needs delay). */
  jitter?: number;
  /** Percent, 0-100. */
  loss?: number;
  /** Bits per second. */
  rate?: number;
  /** Queue length in packets. */
  limit?: number;
}

export type IfaceType = 'vlan' | 'dummy' | 'vrf' | 'bond' | 'vxlan';
/** A unicast VXLAN tunnel: its VNI, the peer's and this host's underlay addresses, the UDP port. */
export interface VxlanSpec {
  id: number;
  remote: string;
  local: string;
  port: number;
}
export const BOND_MODES = ['balance-rr', 'active-backup', 'balance-xor', 'broadcast', '802.3ad', 'balance-tlb', 'balance-alb'] as const;

/** A node's own interface that is not a veth end or a bridge: VLAN, dummy, VRF, bond. */
export interface IfaceSpec extends InterfaceSettings {
  name: string;
  /** Node the interface lives in. */
  ns: string;
  type: IfaceType;
  /** vlan: parent interface (in the same node), VLAN id, protocol. */
  vlan?: { link: string; id: number; protocol: '802.1Q' | '802.1ad' };
  /** vrf: routing table. */
  table?: number;
  /** bond: mode. */
  mode?: (typeof BOND_MODES)[number];
  /** vxlan: the tunnel. */
  vxlan?: VxlanSpec;
  /** vxlan: what is at its far end (informational: trace names it). */
  peer?: { host?: string; node?: string };
  /** vrf, bond: interfaces of the node enslaved to this one. */
  members: string[];
  /** VRF or bond this interface is a member of. */
  master?: string;
  path: SrcPath;
}

export interface NodeSpec {
  name: string;
  /** Own interfaces, parents before the VLANs on them. */
  interfaces: IfaceSpec[];
  routes: RouteSpec[];
  rules: RuleSpec[];
  sysctls: SysctlSpec[];
  iptables: Record<Family, TablesSpec>;
  /** The host (lab.hosts) the node runs on, in a lab across hosts. */
  host?: string;
  ipsets: IpsetSpec[];
  path: SrcPath;
}

export interface InterfaceSettings {
  addresses: { cidr: string; path: SrcPath }[];
  mtu?: number;
  mac?: string;
  up: boolean;
}

export interface BridgeSpec extends InterfaceSettings {
  name: string;
  /** Namespace the bridge lives in: HOST or a node name. */
  ns: string;
  /** VRF the bridge is a member of (bridges inside nodes). */
  master?: string;
  path: SrcPath;
}

export interface EndSpec extends InterfaceSettings {
  /** The node or bridge this end belongs to, as written. */
  at: string;
  /** Namespace the interface lives in: HOST or a node name. */
  ns: string;
  name: string;
  /** Bridge, VRF or bond the interface is enslaved to. */
  master?: string;
  impair?: Impairment;
  path: SrcPath;
}

export interface LinkSpec {
  ends: [EndSpec, EndSpec];
  path: SrcPath;
}

/** One machine of a lab across hosts: its underlay address and how netlab reaches it. */
export interface LabHost {
  name: string;
  address: string;
  /** Underlay MTU. */
  mtu: number;
  reach: { local: true } | { ssh: string } | { exec: string[] };
  /** Run netlab there through `sudo -n` (an ssh user that is not root). */
  sudo?: boolean;
  path: SrcPath;
}

export interface HostSpec {
  sysctls: SysctlSpec[];
  iptables: Record<Family, TablesSpec>;
  /** An instance's world gets a NATed veth from the real host (engine/uplink.ts); nothing without an instance. */
  uplink: boolean;
}

export interface Lab {
  name: string;
  checks: CheckSpec[];
  processes: ProcessSpec[];
  description?: string;
  file: string;
  nodes: Map<string, NodeSpec>;
  bridges: Map<string, BridgeSpec>;
  links: LinkSpec[];
  host: HostSpec;
  /** Generate IPv6 link-local addresses on lab interfaces (addrgenmode eui64) or not (none). */
  ipv6LinkLocal: boolean;
  /** The machines a lab across hosts spans (src/model/hosts.ts); absent for a lab on one host. */
  hosts?: Map<string, LabHost>;
  /** The lab cache's key for the bytes this lab was loaded from (src/load/cache.ts). */
  key?: string;
  /** A guided lab's steps, in order (`netlab steps`); absent or empty for most labs. */
  steps?: StepSpec[];
  /** The lab file's variants, each the whole lab it makes (validated, without steps or variants of its own). */
  variants?: Map<string, Lab>;
}

/** The pseudo-node naming the host's root namespace in commands (node names cannot start with '@'). */
export const HOST_NODE = '@host';

/** A command of a step, as the article types it, run in a node (HOST for @host). */
export interface StepCommand {
  /** The node as written (a node name or @host). */
  node: string;
  /** The namespace: the node, or HOST. */
  ns: string;
  argv: string[];
  /** The command as the article types it. */
  text: string;
  expectFail: boolean;
  timeoutMs: number;
  path: SrcPath;
}

export interface StepSpec {
  title: string;
  /** Markdown. */
  explain: string;
  variant?: string;
  run: StepCommand[];
  /** Checked against the lab the step runs in (its variant's, or the one the steps before left). */
  expect: CheckSpec[];
  path: SrcPath;
}

// ---------------------------------------------------------------------------------------------
// Kernel state, shared by desired and observed.

export interface LinkState {
  name: string;
  kind: 'veth' | 'bridge' | 'loopback' | IfaceType | 'other';
  /** vlan: parent, id, protocol. */
  vlan?: { link: string; id: number; protocol: '802.1Q' | '802.1ad' };
  /** vrf: its routing table. */
  vrfTable?: number;
  /** bond: its mode. */
  bondMode?: string;
  /** bond in active-backup: its primary member, the first one (set when the bond is made). */
  bondPrimary?: string;
  /** vxlan: the tunnel (made from the host namespace, so its UDP socket stays there). */
  vxlan?: VxlanSpec;
  /** Root qdisc that netlab manages (netem or tbf); undefined = none (the kernel's default). */
  qdisc?: QdiscState;
  /** For a desired veth: the other end. Observed veths do not know the peer's namespace name. */
  peer?: { ns: string; name: string };
  master?: string;
  mtu?: number;
  mac?: string;
  up: boolean;
  /** Canonical CIDRs of addresses netlab manages (link-local IPv6 and lo's defaults excluded). */
  addresses: string[];
  /** Ownership mark, "netlab:<lab>". */
  alias?: string;
  /** Observed links: the kernel's index (a host link's identity). */
  ifindex?: number;
  /** addrgenmode: undefined = leave as it is. */
  addrGenNone?: boolean;
  /** Lab object this link belongs to, for messages (desired side only). */
  object?: string;
}

export interface QdiscState {
  kind: 'netem' | 'tbf';
  impair: Impairment;
}

export interface RouteState {
  type: RouteSpec['type'];
  to: string;
  family: Family;
  via?: string;
  dev?: string;
  scope: 'global' | 'link' | 'host';
  metric: number;
  table: number;
  src?: string;
  onlink?: boolean;
}

export interface RuleState {
  family: Family;
  from?: string;
  to?: string;
  fwmark?: string;
  iif?: string;
  oif?: string;
  pref?: number;
  table: number;
}

export interface IptablesDesired {
  family: Family;
  table: IptTable;
  /** iptables-restore payload for the table (without --noflush: replaces the table). */
  payload: string;
  /** Hash of the payload, recorded in the journal to know what the kernel's copy came from. */
  hash: string;
  object: string;
}

export interface NsState {
  links: Map<string, LinkState>;
  routes: RouteState[];
  rules: RuleState[];
  sysctls: Map<string, string>;
  /** Desired: table key ("ipv4/filter") -> payload. */
  iptables: Map<string, IptablesDesired>;
  /** By name. */
  ipsets: Map<string, IpsetState>;
}

/** Observed namespace: like NsState, but iptables holds the normalized iptables-save text. */
export interface ObservedNs {
  links: Map<string, LinkState>;
  routes: RouteState[];
  rules: RuleState[];
  sysctls: Map<string, string>;
  iptables: Map<string, string>;
  /** The namespace's ipsets by name; undefined where they were not read (the lab has had none there). */
  ipsets?: Map<string, IpsetState>;
  /** Ownership mark on the namespace's lo (namespaces only). */
  mark?: string;
}

export interface DesiredState {
  lab: string;
  /** Namespaces the lab owns (its nodes), in declaration order. */
  namespaces: string[];
  ns: Map<string, NsState>;
  /** Host sysctls the lab sets, key -> value. */
  hostSysctls: Map<string, string>;
  /** Host iptables rules (tagged with the lab's comment), canonical lines per family/table. */
  hostIptables: HostRule[];
  processes: ProcessSpec[];
}

export interface HostRule {
  family: Family;
  table: IptTable;
  chain: string;
  /** Rule text as written, with the ownership comment appended. */
  spec: string;
  /** Observed rules: the rule's position in its chain (1-based, counting every rule). */
  pos?: number;
  /** A rule netlab adds on its own that must come before the chain's other rules (bridge guards). */
  first?: boolean;
}

/** What decides whether the host's iptables see bridged traffic, per family (read for labs with host bridges). */
export interface HostFirewall {
  /** bridge-nf-call-iptables (or -ip6tables) is 1: bridged frames go through iptables FORWARD. */
  bridgeNf: boolean;
  /** The filter table's FORWARD policy, when the chain exists. */
  forwardPolicy?: string;
  /** A DOCKER-USER chain exists in the filter table. */
  dockerUser: boolean;
}

export interface ObservedState {
  /** Every namespace that exists on the machine (ip netns list). */
  netns: Set<string>;
  ns: Map<string, ObservedNs>;
  hostSysctls: Map<string, string>;
  /** Host iptables rules carrying this lab's comment, as iptables-save prints them. */
  hostIptables: HostRule[];
  /** Host iptables tables that exist now, per family (read only when the lab has host rules). */
  hostTables: Partial<Record<Family, string[]>>;
  /** Host chains that really exist now ("table/chain"), per family; read with nf_tables before the lab's first host rule. */
  hostChains?: Partial<Record<Family, string[]>>;
  /** Per family, when the lab has host bridges. */
  hostFirewall?: Partial<Record<Family, HostFirewall>>;
  /**
   * Host sysctls the kernel rewrites when a key the lab sets is written (every interface's
   * `forwarding` when ip_forward changes): key -> value now. Read only when the lab sets such a key.
   */
  hostSysctlSides?: Map<string, string>;
  /**
   * Processes the journal says the lab started, by "node/name": still running or not. With
   * `start`: one the journal does not list, found running as netlab starts it (to adopt).
   */
  processes: Map<string, { pid: number; alive: boolean; start?: string }>;
  /** Lab namespaces not read again: taken as `up` last verified them (see src/state/trust.ts). */
  trusted?: string[];
  /** Namespaces `netlab exec`/`shell`/`impair` entered since they were last verified, with the mark's time. */
  entered?: Map<string, number>;
  /** Identity (nsfs inode and mtime) of each namespace the lab or its journal names that exists. */
  ids?: Map<string, { ino: number; mtime: string }>;
}

export function tableKey(family: Family, table: IptTable): string {
  return `${family}/${table}`;
}

export function markOf(lab: string): string {
  return `netlab:${lab}`;
}

export function nsLabel(ns: string): string {
  return ns === HOST ? 'host' : ns;
}

// ---------------------------------------------------------------------------------------------
// Checks and processes.

export type Expect = 'ok' | 'fail';

interface CheckBase {
  /** Short label for tables ("ping ns1 -> 192.168.20.2"). */
  label: string;
  expect: Expect;
  /** Per attempt. */
  timeoutMs: number;
  /** Attempts for an expected success (settling: ARP, DAD, port state). */
  attempts: number;
  /** What the check proves, shown next to its verdict, met or not. */
  why?: string;
  /** For reach matrices: the matrix this check is a cell of, and the cell. */
  matrix?: { id: number; from: string; to: string };
  path: SrcPath;
}

export type CheckSpec = CheckBase &
  (
    | { kind: 'ping'; from: string; to: string; family: Family; count: number; source?: string }
    | { kind: 'tcp' | 'udp'; from: string; to: string; port: number; family: Family }
    | { kind: 'exec'; from: string; command: string[]; exitCode?: number; output?: string }
    | { kind: 'trace'; from: string; to: string; proto: 'icmp' | 'tcp' | 'udp'; port?: number; passes: string[]; result?: 'delivered' | 'dropped' | 'rejected' | 'left' | 'encapsulated' }
  );

export interface ProcessSpec {
  node: string;
  name: string;
  /** argv; a string command in the file is run as ['sh', '-c', command]. */
  argv: string[];
  path: SrcPath;
}
