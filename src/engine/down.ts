// engine/down: `netlab down`, from the lab's journal (src/apply/teardown.ts does the work), after
// collecting what a killed `netlab trace` of the lab left (src/trace/trace.ts: collectStale).
import { down as teardownLab, type DownReport as TeardownReport } from '../apply/teardown.js';
import type { CommandRunner } from '../runner/runner.js';
import { collectStale, type StaleTrace } from '../trace/trace.js';

export interface DownReport extends TeardownReport {
  /** Trace sessions of the lab whose `netlab trace` was killed: their tables and monitors removed. */
  traces: StaleTrace[];
}

export async function down(runner: CommandRunner, labName: string, opts: { dryRun?: boolean } = {}): Promise<DownReport | undefined> {
  const traces = opts.dryRun ? [] : await collectStale(runner, new Set([labName]));
  const r = await teardownLab(runner, labName, opts);
  return r && { ...r, traces };
}
