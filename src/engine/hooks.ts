// engine/hooks: how the engine reports a use case while it runs, in the spirit of Terraform's
// Hook. The engine calls them in order; each is optional. src/ui/session.ts implements them as
// one listr2 task list (drawn by Ink or as plain lines), and for --json as nothing.
import type { Phase } from '../plan/actions.js';
import type { Step } from '../render/render.js';
import type { CheckSpec } from '../model/types.js';
import type { CheckResult } from '../verify/checks.js';
import type { Planned } from '../engine.js';

export interface Hooks {
  /** The plan, without conflicts; `phases` are those that have work, in order. */
  planned?(p: Planned, phases: Phase[], ms: number): void;
  phaseStart?(phase: Phase, steps: Step[]): void;
  stepDone?(step: Step, ms: number): void;
  /** A phase finished; after the last one the journal records the lab as up. */
  phaseDone?(phase: Phase, steps: Step[], ms: number): void;
  /** A phase failed (its steps rolled back); `error` is what the use case then throws. */
  phaseFailed?(phase: Phase, steps: Step[], ms: number, error: unknown): void;
  checksStart?(checks: CheckSpec[]): void;
  /** One check's result, as it comes (not in the lab's order). */
  checkDone?(r: CheckResult): void;
  /** Every check ran: the results in the lab's order, and whether all were met. */
  checksDone?(results: CheckResult[], met: boolean, ms: number): void;
  /**
   * The caller asked the engine to stop (its AbortSignal). Called synchronously from the abort,
   * before the engine lets go of the lab: a view restores the terminal here.
   */
  stopping?(): void;
}
