// doctor/report: the facts `netlab doctor` gathers (tools, privileges, the namespace netlab runs
// in, kernel features, the host's firewall) and their verdict, as an object and as lines.
import { existsSync } from 'node:fs';
import { release } from 'node:os';
import { EXIT } from '../core/errors.js';
import type { Feature } from '../model/features.js';
import { BRIDGE_NF, conditionText, firewallOf, guardsNeeded } from '../model/hoststate.js';
import type { Family, HostFirewall } from '../model/types.js';
import { hostFiles, type HostFiles } from '../observe/files.js';
import { columns } from '../core/table.js';
import { type Privileges, probePrivileges } from '../privileges.js';
import { normalizeSave, saveTool } from '../render/iptables.js';
import type { CommandRunner } from '../runner/runner.js';
import { ALL_FEATURES, customKernelFix, FEATURES } from './features.js';
import { type Probe, ProbeError, probeFeatures, missingFeatureText } from './probe.js';
import { probeTools, type ToolReport } from './tools.js';

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

export interface FeatureReport {
  feature: Feature;
  title: string;
  required: boolean;
  /** ok / missing, or not probed (no privileges to create a namespace). */
  status: 'ok' | 'missing' | 'not probed';
  module: string;
  kconfig: string;
  usedBy: string;
  /** What the probe saw: the failing command's stderr, or what it made. */
  detail: string;
  /** The tool that was missing to try it (then the kernel may have it). */
  tool?: string;
  fix?: { debian: string; fedora: string; customKernel: string };
  /** The one-line error `up` would print. */
  text?: string;
}

export interface DoctorReport {
  /** Everything required is here: exit 0. */
  ok: boolean;
  kernel: string;
  node: string;
  tools: ToolReport[];
  privileges: Privileges;
  /** The network namespace netlab runs in: the initial one, or a container's. */
  namespace: NetnsInfo;
  featuresProbed: boolean;
  probeMs?: number;
  /** Why the kernel features were not probed (no privileges, the namespace could not be made). */
  notProbedWhy?: string;
  features: FeatureReport[];
  /** Names of what is required and missing (tools, "privileges", features). */
  missingRequired: string[];
  /** Features that could not be tried (no privileges): their verdict is unknown. */
  notProbed: Feature[];
  /** Names of optional tools and features that are missing. */
  missingOptional: string[];
  notes: string[];
  /** Per family: does this host's iptables see bridged traffic and may drop it (a Docker host)? */
  hostFirewall?: Partial<Record<Family, HostFirewall & { guards: boolean }>>;
}

/** The host's FORWARD policy, DOCKER-USER and bridge-nf-call-* per family; nothing for a family whose save fails. */
async function hostFirewall(runner: CommandRunner, files: HostFiles = hostFiles): Promise<Partial<Record<Family, HostFirewall & { guards: boolean }>>> {
  const out: Partial<Record<Family, HostFirewall & { guards: boolean }>> = {};
  const sysctls = files.sysctls(Object.values(BRIDGE_NF));
  for (const family of ['ipv4', 'ipv6'] as Family[]) {
    const r = await runner.run([saveTool(family), '-t', 'filter']).catch(() => undefined);
    if (r?.exitCode !== 0) continue;
    const fw = firewallOf(normalizeSave(r.stdout).get('filter'), sysctls.get(BRIDGE_NF[family]));
    out[family] = { ...fw, guards: guardsNeeded(fw) };
  }
  return out;
}

