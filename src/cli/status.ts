// cli/status: `netlab status [LAB]`: the labs that are up and whether the kernel still matches.
import type { Command } from 'commander';
import { shownLab } from '../core/state.js';
import { labNameOf } from '../ops/target.js';
import { requireRoot } from '../privileges.js';
import type { CliDeps } from './common.js';

/** Adds `netlab status` to the program; called once from cli/main.ts. */
export function register(program: Command, deps: CliDeps): void {
  const { runner, out, err } = deps;
  program
    .command('status')
    .description('labs that are up, their nodes and links, and whether the kernel still matches the file')
    .argument('[lab]', 'lab name or file (default: every lab)')
    .option('--json', 'print as JSON')
    .action(async (arg: string | undefined, o: { json?: boolean }) => {
      requireRoot('status');
      const { status } = await import('../engine/status.js');
      const scan = await status(runner, arg ? await labNameOf(arg) : undefined);
      const labs = scan.labs;
      // Instances are listed from their files; `netlab status LAB@NAME` reads one inside its world.
      const { instanceStatus, listInstances } = await import('../engine/instance.js');
      const instances = arg ? [] : listInstances().map(instanceStatus);
      if (arg && labs.length === 0) {
        if (o.json) out(JSON.stringify({ labs: [] }));
        else out(`lab ${arg} is not up`);
        return;
      }
      const damaged = scan.damaged.map((d) => ({ lab: d.lab, journal: d.path, status: 'damaged' as const, error: d.reason, hint: d.hint }));
      if (o.json) {
        out(JSON.stringify({ labs, instances, ...(damaged.length ? { damaged } : {}) }, null, 2));
        return;
      }
      if (!labs.length && !damaged.length && !instances.length) out('no labs are up');
      for (const l of labs) {
        const state = l.drift === null ? `drift unknown: ${l.note}` : l.drift === 0 ? 'matches the file' : `${l.drift} difference(s) from the file (netlab plan ${l.file})`;
        out(`${shownLab(l.lab)}  ${l.status}  ${l.nodes.length} node(s), ${l.hostLinks.length} host link(s)  ${state}`);
        out(`  file:  ${l.file}`);
        if (l.nodes.length) out(`  nodes: ${l.nodes.join(' ')}`);
        if (l.hostLinks.length) out(`  host:  ${l.hostLinks.join(' ')}`);
      }
      for (const i of instances) {
        const world = i.world === 'up' ? '' : i.world === 'stale' ? '  (its world is gone: netlab gc removes the rest)' : '  (its files bind namespaces netlab did not record: left alone)';
        out(`${i.instance}  ${i.status ?? 'no lab in it'}  ${i.nodes?.length ?? 0} node(s)  instance ${i.name} of lab ${i.lab}${world}`);
        if (i.file) out(`  file:  ${i.file}`);
        if (i.uplink) out(`  uplink: ${i.uplink.address} via ${i.uplink.gateway} (${i.uplink.hostInterface} on the real host, NATed)`);
      }
      for (const d of scan.damaged) err(d.text());
    });
}
