// core/errors: the documented exit codes (README "Exit codes") and the errors that carry them.

/** Exit codes, documented in the README. */
export const EXIT = {
  ok: 0,
  error: 1,
  invalid: 2,
  applyFailed: 3,
  checksFailed: 4,
  locked: 5,
  /** The machine lacks a tool, privilege or kernel feature that is needed (netlab doctor tells which). */
  unsupported: 6,
  pending: 2,
  /** Stopped by Ctrl-C (SIGINT), as a shell reports it. */
  interrupted: 130,
} as const;

/** Ends the command with this exit code; whatever needed saying was printed already. */
export class Exit extends Error {
  constructor(readonly code: number) {
    super(`exit ${code}`);
  }
}

/**
 * A user-facing error: printed as "error: <message>" (plus the hint), never with a stack trace.
 * Every error netlab expects (an invalid lab, a failed command, a lock held) is one, carrying its
 * documented exit code, so the CLI maps errors to exit codes without knowing each kind.
 */
export class CliError extends Error {
  constructor(
    message: string,
    readonly code: number = EXIT.error,
    readonly hint?: string,
  ) {
    super(message);
    this.name = 'CliError';
  }

  /** What the user reads for it (the CLI prints this and exits with `code`). */
  text(): string {
    return printable(`error: ${this.message}${this.hint ? `\n  hint: ${this.hint}` : ''}`);
  }
}

/**
 * Text safe to print on a terminal: control characters other than newline and tab (a NUL in a
 * name from a lab file or the command line, an escape sequence) are shown as \xNN.
 */
export function printable(s: string): string {
  // eslint-disable-next-line no-control-regex
  return s.replace(/[\x00-\x08\x0b-\x1f\x7f-\x9f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
}

/** A stderr line that only says the object is gone already (or is ip -batch's trailer). */
const GONE = /^Command failed|Cannot find device|No such|does not exist|Cannot open network namespace/;

/**
 * The one rule for a benign failure: a tolerant command (a delete, whose object may have vanished
 * meanwhile) that failed only because its object is gone already, every stderr line saying so.
 */
export function onlyGone(stderr: string): boolean {
  return stderr.split('\n').every((l) => !l.trim() || GONE.test(l));
}
