// Long-running processes in nodes: started detached in their own process group with output in a
// per-lab log, recorded with pid and start time, stopped by process group (TERM, then KILL).
import { readFileSync } from 'node:fs';
import { CliError, EXIT } from '../cli/exit.js';
import { join } from 'node:path';
import type { ProcessSpec } from '../model/types.js';
import { shellQuote, type CommandRunner } from '../runner/runner.js';
import { logDir, type ProcessRecord } from '../state/journal.js';

export function processKey(p: { node?: string; ns?: string; name: string }): string {
  return `${p.node ?? p.ns}/${p.name}`;
}

export function logFile(lab: string, node: string, name: string): string {
  return join(logDir(lab), `${node}.${name}.log`);
}

export function startArgv(p: ProcessSpec): string[] {
  return ['ip', 'netns', 'exec', p.node, ...p.argv];
}

export function startText(lab: string, p: ProcessSpec): string {
  return `${shellQuote(startArgv(p))} >>${logFile(lab, p.node, p.name)} 2>&1 &`;
}

/** pid -> start time (field 22 of /proc/PID/stat), for the pids that exist. */
export async function startTimes(runner: CommandRunner, pids: number[]): Promise<Map<number, string>> {
  const out = new Map<number, string>();
  if (pids.length === 0) return out;
  const r = await runner.run(['grep', '-H', '', ...pids.map((p) => `/proc/${p}/stat`)]);
  for (const line of r.stdout.split('\n')) {
    const m = /^\/proc\/(\d+)\/stat:(.*)$/.exec(line);
    if (!m) continue;
    // The command name (field 2) may hold spaces and parentheses: count fields after its last ')'.
    const rest = m[2]!.slice(m[2]!.lastIndexOf(')') + 2).split(' ');
    const state = rest[0];
    if (state === 'Z' || state === 'X') continue; // exited, not yet reaped
    out.set(Number(m[1]), rest[19]!);
  }
  return out;
}

export async function isAlive(runner: CommandRunner, rec: ProcessRecord): Promise<boolean> {
  return (await startTimes(runner, [rec.pid])).get(rec.pid) === rec.start;
}

const sleep = (ms: number) => new Promise((res) => setTimeout(res, ms));

/** Members of the process group led by pid (the kernel never reuses a pid still in use as a group id). */
async function groupMembers(runner: CommandRunner, pgid: number): Promise<boolean> {
  return (await runner.run(['pgrep', '-g', String(pgid)])).stdout.trim() !== '';
}

/**
 * TERM to the process group, up to `graceMs` for it to exit, then KILL. Also when the leader died
 * and left children behind (a forking server whose parent was killed).
 */
export async function stopProcess(runner: CommandRunner, rec: ProcessRecord, graceMs = 2000): Promise<void> {
  if (rec.pid <= 1) return;
  const gone = async () => !(await isAlive(runner, rec)) && !(await groupMembers(runner, rec.pid));
  if (await gone()) return;
  await runner.run(['kill', '-TERM', '--', `-${rec.pid}`]);
  const end = Date.now() + graceMs;
  while (Date.now() < end) {
    await sleep(50);
    if (await gone()) return;
  }
  await runner.run(['kill', '-KILL', '--', `-${rec.pid}`]);
  for (let i = 0; i < 40 && !(await gone()); i++) await sleep(25);
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
  let start = (await startTimes(runner, [pid])).get(pid) ?? '';
  onSpawn?.({ ns: p.node, argv: p.argv, pid, start, log });
  await sleep(settleMs);
  const now = (await startTimes(runner, [pid])).get(pid);
  if (pid !== 0 && (now === undefined || (start && now !== start))) throw new ProcessExitedError(processKey(p), startText(lab, p), tail(log));
  start ||= now ?? '';
  return { ns: p.node, argv: p.argv, pid, start, log };
}
