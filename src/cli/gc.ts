// cli/gc: `netlab gc [LAB...]`: remove marked objects no journal claims, and empty journals.
import type { Command } from 'commander';
import { labNameOf } from '../ops/target.js';
import { requireRoot } from '../privileges.js';
import type { CliDeps } from './common.js';

/** Adds `netlab gc` to the program; called once from cli/main.ts. */
export function register(program: Command, deps: CliDeps): void {
  const { runner, out, err } = deps;
  program
    .command('gc')
    .description(
      "remove what carries netlab's mark but belongs to no lab's journal (namespaces, host links, host iptables rules), journals whose objects are all gone, and what a killed 'netlab trace' left; never touches anything unmarked",
    )
    .argument('[lab...]', "only these labs' orphans, journals and locks (lab names or files; default: every lab's)")
    .option('--dry-run', 'list what would be removed and the commands, change nothing')
    .action(async (args: string[], o: { dryRun?: boolean }) => {
      requireRoot('gc');
      const { gc } = await import('../engine/gc.js');
      const { gcInstances, parseInstance } = await import('../engine/instance.js');
      const keys = args.filter((a) => parseInstance(a));
      const labs = await Promise.all(args.filter((a) => !parseInstance(a)).map(labNameOf)); // a name that cannot be a lab's is refused there
      const r =
        keys.length && !labs.length
          ? { namespaces: [], hostLinks: [], hostRules: [], journals: [], droppedTables: [], logs: [], damaged: [], commands: [], traces: [] }
          : await gc(runner, { ...(o.dryRun ? { dryRun: true } : {}), ...(labs.length ? { labs: new Set(labs) } : {}) });
      // Instances: netlab's gc inside each world, then the worlds left without a lab.
      const worlds = labs.length && !keys.length ? [] : await gcInstances(runner, { ...(o.dryRun ? { dryRun: true } : {}), ...(keys.length ? { only: new Set(keys) } : {}) });
      const what = [
        ...r.namespaces.map((n) => `namespace ${n.name} (marked by lab ${n.lab}${n.pids.length ? `, ${n.pids.length} process(es) in it` : ''})`),
        ...r.hostLinks.map((l) => `host interface ${l.name} (marked by lab ${l.lab})`),
        ...r.hostRules.map((x) => `${x.family === 'ipv4' ? 'iptables' : 'ip6tables'} -t ${x.table} -A ${x.chain} ${x.spec} (lab ${x.lab})`),
        ...r.journals.map((l) => `journal of lab ${l} (everything it lists is gone)`),
        ...r.droppedTables.map((t) => `nft table ${t} (left empty by the rules removed${o.dryRun ? ', if nothing else is in it' : ''})`),
        ...r.logs.map((l) => `process logs of lab ${l} (its journal is gone)`),
        ...r.damaged.filter((d) => d.removed).map((d) => `damaged journal of lab ${d.lab}: ${d.path} (${d.reason})`),
        ...r.traces.map((t) => `what a killed 'netlab trace' of lab ${t.lab} left (pid ${t.pid}): ${t.tables} trace table(s), ${t.monitors} monitor(s)`),
        ...worlds,
      ];
      for (const d of r.damaged.filter((x) => !x.removed))
        err(`left alone: the journal of lab ${d.lab} is damaged: ${d.path}: ${d.reason}\n  hint: check the file, then 'netlab gc ${d.lab}' removes what carries lab ${d.lab}'s mark, and the file`);
      if (!what.length) {
        out(
          labs.length ? `nothing to collect for lab ${labs.join(', ')}: no orphan object and no journal left without objects` : 'nothing to collect: every marked object belongs to a lab that is up',
        );
        return;
      }
      out(`${o.dryRun ? 'would remove' : 'removed'} ${what.length} orphan(s):\n  ${what.join('\n  ')}`);
      if (o.dryRun) for (const c of r.commands) out(c);
    });
}
