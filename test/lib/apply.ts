// Applies a whole plan as the engine's up does (every phase, then settled), without planning:
// for unit tests of the Applier with a scripted runner. Nothing was read, so nothing is verified.
import { Applier, settled } from '../../src/apply/apply.js';
import type { DesiredState } from '../../src/model/types.js';
import type { Journal } from '../../src/model/journal.js';
import type { Step } from '../../src/render/render.js';
import type { CommandRunner } from '../../src/runner/runner.js';

export async function applyAll(runner: CommandRunner, steps: Step[], desired: DesiredState, journal: Journal): Promise<void> {
  const a = new Applier(runner, steps, desired, journal);
  for (const phase of a.phases()) await a.runPhase(phase);
  settled(journal, desired, [], () => undefined);
}
