// The one place netlab touches the system: every command goes through a CommandRunner.
import { spawn } from 'node:child_process';
import { closeSync, mkdirSync, openSync } from 'node:fs';
import { randomHex } from '../hash.js';
import { commandText, shellQuote } from '../core/shell.js';
import { dirname } from 'node:path';
import { constants } from 'node:os';

export interface RunResult {
  stdout: string;
  stderr: string;
  exitCode: number;
}

/** The longest delay a Node timer holds (2^31-1 ms, about 24.8 days); longer ones fire at once. */
export const MAX_TIMER_MS = 2 ** 31 - 1;

export interface RunOptions {
  /** Text fed to the command's standard input (ip -batch -, iptables-restore). */
  input?: string;
  /** Kill the command after this long (it then fails with exit code 124, like timeout(1)). */
  timeoutMs?: number;
}

export interface Command {
  argv: string[];
  input?: string;
}

/** A command's result with its standard output as bytes (Graphviz's png or pdf). */
export interface BytesResult {
  stdout: Buffer;
  stderr: string;
  /** The exit code; null when a signal ended it or it could not be started. */
  exitCode: number | null;
  signal?: NodeJS.Signals;
  /** Why it could not be started (ENOENT, EACCES, ...). */
  startError?: NodeJS.ErrnoException;
}

export interface ForegroundOptions {
  env?: NodeJS.ProcessEnv;
  /** 'ignore': the command reads nothing (ssh otherwise drains netlab's standard input). */
  stdin?: 'ignore';
  /** File descriptor for the command's standard output (default: netlab's). */
  stdout?: number;
}

export interface CommandRunner {
  run(argv: string[], opts?: RunOptions): Promise<RunResult>;
  /**
   * Runs many independent commands, at most `limit` at a time, and returns their results in
   * order. Optional: runMany() falls back to run() for runners without it (the test fakes).
   */
  runAll?(cmds: Command[], limit: number): Promise<RunResult[]>;
  /** Starts a long-running command in its own process group, output appended to a log file. */
  spawnDetached(argv: string[], logFile: string): Promise<{ pid: number }>;
  /**
   * Runs a user's command (exec, shell, capture) with netlab's standard streams and resolves to
   * its exit status as a shell reports it; rejects with the error when it cannot be started.
   */
  foreground(argv: string[], opts?: ForegroundOptions): Promise<number>;
  /** Runs a command with `input` on its standard input, keeping its output as bytes. */
  runBytes(argv: string[], input: string): Promise<BytesResult>;
  /**
   * Sends a signal to processes at once, without spawning kill(1): a pid checked a moment before
   * is still that process (pids are reused). Optional: the fakes get `kill -SIG -- PID...` run.
   */
  signal?(pids: number[], signal: 'TERM' | 'KILL' | 'CONT'): void;
}

/**
 * Runs commands for real. Never throws for a non-zero exit; a missing program is exit 127.
 * The kernel-state tools (ip, iptables-save, sysctl, ...) go through node's own spawn, cheaper
 * per process than execa (bench/README.md); commands with a timeout (checks, a lab's exec) use
 * execa, whose timeout and kill handling is what they need.
 */
