// A real terminal for end-to-end tests: a command run in a detached tmux session of a given size,
// its screen read back and keys sent to it. The command line ends with `echo EXIT=$?` (then waits,
// so the last screen can be read), and close() ends the session whatever happened.
import { spawnSync } from 'node:child_process';
import { sh, tryRun, uid } from './host.js';

/** Why terminal tests cannot run here, or undefined when tmux is installed. */
export const noTerminal = (): string | undefined => (spawnSync('tmux', ['-V']).status === 0 ? undefined : 'tmux is not installed (apt-get install tmux); .ci/run installs it');

export class Terminal {
  private constructor(readonly session: string) {}

  /** Starts `command` (a shell command line) in a cols x rows terminal. */
  static start(command: string, cols: number, rows: number): Terminal {
    const t = new Terminal(`netlab-${uid()}`);
    sh('tmux', ['new-session', '-d', '-s', t.session, '-x', String(cols), '-y', String(rows), `${command}; echo EXIT=$?; sleep 60`]);
    return t;
  }

  /** What the window shows now; with `history`, the scrollback above it too. */
  screen(history = false): string {
    return sh('tmux', ['capture-pane', '-p', ...(history ? ['-S', '-', '-E', '-'] : []), '-t', this.session]);
  }

  /** Sends keys as tmux send-keys names them ('r', 'Enter', 'C-c', or text). */
  keys(...keys: string[]): void {
    sh('tmux', ['send-keys', '-t', this.session, ...keys]);
  }

  close(): void {
    tryRun('tmux', ['kill-session', '-t', this.session]);
  }
}
