// The interactive view of `netlab steps` on a terminal. A store holds what the Ink view draws
// (src/ui/steps-view.tsx); the view sends the keys it reads here as intents, and this controller
// runs them through the steps use case (src/engine/steps.ts): run the step, re-run its checks, move
// on, go back or reset to any step. The shell, trace, counters and conntrack keys run this same
// CLI as a child (`netlab shell LAB NODE`), when this build has the command: nothing of theirs is
// imported. Only one intent runs at a time.
import { checkStep, labAt, resetTo, runStep } from '../engine/steps.js';
import type { CheckSpec, Lab } from '../model/types.js';
import type { CommandRunner } from '../runner/runner.js';
import { sleep } from '../core/time.js';
import { keysFor, StepsStore, type Key, type StepsUiState } from './steps-store.js';

export interface InteractiveOptions {
  /** The step to start at (0-based): the steps before it are replayed without their checks. */
  start: number;
  trustVerified: boolean;
  /** argv that runs this CLI (node and its script). */
  self: string[];
  /** The commands of this CLI the keys may run as children: shell, trace, counters, conntrack. */
  commands: string[];
}

const CHOICE_KEYS = '123456789abcdefghijlmopuvwyz';

/** The checks a trace can follow: those that send a packet from a node to an address. */
type Probe = Extract<CheckSpec, { kind: 'ping' | 'tcp' | 'udp' | 'trace' }>;
const isProbe = (c: CheckSpec): c is Probe => c.kind !== 'exec';

export class StepsController {
  readonly store: StepsStore;
  private stop = new AbortController();
  private pending?: (key: string) => void;
  /** Set by interactive(): hide and show the Ink view around a child that takes the terminal. */
  suspend: () => Promise<void> = async () => {};
  resume: () => void = () => {};
  private finished!: () => void;
  readonly ended = new Promise<void>((r) => (this.finished = r));

  constructor(
    private readonly runner: CommandRunner,
    private readonly lab: Lab,
    private readonly opts: InteractiveOptions,
  ) {
    const steps = lab.steps!;
    this.store = new StepsStore({
      lab: lab.name,
      total: steps.length,
      index: opts.start,
      step: steps[opts.start]!,
      ran: false,
      commands: [],
      checks: [],
      checked: false,
      keys: keysFor(opts.commands, steps.length),
    });
  }

  private get s(): StepsUiState {
    return this.store.get();
  }

  private get engineOpts() {
    return { signal: this.stop.signal, ...(this.opts.trustVerified ? { trustVerified: true } : {}) };
  }

  /** Shows step `index` as not yet run. */
  private show(index: number, message?: StepsUiState['message']): void {
    this.store.set({ index, step: this.lab.steps![index]!, ran: false, commands: [], checks: [], checked: false, output: undefined, choice: undefined, message, variant: undefined });
  }

  /** Runs one intent at a time, showing what runs; an error is shown, and the walk goes on. */
  private async busy(what: string, work: () => Promise<void>): Promise<void> {
    this.store.set({ busy: what, message: undefined });
    try {
      await work();
    } catch (e) {
      if (this.stop.signal.aborted) return;
      const text = (e as { text?: () => string }).text?.() ?? (e instanceof Error ? e.message : String(e));
      this.store.set({ message: { text: text.replace(/^error: /, ''), tone: 'error' } });
    } finally {
      this.store.set({ busy: undefined });
    }
  }

  async start(): Promise<void> {
    const i = this.opts.start;
    await this.busy(i ? `bringing the lab to the start of step ${i + 1} (up, then steps 1-${i} replayed)` : 'bringing the lab to its declared state (up)', async () => {
      await resetTo(this.runner, this.lab, i, this.engineOpts);
      this.show(i, { text: `the lab is at the start of step ${i + 1}: press r to run it`, tone: 'info' });
    });
  }

  /** Runs the current step: its variant, its commands, then its checks. */
  private async run(): Promise<void> {
    const i = this.s.index;
    await this.busy(`running step ${i + 1}`, async () => {
      const r = await runStep(
        this.runner,
        this.lab,
        i,
        { ...this.engineOpts, checks: true },
        {
          stepStart: () => this.store.set({ commands: [], checks: [] }),
          reconcileStart: (v) => this.store.set({ busy: `step ${i + 1}: reconciling the lab to variant ${v}` }),
          commandStart: (_i, c) => this.store.set({ busy: `step ${i + 1}: [${c.node}]$ ${c.text}` }),
          commandDone: (_i, c) => this.store.set({ commands: [...this.s.commands, c] }),
          checksStart: () => this.store.set({ busy: `step ${i + 1}: checking` }),
        },
      );
      this.store.set({
        ran: true,
        checked: true,
        checks: r.checks,
        ...(r.variant ? { variant: r.variant } : {}),
        message: r.met ? { text: 'every expectation met: n for the next step', tone: 'ok' } : { text: 'not every expectation met: see above; b goes back, r runs the step again', tone: 'error' },
      });
    });
  }

