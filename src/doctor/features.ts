// doctor/features: the kernel features netlab knows, one entry each holding everything about it:
// what it is, whether every lab needs it, its module and kernel option, what uses it, how it is
// tried for real (doctor/probe.ts runs the steps) and how to get it.
import type { Feature } from '../model/features.js';

/** One command of a probe, run in the throwaway namespace. */
export interface Step {
  argv: string[];
  input?: string;
  /** Prepares the real test (e.g. the veth a qdisc goes on): its failure is named as such. */
  setup?: string;
  /** Best effort, result ignored (module preloading). */
  ignore?: boolean;
}

export interface FeatureInfo {
  feature: Feature;
  /** For people: "netem (delay, jitter, loss)". */
  title: string;
  /** Without it no lab can be built; the others are needed only by the labs that use them. */
  required: boolean;
  /** The kernel module that provides it: "sch_netem". */
  module: string;
  /** The kernel option, for custom kernels: "CONFIG_NET_SCH_NETEM". */
  kconfig: string;
  /** Which lab fields (or commands) need it. */
  usedBy: string;
  /** The real thing, tried in namespace ns with its own interfaces and names (independent of the other features). */
  probe: (ns: string) => Step[];
  /** What a probe that worked made: "created a veth pair". */
  found: string;
  /** How to get it, per distribution family. */
  fix: { debian: string; fedora: string };
}

/** A module that Debian ships in linux-image-*, Ubuntu partly in linux-modules-extra, Fedora partly in kernel-modules-extra. */
function moduleFix(module: string): { debian: string; fedora: string } {
  return {
    debian: `modprobe ${module} (Debian: the module is in linux-image-amd64; Ubuntu: apt-get install linux-modules-extra-$(uname -r), then modprobe ${module})`,
    fedora: `dnf install kernel-modules-extra, then modprobe ${module}`,
  };
}

const ip = (ns: string, ...args: string[]): string[] => ['ip', '-n', ns, ...args];
const inNs = (ns: string, ...argv: string[]): string[] => ['ip', 'netns', 'exec', ns, ...argv];
const vethPair = (ns: string, a: string, b: string): Step => ({ argv: ip(ns, 'link', 'add', 'name', a, 'type', 'veth', 'peer', 'name', b), setup: `the veth pair ${a}/${b} the probe puts it on` });
const qdisc = (ns: string, dev: string, ...spec: string[]): string[] => ['tc', '-n', ns, 'qdisc', 'add', 'dev', dev, 'root', ...spec];

export const NFT_TRACE_PROBE = `table inet netlab_probe {
  chain c {
    type filter hook prerouting priority -350; policy accept;
    meta nftrace set 1
  }
}
`;

/** An entry without its name, and with the fix of its (first) module unless it says otherwise. */
type Entry = Omit<FeatureInfo, 'feature' | 'required' | 'fix'> & { required?: true; fix?: FeatureInfo['fix'] };

