// cli/up: `netlab up FILE`: apply the difference (or print it, --dry-run), then run the checks.
import { Option, type Command } from 'commander';
import { EXIT, Exit } from '../core/errors.js';
import { labAcross, upAcross } from './hosts.js';
import { requireRoot } from '../privileges.js';
import { engine, present, stoppable, ui, type CliDeps } from './common.js';

/** Adds `netlab up` to the program; called once from cli/main.ts. */
export function register(program: Command, deps: CliDeps): void {
  const { runner, out, err } = deps;
  program
    .command('up')
    .description('create or update the lab so that the kernel matches the file (only the difference is applied), then run its checks')
    .argument('<file>', 'lab file, or the name of a lab that is up')
    .option('--instance <name>', 'build the lab as instance LAB@NAME, in a world of its own: its own host namespace and /run/netns, the real host untouched (then LAB@NAME names it for every command)')
    .option('--dry-run', 'print the commands that would run, change nothing')
    .option('--no-checks', "skip the lab's checks")
    .option(
      '--trust-verified',
      'do not read again the lab namespaces an earlier up read and found as the file asks, unchanged in the file and not entered by netlab exec/shell/impair since (faster; misses changes made by hand inside them)',
    )
    // Reading every namespace is the default now: --refresh stays accepted, for scripts.
    .addOption(new Option('--refresh').hideHelp())
    .option('--inventory <file>', 'the hosts of a lab across hosts from an Ansible YAML inventory (docs/multi-host.md)')
    .option('--json', 'print only JSON: the changes, the commands, the check results, and the lab namespaces read (read) and not read (notRead)')
    .action(async (file: string, o: { dryRun?: boolean; json?: boolean; checks: boolean; trustVerified?: boolean; refresh?: boolean; inventory?: string }) => {
      const trust = !!o.trustVerified && !o.refresh;
      requireRoot('up');
      // The engine's and the view's modules load while the lab is read.
      const [lab, { requireFeatures, planLab, planText, conflictText, UnsupportedError }, view] = await Promise.all([labAcross(file, o.inventory), engine(), o.dryRun ? undefined : ui()]);
      if (await upAcross(deps, lab, o)) return;
      if (o.dryRun) {
        const show = await present();
        // A dry run shows the commands even where the kernel could not run them, and says so.
        await requireFeatures(runner, lab).catch((e: unknown) => {
          if (!(e instanceof UnsupportedError)) throw e;
          err(`warning: ${e.message.replace('; nothing was changed', '')}`);
        });
        const p = await planLab(runner, lab, { trust });
        if (o.json) out(JSON.stringify(show.planJson(p), null, 2));
        else {
          out(`# lab ${lab.name}: ${planText(p)} (dry run: nothing was changed)`);
          for (const n of p.notes) err(`note: ${n}`);
          if (p.steps.length) out(show.script(p));
        }
        if (p.plan.conflicts.length) {
          err(conflictText(p.plan));
          throw new Exit(EXIT.applyFailed);
        }
        return;
      }
      await requireFeatures(runner, lab);
      const r = await stoppable(err, (signal) => view!.session(runner, lab, { apply: true, checks: o.checks, json: !!o.json, trustVerified: trust, signal }), lab.name);
      if (!r.met) throw new Exit(EXIT.checksFailed);
    });
}
