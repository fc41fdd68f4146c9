// cli/ops: commands for operating a running lab (exec, shell, capture) and drawing it (graph).
import { Option, type Command } from 'commander';
import { CliError, EXIT, Exit } from '../core/errors.js';
import { GRAPH_FORMATS, type GraphFormat } from '../ops/graph.js';
import { HOST_NODE } from '../ops/target.js';
import type { CommandRunner } from '../runner/runner.js';
import { positiveInt } from './common.js';

/** The command's own exit status becomes netlab's. */
const exitWith = (status: number) => {
  if (status !== EXIT.ok) throw new Exit(status);
};

const LAB_ARG = 'lab name, or the lab file (the lab must be up)';
const NODE_ARG = `node of the lab (its network namespace), or ${HOST_NODE} for the host's root namespace of a lab with host bridges`;

/** Adds the operating commands to the program; called once from cli/main.ts. */
export function registerOps(program: Command, runner: CommandRunner): void {
  program
    .command('exec')
    .description("run a command in a node's network namespace; exits with the command's exit status")
    .argument('<lab>', LAB_ARG)
    .argument('<node>', NODE_ARG)
    .argument('<command...>', 'the command and its arguments (put -- before it when it has options of its own)')
    .allowUnknownOption()
    .addHelpText(
      'after',
      `
Standard input, output and error are netlab's own, so pipes and redirections work. The command
runs as 'ip netns exec NODE COMMAND...' with NETLAB_LAB and NETLAB_NODE in its environment.
Exit status: the command's; 127 when it is not found, 126 when it cannot be run, 128+N when
signal N ended it; netlab's own errors: 1 (unknown node, usage), 2 (invalid lab file), 3 (lab not up).

Examples:
  netlab exec bridge-4ns ns1 -- ping -c1 192.168.20.4
  netlab exec labs/bridge-4ns.yaml ns2 -- ip -br addr
  netlab exec bridge-4ns ns1 -- sh -c 'ip route; ip neigh' | less
  netlab exec bridge-4ns@alice ns1 -- ping -c1 192.168.20.4    # in instance alice
  netlab exec k8s-cross-node pod-c -- ip route                 # a lab across hosts: on pod-c's host`,
    )
    .action(async (lab: string, node: string, command: string[]) => {
      const { execIn } = await import('../ops/exec.js');
      exitWith(await execIn(runner, lab, node, command));
    });

  program
    .command('shell')
    .description("interactive shell in a node's network namespace, with the lab and node in the prompt; for an instance LAB@NAME without a node, a shell in the instance's world")
    .argument('<lab>', LAB_ARG)
    .argument('[node]', `${NODE_ARG} (required, except for an instance LAB@NAME)`)
    .addHelpText(
      'after',
      `
Starts $SHELL (bash when SHELL is unset or unusable, sh when there is no bash) in the namespace.
The prompt reads e.g. '[bridge-4ns:ns1] ~# ' (bash reads /etc/bash.bashrc and ~/.bashrc first;
zsh its usual files; other shells get PS1). NETLAB_LAB and NETLAB_NODE are exported. Exits with
the shell's exit status. With standard input not a terminal, the shell reads commands from it:
  echo 'ip -br link; exit 7' | netlab shell bridge-4ns ns1
An instance's world (netlab up FILE --instance NAME), where the article's commands work as written:
  netlab shell bridge-4ns@alice            # then: ip netns exec ns1 ping 192.168.20.4; brctl show`,
    )
    .action(async (lab: string, node: string | undefined) => {
      if (node === undefined) throw new CliError('which node? give the node to open a shell in', EXIT.error, `netlab shell ${lab} NODE (a shell in an instance's world: netlab shell LAB@NAME)`);
      const { shellIn } = await import('../ops/shell.js');
      exitWith(await shellIn(runner, lab, node));
    });

  program
    .command('capture')
    .description('capture packets on an interface of a node with tcpdump: decoded live, or into a pcap file Wireshark opens')
    .argument('<lab>', LAB_ARG)
    .argument('<node>', NODE_ARG)
    .argument('<iface>', "the node's interface ('any' for all of them)")
    .argument('[filter...]', "a pcap-filter(7) expression, e.g. icmp or 'tcp port 80' (put -- before it when it starts with -)")
    .option('-w, --write <file>', "write a pcap file instead of printing packets ('-': the pcap to standard output, for | wireshark -k -i -)")
    .option('-c, --count <n>', 'stop after N packets', positiveInt)
    .addHelpText(
      'after',
      `
Runs 'ip netns exec NODE tcpdump -i IFACE -n -U [-c N] [-w -] [-- FILTER...]'; the pcap file is
written packet by packet, so it is valid at any moment, and Ctrl-C ends the capture cleanly.
Exit status: tcpdump's; 1 for an unknown node or interface (the node's interfaces are listed),
3 when the lab is not up, 6 when tcpdump is not installed.

Examples:
  netlab capture bridge-4ns ns1 tap1 icmp
  netlab capture bridge-4ns ns1 tap1 -c 10 -w /tmp/ns1.pcap
  netlab capture bridge-4ns ${HOST_NODE} br1 -w - | wireshark -k -i -`,
    )
    .action(async (lab: string, node: string, iface: string, filter: string[], o: { write?: string; count?: number }) => {
      const { captureIn } = await import('../ops/capture.js');
      exitWith(await captureIn(runner, lab, node, iface, { filter, ...(o.write !== undefined ? { write: o.write } : {}), ...(o.count !== undefined ? { count: o.count } : {}) }));
    });

  program
    .command('graph')
    .description("draw the lab's topology (nodes, bridges, links with interface names and addresses) as Mermaid or Graphviz DOT; svg, png and pdf with Graphviz")
    .argument('<file>', 'lab file (need not be up)')
    .addOption(new Option('-f, --format <format>', 'mermaid | dot | svg | png | pdf (default: from the -o file name, else mermaid)').choices([...GRAPH_FORMATS]))
    .option('-o, --output <file>', 'write to a file instead of standard output')
    .addHelpText(
      'after',
      `
mermaid and dot are text netlab writes itself; svg, png and pdf run Graphviz's 'dot -T<format>'
(apt-get install graphviz, dnf install graphviz). An invalid lab file prints its problems (exit 2).

Examples:
  netlab graph labs/bridge-4ns.yaml                 # Mermaid, for a Markdown \`\`\`mermaid block
  netlab graph labs/bridge-4ns.yaml -o lab.pdf           # the format from the file name
  netlab graph labs/bridge-4ns.yaml -o lab.svg`,
    )
    .action(async (file: string, o: { format?: GraphFormat; output?: string }) => {
      const { graphCommand, writeGraph } = await import('../ops/graphviz.js');
      writeGraph(await graphCommand(runner, file, o));
    });
}
