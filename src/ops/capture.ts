// ops/capture: tcpdump on an interface of a lab node, live or into a pcap file. The file is opened
// by netlab and tcpdump writes the capture to it through its standard output (-w -): tcpdump
// drops root to its own user on Debian and AppArmor confines where it may write, so letting it
// open the file would refuse paths such as /root/x.pcap.
import { closeSync, openSync } from 'node:fs';
import { CliError, EXIT } from '../core/errors.js';
import { requireRoot } from '../privileges.js';
import { didYouMean } from '../load/problems.js';
import type { CommandRunner } from '../runner/runner.js';
import { HOST_NODE, findProgram, fsReason, inTarget, missingIp, resolveTarget, type Target } from './target.js';
import { runForeground, targetEnv, whereText } from './exec.js';
import { HOST } from '../model/types.js';

export interface CaptureOptions {
  /** pcap file to write; '-' writes the pcap to standard output (for a pipe into wireshark -k -i -). */
  write?: string;
  /** Stop after this many packets. */
  count?: number;
  /** BPF filter words, passed to tcpdump as they are. */
  filter: string[];
}

export const TCPDUMP_HINT = 'install it: Debian/Ubuntu: apt-get install tcpdump; Fedora: dnf install tcpdump';

/** tcpdump's argv (without the namespace part). Pure. */
export function tcpdumpArgv(iface: string, o: CaptureOptions, tcpdump = 'tcpdump'): string[] {
  return [tcpdump, '-i', iface, '-n', '-U', ...(o.write !== undefined ? ['-w', '-'] : []), ...(o.count !== undefined ? ['-c', String(o.count)] : []), ...(o.filter.length ? ['--', ...o.filter] : [])];
}

/** The target's interfaces as the kernel has them; for @host only the lab's own host interfaces. */
export async function interfacesOf(runner: CommandRunner, t: Target): Promise<string[]> {
  if (t.ns === HOST) return [...t.journal.hostLinks];
  const r = await runner.run(['ip', '-n', t.ns, '-j', 'link', 'show']);
  if (r.exitCode === 127) throw missingIp();
  if (r.exitCode !== 0) throw new CliError(`cannot list the interfaces of ${whereText(t)}: ${r.stderr.trim()}`, EXIT.applyFailed);
  return (JSON.parse(r.stdout) as { ifname: string }[]).map((l) => l.ifname);
}

export function checkInterface(iface: string, known: string[], t: Pick<Target, 'node' | 'lab' | 'ns'>): void {
  if (iface === 'any' || known.includes(iface)) return;
  const dym = didYouMean(iface, known);
  if (t.ns === HOST)
    throw new CliError(`lab ${t.lab} has no host interface '${iface}'`, EXIT.error, `${dym ? `${dym} ` : ''}${HOST_NODE} captures only on the lab's own host interfaces: ${known.join(', ')}`);
  throw new CliError(`node ${t.node} of lab ${t.lab} has no interface '${iface}'`, EXIT.error, `${dym ? `${dym} ` : ''}its interfaces: ${known.join(', ')}; or 'any' for all of them`);
}

/** `netlab capture LAB NODE IFACE`: tcpdump's exit status. */
export async function captureIn(runner: CommandRunner, labArg: string, node: string, iface: string, o: CaptureOptions): Promise<number> {
  requireRoot('capture');
  const tcpdump = findProgram('tcpdump');
  if ('error' in tcpdump) throw new CliError('tcpdump is not installed: netlab capture runs tcpdump in the namespace', EXIT.unsupported, TCPDUMP_HINT);
  const t = await resolveTarget(runner, labArg, node);
  checkInterface(iface, await interfacesOf(runner, t), t);
  if (o.write === '-' && process.stdout.isTTY)
    throw new CliError('-w - writes the binary pcap to standard output, which is a terminal', EXIT.error, 'pipe it (| wireshark -k -i -) or give a file name: -w capture.pcap');
  let fd: number | undefined;
  if (o.write !== undefined && o.write !== '-') {
    try {
      fd = openSync(o.write, 'w', 0o644);
    } catch (e) {
      throw new CliError(`cannot write ${o.write}: ${fsReason(e)}`, EXIT.error, 'give a file in a directory you can write to');
    }
  }
  try {
    return await runForeground(runner, inTarget(t, tcpdumpArgv(iface, o, tcpdump.path)), { env: targetEnv(t), ...(fd !== undefined ? { stdout: fd } : {}) });
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}