  private async check(): Promise<void> {
    const i = this.s.index;
    await this.busy(`checking step ${i + 1}`, async () => {
      const results = await checkStep(this.runner, this.lab, i);
      const met = results.every((r) => r.met);
      const note = this.s.ran ? '' : ' (the step has not run yet: this is the lab before it)';
      this.store.set({ checks: results, checked: true, message: { text: `${results.filter((r) => r.met).length}/${results.length} expectations met${note}`, tone: met ? 'ok' : 'info' } });
    });
  }

  /** The next step: the current one is run first (without its checks) if it was not. */
  private async next(): Promise<void> {
    const i = this.s.index;
    if (i + 1 >= this.s.total) {
      this.store.set({ message: { text: `step ${i + 1} is the last one: q quits (the lab stays up), 1 starts over`, tone: 'info' } });
      return;
    }
    if (this.s.ran) return this.show(i + 1);
    await this.busy(`running step ${i + 1} before moving on`, async () => {
      await runStep(this.runner, this.lab, i, { ...this.engineOpts, checks: false });
      this.show(i + 1, { text: `step ${i + 1} ran (without its checks)`, tone: 'info' });
    });
  }

  /** Resets the lab to the start of step `to`: up, then the steps before it without their checks. */
  private async resetTo(to: number): Promise<void> {
    if (to < 0 || to >= this.s.total) return;
    await this.busy(`resetting the lab to the start of step ${to + 1}`, async () => {
      await resetTo(this.runner, this.lab, to, this.engineOpts, {
        stepStart: (k) => this.store.set({ busy: `resetting to step ${to + 1}: replaying step ${k + 1}` }),
      });
      this.show(to, { text: `the lab is at the start of step ${to + 1}${to ? ` (up, then steps 1-${to} replayed)` : ' (as declared)'}`, tone: 'info' });
    });
  }

  private ask(title: string, options: Key[]): Promise<string | undefined> {
    this.store.set({ choice: { title, options } });
    return new Promise((resolve) => {
      this.pending = (key) => {
        if (key !== 'esc' && !options.some((o) => o.key === key)) return;
        this.pending = undefined;
        this.store.set({ choice: undefined });
        resolve(key === 'esc' ? undefined : key);
      };
    });
  }

  private async pickNode(what: string): Promise<string | undefined> {
    const nodes = [...labAt(this.lab, this.s.index).nodes.keys()];
    if (nodes.length === 1) return nodes[0];
    const options = nodes.slice(0, CHOICE_KEYS.length).map((n, i) => ({ key: CHOICE_KEYS[i]!, label: n }));
    const k = await this.ask(`${what} in which node?`, options);
    return options.find((o) => o.key === k)?.label;
  }

  /** A child of this CLI whose output the view shows. */
  private async child(args: string[]): Promise<void> {
    const title = `netlab ${args.join(' ')}`;
    await this.busy(title, async () => {
      const r = await this.runner.run([...this.opts.self, ...args], { timeoutMs: 60_000 });
      const lines = `${r.stdout}${r.stderr}`.trimEnd().split('\n');
      this.store.set({ output: { title: `${title}${r.exitCode ? ` (exit ${r.exitCode})` : ''}`, lines: lines.length > 30 ? ['...', ...lines.slice(-30)] : lines } });
    });
  }

  private async shell(): Promise<void> {
    const node = await this.pickNode('a shell');
    if (!node) return;
    await this.suspend();
    process.stdout.write(`\nnetlab shell ${this.lab.name} ${node}: exit the shell to come back to step ${this.s.index + 1}\n`);
    try {
      await this.runner.foreground([...this.opts.self, 'shell', this.lab.name, node]);
    } finally {
      this.resume();
    }
    this.store.set({ message: { text: `back from the shell in ${node}: c re-runs the checks`, tone: 'info' } });
  }

