// gc: objects that carry netlab's mark ("netlab:<lab>") but that no journal accounts for (the
// journal was lost: /run cleared, a state directory deleted), and journals whose objects are all
// gone. Removes those and nothing else: an unmarked object is never touched.
import { HOST, type Family } from '../model/types.js';
import { loMarks, readHostIptables } from '../observe/observe.js';
import { hostFiles, listNetns, type HostFiles } from '../observe/files.js';
import { parseLinks, splitJsonDocs } from '../observe/parse.js';
import { hostRulesPayload, restoreTool } from '../render/iptables.js';
import { dropEmptyTables } from './teardown.js';
import type { CommandRunner } from '../runner/runner.js';
import { commandText } from '../core/shell.js';
import { LAB_NAME, journalPath, listLogDirs, removeJournal, removeLogs, scanJournals } from '../state/journal.js';
import type { Journal } from '../model/journal.js';
import { logDir } from '../core/state.js';
import { findTargets, stopProcesses } from './processes.js';
import { startTimes } from '../observe/processes.js';
import { removeStaleLocks } from '../state/lock.js';

export interface GcReport {
  /** Namespaces whose lo carries a mark no journal accounts for: "ns (lab)". */
  namespaces: { name: string; lab: string; pids: number[] }[];
  /** Host links marked by a lab whose journal does not list them. */
  hostLinks: { name: string; lab: string }[];
  /** Host iptables rules tagged by a lab that has no journal. */
  hostRules: { family: Family; table: string; chain: string; spec: string; lab: string }[];
  /** Journals none of whose objects exist any more. */
  journals: string[];
  /** nf_tables tables left empty once the orphan rules were removed (dry run: the candidates). */
  droppedTables: string[];
  /** Labs whose process logs were left behind by a lost journal (they go with it). */
  logs: string[];
  /**
   * Labs whose journal is damaged. Left alone unless named: then what carries the lab's mark is
   * collected as if the journal were lost, and the damaged file goes (removed: true).
   */
  damaged: { lab: string; path: string; reason: string; removed: boolean }[];
  commands: string[];
}

const MARK = new RegExp(`^netlab:(${LAB_NAME})$`);

/** Which lab, if any, a mark names. */
const labOfMark = (alias: string | undefined) => (alias ? MARK.exec(alias)?.[1] : undefined);

/** Is anything the journal lists still there (a namespace, a host link, a live process)? */
function journalHasObjects(files: HostFiles, j: Journal, netns: Set<string>, hostLinks: Set<string>, taggedLabs: Set<string>): boolean {
  if (j.namespaces.some((n) => netns.has(n)) || j.hostLinks.some((n) => hostLinks.has(n)) || taggedLabs.has(j.lab)) return true;
  if (Object.keys(j.sysctls[HOST] ?? {}).length) return true; // only its `down` can restore the host's sysctls
  const procs = Object.values(j.processes ?? {});
  if (!procs.length) return false;
  const starts = startTimes(
    procs.map((p) => p.pid),
    files,
  );
  return procs.some((p) => starts.get(p.pid) === p.start);
}

export interface GcOptions {
  dryRun?: boolean;
  /** Only these labs' orphans and journals (default: every lab's). */
  labs?: Set<string>;
  /** Where the namespace list is read (tests give a fake). */
  files?: HostFiles;
}

