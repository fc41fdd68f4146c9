// engine/steps: the `steps` use case, a guided lab. It brings the lab to its declared state (up),
// then runs the steps: each reconciles the lab to its variant (up, in place), runs its commands
// in their nodes, then its checks. Resetting to a step is up, then the steps before it replayed
// without their checks. Reports through StepsHooks; draws nothing.
import { Exit, EXIT } from '../core/errors.js';
import { HOST, type Lab, type StepCommand, type StepSpec } from '../model/types.js';
import type { CommandRunner } from '../runner/runner.js';
import { markEntered } from '../state/trust.js';
import { allMet, runChecks, type CheckResult } from '../verify/checks.js';
import { up, type UpResult } from './up.js';

export interface CommandResult {
  command: StepCommand;
  exitCode: number;
  /** Its standard output and error, trimmed. */
  output: string;
  /** It exited as expected: 0, or non-zero with expect_fail. */
  met: boolean;
  ms: number;
}

export interface StepResult {
  index: number;
  step: StepSpec;
  /** The changes that reconciling to the step's variant made. */
  variant?: { name: string; changes: number };
  commands: CommandResult[];
  /** Empty when the step was replayed without its checks. */
  checks: CheckResult[];
  /** Every command exited as expected and every check was met. */
  met: boolean;
  ms: number;
}

export interface StepsResult {
  /** The changes the first up made to bring the lab to its declared state. */
  declared: { changes: number };
  steps: StepResult[];
  met: boolean;
  ms: number;
}

export interface StepsHooks {
  /** Reconciling starts: to the lab as declared (variant undefined) or to a step's variant. */
  reconcileStart?(variant: string | undefined): void;
  reconcileDone?(variant: string | undefined, r: UpResult): void;
  stepStart?(index: number, step: StepSpec, opts: { checks: boolean }): void;
  commandStart?(index: number, c: StepCommand): void;
  commandDone?(index: number, r: CommandResult): void;
  checksStart?(index: number, step: StepSpec): void;
  checkDone?(index: number, r: CheckResult): void;
  stepDone?(index: number, r: StepResult): void;
}

export interface StepsOptions {
  signal?: AbortSignal;
  trustVerified?: boolean;
}

const changes = (r: UpResult) => r.planned?.plan.actions.length ?? 0;

function stopped(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new Exit(EXIT.interrupted);
}

/** The lab step `index` runs in: the last variant at or before it, else the lab as declared. */
export function labAt(lab: Lab, index: number): Lab {
  const steps = lab.steps ?? [];
  for (let i = Math.min(index, steps.length - 1); i >= 0; i--) {
    const v = steps[i]!.variant;
    if (v !== undefined) return lab.variants?.get(v) ?? lab;
  }
  return lab;
}

/** Brings the lab to its declared state or to a variant's, in place, as `up` does (no checks). */
async function reconcile(runner: CommandRunner, lab: Lab, variant: string | undefined, opts: StepsOptions, hooks: StepsHooks): Promise<UpResult> {
  hooks.reconcileStart?.(variant);
  let target = lab;
  if (variant !== undefined) {
    const v = lab.variants?.get(variant);
    if (!v) throw new Error(`no variant '${variant}' in the loaded lab`);
    // A variant's lab is not the file's bytes: it must not enter the lab cache under the file's key.
    target = { ...v, key: undefined } as Lab;
  }
  const r = await up(runner, target, { apply: true, checks: false, ...(opts.signal ? { signal: opts.signal } : {}), ...(opts.trustVerified ? { trustVerified: true } : {}) });
  hooks.reconcileDone?.(variant, r);
  return r;
}

/** Output worth showing: a command's last lines. */
function tail(text: string, max = 20): string {
  const lines = text.trim().split('\n');
  return lines.length > max ? ['...', ...lines.slice(-max)].join('\n') : lines.join('\n');
}

async function runCommand(runner: CommandRunner, lab: Lab, c: StepCommand): Promise<CommandResult> {
  const t0 = performance.now();
  // A step's command may change the namespace: the next `up --trust-verified` reads it again.
  if (c.ns !== HOST) markEntered(lab.name, c.ns);
  const argv = c.ns === HOST ? c.argv : ['ip', 'netns', 'exec', c.ns, ...c.argv];
  const r = await runner.run(argv, { timeoutMs: c.timeoutMs });
  if (c.ns !== HOST) markEntered(lab.name, c.ns);
  return { command: c, exitCode: r.exitCode, output: tail(`${r.stdout}${r.stderr}`), met: c.expectFail ? r.exitCode !== 0 : r.exitCode === 0, ms: Math.round(performance.now() - t0) };
}

/** Runs step `index`'s checks against the lab it runs in; the results in the step's order. */
export async function checkStep(runner: CommandRunner, lab: Lab, index: number, hooks: StepsHooks = {}): Promise<CheckResult[]> {
  const step = lab.steps![index]!;
  hooks.checksStart?.(index, step);
  const results = await runChecks(runner, step.expect, { lab: labAt(lab, index), onResult: (r) => hooks.checkDone?.(index, r) });
  return results;
}

/** Runs step `index`: its variant, its commands, then (with checks) its checks. */
export async function runStep(runner: CommandRunner, lab: Lab, index: number, opts: StepsOptions & { checks: boolean }, hooks: StepsHooks = {}): Promise<StepResult> {
  const t0 = performance.now();
  const step = lab.steps?.[index];
  if (!step) throw new Error(`no step ${index + 1}`);
  hooks.stepStart?.(index, step, { checks: opts.checks });
  const result: StepResult = { index, step, commands: [], checks: [], met: true, ms: 0 };
  if (step.variant !== undefined) {
    const r = await reconcile(runner, lab, step.variant, opts, hooks);
    result.variant = { name: step.variant, changes: changes(r) };
  }
  for (const c of step.run) {
    stopped(opts.signal);
    hooks.commandStart?.(index, c);
    const r = await runCommand(runner, lab, c);
    result.commands.push(r);
    hooks.commandDone?.(index, r);
  }
  stopped(opts.signal);
  if (opts.checks) result.checks = await checkStep(runner, lab, index, hooks);
  result.met = result.commands.every((c) => c.met) && allMet(result.checks);
  result.ms = Math.round(performance.now() - t0);
  hooks.stepDone?.(index, result);
  return result;
}

/** Brings the lab to where step `index` starts: up, then the steps before it without their checks. */
export async function resetTo(runner: CommandRunner, lab: Lab, index: number, opts: StepsOptions = {}, hooks: StepsHooks = {}): Promise<UpResult> {
  stopped(opts.signal);
  const r = await reconcile(runner, lab, undefined, opts, hooks);
  for (let i = 0; i < index; i++) {
    stopped(opts.signal);
    await runStep(runner, lab, i, { ...opts, checks: false }, hooks);
  }
  return r;
}

/** Every step in order, each with its checks: the article proven from its first step to its last. */
export async function runSteps(runner: CommandRunner, lab: Lab, opts: StepsOptions = {}, hooks: StepsHooks = {}): Promise<StepsResult> {
  const t0 = performance.now();
  const declared = await resetTo(runner, lab, 0, opts, hooks);
  const steps: StepResult[] = [];
  for (let i = 0; i < (lab.steps?.length ?? 0); i++) {
    stopped(opts.signal);
    steps.push(await runStep(runner, lab, i, { ...opts, checks: true }, hooks));
  }
  return { declared: { changes: changes(declared) }, steps, met: steps.every((s) => s.met), ms: Math.round(performance.now() - t0) };
}
