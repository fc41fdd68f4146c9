// observe: reads what the kernel has now, for the namespaces and objects a lab concerns.
import { availableParallelism } from 'node:os';
import { CliError, EXIT } from '../core/errors.js';
import { HOST, inNetns, tableKey, type DesiredState, type Family, type HostRule, type IptTable, type ObservedNs, type ObservedState } from '../model/types.js';
import { runMany, type Command, type CommandRunner, type RunResult } from '../runner/runner.js';
import type { Journal } from '../model/journal.js';
import { normalizeSave, saveTool } from '../render/iptables.js';
import { BRIDGE_NF, bridgeGuards, firewallOf, hasTag, sideKeys } from '../model/hoststate.js';
import { findStarted, startTimes } from './processes.js';
import { processKey } from '../model/processes.js';
import { parseQdiscs } from '../model/impair.js';
import { parseIpsetSave } from '../model/ipset.js';
import { enteredNamespaces, hostEndsPresent, trustable } from '../state/trust.js';
import { hostFiles, listNetns, type HostFiles } from './files.js';
import { sameNsId } from '../model/ownership.js';
import type { NsId } from '../model/ownership.js';
import { parseLinks, parseRoutes, parseRules, parseSysctlGrep, splitJsonDocs } from './parse.js';

export class ObserveError extends CliError {
  constructor(message: string) {
    super(message, EXIT.applyFailed);
  }
}

export function concurrency(): number {
  return Math.max(2, availableParallelism());
}

/** Shells for reading namespaces: one more than the cores, as a core waits during a read's fork and exec (bench/README.md). */
export function readConcurrency(): number {
  return concurrency() + 1;
}

/** The error for a read that failed: the command (with its input) and what it said. */
export function readFailure(argv: string[], input: string | undefined, r: RunResult): ObserveError {
  const what = input ? `${argv.join(' ')} <<< ${JSON.stringify(input)}` : argv.join(' ');
  return new ObserveError(`reading the kernel's state failed: ${what}: ${r.stderr.trim() || `exit ${r.exitCode}`}`);
}

async function must(runner: CommandRunner, argv: string[], input?: string): Promise<string> {
  const r = await runner.run(argv, input !== undefined ? { input } : {});
  if (r.exitCode !== 0) throw readFailure(argv, input, r);
  return r.stdout;
}

/** Reads the host's iptables-save for one family: table -> normalized text. */
export async function readHostIptables(runner: CommandRunner, family: Family): Promise<Map<string, string>> {
  return normalizeSave(await must(runner, [saveTool(family)]));
}

/**
 * Host rules tagged with the lab's comment, as iptables-save prints them, with their position in
 * the chain. A rule may carry comments of its own besides the lab's.
 */
export function taggedRules(saved: Map<string, string>, family: Family, lab: string): HostRule[] {
  const out: HostRule[] = [];
  for (const [table, text] of saved) {
    const pos = new Map<string, number>();
    for (const line of text.split('\n')) {
      const m = /^-A (\S+) (.*)$/.exec(line);
      if (!m) continue;
      const n = (pos.get(m[1]!) ?? 0) + 1;
      pos.set(m[1]!, n);
      if (hasTag(m[2]!, lab)) out.push({ family, table: table as IptTable, chain: m[1]!, spec: m[2]!, pos: n });
    }
  }
  return out;
}

/**
 * The mark on lo of each namespace (undefined: unmarked), one read each through runMany. A
 * namespace gone since it was listed is left out; a read tool that cannot run is an error (it
 * must not make every namespace look unmarked).
 */
export async function loMarks(runner: CommandRunner, names: string[]): Promise<Map<string, string | undefined>> {
  const out = new Map<string, string | undefined>();
  if (!names.length) return out;
  const reads = names.map((ns) => inNetns(ns, ['ip', '-j', 'link', 'show', 'dev', 'lo']));
  const rs = await runMany(
    runner,
    reads.map((argv) => ({ argv })),
    readConcurrency(),
  );
  names.forEach((ns, i) => {
    const r = rs[i]!;
    if (r.exitCode === 126 || r.exitCode === 127) throw readFailure(reads[i]!, undefined, r);
    if (r.exitCode === 0) out.set(ns, parseLinks(splitJsonDocs(r.stdout)[0] ?? []).get('lo')?.alias);
  });
  return out;
}