/** Gathers the facts; changes nothing on the host (the probe namespace is deleted again). */
export async function doctor(runner: CommandRunner, opts: { privileges?: Privileges; features?: Feature[]; namespace?: NetnsInfo; files?: HostFiles } = {}): Promise<DoctorReport> {
  const privileges = opts.privileges ?? probePrivileges();
  const namespace = opts.namespace ?? probeNetns();
  const wanted = opts.features ?? ALL_FEATURES;
  const [tools, probed] = await Promise.all([
    probeTools(runner),
    privileges.ok
      ? (async (): Promise<{ m: Map<Feature, Probe>; ms: number } | { error: string }> => {
          const t0 = performance.now();
          try {
            const m = await probeFeatures(runner, wanted);
            return { m, ms: Math.round(performance.now() - t0) };
          } catch (e) {
            // The namespace could not be made (or removed): say why, still report the rest.
            if (e instanceof ProbeError) return { error: `${e.message}${e.hint ? ` (${e.hint})` : ''}` };
            throw e;
          }
        })()
      : Promise.resolve(undefined),
  ]);
  const firewall = privileges.ok ? await hostFirewall(runner, opts.files) : undefined;
  const found = probed && 'm' in probed ? probed : undefined;
  const notProbedWhy = !privileges.ok
    ? 'not probed: trying a feature needs root (CAP_NET_ADMIN and CAP_SYS_ADMIN) to create a throwaway namespace'
    : probed && 'error' in probed
      ? `not probed: ${probed.error}`
      : '';
  const features: FeatureReport[] = wanted.map((f) => {
    const info = FEATURES[f];
    const base = { feature: f, title: info.title, required: info.required, module: info.module, kconfig: info.kconfig, usedBy: info.usedBy };
    const p = found?.m.get(f);
    if (!p) return { ...base, status: 'not probed' as const, detail: notProbedWhy };
    if (p.ok) return { ...base, status: 'ok' as const, detail: p.detail };
    return {
      ...base,
      status: 'missing' as const,
      detail: p.detail,
      ...(p.tool ? { tool: p.tool } : {}),
      fix: { ...info.fix, customKernel: customKernelFix(info) },
      text: missingFeatureText(f, p),
    };
  });
  const missingRequired = [
    ...tools.filter((t) => t.required && !t.ok).map((t) => t.name),
    ...(privileges.ok ? [] : ['privileges']),
    ...features.filter((f) => f.required && f.status === 'missing').map((f) => f.feature),
  ];
  const missingOptional = [...tools.filter((t) => !t.required && !t.ok).map((t) => t.name), ...features.filter((f) => !f.required && f.status === 'missing').map((f) => f.feature)];
  return {
    ok: missingRequired.length === 0 && !!found,
    kernel: release(),
    node: process.version,
    tools,
    privileges,
    namespace,
    featuresProbed: !!found,
    ...(found ? { probeMs: found.ms } : {}),
    ...(notProbedWhy ? { notProbedWhy } : {}),
    features,
    missingRequired,
    notProbed: features.filter((f) => f.status === 'not probed').map((f) => f.feature),
    missingOptional,
    notes: [...notesOf(tools), ...firewallNotes(firewall)],
    ...(firewall ? { hostFirewall: firewall } : {}),
  };
}

function firewallNotes(fw: DoctorReport['hostFirewall']): string[] {
  return (['ipv4', 'ipv6'] as Family[]).flatMap((f) => {
    const x = fw?.[f];
    if (!x?.guards) return [];
    return [
      `${conditionText(f, x)} and would be dropped there; netlab up accepts the traffic within each of a lab's host bridges with '-i BRIDGE -o BRIDGE -j ACCEPT' first in ${x.dockerUser ? 'DOCKER-USER' : 'FORWARD'}, tagged netlab:LAB and removed by down`,
    ];
  });
}

function notesOf(tools: ToolReport[]): string[] {
  const notes: string[] = [];
  const backends = new Map(tools.filter((t) => t.backend).map((t) => [t.name, t.backend!]));
  if (new Set(backends.values()).size > 1)
    notes.push(
      `the iptables tools disagree on the backend (${[...backends].map(([n, b]) => `${n}: ${b}`).join(', ')}): point them at one (update-alternatives --config iptables and ip6tables on Debian/Ubuntu)`,
    );
  if (backends.get('iptables') === 'legacy')
    notes.push('iptables uses the legacy backend: netlab trace follows packets through nftables only, so it does not show the rules iptables-legacy made (iptables-nft rules it does show)');
  const [maj, min] = process.versions.node.split('.').map(Number);
  if (maj! < 20 || (maj === 20 && min! < 5)) notes.push(`Node.js ${process.version} is older than the 20.5 netlab is built for`);
  return notes;
}

