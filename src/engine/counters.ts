// engine/counters: `netlab counters` (a node's rules with their packet and byte counters, and what
// one probe changed) and `netlab conntrack` (its tracked connections). Reads through the runner in
// the node's namespace; the probe is trace's (verify/probes); parsing and layout are ops/'s.
import { CliError, EXIT } from '../core/errors.js';
import { loadLabCached } from '../load/cache.js';
import { parseAddress } from '../model/net.js';
import { parseConntrack, type Connection } from '../ops/conntrack.js';
import { counterDelta, inFileOrder, parseNftCounters, parseSaveCounters, type CountedChain } from '../ops/counters.js';
import { findProgram, inTarget, resolveTarget, type Target } from '../ops/target.js';
import { parallel, type CommandRunner, type RunResult } from '../runner/runner.js';
import { sleep } from '../core/time.js';
import { sendProbe, type Probe } from '../verify/probes.js';
import { toolFixText } from '../doctor/tools.js';

export interface CountersOptions {
  /** Only this table (filter, nat, ...; an nft table's name). */
  table?: string;
  /** Send one probe and report what it changed. `from` defaults to the node itself. */
  probe?: { from?: string; to: string; proto: Probe['proto']; port?: number };
}

export interface CountersResult {
  lab: string;
  node: string;
  /** Every chain, in the lab file's order (without a probe), or the chains whose counters the probe changed. */
  chains: CountedChain[];
  probe?: Probe & { command: string; ok: boolean; output: string };
  /** What could not be read and why (nft missing is no note: nft rules are shown when it is there). */
  notes: string[];
}

/** Whether a tool is on PATH (`ip netns exec` would report a missing one as its own failure). */
const installed = (tool: string) => !('error' in findProgram(tool));
const missing = (tool: string, t: Target) => new CliError(`${tool} is not installed (needed in ${t.node} of lab ${t.lab})`, EXIT.unsupported, toolFixText(tool));
const failed = (argv: string[], t: Target, r: RunResult) => new CliError(`${argv.join(' ')} failed in ${t.node} of lab ${t.lab}: ${(r.stderr || r.stdout).trim() || `exit ${r.exitCode}`}`, EXIT.error);

/** The node's chains with their counters: iptables and ip6tables, and nft tables of its own. */
async function readChains(runner: CommandRunner, t: Target, notes: string[]): Promise<CountedChain[]> {
  if (!installed('iptables-save')) throw missing('iptables-save', t);
  const reads = [
    ['iptables-save', '-c'],
    ['ip6tables-save', '-c'],
    ['nft', '-a', 'list', 'ruleset'],
  ].filter((argv) => installed(argv[0]!));
  const results = await parallel(reads, 3, (argv) => runner.run(inTarget(t, argv)));
  const chains: CountedChain[] = [];
  results.forEach((r, i) => {
    const argv = reads[i]!;
    if (r.exitCode !== 0) {
      if (argv[0] === 'iptables-save') throw failed(argv, t, r);
      notes.push(`${argv.join(' ')}: ${(r.stderr || r.stdout).trim() || `exit ${r.exitCode}`}`);
    } else if (argv[0] === 'nft') chains.push(...parseNftCounters(r.stdout));
    else chains.push(...parseSaveCounters(r.stdout, argv[0] === 'iptables-save' ? 'iptables' : 'ip6tables'));
  });
  return chains;
}

function onlyTable(chains: CountedChain[], table: string | undefined, t: Target): CountedChain[] {
  if (table === undefined) return chains;
  const picked = chains.filter((c) => c.table === table || (c.source === 'nft' && c.table.split(' ')[1] === table));
  if (picked.length) return picked;
  const have = [...new Set(chains.map((c) => (c.source === 'nft' ? `nft ${c.table}` : c.table)))];
  throw new CliError(`node ${t.node} of lab ${t.lab} has no table '${table}'`, EXIT.error, have.length ? `its tables: ${have.join(', ')}` : 'it has no firewall rules at all');
}

export async function counters(runner: CommandRunner, labArg: string, node: string, o: CountersOptions = {}): Promise<CountersResult> {
  const t = await resolveTarget(runner, labArg, node);
  const notes: string[] = [];
  const declared = await loadLabCached(t.file).then(
    (lab) => (t.ns ? lab.nodes.get(t.ns)?.iptables : lab.host.iptables),
    () => undefined, // an edited or broken file: the kernel's order then
  );
  let probe: CountersResult['probe'];
  let chains: CountedChain[];
  if (!o.probe) chains = onlyTable(await readChains(runner, t, notes), o.table, t);
  else {
    const p = probeOf(t, node, o.probe);
    const before = onlyTable(await readChains(runner, t, notes), o.table, t);
    const { argv, result } = await sendProbe(runner, p);
    await sleep(300); // a connection's last packets (FIN, ACK) after the probe's end
    const after = onlyTable(await readChains(runner, t, []), o.table, t);
    probe = { ...p, command: argv.join(' '), ok: result.exitCode === 0, output: `${result.stdout}${result.stderr}`.trim() };
    chains = counterDelta(before, after);
  }
  return { lab: t.lab, node, chains: inFileOrder(chains, declared), ...(probe ? { probe } : {}), notes };
}

function probeOf(t: Target, node: string, o: NonNullable<CountersOptions['probe']>): Probe {
  const from = o.from ?? node;
  if (!t.journal.namespaces.includes(from))
    throw new CliError(`lab ${t.lab} has no node '${from}' to send the probe from`, EXIT.error, `--from takes a node: ${t.journal.namespaces.join(', ') || '(none)'}`);
  const addr = parseAddress(o.to);
  if (!addr) throw new CliError(`--to must be an address, got '${o.to}'`, EXIT.error, 'e.g. --to 172.17.0.2');
  if (o.proto !== 'icmp' && !o.port) throw new CliError(`--proto ${o.proto} needs --port`, EXIT.error);
  return { from, to: addr.addr, family: addr.family, proto: o.proto, ...(o.port ? { port: o.port } : {}) };
}

export interface ConntrackResult {
  lab: string;
  node: string;
  connections: Connection[];
  /** What could not be read (IPv6 on a kernel without it). */
  notes: string[];
}

/** The node's tracked connections (IPv4, then IPv6), as `conntrack -L` lists them, sorted. */
export async function conntrack(runner: CommandRunner, labArg: string, node: string): Promise<ConntrackResult> {
  const t = await resolveTarget(runner, labArg, node);
  if (!installed('conntrack')) throw missing('conntrack', t);
  const reads = ['ipv4', 'ipv6'].map((f) => ['conntrack', '-L', '-f', f]);
  const results = await parallel(reads, 2, (argv) => runner.run(inTarget(t, argv)));
  const connections: Connection[] = [];
  const notes: string[] = [];
  results.forEach((r, i) => {
    if (r.exitCode === 0) connections.push(...parseConntrack(r.stdout));
    else if (i === 0) throw failed(reads[i]!, t, r);
    else notes.push(`${reads[i]!.join(' ')}: ${(r.stderr || r.stdout).trim() || `exit ${r.exitCode}`}`);
  });
  const key = (c: Connection) => [c.proto, c.original.src, c.original.dst, String(c.original.sport ?? c.original.id ?? '').padStart(5, '0')].join(' ');
  return { lab: t.lab, node, connections: connections.sort((a, b) => key(a).localeCompare(key(b))), notes };
}