  private async trace(): Promise<void> {
    const here = this.s.step.expect.filter(isProbe);
    const probes = here.length ? here : this.lab.checks.filter(isProbe);
    if (!probes.length) {
      this.store.set({ message: { text: 'no check of this step sends a packet to trace (netlab trace LAB --from NODE --to ADDR)', tone: 'info' } });
      return;
    }
    const options = probes.slice(0, CHOICE_KEYS.length).map((c, i) => ({ key: CHOICE_KEYS[i]!, label: c.label }));
    const k = probes.length === 1 ? options[0]!.key : await this.ask('trace the packet of which check?', options);
    const c = probes[options.findIndex((o) => o.key === k)];
    if (!c) return;
    const proto = c.kind === 'ping' ? 'icmp' : c.kind === 'trace' ? c.proto : c.kind;
    const port = c.kind === 'tcp' || c.kind === 'udp' ? c.port : c.kind === 'trace' ? c.port : undefined;
    await this.child(['trace', this.lab.name, '--from', c.from, '--to', c.to, ...(proto !== 'icmp' ? ['--proto', proto] : []), ...(port ? ['--port', String(port)] : [])]);
  }

  /** What a key asks for. */
  async key(k: string): Promise<void> {
    if (this.pending) return this.pending(k);
    if (k === 'quit') return this.quit();
    if (this.s.busy) return;
    const has = (c: string) => this.opts.commands.includes(c);
    if (k === 'r' || (k === 'enter' && !this.s.ran)) return this.run();
    if (k === 'c') return this.check();
    if (k === 'n' || k === 'right' || k === 'enter') return this.next();
    if (k === 'b' || k === 'left') return this.resetTo(this.s.index - 1);
    if (/^[1-9]$/.test(k)) return this.resetTo(Number(k) - 1);
    if (k === 'g') {
      // Steps past the ninth: pick one from the list (at most as many as there are choice keys).
      const options = this.lab.steps!.slice(0, CHOICE_KEYS.length).map((st, i) => ({ key: CHOICE_KEYS[i]!, label: `${i + 1}. ${st.title}` }));
      const pick = await this.ask('reset the lab to the start of which step?', options);
      const at = options.findIndex((o) => o.key === pick);
      if (at >= 0) await this.resetTo(at);
      return;
    }
    if (k === 's' && has('shell')) return this.shell();
    if (k === 't' && has('trace')) return this.trace();
    if (k === 'k' && has('counters')) {
      const node = await this.pickNode('counters');
      if (node) await this.child(['counters', this.lab.name, node]);
      return;
    }
    if (k === 'x' && has('conntrack')) {
      const node = await this.pickNode('conntrack');
      if (node) await this.child(['conntrack', this.lab.name, node]);
      return;
    }
    if (k === 'q') return this.quit();
  }

  /** What was running when the trainee quit (Ctrl-C or q): the lab may be half-way there. */
  interrupted?: string;

  private quit(): void {
    if (this.s.busy) {
      this.interrupted = this.s.busy;
      this.stop.abort();
    }
    this.store.set({ done: true });
    this.finished();
  }
}

/** Runs the interactive walk until the trainee quits; the lab stays up where it is. Resolves to false when the trainee quit while something ran. */
export async function interactive(runner: CommandRunner, lab: Lab, opts: InteractiveOptions): Promise<boolean> {
  const [react, { render }, { StepsApp }] = await Promise.all([import('react'), import('ink'), import('./steps-view.js')]);
  const { createElement } = react.default;
  const ctl = new StepsController(runner, lab, opts);
  const draw = () => render(createElement(StepsApp, { store: ctl.store, onKey: (k: string) => void ctl.key(k) }), { exitOnCtrlC: false, patchConsole: false });
  let ink = draw();
  ctl.suspend = async () => {
    ink.unmount();
    await ink.waitUntilExit();
    process.stdin.setRawMode?.(false);
    process.stdin.pause();
  };
  ctl.resume = () => {
    ink = draw();
  };
  void ctl.start();
  await ctl.ended;
  await sleep(30);
  ink.unmount();
  await ink.waitUntilExit();
  const s = ctl.store.get();
  if (ctl.interrupted) {
    process.stderr.write(`interrupted while ${ctl.interrupted}: 'netlab steps ${lab.name}' starts over, 'netlab down ${lab.name}' removes the lab\n`);
    return false;
  }
  process.stdout.write(`lab ${lab.name} stays up at step ${s.index + 1}${s.ran ? ' (run)' : ''}: 'netlab down ${lab.name}' removes it\n`);
  return true;
}