export async function gc(runner: CommandRunner, opts: GcOptions = {}): Promise<GcReport> {
  const files = opts.files ?? hostFiles;
  const report: GcReport = { namespaces: [], hostLinks: [], hostRules: [], journals: [], droppedTables: [], logs: [], damaged: [], commands: [] };
  const scan = scanJournals();
  const journals = new Map(scan.journals.map((j) => [j.lab, j]));
  for (const d of scan.damaged) report.damaged.push({ lab: d.lab, path: d.path, reason: d.reason, removed: !!opts.labs?.has(d.lab) });
  const leftAlone = new Set(report.damaged.filter((d) => !d.removed).map((d) => d.lab));
  const inScope = (lab: string | undefined): lab is string => lab !== undefined && !leftAlone.has(lab) && (!opts.labs || opts.labs.has(lab));
  const netns = listNetns(files);

  // Namespaces: the mark is on their lo (one read each, a few shells for all).
  const marks = [...(await loMarks(runner, [...netns]))].map(([ns, alias]) => [ns, labOfMark(alias)] as const);
  for (const [ns, lab] of marks) if (inScope(lab) && !journals.get(lab)?.namespaces.includes(ns)) report.namespaces.push({ name: ns, lab, pids: [] });
  // Their processes, by network namespace: one pass over /proc for all of them.
  const orphans = { namespaces: report.namespaces.map((n) => n.name), records: [] };
  for (const t of findTargets(files, orphans).values()) report.namespaces.find((n) => n.name === t.ns)?.pids.push(t.pid);

  // Host links (bridges, host-side veth ends): the mark is their ifalias.
  const r = await runner.run(['ip', '-j', '-d', 'link', 'show']);
  const links = parseLinks(splitJsonDocs(r.stdout)[0] ?? []);
  for (const [name, l] of links) {
    const lab = labOfMark(l.alias);
    if (inScope(lab) && !journals.get(lab)?.hostLinks.includes(name)) report.hostLinks.push({ name, lab });
  }

  // Host iptables rules: tagged with a comment naming the lab.
  const taggedLabs = new Set<string>();
  for (const family of ['ipv4', 'ipv6'] as Family[]) {
    const saved = await readHostIptables(runner, family).catch(() => new Map<string, string>());
    for (const [table, text] of saved) {
      for (const line of text.split('\n')) {
        // The tag ends the comment: netlab:LAB@NAME is an instance's uplink (engine/uplink.ts), not lab LAB's.
        const m = /^-A (\S+) (.*--comment "?netlab:([A-Za-z0-9][A-Za-z0-9_-]{0,31})(?="| |$).*)$/.exec(line);
        if (!m) continue;
        taggedLabs.add(m[3]!);
        if (inScope(m[3]) && !journals.has(m[3]!)) report.hostRules.push({ family, table, chain: m[1]!, spec: m[2]!, lab: m[3]! });
      }
    }
  }

  // Journals whose objects are gone (and no orphan of theirs is about to be removed).
  const linkNames = new Set(links.keys());
  for (const j of journals.values()) if (inScope(j.lab) && !journalHasObjects(files, j, netns, linkNames, taggedLabs)) report.journals.push(j.lab);

  const exec = async (argv: string[], input?: string) => {
    report.commands.push(commandText(argv, input));
    if (!opts.dryRun) await runner.run(argv, input !== undefined ? { input } : {});
  };
  // Processes keep a deleted namespace alive: they go first (TERM, then KILL).
  await stopProcesses(runner, orphans, { files, commands: report.commands, ...(opts.dryRun ? { dryRun: true } : {}) });
  const lines = [...report.namespaces.map((n) => `netns del ${n.name}`), ...report.hostLinks.map((l) => `link del dev ${l.name}`)];
  if (lines.length) await exec(['ip', '-force', '-batch', '-'], `${lines.join('\n')}\n`);
  for (const family of ['ipv4', 'ipv6'] as Family[]) {
    const rules = report.hostRules.filter((x) => x.family === family).map((x) => ({ family, table: x.table as never, chain: x.chain, spec: x.spec }));
    if (!rules.length) continue;
    await exec([restoreTool(family), '-w', '--noflush'], hostRulesPayload(rules, '-D'));
    // Whether a table existed before the lab was in its lost journal: a table left with nothing
    // at all (no rules, ACCEPT policies) is the same as no table, and goes.
    report.droppedTables.push(
      ...(await dropEmptyTables(runner, family, new Set(rules.map((r) => r.table as string)), (argv) => exec(argv), !!opts.dryRun)).map((t) => `${family === 'ipv4' ? 'ip' : 'ip6'} ${t}`),
    );
  }
  for (const lab of [...report.journals, ...report.damaged.filter((d) => d.removed).map((d) => d.lab)]) {
    report.commands.push(`rm ${journalPath(lab)}`);
    if (!opts.dryRun) removeJournal(lab);
  }
  // Process logs go with their lab's journal: those of a lab without one are left behind.
  for (const lab of listLogDirs()) {
    if (!inScope(lab) || (journals.has(lab) && !report.journals.includes(lab))) continue;
    report.logs.push(lab);
    report.commands.push(`rm -r ${logDir(lab)}`);
    if (!opts.dryRun) removeLogs(lab);
  }
  if (!opts.dryRun) removeStaleLocks(opts.labs);
  return report;
}
