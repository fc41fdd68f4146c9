// observe: reads what the kernel has now, for the namespaces and objects a lab concerns.
import { availableParallelism } from 'node:os';
import { HOST, tableKey, type DesiredState, type Family, type HostRule, type IptTable, type ObservedNs, type ObservedState } from '../model/types.js';
import { parallel, type CommandRunner } from '../runner/runner.js';
import type { Journal } from '../state/journal.js';
import { hostComment, normalizeSave, saveTool } from '../render/iptables.js';
import { startTimes } from '../apply/processes.js';
import { parseQdiscs } from '../model/impair.js';
import { parseLinks, parseNetnsList, parseRoutes, parseRules, parseSysctlGrep, splitJsonDocs } from './parse.js';

export class ObserveError extends Error {}

export function concurrency(): number {
  return Math.max(2, availableParallelism());
}

async function must(runner: CommandRunner, argv: string[], input?: string): Promise<string> {
  const r = await runner.run(argv, input !== undefined ? { input } : {});
  if (r.exitCode !== 0) throw new ObserveError(`reading the kernel's state failed: ${argv.join(' ')}: ${r.stderr.trim() || `exit ${r.exitCode}`}`);
  return r.stdout;
}

export async function listNetns(runner: CommandRunner): Promise<Set<string>> {
  return parseNetnsList(await must(runner, ['ip', '-j', 'netns', 'list']));
}

function nsExec(ns: string, argv: string[]): string[] {
  return ns === HOST ? argv : ['ip', 'netns', 'exec', ns, ...argv];
}

/** Reads iptables-save for one namespace and family: table -> normalized text. */
export async function readIptables(runner: CommandRunner, ns: string, family: Family): Promise<Map<string, string>> {
  return normalizeSave(await must(runner, nsExec(ns, [saveTool(family)])));
}

export async function readSysctls(runner: CommandRunner, ns: string, keys: string[]): Promise<Map<string, string>> {
  if (keys.length === 0) return new Map();
  const r = await runner.run(nsExec(ns, ['grep', '-H', '-s', '', ...keys.map((k) => `/proc/sys/${k}`)]));
  // grep exits 2 when a file is missing; the keys it could read are still printed.
  return parseSysctlGrep(r.stdout);
}

/** Host rules tagged with the lab's comment, as iptables-save prints them. */
export function taggedRules(saved: Map<string, string>, family: Family, lab: string): HostRule[] {
  const out: HostRule[] = [];
  const tag = hostComment(lab);
  for (const [table, text] of saved) {
    for (const line of text.split('\n')) {
      const m = /^-A (\S+) (.*)$/.exec(line);
      if (!m) continue;
      const toks = m[2]!.split(/\s+/);
      const i = toks.indexOf('--comment');
      if (i >= 0 && toks[i + 1]?.replace(/^"|"$/g, '') === tag) out.push({ family, table: table as IptTable, chain: m[1]!, spec: m[2]! });
    }
  }
  return out;
}

export async function observeNamespace(runner: CommandRunner, ns: string, opts: { v6rules: boolean; sysctls: string[]; iptables: Family[]; qdiscs?: boolean }): Promise<ObservedNs> {
  const base = ns === HOST ? ['ip', '-j', '-d', '-batch', '-'] : ['ip', '-n', ns, '-j', '-d', '-batch', '-'];
  const docs = splitJsonDocs(await must(runner, base, ns === HOST ? 'addr show\n' : 'addr show\nroute show table all\nrule show\n'));
  const links = parseLinks(docs[0] ?? []);
  const routes = ns === HOST ? [] : parseRoutes(docs[1] ?? []);
  const rules = ns === HOST ? [] : parseRules(docs[2] ?? [], 'ipv4');
  if (opts.v6rules && ns !== HOST) {
    rules.push(...parseRules(JSON.parse((await must(runner, ['ip', '-6', '-n', ns, '-j', 'rule', 'show'])).trim() || '[]') as unknown[], 'ipv6'));
  }
  if (opts.qdiscs) {
    // Impairments (netem, tbf) are root qdiscs: read only where the lab has or had some.
    const text = await must(runner, ['tc', ...(ns === HOST ? [] : ['-n', ns]), '-j', 'qdisc', 'show']);
    for (const [dev, q] of parseQdiscs(JSON.parse(text.trim() || '[]') as unknown[])) {
      const l = links.get(dev);
      if (l) l.qdisc = q;
    }
  }
  const sysctls = await readSysctls(runner, ns, opts.sysctls);
  const iptables = new Map<string, string>();
  if (ns !== HOST) {
    for (const family of opts.iptables) {
      for (const [table, text] of await readIptables(runner, ns, family)) iptables.set(tableKey(family, table as IptTable), text);
    }
  }
  const lo = links.get('lo');
  return { links, routes, rules, sysctls, iptables, ...(ns !== HOST && lo?.alias ? { mark: lo.alias } : {}) };
}

/** Observes every namespace the desired state or the journal names, and the host. */
export async function observe(runner: CommandRunner, desired: DesiredState, journal: Journal | undefined): Promise<ObservedState> {
  const netns = await listNetns(runner);
  const names = new Set([HOST, ...desired.namespaces, ...(journal?.namespaces ?? [])]);
  const targets = [...names].filter((n) => n === HOST || netns.has(n));
  const results = await parallel(targets, concurrency(), async (ns) => {
    const want = desired.ns.get(ns);
    // A lab namespace is the lab's alone: its IPv4 tables are read even when the lab declares
    // none, so that rules added by hand are seen (and reset by up).
    const families = new Set<Family>(ns === HOST ? [] : ['ipv4']);
    for (const k of [...(want?.iptables.keys() ?? []), ...Object.keys(journal?.iptables[ns] ?? {})]) families.add(k.split('/')[0] as Family);
    const sysctls = new Set([...(want?.sysctls.keys() ?? []), ...Object.keys(journal?.sysctls[ns] ?? {})]);
    if (ns === HOST) for (const k of desired.hostSysctls.keys()) sysctls.add(k);
    const v6rules = (want?.rules.some((r) => r.family === 'ipv6') ?? false) || (journal?.v6rules.includes(ns) ?? false);
    const qdiscs = [...(want?.links.values() ?? [])].some((l) => l.qdisc) || (journal?.impaired?.includes(ns) ?? false);
    return [ns, await observeNamespace(runner, ns, { v6rules, sysctls: [...sysctls], iptables: [...families], qdiscs })] as const;
  });
  const ns = new Map(results);
  const hostIptables: HostRule[] = [];
  const hostFamilies = new Set<Family>([...desired.hostIptables, ...(journal?.hostIptables ?? [])].map((r) => r.family));
  const hostTables: ObservedState['hostTables'] = {};
  for (const family of hostFamilies) {
    const saved = await readIptables(runner, HOST, family);
    hostTables[family] = [...saved.keys()];
    hostIptables.push(...taggedRules(saved, family, desired.lab));
  }
  const processes = new Map<string, { pid: number; alive: boolean }>();
  const recs = Object.entries(journal?.processes ?? {});
  const starts = await startTimes(runner, recs.map(([, r]) => r.pid));
  for (const [key, r] of recs) processes.set(key, { pid: r.pid, alive: starts.get(r.pid) === r.start });
  return { netns, ns, hostSysctls: ns.get(HOST)!.sysctls, hostIptables, hostTables, processes };
}
