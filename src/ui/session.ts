// Runs `up` and `check` as a listr2 task list (plan, each apply phase, checks). Exactly one view
// draws: on a TTY the Ink view (listr2 silent), off a TTY listr2's plain lines, with --json none.
import { Listr, type ListrTask } from 'listr2';
import { hostFiles } from '../observe/files.js';
import { resolve } from 'node:path';
import { Applier, settled } from '../apply/apply.js';
import { clearEntered, verifiedAsRecorded } from '../state/trust.js';
import { ConflictError, recordProven, conflictText, planLab, planText, type Planned } from '../engine.js';
import type { Lab } from '../model/types.js';
import { describe } from '../plan/actions.js';
import type { CommandRunner } from '../runner/runner.js';
import { newJournal, readJournal } from '../state/journal.js';
import type { Journal } from '../model/journal.js';
import { takeReceipt } from '../apply/receipt.js';
import { keepLab } from '../load/cache.js';
import { acquireLock } from '../state/lock.js';
import { failureText, runChecks, type CheckResult } from '../verify/checks.js';
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

export interface SessionResult {
  planned?: Planned;
  applied: boolean;
  checks: CheckResult[];
  ms: number;
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
function upText(name: string, r: SessionResult): string {
  if (r.applied) return `lab ${name} is up`;
  const unread = r.planned?.observed.trusted?.length ?? 0;
  return unread ? `lab ${name} is up; no changes in what was read, ${unread} namespace${unread === 1 ? '' : 's'} not read (--trust-verified)` : `lab ${name} is up; nothing to do`;
}

export async function session(runner: CommandRunner, lab: Lab, opts: { apply: boolean; checks: boolean; json: boolean; trustVerified?: boolean }): Promise<SessionResult> {
  const mode = pickMode(opts.json);
  const store = new Store(`netlab ${opts.apply ? 'up' : 'check'} ${lab.name}`);
  const t0 = performance.now();
  const result: SessionResult = { applied: false, checks: [], ms: 0 };
  const checks = lab.checks;
  const row = (id: string, title: string) => store.addRow({ id, title, state: 'running' });
  const done = (id: string, detail: string, ms?: number, state: 'done' | 'failed' = 'done', lines?: string[]) =>
    store.updateRow(id, { state, detail, ...(ms !== undefined ? { ms: Math.round(ms) } : {}), ...(lines?.length ? { lines } : {}) });

  const checkTask: ListrTask = {
    title: `checks (${checks.length})`,
    skip: () => !opts.checks || checks.length === 0,
    task: async (_c, task) => {
      row('checks', `checks (${checks.length})`);
      store.checksStarted(checks);
      const t = performance.now();
      result.checks = await runChecks(runner, checks, {
        lab,
        onResult: (r) => {
          store.checkDone(r);
        },
      });
      // Keep the lab's order for the table and the JSON.
      result.checks.sort((a, b) => checks.indexOf(a.check) - checks.indexOf(b.check));
      const text = summaryText(result.checks);
      const met = result.checks.every((r) => r.met);
      done('checks', text, performance.now() - t, met ? 'done' : 'failed');
      // Unmet checks fail the task, so that the plain lines mark it ✖; the run goes on to the results.
      if (!met) throw new Error(text);
      task.title = `checks: ${text}`;
    },
    exitOnError: false,
  };

  const tasks: ListrTask[] = [];
  let release: (() => void) | undefined;
  let failure: unknown;
  const plain = (line: string) => mode === 'plain' && process.stdout.write(`${line}\n`);
  const ink = mode === 'ink' ? await drawInk(store) : undefined;
  const onInt = () => {
    ink?.unmount();
    process.stdout.write('\x1b[?25h');
    process.stderr.write(`\ninterrupted: the journal is up to date; 'netlab up' converges from here, 'netlab down ${lab.name}' removes the lab\n`);
    release?.();
    process.exit(130);
  };
  process.once('SIGINT', onInt);
  const cleanup = async () => {
    process.removeListener('SIGINT', onInt);
    release?.();
    if (ink) {
      await sleep(30);
      ink.unmount();
      await ink.waitUntilExit();
    }
  };
  try {
    if (opts.apply) {
      row('plan', 'plan');
      release = acquireLock(lab.name);
      // What an interrupted up created, proven by its batch's receipt, becomes the lab's first.
      const left = readJournal(lab.name);
      if (left) await takeReceipt(left);
      const t = performance.now();
      // By default every lab namespace is read, so that up puts back what was changed by hand.
      const p = await planLab(runner, lab, { trust: !!opts.trustVerified });
      result.planned = p;
      if (p.plan.conflicts.length) throw new ConflictError(`${conflictText(p.plan)}\nnothing was changed`);
      const changes = changeLines(p);
      done('plan', planText(p), performance.now() - t, 'done', changes);
      plain(`✔ plan: ${planText(p)} (${Math.round(performance.now() - t)} ms)`);
      for (const l of changes) plain(l);
      for (const n of p.notes) {
        if (mode === 'plain') process.stderr.write(`note: ${n}\n`);
        else store.addRow({ id: `note${p.notes.indexOf(n)}`, title: `note: ${n}`, state: 'done' });
      }
      const entered = p.observed.entered ?? new Map<string, number>();
      // The kernel now matches the file: keep the lab file as loaded, record every namespace as
      // verified, and drop the marks of the namespaces entered before this run read them.
      const settle = (j: Journal) => {
        j.labKey = keepLab(lab, j.labKey);
        settled(j, p.desired);
        clearEntered(lab.name, entered);
      };
      const stale = (j: Journal) => j.status !== 'up' || entered.size > 0 || j.labKey !== lab.key || !verifiedAsRecorded(j, p.desired, (ns) => hostFiles.netnsInode(ns));
      // Nothing to change, but the journal does not record it yet: the lab file is new to the
      // cache, a namespace was entered or re-created, or not yet recorded as verified.
      if (!p.plan.actions.length && p.journal && stale(p.journal)) {
        recordProven(p.journal, p);
        settle(p.journal);
      }
      if (p.plan.actions.length) {
        const journal = p.journal ?? newJournal(lab.name, resolve(lab.file));
        journal.file = resolve(lab.file);
        recordProven(journal, p);
        const applier = new Applier(runner, p.steps, p.desired, journal);
        const phases = applier.phases();
        for (const phase of phases) {
          tasks.push({
            title: phase,
            task: async (_c, sub) => {
              const steps = applier.stepsOf(phase);
              const n = steps.flatMap((s) => s.actions).length;
              const detail = `${n} change${n === 1 ? '' : 's'}, ${steps.length} command${steps.length === 1 ? '' : 's'}`;
              row(phase, phase);
              const ts = performance.now();
              try {
                await applier.runPhase(phase);
              } catch (e) {
                done(phase, detail, performance.now() - ts, 'failed');
                // The error itself is printed once, by the caller: the task line only says it failed.
                failure = e;
                throw new Error('the error follows');
              }
              if (phase === phases[phases.length - 1]) {
                settle(journal);
                result.applied = true;
              }
              sub.title = `${phase}: ${detail} (${Math.round(performance.now() - ts)} ms)`;
              done(phase, detail, performance.now() - ts);
            },
          });
        }
      }
    }
    tasks.push(checkTask);

    const list = new Listr(tasks, { renderer: mode === 'plain' ? 'simple' : 'silent', exitOnError: true, registerSignalListeners: false });
    await list.run();
    result.ms = Math.round(performance.now() - t0);
    const allMet = result.checks.every((r) => r.met);
    const parts = [opts.apply ? upText(lab.name, result) : `lab ${lab.name}`];
    if (result.checks.length) parts.push(summaryText(result.checks));
    parts.push(`${result.ms} ms`);
    store.finish({ ok: allMet, text: parts.join(' · ') });
    if (mode === 'plain') {
      if (result.checks.length) process.stdout.write(`${plainChecks(result.checks)}\n`);
      process.stdout.write(`${allMet ? '✔' : '✘'} ${parts.join(' · ')}\n`);
    }
    return result;
  } catch (caught) {
    const e = failure ?? caught;
    store.fail(e instanceof Error ? e.message.split('\n')[0]! : String(e));
    throw e;
  } finally {
    await cleanup();
  }
}
