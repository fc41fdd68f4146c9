// The long part of every command's --help: what it does in full, and examples. Printed after the
// options; docs/commands.md is generated from these help texts (npm run docs), so it cannot drift.
import type { Command } from 'commander';

const DETAILS: Record<string, string> = {
  validate: `Checks lab files against schemas/lab.schema.json and the semantic rules; prints every problem as
FILE:LINE:COL: error: PATH: MESSAGE with a hint: line where one helps: the first 100, then
"... and N more" (--json lists every one, as {valid, problems}). A lab file must be a regular file
of at most 16 MiB, with YAML nested at most 64 levels and at most 100 aliased nodes; control
characters in names are printed as \\xNN. Validation reads nothing but the file: whether a sysctl
key exists depends on the kernel and the namespace, so up finds out.`,
  plan: `Reads the kernel (ip -j per namespace, iptables-save, sysctls), diffs it against the file and
prints the ordered changes with + create, ~ change, - delete, -/+ replace, each with its reason.
Changes nothing. --commands also prints the exact commands as a pasteable shell script; --json
prints changes, conflicts and commands; --detailed-exitcode exits 0 when there is nothing to do,
2 when changes are pending, 1 on any error.`,
  up: `Applies the plan, then runs the lab's checks: one ip -batch for the host namespace, one ip
-batch per namespace, one sysctl, one ipset restore and one iptables-restore per namespace
(and family), in phases, parallel up to the CPU count. ipsets are made before the rules that use
them, their members changed in place, and destroyed after the rules. In a lab namespace they run under nsenter --net=/run/netns/NS,
which joins only its network namespace; the lab's processes and checks run under ip netns exec.
up reads the host's root namespace and every lab namespace every time, and puts back what was
changed by hand: a plain up is a reset. On a lab that was up it lists each change it makes (up
to 40; --json lists them all), and it says "nothing to do" only when everything it read matches
the file. Before changing or deleting anything it proves the object is the lab's (mark and
identity); anything else in the way is refused, naming it and the fix (exit 3). Refuses, before
changing anything, a lab that needs a kernel feature the machine lacks (VLAN, VRF, dummy, bond,
netem, tbf, TPROXY, nft tracing, ipsets: each tried for real in a throwaway namespace; exit 6, naming the
lab object, the module and the fix; --dry-run only warns). On a Docker-like host (FORWARD policy
DROP or a DOCKER-USER chain, bridge-nf-call-iptables=1) it accepts the traffic within each lab
host bridge with one tagged rule, and prints a note. --dry-run prints the commands without
running them; --trust-verified does not read again the lab namespaces an earlier up read and
found as the file asks and nothing entered since (a namespace up changed is read by the next up;
faster on large labs; a change made by hand inside them is neither seen nor repaired, and up
says how many it did not read); --no-checks skips the checks; --json prints only JSON (changes,
commands, notes, check results, read: the lab namespaces read, notRead: those taken as
verified). --refresh, the old way to ask for a full read, is still accepted.`,
  check: `Runs the checks of a lab that is up (see Checks). Prints a reachability matrix per reach check,
a table of the others, and for each check that did not meet its expectation what it ran, what it
expected and what it saw (the probe's own output). --json: one document with every check: label,
kind, from, to, port, expect, seen, met, attempts, ms, command, output.`,
  trace: `Shows the story of one probe's connection and *why* it ends where it does. Adds a table
netlab_trace to every namespace of the lab (and to the host's, as netlab_trace_ID, when the lab
has bridges or links there, tracing only the lab's interfaces; a bridge family table where there
are bridges) that sets meta nftrace set 1 on packets of the probe's protocol and ICMP before raw
(priority -350) and witnesses the input, forward and postrouting hooks last (priority 350); runs
nft monitor trace in each, sends one probe from NODE (ping, a TCP connect, a UDP datagram), then
removes the tables, also on Ctrl-C. A trace killed outright (kill -9) leaves them and its
monitors: the next trace of the lab, its down or gc removes them (the session in the state
directory names them, and the dead run's pid and start time prove it is gone). It follows the connection by its addresses as NAT rewrites
them (a port forward is followed to the server that owns the new address) and prints every
packet of it, labelled (SYN, SYN-ACK (reply), ACK..., echo request, echo reply, ICMP errors),
namespace by namespace (bridge hops included): each hook with every rule that matched in iptables
syntax and in the nft form the kernel reports, the verdict that ended the chain, NAT rewrites as
"before -> after" (with conntrack's original and reply tuples), marks as they change, the routing
decision (the kernel's answer for that packet: ip route get DST from SRC iif IIF mark M ...), and
the interface it leaves by. A later packet that takes the same chains is one line. The ending is
what the kernel did: delivered to a socket in X (with the process, from ss), dropped or rejected
at table/chain in X by rule R, dropped by routing in X (no route, forwarding off, rp_filter,
with ip route get's answer), encapsulated by NODE's IFACE (a vxlan interface: VXLAN VNI N, UDP to
REMOTE:PORT, with the far end's host and node when the lab knows them), or left the lab through an
interface with no lab namespace behind it. A lab across hosts (docs/multi-host.md) is traced on
every host at once from the coordinating machine: netlab on each host (through the transports up
uses) turns tracing on in its part, the source's host sends the probe, each host turns it off and
reports its segments, and one story follows the packets through the tunnels ("=[VXLAN N]=>",
"decapsulated by NODE's IFACE ... from REMOTE"); every host turns tracing off, also when one fails
(exit 3) or on Ctrl-C (exit 130). Run on one host, it traces that host's part, where a packet to
another host ends encapsulated. --json prints everything: hops (the first packet's chains),
packets (each pass through each namespace with its hops, all matched rules, rewrites, routing,
conntrack and, across hosts, its host), outcome (with the tunnel when it ends encapsulated).
NETLAB_TRACE_KEEP=1 keeps the monitors' raw output and prints where. nat chains see only a
connection's first packet (later ones are rewritten by conntrack, shown as such), and only while
connection tracking is in use; iptables-legacy rules are not seen.`,
  steps: `A guided lab: the article's steps, written in the lab file (steps:, variants:; see
docs/lab-file.md). First brings the lab to its declared state, as up does. Each step then
reconciles the lab to its variant (in place, as up does: only the difference), runs its commands
in their nodes as the article types them, and runs its checks; a step without a variant stays
where the step before left the lab.
On a terminal it is interactive: it shows one step (its explanation, its commands, the checks it
expects and what each proves) and reads keys: r runs the step (variant, commands, checks), c runs
its checks again (before r: the lab before the step), n moves on (running the step first if it
has not run), b goes back and 1-9 reset the lab to that step (up, then the steps before it
replayed without their checks), s opens 'netlab shell' in a node, t runs 'netlab trace' for one
of the step's checks, k and x run 'netlab counters' and 'netlab conntrack' in a node (when this
netlab has them), q quits and leaves the lab up. Ctrl-C while something runs stops it (exit 130).
Off a terminal, with --batch or --json, it runs every step in order and checks every expectation:
each step's title and explanation, each command's exit code, each check's verdict with its why;
exit 0 when every command and check met its expectation, 4 when one did not (the summary names the
step and the check); a failed step does not stop the later ones. The lab stays up at the last
step's state: 'netlab down LAB' removes it, 'netlab up FILE' puts back the lab as declared.`,
  logs: `Prints the output of the processes the lab started (-n N: the last N lines of each). Logs live
in /run/netlab/logs/LAB/ while the lab is up, and go with its down: read them before.`,
  impair: `Changes a link end's impairments while the lab runs: tc qdisc replace ... root netem (delay,
jitter, loss, with rate and limit), or tbf for a rate alone; --clear removes them. Not written
to the file: the next up sees the change as drift and puts back what the file says. @host:IFACE
names a host-side veth end. Probes the kernel first: without sch_netem it exits 6 naming the
module.`,
  down: `Stops the lab's processes (process group: TERM, then KILL after 2 s), then removes what the
lab's journal says it made and what is proven the lab's (as up proves it: the identity recorded,
or the lab's mark): namespaces (their veths go with them), host bridges and veth ends, host
iptables rules tagged with the lab's comment; restores host
sysctls to the values they had before, all in one ip -batch (namespaces, then host links,
bridges last). A host veth end whose namespace ever sent a packet through it is set down first:
an unresolved neighbour entry in that namespace (a ping to an address nobody has) would
otherwise hold the kernel's removal ~1.7 s. Waits until the kernel has really finished (polling
/run/netns and /proc/net/dev, no process per poll). Works when the file was edited or deleted.
An object the journal names that is not the lab's (another lab's or unmarked, or made again
since the lab made it) is left alone and listed with why ("left alone: namespace ns1: it was
re-created since this lab made it (marked netlab:other)"); down still exits 0 when everything of
the lab's own is gone. --dry-run prints the commands. --json prints {labs: [{lab, wasUp,
removed, left: [{object, why}], ms}]}. A lab that is not up is not an error. --all takes down
every lab netlab has a journal for (one that fails does not keep the others up; exit 3 if any
failed).`,
  status: `Labs that are up: status, file, nodes, host links, and the drift count (how many changes plan
would make now). --json.`,
  generate: `Writes a lab: single: N namespaces on one bridge (10.0.0.0/16); linear: N routers in a line with
static routes and forwarding, every router reaches every link; ring: N routers in a ring,
neighbours connected; tree --depth D --fanout F: a tree of bridges with hosts under the leaves.
Each carries ping checks between its far ends (first and last host or router, both ways;
neighbours in a ring), so up proves the lab works. --name, --prefix P (prefix for every
namespace, bridge and port name, so labs can run side by side), -o FILE.`,
  doctor: `Checks what this machine offers netlab: the tools (found, version, and for iptables the backend,
nf_tables or legacy), root or CAP_NET_ADMIN + CAP_SYS_ADMIN, and the kernel features, each tried
for real in one throwaway namespace (netlab-probe-PID-RANDOM, always deleted). Each is ok or
missing, with the Debian/Ubuntu and Fedora fix and, for the kernel, the module and CONFIG_
option. Exit 0 when everything required is there (optional things may be missing: it says what
would not work), 6 when not. --json prints the same facts. Without root it reports the tools and
privileges, says the kernel features could not be probed, and exits 6.`,
  gc: `Collects orphans: namespaces whose lo, and host links whose alias, carry a lab's mark
(netlab:LAB) that no journal accounts for (the journal was lost: /run cleared, a state directory
deleted), after stopping every process in them (TERM, then KILL); host iptables rules tagged by a
lab that has no journal; journals none of whose objects exist any more; process logs of labs
without a journal; stale lock files; the trace tables and monitors of a netlab trace that was
killed (its session says which; its run is proven gone by pid and start time). Never touches anything unmarked. With LAB... (lab names or
lab files), only those labs' orphans, journals and stale locks. "No journal" means none in *this*
state directory: a lab brought up with another NETLAB_STATE_DIR looks orphaned, so name your labs
when you use several state directories (the test suite does). A damaged journal (not JSON, or
not the shape netlab writes) is named and left alone, unless its lab is named: gc LAB then
collects what carries that lab's mark, and the file. --dry-run lists them and the commands.
(Host sysctls of a lab whose journal is lost cannot be restored: their previous values were in
it.)`,
};

