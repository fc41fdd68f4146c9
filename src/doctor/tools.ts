// doctor/tools: the programs netlab runs, one entry each (what needs it, the packages that bring
// it), and how each prints its version.
import { type CommandRunner, parallel } from '../runner/runner.js';

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
  | 'ipset'
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

/** Every tool netlab knows, in the order doctor prints them. */
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
  { name: 'nft', versionArgs: ['-v'], required: false, usedBy: 'netlab trace, trace checks, nft rules in netlab counters', debian: 'nftables', fedora: 'nftables' },
  { name: 'tc', versionArgs: ['-V'], required: false, usedBy: 'link impairments (delay, jitter, loss, rate, limit), netlab impair', debian: 'iproute2', fedora: 'iproute-tc' },
  { name: 'bridge', versionArgs: ['-V'], required: false, usedBy: 'inspecting bridge ports and FDBs by hand', debian: 'iproute2', fedora: 'iproute' },
  { name: 'tcpdump', versionArgs: ['--version'], required: false, usedBy: 'netlab capture', debian: 'tcpdump', fedora: 'tcpdump' },
  { name: 'socat', versionArgs: ['-V'], required: false, usedBy: 'tcp and udp checks, lab processes that run it', debian: 'socat', fedora: 'socat' },
  { name: 'conntrack', versionArgs: ['--version'], required: false, usedBy: "netlab conntrack (a node's tracked connections)", debian: 'conntrack', fedora: 'conntrack-tools' },
  { name: 'ipset', versionArgs: ['version'], required: false, usedBy: 'nodes.*.ipsets (created, changed and read in lab namespaces)', debian: 'ipset', fedora: 'ipset' },
  { name: 'python3', versionArgs: ['--version'], required: false, usedBy: 'the origdst-echo.py helper (labs/redirect-proxy.yaml)', debian: 'python3', fedora: 'python3' },
];

/** How to install a tool: "Debian/Ubuntu: apt-get install iproute2; Fedora: dnf install iproute-tc", or "install NAME" for one netlab does not know. */
export function toolFixText(name: string): string {
  const t = TOOLS.find((x) => x.name === name);
  return t ? `Debian/Ubuntu: apt-get install ${t.debian}; Fedora: dnf install ${t.fedora}` : `install ${name}`;
}

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

/** A command's output on one line, for a report or an error. */
export const oneLine = (s: string): string =>
  s
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean)
    .join(' / ');

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
    case 'ipset':
      return first(/ipset v([\w.]+)/);
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
