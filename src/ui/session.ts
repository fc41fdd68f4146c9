// The views of `up` and `check`: one listr2 task list driven from the engine's Hooks, drawn by
// one renderer: on a TTY the Ink renderer (src/ui/store.ts), off a TTY listr2's plain lines; with
// --json no list, one document at the end (src/ui/present.ts). The engine (src/engine/up.ts) does the work.
import type { ListrTask } from 'listr2';
import { planText, type Planned } from '../engine.js';
import type { Hooks } from '../engine/hooks.js';
import { up, type UpOptions, type UpResult } from '../engine/up.js';
import type { Lab } from '../model/types.js';
import { describe, type Phase } from '../plan/actions.js';
import type { Step } from '../render/render.js';
import type { CommandRunner } from '../runner/runner.js';
import { failureText, type CheckResult } from '../verify/checks.js';
import { checkTable, matrices, matrixLines, summaryText, tableLines, whyText } from './format.js';
import { checkDocument, upDocument } from './present.js';
import { InkRenderer, Store, type RowInfo, type RowTask } from './store.js';
import { sleep } from '../core/time.js';
import { shownLab } from '../core/state.js';

export type Mode = 'ink' | 'plain' | 'json';

/** Ink and React are loaded only by a terminal that shows them, while the engine reads the kernel. */
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
    out.push('', ...lines.map((l) => l.text), legend, ...(m.why ? [whyText(m.why)] : []));
  }
  const t = checkTable(results);
  if (t.rows.length) out.push('', ...tableLines(t, width).map((l) => l.text));
  const bad = results.filter((r) => !r.met);
  if (bad.length) out.push('', ...bad.map(failureText));
  return out.join('\n');
}

/** The verdict of an up: "nothing to do" only when every namespace was read and matched the file. */
function upText(lab: string, r: UpResult): string {
  const name = shownLab(lab);
  if (r.applied) return `lab ${name} is up`;
  const unread = r.planned?.observed.trusted?.length ?? 0;
  return unread ? `lab ${name} is up; no changes in what was read, ${unread} namespace${unread === 1 ? '' : 's'} not read (--trust-verified)` : `lab ${name} is up; nothing to do`;
}