const ENTRIES: Record<Feature, Entry> = {
  veth: {
    title: 'veth pairs',
    required: true,
    module: 'veth',
    kconfig: 'CONFIG_VETH',
    usedBy: 'links[] (every link is a veth pair)',
    probe: (ns) => [{ argv: ip(ns, 'link', 'add', 'name', 'pv0', 'type', 'veth', 'peer', 'name', 'pv1') }],
    found: 'created a veth pair',
  },
  bridge: {
    title: 'Linux bridge',
    required: true,
    module: 'bridge',
    kconfig: 'CONFIG_BRIDGE',
    usedBy: 'bridges',
    probe: (ns) => [{ argv: ip(ns, 'link', 'add', 'name', 'pbr0', 'type', 'bridge') }],
    found: 'created a bridge',
  },
  vxlan: {
    title: 'VXLAN tunnels',
    module: 'vxlan',
    kconfig: 'CONFIG_VXLAN',
    usedBy: 'vxlan interfaces and links between nodes on different hosts (docs/multi-host.md)',
    probe: (ns) => [{ argv: ip(ns, 'link', 'add', 'name', 'pvx0', 'type', 'vxlan', 'id', '42', 'dstport', '4789', 'local', '10.0.0.1') }],
    found: 'created a vxlan device',
  },
  macvlan: {
    title: 'macvlan interfaces',
    module: 'macvlan',
    kconfig: 'CONFIG_MACVLAN',
    usedBy: 'macvlan interfaces (no lab field yet: processes and exec checks that create them)',
    probe: (ns) => [vethPair(ns, 'pm0', 'pm1'), { argv: ip(ns, 'link', 'add', 'link', 'pm0', 'name', 'pmv0', 'type', 'macvlan', 'mode', 'bridge') }],
    found: 'created a macvlan on a veth',
  },
  netem: {
    title: 'netem (delay, jitter, loss)',
    module: 'sch_netem',
    kconfig: 'CONFIG_NET_SCH_NETEM',
    usedBy: 'link impairments delay, jitter and loss (links[].impair, netlab impair)',
    probe: (ns) => [vethPair(ns, 'pn0', 'pn1'), { argv: qdisc(ns, 'pn0', 'netem', 'delay', '1ms') }],
    found: 'added a netem qdisc',
  },
  tbf: {
    title: 'tbf (rate, limit)',
    module: 'sch_tbf',
    kconfig: 'CONFIG_NET_SCH_TBF',
    usedBy: 'link impairments with a rate alone (links[].impair, netlab impair)',
    probe: (ns) => [vethPair(ns, 'pt0', 'pt1'), { argv: qdisc(ns, 'pt0', 'tbf', 'rate', '1mbit', 'burst', '32kbit', 'latency', '400ms') }],
    found: 'added a tbf qdisc',
  },
  htb: {
    title: 'htb (rate classes)',
    module: 'sch_htb',
    kconfig: 'CONFIG_NET_SCH_HTB',
    usedBy: 'rate classes (no lab field yet: exec checks and processes that run tc)',
    probe: (ns) => [vethPair(ns, 'ph0', 'ph1'), { argv: qdisc(ns, 'ph0', 'handle', '1:', 'htb', 'default', '10') }],
    found: 'added an htb qdisc',
  },
  vlan: {
    title: '802.1q VLAN',
    module: '8021q',
    kconfig: 'CONFIG_VLAN_8021Q',
    usedBy: 'nodes.*.interfaces with type: vlan (labs/vlan-trunk.yaml)',
    probe: (ns) => [vethPair(ns, 'pq0', 'pq1'), { argv: ip(ns, 'link', 'add', 'link', 'pq0', 'name', 'pq0.10', 'type', 'vlan', 'id', '10') }],
    found: 'created a VLAN sub-interface',
  },
  vrf: {
    title: 'VRF (l3mdev)',
    module: 'vrf',
    kconfig: 'CONFIG_NET_VRF',
    usedBy: 'nodes.*.interfaces with type: vrf (labs/vrf-lite.yaml)',
    probe: (ns) => [{ argv: ip(ns, 'link', 'add', 'name', 'pvrf0', 'type', 'vrf', 'table', '10') }],
    found: 'created a VRF device',
  },
  // dummy and bonding create dummy0/bond0 in the host's root namespace when the module is loaded
  // with its defaults; loading them first with numdummies=0 / max_bonds=0 (a no-op when loaded or
  // built in, harmless without modprobe) keeps the probe from touching the host.
  dummy: {
    title: 'dummy interfaces',
    module: 'dummy',
    kconfig: 'CONFIG_DUMMY',
    usedBy: 'nodes.*.interfaces with type: dummy (labs/vrf-lite.yaml)',
    probe: (ns) => [{ argv: ['modprobe', '-q', 'dummy', 'numdummies=0'], ignore: true }, { argv: ip(ns, 'link', 'add', 'name', 'pdu0', 'type', 'dummy') }],
    found: 'created a dummy interface',
  },
  bond: {
    title: 'bonding',
    module: 'bonding',
    kconfig: 'CONFIG_BONDING',
    usedBy: 'nodes.*.interfaces with type: bond (labs/bond-veth.yaml)',
    probe: (ns) => [{ argv: ['modprobe', '-q', 'bonding', 'max_bonds=0'], ignore: true }, { argv: ip(ns, 'link', 'add', 'name', 'pbo0', 'type', 'bond') }],
    found: 'created a bond',
  },
  wireguard: {
    title: 'WireGuard',
    module: 'wireguard',
    kconfig: 'CONFIG_WIREGUARD',
    usedBy: 'WireGuard tunnels (no lab field yet: processes and exec checks that create them)',
    probe: (ns) => [{ argv: ip(ns, 'link', 'add', 'name', 'pwg0', 'type', 'wireguard') }],
    found: 'created a WireGuard interface',
  },
  tproxy: {
    title: 'iptables TPROXY target',
    module: 'xt_TPROXY',
    kconfig: 'CONFIG_NETFILTER_XT_TARGET_TPROXY',
    usedBy: 'iptables rules with -j TPROXY (labs/tproxy.yaml)',
    probe: (ns) => [{ argv: inNs(ns, 'iptables', '-w', '-t', 'mangle', '-A', 'PREROUTING', '-p', 'tcp', '-j', 'TPROXY', '--on-port', '1', '--tproxy-mark', '0x1/0x1') }],
    found: 'added an iptables TPROXY rule',
  },
  'nft-trace': {
    title: 'nftables rule tracing (meta nftrace)',
    module: 'nf_tables',
    kconfig: 'CONFIG_NF_TABLES, CONFIG_NF_TABLES_INET',
    usedBy: 'netlab trace and trace checks',
    probe: (ns) => [{ argv: inNs(ns, 'nft', '-f', '-'), input: NFT_TRACE_PROBE }],
    found: 'added an nft chain with meta nftrace set 1',
  },
  conntrack: {
    title: 'connection tracking (-m conntrack, nat)',
    module: 'nf_conntrack, xt_conntrack',
    kconfig: 'CONFIG_NF_CONNTRACK, CONFIG_NETFILTER_XT_MATCH_CONNTRACK',
    usedBy: 'iptables rules with -m conntrack or -m state, nat tables, SO_ORIGINAL_DST (labs/packet-flow.yaml, labs/redirect-proxy.yaml)',
    probe: (ns) => [{ argv: inNs(ns, 'iptables', '-w', '-t', 'filter', '-A', 'INPUT', '-m', 'conntrack', '--ctstate', 'ESTABLISHED,RELATED', '-j', 'ACCEPT') }],
    found: 'added an iptables -m conntrack rule',
    // The match module: loading it brings nf_conntrack along.
    fix: moduleFix('xt_conntrack'),
  },
  ipset: {
    title: 'ipsets (hash:net, hash:ip, hash:ip,port) and the iptables set match',
    module: 'xt_set, ip_set, ip_set_hash_net',
    kconfig: 'CONFIG_IP_SET, CONFIG_IP_SET_HASH_NET, CONFIG_IP_SET_HASH_IP, CONFIG_IP_SET_HASH_IPPORT, CONFIG_NETFILTER_XT_SET',
    usedBy: 'nodes.*.ipsets and rules with -m set --match-set (labs/calico-marks.yaml)',
    probe: (ns) => [
      { argv: inNs(ns, 'ipset', 'create', 'netlab-probe', 'hash:net'), setup: 'an ipset' },
      { argv: inNs(ns, 'iptables', '-w', '-t', 'filter', '-A', 'INPUT', '-m', 'set', '--match-set', 'netlab-probe', 'src', '-j', 'ACCEPT') },
    ],
    found: 'created an ipset and an iptables rule matching it',
    // The match module: loading it brings ip_set along (the set types load on first use).
  },
};

/** Every feature netlab knows, in the order doctor prints them. */
export const FEATURES = Object.fromEntries(
  Object.entries(ENTRIES).map(([feature, e]) => [feature, { ...e, feature, required: e.required ?? false, fix: e.fix ?? moduleFix(e.module.split(/[ ,]/)[0]!) }]),
) as Record<Feature, FeatureInfo>;

export const ALL_FEATURES = Object.keys(FEATURES) as Feature[];

/** The kernel options to turn on, for a custom kernel: "CONFIG_NF_TABLES=m, CONFIG_NF_TABLES_INET=m". */
export const customKernelFix = (info: FeatureInfo): string =>
  info.kconfig
    .split(/,\s*/)
    .map((k) => `${k}=m`)
    .join(', ');
