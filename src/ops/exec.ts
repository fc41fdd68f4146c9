// ops/exec: runs a command in a lab node's namespace in the foreground, the way a shell runs a
// command: standard input, output and error are the terminal's (or the pipes'), and its exit
// status becomes netlab's (128+N when a signal N ended it; 127/126 when it cannot be run).
import { CliError } from '../core/errors.js';
import { requireRoot } from '../privileges.js';
import type { CommandRunner, ForegroundOptions } from '../runner/runner.js';
import { markEntered } from '../state/trust.js';
import { findProgram, inTarget, missingIp, resolveTarget, type Target } from './target.js';
import { HOST } from '../model/types.js';

/** Runs argv through the runner in the foreground (the runner's foreground) and returns its exit status. */
export async function runForeground(runner: CommandRunner, argv: string[], opts: ForegroundOptions = {}): Promise<number> {
  try {
    return await runner.foreground(argv, opts);
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    if (e.code === 'ENOENT' && argv[0] === 'ip') throw missingIp();
    throw new CliError(`cannot run ${argv[0]}: ${e.message}`, e.code === 'ENOENT' ? 127 : 126);
  }
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
export async function runEntered(runner: CommandRunner, t: Target, argv: string[], opts: ForegroundOptions = {}): Promise<number> {
  if (t.ns !== HOST) markEntered(t.lab, t.ns);
  try {
    return await runForeground(runner, inTarget(t, argv), opts);
  } finally {
    if (t.ns !== HOST) markEntered(t.lab, t.ns);
  }
}

/** `netlab exec LAB NODE -- CMD...`: the command's exit status. */
export async function execIn(runner: CommandRunner, labArg: string, node: string, command: string[]): Promise<number> {
  requireRoot('exec');
  if (!command.length) throw new CliError('no command given', 1, `netlab exec ${labArg} ${node} -- COMMAND [ARGS...]`);
  const t = await resolveTarget(runner, labArg, node);
  checkRunnable(command[0]!, whereText(t));
  return runEntered(runner, t, command, { env: targetEnv(t) });
}
