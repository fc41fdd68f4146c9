// cli/conntrack: `netlab conntrack LAB NODE`: the connections a node's kernel tracks.
import type { Command } from 'commander';
import { requireRoot } from '../privileges.js';
import type { CliDeps } from './common.js';

/** Adds `netlab conntrack` to the program; called once from cli/main.ts. */
export function register(program: Command, deps: CliDeps): void {
  const { runner, out, err } = deps;
  program
    .command('conntrack')
    .description("the connections a node's kernel tracks (conntrack -L): protocol, state, original and reply addresses and ports, NAT, mark")
    .argument('<lab>', 'lab name, or the lab file (the lab must be up)')
    .argument('<node>', 'node of the lab (@host: the host namespace of a lab with host bridges)')
    .option('--json', 'print the connections as JSON')
    .addHelpText(
      'after',
      `
Runs conntrack -L -f ipv4 and -f ipv6 in the node's namespace and prints one connection a line:
the protocol; its state (TCP's, and the flags assured or unreplied); the original direction as
src:port -> dst:port (ICMP: its id); the reply direction as the kernel expects it; nat: snat when
the reply goes back to another address than the original source (MASQUERADE, SNAT), dnat when it
comes from another than the original destination (DNAT, REDIRECT); and the connection's mark.
A namespace tracks connections once a rule needs it (NAT, -m conntrack / state).
--json: {lab, node, connections: [{proto, protonum, timeout, state, flags, original, reply, mark,
nat}], notes}.
Exit status: 0; 1 for an unknown node; 3 when the lab is not up; 6 when conntrack is not
installed (Debian/Ubuntu: apt-get install conntrack; Fedora: dnf install conntrack-tools).

Examples:
  netlab conntrack docker-bridge dockerhost
  netlab exec docker-bridge c1 -- ping -c1 203.0.113.2 && netlab conntrack docker-bridge dockerhost --json`,
    )
    .action(async (lab: string, node: string, o: { json?: boolean }) => {
      requireRoot('conntrack');
      const { conntrack } = await import('../engine/counters.js');
      const { formatConntrack } = await import('../ops/conntrack.js');
      const r = await conntrack(runner, lab, node);
      for (const n of r.notes) err(`note: ${n}`);
      if (o.json) out(JSON.stringify(r, null, 2));
      else if (!r.connections.length) out(`no connections tracked in ${r.node}`);
      else for (const l of formatConntrack(r.connections)) out(l);
    });
}
