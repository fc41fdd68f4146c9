// doctor/probe: kernel features tried for real, never guessed from files: each feature's steps
// (doctor/features.ts) run in one throwaway namespace that is always deleted.
import { CliError, EXIT } from '../core/errors.js';
import { randomHex } from '../hash.js';
import type { Feature } from '../model/features.js';
import { type CommandRunner, parallel, type RunResult } from '../runner/runner.js';
import { customKernelFix, FEATURES } from './features.js';
import { oneLine, toolFixText } from './tools.js';

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

/** The program a command runs, looking through `ip netns exec NS`. */
function programOf(argv: string[]): string {
  return argv[0] === 'ip' && argv[1] === 'netns' && argv[2] === 'exec' ? argv[4]! : argv[0]!;
}

/** A missing program is exit 127 from the runner, or `ip netns exec`'s own complaint (exit 255). */
function missingProgram(argv: string[], r: RunResult): string | undefined {
  const prog = programOf(argv);
  if (r.exitCode === 127) return prog;
  if (argv[1] === 'netns' && /exec of "[^"]*" failed: No such file or directory/.test(r.stderr)) return prog;
  return undefined;
}

async function probeOne(runner: CommandRunner, ns: string, f: Feature): Promise<Probe> {
  const info = FEATURES[f];
  for (const step of info.probe(ns)) {
    const r = await runner.run(step.argv, step.input !== undefined ? { input: step.input } : {});
    if (step.ignore) continue;
    const tool = missingProgram(step.argv, r);
    if (tool) return { ok: false, tool, detail: `cannot be tried: ${tool} is not installed` };
    if (r.exitCode !== 0) {
      const why = oneLine(r.stderr) || oneLine(r.stdout) || `exit ${r.exitCode}`;
      return { ok: false, detail: step.setup ? `could not create ${step.setup}: ${why}` : why };
    }
  }
  return { ok: true, detail: info.found };
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
  if (probe.tool) return `cannot check for ${info.title} (needed by ${info.usedBy}): ${probe.tool} is not installed; fix: ${toolFixText(probe.tool)}`;
  return (
    `this kernel lacks ${info.title} (module ${info.module}, ${info.kconfig}), needed by ${info.usedBy}: ${probe.detail}; ` +
    `fix: Debian/Ubuntu: ${info.fix.debian}; Fedora: ${info.fix.fedora}; custom kernel: ${customKernelFix(info)}`
  );
}