/**
 * The chains that really exist ("table/chain") per family, from nft: iptables-nft-save also prints
 * built-in chains that do not. Undefined when nft cannot say (then down deletes no chain).
 */
export async function readNftChains(runner: CommandRunner): Promise<Partial<Record<Family, string[]>> | undefined> {
  const r = await runner.run(['nft', '-j', 'list', 'chains']).catch(() => undefined);
  if (r?.exitCode !== 0) return undefined;
  const out: Partial<Record<Family, string[]>> = { ipv4: [], ipv6: [] };
  let docs: { chain?: { family: string; table: string; name: string } }[];
  try {
    docs = (JSON.parse(r.stdout || '{}') as { nftables?: typeof docs }).nftables ?? [];
  } catch {
    return undefined;
  }
  for (const d of docs) {
    const c = d.chain;
    const family = c?.family === 'ip' ? 'ipv4' : c?.family === 'ip6' ? 'ipv6' : undefined;
    if (c && family) out[family]!.push(`${c.table}/${c.name}`);
  }
  return out;
}

const hasHostBridges = (desired: DesiredState) => [...(desired.ns.get(HOST)?.links.values() ?? [])].some((l) => l.kind === 'bridge');

interface NsReadOptions {
  v6rules: boolean;
  sysctls: string[];
  iptables: Family[];
  qdiscs?: boolean;
  /** Read the namespace's ipsets (where the lab has or had some). */
  ipsets?: boolean;
}

/** The commands that read one namespace: one ip batch, then what the lab needs of the rest. */
function nsReads(ns: string, opts: NsReadOptions): Command[] {
  const host = ns === HOST;
  const cmds: Command[] = [{ argv: inNetns(ns, ['ip', '-j', '-d', '-batch', '-']), input: host ? 'addr show\n' : 'addr show\nroute show table all\nrule show\n' }];
  if (opts.v6rules && !host) cmds.push({ argv: inNetns(ns, ['ip', '-6', '-j', 'rule', 'show']) });
  // Impairments (netem, tbf) are root qdiscs: read only where the lab has or had some.
  if (opts.qdiscs) cmds.push({ argv: inNetns(ns, ['tc', '-j', 'qdisc', 'show']) });
  // The host's are files netlab reads itself (HostFiles); a namespace's only a process inside it can.
  if (opts.sysctls.length && !host) cmds.push({ argv: inNetns(ns, ['grep', '-H', '-s', '', ...opts.sysctls.map((k) => `/proc/sys/${k}`)]) });
  if (!host) for (const family of opts.iptables) cmds.push({ argv: inNetns(ns, [saveTool(family)]) });
  // In the same shell as the iptables reads (runMany's slots): one process more, no spawn of ours.
  if (opts.ipsets && !host) cmds.push({ argv: inNetns(ns, ['ipset', 'save']) });
  return cmds;
}

/** Parses what nsReads' commands printed, in the same order. */
function parseNs(ns: string, opts: NsReadOptions, cmds: Command[], results: RunResult[], files: HostFiles): ObservedNs {
  let i = 0;
  const next = (tolerant = false): string => {
    const c = cmds[i]!;
    const r = results[i++]!;
    // grep exits 2 when a sysctl file is missing; the keys it could read are still printed.
    if (r.exitCode !== 0 && !tolerant) throw readFailure(c.argv, c.input, r);
    return r.stdout;
  };
  const docs = splitJsonDocs(next());
  const links = parseLinks(docs[0] ?? []);
  const routes = ns === HOST ? [] : parseRoutes(docs[1] ?? []);
  const rules = ns === HOST ? [] : parseRules(docs[2] ?? [], 'ipv4');
  if (opts.v6rules && ns !== HOST) rules.push(...parseRules(JSON.parse(next().trim() || '[]') as unknown[], 'ipv6'));
  if (opts.qdiscs) {
    for (const [dev, q] of parseQdiscs(JSON.parse(next().trim() || '[]') as unknown[])) {
      const l = links.get(dev);
      if (l) l.qdisc = q;
    }
  }
  const sysctls = !opts.sysctls.length ? new Map<string, string>() : ns === HOST ? files.sysctls(opts.sysctls) : parseSysctlGrep(next(true));
  const iptables = new Map<string, string>();
  if (ns !== HOST) {
    for (const family of opts.iptables) {
      for (const [table, text] of normalizeSave(next())) iptables.set(tableKey(family, table as IptTable), text);
    }
  }
  const ipsets = opts.ipsets && ns !== HOST ? parseIpsetSave(next()) : undefined;
  const lo = links.get('lo');
  return { links, routes, rules, sysctls, iptables, ...(ipsets ? { ipsets } : {}), ...(ns !== HOST && lo?.alias ? { mark: lo.alias } : {}) };
}

