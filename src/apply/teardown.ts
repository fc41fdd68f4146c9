// down: removes what the journal says the lab made, and nothing else.
import { CliError, EXIT, onlyGone } from '../core/errors.js';
import { HOST, type Family } from '../model/types.js';
import { judgeLink, judgeNs, sameNsId } from '../model/ownership.js';
import { receiptDir, takeReceipt } from './receipt.js';
import { rmSync } from 'node:fs';
import { hostDevices, hostFiles, listNetns, type HostFiles } from '../observe/files.js';
import { loMarks, readHostIptables, taggedRules } from '../observe/observe.js';
import { parseLinks, splitJsonDocs } from '../observe/parse.js';
import { hostRulesPayload, normalizeSave, restoreTool } from '../render/iptables.js';
import type { CommandRunner } from '../runner/runner.js';
import { commandText } from '../core/shell.js';
import { readJournal, removeJournal, removeLogs, writeJournal } from '../state/journal.js';
import type { Journal } from '../model/journal.js';
import { acquireLock } from '../state/lock.js';
import { removeEntered } from '../state/trust.js';
import { forgetLab } from '../load/cache.js';
import { isAlive, stopProcesses } from './processes.js';
import { sleep } from '../core/time.js';

export interface DownReport {
  namespaces: string[];
  hostLinks: string[];
  hostRules: number;
  sysctls: string[];
  processes: number;
  /** Objects the journal names that exist but are not the lab's (src/model/ownership.ts): left alone, and why. */
  left: { object: string; why: string }[];
  commands: string[];
}

export class TeardownError extends CliError {
  constructor(message: string) {
    super(message, EXIT.applyFailed);
  }
}

async function hostLinks(runner: CommandRunner) {
  const r = await runner.run(['ip', '-j', '-d', 'link', 'show']);
  if (r.exitCode !== 0) throw new TeardownError(`ip link show failed: ${r.stderr.trim()}`);
  return parseLinks(splitJsonDocs(r.stdout)[0] ?? []);
}

/**
 * With the nf_tables backend, the first rule in a table creates the table: once the lab's rules
 * are gone, the candidate tables that hold nothing (no rules, ACCEPT policies) are deleted again,
 * so the host is exactly as it was. A table that gained anything else is left alone.
 */
export async function dropEmptyTables(runner: CommandRunner, family: Family, candidates: Set<string>, exec: (argv: string[]) => Promise<void>, dryRun: boolean): Promise<string[]> {
  if (!candidates.size) return [];
  const save = await runner.run([family === 'ipv4' ? 'iptables-save' : 'ip6tables-save']);
  if (!/\(nf_tables\)/.test(save.stdout)) return [];
  const dropped: string[] = [];
  for (const [table, text] of normalizeSave(save.stdout)) {
    if (!candidates.has(table)) continue;
    const untouched = text
      .split('\n')
      .filter(Boolean)
      .every((l) => /^:[A-Z]+ ACCEPT$/.test(l));
    if (!untouched && !dryRun) continue;
    await exec(['nft', 'delete', 'table', family === 'ipv4' ? 'ip' : 'ip6', table]);
    dropped.push(table);
  }
  return dropped;
}

/**
 * The tables and chains the lab's host rules brought into being (they did not exist before its
 * first rule: iptables-nft creates a built-in chain such as FORWARD on its first rule). Once the
 * rules are gone, those that hold nothing are deleted again.
 */
async function dropCreated(runner: CommandRunner, j: Journal, exec: (argv: string[], input?: string, tolerant?: boolean) => Promise<void>, dryRun: boolean): Promise<void> {
  for (const family of ['ipv4', 'ipv6'] as Family[]) {
    const before = j.hostTablesBefore?.[family];
    if (!before) continue;
    const mine = j.hostIptables.filter((r) => r.family === family);
    const created = new Set(mine.filter((r) => !before.includes(r.table)).map((r) => r.table as string));
    await dropEmptyTables(runner, family, created, exec, dryRun);
    const chainsBefore = j.hostChainsBefore?.[family];
    if (!chainsBefore) continue;
    const chains = new Set(mine.filter((r) => before.includes(r.table) && !chainsBefore.includes(`${r.table}/${r.chain}`)).map((r) => `${r.table}/${r.chain}`));
    await dropEmptyChains(runner, family, chains, exec, dryRun);
  }
}

