// cli/common: what the verbs share: their dependencies, the lazy loaders, the option parsers, the
// Ctrl-C handling and the one error report.
import { InvalidArgumentError } from 'commander';
import { CliError, EXIT, Exit } from '../core/errors.js';
import { shownLab } from '../core/state.js';
import type { CommandRunner } from '../runner/runner.js';
import { readJournal, stateDirError } from '../state/journal.js';

/** What every verb's register() is given by cli/main.ts. */
export interface CliDeps {
  runner: CommandRunner;
  out: (s: string) => void;
  err: (s: string) => void;
}

// The planner, the plan's presentation and the terminal UI are loaded by the commands that use
// them, when they run: `down`, `logs`, `validate` or `generate` load none of them.
export const engine = () => import('../engine.js');
export const present = () => import('../ui/present.js');
/** The terminal UI (Ink, React, listr2) is loaded only by the commands that draw it. */
export const ui = () => import('../ui/session.js');

export const positiveInt = (v: string) => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('expected a positive whole number');
  return n;
};

export function requireUp(err: CliDeps['err'], lab: string, file: string): void {
  if (readJournal(lab)) return;
  err(`lab ${lab} is not up: run 'netlab up ${file}' first`);
  throw new Exit(EXIT.applyFailed);
}

/**
 * Signals are the CLI's: Ctrl-C asks the engine to stop (its AbortSignal). `up` and `check` let go
 * at once (the view restores the terminal, the lock is released; the journal is written before
 * every phase): the CLI says where the lab stands and exits. trace first removes its trace tables,
 * then throws Exit(130), on which the CLI exits without waiting for the probe.
 */
export async function stoppable<T>(err: CliDeps['err'], run: (signal: AbortSignal) => Promise<T>, lab?: string): Promise<T> {
  const stop = new AbortController();
  const onInt = () => {
    stop.abort();
    if (lab === undefined) return;
    err(`\ninterrupted: the journal is up to date; 'netlab up' converges from here, 'netlab down ${shownLab(lab)}' removes the lab`);
    process.exit(EXIT.interrupted);
  };
  process.once('SIGINT', onInt);
  try {
    return await run(stop.signal);
  } catch (e) {
    if (stop.signal.aborted && e instanceof Exit && e.code === EXIT.interrupted) process.exit(e.code);
    throw e;
  } finally {
    process.removeListener('SIGINT', onInt);
  }
}

/** One handler: a user error is a message with its exit code, never a stack trace. */
export function report(err: CliDeps['err'], e: unknown): number {
  e = stateDirError(e) ?? e;
  if (e instanceof CliError) {
    err(e.text());
    return e.code;
  }
  err(`netlab: internal error: ${(e as Error)?.stack ?? String(e)}\nplease report this with the lab file and the command`);
  return EXIT.error;
}