/** The last line: the verdict, the checks, the time. */
function verdict(lab: Lab, apply: boolean, r: UpResult): string {
  const parts = [apply ? upText(lab.name, r) : `lab ${shownLab(lab.name)}`];
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

/** How a task ended: its plain title, and what the Ink row shows beside its label. */
interface Ended {
  title: string;
  info: Omit<RowInfo, 'id' | 'label'>;
}

/** A task that waits for the engine's hook that ends it; `rejected` carries what the row shows. */
function gated(info: RowInfo, g: Gate<Ended>, extra: Partial<ListrTask> = {}): RowTask {
  return {
    title: info.label,
    row: info,
    task: async (_c, t) => {
      try {
        const e = await g.promise;
        Object.assign(info, e.info);
        t.title = e.title;
      } catch (err) {
        if (!(err instanceof Ended_)) throw err;
        // An untitled task (the plan off a terminal) stopped by an error elsewhere ends without a line.
        if (err.info.aborted && !t.title) return;
        Object.assign(info, err.info);
        throw err;
      }
    },
    ...extra,
  };
}

class Ended_ extends Error {
  constructor(
    message: string,
    readonly info: Partial<RowInfo>,
  ) {
    super(message);
  }
}

/**
 * The one task model of `up` and `check`: a plan task, then one task per phase and one for the
 * checks, each waiting for the engine's hook that ends it. On a TTY the Ink renderer draws them,
 * off a TTY listr2's simple renderer prints them; the results and the verdict follow the list.
 */
function taskView(lab: Lab, opts: UpOptions, mode: 'ink' | 'plain', store: Store): View {
  const print = (line: string) => process.stdout.write(`${line}\n`);
  const gates = new Map<string, Gate<Ended>>();
  const listOptions = {
    renderer: mode === 'ink' ? InkRenderer : ('simple' as const),
    rendererOptions: { store },
    exitOnError: true,
    registerSignalListeners: false,
  };
  // listr2 is loaded when the first list runs: the engine has started reading the kernel by then.
  const listOf = async (tasks: ListrTask[]) => {
    const { Listr } = await import('listr2');
    return new Listr(tasks, listOptions as never).run();
  };
  const rows = (phases: Phase[], notes: string[]): ListrTask[] => {
    // The notes: rows of their own on a terminal, lines on stderr off it.
    const tasks: ListrTask[] = mode === 'ink' ? notes.map((n, i) => ({ title: `note: ${n}`, row: { id: `note${i}`, label: `note: ${n}` }, task: () => {} }) as RowTask) : [];
    for (const phase of phases) {
      const g = gate<Ended>();
      gates.set(phase, g);
      tasks.push(gated({ id: phase, label: phase }, g));
    }
    const checks = gate<Ended>();
    gates.set('checks', checks);
    tasks.push(gated({ id: 'checks', label: `checks (${lab.checks.length})` }, checks, { skip: () => !opts.checks || lab.checks.length === 0, exitOnError: false }));
    return tasks;
  };
  let list: Promise<unknown>;
  // The rest of the list, made when the plan says which phases have work (up only): its gates
  // exist from then on, so that a failure settles them even before the rest runs.
  const rest = gate<{ tasks: ListrTask[]; p: Planned }>();
  if (opts.apply) {
    // `up`: the plan task first; the rest of the list once the plan says which phases have work.
    const plan = gate<Ended>();
    gates.set('plan', plan);
    list = listOf([
      // Off a terminal the plan has no line while it runs (a task without a title is not printed).
      gated({ id: 'plan', label: 'plan' }, plan, mode === 'plain' ? { title: undefined } : {}),
    ]).then(async () => {
      const { tasks, p } = await rest.promise;
      if (mode === 'plain') {
        for (const l of changeLines(p)) print(l);
        for (const n of p.notes) process.stderr.write(`note: ${n}\n`);
      }
      await listOf(tasks);
    });
  } else {
    // `check` has no plan: its list (the checks alone) starts at once.
    list = listOf(rows([], []));
  }
  list = list.catch(() => {});
  const end = (id: string, title: string, info: Ended['info']) => gates.get(id)?.resolve({ title, info });
  const fail = (id: string, message: string, info: Partial<RowInfo> = {}) => gates.get(id)?.reject(new Ended_(message, info));
  return {
    planned: (p, phases, ms) => {
      end('plan', `plan: ${planText(p)} (${Math.round(ms)} ms)`, { detail: planText(p), ms: Math.round(ms), lines: changeLines(p) });
      rest.resolve({ tasks: rows(phases, p.notes), p });
    },
    phaseDone: (phase, steps, ms) => end(phase, `${phase}: ${stepsText(steps)} (${Math.round(ms)} ms)`, { detail: stepsText(steps), ms: Math.round(ms) }),
    // The error itself is printed once, by the CLI: the task line only says it failed.
    phaseFailed: (phase, steps, ms) => fail(phase, 'the error follows', { detail: stepsText(steps), ms: Math.round(ms) }),
    checksStart: (checks) => store.checksStarted(checks),
    checkDone: (r) => store.checkDone(r),
    // Unmet checks fail the task, so that the line is marked ✖; the results follow.
    checksDone: (results, met, ms) => {
      const info = { detail: summaryText(results), ms: Math.round(ms) };
      if (met) end('checks', `checks: ${summaryText(results)}`, info);
      else fail('checks', summaryText(results), info);
    },
    end: async (r) => {
      await list;
      if (mode === 'ink') return;
      if (r.checks.length) print(plainChecks(r.checks));
      print(`${r.met ? '✔' : '✘'} ${verdict(lab, opts.apply, r)}`);
    },
    fail: async () => {
      // A task stopped by an error elsewhere: on a terminal its row disappears as before.
      for (const g of gates.values()) if (!g.settled) g.reject(new Ended_('the error follows', { aborted: true }));
      if (!rest.settled) rest.reject(new Error('the error follows'));
      await list;
    },
  };
}

/** --json: nothing while the use case runs, then its one document on stdout. */
function jsonView(lab: Lab, opts: UpOptions): View {
  return {
    end: async (r) => {
      process.stdout.write(`${JSON.stringify(opts.apply ? upDocument(lab.name, r) : checkDocument(lab.name, r), null, 2)}\n`);
    },
    fail: async () => {},
  };
}

/** Runs `up` (opts.apply) or `check` through the engine, shown in the view the output asks for. */
export async function session(runner: CommandRunner, lab: Lab, opts: UpOptions & { json: boolean }): Promise<UpResult> {
  const mode = pickMode(opts.json);
  const store = new Store(`netlab ${opts.apply ? 'up' : 'check'} ${shownLab(lab.name)}`);
  // The view's modules load while the engine starts: up's reads do not wait for them.
  let ink: Awaited<ReturnType<typeof drawInk>> | undefined;
  const drawn = mode === 'ink' ? drawInk(store).then((i) => (ink = i)) : undefined;
  drawn?.catch(() => {}); // awaited below
  const view: View = mode === 'json' ? jsonView(lab, opts) : taskView(lab, opts, mode, store);
  // Asked to stop: the terminal gets its cursor back before the CLI says so and exits.
  view.stopping = () => {
    ink?.unmount();
    process.stdout.write('\x1b[?25h');
  };
  try {
    const r = await up(runner, lab, opts, view);
    // The list ends first: its last rows are drawn before the results and the verdict.
    await view.end(r);
    store.finish({ ok: r.met, text: verdict(lab, opts.apply, r) });
    return r;
  } catch (e) {
    await view.fail(e);
    store.fail(e instanceof Error ? e.message.split('\n')[0]! : String(e));
    throw e;
  } finally {
    await drawn;
    if (ink) {
      await sleep(30);
      ink.unmount();
      await ink.waitUntilExit();
    }
  }
}