/** The status column's width ('MISSING'), so that every list of the report lines up. */
const STATUS_W = 7;

/** The report as lines for a terminal. */
export function formatDoctor(r: DoctorReport): string[] {
  const out: string[] = [];
  out.push(`netlab doctor: kernel ${r.kernel} (uname -r), Node.js ${r.node}`);
  out.push('', 'tools');
  const toolLines = columns(
    r.tools.map((t) => [t.ok ? 'ok' : 'MISSING', t.name, t.ok ? t.detail : '-', t.required ? 'required' : 'optional', t.usedBy]),
    { min: [STATUS_W, 0, Math.max(...r.tools.map((t) => t.detail.length), 10), 8] },
  );
  for (const [i, t] of r.tools.entries()) {
    out.push(`  ${toolLines[i]}`);
    if (t.fix) out.push(`  ${' '.repeat(9)}fix: Debian/Ubuntu: ${t.fix.debian}; Fedora: ${t.fix.fedora}`);
  }
  out.push('', 'privileges');
  out.push(`  ${columns([[r.privileges.ok ? 'ok' : 'MISSING', r.privileges.detail]], { min: [STATUS_W] })[0]}`);
  out.push('', 'network namespace');
  out.push(`  ${columns([[r.namespace.initial ? 'initial' : 'other', r.namespace.detail]], { min: [STATUS_W] })[0]}`);
  out.push('', r.featuresProbed ? `kernel features (each tried for real in a throwaway namespace, ${r.probeMs} ms)` : 'kernel features');
  if (!r.featuresProbed) {
    out.push(
      r.privileges.ok
        ? `  ${r.notProbedWhy}`
        : `  not probed: trying them needs root (CAP_NET_ADMIN and CAP_SYS_ADMIN) to create a throwaway namespace; ${r.privileges.root ? 'run netlab doctor where root has them' : 'run sudo netlab doctor'}`,
    );
  } else {
    const featureLines = columns(
      r.features.map((f) => [f.status === 'ok' ? 'ok' : 'MISSING', f.title, f.required ? 'required' : 'optional', f.usedBy]),
      { min: [STATUS_W, 0, 8] },
    );
    for (const [i, f] of r.features.entries()) {
      out.push(`  ${featureLines[i]}`);
      if (f.status !== 'missing') continue;
      const indent = ' '.repeat(11);
      out.push(`${indent}${f.tool ? '' : `module ${f.module}, ${f.kconfig}: `}${f.detail}`);
      if (f.tool) out.push(`${indent}fix: install ${f.tool} (see tools above), then run netlab doctor again`);
      else {
        // Modules are the machine's: a container cannot load them for itself.
        out.push(`${indent}fix${r.namespace.initial ? '' : ' (on the machine itself, not in this namespace)'}: Debian/Ubuntu: ${f.fix!.debian}`);
        out.push(`${indent}     Fedora: ${f.fix!.fedora}`);
        out.push(`${indent}     custom kernel: ${f.fix!.customKernel}`);
      }
    }
  }
  for (const n of r.notes) out.push('', `note: ${n}`);
  out.push('');
  if (r.ok) {
    const opt = r.missingOptional;
    out.push(
      `verdict: ready: everything netlab requires is here${opt.length ? `; optional and missing: ${opt.join(', ')}: only what uses them will not work (up refuses a lab that needs a missing feature, naming it)` : '; nothing is missing'}`,
    );
  } else {
    out.push(`verdict: NOT ready (exit ${EXIT.unsupported}): required and missing: ${r.missingRequired.join(', ') || 'nothing found missing, but the kernel features could not be probed'}`);
    if (r.missingOptional.length) out.push(`         optional and missing: ${r.missingOptional.join(', ')}`);
    if (!r.featuresProbed)
      out.push(
        `         kernel features not probed${r.privileges.ok ? '' : ' (needs CAP_NET_ADMIN and CAP_SYS_ADMIN)'}, so unknown: ${r.notProbed.join(', ')}${r.privileges.ok || r.privileges.root ? '' : ': run sudo netlab doctor'}`,
      );
  }
  return out;
}
