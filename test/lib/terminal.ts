// A real terminal for end-to-end tests: a command run in a detached tmux session of a given size,
// its screen read back and keys sent to it. The command line ends with `echo EXIT=$?` (then waits,
// so the last screen can be read), and close() ends the session whatever happened.
//
// Each terminal has its own tmux server (its own socket), started from this process's environment
// without CI: a person's terminal, whatever the suite runs under. A shared server would hand every
// session the environment of whoever started it first (CI=true on a CI machine, which turns the
// interactive views off).
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { uid } from './host.js';

/** Why terminal tests cannot run here, or undefined when tmux is installed. */
export const noTerminal = (): string | undefined => (spawnSync('tmux', ['-V']).status === 0 ? undefined : 'tmux is not installed (apt-get install tmux); .ci/run installs it');

const personEnv = (): NodeJS.ProcessEnv => {
  const env = { ...process.env };
  delete env.CI;
  delete env.TMUX;
  return env;
};

export class Terminal {
  /** A directory of its own for the server's socket: no two terminals ever share a server. */
  private readonly dir = mkdtempSync(join(tmpdir(), 'netlab-tmux-'));
  private readonly socket = join(this.dir, 'socket');

  private constructor(readonly session: string) {}

  private tmux(args: string[]): string {
    return execFileSync('tmux', ['-S', this.socket, '-f', '/dev/null', ...args], { encoding: 'utf8', env: personEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
  }

  /** Starts `command` (a shell command line) in a cols x rows terminal. */
  static start(command: string, cols: number, rows: number): Terminal {
    const t = new Terminal(`netlab-${uid()}`);
    t.tmux(['new-session', '-d', '-s', t.session, '-x', String(cols), '-y', String(rows), `${command}; echo EXIT=$?; sleep 60`]);
    return t;
  }

  /** What the window shows now; with `history`, the scrollback above it too. */
  screen(history = false): string {
    return this.tmux(['capture-pane', '-p', ...(history ? ['-S', '-', '-E', '-'] : []), '-t', this.session]);
  }

  /** Sends keys as tmux send-keys names them ('r', 'Enter', 'C-c', or text). */
  keys(...keys: string[]): void {
    this.tmux(['send-keys', '-t', this.session, ...keys]);
  }

  close(): void {
    try {
      this.tmux(['kill-server']);
    } catch {
      // already gone
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}
