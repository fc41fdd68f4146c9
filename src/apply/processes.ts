// Long-running processes in nodes: started detached in their own process group with output in a
// per-lab log, recorded with pid and start time. Stopped (TERM, then KILL) by network namespace:
// every process in a lab namespace is the lab's, whatever its group; a recorded one is the lab's
// only while its pid and start time agree.
import { readFileSync } from 'node:fs';
import { CliError, EXIT } from '../core/errors.js';
import { hostFiles, liveStat, type HostFiles, type ProcStat } from '../observe/files.js';
import type { ProcessSpec } from '../model/types.js';
import type { CommandRunner } from '../runner/runner.js';
import type { ProcessRecord } from '../model/journal.js';
import { logFile, processKey, startArgv, startText } from '../model/processes.js';
import { startTimes } from '../observe/processes.js';
import { sleep } from '../core/time.js';

export function isAlive(rec: ProcessRecord, files: HostFiles = hostFiles): boolean {
  return startTimes([rec.pid], files).get(rec.pid) === rec.start;
}

/** What to stop. */
export interface StopRequest {
  /** Every process whose network namespace is one of these goes, whatever its group. */
  namespaces: string[];
  /**
   * Recorded processes: one goes with its whole process group while its pid and start time prove
   * it is still the process recorded; once it exited, only the members of its group that are in
   * its namespace (a pid is soon reused: the group may be a stranger's).
   */
  records: ProcessRecord[];
}

export type Target = ProcStat & { ns?: string };

/** One pass over /proc: the processes a stop request covers (never netlab itself, never init). */
export function findTargets(files: HostFiles, req: StopRequest): Map<number, Target> {
  const inodes = new Map<number, string>();
  for (const ns of req.namespaces) {
    const ino = files.netnsInode(ns);
    if (ino !== undefined) inodes.set(ino, ns);
  }
  const out = new Map<number, Target>();
  const provenGroups = new Map<number, string>(); // pgid -> namespace of its recorded leader
  const deadGroups = new Map<number, number>(); // pgid -> nsfs inode of the recorded leader's namespace
  for (const rec of req.records) {
    if (rec.pid <= 1) continue;
    const st = liveStat(files, rec.pid);
    if (st && rec.start && st.start === rec.start) {
      out.set(rec.pid, { ...st, ns: rec.ns });
      if (st.pgrp === rec.pid) provenGroups.set(rec.pid, rec.ns);
    } else {
      const ino = files.netnsInode(rec.ns);
      if (ino !== undefined) deadGroups.set(rec.pid, ino);
    }
  }
  const byGroup = provenGroups.size > 0 || deadGroups.size > 0;
  for (const pid of files.pids()) {
    if (pid <= 1 || pid === process.pid || out.has(pid)) continue;
    const net = files.pidNetns(pid);
    const ns = net === undefined ? undefined : inodes.get(net);
    if (ns === undefined && (!byGroup || net === undefined)) continue;
    const st = liveStat(files, pid);
    if (!st) continue;
    if (ns !== undefined) out.set(pid, { ...st, ns });
    else if (provenGroups.has(st.pgrp)) out.set(pid, { ...st, ns: provenGroups.get(st.pgrp)! });
    else if (deadGroups.get(st.pgrp) === net) out.set(pid, st);
  }
  return out;
}

export class ProcessesLeftError extends CliError {
  constructor(left: Target[]) {
    super(
      `${left.length} process(es) did not exit after SIGKILL: ${left.map(describe).join(', ')}`,
      EXIT.applyFailed,
      'a process in uninterruptible sleep (state D) waits for the kernel; try again once it has exited',
    );
  }
}

const describe = (t: Target) => `${t.comm} (pid ${t.pid}${t.ns ? ` in ${t.ns}` : ''}, state ${t.state})`;

export interface StopOptions {
  files?: HostFiles;
  /** How long processes get after SIGTERM before SIGKILL (and after SIGKILL before an error). */
  graceMs?: number;
  /** List the signals that would be sent (in `commands`), send none. */
  dryRun?: boolean;
  /** Receives each signal sent, as the kill(1) command that would send it. */
  commands?: string[];
}