const EXAMPLES: Record<string, string[]> = {
  validate: ['netlab validate labs/*.yaml', 'netlab validate --json my-lab.yaml | jq .problems'],
  plan: ['netlab plan labs/bridge-4ns.yaml', 'netlab plan labs/bridge-4ns.yaml --commands > build.sh', 'netlab plan labs/bridge-4ns.yaml --detailed-exitcode   # 0: in sync, 2: changes pending'],
  up: ['netlab up labs/bridge-4ns.yaml', 'netlab up labs/bridge-4ns.yaml --dry-run', 'netlab up labs/bridge-4ns.yaml --json | jq .checks'],
  check: ['netlab check labs/bridge-4ns.yaml', 'netlab check labs/bridge-4ns.yaml --json | jq ".checks[] | select(.met | not)"'],
  steps: ['netlab steps labs/iptables-drop.yaml', 'netlab steps labs/iptables-drop.yaml --step 2', 'netlab steps labs/iptables-drop.yaml --json | jq ".steps[] | {title, met}"'],
  logs: ['netlab logs redirect-proxy', 'netlab logs redirect-proxy proxy -n 20'],
  trace: [
    'netlab trace labs/iptables-drop.yaml --from docker-host --to 172.17.0.2',
    'netlab trace labs/tproxy.yaml --from client --to 198.51.100.9 --proto tcp --port 80',
    'netlab trace k8s-cross-node --from pod-a --to 10.244.2.2   # a lab across hosts, on every host',
  ],
  down: ['netlab down bridge-4ns', 'netlab down labs/bridge-4ns.yaml --dry-run', 'netlab down bridge-4ns --json | jq .labs[0].left', 'netlab down --all'],
  gc: ['netlab gc --dry-run', 'netlab gc bridge-4ns'],
  status: ['netlab status', 'netlab status bridge-4ns --json'],
  generate: ['netlab generate single 50 -o big.yaml', 'netlab generate linear 5 --prefix r --name chain', 'netlab generate tree --depth 3 --fanout 2'],
  exec: [],
  shell: ['netlab shell bridge-4ns ns1', "echo 'ip -br addr' | netlab shell bridge-4ns ns2"],
  doctor: ['netlab doctor', 'netlab doctor --json | jq .missingOptional'],
  impair: ['netlab impair netem-wan site-a:wan0 --delay 100ms --jitter 10ms', 'netlab impair netem-wan site-b:wan0 --loss 5%', 'netlab impair netem-wan site-a:wan0 --clear'],
};

/** Adds each command's details and examples to its --help. */
export function addHelp(program: Command): void {
  for (const c of program.commands) {
    const details = DETAILS[c.name()];
    if (details) c.addHelpText('after', `\n${details}`);
    const lines = EXAMPLES[c.name()];
    if (lines?.length) c.addHelpText('after', `\nExamples:\n${lines.map((l) => `  ${l}`).join('\n')}`);
  }
}
