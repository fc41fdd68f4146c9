// ui/present: how plans and check results are shown, as text and as the --json documents of plan,
// up and check. Loaded only by the commands that show them, so that the others start without the planner.
import { resolve } from 'node:path';
import type { Planned } from '../engine.js';
import type { UpResult } from '../engine/up.js';
import { HOST, nsLabel } from '../model/types.js';
import { describe, summarize, symbol } from '../plan/actions.js';
import { scriptOf } from '../render/render.js';
import type { CheckResult } from '../verify/checks.js';
import type { StepsResult } from '../engine/steps.js';

export function planJson(p: Planned) {
  return {
    lab: p.lab.name,
    file: resolve(p.lab.file),
    changes: p.plan.actions.map((a) => ({ symbol: symbol(a), kind: a.kind, namespace: nsLabel(a.ns), object: a.object, reason: a.reason, text: describe(a) })),
    conflicts: p.plan.conflicts,
    // The lab namespaces read from the kernel, and those taken as verified (--trust-verified).
    read: [...p.observed.ns.keys()].filter((n) => n !== HOST && !p.observed.trusted?.includes(n)),
    notRead: p.observed.trusted ?? [],
    notes: p.notes,
    commands: p.steps.map((s) => ({ phase: s.phase, namespace: nsLabel(s.ns), argv: s.argv, ...(s.input !== undefined ? { input: s.input } : {}) })),
  };
}

export const summary = (p: Planned): string => summarize(p.plan.actions);

/** One line per planned change, as `netlab plan` prints them. */
export const changeLines = (p: Planned): string[] => p.plan.actions.map((a) => `  ${describe(a)}`);

/** The plan's commands as a pasteable shell script. */
export const script = (p: Planned): string => scriptOf(p.steps);

export function checksJson(results: CheckResult[]) {
  return results.map((r) => ({
    label: r.check.label,
    kind: r.check.kind,
    from: r.check.from,
    to: r.check.kind === 'exec' ? r.check.command.join(' ') : r.check.to,
    ...(r.check.kind === 'tcp' || r.check.kind === 'udp' ? { port: r.check.port } : {}),
    expect: r.check.expect,
    ...(r.check.why !== undefined ? { why: r.check.why } : {}),
    seen: r.seen,
    met: r.met,
    attempts: r.attempts,
    ms: r.ms,
    command: r.command,
    output: r.output,
  }));
}

/** The --json document of `up`: the plan (changes, commands, what was read), whether it was applied, the checks. */
export function upDocument(lab: string, r: UpResult) {
  return { ...(r.planned ? planJson(r.planned) : { lab }), applied: r.applied, ms: r.ms, checks: checksJson(r.checks), met: r.met };
}

/** The --json document of `check`. */
export function checkDocument(lab: string, r: Pick<UpResult, 'checks' | 'met'> & { ms?: number }) {
  return { lab, checks: checksJson(r.checks), met: r.met, ...(r.ms !== undefined ? { ms: r.ms } : {}) };
}

/** The --json document of `steps`. */
export function stepsJson(lab: { name: string; file: string }, r: StepsResult) {
  return {
    lab: lab.name,
    file: resolve(lab.file),
    declared: r.declared,
    steps: r.steps.map((s) => ({
      step: s.index + 1,
      title: s.step.title,
      explain: s.step.explain,
      variant: s.variant ?? null,
      commands: s.commands.map((c) => ({ node: c.command.node, command: c.command.text, expectFail: c.command.expectFail, exitCode: c.exitCode, met: c.met, ms: c.ms, output: c.output })),
      checks: checksJson(s.checks),
      met: s.met,
      ms: s.ms,
    })),
    met: r.met,
    ms: r.ms,
  };
}