export class ProcessRunner implements CommandRunner {
  async run(argv: string[], opts: RunOptions = {}): Promise<RunResult> {
    if (!opts.timeoutMs) return spawnRun(argv, opts.input);
    const { execa } = await import('execa');
    const [cmd, ...args] = argv;
    // In a process group of its own, and the timeout ends the whole group: `sh -c 'sleep 60'`
    // killed alone would leave the sleep running, holding the output pipe and the caller with it.
    const child = execa(cmd!, args, {
      reject: false,
      stripFinalNewline: false,
      ...(opts.input !== undefined ? { input: opts.input } : { stdin: 'ignore' }),
      env: { LC_ALL: 'C' },
      detached: true,
    });
    if (child.pid) liveGroups.add(child.pid);
    const group = (signal: NodeJS.Signals) => {
      try {
        if (child.pid) process.kill(-child.pid, signal);
      } catch {
        // the group is gone already
      }
    };
    let timedOut = false;
    let forceKill: NodeJS.Timeout | undefined;
    const timer = setTimeout(
      () => {
        timedOut = true;
        group('SIGTERM');
        forceKill = setTimeout(() => group('SIGKILL'), 500);
      },
      Math.min(opts.timeoutMs, MAX_TIMER_MS),
    );
    const r = await child;
    clearTimeout(timer);
    clearTimeout(forceKill);
    group('SIGKILL'); // what the probe left behind in its group
    if (child.pid) liveGroups.delete(child.pid);
    if (timedOut) return { stdout: String(r.stdout ?? ''), stderr: `${String(r.stderr ?? '')}timed out after ${opts.timeoutMs} ms`, exitCode: 124 };
    if (r.failed && r.exitCode === undefined) {
      const missing = (r as { code?: string }).code === 'ENOENT';
      return { stdout: '', stderr: missing ? `${cmd}: command not found` : (r.shortMessage ?? String(r.message)), exitCode: missing ? 127 : 126 };
    }
    return { stdout: String(r.stdout ?? ''), stderr: String(r.stderr ?? ''), exitCode: r.exitCode ?? 1 };
  }

  /**
   * Many commands through a few `sh` processes (one per slot) instead of one node spawn each, which
   * costs more than the command it runs (bench/README.md). A slot's commands run one after the
   * other, each followed by a marker line on standard output (with its exit status) and on
   * standard error: the shell's two streams are cut at the markers, with no file per command to
   * create, read and remove.
   */
  async runAll(cmds: Command[], limit: number): Promise<RunResult[]> {
    if (cmds.length <= 2) return Promise.all(cmds.map((c) => this.run(c.argv, c.input !== undefined ? { input: c.input } : {})));
    const slots = Math.max(1, Math.min(limit, cmds.length));
    const per = Math.ceil(cmds.length / slots);
    const delim = `NETLAB_${randomHex(6)}`;
    const line = (c: Command, i: number) => {
      const cmd = c.input === undefined ? `${shellQuote(c.argv)} </dev/null` : commandText(c.argv, c.input, delim);
      return `${cmd}\nprintf '\\036${delim} ${i} %d\\n' $?; printf '\\036${delim} ${i}\\n' >&2`;
    };
    const out: (RunResult | undefined)[] = new Array(cmds.length);
    await Promise.all(
      Array.from({ length: slots }, async (_, k) => {
        const mine = cmds.slice(k * per, (k + 1) * per);
        if (!mine.length) return;
        const r = await spawnRun(['sh', '-s'], `${mine.map((c, j) => line(c, k * per + j)).join('\n')}\n`);
        const stdout = cut(r.stdout, new RegExp(`\x1e${delim} (\\d+) (\\d+)\n`, 'g'));
        const stderr = cut(r.stderr, new RegExp(`\x1e${delim} (\\d+)\n`, 'g'));
        for (const [i, part] of stdout) out[i] = { stdout: part.text, stderr: stderr.get(i)?.text ?? '', exitCode: Number(part.rc) };
        // No marker: the shell itself failed before reaching the command.
        for (let i = k * per; i < k * per + mine.length; i++) out[i] ??= { stdout: '', stderr: r.stderr.replace(new RegExp(`\x1e${delim} \\d+\n`, 'g'), '') || 'not run', exitCode: 126 };
      }),
    );
    return out as RunResult[];
  }

  signal(pids: number[], signal: 'TERM' | 'KILL' | 'CONT'): void {
    for (const pid of pids) {
      try {
        process.kill(pid, `SIG${signal}`);
      } catch {
        // exited meanwhile
      }
    }
  }

  runBytes(argv: string[], input: string): Promise<BytesResult> {
    return spawnBytes(argv, input, process.env);
  }

  /**
   * While the command runs, netlab itself does not die of the signals meant for it: on a terminal
   * Ctrl-C and Ctrl-\ reach the command directly (one process group); otherwise SIGINT is passed
   * on; SIGTERM and SIGHUP are always passed on.
   */
  foreground(argv: string[], opts: ForegroundOptions = {}): Promise<number> {
    return new Promise((resolvePromise, reject) => {
      const child = spawn(argv[0]!, argv.slice(1), { stdio: [opts.stdin ?? 'inherit', opts.stdout ?? 'inherit', 'inherit'], env: opts.env ?? process.env });
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
      child.once('error', (e) => {
        done();
        reject(e);
      });
      child.once('close', (code, signal) => {
        done();
        resolvePromise(statusOf(code, signal));
      });
    });
  }