/**
 * TERM (and CONT, for a stopped one) to every process the request covers, then short polls of
 * /proc until they exited (no process spawned per poll), KILL after the grace. A process forked
 * meanwhile is found by a last pass over /proc once the others are gone. Returns how many were
 * signalled. Each pid is checked against its start time right before a signal.
 */
export async function stopProcesses(runner: CommandRunner, req: StopRequest, opts: StopOptions = {}): Promise<number> {
  const files = opts.files ?? hostFiles;
  const alive = (t: Target) => liveStat(files, t.pid)?.start === t.start;
  const send = async (sig: 'TERM' | 'KILL' | 'CONT', targets: Target[]) => {
    const live = opts.dryRun ? targets : targets.filter(alive);
    if (!live.length) return;
    const pids = live.map((t) => t.pid);
    opts.commands?.push(`kill -${sig} -- ${pids.join(' ')}  # ${live.map((t) => `${t.comm}${t.ns ? ` in ${t.ns}` : ''}`).join(', ')}`);
    if (opts.dryRun) return;
    if (runner.signal) runner.signal(pids, sig);
    else await runner.run(['kill', `-${sig}`, '--', ...pids.map(String)]);
  };
  const term = async (targets: Target[]) => {
    await send('TERM', targets);
    // A stopped process acts on TERM only once continued.
    await send(
      'CONT',
      targets.filter((t) => t.state === 'T' || t.state === 't'),
    );
  };
  let targets = [...findTargets(files, req).values()];
  const seen = new Set(targets.map((t) => t.pid));
  if (!targets.length) return 0;
  await term(targets);
  if (opts.dryRun) return targets.length;
  const grace = opts.graceMs ?? 2000;
  let killed = false;
  let deadline = Date.now() + grace;
  for (;;) {
    targets = targets.filter(alive);
    if (!targets.length) {
      const again = [...findTargets(files, req).values()];
      if (!again.length) return seen.size;
      for (const t of again) seen.add(t.pid);
      targets = again;
      if (killed) await send('KILL', again);
      else await term(again);
      continue;
    }
    if (Date.now() > deadline) {
      if (killed) throw new ProcessesLeftError(targets);
      killed = true;
      await send('KILL', targets);
      deadline = Date.now() + grace;
      continue;
    }
    await sleep(10);
  }
}

/** Stops one recorded process and its group (a process.stop or a restart). */
export async function stopProcess(runner: CommandRunner, rec: ProcessRecord, opts: StopOptions = {}): Promise<void> {
  await stopProcesses(runner, { namespaces: [], records: [rec] }, opts);
}

export class ProcessExitedError extends CliError {
  constructor(
    readonly key: string,
    readonly command: string,
    readonly output: string,
  ) {
    super(`process ${key} exited right after it started: ${command}`, EXIT.applyFailed);
  }

  override text(): string {
    return `error: ${this.message}\n${this.output}`;
  }
}

function tail(file: string, lines = 15): string {
  try {
    return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '';
  }
}

/** Starts a process; fails with its output if it is gone after `settleMs`. */
export async function startProcess(runner: CommandRunner, lab: string, p: ProcessSpec, settleMs = 300, onSpawn?: (r: ProcessRecord) => void): Promise<ProcessRecord> {
  const log = logFile(lab, p.node, p.name);
  const { pid } = await runner.spawnDetached(startArgv(p), log);
  let start = startTimes([pid]).get(pid) ?? '';
  onSpawn?.({ ns: p.node, argv: p.argv, pid, start, log });
  await sleep(settleMs);
  const now = startTimes([pid]).get(pid);
  if (pid !== 0 && (now === undefined || (start && now !== start))) throw new ProcessExitedError(processKey(p), startText(lab, p), tail(log));
  start ||= now ?? '';
  return { ns: p.node, argv: p.argv, pid, start, log };
}