/** Reads namespaces, all their commands through one runMany (a few shells, not a spawn each). */
export async function observeNamespaces(runner: CommandRunner, targets: [string, NsReadOptions][], files: HostFiles = hostFiles): Promise<Map<string, ObservedNs>> {
  const plans = targets.map(([ns, opts]) => ({ ns, opts, cmds: nsReads(ns, opts) }));
  const results = await runMany(
    runner,
    plans.flatMap((p) => p.cmds),
    readConcurrency(),
  );
  const out = new Map<string, ObservedNs>();
  let at = 0;
  for (const p of plans) {
    out.set(p.ns, parseNs(p.ns, p.opts, p.cmds, results.slice(at, at + p.cmds.length), files));
    at += p.cmds.length;
  }
  return out;
}

/** What to read in one namespace: what the lab declares there now, or declared before (journal). */
function readOptions(name: string, desired: DesiredState, journal: Journal | undefined): NsReadOptions {
  const want = desired.ns.get(name);
  // A lab namespace is the lab's alone: its IPv4 tables are read even when the lab declares
  // none, so that rules added by hand are seen (and reset by up).
  const families = new Set<Family>(name === HOST ? [] : ['ipv4']);
  for (const k of [...(want?.iptables.keys() ?? []), ...Object.keys(journal?.iptables[name] ?? {})]) families.add(k.split('/')[0] as Family);
  const sysctls = new Set([...(want?.sysctls.keys() ?? []), ...Object.keys(journal?.sysctls[name] ?? {})]);
  if (name === HOST) for (const k of desired.hostSysctls.keys()) sysctls.add(k);
  if (name === HOST && hasHostBridges(desired)) for (const k of Object.values(BRIDGE_NF)) sysctls.add(k);
  const v6rules = (want?.rules.some((r) => r.family === 'ipv6') ?? false) || (journal?.v6rules.includes(name) ?? false);
  const qdiscs = [...(want?.links.values() ?? [])].some((l) => l.qdisc) || (journal?.impaired?.includes(name) ?? false);
  const ipsets = !!want?.ipsets.size || !!journal?.ipsets?.[name]?.length;
  return { v6rules, sysctls: [...sysctls], iptables: [...families], qdiscs, ipsets };
}

export interface ObserveOptions {
  /**
   * Take namespaces that a read of `up` verified before, unchanged in the file and not entered
   * since, as they were left, instead of reading them (src/state/trust.ts). Off: every one is read.
   */
  trust?: boolean;
  /** Where the namespace list is read (tests give a fake). */
  files?: HostFiles;
}

