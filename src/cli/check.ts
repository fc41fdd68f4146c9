// cli/check: `netlab check FILE`: run the checks of a lab that is up.
import type { Command } from 'commander';
import { EXIT, Exit } from '../core/errors.js';
import { loadLabCached } from '../load/cache.js';
import { labFileOf } from '../ops/target.js';
import { checkAcross } from './hosts.js';
import { requireRoot } from '../privileges.js';
import { present, requireUp, stoppable, ui, type CliDeps } from './common.js';

/** Adds `netlab check` to the program; called once from cli/main.ts. */
export function register(program: Command, deps: CliDeps): void {
  const { runner, out, err } = deps;
  program
    .command('check')
    .description('run the checks of a lab that is up: each ping, tcp, udp, exec, reach and trace check against its expectation')
    .argument('<file>', 'lab file, or the name of a lab that is up')
    .option('--json', 'print one JSON document with every check')
    .action(async (file: string, o: { json?: boolean }) => {
      requireRoot('check');
      if (await checkAcross(deps, file, o)) return;
      const lab = await loadLabCached(labFileOf(file));
      if (lab.hosts && (await checkAcross(deps, lab.name, o))) return;
      requireUp(err, lab.name, file);
      if (lab.checks.length === 0) {
        if (o.json) out(JSON.stringify((await present()).checkDocument(lab.name, { checks: [], met: true }), null, 2));
        else out(`lab ${lab.name} declares no checks`);
        return;
      }
      const r = await stoppable(err, async (signal) => (await ui()).session(runner, lab, { apply: false, checks: true, json: !!o.json, signal }), lab.name);
      if (!r.met) throw new Exit(EXIT.checksFailed);
    });
}
