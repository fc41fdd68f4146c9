// observe: reads what the kernel has now, for the namespaces and objects a lab concerns.
import { availableParallelism } from 'node:os';
import { HOST, tableKey, type DesiredState, type Family, type HostRule, type IptTable, type ObservedNs, type ObservedState } from '../model/types.js';
import { runMany, type Command, type CommandRunner, type RunResult } from '../runner/runner.js';
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

/** Reads the host's iptables-save for one family: table -> normalized text. */
export async function readHostIptables(runner: CommandRunner, family: Family): Promise<Map<string, string>> {
  return normalizeSave(await must(runner, [saveTool(family)]));
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

interface NsReadOptions {
  v6rules: boolean;
  sysctls: string[];
  iptables: Family[];
  qdiscs?: boolean;
}

/**
 * The commands that read one namespace. A lab namespace is read by ONE process: an
 * `ip -n NS -j -d -batch -` whose batch also runs the other readers with `netns exec`, which
 * ip forks (after flushing its own output) and waits for, so their output follows ip's in
 * batch order. That is one ip and one fork per extra reader, instead of a spawn of
 * `ip netns exec` plus the reader each (measured: about a quarter less time at N=200).
 * The order is fixed for parseNs: the JSON readers first (one line each), then the
 * iptables-save texts, then the sysctl grep last (grep exits 2 when a key is missing, which
 * stops the batch, so nothing may follow it).
 */
function nsReads(ns: string, opts: NsReadOptions): Command[] {
  const sysctlFiles = opts.sysctls.map((k) => `/proc/sys/${k}`);
  if (ns === HOST) {
    const cmds: Command[] = [{ argv: ['ip', '-j', '-d', '-batch', '-'], input: 'addr show\n' }];
    // Impairments (netem, tbf) are root qdiscs: read only where the lab has or had some.
    if (opts.qdiscs) cmds.push({ argv: ['tc', '-j', 'qdisc', 'show'] });
    if (sysctlFiles.length) cmds.push({ argv: ['grep', '-H', '-s', '', ...sysctlFiles] });
    return cmds;
  }
  const exec = (argv: string[]): string => `netns exec ${ns} ${argv.join(' ')}`;
  const lines = ['addr show', 'route show table all', 'rule show'];
  if (opts.v6rules) lines.push(exec(['ip', '-6', '-j', 'rule', 'show']));
  if (opts.qdiscs) lines.push(exec(['tc', '-j', 'qdisc', 'show']));
  for (const family of opts.iptables) lines.push(exec([saveTool(family)]));
  if (sysctlFiles.length) lines.push(exec(['grep', '-H', '-s', '^', ...sysctlFiles]));
  return [{ argv: ['ip', '-n', ns, '-j', '-d', '-batch', '-'], input: lines.join('\n') + '\n' }];
}

function readFailed(c: Command, r: RunResult): ObserveError {
  const what = c.input ? `${c.argv.join(' ')} <<< ${JSON.stringify(c.input)}` : c.argv.join(' ');
  return new ObserveError(`reading the kernel's state failed: ${what}: ${r.stderr.trim() || `exit ${r.exitCode}`}`);
}

/** Parses what nsReads' commands printed. */
function parseNs(ns: string, opts: NsReadOptions, cmds: Command[], results: RunResult[]): ObservedNs {
  const iptables = new Map<string, string>();
  let links: ObservedNs['links'], routes: ObservedNs['routes'], rules: ObservedNs['rules'], qdiscs: unknown[] | undefined, sysctlText: string;
  if (ns === HOST) {
    let i = 0;
    const next = (tolerant = false): string => {
      const c = cmds[i]!;
      const r = results[i++]!;
      // grep exits 2 when a sysctl file is missing; the keys it could read are still printed.
      if (r.exitCode !== 0 && !tolerant) throw readFailed(c, r);
      return r.stdout;
    };
    links = parseLinks(splitJsonDocs(next())[0] ?? []);
    routes = [];
    rules = [];
    if (opts.qdiscs) qdiscs = JSON.parse(next().trim() || '[]') as unknown[];
    sysctlText = opts.sysctls.length ? next(true) : '';
  } else {
    const c = cmds[0]!;
    const r = results[0]!;
    const nLines = c.input!.split('\n').length - 1;
    // The grep is the batch's last line; its failure (a missing key) is tolerated, any
    // other line's failure is not (ip stops the batch at the first failure).
    const grepLine = opts.sysctls.length ? nLines : -1;
    if (r.exitCode !== 0 && !new RegExp(`^Command failed -:${grepLine}$`, 'm').test(r.stderr)) throw readFailed(c, r);
    const out = r.stdout.split('\n');
    const nJson = 3 + (opts.v6rules ? 1 : 0) + (opts.qdiscs ? 1 : 0);
    const docs: unknown[][] = [];
    let at = 0;
    while (docs.length < nJson && at < out.length) {
      const t = out[at++]!.trim();
      if (t) docs.push(JSON.parse(t) as unknown[]);
    }
    if (docs.length < nJson) throw readFailed(c, { ...r, stderr: `${r.stderr}expected ${nJson} JSON documents, got ${docs.length}` });
    links = parseLinks(docs[0]!);
    routes = parseRoutes(docs[1]!);
    rules = parseRules(docs[2]!, 'ipv4');
    let d = 3;
    if (opts.v6rules) rules.push(...parseRules(docs[d++]!, 'ipv6'));
    if (opts.qdiscs) qdiscs = docs[d++];
    // The rest is text: iptables-save output (each table headed by the tool that saved it),
    // then grep's /proc/sys/KEY:VALUE lines.
    const saved = new Map<Family, string[]>();
    const sys: string[] = [];
    let family: Family | undefined;
    for (const line of out.slice(at)) {
      const head = /^# Generated by (ip6?)tables-save/.exec(line);
      if (head) family = head[1] === 'ip6' ? 'ipv6' : 'ipv4';
      if (line.startsWith('/proc/sys/')) sys.push(line);
      else if (family) saved.set(family, [...(saved.get(family) ?? []), line]);
    }
    for (const f of opts.iptables) {
      for (const [table, text] of normalizeSave((saved.get(f) ?? []).join('\n'))) iptables.set(tableKey(f, table as IptTable), text);
    }
    sysctlText = sys.join('\n');
  }
  if (qdiscs) {
    for (const [dev, q] of parseQdiscs(qdiscs)) {
      const l = links.get(dev);
      if (l) l.qdisc = q;
    }
  }
  const sysctls = parseSysctlGrep(sysctlText);
  const lo = links.get('lo');
  return { links, routes, rules, sysctls, iptables, ...(ns !== HOST && lo?.alias ? { mark: lo.alias } : {}) };
}

/** Reads namespaces, all their commands through one runMany (a few shells, not a spawn each). */
export async function observeNamespaces(runner: CommandRunner, targets: [string, NsReadOptions][]): Promise<Map<string, ObservedNs>> {
  const plans = targets.map(([ns, opts]) => ({ ns, opts, cmds: nsReads(ns, opts) }));
  const results = await runMany(runner, plans.flatMap((p) => p.cmds), concurrency());
  const out = new Map<string, ObservedNs>();
  let at = 0;
  for (const p of plans) {
    out.set(p.ns, parseNs(p.ns, p.opts, p.cmds, results.slice(at, at + p.cmds.length)));
    at += p.cmds.length;
  }
  return out;
}

/** Observes every namespace the desired state or the journal names, and the host. */
export async function observe(runner: CommandRunner, desired: DesiredState, journal: Journal | undefined): Promise<ObservedState> {
  const netns = await listNetns(runner);
  const names = new Set([HOST, ...desired.namespaces, ...(journal?.namespaces ?? [])]);
  const targets = [...names].filter((n) => n === HOST || netns.has(n));
  const ns = await observeNamespaces(
    runner,
    targets.map((name) => {
      const want = desired.ns.get(name);
      // A lab namespace is the lab's alone: its IPv4 tables are read even when the lab declares
      // none, so that rules added by hand are seen (and reset by up).
      const families = new Set<Family>(name === HOST ? [] : ['ipv4']);
      for (const k of [...(want?.iptables.keys() ?? []), ...Object.keys(journal?.iptables[name] ?? {})]) families.add(k.split('/')[0] as Family);
      const sysctls = new Set([...(want?.sysctls.keys() ?? []), ...Object.keys(journal?.sysctls[name] ?? {})]);
      if (name === HOST) for (const k of desired.hostSysctls.keys()) sysctls.add(k);
      const v6rules = (want?.rules.some((r) => r.family === 'ipv6') ?? false) || (journal?.v6rules.includes(name) ?? false);
      const qdiscs = [...(want?.links.values() ?? [])].some((l) => l.qdisc) || (journal?.impaired?.includes(name) ?? false);
      return [name, { v6rules, sysctls: [...sysctls], iptables: [...families], qdiscs }] as [string, NsReadOptions];
    }),
  );
  const hostIptables: HostRule[] = [];
  const hostFamilies = new Set<Family>([...desired.hostIptables, ...(journal?.hostIptables ?? [])].map((r) => r.family));
  const hostTables: ObservedState['hostTables'] = {};
  for (const family of hostFamilies) {
    const saved = await readHostIptables(runner, family);
    hostTables[family] = [...saved.keys()];
    hostIptables.push(...taggedRules(saved, family, desired.lab));
  }
  const processes = new Map<string, { pid: number; alive: boolean }>();
  const recs = Object.entries(journal?.processes ?? {});
  const starts = await startTimes(runner, recs.map(([, r]) => r.pid));
  for (const [key, r] of recs) processes.set(key, { pid: r.pid, alive: starts.get(r.pid) === r.start });
  return { netns, ns, hostSysctls: ns.get(HOST)!.sysctls, hostIptables, hostTables, processes };
}