/** Observes every namespace the desired state or the journal names, and the host. */
export async function observe(runner: CommandRunner, desired: DesiredState, journal: Journal | undefined, opts: ObserveOptions = {}): Promise<ObservedState> {
  const files = opts.files ?? hostFiles;
  const netns = listNetns(files);
  const names = new Set([...desired.namespaces, ...(journal?.namespaces ?? [])]);
  const present = [...names].filter((n) => netns.has(n));
  const entered = enteredNamespaces(desired.lab);
  // Identities cost a stat each, no process: taken for every namespace the lab or its journal
  // names (while the reads run, when nothing waits on them).
  const ids = new Map<string, NsId>();
  const takeIds = () => {
    for (const n of present) {
      const id = files.nsId?.(n);
      if (id) ids.set(n, id);
    }
  };
  const read = (targets: string[]) =>
    observeNamespaces(
      runner,
      targets.map((name) => [name, readOptions(name, desired, journal)]),
      files,
    );
  // The host's iptables, meanwhile: where the lab has rules there, and with host bridges both
  // families, to see a Docker-like firewall; a family the lab has no rules in may be missing (no
  // ip6tables, IPv6 off): then it has no firewall to see.
  const bridges = hasHostBridges(desired);
  const ruleFamilies = new Set<Family>([...desired.hostIptables, ...(journal?.hostIptables ?? [])].map((r) => r.family));
  const families = bridges ? (['ipv4', 'ipv6'] as Family[]) : [...ruleFamilies];
  const savesRead = Promise.all(families.map((f) => readHostIptables(runner, f).catch((e: unknown) => (ruleFamilies.has(f) ? Promise.reject(e) : undefined))));
  savesRead.catch(() => undefined); // awaited below; a failed namespace read must not leave it unhandled
  let ns: Map<string, ObservedNs>;
  const trusted = new Map<string, ObservedNs>();
  if (!opts.trust) {
    // Everything in one batch of reads: the host's alongside the namespaces'.
    const reading = read([HOST, ...present]);
    takeIds();
    ns = await reading;
  } else {
    // The host first: what it shows decides which lab namespaces can be trusted.
    const reading = read([HOST]);
    takeIds();
    const host = (await reading).get(HOST)!;
    for (const [n, o] of trustable(desired, journal, netns, new Set(entered.keys()), (n) => files.netnsInode(n))) {
      // A host-side veth end that went away took its peer in the namespace with it: read that one.
      // So is a namespace whose identity is not the one recorded (inode numbers alone are reused).
      if (hostEndsPresent(desired.ns.get(n)!, host) && sameNsId(journal?.ids?.ns?.[n], ids.get(n))) trusted.set(n, o);
    }
    ns = await read(present.filter((n) => !trusted.has(n)));
    ns.set(HOST, host);
    for (const [n, o] of trusted) ns.set(n, o);
  }
  const host = ns.get(HOST)!;
  const saves = await savesRead;
  const hostIptables: HostRule[] = [];
  const hostTables: ObservedState['hostTables'] = {};
  const hostFirewall: ObservedState['hostFirewall'] = {};
  families.forEach((family, i) => {
    const saved = saves[i];
    if (!saved) return;
    hostTables[family] = [...saved.keys()];
    hostIptables.push(...taggedRules(saved, family, desired.lab));
    if (bridges) hostFirewall[family] = firewallOf(saved.get('filter'), host.sysctls.get(BRIDGE_NF[family]));
  });
  // The chains that exist before the lab's first host rule of a family (a rule may create one).
  const guards = bridgeGuards(desired, hostFirewall).rules;
  const firstRules = families.some((f) => !journal?.hostTablesBefore?.[f] && [...desired.hostIptables, ...guards].some((r) => r.family === f));
  const hostChains = firstRules ? await readNftChains(runner) : undefined;
  // The per-interface values the kernel rewrites when a host sysctl is written: read when the lab
  // first sets such a key (to record them) or stops setting it (to restore those still there).
  const recorded = journal?.sysctls[HOST] ?? {};
  const writes = [...[...desired.hostSysctls.keys()].filter((k) => recorded[k] === undefined), ...Object.keys(recorded).filter((k) => !desired.hostSysctls.has(k))];
  const sides = [...new Set(writes.flatMap((k) => sideKeys(k, host.links.keys())))];
  const hostSysctlSides = sides.length ? files.sysctls(sides) : undefined;
  const processes: ObservedState['processes'] = new Map();
  const recs = Object.entries(journal?.processes ?? {});
  const starts = startTimes(
    recs.map(([, r]) => r.pid),
    files,
  );
  for (const [key, r] of recs) processes.set(key, { pid: r.pid, alive: starts.get(r.pid) === r.start });
  // Processes of a lost journal, in namespaces that outlived it: the lab's, to adopt.
  const unrecorded = desired.processes.filter((p) => !journal?.processes?.[processKey(p)] && netns.has(p.node));
  if (unrecorded.length) for (const [key, f] of findStarted(files, desired.lab, unrecorded)) processes.set(key, { ...f, alive: true });
  return {
    netns,
    ns,
    hostSysctls: host.sysctls,
    hostIptables,
    hostTables,
    ...(hostChains ? { hostChains } : {}),
    ...(bridges ? { hostFirewall } : {}),
    ...(hostSysctlSides ? { hostSysctlSides } : {}),
    processes,
    trusted: [...trusted.keys()],
    entered,
    ids,
  };
}
