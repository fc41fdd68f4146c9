// engine/gc: `netlab gc`, what carries netlab's mark but no lab's journal (src/apply/gc.ts does the
// work), and what a killed `netlab trace` left (src/trace/trace.ts: collectStale).
import { gc as gcMarked, type GcOptions, type GcReport as MarkedReport } from '../apply/gc.js';
import type { CommandRunner } from '../runner/runner.js';
import { collectStale, type StaleTrace } from '../trace/trace.js';

export interface GcReport extends MarkedReport {
  /** Trace sessions whose `netlab trace` was killed: their tables and monitors (dry run: to remove). */
  traces: StaleTrace[];
}

export async function gc(runner: CommandRunner, opts: GcOptions = {}): Promise<GcReport> {
  // The traces first: their tables go while the namespaces they are in still exist.
  const traces = await collectStale(runner, opts.labs, opts.dryRun ? { dryRun: true } : {});
  return { ...(await gcMarked(runner, opts)), traces };
}
