// The views of `up` and `check`: three implementations of the engine's Hooks. On a TTY the Ink
// view (a Store it draws), off a TTY listr2's plain lines (a task list driven from the hooks),
// with --json none (the CLI prints the document). The engine (src/engine/up.ts) does the work.
import { Listr, type ListrTask } from 'listr2';
import { planText, type Planned } from '../engine.js';
import type { Hooks } from '../engine/hooks.js';
import { up, type UpOptions, type UpResult } from '../engine/up.js';
import type { Lab } from '../model/types.js';
import { describe, type Phase } from '../plan/actions.js';
import type { Step } from '../render/render.js';
import type { CommandRunner } from '../runner/runner.js';
import { failureText, type CheckResult } from '../verify/checks.js';
import { checkTable, layout, matrices, matrixLines, summaryText } from './format.js';
import { Store } from './store.js';
import { sleep } from '../core/time.js';

export type Mode = 'ink' | 'plain' | 'json';

/** Ink and React take ~0.4 s to load: only a terminal that shows them pays for it. */
async function drawInk(store: Store) {
  // React is CommonJS: its exports are the module's default, in node's ESM and in the bundle alike.
  const [react, { render }, { LiveUpView }] = await Promise.all([import('react'), import('ink'), import('./view.js')]);
  const { createElement } = react.default;
  return render(createElement(LiveUpView, { store }), { exitOnCtrlC: false, patchConsole: false });
}

/**
 * The changes `up` makes to a lab that was up (a repair or an edit), one line each, at most
 * `max`: a first `up` only counts them (`netlab plan` and `--json` list them all).
 */
export function changeLines(p: Planned, max = 40): string[] {
  if (!p.journal || !p.plan.actions.length) return [];
  const lines = p.plan.actions.slice(0, max).map((a) => `  ${describe(a)}`);
  const more = p.plan.actions.length - lines.length;
  if (more > 0) lines.push(`  ... and ${more} more (--json lists them all)`);
  return lines;
}

function pickMode(json: boolean): Mode {
  if (json) return 'json';
  return process.stdout.isTTY && process.env.CI !== 'true' && process.env.TERM !== 'dumb' ? 'ink' : 'plain';
}

/** The results off a TTY: the same table and matrices as the Ink view, as plain text. */
export function plainChecks(results: CheckResult[], width = 80): string {
  const out: string[] = [];
  for (const m of matrices(results)) {
    const { lines, legend } = matrixLines(m, width);
    out.push('', ...lines.map((l) => l.text), legend);
  }
  const t = checkTable(results);
  if (t.rows.length)
    out.push(
      '',
      ...layout(
        t.head,
        t.rows.map((r) => r.cells),
        width,
      ),
    );
  const bad = results.filter((r) => !r.met);
  if (bad.length) out.push('', ...bad.map(failureText));
  return out.join('\n');
}

/** The verdict of an up: "nothing to do" only when every namespace was read and matched the file. */
function upText(name: string, r: UpResult): string {
  if (r.applied) return `lab ${name} is up`;
  const unread = r.planned?.observed.trusted?.length ?? 0;
  return unread ? `lab ${name} is up; no changes in what was read, ${unread} namespace${unread === 1 ? '' : 's'} not read (--trust-verified)` : `lab ${name} is up; nothing to do`;
}

/** The last line: the verdict, the checks, the time. */
function verdict(lab: Lab, apply: boolean, r: UpResult): string {
  const parts = [apply ? upText(lab.name, r) : `lab ${lab.name}`];
  if (r.checks.length) parts.push(summaryText(r.checks));
  parts.push(`${r.ms} ms`);
  return parts.join(' · ');
}

const stepsText = (steps: Step[]) => {
  const n = steps.flatMap((s) => s.actions).length;
  return `${n} change${n === 1 ? '' : 's'}, ${steps.length} command${steps.length === 1 ? '' : 's'}`;
};

/** A view: the hooks, and what it shows when the use case ended or failed. */
interface View extends Hooks {
  end(r: UpResult): Promise<void>;
  fail(e: unknown): Promise<void>;
}

/** The Ink view's hooks: rows of the Store it draws. */
function inkView(store: Store): View {
  const row = (id: string, title: string) => store.addRow({ id, title, state: 'running' });
  const done = (id: string, detail: string, ms: number, state: 'done' | 'failed' = 'done', lines?: string[]) =>
    store.updateRow(id, { state, detail, ms: Math.round(ms), ...(lines?.length ? { lines } : {}) });
  return {
    planStart: () => row('plan', 'plan'),
    planned: (p, _phases, ms) => {
      done('plan', planText(p), ms, 'done', changeLines(p));
      p.notes.forEach((n, i) => store.addRow({ id: `note${i}`, title: `note: ${n}`, state: 'done' }));
    },
    phaseStart: (phase) => row(phase, phase),
    phaseDone: (phase, steps, ms) => done(phase, stepsText(steps), ms),
    phaseFailed: (phase, steps, ms) => done(phase, stepsText(steps), ms, 'failed'),
    checksStart: (checks) => {
      row('checks', `checks (${checks.length})`);
      store.checksStarted(checks);
    },
    checkDone: (r) => store.checkDone(r),
    checksDone: (results, met, ms) => done('checks', summaryText(results), ms, met ? 'done' : 'failed'),
    end: async () => {},
    fail: async () => {},
  };
}

