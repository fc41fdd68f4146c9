// A test fake of the CommandRunner: canned replies per command, as np's and Renovate's tests do.
import type { BytesResult, CommandRunner, RunOptions, RunResult } from '../../src/runner/runner.js';

export interface Recorded {
  argv: string[];
  input?: string;
}

type Reply = Partial<RunResult> | ((argv: string[], input?: string) => Partial<RunResult>);

/** Canned replies for unit tests, matched by the command's text (prefix match, first wins). */
export class ScriptedRunner implements CommandRunner {
  readonly calls: Recorded[] = [];
  private replies: [string, Reply][] = [];
  constructor(private fallback: Partial<RunResult> = { exitCode: 0 }) {}
  on(prefix: string, reply: Reply): this {
    this.replies.push([prefix, reply]);
    return this;
  }
  async run(argv: string[], opts: RunOptions = {}): Promise<RunResult> {
    this.calls.push({ argv, ...(opts.input !== undefined ? { input: opts.input } : {}) });
    const text = argv.join(' ');
    const hit = this.replies.find(([p]) => text.startsWith(p));
    const r = hit ? (typeof hit[1] === 'function' ? hit[1](argv, opts.input) : hit[1]) : this.fallback;
    return { stdout: r.stdout ?? '', stderr: r.stderr ?? '', exitCode: r.exitCode ?? 0 };
  }
  private nextPid = 4000;
  async spawnDetached(argv: string[], logFile: string): Promise<{ pid: number }> {
    this.calls.push({ argv, input: `> ${logFile}` });
    return { pid: this.nextPid++ };
  }
  async foreground(argv: string[]): Promise<number> {
    return (await this.run(argv)).exitCode;
  }
  async runBytes(argv: string[], input: string): Promise<BytesResult> {
    const r = await this.run(argv, { input });
    return { stdout: Buffer.from(r.stdout), stderr: r.stderr, exitCode: r.exitCode };
  }
}
