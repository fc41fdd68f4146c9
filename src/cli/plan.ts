// cli/plan: `netlab plan FILE`: what up would change, as text, JSON or a shell script; with
// --detailed-exitcode its exit status says whether changes are pending (0, 2) or it failed (1).
import type { Command } from 'commander';
import { CliError, EXIT, Exit } from '../core/errors.js';
import { loadLabCached } from '../load/cache.js';
import { PART_ENV } from '../state/hosts.js';
import { labFileOf } from '../ops/target.js';
import { requireRoot } from '../privileges.js';
import { engine, present, report, type CliDeps } from './common.js';

interface PlanOptions {
  commands?: boolean;
  json?: boolean;
  detailedExitcode?: boolean;
}

/** Adds `netlab plan` to the program; called once from cli/main.ts. */
export function register(program: Command, deps: CliDeps): void {
  const { runner, out, err } = deps;
  const plan = async (file: string, o: PlanOptions) => {
    const { planLab, conflictText } = await engine();
    const show = await present();
    const lab = await loadLabCached(labFileOf(file));
    // A lab across hosts has a plan per host, made on that host.
    if (lab.hosts && !process.env[PART_ENV])
      throw new CliError(`lab ${lab.name} spans hosts (${[...lab.hosts.keys()].join(', ')}): each host plans its own part`, EXIT.error, `netlab up ${file} --dry-run shows every host's plan`);
    const p = await planLab(runner, lab);
    if (o.json) out(JSON.stringify(show.planJson(p), null, 2));
    else {
      out(`lab ${p.lab.name}: ${show.summary(p)}`);
      for (const n of p.notes) err(`note: ${n}`);
      for (const l of show.changeLines(p)) out(l);
      if (p.plan.conflicts.length) err(`\nup would refuse:\n${conflictText(p.plan)}`);
      if (o.commands && p.steps.length) out(`\n${show.script(p)}`);
    }
    if (p.plan.conflicts.length) throw new Exit(EXIT.applyFailed);
    if (o.detailedExitcode && p.plan.actions.length) throw new Exit(EXIT.pending);
  };
  program
    .command('plan')
    .description('show what up would change, without changing anything')
    .argument('<file>', 'lab file, or the name of a lab that is up')
    .option('--commands', 'also print the exact commands, as a pasteable shell script')
    .option('--json', 'print the plan as JSON')
    .option('--detailed-exitcode', 'exit 0 when there is nothing to do, 2 when changes are pending, 1 on any error')
    .action(async (file: string, o: PlanOptions) => {
      requireRoot('plan');
      if (!o.detailedExitcode) return plan(file, o);
      // --detailed-exitcode: 0 and 2 are answers; every error, whatever its own code, is 1.
      try {
        await plan(file, o);
      } catch (e) {
        if (e instanceof Exit && (e.code === EXIT.pending || e.code === EXIT.ok)) throw e;
        if (!(e instanceof Exit)) report(err, e);
        throw new Exit(EXIT.error);
      }
    });
}
