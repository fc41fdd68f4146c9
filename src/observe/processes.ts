// Which processes run, read from /proc through HostFiles: start times, and the lab processes
// netlab started that a lost journal no longer lists.
import type { ProcessSpec } from '../model/types.js';
import { logFile, processKey } from '../model/processes.js';
import { hostFiles, liveStat, type HostFiles } from './files.js';

/** pid -> start time (field 22 of /proc/PID/stat), for the pids that run. */
export function startTimes(pids: number[], files: HostFiles = hostFiles): Map<number, string> {
  const out = new Map<number, string>();
  for (const pid of pids) {
    const st = pid > 0 ? liveStat(files, pid) : undefined;
    if (st) out.set(pid, st.start);
  }
  return out;
}

/**
 * Running processes the journal does not list (it was lost) that are what netlab started for
 * `specs`: the leader of its own process group in the node's namespace, with the spec's argv,
 * writing to the spec's log (deleted, if the state directory went). A process started by hand
 * writes elsewhere and is never taken for one. By "node/name".
 */
export function findStarted(files: HostFiles, lab: string, specs: ProcessSpec[]): Map<string, { pid: number; start: string }> {
  const out = new Map<string, { pid: number; start: string }>();
  const byNs = new Map<number, ProcessSpec[]>();
  for (const s of specs) {
    const ino = files.netnsInode(s.node);
    if (ino !== undefined) byNs.set(ino, [...(byNs.get(ino) ?? []), s]);
  }
  if (!byNs.size) return out;
  for (const pid of files.pids()) {
    const net = files.pidNetns(pid);
    const specsThere = net === undefined ? undefined : byNs.get(net);
    if (!specsThere) continue;
    const st = liveStat(files, pid);
    if (!st || st.pgrp !== pid) continue;
    const argv = JSON.stringify(files.pidCmdline(pid));
    const stdout = files.pidStdout(pid);
    for (const s of specsThere) {
      const log = logFile(lab, s.node, s.name);
      if (!out.has(processKey(s)) && argv === JSON.stringify(s.argv) && (stdout === log || stdout === `${log} (deleted)`)) out.set(processKey(s), { pid, start: st.start });
    }
  }
  return out;
}

/**
 * Processes writing their output into `dir` (their stdout is a file in it, or was, if it was
 * deleted) that lead their own process group: what netlab started detached with a log there.
 * Nothing else writes into netlab's own directories, so the place is the proof.
 */
export function writingInto(dir: string, files: HostFiles = hostFiles): { pid: number; start: string }[] {
  const out: { pid: number; start: string }[] = [];
  for (const pid of files.pids()) {
    const stdout = files.pidStdout(pid);
    if (!stdout?.startsWith(`${dir}/`)) continue;
    const st = liveStat(files, pid);
    if (st && st.pgrp === pid) out.push({ pid, start: st.start });
  }
  return out;
}