  async spawnDetached(argv: string[], logFile: string): Promise<{ pid: number }> {
    mkdirSync(dirname(logFile), { recursive: true });
    const fd = openSync(logFile, 'a');
    try {
      const child = spawn(argv[0]!, argv.slice(1), { detached: true, stdio: ['ignore', fd, fd], env: { ...process.env, LC_ALL: 'C' } });
      const pid = await new Promise<number>((resolve, reject) => {
        child.once('error', reject);
        child.once('spawn', () => resolve(child.pid!));
      });
      child.unref();
      return { pid };
    } finally {
      closeSync(fd);
    }
  }
}

/** Process groups of commands run with a timeout, ended when netlab exits (Ctrl-C) before them. */
const liveGroups = new Set<number>();
process.once('exit', () => {
  for (const pgid of liveGroups) {
    try {
      process.kill(-pgid, 'SIGKILL');
    } catch {
      // gone
    }
  }
});

/** The exit status a shell reports for a command that ended this way (128+N for signal N). */
export function statusOf(code: number | null, signal: NodeJS.Signals | null): number {
  if (code !== null) return code;
  const n = signal ? (constants.signals as Record<string, number>)[signal] : undefined;
  return 128 + (n ?? 0);
}

const ENV = { ...process.env, LC_ALL: 'C' };

async function spawnRun(argv: string[], input?: string): Promise<RunResult> {
  const r = await spawnBytes(argv, input, ENV);
  if (r.startError) {
    const missing = r.startError.code === 'ENOENT';
    return { stdout: '', stderr: missing ? `${argv[0]}: command not found` : r.startError.message, exitCode: missing ? 127 : 126 };
  }
  return { stdout: r.stdout.toString(), stderr: r.stderr + (r.signal ? `killed by ${r.signal}` : ''), exitCode: r.exitCode ?? 128 };
}

/** Runs a command to its end with piped output: the one place a child with captured streams is made. */
function spawnBytes(argv: string[], input: string | undefined, env: NodeJS.ProcessEnv): Promise<BytesResult> {
  return new Promise((resolve) => {
    const child = spawn(argv[0]!, argv.slice(1), { stdio: [input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'], env });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout!.on('data', (d: Buffer) => out.push(d));
    child.stderr!.on('data', (d: Buffer) => err.push(d));
    child.once('error', (e: NodeJS.ErrnoException) => resolve({ stdout: Buffer.alloc(0), stderr: '', exitCode: null, startError: e }));
    child.once('close', (code, signal) => resolve({ stdout: Buffer.concat(out), stderr: Buffer.concat(err).toString(), exitCode: code, ...(signal ? { signal } : {}) }));
    if (input !== undefined) {
      child.stdin!.on('error', () => {}); // the tool may exit before reading everything
      child.stdin!.end(input);
    }
  });
}

/** Cuts a stream at its markers: command index -> the text before its marker (and its status). */
function cut(text: string, marker: RegExp): Map<number, { text: string; rc?: string }> {
  const out = new Map<number, { text: string; rc?: string }>();
  let at = 0;
  for (const m of text.matchAll(marker)) {
    out.set(Number(m[1]), { text: text.slice(at, m.index), ...(m[2] !== undefined ? { rc: m[2] } : {}) });
    at = m.index! + m[0].length;
  }
  return out;
}

/** Runs independent commands, at most `limit` at a time, through the runner's runAll when it has one. */
export function runMany(runner: CommandRunner, cmds: Command[], limit: number): Promise<RunResult[]> {
  if (runner.runAll) return runner.runAll(cmds, limit);
  return parallel(cmds, limit, (c) => runner.run(c.argv, c.input !== undefined ? { input: c.input } : {}));
}

/** Runs tasks with at most `limit` in flight, keeping result order. */
export async function parallel<T, R>(items: T[], limit: number, fn: (t: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  const workers = Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!);
    }
  });
  await Promise.all(workers);
  return out;
}
