// The view of `netlab steps` off a terminal: plain lines, one block per step (its title, its
// commands with their exit codes, each check's verdict and what it proves), then the verdict.
// With --json it prints nothing (the CLI prints the document). The interactive view is steps-app.
import type { StepsHooks, StepsResult } from '../engine/steps.js';
import { runSteps } from '../engine/steps.js';
import type { Lab } from '../model/types.js';
import type { CommandRunner } from '../runner/runner.js';
import { expectationText, type CheckResult } from '../verify/checks.js';
import { SYM, whyText } from './format.js';
import { markdownLines, plainLine } from './markdown.js';

/** What a check saw, in words: for a met check its verdict, for an unmet one what was expected. */
export function verdictText(r: CheckResult): string {
  if (!r.met) return expectationText(r);
  const c = r.check;
  if (c.kind === 'exec') return r.seen === 'ok' ? 'as expected' : 'did not match, as expected';
  if (c.kind === 'trace') return r.seen === 'ok' ? 'the path is as expected' : 'the path differs, as expected';
  return r.seen === 'ok' ? 'gets through' : 'blocked, as expected';
}

/** A check's verdict lines: the mark, label and verdict, what it proves, and for an unmet one what ran and what it printed. */
export function checkLines(r: CheckResult): string[] {
  const lines = [`  ${r.met ? SYM.met : SYM.unmet} ${r.check.label}: ${verdictText(r)}`];
  if (r.check.why) lines.push(whyText(r.check.why));
  if (!r.met) {
    lines.push(`      ran: ${r.command.split('\n')[0]}`);
    for (const l of r.output.split('\n').filter(Boolean).slice(-8)) lines.push(`      | ${l}`);
  }
  return lines;
}

export const stepHead = (lab: Lab, i: number) => `step ${i + 1}/${lab.steps?.length ?? 0}: ${lab.steps?.[i]?.title ?? ''}`;

/** The last lines: how many steps were met, the unmet ones by step and check, where the lab stands. */
export function stepsSummary(lab: Lab, r: StepsResult): string[] {
  const met = r.steps.filter((s) => s.met).length;
  const checks = r.steps.flatMap((s) => s.checks);
  const head = `${r.met ? SYM.met : SYM.unmet} ${met}/${r.steps.length} steps met · ${checks.filter((c) => c.met).length}/${checks.length} checks met · ${r.ms} ms`;
  const bad = r.steps
    .filter((s) => !s.met)
    .flatMap((s) => [
      ...s.commands
        .filter((c) => !c.met)
        .map((c) => `  NOT met: step ${s.index + 1} (${s.step.title}): command '${c.command.text}' in ${c.command.node} exited ${c.exitCode}${c.command.expectFail ? ' (expected to fail)' : ''}`),
      ...s.checks.filter((c) => !c.met).map((c) => `  NOT met: step ${s.index + 1} (${s.step.title}): check '${c.check.label}': ${expectationText(c)}`),
    ]);
  return [head, ...bad, `lab ${lab.name} stays up at the state of step ${r.steps.length}: 'netlab steps' again starts over, 'netlab down ${lab.name}' removes it`];
}

/** Hooks printing plain lines. */
function plainHooks(lab: Lab, print: (s: string) => void): StepsHooks {
  return {
    reconcileDone: (variant, r) => {
      const n = r.planned?.plan.actions.length ?? 0;
      print(variant === undefined ? `lab ${lab.name}: as declared (${n} change${n === 1 ? '' : 's'})` : `  variant ${variant}: ${n} change${n === 1 ? '' : 's'}`);
    },
    stepStart: (i, step) => {
      print('');
      print(stepHead(lab, i));
      for (const l of markdownLines(step.explain)) print(`  ${plainLine(l)}`.trimEnd());
    },
    commandDone: (_i, r) => {
      const how = r.met ? SYM.met : SYM.unmet;
      print(`  ${how} [${r.command.node}]$ ${r.command.text}  (exit ${r.exitCode}${r.command.expectFail ? ', expected to fail' : ''})`);
      if (!r.met || r.command.expectFail) for (const l of r.output.split('\n').filter(Boolean).slice(-8)) print(`      | ${l}`);
    },
    stepDone: (_i, r) => {
      for (const c of r.checks) for (const l of checkLines(c)) print(l);
    },
  };
}

/** Runs every step; off a terminal prints as it goes, with --json nothing. */
export async function batchSteps(runner: CommandRunner, lab: Lab, opts: { json: boolean; signal?: AbortSignal; trustVerified?: boolean }): Promise<StepsResult> {
  const print = (s: string) => process.stdout.write(`${s}\n`);
  if (!opts.json) print(`netlab steps ${lab.name}: ${lab.steps?.length ?? 0} steps`);
  const r = await runSteps(runner, lab, { ...(opts.signal ? { signal: opts.signal } : {}), ...(opts.trustVerified ? { trustVerified: true } : {}) }, opts.json ? {} : plainHooks(lab, print));
  if (!opts.json) {
    print('');
    for (const l of stepsSummary(lab, r)) print(l);
  }
  return r;
}