/** Deletes the candidate chains ("table/chain") that hold no rule and keep the ACCEPT policy (nf_tables only). */
export async function dropEmptyChains(
  runner: CommandRunner,
  family: Family,
  candidates: Set<string>,
  exec: (argv: string[], input?: string, tolerant?: boolean) => Promise<void>,
  dryRun: boolean,
): Promise<string[]> {
  if (!candidates.size) return [];
  const save = await runner.run([family === 'ipv4' ? 'iptables-save' : 'ip6tables-save']);
  if (!/\(nf_tables\)/.test(save.stdout)) return [];
  const tables = normalizeSave(save.stdout);
  const dropped: string[] = [];
  for (const tc of candidates) {
    const [table, chain] = tc.split('/') as [string, string];
    const text = tables.get(table) ?? '';
    const empty = new RegExp(`^:${chain} (ACCEPT|-)$`, 'm').test(text) && !text.split('\n').some((l) => l.startsWith(`-A ${chain} `) || l.includes(` -j ${chain}`) || l.includes(` -g ${chain}`));
    if (!empty && !dryRun) continue;
    // Tolerant: iptables-nft-save also prints built-in chains that do not exist.
    await exec(['nft', 'delete', 'chain', family === 'ipv4' ? 'ip' : 'ip6', table, chain], undefined, true);
    dropped.push(tc);
  }
  return dropped;
}

/**
 * Host sysctls back as they were: the lab's keys, then the per-interface values the kernel
 * rewrote when those were written (interfaces that still exist, where they differ now).
 */
async function restoreHostSysctls(files: HostFiles, j: Journal, exec: (argv: string[]) => Promise<void>, report: DownReport, dryRun: boolean): Promise<void> {
  const prev = j.sysctls[HOST] ?? {};
  const kv = Object.entries(prev).map(([k, v]) => `${k}=${v}`);
  if (kv.length) {
    await exec(['sysctl', '-q', '-w', ...kv]);
    report.sysctls = Object.keys(prev);
  }
  const sides = Object.entries(j.hostSysctlSides ?? {});
  if (!sides.length) return;
  const now = files.sysctls(sides.map(([k]) => k));
  const back = sides.filter(([k, v]) => now.has(k) && (dryRun || now.get(k) !== v));
  if (back.length) await exec(['sysctl', '-q', '-w', ...back.map(([k, v]) => `${k}=${v}`)]);
}

