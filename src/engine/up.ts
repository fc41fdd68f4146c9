// engine/up: the `up` and `check` use cases. up takes the lab's lock, plans, records what is
// proven the lab's, applies phase by phase, settles the journal, then runs the checks; check
// runs the checks alone. Both report through Hooks and draw nothing themselves.
import { resolve } from 'node:path';
import { Applier, settled } from '../apply/apply.js';
import { Exit, EXIT } from '../core/errors.js';
import { keepLab } from '../load/cache.js';
import type { Journal } from '../model/journal.js';
import type { Lab } from '../model/types.js';
import type { CommandRunner } from '../runner/runner.js';
import { newJournal, readJournal } from '../state/journal.js';
import { acquireLock } from '../state/lock.js';
import { clearEntered, verifiedAsRecorded } from '../state/trust.js';
import { takeReceipt } from '../apply/receipt.js';
import { allMet, runChecks, type CheckResult } from '../verify/checks.js';
import { ConflictError, conflictText, planLab, recordProven, type Planned } from '../engine.js';
import type { Hooks } from './hooks.js';

export interface UpOptions {
  /** false: `check`, the checks alone. */
  apply: boolean;
  checks: boolean;
  trustVerified?: boolean;
  /** Aborted: the engine calls hooks.stopping, lets go of the lab and stops at the next step. */
  signal?: AbortSignal;
}

export interface UpResult {
  planned?: Planned;
  applied: boolean;
  checks: CheckResult[];
  /** Every check was met (true when none ran): the one place this is decided. */
  met: boolean;
  ms: number;
}

/** Throws Exit(130) when the caller asked to stop (it said why already). */
function stopped(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new Exit(EXIT.interrupted);
}

export async function up(runner: CommandRunner, lab: Lab, opts: UpOptions, hooks: Hooks = {}): Promise<UpResult> {
  const t0 = performance.now();
  const result: UpResult = { applied: false, checks: [], met: true, ms: 0 };
  let release: (() => void) | undefined;
  const onAbort = () => {
    hooks.stopping?.();
    // The journal is written before every phase: what ran is recorded, the lab can be let go.
    release?.();
  };
  opts.signal?.addEventListener('abort', onAbort, { once: true });
  try {
    stopped(opts.signal);
    if (opts.apply) {
      release = acquireLock(lab.name);
      // What an interrupted up created, proven by its batch's receipt, becomes the lab's first.
      const left = readJournal(lab.name);
      if (left) await takeReceipt(left);
      const t = performance.now();
      // By default every lab namespace is read, so that up puts back what was changed by hand.
      const p = await planLab(runner, lab, { trust: !!opts.trustVerified });
      result.planned = p;
      if (p.plan.conflicts.length) throw new ConflictError(`${conflictText(p.plan)}\nnothing was changed`);
      const journal = p.plan.actions.length ? (p.journal ?? newJournal(lab.name, resolve(lab.file))) : p.journal;
      const applier = journal && new Applier(runner, p.steps, p.desired, journal);
      const phases = applier?.phases() ?? [];
      hooks.planned?.(p, phases, performance.now() - t);
      const entered = p.observed.entered ?? new Map<string, number>();
      // Only a read vouches for a namespace: verified are those this run read and found as the
      // file asks (no change planned in them); one it changes is verified by the next up that reads it.
      const trusted = new Set(p.observed.trusted);
      const touched = applier?.touched() ?? new Set<string>();
      const verified = p.desired.namespaces.filter((ns) => p.observed.ns.has(ns) && !trusted.has(ns) && !touched.has(ns));
      // Identities as this run saw them (taken while it read the namespaces).
      const inode = (ns: string) => p.observed.ids?.get(ns)?.ino;
      // The kernel now matches the file: keep the lab file as loaded, record what was verified,
      // and drop the marks of the namespaces entered before this run read them.
      const settle = (j: Journal) => {
        j.labKey = keepLab(lab, j.labKey);
        settled(j, p.desired, verified, inode);
        clearEntered(lab.name, entered);
      };
      const stale = (j: Journal) => j.status !== 'up' || entered.size > 0 || j.labKey !== lab.key || !verifiedAsRecorded(j, p.desired, inode);
      // Nothing to change, but the journal does not record it yet: the lab file is new to the
      // cache, a namespace was entered or re-created, or not yet recorded as verified.
      if (!p.plan.actions.length && p.journal && stale(p.journal)) {
        recordProven(p.journal, p);
        settle(p.journal);
      }
      if (p.plan.actions.length && journal && applier) {
        journal.file = resolve(lab.file);
        recordProven(journal, p);
        for (const phase of phases) {
          stopped(opts.signal);
          const steps = applier.stepsOf(phase);
          hooks.phaseStart?.(phase, steps);
          const ts = performance.now();
          try {
            await applier.runPhase(phase, (s, ms) => hooks.stepDone?.(s, ms));
          } catch (e) {
            hooks.phaseFailed?.(phase, steps, performance.now() - ts, e);
            throw e;
          }
          if (phase === phases[phases.length - 1]) {
            settle(journal);
            result.applied = true;
          }
          hooks.phaseDone?.(phase, steps, performance.now() - ts);
        }
      }
    }
    stopped(opts.signal);
    if (opts.checks && lab.checks.length) result.checks = await check(runner, lab, hooks);
    result.met = allMet(result.checks);
    result.ms = Math.round(performance.now() - t0);
    return result;
  } finally {
    opts.signal?.removeEventListener('abort', onAbort);
    release?.();
  }
}

/** Runs the lab's checks; the results in the lab's order (for the table and the JSON). */
async function check(runner: CommandRunner, lab: Lab, hooks: Hooks): Promise<CheckResult[]> {
  const checks = lab.checks;
  hooks.checksStart?.(checks);
  const t = performance.now();
  const results = await runChecks(runner, checks, { lab, onResult: (r) => hooks.checkDone?.(r) });
  results.sort((a, b) => checks.indexOf(a.check) - checks.indexOf(b.check));
  hooks.checksDone?.(results, allMet(results), performance.now() - t);
  return results;
}
