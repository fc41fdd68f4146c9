// ops/exec: runs a command in a lab node's namespace in the foreground, the way a shell runs a
// command: standard input, output and error are the terminal's (or the pipes'), and its exit
// status becomes netlab's (128+N when a signal N ended it; 127/126 when it cannot be run).
import { spawn } from 'node:child_process';
import { constants } from 'node:os';
import { CliError } from '../core/errors.js';
import { requireRoot } from '../privileges.js';
import { ProcessRunner } from '../runner/runner.js';
import { markEntered } from '../state/trust.js';
import { findProgram, inTarget, missingIp, resolveTarget, type Target } from './target.js';

export interface ForegroundOptions {
  env?: NodeJS.ProcessEnv;
  /** File descriptor for the command's standard output (default: netlab's). */
  stdout?: number;
}

/** The exit status a shell reports for a command that ended this way. */
export function statusOf(code: number | null, signal: NodeJS.Signals | null): number {
  if (code !== null) return code;
  const n = signal ? (constants.signals as Record<string, number>)[signal] : undefined;
  return 128 + (n ?? 0);
}

/**
 * Runs argv with inherited standard streams and returns its exit status. While it runs, netlab
 * itself does not die of the signals meant for the command: on a terminal Ctrl-C and Ctrl-\ reach
 * the command directly (one process group); otherwise SIGINT is passed on; SIGTERM and SIGHUP
 * are always passed on.
 */
export function runForeground(argv: string[], opts: ForegroundOptions = {}): Promise<number> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(argv[0]!, argv.slice(1), { stdio: ['inherit', opts.stdout ?? 'inherit', 'inherit'], env: opts.env ?? process.env });
    const forward = (sig: NodeJS.Signals) => () => {
      if (child.exitCode === null && child.signalCode === null) child.kill(sig);
    };
    const onTty = !!process.stdin.isTTY;
    const handlers: [NodeJS.Signals, () => void][] = [
      ['SIGINT', onTty ? () => {} : forward('SIGINT')],
      ['SIGQUIT', onTty ? () => {} : forward('SIGQUIT')],
      ['SIGTERM', forward('SIGTERM')],
      ['SIGHUP', forward('SIGHUP')],
    ];
    for (const [s, h] of handlers) process.on(s, h);
    const done = () => {
      for (const [s, h] of handlers) process.off(s, h);
    };
    child.once('error', (e: NodeJS.ErrnoException) => {
      done();
      if (e.code === 'ENOENT' && argv[0] === 'ip') reject(missingIp());
      else reject(new CliError(`cannot run ${argv[0]}: ${e.message}`, e.code === 'ENOENT' ? 127 : 126));
    });
    child.once('close', (code, signal) => {
      done();
      resolvePromise(statusOf(code, signal));
    });
  });
}

/** Checks that a command can be run before entering the namespace, to report it as a shell does. */
export function checkRunnable(cmd: string, where: string, path = process.env.PATH): void {
  const found = findProgram(cmd, path);
  if ('error' in found) {
    if (found.error === 'not-found')
      throw new CliError(`${cmd}: command not found (in ${where})`, 127, cmd.includes('/') ? 'there is no such file' : 'it is not in PATH: give its full path, or install it');
    throw new CliError(`${cmd}: permission denied (in ${where}): ${found.path} is not an executable file`, 126);
  }
}

export function targetEnv(t: Target): NodeJS.ProcessEnv {
  return { ...process.env, NETLAB_LAB: t.lab, NETLAB_NODE: t.node };
}

export const whereText = (t: Target) => `node ${t.node} of lab ${t.lab}`;

/**
 * Runs a command of the user's in the target's namespace. It may change the namespace, so the
 * namespace is marked as entered (before, and again after: a plain `up` running meanwhile cannot
 * clear it) and the next `up --trust-verified` reads it instead of trusting what it verified there before.
 */
export async function runEntered(t: Target, argv: string[], opts: ForegroundOptions = {}): Promise<number> {
  if (t.ns !== null) markEntered(t.lab, t.ns);
  try {
    return await runForeground(inTarget(t, argv), opts);
  } finally {
    if (t.ns !== null) markEntered(t.lab, t.ns);
  }
}

/** `netlab exec LAB NODE -- CMD...`: the command's exit status. */
export async function execIn(labArg: string, node: string, command: string[]): Promise<number> {
  requireRoot('exec');
  if (!command.length) throw new CliError('no command given', 1, `netlab exec ${labArg} ${node} -- COMMAND [ARGS...]`);
  const t = await resolveTarget(new ProcessRunner(), labArg, node);
  checkRunnable(command[0]!, whereText(t));
  return runEntered(t, command, { env: targetEnv(t) });
}
