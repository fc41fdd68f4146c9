// cli/down: `netlab down LAB|--all`: remove what the lab made, from its journal.
import type { Command } from 'commander';
import { CliError, EXIT, Exit } from '../core/errors.js';
import { shownLab } from '../core/state.js';
import { labNameOf } from '../ops/target.js';
import { requireRoot } from '../privileges.js';
import { scanJournals } from '../state/journal.js';
import { report, type CliDeps } from './common.js';
import { parallel } from '../runner/runner.js';
import { availableParallelism } from 'node:os';
import { downAcross } from './hosts.js';
import { worldRemoved } from './instance.js';

/** Adds `netlab down` to the program; called once from cli/main.ts. */
export function register(program: Command, deps: CliDeps): void {
  const { runner, out, err } = deps;
  program
    .command('down')
    .description('remove everything the lab made, from its journal (works after the file was edited or deleted)')
    .argument('[lab]', 'lab file or lab name')
    .option('--all', 'take down every lab netlab has a journal for')
    .option('--dry-run', 'print the commands that would run, change nothing')
    .option('--json', 'one JSON document: per lab, what was removed and what was left alone and why')
    .action(async (arg: string | undefined, o: { dryRun?: boolean; all?: boolean; json?: boolean }) => {
      requireRoot('down');
      const docs: unknown[] = [];
      const say = (line: string) => !o.json && out(line);
      if (!!arg === !!o.all) throw new CliError(o.all ? 'give a lab or --all, not both' : 'which lab? give a lab file or name, or --all', EXIT.error, 'netlab status lists the labs that are up');
      const scan = o.all ? scanJournals() : undefined;
      const names = scan ? scan.journals.map((j) => j.lab) : [await labNameOf(arg!)];
      const { listInstances, downInstance } = await import('../engine/instance.js');
      const instances = o.all ? listInstances() : [];
      if (scan && !names.length && !scan.damaged.length && !instances.length) say('no lab is up: nothing to remove');
      // A damaged journal keeps its lab up (said, with the fix); every other lab goes down.
      for (const d of scan?.damaged ?? []) report(err, d);
      let failed = scan?.damaged.length ?? 0;
      if (!o.all && (await downAcross(deps, names[0]!, o))) return;
      const { down } = await import('../engine/down.js');
      for (const name of names) {
        const t0 = performance.now();
        try {
          const r = await down(runner, name, o.dryRun ? { dryRun: true } : {});
          if (!r) {
            say(`lab ${shownLab(name)} is not up: nothing to remove`);
            docs.push({ lab: name, wasUp: false });
            continue;
          }
          const ms = Math.round(performance.now() - t0);
          const { commands, left, ...removed } = r;
          docs.push({ lab: name, wasUp: true, ...(o.dryRun ? { dryRun: true, commands } : { removed }), left, ms });
          if (o.dryRun) {
            say(`# lab ${name}: down (dry run: nothing was changed)`);
            for (const c of commands) say(c);
            for (const l of left) say(`# would leave alone: ${l.object}: ${l.why}; it is not this lab's`);
            continue;
          }
          // Left alone is not a failure: everything of the lab's own is gone.
          for (const l of left) say(`left alone: ${l.object}: ${l.why}; it is not this lab's`);
          for (const t of r.traces) say(`removed what a killed 'netlab trace' (pid ${t.pid}) left: ${t.tables} trace table(s), ${t.monitors} monitor(s)`);
          say(
            `lab ${shownLab(name)} is down: stopped ${r.processes} process(es), removed ${r.namespaces.length} namespace(s), ${r.hostLinks.length} host link(s), ${r.hostRules} host iptables rule(s), restored ${r.sysctls.length} host sysctl(s)${left.length ? `; left ${left.length} object(s) that are not its own` : ''} (${ms} ms)`,
          );
        } catch (e) {
          // With --all, one lab that cannot go down does not keep the others up.
          if (!o.all) throw e;
          failed++;
          report(err, e);
        }
      }
      // Every instance: its lab by netlab inside its world (whose report goes to stderr with --json),
      // then the world; a few at a time (each is a netlab of its own), the document in their order.
      const results = await parallel(instances, Math.max(2, availableParallelism()), async (inst) => {
        try {
          const r = await downInstance(runner, inst, ['down', inst.lab, ...(o.dryRun ? ['--dry-run'] : [])], { ...(o.dryRun ? { dryRun: true } : {}), ...(o.json ? { stdout: 2 } : {}) });
          if (r.code !== 0) failed++;
          else if (!o.dryRun) say(worldRemoved(inst.key, r));
          return { instance: inst.key, lab: inst.lab, wasUp: r.wasUp, ...(o.dryRun ? { dryRun: true } : { worldRemoved: r.code === 0 }) };
        } catch (e) {
          failed++;
          report(err, e);
          return { instance: inst.key, lab: inst.lab, error: (e as Error).message };
        }
      });
      docs.push(...results);
      if (o.json) out(JSON.stringify({ labs: docs }, null, 2));
      if (failed) throw new Exit(EXIT.applyFailed);
    });
}