/** Tears a lab down from its journal; dryRun lists the commands without running them. */
export async function teardown(runner: CommandRunner, j: Journal, opts: { dryRun?: boolean; timeoutMs?: number; files?: HostFiles } = {}): Promise<DownReport> {
  const files = opts.files ?? hostFiles;
  const report: DownReport = { namespaces: [], hostLinks: [], hostRules: 0, sysctls: [], processes: 0, left: [], commands: [] };
  const exec = async (argv: string[], input?: string, tolerant = false) => {
    report.commands.push(commandText(argv, input));
    if (opts.dryRun) return;
    const r = await runner.run(argv, input !== undefined ? { input } : {});
    if (r.exitCode !== 0) {
      if (!tolerant || !onlyGone(r.stderr)) throw new TeardownError(`lab ${j.lab}: ${commandText(argv, input).split('\n')[0]} failed:\n  ${r.stderr.trim()}`);
    }
  };

  // What an interrupted up created, proven by its batch's receipt, is the lab's (src/apply/receipt.ts).
  if (!opts.dryRun) await takeReceipt(j);
  // Only what is proven the lab's goes (src/model/ownership.ts). A namespace whose identity is the
  // one recorded needs no read; the others (no identity recorded: an old journal, a claim never
  // confirmed; or another identity) have the mark on their lo read, one process each, to prove
  // them or to say whose they are.
  const netns = listNetns(files);
  const present = j.namespaces.filter((n) => netns.has(n));
  const ids = new Map(present.map((n) => [n, files.nsId?.(n)] as const));
  const unproven = present.filter((n) => !sameNsId(j.ids?.ns?.[n], ids.get(n)));
  const marks = await loMarks(runner, unproven);
  for (const n of present) {
    const id = ids.get(n);
    const v = judgeNs(j.lab, j.ids?.ns?.[n], { ...(id ? { id } : {}), ...(marks.has(n) ? { mark: marks.get(n) } : {}), markRead: marks.has(n) });
    if (v.ours) report.namespaces.push(n);
    else report.left.push({ object: `namespace ${n}`, why: v.why });
  }

  // Processes first: a process keeps its namespace alive after `netns del`. Every process in a lab
  // namespace goes, whoever started it (a daemon that left its group, a trainee's `ip netns exec`);
  // a recorded one outside them only while its pid and start time prove it the lab's. A namespace
  // that is not proven the lab's (re-made by someone else) keeps its processes.
  const ours = report.namespaces;
  // An exited recorded process elsewhere proves nothing about what is left of its group.
  const records = Object.values(j.processes ?? {}).filter((r) => ours.includes(r.ns) || isAlive(r, files));
  report.processes = await stopProcesses(runner, { namespaces: ours, records }, { files, commands: report.commands, ...(opts.dryRun ? { dryRun: true } : {}) });
  const links = await hostLinks(runner);
  const counters = hostDevices(files.procNetDev());
  for (const name of j.hostLinks) {
    const l = links.get(name);
    if (!l) continue;
    const v = judgeLink(j.lab, j.ids?.links?.[name], { ...(l.alias ? { alias: l.alias } : {}), ...(l.ifindex !== undefined ? { ifindex: l.ifindex } : {}) });
    if (v.ours) report.hostLinks.push(name);
    else report.left.push({ object: `host interface ${name}`, why: v.why });
  }
  // Host veth ends whose peer goes with its namespace are not deleted (their namespace takes them),
  // only set down first, and only those that ever received a packet: a namespace whose device holds
  // an unresolved neighbour entry is slow to destroy unless its carrier went away before, and such
  // an entry exists only after it sent something out of that device (bench/README.md). Then the
  // namespaces, then the rest of the host links, bridges last.
  const peersGone = new Set(report.namespaces);
  const sentSomething = (n: string) => {
    const c = counters.get(n);
    return !c || !(c.rxPackets === 0 && c.rxDropped === 0);
  };
  const viaNs = (n: string) => {
    const peer = j.peers[HOST]?.[n];
    return !!peer && peersGone.has(peer.split('/')[0]!);
  };
  const bridge = (n: string) => links.get(n)?.kind === 'bridge';
  const lines = [
    ...report.hostLinks.filter((n) => viaNs(n) && links.get(n)?.up && sentSomething(n)).map((n) => `link set dev ${n} down`),
    ...report.namespaces.map((n) => `netns del ${n}`),
    ...report.hostLinks.filter((n) => !viaNs(n) && !bridge(n)).map((n) => `link del dev ${n}`),
    ...report.hostLinks.filter(bridge).map((n) => `link del dev ${n}`),
  ];
  if (lines.length) await exec(['ip', '-force', '-batch', '-'], `${lines.join('\n')}\n`, true);

  if (j.hostIptables.length) {
    for (const family of new Set<Family>(j.hostIptables.map((r) => r.family))) {
      const rules = taggedRules(await readHostIptables(runner, family), family, j.lab);
      if (!rules.length) continue;
      report.hostRules += rules.length;
      await exec([restoreTool(family), '-w', '--noflush'], hostRulesPayload(rules, '-D'));
    }
    await dropCreated(runner, j, exec, !!opts.dryRun);
  }
  await restoreHostSysctls(files, j, exec, report, !!opts.dryRun);
  if (opts.dryRun) return report;

  // The kernel finishes deleting namespaces in the background: wait until it really has. Each poll
  // is one readdir of NETNS_DIR and one read of /proc/net/dev, not a stat per object under /sys,
  // which holds back the kernel's own removal of those entries (bench/README.md).
  const deadline = Date.now() + (opts.timeoutMs ?? 10000);
  for (;;) {
    const netnsNow = listNetns(files);
    const devsNow = hostDevices(files.procNetDev());
    const left = [...report.namespaces.filter((n) => netnsNow.has(n)), ...report.hostLinks.filter((n) => devsNow.has(n))];
    if (left.length === 0) break;
    if (Date.now() > deadline) {
      j.status = 'failed';
      writeJournal(j);
      throw new TeardownError(`lab ${j.lab}: still present after down: ${left.join(', ')}`);
    }
    await sleep(5);
  }
  removeJournal(j.lab);
  rmSync(receiptDir(j.lab), { recursive: true, force: true });
  removeLogs(j.lab);
  removeEntered(j.lab);
  forgetLab(j.labKey);
  return report;
}

/** `netlab down LAB`: under the lab's lock, tears down what its journal lists; undefined if it is not up. */
export async function down(runner: CommandRunner, labName: string, opts: { dryRun?: boolean } = {}): Promise<DownReport | undefined> {
  const release = opts.dryRun ? () => {} : acquireLock(labName);
  try {
    const journal = readJournal(labName);
    if (!journal) return undefined;
    return await teardown(runner, journal, opts);
  } finally {
    release();
  }
}
