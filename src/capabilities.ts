// capabilities: what this machine offers netlab. Tools (found, version, backend), privileges
// (root, CAP_NET_ADMIN, CAP_SYS_ADMIN) and kernel features, the latter probed for real: every
// feature is tried in one throwaway namespace that is always deleted, never guessed from files.
import { randomHex } from './hash.js';
import { existsSync } from 'node:fs';
import { CliError, EXIT } from './core/errors.js';
import type { Feature } from './model/features.js';
import { parallel, type CommandRunner, type RunResult } from './runner/runner.js';

// ---------------------------------------------------------------------------------------------
// Kernel features

export interface FeatureInfo {
  feature: Feature;
  /** For people: "netem (delay, jitter, loss)". */
  title: string;
  /** The kernel module that provides it: "sch_netem". */
  module: string;
  /** The kernel option, for custom kernels: "CONFIG_NET_SCH_NETEM". */
  kconfig: string;
  /** Which lab fields (or commands) need it. */
  usedBy: string;
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

function feature(feature: Feature, title: string, module: string, kconfig: string, usedBy: string, fix = moduleFix(module.split(/[ ,]/)[0]!)): FeatureInfo {
  return { feature, title, module, kconfig, usedBy, fix };
}

/** Every feature netlab knows, in the order doctor prints them. */
export const FEATURES: Record<Feature, FeatureInfo> = {
  veth: feature('veth', 'veth pairs', 'veth', 'CONFIG_VETH', 'links[] (every link is a veth pair)'),
  bridge: feature('bridge', 'Linux bridge', 'bridge', 'CONFIG_BRIDGE', 'bridges'),
  vxlan: feature('vxlan', 'VXLAN tunnels', 'vxlan', 'CONFIG_VXLAN', 'VXLAN overlays (no lab field yet: processes and exec checks that create them)'),
  macvlan: feature('macvlan', 'macvlan interfaces', 'macvlan', 'CONFIG_MACVLAN', 'macvlan interfaces (no lab field yet: processes and exec checks that create them)'),
  netem: feature('netem', 'netem (delay, jitter, loss)', 'sch_netem', 'CONFIG_NET_SCH_NETEM', 'link impairments delay, jitter and loss (links[].impair, netlab impair)'),
  tbf: feature('tbf', 'tbf (rate, limit)', 'sch_tbf', 'CONFIG_NET_SCH_TBF', 'link impairments with a rate alone (links[].impair, netlab impair)'),
  htb: feature('htb', 'htb (rate classes)', 'sch_htb', 'CONFIG_NET_SCH_HTB', 'rate classes (no lab field yet: exec checks and processes that run tc)'),
  vlan: feature('vlan', '802.1q VLAN', '8021q', 'CONFIG_VLAN_8021Q', 'nodes.*.interfaces with type: vlan (labs/vlan-trunk.yaml)'),
  vrf: feature('vrf', 'VRF (l3mdev)', 'vrf', 'CONFIG_NET_VRF', 'nodes.*.interfaces with type: vrf (labs/vrf-lite.yaml)'),
  dummy: feature('dummy', 'dummy interfaces', 'dummy', 'CONFIG_DUMMY', 'nodes.*.interfaces with type: dummy (labs/vrf-lite.yaml)'),
  bond: feature('bond', 'bonding', 'bonding', 'CONFIG_BONDING', 'nodes.*.interfaces with type: bond (labs/bond-veth.yaml)'),
  wireguard: feature('wireguard', 'WireGuard', 'wireguard', 'CONFIG_WIREGUARD', 'WireGuard tunnels (no lab field yet: processes and exec checks that create them)'),
  tproxy: feature('tproxy', 'iptables TPROXY target', 'xt_TPROXY', 'CONFIG_NETFILTER_XT_TARGET_TPROXY', 'iptables rules with -j TPROXY (labs/tproxy.yaml)'),
  'nft-trace': feature('nft-trace', 'nftables rule tracing (meta nftrace)', 'nf_tables', 'CONFIG_NF_TABLES, CONFIG_NF_TABLES_INET', 'netlab trace and trace checks'),
  conntrack: feature(
    'conntrack',
    'connection tracking (-m conntrack, nat)',
    'nf_conntrack, xt_conntrack',
    'CONFIG_NF_CONNTRACK, CONFIG_NETFILTER_XT_MATCH_CONNTRACK',
    'iptables rules with -m conntrack or -m state, nat tables, SO_ORIGINAL_DST (labs/packet-flow.yaml, labs/redirect-proxy.yaml)',
    moduleFix('xt_conntrack'),
  ),
};

export const ALL_FEATURES = Object.keys(FEATURES) as Feature[];

/** Without these no lab can be built; the others are needed only by the labs that use them. */
export const REQUIRED_FEATURES: readonly Feature[] = ['veth', 'bridge'];

export interface Probe {
  ok: boolean;
  /** The failing command's stderr, or what was found. */
  detail: string;
  /** Set when the feature could not be tried because this tool is not installed (then the kernel may well have it). */
  tool?: string;
}

/** The probe could not run at all (no privileges, no `ip`, the namespace would not go away). */
export class ProbeError extends CliError {
  constructor(message: string, hint?: string) {
    super(message, EXIT.unsupported, hint);
    this.name = 'ProbeError';
  }
}

interface Step {
  argv: string[];
  input?: string;
  /** Prepares the real test (e.g. the veth a qdisc goes on): its failure is named as such. */
  setup?: string;
  /** Best effort, result ignored (module preloading). */
  ignore?: boolean;
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

/**
 * The real thing, per feature, each independent of the others (own interfaces, own names).
 * dummy and bonding create dummy0/bond0 in the host's root namespace when the module is loaded
 * with its defaults; loading them first with numdummies=0 / max_bonds=0 (a no-op when loaded
 * or built in, harmless without modprobe) keeps the probe from touching the host.
 */
const PROBES: Record<Feature, (ns: string) => Step[]> = {
  veth: (ns) => [{ argv: ip(ns, 'link', 'add', 'name', 'pv0', 'type', 'veth', 'peer', 'name', 'pv1') }],
  bridge: (ns) => [{ argv: ip(ns, 'link', 'add', 'name', 'pbr0', 'type', 'bridge') }],
  vxlan: (ns) => [{ argv: ip(ns, 'link', 'add', 'name', 'pvx0', 'type', 'vxlan', 'id', '42', 'dstport', '4789', 'local', '10.0.0.1') }],
  macvlan: (ns) => [vethPair(ns, 'pm0', 'pm1'), { argv: ip(ns, 'link', 'add', 'link', 'pm0', 'name', 'pmv0', 'type', 'macvlan', 'mode', 'bridge') }],
  netem: (ns) => [vethPair(ns, 'pn0', 'pn1'), { argv: qdisc(ns, 'pn0', 'netem', 'delay', '1ms') }],
  tbf: (ns) => [vethPair(ns, 'pt0', 'pt1'), { argv: qdisc(ns, 'pt0', 'tbf', 'rate', '1mbit', 'burst', '32kbit', 'latency', '400ms') }],
  htb: (ns) => [vethPair(ns, 'ph0', 'ph1'), { argv: qdisc(ns, 'ph0', 'handle', '1:', 'htb', 'default', '10') }],
  vlan: (ns) => [vethPair(ns, 'pq0', 'pq1'), { argv: ip(ns, 'link', 'add', 'link', 'pq0', 'name', 'pq0.10', 'type', 'vlan', 'id', '10') }],
  vrf: (ns) => [{ argv: ip(ns, 'link', 'add', 'name', 'pvrf0', 'type', 'vrf', 'table', '10') }],
  dummy: (ns) => [{ argv: ['modprobe', '-q', 'dummy', 'numdummies=0'], ignore: true }, { argv: ip(ns, 'link', 'add', 'name', 'pdu0', 'type', 'dummy') }],
  bond: (ns) => [{ argv: ['modprobe', '-q', 'bonding', 'max_bonds=0'], ignore: true }, { argv: ip(ns, 'link', 'add', 'name', 'pbo0', 'type', 'bond') }],
  wireguard: (ns) => [{ argv: ip(ns, 'link', 'add', 'name', 'pwg0', 'type', 'wireguard') }],
  tproxy: (ns) => [{ argv: inNs(ns, 'iptables', '-w', '-t', 'mangle', '-A', 'PREROUTING', '-p', 'tcp', '-j', 'TPROXY', '--on-port', '1', '--tproxy-mark', '0x1/0x1') }],
  'nft-trace': (ns) => [{ argv: inNs(ns, 'nft', '-f', '-'), input: NFT_TRACE_PROBE }],
  conntrack: (ns) => [{ argv: inNs(ns, 'iptables', '-w', '-t', 'filter', '-A', 'INPUT', '-m', 'conntrack', '--ctstate', 'ESTABLISHED,RELATED', '-j', 'ACCEPT') }],
};

const FOUND: Record<Feature, string> = {
  veth: 'created a veth pair',
  bridge: 'created a bridge',
  vxlan: 'created a vxlan device',
  macvlan: 'created a macvlan on a veth',
  netem: 'added a netem qdisc',
  tbf: 'added a tbf qdisc',
  htb: 'added an htb qdisc',
  vlan: 'created a VLAN sub-interface',
  vrf: 'created a VRF device',
  dummy: 'created a dummy interface',
  bond: 'created a bond',
  wireguard: 'created a WireGuard interface',
  tproxy: 'added an iptables TPROXY rule',
  'nft-trace': 'added an nft chain with meta nftrace set 1',
  conntrack: 'added an iptables -m conntrack rule',
};

/** The program a command runs, looking through `ip netns exec NS`. */
function programOf(argv: string[]): string {
  return argv[0] === 'ip' && argv[1] === 'netns' && argv[2] === 'exec' ? argv[4]! : argv[0]!;
}

const oneLine = (s: string): string =>
  s
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean)
    .join(' / ');

/** A missing program is exit 127 from the runner, or `ip netns exec`'s own complaint (exit 255). */
function missingProgram(argv: string[], r: RunResult): string | undefined {
  const prog = programOf(argv);
  if (r.exitCode === 127) return prog;
  if (argv[1] === 'netns' && /exec of "[^"]*" failed: No such file or directory/.test(r.stderr)) return prog;
  return undefined;
}

async function probeOne(runner: CommandRunner, ns: string, f: Feature): Promise<Probe> {
  for (const step of PROBES[f](ns)) {
    const r = await runner.run(step.argv, step.input !== undefined ? { input: step.input } : {});
    if (step.ignore) continue;
    const tool = missingProgram(step.argv, r);
    if (tool) return { ok: false, tool, detail: `cannot be tried: ${tool} is not installed` };
    if (r.exitCode !== 0) {
      const why = oneLine(r.stderr) || oneLine(r.stdout) || `exit ${r.exitCode}`;
      return { ok: false, detail: step.setup ? `could not create ${step.setup}: ${why}` : why };
    }
  }
  return { ok: true, detail: FOUND[f] };
}

export interface ProbeOptions {
  /** The probe namespace's name (tests); default netlab-probe-<pid>-<random>. */
  namespace?: string;
  /** How many features are tried at once. */
  concurrency?: number;
}

export const PROBE_PREFIX = 'netlab-probe-';

/** Probes the given kernel features for real, in one throwaway namespace that is always deleted. */
export async function probeFeatures(runner: CommandRunner, features: Feature[], opts: ProbeOptions = {}): Promise<Map<Feature, Probe>> {
  const wanted = [...new Set(features)];
  const results = new Map<Feature, Probe>();
  if (!wanted.length) return results;
  const ns = opts.namespace ?? `${PROBE_PREFIX}${process.pid}-${randomHex(3)}`;
  const add = await runner.run(['ip', 'netns', 'add', ns]);
  if (add.exitCode !== 0) {
    const why = add.exitCode === 127 ? 'ip is not installed (Debian/Ubuntu: apt-get install iproute2; Fedora: dnf install iproute)' : oneLine(add.stderr) || `exit ${add.exitCode}`;
    throw new ProbeError(
      `cannot probe kernel features: could not create the probe namespace ${ns}: ${why}`,
      add.exitCode === 127 ? undefined : 'probing needs root (CAP_NET_ADMIN and CAP_SYS_ADMIN): run as root; netlab doctor lists what is missing',
    );
  }
  let failure: unknown;
  try {
    // Collect every outcome before the namespace goes: nothing may still run in it when it is deleted.
    await parallel(wanted, opts.concurrency ?? 6, async (f) => {
      try {
        results.set(f, await probeOne(runner, ns, f));
      } catch (e) {
        failure ??= e;
      }
    });
  } finally {
    const del = await runner.run(['ip', 'netns', 'del', ns]).catch((e: Error) => ({ exitCode: 1, stderr: e.message, stdout: '' }));
    if (del.exitCode !== 0) {
      const again = await runner.run(['ip', 'netns', 'del', ns]).catch((e: Error) => ({ exitCode: 1, stderr: e.message, stdout: '' }));
      if (again.exitCode !== 0) failure ??= new ProbeError(`could not delete the probe namespace ${ns}: ${oneLine(again.stderr) || `exit ${again.exitCode}`}`, `remove it by hand: ip netns del ${ns}`);
    }
  }
  if (failure) throw failure;
  return new Map(wanted.map((f) => [f, results.get(f)!]));
}

/** One line for an error: "this kernel lacks 802.1q VLAN (module 8021q, CONFIG_VLAN_8021Q), needed by <usedBy>: <detail>; fix: ...". */
export function missingFeatureText(feature: Feature, probe: Probe): string {
  const info = FEATURES[feature];
  if (probe.tool) {
    const t = TOOLS.find((x) => x.name === probe.tool);
    const fix = t ? `Debian/Ubuntu: apt-get install ${t.debian}; Fedora: dnf install ${t.fedora}` : `install ${probe.tool}`;
    return `cannot check for ${info.title} (needed by ${info.usedBy}): ${probe.tool} is not installed; fix: ${fix}`;
  }
  return (
    `this kernel lacks ${info.title} (module ${info.module}, ${info.kconfig}), needed by ${info.usedBy}: ${probe.detail}; ` +
    `fix: Debian/Ubuntu: ${info.fix.debian}; Fedora: ${info.fix.fedora}; custom kernel: ${kconfigFix(info.kconfig)}`
  );
}

const kconfigFix = (kconfig: string): string =>
  kconfig
    .split(/,\s*/)
    .map((k) => `${k}=m`)
    .join(', ');

// ---------------------------------------------------------------------------------------------
// Tools

export type ToolName =
  | 'ip'
  | 'iptables'
  | 'iptables-restore'
  | 'iptables-save'
  | 'ip6tables'
  | 'ip6tables-restore'
  | 'ip6tables-save'
  | 'nsenter'
  | 'sysctl'
  | 'ping'
  | 'nft'
  | 'tc'
  | 'bridge'
  | 'tcpdump'
  | 'socat'
  | 'conntrack'
  | 'python3';

export interface ToolInfo {
  name: ToolName;
  /** How to ask for the version. */
  versionArgs: string[];
  required: boolean;
  /** What needs it. */
  usedBy: string;
  /** Package names. */
  debian: string;
  fedora: string;
}

export const TOOLS: readonly ToolInfo[] = [
  { name: 'ip', versionArgs: ['-V'], required: true, usedBy: 'everything (namespaces, links, addresses, routes)', debian: 'iproute2', fedora: 'iproute' },
  { name: 'iptables', versionArgs: ['-V'], required: true, usedBy: 'iptables fields, host rules', debian: 'iptables', fedora: 'iptables-nft' },
  { name: 'iptables-restore', versionArgs: ['-V'], required: true, usedBy: 'iptables fields (applied atomically)', debian: 'iptables', fedora: 'iptables-nft' },
  { name: 'iptables-save', versionArgs: ['-V'], required: true, usedBy: 'reading iptables state (plan, up, down)', debian: 'iptables', fedora: 'iptables-nft' },
  { name: 'ip6tables', versionArgs: ['-V'], required: false, usedBy: 'ip6tables fields', debian: 'iptables', fedora: 'iptables-nft' },
  { name: 'ip6tables-restore', versionArgs: ['-V'], required: false, usedBy: 'ip6tables fields', debian: 'iptables', fedora: 'iptables-nft' },
  { name: 'ip6tables-save', versionArgs: ['-V'], required: false, usedBy: 'ip6tables fields', debian: 'iptables', fedora: 'iptables-nft' },
  { name: 'nsenter', versionArgs: ['--version'], required: true, usedBy: 'reading the state of lab namespaces (plan, up, status, gc)', debian: 'util-linux', fedora: 'util-linux-core' },
  { name: 'sysctl', versionArgs: ['-V'], required: true, usedBy: 'nodes.*.sysctls, host.sysctls (and restoring them on down)', debian: 'procps', fedora: 'procps-ng' },
  { name: 'ping', versionArgs: ['-V'], required: true, usedBy: 'reach and ping checks', debian: 'iputils-ping', fedora: 'iputils' },
  { name: 'nft', versionArgs: ['-v'], required: false, usedBy: 'netlab trace, trace checks', debian: 'nftables', fedora: 'nftables' },
  { name: 'tc', versionArgs: ['-V'], required: false, usedBy: 'link impairments (delay, jitter, loss, rate, limit), netlab impair', debian: 'iproute2', fedora: 'iproute-tc' },
  { name: 'bridge', versionArgs: ['-V'], required: false, usedBy: 'inspecting bridge ports and FDBs by hand', debian: 'iproute2', fedora: 'iproute' },
  { name: 'tcpdump', versionArgs: ['--version'], required: false, usedBy: 'netlab capture', debian: 'tcpdump', fedora: 'tcpdump' },
  { name: 'socat', versionArgs: ['-V'], required: false, usedBy: 'tcp and udp checks, lab processes that run it', debian: 'socat', fedora: 'socat' },
  { name: 'conntrack', versionArgs: ['--version'], required: false, usedBy: 'inspecting connection tracking (netlab exec LAB NODE -- conntrack -L)', debian: 'conntrack', fedora: 'conntrack-tools' },
  { name: 'python3', versionArgs: ['--version'], required: false, usedBy: 'the origdst-echo.py helper (labs/redirect-proxy.yaml)', debian: 'python3', fedora: 'python3' },
];

export interface ToolReport {
  name: ToolName;
  ok: boolean;
  required: boolean;
  usedBy: string;
  /** "iproute2-6.1.0", "1.8.9", ... or undefined when not found or not recognised. */
  version?: string;
  /** iptables family only: which kernel interface it drives. */
  backend?: 'nf_tables' | 'legacy';
  /** What was found, or why it is not ok. */
  detail: string;
  /** Packages to install, when missing. */
  fix?: { debian: string; fedora: string };
}

/** `iptables v1.8.9 (nf_tables)` -> 1.8.9, nf_tables; `iptables v1.8.7 (legacy)` and pre-1.8 `iptables v1.6.1` -> legacy. */
export function parseIptablesVersion(text: string): { version?: string; backend?: 'nf_tables' | 'legacy' } {
  const m = /\bv(\d+(?:\.\d+)+)(?:\s*\((nf_tables|legacy)\))?/.exec(text);
  if (!m) return {};
  return { version: m[1]!, backend: (m[2] as 'nf_tables' | 'legacy' | undefined) ?? 'legacy' };
}

/** The version a tool printed, in the words people search for. */
export function parseToolVersion(name: ToolName, text: string): string | undefined {
  const first = (re: RegExp) => re.exec(text)?.[1];
  switch (name) {
    case 'ip':
    case 'tc':
      return first(/\b(iproute2-[\w.]+)/);
    case 'bridge':
      return first(/\b(iproute2-[\w.]+)/) ?? first(/bridge utility,\s*([\w.-]+)/);
    case 'ping':
      return first(/\b(iputils[- ][\w.]+)/) ?? first(/\b(iputils-s\d+)/);
    case 'nsenter':
      return first(/\b(util-linux [\w.]+)/);
    case 'sysctl':
      return first(/\b(procps-ng [\w.]+)/) ?? first(/\bprocps(?:-ng)? version ([\w.]+)/);
    case 'python3':
      return first(/Python (\d[\w.]*)/);
    case 'tcpdump':
      return first(/tcpdump version ([\w.]+)/);
    case 'socat':
      return first(/socat version ([\w.]+)/);
    case 'nft':
      return first(/nftables v([\w.]+)/);
    case 'conntrack':
      return first(/conntrack v([\w.]+)/);
    default:
      return parseIptablesVersion(text).version;
  }
}

/** Each tool: found (with its version) or missing (with the packages that bring it). */
export async function probeTools(runner: CommandRunner): Promise<ToolReport[]> {
  return parallel([...TOOLS], 8, async (t): Promise<ToolReport> => {
    const base = { name: t.name, required: t.required, usedBy: t.usedBy };
    const r = await runner.run([t.name, ...t.versionArgs]);
    if (r.exitCode === 127 || r.exitCode === 126) {
      return {
        ...base,
        ok: false,
        detail: r.exitCode === 127 ? 'not installed' : `cannot run: ${oneLine(r.stderr)}`,
        fix: { debian: `apt-get install ${t.debian}`, fedora: `dnf install ${t.fedora}` },
      };
    }
    const text = `${r.stdout}\n${r.stderr}`;
    const version = parseToolVersion(t.name, text);
    const backend = /tables/.test(t.name) && t.name !== 'nft' ? parseIptablesVersion(text).backend : undefined;
    const shown = version ? `${version}${backend ? ` (${backend})` : ''}` : 'version unknown';
    return { ...base, ok: true, ...(version ? { version } : {}), ...(backend ? { backend } : {}), detail: shown };
  });
}

// ---------------------------------------------------------------------------------------------
// Privileges

export { probePrivileges, type Privileges } from './privileges.js';

// ---------------------------------------------------------------------------------------------
// The network namespace netlab runs in

export interface NetnsInfo {
  /** Is it the machine's initial network namespace (not a container, a CI pod, unshare --net)? */
  initial: boolean;
  detail: string;
}

/**
 * The kernel registers net/ipv4/neigh/default only in the initial network namespace: its presence
 * tells netlab's own namespace apart from a container's or a CI pod's, whatever their pid namespace.
 * Lab namespaces are the same in both; host sysctls and kernel modules are not.
 */
export function probeNetns(neighDefault = existsSync('/proc/sys/net/ipv4/neigh/default')): NetnsInfo {
  return neighDefault
    ? { initial: true, detail: "the machine's initial network namespace" }
    : {
        initial: false,
        detail:
          'not the initial network namespace (a container, a CI pod, unshare --net): labs work the same; host sysctls that exist only in the initial one (net.ipv4.neigh.default.*, most of net.core.*) fail at up, and a missing kernel module must be loaded on the machine itself',
      };
}
