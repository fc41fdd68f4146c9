// cli/counters: `netlab counters LAB NODE [TABLE]`: a node's rules with their packet and byte
// counters; with --probe, only what one probe changed.
import { Option, type Command } from 'commander';
import { CliError, EXIT } from '../core/errors.js';
import { requireRoot } from '../privileges.js';
import { positiveInt, type CliDeps } from './common.js';

/** Adds `netlab counters` to the program; called once from cli/main.ts. */
export function register(program: Command, deps: CliDeps): void {
  const { runner, out, err } = deps;
  program
    .command('counters')
    .description("a node's iptables (and nft) rules with their packet and byte counters; --probe: only the rules one probe moved, by how much")
    .argument('<lab>', 'lab name, or the lab file (the lab must be up)')
    .argument('<node>', 'node of the lab (@host: the host namespace of a lab with host bridges)')
    .argument('[table]', 'only this table: filter, nat, mangle, raw, security, or an nft table')
    .option('--probe', 'send one probe (as netlab trace does) and show only the rules whose counters it changed')
    .option('--from <node>', 'with --probe: the node that sends it (default: NODE)')
    .option('--to <address>', 'with --probe: the destination address')
    .addOption(new Option('--proto <proto>', 'with --probe: the probe protocol').choices(['icmp', 'tcp', 'udp']).default('icmp'))
    .option('--port <n>', 'with --probe: destination port (tcp, udp)', positiveInt)
    .option('--json', 'print the chains as JSON')
    .addHelpText(
      'after',
      `
Reads iptables-save -c and ip6tables-save -c in the node's namespace, and nft -a list ruleset when
nft is installed (nft tables of their own: iptables-nft's filter, nat, ... are shown once, as
iptables rules). Per table, the chains in the order the lab file declares them (then the others),
each with its policy and what the policy decided, and its rules numbered as iptables -L
--line-numbers numbers them (the number iptables -D CHAIN N takes), with packets and bytes.
With --probe: reads the counters, sends one probe from --from (default NODE) to --to the way
netlab trace does (one ping, one TCP connect or one UDP datagram), reads them again and shows
only the rules and policies whose counters changed, with +packets and +bytes; other traffic in
the namespace at that moment counts too. The probe's outcome is printed first.
Exit status: 0; 1 for an unknown node or table, or a bad option; 3 when the lab is not up; 6 when
iptables-save is not installed.

Examples:
  netlab counters iptables-drop c1
  netlab counters iptables-drop c1 filter --probe --from docker-host --to 172.17.0.2
  netlab counters docker-bridge dockerhost nat --probe --from c1 --to 203.0.113.2 --proto tcp --port 8000`,
    )
    .action(async (lab: string, node: string, table: string | undefined, o: { probe?: boolean; from?: string; to?: string; proto: 'icmp' | 'tcp' | 'udp'; port?: number; json?: boolean }) => {
      requireRoot('counters');
      const given = (['from', 'to', 'port'] as const).filter((k) => o[k] !== undefined);
      if (!o.probe && given.length) throw new CliError(`--${given[0]} is an option of --probe`, EXIT.error, `add --probe: netlab counters ${lab} ${node} --probe --to ADDRESS`);
      if (o.probe && o.to === undefined) throw new CliError('--probe needs --to ADDRESS', EXIT.error, `e.g. netlab counters ${lab} ${node} --probe --to 10.0.0.2`);
      const { counters } = await import('../engine/counters.js');
      const { formatCounters } = await import('../ops/counters.js');
      const probe = o.probe ? { ...(o.from !== undefined ? { from: o.from } : {}), to: o.to!, proto: o.proto, ...(o.port ? { port: o.port } : {}) } : undefined;
      const r = await counters(runner, lab, node, { ...(table !== undefined ? { table } : {}), ...(probe ? { probe } : {}) });
      for (const n of r.notes) err(`note: ${n}`);
      if (o.json) {
        out(JSON.stringify(r, null, 2));
        return;
      }
      if (r.probe) {
        const p = r.probe;
        out(`probe ${p.proto}${p.port ? `/${p.port}` : ''} ${p.from} -> ${p.to}: ${p.ok ? 'answered' : 'not answered'}`);
        if (!r.chains.length) out(`no counter changed in ${r.node}`);
        else out(`counters that changed in ${r.node}:`);
      } else if (!r.chains.length) out(`${r.node} has no firewall rules (no iptables or nft table)`);
      for (const l of formatCounters(r.chains, { delta: !!r.probe })) out(l);
    });
}