interface Gate<T> {
  promise: Promise<T>;
  resolve(v: T): void;
  reject(e: unknown): void;
  settled: boolean;
}

function gate<T>(): Gate<T> {
  const g = { settled: false } as Gate<T>;
  g.promise = new Promise<T>((res, rej) => {
    g.resolve = (v) => {
      g.settled = true;
      res(v);
    };
    g.reject = (e) => {
      g.settled = true;
      rej(e);
    };
  });
  g.promise.catch(() => {}); // a gate no task waits on (the list stopped before it) is no unhandled rejection
  return g;
}

/**
 * The plain lines: listr2's simple renderer over one task per phase and one for the checks,
 * each task waiting for the engine's hook that ends it. The plan line is printed before them.
 */
function plainView(lab: Lab, opts: UpOptions): View {
  const print = (line: string) => process.stdout.write(`${line}\n`);
  const gates = new Map<string, Gate<string>>();
  let list: Promise<unknown> | undefined;
  const start = (phases: Phase[]) => {
    const tasks: ListrTask[] = phases.map((phase) => {
      const g = gate<string>();
      gates.set(phase, g);
      return {
        title: phase,
        task: async (_c, sub) => {
          sub.title = await g.promise;
        },
      };
    });
    const checks = gate<string>();
    gates.set('checks', checks);
    tasks.push({
      title: `checks (${lab.checks.length})`,
      skip: () => !opts.checks || lab.checks.length === 0,
      task: async (_c, task) => {
        task.title = await checks.promise;
      },
      exitOnError: false,
    });
    list = new Listr(tasks, { renderer: 'simple', exitOnError: true, registerSignalListeners: false }).run().catch(() => {});
  };
  // `check` has no plan: its list (the checks alone) starts at once.
  if (!opts.apply) start([]);
  const fail = (id: string, message: string) => gates.get(id)?.reject(new Error(message));
  return {
    planned: (p, phases, ms) => {
      print(`✔ plan: ${planText(p)} (${Math.round(ms)} ms)`);
      for (const l of changeLines(p)) print(l);
      for (const n of p.notes) process.stderr.write(`note: ${n}\n`);
      start(phases);
    },
    phaseDone: (phase, steps, ms) => gates.get(phase)?.resolve(`${phase}: ${stepsText(steps)} (${Math.round(ms)} ms)`),
    // The error itself is printed once, by the CLI: the task line only says it failed.
    phaseFailed: (phase) => fail(phase, 'the error follows'),
    // Unmet checks fail the task, so that the line is marked ✖; the results follow.
    checksDone: (results, met) => (met ? gates.get('checks')?.resolve(`checks: ${summaryText(results)}`) : fail('checks', summaryText(results))),
    end: async (r) => {
      await list;
      if (r.checks.length) print(plainChecks(r.checks));
      print(`${r.met ? '✔' : '✘'} ${verdict(lab, opts.apply, r)}`);
    },
    fail: async () => {
      for (const g of gates.values()) if (!g.settled) g.reject(new Error('the error follows'));
      await list;
    },
  };
}

/** Runs `up` (opts.apply) or `check` through the engine, shown in the view the output asks for. */
export async function session(runner: CommandRunner, lab: Lab, opts: UpOptions & { json: boolean }): Promise<UpResult> {
  const mode = pickMode(opts.json);
  const store = new Store(`netlab ${opts.apply ? 'up' : 'check'} ${lab.name}`);
  const ink = mode === 'ink' ? await drawInk(store) : undefined;
  const view: View = mode === 'ink' ? inkView(store) : mode === 'plain' ? plainView(lab, opts) : { end: async () => {}, fail: async () => {} };
  // Asked to stop: the terminal gets its cursor back before the CLI says so and exits.
  view.stopping = () => {
    ink?.unmount();
    process.stdout.write('\x1b[?25h');
  };
  try {
    const r = await up(runner, lab, opts, view);
    store.finish({ ok: r.met, text: verdict(lab, opts.apply, r) });
    await view.end(r);
    return r;
  } catch (e) {
    await view.fail(e);
    store.fail(e instanceof Error ? e.message.split('\n')[0]! : String(e));
    throw e;
  } finally {
    if (ink) {
      await sleep(30);
      ink.unmount();
      await ink.waitUntilExit();
    }
  }
}
